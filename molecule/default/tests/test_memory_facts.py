# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""lowmem.vps.memory_facts on the converged Debian 12 and 13 containers: every section, read-only, in check mode.

A container shares the host's kernel: /proc/meminfo, slab, vmstat and PSI are the host's, so only their shape is
checked here; the values and the flags of a real 512 MB box are checked in the vm scenario.
"""
from __future__ import annotations

import os

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('all')

SECTIONS = ('memory', 'slab_top', 'vmstat', 'psi', 'zswap', 'earlyoom', 'protected_units', 'journal', 'containers',
            'events', 'events_source', 'flags', 'notes', 'boot_id', 'kernel', 'hostname', 'uptime_s', 'collected_at')
MEMORY_KEYS = ('mem_total_kb', 'mem_available_kb', 'swap_total_kb', 'swap_used_kb', 'anon_pages_kb', 'shmem_kb',
               'slab_kb', 'sreclaimable_kb', 'sunreclaim_kb', 'unaccounted_kb')
FLAGS = ('oom_kills', 'page_alloc_failures', 'entry_service_unprotected', 'entry_service_inactive', 'earlyoom_inactive',
         'no_swap', 'swap_nearly_full', 'sunreclaim_high', 'journal_not_persistent', 'limits_exceed_memory')


@pytest.fixture(scope='module')
def facts(host):
    # check=True: the module must run in check mode (it never writes anything).
    return host.ansible('lowmem.vps.memory_facts', 'boots=1', check=True, become=True)


def test_every_section_is_returned_and_nothing_changed(facts):
    assert facts.get('failed') is not True, facts
    assert facts['changed'] is False
    missing = [name for name in SECTIONS if name not in facts]
    assert not missing, missing
    assert all(isinstance(facts['memory'][key], int) for key in MEMORY_KEYS), facts['memory']
    assert facts['memory']['mem_total_kb'] > facts['memory']['mem_available_kb'] > 0
    assert set(facts['events']) == {'page_alloc_failures', 'oom_kills', 'earlyoom_kills', 'unit_oom_kills'}
    assert facts['events_source']['kind'] == 'journal'
    assert all(set(flag) == {'name', 'severity', 'reason'} and flag['name'] in FLAGS for flag in facts['flags'])


def test_vmstat_and_slab_are_read(facts):
    assert 'oom_kill' in facts['vmstat'] and 'allocstall' in facts['vmstat']
    # Root reads /proc/slabinfo; the list holds the largest unreclaimable caches, largest first.
    assert facts['slab_top'], facts['notes']
    sizes = [cache['bytes'] for cache in facts['slab_top']]
    assert sizes == sorted(sizes, reverse=True)


def test_hardening_shows_earlyoom_protection_and_a_persistent_journal(facts):
    earlyoom = facts['earlyoom']
    assert earlyoom['active'] is True
    assert (earlyoom['mem_term_percent'], earlyoom['mem_kill_percent'],
            earlyoom['swap_term_percent'], earlyoom['swap_kill_percent']) == (10, 5, 20, 10)
    assert earlyoom['report_interval_s'] == 300
    # log_caps writes Storage=persistent: a crash's kernel log survives the reboot.
    assert facts['journal'] == dict(persistent=True, storage='persistent', reason='Storage=persistent')
    names = [flag['name'] for flag in facts['flags']]
    assert 'earlyoom_inactive' not in names and 'journal_not_persistent' not in names


def test_the_entry_services_are_reported_with_their_scores(facts):
    units = {unit['unit']: unit for unit in facts['protected_units']}
    assert set(units) == {'ssh.service', 'nginx.service', 'supervisor.service'}
    for unit in units.values():
        if unit['found'] and unit['active']:
            assert unit['processes'], unit
            assert all(isinstance(proc['oom_score_adj'], int) for proc in unit['processes'])


def test_the_running_containers_limits_are_read_from_the_engine(facts):
    containers = facts['containers']
    assert containers['engine'] is True
    # container_limits gave every stand-in service a memory limit.
    names = [entry['name'] for entry in containers['containers'] if entry['memory_limit_kb']]
    assert any('hysteria' in name for name in names), containers
    assert containers['limits_total_kb'] == sum(entry['memory_limit_kb'] for entry in containers['containers'])


def test_a_bad_threshold_is_refused_clearly(host):
    # testinfra raises AnsibleException for a failed module (see test_kernel.py): either way, the result dict.
    try:
        result = host.ansible('lowmem.vps.memory_facts', 'sunreclaim_percent=150', check=True, become=True)
    except host.ansible.AnsibleException as exc:
        result = exc.result
    assert 'flags' not in result
    assert 'sunreclaim_percent must be a number above 0 and at most 100, got 150.0' in result['msg']
