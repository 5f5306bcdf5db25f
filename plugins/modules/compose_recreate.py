#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: compose_recreate
short_description: Recreate only the given compose services, then check their limits with docker inspect
version_added: 1.0.0
description:
  - Recreates the services in O(recreate) of the compose project O(path) with
    C(up --detach --no-deps --force-recreate SERVICE...), through C(docker compose) (v2 plugin) or C(docker-compose) (v1,
    the only one Debian 12 ships). No other service of the project is stopped, started or recreated.
  - Then reads every running container of the services in O(expected) with C(docker inspect) and compares
    C(HostConfig.Memory), C(HostConfig.MemorySwap), C(HostConfig.PidsLimit) and C(HostConfig.OomScoreAdj) with the
    values given (RV(lowmem.vps.compose_limits#module:expected_inspect) of M(lowmem.vps.compose_limits) has that shape).
    Any difference fails the task, except a swap limit the engine dropped because the kernel does not account swap
    (C(docker info) C(SwapLimit) false), which is a warning, or an error with O(require_swap_limit=true).
  - Recreating is needed because C(docker update) cannot change C(oom_score_adj) or log options, and a running container
    keeps the limits it was created with.
  - In check mode nothing is recreated; the services in O(recreate) are reported as changed and only the others are
    checked.
author:
  - lowmem.vps contributors (@lowmem)
options:
  path:
    description:
      - The compose file of the project. Compose runs with it as C(-f), so the project directory and name are the ones
        compose derives from it, as for C(docker compose up) run next to it.
    type: path
    required: true
  recreate:
    description:
      - The services to recreate. An empty list recreates nothing and only checks.
    type: list
    elements: str
    default: []
  expected:
    description:
      - Service name to the C(docker inspect) values its containers must show, a dict with any of the keys
        C(HostConfig.Memory), C(HostConfig.MemorySwap) (bytes, -1 unlimited), C(HostConfig.PidsLimit) (null for no limit)
        and C(HostConfig.OomScoreAdj).
      - A service with no running container is not checked; the task warns.
    type: dict
    default: {}
  require_swap_limit:
    description:
      - Fail, instead of warning, when the host cannot enforce a swap limit the compose file sets.
    type: bool
    default: false
extends_documentation_fragment:
  - lowmem.vps.attributes
attributes:
  check_mode:
    support: partial
    details:
      - Nothing is recreated; the services in O(recreate) are reported as changed and only the other services of
        O(expected) are checked with C(docker inspect) (a recreated container's limits cannot be known before it runs).
  diff_mode:
    support: partial
    details:
      - The diff lists the container IDs of each service in O(recreate) before, and after only that it is recreated,
        not the new IDs.
  idempotent:
    support: none
    details:
      - Every run recreates the services in O(recreate) and reports changed; pass an empty list (nothing changed) to
        only check.
notes:
  - The docker CLI must reach the engine as the user the task runs as (the default socket, or C(DOCKER_HOST) through the
    task's C(environment)).
seealso:
  - module: lowmem.vps.compose_limits
  - name: docker compose up
    description: C(--force-recreate) and C(--no-deps).
    link: https://docs.docker.com/reference/cli/docker/compose/up/
'''

EXAMPLES = r'''
- name: Set the limits in the compose file
  lowmem.vps.compose_limits:
    path: /opt/proxy/compose.yml
    services:
      hysteria: {mem_limit: 96m, memswap_limit: 160m, pids_limit: 128, oom_score_adj: 500}
  register: limits

- name: Recreate the services whose limits changed and check every one with docker inspect
  lowmem.vps.compose_recreate:
    path: /opt/proxy/compose.yml
    recreate: "{{ limits.changed_services }}"
    expected: "{{ limits.expected_inspect }}"
'''

RETURN = r'''
recreated:
  description: The services recreated (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [hysteria]
containers:
  description: For each checked service, its running containers as C(docker inspect) shows them after the run.
  returned: always
  type: dict
  sample: {"hysteria": [{"id": "3f2a9c1b7d10", "name": "proxy-hysteria-1", "memory": 100663296,
           "memory_swap": 167772160, "pids_limit": 128, "oom_score_adj": 500}]}
not_running:
  description: Services in O(expected) without a running container, so not checked.
  returned: always
  type: list
  elements: str
  sample: []
swap_limit_support:
  description: Whether the engine enforces swap limits (C(docker info) C(SwapLimit)); null when nothing needed it or the
    engine does not say.
  returned: always
  type: bool
  sample: true
compose_command:
  description: V(docker compose) or V(docker-compose), null when there was nothing to do.
  returned: always
  type: str
  sample: docker compose
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.compose_engine import run
from ansible_collections.lowmem.vps.plugins.module_utils.result import report

ARGUMENT_SPEC = dict(
    path=dict(type='path', required=True),
    recreate=dict(type='list', elements='str', default=[]),
    expected=dict(type='dict', default={}),
    require_swap_limit=dict(type='bool', default=False),
)


def main():
    report(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), 'compose_recreate', run,
           nothing='nothing was recreated')


if __name__ == '__main__':
    main()
