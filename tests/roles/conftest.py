# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the collection's real roles with ansible-playbook (connection local), inside tools/sandbox.

Only bad input that must fail before writing, and files written under tmp_path, are tested here; everything that
touches the system runs in Molecule (containers, the lab VM). Those checks are what keeps a role from changing
this machine, so every ansible-playbook runs in the sandbox: every mount read-only except tmp_path (HOME and
ansible's temporary directories point inside it), /proc (and so /proc/sys) read-only, no disks in /dev, no host
sockets in /run, no CAP_SYS_ADMIN. A role whose check broke fails on EROFS instead of changing the host.
There is no unprotected fallback: without the sandbox (not root, no mount namespaces) every test here fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
SANDBOX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'tools', 'sandbox')


_SANDBOX_TESTS = 'test_sandbox.py'
_sandbox_failures = []


def pytest_collection_modifyitems(session, config, items):
    """The sandbox's own tests first: if one fails, no role runs afterwards (see run_role)."""
    items.sort(key=lambda item: os.path.basename(str(item.fspath)) != _SANDBOX_TESTS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and os.path.basename(str(item.fspath)) == _SANDBOX_TESTS:
        _sandbox_failures.append(item.nodeid)


class PlaybookRun(object):
    def __init__(self, proc):
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        # the output with every run of whitespace made one space: messages folded by the YAML callback match again
        self.flat = ' '.join(self.output.split())


def sandbox_env(tmp_path):
    """The environment for a sandboxed run: every place ansible or Python writes to is under tmp_path."""
    home = tmp_path / 'sandbox-home'
    dirs = {'HOME': home, 'TMPDIR': home / 'tmp', 'ANSIBLE_LOCAL_TEMP': home / 'ansible-local',
            'ANSIBLE_REMOTE_TEMP': home / 'ansible-remote'}
    for directory in dirs.values():
        directory.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, **{name: str(value) for name, value in dirs.items()})
    env.pop('DOCKER_HOST', None)
    return env


@pytest.fixture
def sandboxed(tmp_path):
    """sandboxed(argv, env=None, **run_kwargs) -> CompletedProcess: argv run in the sandbox, only tmp_path writable.

    Fails the test (never runs argv unprotected) when the sandbox cannot be set up.
    """
    def run(argv, env=None, **kwargs):
        kwargs.setdefault('capture_output', True)
        kwargs.setdefault('text', True)
        proc = subprocess.run([SANDBOX, '--writable', str(tmp_path), '--'] + list(argv),
                              env=env or sandbox_env(tmp_path), check=False, **kwargs)
        if proc.returncode == 125:
            pytest.fail('tools/sandbox could not be set up, so nothing ran (the role tests never run '
                        'unprotected; they need root with mount namespaces):\n%s' % (proc.stderr,), pytrace=False)
        return proc
    return run


@pytest.fixture
def run_role(tmp_path, sandboxed):
    """run_role(role, vars, check=False, diff=False) -> PlaybookRun, the role applied to localhost inside the sandbox."""
    if _sandbox_failures:
        pytest.fail('not running the role: the sandbox failed its own tests (%s)' % ', '.join(_sandbox_failures),
                    pytrace=False)
    subprocess.run([os.path.join(ROOT, 'tools', 'dev-link')], check=True)

    def run(role, variables, check=False, diff=False):
        playbook = tmp_path / 'play.yml'
        playbook.write_text(
            '- hosts: localhost\n  connection: local\n  gather_facts: true\n'
            '  gather_subset: [min, hardware, virtual]\n  roles: [%s]\n' % role)
        extra = tmp_path / 'vars.json'
        extra.write_text(json.dumps(variables))
        env = dict(sandbox_env(tmp_path), ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
                   ANSIBLE_PYTHON_INTERPRETER=sys.executable)
        command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,',
                   str(playbook), '-e', '@%s' % extra] + (['--check'] if check else []) + (['--diff'] if diff else [])
        return PlaybookRun(sandboxed(command, env=env, cwd=ROOT))
    return run
