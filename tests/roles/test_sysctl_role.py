# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The sysctl role: good input writes the drop-in; each kind of bad input fails before anything is written."""
from __future__ import annotations

import importlib.util
import os

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
_SPEC = importlib.util.spec_from_file_location('ram_class', os.path.join(ROOT, 'plugins', 'module_utils', 'ram_class.py'))
RAM_CLASS = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(RAM_CLASS)


def expected_profile(meminfo='/proc/meminfo'):
    """The RAM-class profile of this machine, through the collection's one table (plugins/module_utils/ram_class.py).

    memtotal_mb as Ansible's hardware facts compute it: MemTotal in kB, integer-divided by 1024.
    """
    with open(meminfo) as handle:
        memtotal_kb = next(int(line.split()[1]) for line in handle if line.startswith('MemTotal:'))
    return RAM_CLASS.profile(memtotal_kb // 1024)


def role_vars(tmp_path, **extra):
    base = {'sysctl_file': str(tmp_path / 'sysctl.d' / '99-lowmem-network-tuning.conf'), 'sysctl_apply_live': False,
            'sysctl_lru_gen_tmpfiles_file': str(tmp_path / 'tmpfiles.d' / 'lowmem-lru-gen.conf')}
    base.update(extra)
    return base


def test_role_writes_the_drop_in_scaled_by_ram(tmp_path, run_role):
    (tmp_path / 'tmpfiles.d').mkdir()  # as /etc/tmpfiles.d is there on Debian (systemd ships it)
    run = run_role('lowmem.vps.sysctl', role_vars(tmp_path, sysctl_lru_gen_min_ttl_ms=1000))
    assert run.rc == 0, run.output
    text = (tmp_path / 'sysctl.d' / '99-lowmem-network-tuning.conf').read_text()
    assert 'Ansible managed' in text
    # The RAM class of the machine running the test (a small runner gets a smaller value).
    assert 'vm.min_free_kbytes = %d\n' % expected_profile()['sysctl_min_free_kbytes'] in text
    assert 'vm.swappiness = %d\n' % expected_profile()['sysctl_swappiness'] in text
    for line in ('vm.vfs_cache_pressure = 100', 'net.core.netdev_max_backlog = 2500'):
        assert line in text
    assert 'live apply skipped (sysctl_apply_live is false)' in ' '.join(run.output.split())
    # MGLRU's thrashing guard at every boot; "w-" so a kernel without MGLRU is no error.
    rule = (tmp_path / 'tmpfiles.d' / 'lowmem-lru-gen.conf').read_text()
    assert 'w- /sys/kernel/mm/lru_gen/min_ttl_ms - - - - 1000\n' in rule and 'Ansible managed' in rule


def test_the_ram_class_table_is_read_as_the_role_reads_it(tmp_path):
    """The expected values above come from the collection's table: small machines land in the small classes."""
    for memtotal_kb, kbytes in ((470000, 16384), (786432, 16384), (786433 + 1023, 24576), (1572864, 24576),
                                (1573888, 32768), (24683584, 32768)):
        meminfo = tmp_path / 'meminfo'
        meminfo.write_text('MemTotal:       %d kB\nMemFree:        1000 kB\n' % memtotal_kb)
        assert expected_profile(str(meminfo))['sysctl_min_free_kbytes'] == kbytes, memtotal_kb


def test_the_inventory_class_and_its_changed_profile_win_over_the_memory(tmp_path, run_role):
    run = run_role('lowmem.vps.sysctl', role_vars(tmp_path, lowmem_ram_class='512m',
                                                  lowmem_ram_profiles={'512m': {'sysctl_swappiness': 25}}))
    assert run.rc == 0, run.output
    text = (tmp_path / 'sysctl.d' / '99-lowmem-network-tuning.conf').read_text()
    assert 'vm.min_free_kbytes = 16384\n' in text and 'vm.swappiness = 25\n' in text, text


def test_role_check_mode_writes_nothing(tmp_path, run_role):
    run = run_role('lowmem.vps.sysctl', role_vars(tmp_path), check=True)
    assert run.rc == 0, run.output
    assert not (tmp_path / 'sysctl.d').exists()


@pytest.mark.parametrize('bad, message', [
    ({'sysctl_extra': {'vm.no_such_knob': 1}}, 'unknown sysctl key vm.no_such_knob'),
    ({'sysctl_swappiness': 'thirty'}, "vm.swappiness: 'thirty' is not an integer"),
    ({'sysctl_min_free_kbytes': 10 ** 12}, 'is above 5% of RAM'),
    ({'sysctl_file': '/etc/sysctl.conf'}, 'Debian 13 no longer reads it'),
    ({'sysctl_apply_live': 'sometimes'}, 'sysctl_apply_live'),
    ({'sysctl_lru_gen_min_ttl_ms': 70000}, 'sysctl_lru_gen_min_ttl_ms must be 0..60000 ms or null (got 70000)'),
])
def test_role_bad_input_fails_before_writing(tmp_path, run_role, bad, message):
    run = run_role('lowmem.vps.sysctl', role_vars(tmp_path, **bad))
    assert run.rc != 0
    assert message in run.output, run.output
    assert not (tmp_path / 'sysctl.d').exists()
    assert not (tmp_path / 'tmpfiles.d').exists()
