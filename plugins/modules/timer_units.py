#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: timer_units
short_description: Install or remove a systemd service, its timer and the files it runs, in one task
version_added: 1.1.0
description:
  - Writes C(NAME.service) and C(NAME.timer) under O(unit_dir) and every file of O(files) (a script the service
    runs), each atomically and only when its content or mode differs; runs C(systemctl daemon-reload) when a unit file
    changed; enables the timer when C(systemctl is-enabled) says it is not; restarts the timer when a unit file changed,
    else starts it when C(systemctl is-active) says it is not running.
  - With O(state=absent), runs C(systemctl disable --now NAME.timer) when the timer's unit file exists, removes the unit
    files, the O(files) and the O(remove) paths that exist, and runs C(systemctl daemon-reload) when a unit file went.
  - One task instead of a copy, a template loop and a systemd_service task; each task costs 7-12 s on a 512 MB guest
    emulated without KVM.
  - Every option is checked before anything is written (a bad name, a relative path, a bad mode, missing content).
    When a systemctl step fails after a file was written, the task fails with C(changed=true) and the diff of what was
    written.
author:
  - lowmem.vps contributors (@lowmem)
options:
  name:
    description:
      - The units' base name, without C(.service) or C(.timer); letters, digits and C(:_.@-) only.
    type: str
    required: true
  service:
    description:
      - The content of C(NAME.service). Required with O(state=present).
    type: str
  timer:
    description:
      - The content of C(NAME.timer). Required with O(state=present).
    type: str
  files:
    description:
      - Other files the units need, such as the script the service runs. With O(state=absent) only O(files[].path) is
        used, and the files are removed.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description: The file's content. Required with O(state=present).
        type: str
      mode:
        description:
          - Permission bits as a quoted octal string, for example V('0755'). An unquoted YAML number is refused,
            because C(0644) unquoted arrives as the decimal 420.
        type: raw
        default: '0644'
  state:
    description:
      - Whether the units and files are installed (and the timer enabled and running) or removed.
    type: str
    choices: [present, absent]
    default: present
  unit_dir:
    description:
      - The directory of the unit files.
    type: path
    default: /etc/systemd/system
  remove:
    description:
      - With O(state=absent), more files to remove (for example what the service wrote). Ignored with O(state=present).
    type: list
    elements: path
    default: []
extends_documentation_fragment:
  - lowmem.vps.attributes
  - lowmem.vps.attributes.planned_writes
notes:
  - In check mode C(systemctl is-enabled) and C(systemctl is-active) still run (they only read); RV(actions) lists the
    systemctl steps that would run. Without systemctl, check mode predicts a timer neither enabled nor running.
  - A changed file of O(files) alone does not restart the timer; the service runs it afresh at the next tick.
seealso:
  - module: ansible.builtin.systemd_service
'''

EXAMPLES = r'''
- name: The sampler, its service and its timer
  lowmem.vps.timer_units:
    name: lowmem-memory-history
    service: "{{ lookup('ansible.builtin.template', 'lowmem-memory-history.service.j2') }}"
    timer: "{{ lookup('ansible.builtin.template', 'lowmem-memory-history.timer.j2') }}"
    files:
      - path: /usr/local/sbin/lowmem-memory-history
        content: "{{ lookup('ansible.builtin.file', 'lowmem-memory-history', rstrip=false) }}"
        mode: '0755'

- name: All of it removed, and what the service wrote
  lowmem.vps.timer_units:
    name: lowmem-memory-history
    state: absent
    files:
      - path: /usr/local/sbin/lowmem-memory-history
    remove:
      - /var/lib/prometheus/node-exporter/lowmem_vps.prom
'''

RETURN = r'''
name:
  description: The units' base name.
  returned: always
  type: str
  sample: lowmem-memory-history
state:
  description: The state asked for.
  returned: always
  type: str
  sample: present
actions:
  description:
    - The systemctl steps run (in check mode, those that would run), in order; the timer is the unit of each but
      C(daemon-reload).
  returned: always
  type: list
  elements: str
  sample: [daemon-reload, enable, restart]
files_changed:
  description: The files written or removed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/etc/systemd/system/lowmem-memory-history.timer]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.module_utils.timer_units import run

ARGUMENT_SPEC = dict(
    name=dict(type='str', required=True),
    service=dict(type='str'),
    timer=dict(type='str'),
    files=dict(type='list', elements='dict', default=[], options=dict(
        path=dict(type='path', required=True),
        content=dict(type='str'),
        mode=dict(type='raw', default='0644'),
    )),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    unit_dir=dict(type='path', default='/etc/systemd/system'),
    remove=dict(type='list', elements='path', default=[]),
)


def main():
    report(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), 'timer_units', run)


if __name__ == '__main__':
    main()
