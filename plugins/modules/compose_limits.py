#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: compose_limits
short_description: Set per-service memory, swap, pids and OOM limits in a Docker Compose file, keeping comments
version_added: 1.0.0
description:
  - Sets C(mem_limit), C(memswap_limit), C(pids_limit) and C(oom_score_adj) of the services in O(services) in the compose
    file O(path), keeping comments, key order, quoting and every other key. The file is edited line by line, never
    re-dumped. An existing limit's value is replaced in place with the comment after it kept, a missing one is added
    after the last limit key of the service, or at the end of the service's mapping, with the service's indentation.
  - A limit the file already has with the same value (V(128M) and V(128m) are the same) is left as written, so a second
    run changes nothing. RV(changed_services) lists only the services whose limits changed, the ones to recreate.
  - Every option and the file are checked before anything is written; any problem fails the task with one message
    listing all, and the file stays byte for byte as it was. Refused rather than guessed is a service written in flow
    style, carrying an anchor, or taking a limit to change from a merge key (C(<<:)), and a limit given as an anchor,
    an alias or on continuation lines. Anchors and aliases elsewhere in the file are fine.
  - With O(validate=true) the new text is written to a temporary file in the same directory (so C(.env) and relative
    paths resolve) and checked with C(docker compose -f TMP config --quiet), or C(docker-compose) when the compose v2
    plugin is missing; the task warns and goes on when neither is installed. This also runs in check mode.
author:
  - lowmem.vps contributors (@lowmem)
options:
  path:
    description:
      - The compose file.
    type: path
    required: true
  services:
    description:
      - Service name to limits, a dict with any of the keys below. The services must exist in the file.
      - C(mem_limit) is a size as docker reads it, bytes or a number with a unit b, k, m or g (V(96m), V(1g), V(512k)),
        at least V(6m). It is written as given with a lower-case unit.
      - C(memswap_limit) is memory plus swap, so it cannot be below C(mem_limit). Equal to C(mem_limit) means no swap,
        V(-1) unlimited swap; left unset docker allows as much swap as memory (a total of twice C(mem_limit)).
      - C(pids_limit) is a number of processes of at least 1, or V(-1) for no limit.
      - C(oom_score_adj) is -1000 (never killed) to 1000 (killed first).
    type: dict
    required: true
  validate:
    description:
      - Check the new file with C(docker compose config --quiet) before it replaces the old one.
    type: bool
    default: true
  backup:
    description:
      - Keep a timestamped copy of the old file next to it when it changes.
    type: bool
    default: false
extends_documentation_fragment:
  - lowmem.vps.attributes
  - lowmem.vps.attributes.planned_writes
notes:
  - A running container keeps its limits until it is recreated (C(docker compose up -d SERVICE)); recreate the services
    in RV(changed_services).
  - When a service also sets C(deploy.resources.limits.memory) or C(pids), docker compose applies those; the task warns
    that both exist.
  - On a kernel without swap accounting docker drops the swap limit with a warning, and C(docker inspect) shows
    C(MemorySwap) -1; compare RV(expected_inspect) with C(docker inspect) after recreating.
seealso:
  - name: Compose file reference, services
    description: mem_limit, memswap_limit, pids_limit, oom_score_adj.
    link: https://docs.docker.com/reference/compose-file/services/
'''

EXAMPLES = r'''
- name: Cap the proxies on a 512 MB VPS
  lowmem.vps.compose_limits:
    path: /opt/proxy/compose.yml
    services:
      hysteria: {mem_limit: 96m, memswap_limit: 160m, pids_limit: 128, oom_score_adj: 500}
      tuic-server: {mem_limit: 64m, memswap_limit: 128m}
  register: limits

- name: Recreate only the services whose limits changed
  ansible.builtin.command:
    cmd: docker compose -f /opt/proxy/compose.yml up -d --no-deps {{ limits.changed_services | join(' ') }}
  when: limits.changed_services | length > 0
  changed_when: true
'''

RETURN = r'''
changed_services:
  description: The services whose limits were (in check mode, would be) changed in the file.
  returned: always
  type: list
  elements: str
  sample: [hysteria]
services:
  description: The limits each service in O(services) has in the file afterwards (sizes as written, ints as ints).
  returned: always
  type: dict
  sample: {"hysteria": {"mem_limit": "96m", "memswap_limit": "160m", "pids_limit": 128, "oom_score_adj": 500}}
expected_inspect:
  description:
    - What C(docker inspect) should show for each service once recreated, in bytes. C(HostConfig.MemorySwap) is
      twice C(HostConfig.Memory) when C(memswap_limit) is unset; C(HostConfig.PidsLimit) null means no limit.
  returned: always
  type: dict
  sample: {"hysteria": {"HostConfig.Memory": 100663296, "HostConfig.MemorySwap": 167772160, "HostConfig.PidsLimit": 128,
           "HostConfig.OomScoreAdj": 500}}
validated_with:
  description: V(docker compose) or V(docker-compose) when the new file was checked, else null.
  returned: always
  type: str
  sample: docker compose
backup_file:
  description: The copy of the old file.
  returned: when O(backup=true) and the file changed
  type: str
  sample: /opt/proxy/compose.yml.12345.2025-01-01@10:00:00~
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.compose import run
from ansible_collections.lowmem.vps.plugins.module_utils.result import report

ARGUMENT_SPEC = dict(
    path=dict(type='path', required=True),
    services=dict(type='dict', required=True),
    validate=dict(type='bool', default=True),
    backup=dict(type='bool', default=False),
)


def main():
    report(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), 'compose_limits', run)


if __name__ == '__main__':
    main()
