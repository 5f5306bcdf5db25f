# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""container_limits and maintenance against a real Docker engine (the test engine's socket mounted into each container).

prepare.yml started four stand-in services from /srv/<host>/compose.yml and noted their container IDs; converge ran
harden.yml. Here harden.yml runs again from the controller (`--tags containers`, `--tags logs`), as an operator reruns
parts of it, against all hosts at once. Each run is a module-scoped fixture that snapshots every host before and after,
and each fixture depends on the one before, so the runs happen in this order whatever order the tests run in:
converged -> second run -> one limit changed -> bad input -> daemon.json that is not JSON.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile

import pytest
import testinfra
import testinfra.utils.ansible_runner

INVENTORY = os.environ['MOLECULE_INVENTORY_FILE']
testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY).get_hosts('all')

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
BAD_CASES = {
    'oom_score_adj 2000': ([dict(path=COMPOSE, services={'tuic-server': {'oom_score_adj': 2000}})],
                           'oom_score_adj 2000 is outside -1000..1000'),
    'missing compose file': ([dict(path='/srv/nowhere/compose.yml', services={'hysteria': None})],
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


def all_hosts():
    return dict((name, testinfra.get_host('ansible://' + name, ansible_inventory=INVENTORY)) for name in testinfra_hosts)


def containers(host, name):
    """service -> full container ID, for the running containers of the host's project."""
    out = host.check_output("docker ps --no-trunc --filter label=com.docker.compose.project=%s "
                            "--format '{{.Label \"com.docker.compose.service\"}} {{.ID}}'" % name)
    return dict(line.split() for line in out.splitlines())


def snapshot():
    """For every host: its containers, their HostConfig, the compose file's text and checksum, daemon.json."""
    state = {}
    for name, host in all_hosts().items():
        running = containers(host, name)
        configs = dict((service, json.loads(host.check_output("docker inspect --format '{{json .HostConfig}}' %s" % cid)))
                       for service, cid in running.items())
        compose = host.file('/srv/%s/compose.yml' % name)
        state[name] = dict(containers=running, config=configs, compose=compose.content_string,
                           compose_sum=compose.sha256sum, daemon_sum=host.file('/etc/docker/daemon.json').sha256sum)
    return state


def harden(tags, extra_vars):
    """Run playbooks/harden.yml from the controller against every host; (rc, output)."""
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as handle:
        json.dump(extra_vars, handle)
    try:
        proc = subprocess.run(
            ['ansible-playbook', '-i', INVENTORY, '--tags', tags, '-e', '@' + handle.name,
             os.path.join(os.environ['MOLECULE_PROJECT_DIRECTORY'], 'playbooks', 'harden.yml')],
            capture_output=True, text=True, check=False, env=dict(os.environ, ANSIBLE_NOCOLOR='1'))
    finally:
        os.unlink(handle.name)
    return proc.returncode, proc.stdout + proc.stderr


def recap(output, name):
    line = [item for item in output.splitlines() if item.startswith(name + ' ') and 'ok=' in item]
    assert line, output[-3000:]
    return dict(part.split('=') for part in line[-1].split()[2:])


def write(host, path, text):
    host.run_expect([0], 'echo %s | base64 -d > %s' % (base64.b64encode(text.encode()).decode(), path))


@pytest.fixture(scope='module')
def converged():
    return snapshot()


@pytest.fixture(scope='module')
def second_run(converged):
    rc, output = harden('containers', dict(container_limits_projects=project()))
    return rc, output, snapshot()


@pytest.fixture(scope='module')
def one_changed(second_run):
    before = second_run[2]
    rc, output = harden('containers', dict(container_limits_projects=project(hysteria2_oom=350)))
    return rc, output, before, snapshot()


@pytest.fixture(scope='module')
def bad_runs(one_changed):
    """Each bad case after a first project that would change (hysteria's pids_limit): every project is checked before
    any is changed, so neither the file nor any container may change."""
    runs = {}
    for case, (bad_projects, _message) in BAD_CASES.items():
        before = snapshot()
        good_change = dict(path=COMPOSE, services={'hysteria': {'pids_limit': 64}})
        rc, output = harden('containers', dict(container_limits_projects=[good_change] + bad_projects))
        runs[case] = (rc, output, before, snapshot())
    return runs


@pytest.fixture(scope='module')
def broken_daemon_json(bad_runs):
    """daemon.json made invalid on every host, harden.yml --tags logs, then the good file put back."""
    hosts, good = all_hosts(), {}
    for name, host in hosts.items():
        good[name] = host.file('/etc/docker/daemon.json').content_string
        write(host, '/etc/docker/daemon.json', '{"log-driver": "json-file",\n')
    try:
        before = snapshot()
        rc, output = harden('logs', {})
        return rc, output, before, snapshot()
    finally:
        for name, host in hosts.items():
            write(host, '/etc/docker/daemon.json', good[name])


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
    rc, output, after = second_run
    name = host.backend.host
    assert rc == 0, output[-3000:]
    assert recap(output, name)['changed'] == '0'
    assert after[name]['containers'] == converged[name]['containers']


def test_changing_one_limit_recreates_only_that_service(host, one_changed):
    rc, output, before, after = one_changed
    name = host.backend.host
    assert rc == 0, output[-3000:]
    old, new = before[name]['containers'], after[name]['containers']
    assert new['hysteria2'] != old['hysteria2']
    assert dict((s, new[s]) for s in SERVICES if s != 'hysteria2') == dict((s, old[s]) for s in SERVICES if s != 'hysteria2')
    assert after[name]['config']['hysteria2']['OomScoreAdj'] == 350
    assert 'oom_score_adj: 350' in after[name]['compose']


@pytest.mark.parametrize('case', sorted(BAD_CASES))
def test_bad_input_in_a_later_project_changes_nothing_and_recreates_nothing(host, bad_runs, case):
    rc, output, before, after = bad_runs[case]
    name = host.backend.host
    flat = ' '.join(output.split())
    assert rc != 0
    assert BAD_CASES[case][1] in flat and 'nothing was changed' in flat, output[-3000:]
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
