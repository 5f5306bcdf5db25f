# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The memory history (memory_history role, on in both containers with a sample every 20 s): the timer runs the
sampler, the file holds samples under its header, node_exporter's textfile is written where its directory exists
(Debian 13, made by prepare.yml) and nowhere else, and memory_facts returns the history's trend."""
from __future__ import annotations

import json
import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('all')

HEADER = '# lowmem-vps memory history 1: epoch mem_available_kb sunreclaim_kb slab_kb swap_used_kb oom_kill warned'
HISTORY = '/var/lib/lowmem-vps/memory-history'
PROM = '/var/lib/prometheus/node-exporter/lowmem_vps.prom'


def samples(host):
    return [line.split() for line in host.file(HISTORY).content_string.splitlines()[1:]]


def test_the_timer_runs_the_sampler_with_the_roles_settings(host):
    timer = host.service('lowmem-memory-history.timer')
    assert timer.is_enabled and timer.is_running
    show = host.check_output('systemctl show -p Environment -p ExecStart -p Result lowmem-memory-history.service')
    assert 'LOWMEM_HISTORY_SAMPLES=1440' in show and 'LOWMEM_HISTORY_WINDOW=30' in show and 'Result=success' in show
    assert 'OnUnitActiveSec=20s' in host.file('/etc/systemd/system/lowmem-memory-history.timer').content_string
    assert host.file('/usr/local/sbin/lowmem-memory-history').mode == 0o755


def test_the_history_holds_a_sample_per_interval(host):
    history = host.file(HISTORY)
    assert history.mode == 0o644 and history.content_string.splitlines()[0] == HEADER
    found = samples(host)
    assert len(found) >= 2 and all(len(sample) == 7 and all(field.isdigit() for field in sample) for sample in found)
    # one every 20 s since converge: the timer keeps firing, and the newest is recent
    epochs = [int(sample[0]) for sample in found]
    assert epochs == sorted(epochs) and 15 <= epochs[-1] - epochs[-2] <= 40, epochs[-5:]
    assert int(host.check_output('date +%s')) - epochs[-1] <= 60, epochs[-1]


def test_the_prometheus_textfile_only_where_node_exporter_reads(host):
    prom = host.file(PROM)
    if host.backend.get_hostname() == 'lowmem-debian13':
        text = prom.content_string
        assert '# TYPE lowmem_sunreclaim_bytes gauge' in text and '# TYPE lowmem_oom_kill_total counter' in text
        values = dict(line.split(' ') for line in text.splitlines() if not line.startswith('#'))
        assert int(values['lowmem_mem_available_bytes']) > 0 and int(values['lowmem_sunreclaim_bytes']) > 0
        # written to a temporary file and renamed: nothing else in the collector's directory
        assert host.check_output('ls -A /var/lib/prometheus/node-exporter') == 'lowmem_vps.prom'
    else:
        assert not prom.exists and not host.file('/var/lib/prometheus').exists


def test_memory_facts_returns_the_historys_trend(host):
    result = host.ansible('lowmem.vps.memory_facts', 'slab_top=0 boots=0', check=True, become=True)
    trend = result['history']
    assert trend['path'] == HISTORY and trend['samples'] >= 2
    assert trend['series']['sunreclaim_kb'] and len(trend['series']['epoch']) == len(trend['series']['sunreclaim_kb'])
    assert json.dumps(trend)
