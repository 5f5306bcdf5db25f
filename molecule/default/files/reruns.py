# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The side effect of the default scenario: reruns of playbooks/harden.yml from the controller, recorded for verify.

Usage: reruns.py RECORD.json   (run by side_effect.yml with Molecule's environment: MOLECULE_INVENTORY_FILE,
MOLECULE_PROJECT_DIRECTORY)

An operator reruns parts of harden.yml (`--tags containers`, `--tags logs`) against all hosts at once. The runs happen
in this order, each with the state of every host before and after it:
  check (the whole playbook with --check --diff after converge: it must predict no change) -> one_changed ->
  bad (one bad case per host, each after a project that would change) -> broken_daemon_json
A plain second run is left out: Molecule's idempotence step has just made it (changed=0 on both hosts), and
one_changed shows the services whose limits did not change keep their containers.
The record is a JSON object: run_id (also written to RUN_ID_PATH on every instance, so verify can tell the record is
for these instances), converged (the state before any rerun), bad_cases: host -> the case its bad run had, runs:
step -> {tags, extra_vars, rc, output, before, after}. A state is host -> {containers: service -> full ID, config: service -> HostConfig, compose, compose_sum,
daemon_sum}. Every rerun is made whatever the earlier ones did, so verify sees every failure at once.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import uuid

import testinfra
import testinfra.utils.ansible_runner

RUN_ID_PATH = '/var/tmp/lowmem-side-effect-run-id'
COMPOSE = '/srv/{{ inventory_hostname }}/compose.yml'   # templated by Ansible for each host
# Each bad case comes after a first project that would change (hysteria's pids_limit): every project is checked before
# any is changed, so neither the file nor any container may change.
BAD_CASES = {
    'oom_score_adj 2000': [dict(path=COMPOSE, services={'tuic-server': {'oom_score_adj': 2000}})],
    'missing compose file': [dict(path='/srv/nowhere/compose.yml', services={'hysteria': None})],
}
GOOD_CHANGE = dict(path=COMPOSE, services={'hysteria': {'pids_limit': 64}})


def project(hysteria2_oom=400):
    """container_limits_projects as molecule.yml has it, with hysteria2's oom_score_adj as given."""
    return [dict(path=COMPOSE, services={
        'hysteria': None,
        'hysteria2': {'oom_score_adj': hysteria2_oom},
        'tuic-server': None,
        'filebrowser': {'mem_limit': '128m', 'memswap_limit': '192m', 'pids_limit': 256, 'oom_score_adj': 300},
    })]


def all_hosts(inventory):
    names = testinfra.utils.ansible_runner.AnsibleRunner(inventory).get_hosts('all')
    return dict((name, testinfra.get_host('ansible://' + name, ansible_inventory=inventory)) for name in names)


def containers(host, name):
    """service -> full container ID, for the running containers of the host's project."""
    out = host.check_output("docker ps --no-trunc --filter label=com.docker.compose.project=%s "
                            "--format '{{.Label \"com.docker.compose.service\"}} {{.ID}}'" % name)
    return dict(line.split() for line in out.splitlines())


def snapshot(hosts):
    state = {}
    for name, host in hosts.items():
        running = containers(host, name)
        configs = dict((service, json.loads(host.check_output("docker inspect --format '{{json .HostConfig}}' %s" % cid)))
                       for service, cid in running.items())
        compose = host.file('/srv/%s/compose.yml' % name)
        state[name] = dict(containers=running, config=configs, compose=compose.content_string,
                           compose_sum=compose.sha256sum, daemon_sum=host.file('/etc/docker/daemon.json').sha256sum)
    return state


def write(host, path, text):
    host.run_expect([0], 'echo %s | base64 -d > %s' % (base64.b64encode(text.encode()).decode(), path))


class Reruns:
    def __init__(self, inventory, playbook):
        self.inventory, self.playbook = inventory, playbook
        self.hosts = all_hosts(inventory)
        self.runs = {}

    def harden(self, step, tags, extra_vars, options=()):
        """Run harden.yml from the controller against every host and record it under `step`."""
        before = snapshot(self.hosts)
        with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as handle:
            json.dump(extra_vars, handle)
        try:
            proc = subprocess.run(
                # all hosts at once (lowmem_serial=0), as the operator here does: no canary, every host recorded
                ['ansible-playbook', '-i', self.inventory, '--tags', tags, '-e', 'lowmem_serial=0', '-e', '@' + handle.name]
                + list(options)
                + [self.playbook],
                capture_output=True, text=True, check=False, env=dict(os.environ, ANSIBLE_NOCOLOR='1'))
        finally:
            os.unlink(handle.name)
        self.runs[step] = dict(tags=tags, extra_vars=extra_vars, rc=proc.returncode,
                               output=proc.stdout + proc.stderr, before=before, after=snapshot(self.hosts))
        print('%-28s rc=%d' % (step, proc.returncode), flush=True)

    def run(self):
        run_id = uuid.uuid4().hex
        for host in self.hosts.values():
            write(host, RUN_ID_PATH, run_id + '\n')
        converged = snapshot(self.hosts)
        self.harden('check', 'all', {}, ['--check', '--diff'])
        self.harden('one_changed', 'containers', dict(container_limits_projects=project(hysteria2_oom=350)))
        # One run for both bad cases: each host gets its own (an extra var is templated per host).
        bad_cases = dict(zip(sorted(self.hosts), sorted(BAD_CASES)))
        self.harden('bad', 'containers', dict(
            container_limits_projects='{{ __lowmem_bad_projects[inventory_hostname] }}',
            __lowmem_bad_projects=dict((name, [GOOD_CHANGE] + BAD_CASES[case]) for name, case in bad_cases.items())))
        good = dict((name, host.file('/etc/docker/daemon.json').content_string) for name, host in self.hosts.items())
        for host in self.hosts.values():
            write(host, '/etc/docker/daemon.json', '{"log-driver": "json-file",\n')
        try:
            self.harden('broken_daemon_json', 'logs', {})
        finally:
            for name, host in self.hosts.items():
                write(host, '/etc/docker/daemon.json', good[name])
        return dict(run_id=run_id, converged=converged, bad_cases=bad_cases, runs=self.runs)


def main(argv):
    if len(argv) != 2:
        sys.exit('usage: reruns.py RECORD.json')
    record = Reruns(os.environ['MOLECULE_INVENTORY_FILE'],
                    os.path.join(os.environ['MOLECULE_PROJECT_DIRECTORY'], 'playbooks', 'harden.yml')).run()
    tmp = argv[1] + '.tmp'
    with open(tmp, 'w') as handle:
        json.dump(record, handle, indent=1, sort_keys=True)
    os.replace(tmp, argv[1])


if __name__ == '__main__':
    main(sys.argv)
