# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""container_limits and maintenance against a real Docker engine (the test engine's socket mounted into each container).

prepare.yml started four stand-in services from /srv/<host>/compose.yml and noted their container IDs; converge ran
harden.yml. Molecule's side_effect step (side_effect.yml) then ran harden.yml again from the controller
(`--tags containers`, `--tags logs`), as an operator reruns parts of it, against all hosts at once, in this order:
second run -> one limit changed -> bad input (two cases) -> daemon.json that is not JSON.
It recorded each run (rc, output, recap, failures) with every host's state before and after it in
$MOLECULE_EPHEMERAL_DIRECTORY/side-effect/<step>.json. Verify only reads: those records and the instances.
A missing record, or one from another run than the id on the instance, is a failure.
"""
from __future__ import annotations

import json
import os

import pytest
import testinfra.utils.ansible_runner

INVENTORY = os.environ['MOLECULE_INVENTORY_FILE']
testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY).get_hosts('all')

RECORDS = os.path.join(os.environ['MOLECULE_EPHEMERAL_DIRECTORY'], 'side-effect')
RUN_ID = '/var/tmp/lowmem-side-effect/run-id'   # written on each instance by side_effect.yml
MIB = 1024 * 1024
SERVICES = ['filebrowser', 'hysteria', 'hysteria2', 'tuic-server']
COMPOSE = '/srv/{{ inventory_hostname }}/compose.yml'   # templated by Ansible for each host
# What molecule.yml asks for, over the role's defaults (96m/160m/128/500) and the tuic-server preset (64m/128m).
EXPECTED = {
    'hysteria': dict(Memory=96 * MIB, MemorySwap=160 * MIB, PidsLimit=128, OomScoreAdj=500),
    'hysteria2': dict(Memory=96 * MIB, MemorySwap=160 * MIB, PidsLimit=128, OomScoreAdj=400),
    'tuic-server': dict(Memory=64 * MIB, MemorySwap=128 * MIB, PidsLimit=128, OomScoreAdj=500),
    'filebrowser': dict(Memory=128 * MIB, MemorySwap=192 * MIB, PidsLimit=256, OomScoreAdj=300),
}
# Each bad case comes after a first project that would change (hysteria's pids_limit): every project is checked before
# any is changed, so neither the file nor any container may change.
GOOD_CHANGE = dict(path=COMPOSE, services={'hysteria': {'pids_limit': 64}})
BAD_CASES = {
    'oom_score_adj 2000': ('bad-oom-score-adj-2000',
                           [dict(path=COMPOSE, services={'tuic-server': {'oom_score_adj': 2000}})],
                           'oom_score_adj 2000 is outside -1000..1000'),
    'missing compose file': ('bad-missing-compose-file',
                             [dict(path='/srv/nowhere/compose.yml', services={'hysteria': None})],
                             '/srv/nowhere/compose.yml does not exist'),
}


def project(hysteria2_oom=400):
    """container_limits_projects as molecule.yml has it, with hysteria2's oom_score_adj as given."""
    return [dict(path=COMPOSE, services={
        'hysteria': None,
        'hysteria2': {'oom_score_adj': hysteria2_oom},
        'tuic-server': None,
        'filebrowser': {'mem_limit': '128m', 'memswap_limit': '192m', 'pids_limit': 256, 'oom_score_adj': 300},
    })]


def record(host, step, tags, extra_vars):
    """The side effect's record of one run, checked to be this run's (the id on the instance) and to have run what
    the test expects (tags, extra vars)."""
    path = os.path.join(RECORDS, step + '.json')
    if not os.path.isfile(path):
        pytest.fail('no side-effect record %s: the side_effect step (molecule/default/side_effect.yml) did not run '
                    'before verify; run `molecule side-effect -s default` first' % path, pytrace=False)
    with open(path, encoding='utf-8') as handle:
        data = json.load(handle)
    marker = host.file(RUN_ID)
    assert marker.exists, '%s is missing on %s: the side effect did not run on this instance' % (RUN_ID, host.backend.host)
    assert data['run_id'] == marker.content_string.strip(), (
        '%s is from side-effect run %s, the instance has %s: run `molecule side-effect -s default` again'
        % (path, data['run_id'], marker.content_string.strip()))
    assert (data['tags'], data['extra_vars']) == (tags, extra_vars), 'the side effect ran other inputs: %s' % path
    name = host.backend.host
    assert name in data['before'] and name in data['after'], 'no state of %s in %s' % (name, path)
    return data


def run_report(data, name):
    """What to show when an assertion on a run fails: its rc, this host's recap and failures, the output's tail."""
    return 'rc=%s recap=%s failures=%s\n%s' % (
        data['rc'], data['recap'].get(name), data['failures'].get(name), data['output'][-3000:])


def recap(data, name):
    assert name in data['recap'], 'no PLAY RECAP line for %s:\n%s' % (name, data['output'][-3000:])
    return data['recap'][name]


