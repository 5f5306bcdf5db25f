# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""memory_history: bad settings fail in the first task, before the script, the units or a directory is written.

Every path the role would write is under tmp_path (or read-only in the sandbox), so a broken check would fail on
EROFS rather than change this machine; the tests also check that tmp_path stayed empty. The timer itself runs in
Molecule (containers and the 512 MB VM)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize('changes, shown', [
    (dict(memory_history_interval='every minute'), 'memory_history_interval a systemd time span'),
    (dict(memory_history_interval='1min; rm -rf /'), 'memory_history_interval a systemd time span'),
    (dict(memory_history_window=2), 'memory_history_window a whole number of at least 3'),
    (dict(memory_history_samples=10, memory_history_window=30), 'at most memory_history_samples'),
    (dict(memory_history_threshold_kb_per_min=0), 'memory_history_threshold_kb_per_min a whole number above 0'),
    (dict(memory_history_prometheus_dir='relative/dir'), 'absolute paths without spaces'),
])
def test_bad_settings_are_refused_and_nothing_is_written(run_role, tmp_path, changes, shown):
    target = tmp_path / 'lib'
    target.mkdir()
    variables = dict(memory_history_enabled=True, memory_history_file=str(target / 'memory-history'),
                     memory_history_prometheus_dir=str(tmp_path / 'node-exporter'))
    variables.update(changes)
    result = run_role('lowmem.vps.memory_history', variables)
    assert result.rc != 0, result.output
    assert shown in result.flat and 'nothing was changed' in result.flat, result.output
    assert 'The sampler (sh and awk' not in result.output
    assert list(target.iterdir()) == [] and not (tmp_path / 'node-exporter').exists()


def test_an_unknown_state_is_refused_by_the_argument_spec(run_role, tmp_path):
    result = run_role('lowmem.vps.memory_history', dict(memory_history_enabled=True, memory_history_state='gone',
                                                        memory_history_file=str(tmp_path / 'memory-history')))
    assert result.rc != 0 and 'memory_history_state must be one of: present, absent' in result.flat, result.output
    assert not (tmp_path / 'memory-history').exists()


def test_check_mode_plans_the_script_and_both_units_in_one_task(run_role, tmp_path):
    """present in check mode: the one timer_units task shows the rendered units and the whole script (its trailing
    newline kept: the file lookup runs with rstrip=false) and the systemctl steps it would run; nothing is written."""
    history = tmp_path / 'lib' / 'memory-history'
    result = run_role('lowmem.vps.memory_history', dict(memory_history_enabled=True, memory_history_interval='20s',
                                                        memory_history_file=str(history),
                                                        memory_history_prometheus_dir=str(tmp_path / 'prom')),
                      check=True, diff=True)
    assert result.rc == 0, result.output
    assert 'The sampler (sh and awk' in result.output and 'changed: [localhost]' in result.output, result.output
    assert '+OnUnitActiveSec=20s' in result.output
    assert '+Environment=LOWMEM_HISTORY_FILE=%s' % history in result.output
    assert '+ExecStart=/usr/local/sbin/lowmem-memory-history' in result.output
    assert 'No newline at end of file' not in result.output
    assert 'changed=1' in result.flat and 'failed=0' in result.flat
    assert not (tmp_path / 'lib').exists() and not (tmp_path / 'prom').exists()


def test_absent_removes_the_prometheus_file_and_needs_no_timer(run_role, tmp_path):
    """absent where the units never were: only the Prometheus file goes (no systemctl call is needed); the history
    file is kept; a second run changes nothing."""
    history = tmp_path / 'memory-history'
    history.write_text('1700000000 300000 20000 40000 0 0 0\n')
    prom = tmp_path / 'prom' / 'lowmem_vps.prom'
    prom.parent.mkdir()
    prom.write_text('lowmem_vps_memory_history_samples 1\n')
    variables = dict(memory_history_enabled=True, memory_history_state='absent', memory_history_file=str(history),
                     memory_history_prometheus_dir=str(prom.parent))
    result = run_role('lowmem.vps.memory_history', variables)
    assert result.rc == 0 and 'changed=1' in result.flat, result.output
    assert not prom.exists() and history.exists()
    again = run_role('lowmem.vps.memory_history', variables)
    assert again.rc == 0 and 'changed=0' in again.flat, again.output
