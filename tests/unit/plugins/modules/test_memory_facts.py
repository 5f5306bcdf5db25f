# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""memory_facts end to end through main(): bad input, check mode, a real run that only reads this machine's /proc and
a saved kernel log under tmp_path."""
from __future__ import annotations

import os

from ansible_collections.lowmem.vps.plugins.modules import memory_facts

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'kernel_log')


def test_memory_facts_bad_input_fails_clearly(module_runner):
    code, result = module_runner(memory_facts.main, {'boots': -1, 'sunreclaim_percent': 0})
    assert code == 1 and result['changed'] is False
    assert result['msg'].startswith('memory_facts: boots must be an integer >= 0')
    assert 'sunreclaim_percent must be a number above 0' in result['msg'] and 'nothing was changed' not in result['msg']
    code, result = module_runner(memory_facts.main, {'kernel_log_file': '/nonexistent/kern.log'})
    assert code == 1 and 'kernel_log_file /nonexistent/kern.log is not a readable file' in result['msg']
    code, result = module_runner(memory_facts.main, {'swap_full_percent': 101})
    assert code == 1 and 'swap_full_percent must be a number above 0 and at most 100, got 101.0' in result['msg']


def test_memory_facts_reads_a_saved_kernel_log_and_this_machines_memory(module_runner, tmp_path):
    log = tmp_path / 'kern.log'
    log.write_text('[ 2216.301542] Out of memory: Killed process 4242 (Web Content) total-vm:402164kB, anon-rss:389120kB, '
                   'file-rss:1024kB, shmem-rss:0kB, UID:1000 pgtables:812kB oom_score_adj:100\n')
    code, result = module_runner(memory_facts.main, {'kernel_log_file': str(log), 'units': [], '_ansible_check_mode': True,
                                                     'docker_socket': str(tmp_path / 'no.sock')})
    assert code == 0 and result['changed'] is False, result
    assert result['events_source']['kind'] == 'file'
    assert result['events']['oom_kills'][0]['victim_comm'] == 'Web Content'
    assert result['events']['oom_kills'][0]['victim_pid'] == 4242
    assert 'oom_kills' in [flag['name'] for flag in result['flags']]
    assert result['memory']['mem_total_kb'] > 0 and result['memory']['mem_available_kb'] > 0
    for section in ('slab_top', 'vmstat', 'psi', 'zswap', 'earlyoom', 'protected_units', 'journal', 'containers'):
        assert section in result, section