@pytest.fixture
def second_run(host):
    return record(host, 'second-run', 'containers', dict(container_limits_projects=project()))


@pytest.fixture
def converged(host, second_run):
    """Every host's state as converge left it: the side effect's snapshot before its first run."""
    return second_run['before']


@pytest.fixture
def one_changed(host):
    return record(host, 'one-changed', 'containers', dict(container_limits_projects=project(hysteria2_oom=350)))


@pytest.fixture
def broken_daemon_json(host):
    """daemon.json made invalid on every host, harden.yml --tags logs, then the good file put back."""
    return record(host, 'broken-daemon-json', 'logs', {})


def test_docker_inspect_shows_the_configured_limits(host, converged):
    state = converged[host.backend.host]
    assert sorted(state['containers']) == SERVICES
    for service, want in EXPECTED.items():
        assert dict((key, state['config'][service][key]) for key in want) == want, service


def test_converge_recreated_every_service_whose_limits_changed(host, converged):
    # All four had limits to change, so all four are new containers.
    before = dict(line.split() for line in host.file('/var/tmp/lowmem-containers-before').content_string.splitlines())
    now = converged[host.backend.host]['containers']
    assert sorted(before) == sorted(now) == SERVICES
    assert all(before[service] != now[service] for service in SERVICES)


def test_compose_file_keeps_comments_order_and_other_keys(host, converged):
    text = converged[host.backend.host]['compose']
    assert '# Stand-ins for the runbook\'s proxy containers, from the local test image.' in text
    assert 'mem_limit: 96m    # generous, from before the incident' in text    # value replaced, comment column kept
    assert 'ROLE: second  # keep me' in text
    assert 'org.lowmem.role: proxy' in text and '<<: *standin' in text and 'x-standin: &standin' in text
    order = [text.index('  %s:\n' % service) for service in ('hysteria', 'hysteria2', 'tuic-server', 'filebrowser')]
    assert order == sorted(order)
    assert text.rstrip().endswith('volumes:\n  files:')


def test_a_second_run_recreates_nothing(host, converged, second_run):
    name = host.backend.host
    after = second_run['after']
    assert second_run['rc'] == 0, run_report(second_run, name)
    assert recap(second_run, name)['changed'] == 0, run_report(second_run, name)
    assert after[name]['containers'] == converged[name]['containers']


def test_changing_one_limit_recreates_only_that_service(host, one_changed):
    name = host.backend.host
    before, after = one_changed['before'], one_changed['after']
    assert one_changed['rc'] == 0, run_report(one_changed, name)
    old, new = before[name]['containers'], after[name]['containers']
    assert new['hysteria2'] != old['hysteria2']
    assert dict((s, new[s]) for s in SERVICES if s != 'hysteria2') == dict((s, old[s]) for s in SERVICES if s != 'hysteria2')
    assert after[name]['config']['hysteria2']['OomScoreAdj'] == 350
    assert 'oom_score_adj: 350' in after[name]['compose']


@pytest.mark.parametrize('case', sorted(BAD_CASES))
def test_bad_input_in_a_later_project_changes_nothing_and_recreates_nothing(host, case):
    step, bad_projects, message = BAD_CASES[case]
    run = record(host, step, 'containers', dict(container_limits_projects=[GOOD_CHANGE] + bad_projects))
    name = host.backend.host
    before, after = run['before'], run['after']
    flat = ' '.join(run['output'].split())
    assert run['rc'] != 0, run_report(run, name)
    assert message in flat and 'nothing was changed' in flat, run_report(run, name)
    assert recap(run, name)['failed'] == 1, run_report(run, name)
    assert after[name]['compose_sum'] == before[name]['compose_sum']
    assert after[name]['containers'] == before[name]['containers']


def test_a_volume_survives_maintenance_prune(host):
    name = host.backend.host
    volumes = host.check_output("docker volume ls --format '{{.Name}}'").split()
    assert '%s-keep' % name in volumes            # used by no container
    assert '%s_files' % name in volumes           # filebrowser's, recreated with it
    # prune did run: the stopped container prepare.yml left is gone.
    assert host.run('docker container inspect %s-prunable' % name).rc != 0


def test_daemon_json_that_is_not_json_is_refused_untouched(host, broken_daemon_json, one_changed):
    name = host.backend.host
    before, after = broken_daemon_json['before'], broken_daemon_json['after']
    assert before[name]['daemon'] == '{"log-driver": "json-file",\n'   # the side effect did break it
    assert broken_daemon_json['rc'] != 0, run_report(broken_daemon_json, name)
    assert 'is not valid JSON' in broken_daemon_json['output'], run_report(broken_daemon_json, name)
    assert after[name]['daemon_sum'] == before[name]['daemon_sum']
    assert after[name]['containers'] == before[name]['containers']
    # and then put the good file back, byte for byte
    assert host.file('/etc/docker/daemon.json').sha256sum == one_changed['after'][name]['daemon_sum']
