# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""psABI levels from /proc/cpuinfo files under fixtures/cpuinfo, flag-set tables and the XanMod package mapping.

The fixture files are whole /proc/cpuinfo texts, several processors each, as Debian guests print them:
a QEMU TCG ``-cpu max`` guest (AVX2 but no AVX-512), a Haswell KVM VPS, an AWS Skylake-SP Xeon with AVX-512,
QEMU's Westmere model, QEMU's default ``qemu64`` vCPU, a bare-metal Core 2 Duo, and a Cascade Lake guest whose
hypervisor hides AVX2 and AVX-512; epyc-kvm-avx512.txt is the first two processors of the /proc/cpuinfo of the
machine these tests were written on (a 2-vCPU KVM guest on an AMD EPYC, family 26 = Zen 5, AVX-512 passed through).

The flag sets per level below are written out from the x86-64 psABI (x86-64-ABI 1.0, section 3.1.1, "Micro-
architecture levels"), in the names Linux's /proc/cpuinfo uses, not taken from the module's LEVEL_FLAGS: a flag
dropped from, added to or moved between the module's levels makes these tests fail.
"""
from __future__ import annotations

import os

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.psabi import (
    FLAVOURS, LEVEL_FLAGS, PsabiError, cpu_flags, missing_for_level, psabi_level, read_cpuinfo, xanmod_package,
)

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'cpuinfo')


def fixture(name):
    return os.path.join(FIXTURES, name)


# Each level's additions (x86-64 psABI): v1 is the AMD64 baseline the module checks (CMOV, CMPXCHG8B, x87, FXSR,
# long mode, MMX, SSE2, SYSCALL); v2 adds CMPXCHG16B, LAHF/SAHF (lahf_lm), SSE3 (pni), POPCNT, SSE4.1, SSE4.2,
# SSSE3; v3 adds LZCNT (abm), AVX, AVX2, BMI1, BMI2, F16C, FMA, MOVBE, OSXSAVE (xsave); v4 adds AVX512F/BW/CD/DQ/VL.
V1 = frozenset(['cmov', 'cx8', 'fpu', 'fxsr', 'lm', 'mmx', 'sse2', 'syscall'])
V2 = V1 | frozenset(['cx16', 'lahf_lm', 'pni', 'popcnt', 'sse4_1', 'sse4_2', 'ssse3'])
V3 = V2 | frozenset(['abm', 'avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'movbe', 'xsave'])
V4 = V3 | frozenset(['avx512bw', 'avx512cd', 'avx512dq', 'avx512f', 'avx512vl'])
SPEC = {1: V1, 2: V2, 3: V3, 4: V4}


def flags_up_to(level):
    """Every flag x86-64-v``level`` needs, from the spec table above (a fresh set the test may change)."""
    return set(SPEC[level])


def test_module_table_is_the_spec():
    assert {level: set(flags) for level, flags in LEVEL_FLAGS.items()} == {
        1: set(V1), 2: set(V2 - V1), 3: set(V3 - V2), 4: set(V4 - V3)}


# ------------------------------------------------------------------ real cpuinfo files


@pytest.mark.parametrize('name, level, missing_next', [
    ('qemu-tcg-max.txt', 3, ['avx512bw', 'avx512cd', 'avx512dq', 'avx512f', 'avx512vl']),
    ('haswell-vps.txt', 3, ['avx512bw', 'avx512cd', 'avx512dq', 'avx512f', 'avx512vl']),
    ('skylake-avx512.txt', 4, []),
    ('westmere-vps.txt', 2, ['abm', 'avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'movbe', 'xsave']),
    ('qemu64-default.txt', 1, ['popcnt', 'sse4_1', 'sse4_2', 'ssse3']),
    ('core2-duo.txt', 1, ['popcnt', 'sse4_2']),
    ('avx2-hidden.txt', 2, ['avx2']),
    ('epyc-kvm-avx512.txt', 4, []),
])
def test_level_of_real_cpuinfo_files(name, level, missing_next):
    flags = cpu_flags(read_cpuinfo(fixture(name)))
    assert psabi_level(flags) == level
    assert missing_for_level(flags, min(level + 1, 4)) == missing_next


def test_only_the_first_processor_counts():
    text = read_cpuinfo(fixture('haswell-vps.txt'))
    first, rest = text.split('\n\n', 1)
    # A later processor without AVX2 (a hybrid or misreported CPU) does not change the answer.
    assert psabi_level(cpu_flags(first + '\n\n' + rest.replace(' avx2 ', ' '))) == 3
    assert psabi_level(cpu_flags(first.replace(' avx2 ', ' ') + '\n\n' + rest)) == 2


def test_vmx_flags_line_is_not_the_flags_line():
    text = 'processor\t: 0\nvmx flags\t: vnmi preemption_timer avx512f\nflags\t\t: fpu lm\n'
    assert cpu_flags(text) == set(['fpu', 'lm'])
    assert 'vmx' in cpu_flags(read_cpuinfo(fixture('core2-duo.txt')))


def test_cpuinfo_without_flags_line_is_refused():
    arm64 = 'processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid\nCPU implementer\t: 0x41\n'
    with pytest.raises(PsabiError, match='no "flags" line'):
        cpu_flags(arm64)
    with pytest.raises(ValueError):
        cpu_flags('')


def test_unreadable_cpuinfo(tmp_path):
    with pytest.raises(PsabiError, match='cannot read .*nothing'):
        read_cpuinfo(str(tmp_path / 'nothing'))


# ------------------------------------------------------------------ flag-set tables


@pytest.mark.parametrize('level', [1, 2, 3, 4])
def test_exact_flag_sets_give_their_level(level):
    assert psabi_level(flags_up_to(level)) == level
    assert psabi_level(flags_up_to(level) | set(['hypervisor', 'aes', 'sse4a'])) == level


@pytest.mark.parametrize('level', [2, 3, 4])
def test_each_flag_of_a_level_is_required(level):
    for flag in LEVEL_FLAGS[level]:
        flags = flags_up_to(level) - set([flag])
        assert psabi_level(flags) == level - 1, flag
        assert missing_for_level(flags, level) == [flag]


def test_a_higher_level_needs_every_level_below():
    # AVX-512 without SSE4.2 (a hypervisor that masks odd bits) is still only v1.
    flags = flags_up_to(4) - set(['sse4_2'])
    assert psabi_level(flags) == 1
    assert missing_for_level(flags, 4) == ['sse4_2']


def test_whole_words_not_substrings():
    # The awk script would take lahf_lm for lm and avx2 for avx; whole words do not.
    flags = flags_up_to(3) - set(['avx', 'lm'])
    with pytest.raises(PsabiError, match='lm'):
        psabi_level(flags)
    assert psabi_level(flags | set(['lm'])) == 2


def test_sse3_is_required_for_v2():
    assert psabi_level(flags_up_to(2) - set(['pni'])) == 1
    assert missing_for_level(flags_up_to(2) - set(['pni']), 2) == ['pni']


@pytest.mark.parametrize('flags, message', [
    (set(), 'cmov cx8 fpu fxsr lm mmx sse2 syscall of the x86-64 baseline'),
    (flags_up_to(1) - set(['lm']), 'the CPU lacks lm of the x86-64 baseline (x86-64-v1): this is not an x86-64 CPU'),
    (set(['fpu', 'vme', 'de', 'pse', 'tsc', 'msr', 'pae', 'cx8', 'cmov', 'mmx', 'fxsr', 'sse', 'sse2']), 'lacks lm syscall of'),
])
def test_not_x86_64_raises_value_error_naming_the_missing_flags(flags, message):
    with pytest.raises(ValueError) as raised:
        psabi_level(flags)
    assert message in str(raised.value)


@pytest.mark.parametrize('flags, level, missing', [
    (flags_up_to(1), 2, ['cx16', 'lahf_lm', 'pni', 'popcnt', 'sse4_1', 'sse4_2', 'ssse3']),
    (flags_up_to(1), 4, sorted(flags_up_to(4) - flags_up_to(1))),
    (flags_up_to(3), 3, []),
    (flags_up_to(4), 1, []),
    (set(), 1, ['cmov', 'cx8', 'fpu', 'fxsr', 'lm', 'mmx', 'sse2', 'syscall']),
])
def test_missing_for_level_table(flags, level, missing):
    assert missing_for_level(flags, level) == missing


@pytest.mark.parametrize('level', [0, 5, '3', None, True])
def test_bad_levels(level):
    with pytest.raises(PsabiError, match='is not one of 1, 2, 3, 4'):
        missing_for_level(flags_up_to(4), level)
    with pytest.raises(PsabiError, match='is not one of 1, 2, 3, 4'):
        xanmod_package(level)


# ------------------------------------------------------------------ XanMod packages


@pytest.mark.parametrize('level, flavour, package, note', [
    (2, 'main', 'linux-xanmod-x64v2', None),
    (3, 'main', 'linux-xanmod-x64v3', None),
    (4, 'main', 'linux-xanmod-x64v3', 'x86-64-v4 but XanMod no longer publishes x64v4 builds: linux-xanmod-x64v3'),
    (1, 'main', 'linux-xanmod-lts-x64v1', 'builds x64v1 kernels only in the LTS flavour: linux-xanmod-lts-x64v1 instead of the main'),
    (2, 'lts', 'linux-xanmod-lts-x64v2', None),
    (3, 'lts', 'linux-xanmod-lts-x64v3', None),
    (4, 'lts', 'linux-xanmod-lts-x64v3', 'no longer publishes x64v4'),
    (1, 'lts', 'linux-xanmod-lts-x64v1', None),
    (2, 'edge', 'linux-xanmod-edge-x64v2', None),
    (3, 'edge', 'linux-xanmod-edge-x64v3', None),
    (4, 'edge', 'linux-xanmod-edge-x64v3', 'no longer publishes x64v4'),
    (1, 'edge', 'linux-xanmod-lts-x64v1', 'instead of the edge flavour'),
    (2, 'rt', 'linux-xanmod-rt-x64v2', None),
    (3, 'rt', 'linux-xanmod-rt-x64v3', None),
    (4, 'rt', 'linux-xanmod-rt-x64v3', 'no longer publishes x64v4'),
    (1, 'rt', 'linux-xanmod-lts-x64v1', 'instead of the rt flavour'),
])
def test_package_table(level, flavour, package, note):
    got, got_note = xanmod_package(level, flavour)
    assert got == package
    if note is None:
        assert got_note is None
    else:
        assert note in got_note


def test_default_flavour_is_main():
    assert xanmod_package(3) == ('linux-xanmod-x64v3', None)
    assert sorted(FLAVOURS) == ['edge', 'lts', 'main', 'rt']


@pytest.mark.parametrize('flavour', ['stable', 'MAIN', '', None])
def test_unknown_flavour_lists_the_known_ones(flavour):
    with pytest.raises(ValueError) as raised:
        xanmod_package(3, flavour)
    assert 'unknown XanMod flavour %r: known flavours are edge, lts, main, rt' % flavour == str(raised.value)


def test_file_to_package_end_to_end():
    for name, package in (('qemu-tcg-max.txt', 'linux-xanmod-x64v3'), ('skylake-avx512.txt', 'linux-xanmod-x64v3'),
                          ('avx2-hidden.txt', 'linux-xanmod-x64v2'), ('qemu64-default.txt', 'linux-xanmod-lts-x64v1')):
        assert xanmod_package(psabi_level(cpu_flags(read_cpuinfo(fixture(name)))))[0] == package, name
