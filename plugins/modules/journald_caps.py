#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: journald_caps
short_description: Cap journald with a journald.conf.d drop-in, then restart, rotate and vacuum to the cap in one task
version_added: 1.1.0
description:
  - Writes the O(settings) as the C([Journal]) section of one C(journald.conf.d) drop-in (atomically; a missing
    C(journald.conf.d) is created when its parent exists).
  - When the drop-in's text changed and O(apply=true), reads the journal's footprint with C(journalctl --disk-usage)
    (journald still runs with the old caps, so this is RV(usage_before)), restarts C(systemd-journald) (its sockets keep
    the log stream, no service is interrupted), runs C(journalctl --rotate --vacuum-size=SIZE) (journald only shrinks
    an existing footprint when it rotates and vacuums) and reads the footprint again (RV(usage_after)).
  - A rerun with the drop-in in place runs no command at all. Settings are checked before anything is written or run.
  - Replaces seven tasks of the log_caps role (each costs 7-35 s on a 512 MB VM) with one.
author:
  - lowmem.vps contributors (@lowmem)
options:
  settings:
    description:
      - C(journald.conf) keys (letters only) and their values, written as C(KEY=VALUE) lines in the given order.
      - Values may not contain whitespace or C(=). Booleans are written as V(yes) or V(no), numbers as they are.
    type: dict
    required: true
  path:
    description: The drop-in file.
    type: path
    default: /etc/systemd/journald.conf.d/50-lowmem-log-caps.conf
  header:
    description:
      - Text put at the top of the drop-in, each line as a C(#) comment (lines already starting with C(#) are kept as
        they are).
    type: str
    default: 'Ansible managed: lowmem.vps.journald_caps'
  vacuum_size:
    description:
      - The size C(journalctl --vacuum-size) shrinks the archived journal files to after the restart, such as V(128M).
      - Defaults to the C(SystemMaxUse) of O(settings), else V(128M).
    type: str
  apply:
    description:
      - When the drop-in changed, restart journald, rotate and vacuum, reading the footprint before and after.
      - With V(false) only the file is written and no command runs.
    type: bool
    default: true
extends_documentation_fragment:
  - lowmem.vps.attributes
  - lowmem.vps.attributes.planned_writes
notes:
  - In check mode nothing is written and only the read-only C(journalctl --disk-usage) runs (for RV(usage_before)).
  - A failing restart or C(journalctl) after the drop-in was written fails the task with C(changed=true), the diff and
    RV(actions).
seealso:
  - name: journald.conf
    description: The keys of the C([Journal]) section.
    link: https://www.freedesktop.org/software/systemd/man/latest/journald.conf.html
'''

EXAMPLES = r'''
- name: Cap journald (the log_caps role's defaults)
  lowmem.vps.journald_caps:
    settings:
      Storage: persistent
      SystemMaxUse: 128M
      SystemKeepFree: 512M
      RuntimeMaxUse: 16M
      MaxRetentionSec: 7day
      RateLimitIntervalSec: 30s
      RateLimitBurst: 1000
  register: journald

- name: Say how much the journal took before and after
  ansible.builtin.debug:
    msg: "journal: {{ journald.usage_before }} before, {{ journald.usage_after }} now"
  when: journald is changed

- name: Write the drop-in only; journald picks it up at its next start
  lowmem.vps.journald_caps:
    settings:
      Compress: true
      SystemMaxUse: 64M
    apply: false
'''

RETURN = r'''
path:
  description: The drop-in file.
  returned: always
  type: str
  sample: /etc/systemd/journald.conf.d/50-lowmem-log-caps.conf
vacuum_size:
  description: The size the journal is (or would be) vacuumed to.
  returned: always
  type: str
  sample: 128M
usage_before:
  description:
    - The journal's footprint from C(journalctl --disk-usage) before the restart (also in check mode); null when it
      was not read (the drop-in unchanged, or O(apply=false)).
  returned: always
  type: str
  sample: 24.0M
usage_after:
  description: The journal's footprint after the restart, rotation and vacuum; null when they did not run.
  returned: always
  type: str
  sample: 8.0M
actions:
  description:
    - The changes made to the host in this run, in the order they were made, one text each (V(write PATH),
      V(systemctl restart systemd-journald), V(journalctl --rotate --vacuum-size=128M)); empty in check mode and when
      nothing changed.
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.journald_caps import DEFAULT_HEADER, DEFAULT_PATH, run
from ansible_collections.lowmem.vps.plugins.module_utils.result import report

ARGUMENT_SPEC = dict(
    settings=dict(type='dict', required=True),
    path=dict(type='path', default=DEFAULT_PATH),
    header=dict(type='str', default=DEFAULT_HEADER),
    vacuum_size=dict(type='str'),
    apply=dict(type='bool', default=True),
)


def main():
    report(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), 'journald_caps', run)


if __name__ == '__main__':
    main()
