#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: fleet_report
short_description: Write the fleet's memory health report (JSON, Markdown, one self-contained HTML page)
version_added: 1.0.0
description:
  - "Runs on the controller (C(delegate_to: localhost), C(run_once: true)) with every host's registered
    M(lowmem.vps.memory_facts) result, and writes C(report.json) for machines, C(report.md) for humans and
    C(report.html), one page with no network fetches (inline CSS and SVG) that shows a table per host, flags coloured
    by severity, a chart of each host's memory composition (RAM and swap) and the kernel log's events with their
    time. The worst host is on top."
  - When O(dest) already holds a C(report.json), each host's change since then is shown, SUnreclaim and unaccounted
    memory growth per hour, flagged as C(sunreclaim_growing) or C(unaccounted_growing) above
    O(growth_threshold_kb_per_hour). A leak of 1 MB a minute shows here long before it hurts.
  - A host whose audit did not run (unreachable) or failed is in the report, flagged critical.
  - Files are written through a temporary file in O(dest) and an atomic rename; check mode writes nothing and
    returns the same diff. Bad input (a result of the wrong shape, an earlier C(report.json) that is not a report)
    fails before any file is written.
  - Everything that comes from a host (host and process names, unit and slab cache names, flag reasons, log text) is
    escaped in the HTML and the Markdown.
author:
  - lowmem.vps contributors (@lowmem)
options:
  hosts:
    description:
      - Host name to its registered memory_facts result (null or an unreachable/failed result for a host where it did
        not run).
    type: dict
    required: true
  dest:
    description:
      - The directory of the report files on the controller. Created when its parent exists.
    type: path
    required: true
  formats:
    description:
      - Which files to write.
    type: list
    elements: str
    choices: [json, markdown, html]
    default: [json, markdown, html]
  previous:
    description:
      - The earlier report to measure growth against. Default C(report.json) in O(dest); an empty string for none.
    type: path
  growth_threshold_kb_per_hour:
    description:
      - SUnreclaim or unaccounted growth per hour, in kB, from which a host is flagged.
    type: float
    default: 4096
extends_documentation_fragment:
  - lowmem.vps.attributes
attributes:
  check_mode:
    support: full
    details:
      - Builds the reports and compares them with the files, but writes nothing.
  diff_mode:
    support: full
    details:
      - The diff is of C(report.json), C(report.md) and C(report.html) as text.
  idempotent:
    support: none
    details:
      - Each report carries the time it was generated (and the growth since the previous one), so every run rewrites
        the files and reports changed.
seealso:
  - module: lowmem.vps.memory_facts
'''

EXAMPLES = r'''
- name: Read every host
  lowmem.vps.memory_facts:
  register: lowmem_memory
  ignore_errors: true
  ignore_unreachable: true

- name: Write the fleet report on the controller
  lowmem.vps.fleet_report:
    hosts: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'lowmem_memory'))) }}"
    dest: "{{ 'lowmem-audit' | ansible.builtin.realpath }}"
  delegate_to: localhost
  run_once: true
'''

RETURN = r'''
paths:
  description: The files written (or that would be, in check mode).
  returned: always
  type: list
  elements: str
summary:
  description: Hosts in all and per worst severity (critical, warning, ok), and how many hosts have each flag.
  returned: always
  type: dict
hosts:
  description: Per host, worst first, its name, worst severity and flag names.
  returned: always
  type: list
  elements: dict
previous_generated_at:
  description: When the report growth was measured against was made; null without one.
  returned: always
  type: str
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.files import apply_file
from ansible_collections.lowmem.vps.plugins.module_utils.report import build_report
from ansible_collections.lowmem.vps.plugins.module_utils.report_files import FORMATS, host_entries, plan_reports, read_previous
from ansible_collections.lowmem.vps.plugins.module_utils.result import report


def write(context):
    params = context.params
    entries = host_entries(params['hosts'])
    previous_path = params['previous']
    if previous_path is None:
        previous_path = os.path.join(params['dest'], FORMATS['json'])
    previous = read_previous(previous_path) if previous_path else None
    built = build_report(entries, previous=previous, growth_threshold_kb_per_hour=params['growth_threshold_kb_per_hour'])
    plans = plan_reports(params['dest'], built, params['formats'])
    for plan in plans:
        apply_file(context, plan)
    return dict(changed=any(plan.changed for plan in plans), paths=[plan.path for plan in plans],
                diff=[plan.diff() for plan in plans if plan.changed],
                summary=built['summary'], previous_generated_at=built.get('previous_generated_at'),
                hosts=[dict(host=entry['host'], worst=entry['worst'], flags=[flag['name'] for flag in entry['flags']])
                       for entry in built['hosts']])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            hosts=dict(type='dict', required=True),
            dest=dict(type='path', required=True),
            formats=dict(type='list', elements='str', choices=['json', 'markdown', 'html'],
                         default=['json', 'markdown', 'html']),
            previous=dict(type='path'),
            growth_threshold_kb_per_hour=dict(type='float', default=4096),
        ),
        supports_check_mode=True,
    )
    report(module, 'fleet_report', write)


if __name__ == '__main__':
    main()
