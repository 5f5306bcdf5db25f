# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet audit (playbooks/audit.yml) that side_effect.yml ran from the controller against both containers: read-only
on the hosts (their recap says changed=0), a report on the controller listing both."""
from __future__ import annotations

import json
import os
import re

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('all')

AUDIT = os.path.join(os.environ['MOLECULE_EPHEMERAL_DIRECTORY'], 'audit')


def playbook_log():
    with open(os.path.join(AUDIT, 'playbook.log'), encoding='utf-8') as handle:
        return handle.read()


def recap(text):
    return dict((name, dict((key, int(value)) for key, value in re.findall(r'(\w+)=(\d+)', counts)))
                for name, counts in re.findall(r'^(\S+)\s+:\s+(ok=.*)$', text, re.M))


def test_the_audit_changed_nothing_on_the_host(host):
    name = host.backend.get_hostname()
    text = playbook_log()
    counts = recap(text)[name]
    assert counts['failed'] == 0 and counts['unreachable'] == 0, counts
    # The one change is the report, written on the controller (run_once, delegated to localhost: the default callback
    # prints it as "changed: [first-host -> localhost]" and the recap counts it for that host). Nothing else changed.
    changed = re.findall(r'^changed: \[([^\]]+)\]', text, re.M)
    assert changed and all(entry.endswith(' -> localhost') for entry in changed), changed
    assert counts['changed'] == sum(1 for entry in changed if entry.split(' ')[0] == name), (counts, changed)
    assert re.search(r'^ok: \[%s\]$' % re.escape(name), text, re.M), text


def test_the_report_lists_the_host_with_its_facts(host):
    with open(os.path.join(AUDIT, 'report.json'), encoding='utf-8') as handle:
        report = json.load(handle)
    entry = [item for item in report['hosts'] if item['host'] == host.backend.get_hostname()]
    assert len(entry) == 1 and entry[0]['facts']['memory']['mem_total_kb'] > 0, entry
    for name in ('report.md', 'report.html'):
        with open(os.path.join(AUDIT, name), encoding='utf-8') as handle:
            assert host.backend.get_hostname() in handle.read()
