# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""container_limits and maintenance against a real Docker engine (the test engine's socket mounted into each container).

prepare.yml started four stand-in services from /srv/<host>/compose.yml and noted their container IDs; converge ran
harden.yml; the side effect (side_effect.yml, files/reruns.py) reran parts of it from the controller, as an operator
does, and recorded each run with the state of every host before and after it. These tests only read that record and
the instances: converged -> check mode -> second run -> one limit changed -> bad input -> daemon.json that is not JSON.
"""
from __future__ import annotations

import json
import os

import pytest
import testinfra.utils.ansible_runner

INVENTORY = os.environ['MOLECULE_INVENTORY_FILE']
testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY).get_hosts('all')
RECORD = os.path.join(os.environ['MOLECULE_EPHEMERAL_DIRECTORY'], 'side-effect.json')
RUN_ID_PATH = '/var/tmp/lowmem-side-effect-run-id'

MIB = 1024 * 1024
SERVICES = ['filebrowser', 'hysteria', 'hysteria2', 'tuic-server']
# What molecule.yml asks for, over the role's defaults (96m/160m/128/500) and the tuic-server preset (64m/128m).
EXPECTED = {
    'hysteria': dict(Memory=96 * MIB, MemorySwap=160 * MIB, PidsLimit=128, OomScoreAdj=500),
    'hysteria2': dict(Memory=96 * MIB, MemorySwap=160 * MIB, PidsLimit=128, OomScoreAdj=400),
    'tuic-server': dict(Memory=64 * MIB, MemorySwap=128 * MIB, PidsLimit=128, OomScoreAdj=500),
    'filebrowser': dict(Memory=128 * MIB, MemorySwap=192 * MIB, PidsLimit=256, OomScoreAdj=300),
}
# The bad cases files/reruns.py ran, and what each must say.
BAD_CASES = {
    'oom_score_adj 2000': 'oom_score_adj 2000 is outside -1000..1000',
    'missing compose file': '/srv/nowhere/compose.yml does not exist',
}


def recap(output, name):
    line = [item for item in output.splitlines() if item.startswith(name + ' ') and 'ok=' in item]
    assert line, output[-3000:]
    return dict(part.split('=') for part in line[-1].split()[2:])


@pytest.fixture(scope='module')
def record(host):
    """The side effect's record, refused when missing or made for other instances (never a skip)."""
    assert os.path.exists(RECORD), '%s is missing: run `molecule side-effect` before `molecule verify`' % RECORD
    with open(RECORD) as handle:
        data = json.load(handle)
    assert host.file(RUN_ID_PATH).content_string.strip() == data['run_id'], \
        '%s is from another side-effect run than these instances had' % RECORD
    return data


@pytest.fixture(scope='module')
def converged(record):
    return record['converged']


def _run(record, step):
    run = record['runs'][step]
    return run['rc'], run['output'], run['before'], run['after']


@pytest.fixture(scope='module')
def one_changed(record):
    return _run(record, 'one_changed')


@pytest.fixture(scope='module')
def bad_run(record):
    return _run(record, 'bad')


@pytest.fixture(scope='module')
def broken_daemon_json(record):
    return _run(record, 'broken_daemon_json')


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


def test_check_mode_after_converge_predicts_no_change(host, record):
    """harden.yml --check --diff right after converge (the side effect's first run): what a real rerun does, nothing."""
    run = record['runs']['check']
    name = host.backend.host
    assert run['rc'] == 0, run['output'][-3000:]
    assert recap(run['output'], name)['changed'] == '0', run['output'][-6000:]
    assert run['after'][name] == run['before'][name]


def test_changing_one_limit_recreates_only_that_service(host, one_changed):
    rc, output, before, after = one_changed
    name = host.backend.host
    assert rc == 0, output[-3000:]
    old, new = before[name]['containers'], after[name]['containers']
    assert new['hysteria2'] != old['hysteria2']
    assert dict((s, new[s]) for s in SERVICES if s != 'hysteria2') == dict((s, old[s]) for s in SERVICES if s != 'hysteria2')
    assert after[name]['config']['hysteria2']['OomScoreAdj'] == 350
    assert 'oom_score_adj: 350' in after[name]['compose']


def test_every_bad_case_was_run():
    with open(RECORD) as handle:
        assert sorted(json.load(handle)['bad_cases'].values()) == sorted(BAD_CASES)


def test_bad_input_in_a_later_project_changes_nothing_and_recreates_nothing(host, record, bad_run):
    rc, output, before, after = bad_run
    name = host.backend.host
    case = record['bad_cases'][name]
    # Both hosts failed in the one run, each on its own case: read this host's failure lines only (the check task loops
    # over the projects: "failed: [host] (item=...) => {...}"; a task without a loop says "fatal: [host]: FAILED!").
    fatal = ' '.join(line for line in output.splitlines()
                     if line.startswith(('failed: [%s] ' % name, 'fatal: [%s]: ' % name)))
    assert rc != 0
    assert BAD_CASES[case] in fatal and 'nothing was changed' in fatal, output[-3000:]
    assert recap(output, name)['failed'] == '1'
    assert after[name]['compose_sum'] == before[name]['compose_sum']
    assert after[name]['containers'] == before[name]['containers']


def test_a_volume_survives_maintenance_prune(host):
    name = host.backend.host
    volumes = host.check_output("docker volume ls --format '{{.Name}}'").split()
    assert '%s-keep' % name in volumes            # used by no container
    assert '%s_files' % name in volumes           # filebrowser's, recreated with it
    # prune did run: the stopped container prepare.yml left is gone.
    assert host.run('docker container inspect %s-prunable' % name).rc != 0


def test_daemon_json_that_is_not_json_is_refused_untouched(host, broken_daemon_json):
    rc, output, before, after = broken_daemon_json
    name = host.backend.host
    assert rc != 0
    assert 'is not valid JSON' in output, output[-3000:]
    assert after[name]['daemon_sum'] == before[name]['daemon_sum']
    assert after[name]['containers'] == before[name]['containers']
