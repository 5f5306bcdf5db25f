#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: health_check
short_description: The health gate after a run - units, SSH banners, HTTP statuses, no new OOM kill
version_added: 1.0.0
description:
  - Checks, all of them every time, that the host is still what its users reach, and fails naming every check that
    failed (RV(checks) has each one's detail).
  - No failed systemd unit (O(ignore_failed_units) are shell globs left out); each of O(units) active.
  - "Each of O(ssh_ports) answers a TCP connect with an C(SSH-) banner, also through an nginx C(stream) listener
    (the seed's SSH died there with C(kex_exchange_identification: Connection closed by remote host))."
  - Each of O(http) answers with one of its expected statuses (an API's 404 can be the expected answer; redirects
    are not followed).
  - No OOM kill and no page allocation failure in the journal since O(since) (the current boot when not given), read
    with the same kernel-log parser as M(lowmem.vps.memory_facts).
  - "On failure the task fails with one C(msg) naming every failed check, C(health_check: 2 of 6 checks failed:
    unit:nginx.service: nginx.service is inactive (dead); http:http://127.0.0.1:8080/: ... answered 200, expected
    404), and RV(checks) and RV(failed_checks) in the result. Bad options fail before anything is checked."
  - Read-only, standard library only (no apt, no extra package); check mode runs the same checks. The network checks
    run from the host itself, with O(timeout) each.
author:
  - lowmem.vps contributors (@lowmem)
options:
  failed_units:
    description: Check that no systemd unit is in the failed state.
    type: bool
    default: true
  ignore_failed_units:
    description: Shell globs of failed units that do not fail the gate.
    type: list
    elements: str
    default: []
  units:
    description: Units that must be active (C(ssh) means C(ssh.service)).
    type: list
    elements: str
    default: [ssh]
  missing_ok:
    description: Skip a unit of O(units) that is not installed, instead of failing.
    type: bool
    default: true
  ssh_host:
    description: The address O(ssh_ports) are reached on, from the host itself.
    type: str
    default: 127.0.0.1
  ssh_ports:
    description: TCP ports that must answer with an SSH banner.
    type: list
    elements: int
    default: [22]
  http:
    description:
      - Endpoints to fetch from the host itself; each a mapping with C(url), C(status) (an int or a list; default
        200) and optionally C(host_header).
    type: list
    elements: dict
    default: []
  kernel_log:
    description: Check the journal for OOM kills and page allocation failures since O(since).
    type: bool
    default: true
  since:
    description:
      - Where the kernel-log check starts, as journalctl takes it (epoch seconds, C(YYYY-MM-DD HH:MM:SS), C(-1h)).
        The verify role passes the start of the run.
    type: str
  timeout:
    description: Seconds each network check may take (above 0, at most 300).
    type: float
    default: 5
extends_documentation_fragment:
  - lowmem.vps.attributes
  - lowmem.vps.attributes.info_module
seealso:
  - module: lowmem.vps.memory_facts
'''

EXAMPLES = r'''
- name: The seed's box - SSH direct and through the stream listener on 443, the API (404 on / is right)
  lowmem.vps.health_check:
    units: [ssh, nginx, supervisor]
    ssh_ports: [22, 443]
    http:
      - url: http://127.0.0.1:8080/
        status: 404
      - url: http://127.0.0.1/files/
        status: [200, 301]
    since: "{{ ansible_facts.date_time.epoch }}"
'''

RETURN = r'''
checks:
  description:
    - Every check, in order, with C(name) (C(systemd) when systemctl is missing, C(failed_units), C(unit:NAME),
      C(ssh:PORT), C(http:URL), C(kernel_log)), C(ok) and C(detail).
    - Also returned when the gate failed.
  returned: always
  type: list
  elements: dict
  sample: [{name: "ssh:443", ok: true, detail: "SSH-2.0-OpenSSH_10.0p2 Debian-7 in 0.01s"}]
failed_checks:
  description: The names of the checks that failed (empty when the task passed).
  returned: always
  type: list
  elements: str
  sample: ["unit:nginx.service", "http:http://127.0.0.1:8080/"]
events:
  description: The OOM kills and page allocation failures found since O(since), as M(lowmem.vps.memory_facts)
    returns them (C(oom_kills), C(page_alloc_failures)).
  returned: always
  type: dict
msg:
  description: C(all N checks passed), or on failure the failed checks with their details.
  returned: always
  type: str
  sample: all 6 checks passed
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.health_check import gate
from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.module_utils.runner import commands, stream_lines


def body(context):
    runner, which = commands(context)
    return gate(context.params, runner, which, stream_lines)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            failed_units=dict(type='bool', default=True),
            ignore_failed_units=dict(type='list', elements='str', default=[]),
            units=dict(type='list', elements='str', default=['ssh']),
            missing_ok=dict(type='bool', default=True),
            ssh_host=dict(type='str', default='127.0.0.1'),
            ssh_ports=dict(type='list', elements='int', default=[22]),
            http=dict(type='list', elements='dict', default=[]),
            kernel_log=dict(type='bool', default=True),
            since=dict(type='str'),
            timeout=dict(type='float', default=5),
        ),
        supports_check_mode=True,
    )
    report(module, 'health_check', body, nothing=None)


if __name__ == '__main__':
    main()
