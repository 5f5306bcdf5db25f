# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report's files on the controller: which results belong to which host, the previous report, the plan.

The audit playbook hands every host's registered memory_facts result to the fleet_report module; a host whose
task never ran (unreachable) or failed is reported as such, so a dead host is never missing from the report but on
top of it. The previous ``report.json`` in the same directory is what growth per hour is measured against.
"""

from __future__ import annotations

import json
import os

from ansible_collections.lowmem.vps.plugins.module_utils.files import plan_file
from ansible_collections.lowmem.vps.plugins.module_utils.report import ReportError, render_html, render_markdown

FORMATS = dict(json='report.json', markdown='report.md', html='report.html')


def host_entries(results):
    """{host: memory_facts result | {'unreachable': True, 'msg'} | {'failed': True, 'msg'}} from registered results
    (None or {} where the task never ran on a host)."""
    if not isinstance(results, dict):
        raise ReportError('hosts must be a mapping of host name to its registered memory_facts result, got %s (nothing '
                          'was written)' % type(results).__name__)
    entries = {}
    for host, result in results.items():
        if not isinstance(result, dict) or not result or result.get('unreachable'):
            entries[host] = dict(unreachable=True, msg=(result or {}).get('msg') if isinstance(result, dict) else None)
        elif result.get('failed') or result.get('skipped') or 'memory' not in result:
            entries[host] = dict(failed=True, msg=result.get('msg') or 'memory_facts returned no memory figures')
        else:
            # Ansible's own keys of a registered result (invocation, changed...) are not facts.
            entries[host] = dict((key, value) for key, value in result.items()
                                 if key not in ('invocation', 'changed', 'failed', 'diff') and not key.startswith('_ansible'))
    return entries


def read_previous(path):
    """The previous report (a dict) or None when there is none; a file that is not a report is an error."""
    try:
        with open(path, 'r', encoding='utf-8') as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ReportError('cannot read the previous report %s: %s (nothing was written)' % (path, exc))
    try:
        previous = json.loads(text)
    except ValueError as exc:
        raise ReportError('the previous report %s is not JSON (%s): move it away or pass previous: none (nothing was '
                          'written)' % (path, exc))
    if not isinstance(previous, dict) or previous.get('format') != 1:
        raise ReportError('%s is not a lowmem.vps fleet report of format 1 (nothing was written)' % path)
    return previous


def render_json(report):
    return json.dumps(report, indent=1, sort_keys=True) + '\n'


def plan_reports(dest, report, formats):
    """[FilePlan] for each asked format of ``report`` under ``dest``."""
    renderers = dict(json=render_json, markdown=render_markdown, html=render_html)
    return [plan_file(os.path.join(dest, FORMATS[name]), renderers[name](report), 0o644) for name in formats]
