# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/fleet's reading of ansible-playbook's output (recap, hosts touched), the broken-canary verdict and the table.

The sample is a real run, cut to its task lines and recap: bench/fleet --sizes 1 --canary 5 --logs DIR on
2026-12-04 (harden.yml with the shipped batches on five lowmem-test/debian:13 containers, the canary's gate broken).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
_LOADER = importlib.machinery.SourceFileLoader('fleet', os.path.join(ROOT, 'bench', 'fleet'))
_SPEC = importlib.util.spec_from_loader('fleet', _LOADER)
fleet = importlib.util.module_from_spec(_SPEC)
_LOADER.exec_module(fleet)

SAMPLE = os.path.join(os.path.dirname(__file__), 'fixtures', 'fleet-broken-canary.log')
NAMES = ['lowmem-fleet-%02d' % index for index in range(1, 6)]


def sample():
    with open(SAMPLE) as handle:
        return handle.read()


def test_recap_reads_every_host_of_a_real_run():
    counts = fleet.recap(sample())
    assert set(counts) == {'lowmem-fleet-01'}
    assert counts['lowmem-fleet-01']['failed'] == 1
    assert counts['lowmem-fleet-01']['changed'] > 0


def test_touched_names_only_hosts_with_a_task_result():
    assert fleet.touched(sample()) == {'lowmem-fleet-01'}
    assert fleet.touched('ok: [web1] => (item=x)\nchanged: [web2]\nfatal: [web3]: FAILED! =>\n'
                         'skipping: [web4]\nPLAY [x] ***\n') == {'web1', 'web2', 'web3', 'web4'}


def test_a_stopped_rollout_is_told_from_one_that_went_on():
    stopped = fleet.canary_row(NAMES, 2, sample(), [NAMES[0]], 40.0)
    assert stopped['stopped'] and stopped['canary_failed'] and stopped['others_touched'] == []
    went_on = fleet.canary_row(NAMES, 2, sample() + '\nok: [lowmem-fleet-02]\n', [NAMES[0]], 40.0)
    assert not went_on['stopped'] and went_on['others_touched'] == ['lowmem-fleet-02']
    files_left = fleet.canary_row(NAMES, 2, sample(), NAMES[:2], 40.0)
    assert not files_left['stopped'] and files_left['others_with_files'] == ['lowmem-fleet-02']
    assert not fleet.canary_row(NAMES, 0, sample(), [NAMES[0]], 40.0)['stopped']
    assert 'no other host touched' in fleet.verdicts([], stopped)
    assert 'NOT stopped' in fleet.verdicts([], went_on)


def row(hosts, converge, rerun, changed=0):
    return dict(hosts=hosts, serial=0,
                converge=dict(seconds=converge, per_host=converge / hosts, controller_cpu=converge / 2, changed=9, tasks=60),
                rerun=dict(seconds=rerun, per_host=rerun / hosts, controller_cpu=rerun / 2, changed=changed, tasks=50))


def test_table_and_targets():
    rows = [row(1, 30.0, 12.0), row(10, 90.0, 40.0), row(20, 110.0, 50.0)]
    table = fleet.render(rows)
    assert table.splitlines()[0].startswith('| hosts | converge |')
    assert '| 20 | 110 s | 5.5 s | 3.67 | 55 s | 50 s | 0.45 | 0 |' in table
    text = fleet.verdicts(rows)
    assert '20 hosts converge in 3.67x' in text and 'met' in text and 'NOT' not in text
    slow = fleet.verdicts([row(1, 30.0, 24.0), row(20, 300.0, 200.0, changed=1)])
    assert '10.00x' in slow and slow.count('NOT met') == 2
