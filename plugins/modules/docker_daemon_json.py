#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: docker_daemon_json
short_description: Merge settings into Docker's daemon.json without touching other keys, restart dockerd only when safe
version_added: 1.0.0
description:
  - Merges O(settings) into O(path) (C(/etc/docker/daemon.json)). Keys not in O(settings) stay as they are; existing
    keys keep their place and new keys are appended. A dict value (C(log-opts)) merges key by key into the existing
    dict; any other value replaces the old one.
  - The file is written as JSON with an indent of 2 and a trailing newline, atomically, with C(--diff) support, and
    only when its content changes (a file that already holds the settings keeps its own formatting). A missing file is
    created (mode 0644), with C(/etc/docker) (mode 0755) when C(/etc) exists.
  - The existing file must hold a JSON object (an empty file counts as C({})). Otherwise the task fails and the file is
    left exactly as it is.
  - C(log-opts) values must be strings for dockerd, which refuses to start otherwise. Numbers and booleans in
    O(settings) (C(max-file) V(2)) are written as strings (C("2")); non-string values already in the file and not
    replaced by O(settings) are reported with a warning. C(max-size) must be a size (V(5m), V(10M)) and C(max-file)
    a whole number of at least 1.
  - With O(validate=true), the merged file is checked with C(dockerd --validate) before it is written, where dockerd
    has that option (Docker 23 and later). Debian 12's docker.io (20.10) lacks it; the check is then skipped with a note.
  - Every option is checked before anything is written; any problem fails the task with one message listing all.
author:
  - lowmem.vps contributors (@lowmem)
options:
  path:
    description:
      - The daemon.json file.
    type: path
    default: /etc/docker/daemon.json
  settings:
    description:
      - 'The daemon.json keys to set, for example C({"log-driver": "json-file", "log-opts": {"max-size": "5m", "max-file": "2"}}).'
      - Keys are never removed; a V(null) value is refused.
    type: dict
    required: true
  restart:
    description:
      - When to run C(systemctl restart docker) after the file changed (never in check mode, never when it did not change).
      - V(if_live_restore) restarts only when C(live-restore) is V(true) both in the file before and in the merged
        settings, so running containers survive; otherwise RV(restart_needed=true) and a note explain why not.
        A dockerd started without live-restore stops every container when it stops, even if the new file enables it.
      - V(always) restarts anyway (every container stops without live-restore). V(never) never restarts.
    type: str
    choices: [never, if_live_restore, always]
    default: if_live_restore
  validate:
    description:
      - Check the merged file with C(dockerd --validate --config-file TEMP) before writing it, when dockerd is installed
        and has C(--validate). A file dockerd refuses fails the task and nothing is written.
    type: bool
    default: true
extends_documentation_fragment:
  - lowmem.vps.attributes
  - lowmem.vps.attributes.planned_writes
notes:
  - Log options (C(log-driver), C(log-opts)) apply only to containers created afterwards; running containers keep
    theirs until they are recreated (RV(recreate_needed)). A restart of dockerd does not change them.
  - C(live-restore) is reloadable (C(systemctl reload docker)); enabling it and restarting in the same run would still
    stop every container, so V(if_live_restore) does not restart then.
seealso:
  - name: dockerd daemon configuration file
    description: The keys of daemon.json.
    link: https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file
  - name: Live restore
    description: Keep containers running while dockerd restarts.
    link: https://docs.docker.com/engine/daemon/live-restore/
'''

EXAMPLES = r'''
- name: Cap container logs on a small disk
  lowmem.vps.docker_daemon_json:
    settings:
      log-driver: json-file
      log-opts:
        max-size: 5m
        max-file: 2

- name: Enable live-restore, never restart here
  lowmem.vps.docker_daemon_json:
    settings:
      live-restore: true
    restart: never
'''

RETURN = r'''
path:
  description: The daemon.json file.
  returned: always
  type: str
  sample: /etc/docker/daemon.json
settings:
  description: The whole merged daemon.json object (what the file holds after the task).
  returned: always
  type: dict
  sample: {"live-restore": true, "log-driver": "json-file", "log-opts": {"max-size": "5m", "max-file": "2"}}
restarted:
  description: Whether C(systemctl restart docker) ran (in check mode, whether it would).
  returned: always
  type: bool
restart_needed:
  description: The file changed and dockerd was not restarted; the settings apply at its next start.
  returned: always
  type: bool
recreate_needed:
  description: C(log-driver) or C(log-opts) changed; they apply only to containers created afterwards.
  returned: always
  type: bool
live_restore:
  description: Whether C(live-restore) is V(true) in the merged settings.
  returned: always
  type: bool
validated:
  description: Whether C(dockerd --validate) accepted the merged file (false when it did not run).
  returned: always
  type: bool
notes:
  description: Why dockerd was not restarted or the file not validated, and that containers need recreating.
  returned: always
  type: list
  elements: str
  sample: ["log-driver/log-opts apply only to containers created afterwards: recreate running containers
            (docker compose up -d --force-recreate) for them to take effect"]
diff:
  description: The file before and after.
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.daemon_json import (
    DAEMON_JSON, RESTART_POLICIES, run,
)
from ansible_collections.lowmem.vps.plugins.module_utils.result import report

ARGUMENT_SPEC = dict(
    path=dict(type='path', default=DAEMON_JSON),
    settings=dict(type='dict', required=True),
    restart=dict(type='str', choices=list(RESTART_POLICIES), default='if_live_restore'),
    validate=dict(type='bool', default=True),
)


def main():
    report(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), 'docker_daemon_json', run)


if __name__ == '__main__':
    main()
