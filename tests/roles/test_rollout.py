# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/harden.yml's rollout: a canary, then batches, stopped by the verify gate (in the sandbox).

Three hosts on connection local, every role off but the verify gate with its host checks off too, so a run changes
nothing. The canary's gate is made to fail on purpose (an HTTP check of a closed port): the hosts of the later
batches must never be touched. With a healthy canary every batch runs: the same hosts, so the stop is the gate's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, PlaybookRun, _sandbox_failures, sandbox_env

HOSTS = ('canary', 'web2', 'web3')
OFF = dict((name + '_enabled', False) for name in (
    'xanmod', 'kernel_cleanup', 'sysctl', 'swap', 'zswap', 'oom_protect', 'earlyoom', 'log_caps', 'container_limits',
    'maintenance', 'memory_history'))
BROKEN_GATE = {'verify_http': [{'url': 'http://127.0.0.1:9/', 'status': 200}]}  # nothing listens on port 9
GATE = dict(verify_ignore_failed_units=['*'], verify_units=[], verify_ssh_ports=[], verify_http=[],
            verify_kernel_log=False)


def harden(tmp_path, sandboxed, canary_vars, extra=None, hosts=HOSTS, failing='canary'):
    if _sandbox_failures:
        pytest.fail('not running harden.yml: the sandbox failed its own tests', pytrace=False)
    subprocess.run([os.path.join(ROOT, 'tools', 'dev-link')], check=True)
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(json.dumps({'all': {
        'hosts': dict((name, canary_vars if name == failing else {}) for name in hosts),
        # the gate's settings as group vars, so the canary's host vars win over them (extra vars would not let them)
        'vars': dict(GATE, ansible_connection='local', ansible_become=False, ansible_python_interpreter=sys.executable)}}))
    variables = tmp_path / 'vars.json'
    variables.write_text(json.dumps(dict(OFF, **(extra or {}))))
    env = dict(sandbox_env(tmp_path), ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inventory),
               os.path.join(ROOT, 'playbooks', 'harden.yml'), '-e', '@%s' % variables]
    return PlaybookRun(sandboxed(command, env=env, cwd=ROOT))


def recap(run):
    """{host: {'ok': n, 'failed': n, ...}} from the PLAY RECAP."""
    hosts = {}
    for host, counts in re.findall(r'^(\S+)\s+:\s+(ok=.*)$', run.output, re.M):
        hosts[host] = dict((key, int(value)) for key, value in re.findall(r'(\w+)=(\d+)', counts))
    return hosts


def touched(run):
    """Hosts named in any task result (ok:, changed:, failed:, skipping:)."""
    return set(re.findall(r'^(?:ok|changed|fatal|failed|skipping): \[([^\]]+)\]', run.output, re.M))


def test_a_healthy_canary_lets_every_batch_run(tmp_path, sandboxed):
    run = harden(tmp_path, sandboxed, {})
    assert run.rc == 0, run.output
    assert touched(run) == set(HOSTS), run.output
    assert all(counts['failed'] == 0 for counts in recap(run).values()), run.output
    # canary, then 25 % of three hosts (one) per batch: three plays' worth of batches
    assert run.output.count('PLAY [Harden small-memory Debian hosts]') == 3, run.output


def test_a_canary_failing_the_gate_stops_the_rollout_before_the_next_batch(tmp_path, sandboxed):
    run = harden(tmp_path, sandboxed, BROKEN_GATE)
    assert run.rc != 0, run.output
    assert touched(run) == {'canary'}, run.output
    assert recap(run)['canary']['failed'] == 1, run.output
    assert 'http:http://127.0.0.1:9/' in run.flat, run.output
    assert 'web2' not in recap(run) and 'web3' not in recap(run), run.output


def test_one_failed_host_in_a_batch_stops_the_next_batch(tmp_path, sandboxed):
    """max_fail_percentage 0: a batch of two where one host fails is enough (Ansible alone stops only when all do)."""
    hosts = ('canary', 'web2', 'web3', 'web4')
    run = harden(tmp_path, sandboxed, BROKEN_GATE, extra={'lowmem_serial': [1, 2]}, hosts=hosts, failing='web2')
    assert run.rc != 0, run.output
    assert touched(run) == {'canary', 'web2', 'web3'}, run.output
    assert recap(run)['web2']['failed'] == 1 and recap(run)['web3']['failed'] == 0, run.output
