# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.lowmem.vps.plugins.filter.ram_profile import FilterModule, ram_profile
from ansible_collections.lowmem.vps.plugins.module_utils.ram_class import KEYS, PROFILES


# MemTotal as the guests show it: the lab VM (512 MB, Debian 13) reports memtotal_mb 454; a 1 GB VPS 961-990; 2 GB
# 1967; the runbook's bounds sit halfway between the sizes sold.
@pytest.mark.parametrize('memtotal_mb, expected', [
    (454, '512m'), (480, '512m'), (768, '512m'), (769, '1g'), (961, '1g'), (1536, '1g'), (1537, '2g'),
    (1967, '2g'), (3920, '2g'), ('454', '512m'),
])
def test_the_class_follows_memory(memtotal_mb, expected):
    assert ram_profile({'memtotal_mb': memtotal_mb})['ram_class'] == expected


def test_the_runbook_box_gets_the_runbook_values():
    assert ram_profile({'memtotal_mb': 454}) == dict(
        ram_class='512m', swap_size='auto', sysctl_min_free_kbytes=16384, sysctl_swappiness=30,
        earlyoom_mem_min_percent=[10, 5], earlyoom_swap_min_percent=[20, 10])


def test_the_inventory_class_wins_over_memory_and_needs_no_facts():
    assert ram_profile({'memtotal_mb': 454}, '2g')['sysctl_min_free_kbytes'] == 32768
    assert ram_profile({}, '1g')['sysctl_min_free_kbytes'] == 24576
    assert ram_profile({'memtotal_mb': 1967}, 'auto')['ram_class'] == '2g'


def test_profile_changes_merge_key_by_key_and_new_classes_need_every_key():
    changed = ram_profile({'memtotal_mb': 961}, None, {'1g': {'sysctl_swappiness': 20}})
    assert changed['sysctl_swappiness'] == 20 and changed['sysctl_min_free_kbytes'] == 24576
    full = dict(PROFILES['2g'], sysctl_min_free_kbytes=65536)
    assert ram_profile({}, '4g', {'4g': full})['sysctl_min_free_kbytes'] == 65536
    with pytest.raises(AnsibleFilterError, match=r'lowmem_ram_profiles\.4g lacks swap_size, sysctl_min_free_kbytes'):
        ram_profile({}, '4g', {'4g': {'sysctl_swappiness': 10}})
    # the built-in table is not changed by a call
    assert ram_profile({'memtotal_mb': 961})['sysctl_swappiness'] == 30


@pytest.mark.parametrize('facts, ram_class, profiles, message', [
    ({}, None, None, 'gather the hardware facts, or set lowmem_ram_class'),
    ({'memtotal_mb': 454}, '768m', None, "lowmem_ram_class '768m' is not a class \\(classes: 1g, 2g, 512m\\)"),
    ({'memtotal_mb': 454}, None, {'1g': {'swappiness': 20}}, r'lowmem_ram_profiles\.1g: unknown key\(s\) swappiness'),
    ({'memtotal_mb': 454}, None, {'1g': 20}, r'lowmem_ram_profiles\.1g must be a dict'),
    ({'memtotal_mb': 'lots'}, None, None, "memtotal_mb must be a number of MB, got 'lots'"),
    ({'memtotal_mb': 0}, None, None, 'memtotal_mb must be positive'),
    ({'memtotal_mb': True}, None, None, 'memtotal_mb must be a number of MB'),
    ('454', None, None, 'expects ansible_facts'),
])
def test_bad_input_says_what_to_fix(facts, ram_class, profiles, message):
    with pytest.raises(AnsibleFilterError, match=message):
        ram_profile(facts, ram_class, profiles)


def test_every_profile_has_every_key_and_the_filter_is_registered():
    assert all(set(values) == set(KEYS) for values in PROFILES.values())
    assert FilterModule().filters() == {'ram_profile': ram_profile}
