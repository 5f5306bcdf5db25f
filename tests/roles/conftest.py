# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the collection's real roles with ansible-playbook against this machine (connection local).

Only what is safe on any machine runs here: bad input that must fail before writing, and files written
under tmp_path. Everything that touches the system runs in Molecule (containers, the lab VM).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


class PlaybookRun(object):
    def __init__(self, proc):
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        # the output with every run of whitespace made one space: messages folded by the YAML callback match again
        self.flat = ' '.join(self.output.split())


@pytest.fixture
def run_role(tmp_path):
    """run_role(role, vars, check=False) -> PlaybookRun, the role applied to localhost."""
    subprocess.run([os.path.join(ROOT, 'tools', 'dev-link')], check=True)

    def run(role, variables, check=False):
        playbook = tmp_path / 'play.yml'
        playbook.write_text(
            '- hosts: localhost\n  connection: local\n  gather_facts: true\n'
            '  gather_subset: [min, hardware, virtual]\n  roles: [%s]\n' % role)
        extra = tmp_path / 'vars.json'
        extra.write_text(json.dumps(variables))
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
                   ANSIBLE_PYTHON_INTERPRETER=sys.executable)
        command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,',
                   str(playbook), '-e', '@%s' % extra] + (['--check'] if check else [])
        return PlaybookRun(subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False))
    return run
