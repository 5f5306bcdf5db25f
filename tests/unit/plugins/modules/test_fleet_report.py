# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet_report end to end through main(), on real files under tmp_path: the three files, check mode writes nothing
but returns the diff, bad input fails before anything is written, a second run measures growth per hour against the
first report.json (and not across a reboot), registered results of unreachable and failed hosts are listed."""
from __future__ import annotations

import json
import os

from ansible_collections.lowmem.vps.plugins.modules import fleet_report

T0 = 1796205600.0
BOOT = 'b1d4c0c5f0e94a3c9a1f6e2d7c8b9a01'


def registered(at, sunreclaim_kb, boot_id=BOOT):
    # As `register:` holds it: the module's result plus Ansible's own keys.
    return dict(changed=False, failed=False, invocation=dict(module_args=dict(boots=1)), collected_at=at, hostname='vm',
                kernel='6.12.57+deb13-amd64', boot_id=boot_id, uptime_s=3600,
                memory=dict(mem_total_kb=464896, mem_available_kb=187720, mem_free_kb=21340, swap_total_kb=0, swap_used_kb=0,
                            anon_pages_kb=201000, shmem_kb=6100, sreclaimable_kb=14000, sunreclaim_kb=sunreclaim_kb,
                            unaccounted_kb=9000),
                slab_top=[], flags=[], events=dict(oom_kills=[], page_alloc_failures=[], earlyoom_kills=[], unit_oom_kills=[]),
                notes=[])


def snapshot(directory):
    return dict((name, (directory / name).read_bytes()) for name in sorted(os.listdir(directory)))


def test_writes_json_markdown_html_listing_unreachable_and_failed_hosts(module_runner, tmp_path):
    dest = tmp_path / 'lowmem-audit'
    hosts = {'vm': registered(T0, 40000), 'down': dict(unreachable=True, msg='ssh: timed out', changed=False),
             'broken': dict(failed=True, msg='memory_facts: boom'), 'never': None}
    code, result = module_runner(fleet_report.main, {'hosts': hosts, 'dest': str(dest), '_ansible_diff': True})
    assert code == 0 and result['changed'] is True, result
    assert sorted(os.listdir(dest)) == ['report.html', 'report.json', 'report.md']
    assert [(item['host'], item['worst']) for item in result['hosts']] == [
        ('broken', 'critical'), ('down', 'critical'), ('never', 'critical'), ('vm', 'ok')]
    assert [item['flags'] for item in result['hosts'][:3]] == [['audit_failed'], ['unreachable'], ['unreachable']]
    saved = json.loads((dest / 'report.json').read_text())
    assert 'invocation' not in saved['hosts'][3]['facts'] and 'changed' not in saved['hosts'][3]['facts']
    assert [entry['after_header'] for entry in result['diff']] == [str(dest / name) for name in ('report.json', 'report.md', 'report.html')]
    assert (dest / 'report.html').stat().st_mode & 0o777 == 0o644
    assert [name for name in os.listdir(dest) if name.startswith('.')] == []


def test_check_mode_writes_nothing_and_returns_the_diff(module_runner, tmp_path):
    dest = tmp_path / 'out'
    dest.mkdir()
    code, result = module_runner(fleet_report.main, {'hosts': {'vm': registered(T0, 40000)}, 'dest': str(dest),
                                                     '_ansible_check_mode': True, '_ansible_diff': True})
    assert code == 0 and result['changed'] is True
    assert os.listdir(dest) == []
    assert 'Fleet memory report' in result['diff'][2]['after'] and result['diff'][2]['before'] == ''


def test_second_run_shows_growth_per_hour_and_a_reboot_is_not_growth(module_runner, tmp_path):
    dest = tmp_path / 'out'
    hosts = {'leaky': registered(T0, 40000), 'rebooted': registered(T0, 40000)}
    assert module_runner(fleet_report.main, {'hosts': hosts, 'dest': str(dest)})[0] == 0
    # two hours later: leaky grew 1 MB a minute; rebooted has a new boot id and even more SUnreclaim
    later = {'leaky': registered(T0 + 7200, 40000 + 120 * 1024),
             'rebooted': registered(T0 + 7200, 40000 + 240 * 1024, boot_id='ffff0000ffff0000ffff0000ffff0000')}
    code, result = module_runner(fleet_report.main, {'hosts': later, 'dest': str(dest)})
    assert code == 0, result
    assert result['hosts'][0] == dict(host='leaky', worst='warning', flags=['sunreclaim_growing'])
    assert result['hosts'][1] == dict(host='rebooted', worst='ok', flags=[])
    saved = json.loads((dest / 'report.json').read_text())
    assert saved['hosts'][0]['growth']['sunreclaim_kb_per_hour'] == 61440.0
    assert saved['hosts'][1]['growth'] is None and 'rebooted' in saved['hosts'][1]['growth_note']
    assert result['previous_generated_at'] is not None
    assert 'SUnreclaim +60.0 MB/h' in (dest / 'report.html').read_text()
    assert 'SUnreclaim +60.0 MB/h' in (dest / 'report.md').read_text()


def test_bad_input_fails_clearly_and_writes_nothing(module_runner, tmp_path):
    dest = tmp_path / 'out'
    dest.mkdir()
    code, result = module_runner(fleet_report.main, {'hosts': {'vm': dict(registered(T0, 1), memory=dict(mem_total_kb='lots'))},
                                                     'dest': str(dest)})
    assert code == 1 and result['changed'] is False
    assert result['msg'] == "fleet_report: host vm: memory.mem_total_kb must be a number of kB, got 'lots'; nothing was changed"
    assert os.listdir(dest) == []
    (dest / 'report.json').write_text('not json', encoding='utf-8')
    before = snapshot(dest)
    code, result = module_runner(fleet_report.main, {'hosts': {'vm': registered(T0, 1)}, 'dest': str(dest)})
    assert code == 1 and 'is not JSON' in result['msg'] and 'nothing was written' in result['msg']
    assert snapshot(dest) == before


def test_a_missing_parent_directory_is_refused(module_runner, tmp_path):
    dest = tmp_path / 'no' / 'such' / 'dir'
    code, result = module_runner(fleet_report.main, {'hosts': {'vm': registered(T0, 1)}, 'dest': str(dest)})
    assert code == 1 and 'does not exist' in result['msg']
    assert not (tmp_path / 'no').exists()
