# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module end to end through main() on the cpuinfo fixture files (and this machine's /proc/cpuinfo)."""
from __future__ import annotations

import os
import platform

import pytest

from ansible_collections.lowmem.vps.plugins.modules.psabi_facts import main

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'cpuinfo')


def fixture(name):
    return os.path.join(FIXTURES, name)


@pytest.mark.parametrize('name, flavour, level, package, note, missing', [
    ('haswell-vps.txt', 'main', 3, 'linux-xanmod-x64v3', None, ['avx512bw', 'avx512cd', 'avx512dq', 'avx512f', 'avx512vl']),
    ('skylake-avx512.txt', 'edge', 4, 'linux-xanmod-edge-x64v3', 'no longer publishes x64v4', []),
    ('avx2-hidden.txt', 'lts', 2, 'linux-xanmod-lts-x64v2', None, ['avx2']),
    ('qemu64-default.txt', 'main', 1, 'linux-xanmod-lts-x64v1', 'only in the LTS flavour', ['popcnt', 'sse4_1', 'sse4_2', 'ssse3']),
    ('epyc-kvm-avx512.txt', 'main', 4, 'linux-xanmod-x64v3', 'no longer publishes x64v4', []),
    ('westmere-vps.txt', 'rt', 2, 'linux-xanmod-rt-x64v2', None,
     ['abm', 'avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'movbe', 'xsave']),
])
def test_reports_level_package_note_and_missing_flags(module_runner, name, flavour, level, package, note, missing):
    code, result = module_runner(main, {'cpuinfo_path': fixture(name), 'flavour': flavour})
    assert code == 0 and result['changed'] is False
    assert result['psabi_level'] == level and result['xanmod_package'] == package
    assert result['missing_for_next_level'] == missing
    assert (result['note'] is None) if note is None else (note in result['note'])


def test_check_mode_gives_the_same_answer(module_runner):
    code, result = module_runner(main, {'cpuinfo_path': fixture('qemu-tcg-max.txt'), '_ansible_check_mode': True})
    assert code == 0 and not result['changed'] and result['psabi_level'] == 3 and result['xanmod_package'] == 'linux-xanmod-x64v3'


@pytest.mark.skipif(platform.machine() != 'x86_64' or not os.path.exists('/proc/cpuinfo'), reason='needs an x86-64 Linux')
def test_default_path_is_this_machines_cpuinfo(module_runner):
    code, result = module_runner(main, {})
    assert code == 0 and result['psabi_level'] in (1, 2, 3, 4) and result['xanmod_package'].startswith('linux-xanmod-')


def test_not_x86_64_fails_clearly(module_runner, tmp_path):
    path = tmp_path / 'cpuinfo'
    path.write_text('processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid\n')
    code, result = module_runner(main, {'cpuinfo_path': str(path)})
    assert code == 1 and result['failed'] and result['msg'].startswith('psabi_facts: %s: no "flags" line' % path)


def test_missing_file_and_unknown_flavour_fail(module_runner, tmp_path):
    code, result = module_runner(main, {'cpuinfo_path': str(tmp_path / 'absent')})
    assert code == 1 and 'cannot read' in result['msg']
    code, result = module_runner(main, {'cpuinfo_path': fixture('haswell-vps.txt'), 'flavour': 'stable'})
    assert code == 1 and 'flavour' in result['msg'] and 'main, lts, edge, rt' in result['msg']
