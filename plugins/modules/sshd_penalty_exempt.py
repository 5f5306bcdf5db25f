#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: sshd_penalty_exempt
short_description: Spare addresses from sshd's per-source penalties (OpenSSH 9.8+), checked with sshd -t, in one task
version_added: 1.1.0
description:
  - Writes C(PerSourcePenaltyExemptList) to an C(sshd_config.d) drop-in and reloads ssh, so that sshd's per-source
    penalties never refuse the listed addresses. Behind a local proxy (an nginx C(stream) listener) every SSH client
    comes from the proxy's address, and a few clients that gave up during a memory storm would get it refused for
    everyone for minutes.
  - Reads OpenSSH's version with C(sshd -V) (whatever its exit code). Before OpenSSH 9.8 (Debian 12 has 9.2) sshd has
    no penalties; nothing is written, RV(supported) is false and RV(msg) says why. Without sshd nothing is written
    either.
  - A new drop-in is written to a temporary file in the same directory, checked with C(sshd -t -f) on it, and only then
    moved into place; when sshd refuses it the task fails and nothing is changed.
  - Applied with C(systemctl reload ssh), which keeps every session and the listener (never a restart), only when the
    file was written or removed.
  - An empty O(exempt) removes the drop-in (and reloads ssh when it existed); when there is none no command runs.
author:
  - lowmem.vps contributors (@lowmem)
options:
  exempt:
    description:
      - IPv4/IPv6 addresses or CIDR ranges that the penalties spare, for example V(127.0.0.1) and V(::1). Each is checked
        with Python's C(ipaddress) before anything runs; anything else fails the task.
      - An empty list removes the drop-in.
    type: list
    elements: str
    required: true
  path:
    description: The drop-in.
    type: path
    default: /etc/ssh/sshd_config.d/50-lowmem-penalty-exempt.conf
  header:
    description:
      - Text put at the top of the drop-in, each line as a C(#) comment (lines already starting with C(#) are kept).
    type: str
    default: 'Ansible managed: lowmem.vps.sshd_penalty_exempt'
  reload:
    description: Run C(systemctl reload ssh) when the drop-in was written or removed.
    type: bool
    default: true
  sshd:
    description: Path of sshd, run with C(-V) for the version and with C(-t -f) to check a new drop-in.
    type: path
    default: /usr/sbin/sshd
extends_documentation_fragment:
  - lowmem.vps.attributes
  - lowmem.vps.attributes.planned_writes
notes:
  - In check mode C(sshd -V) still runs (it only reads); nothing is written, checked with C(sshd -t) or reloaded.
seealso:
  - name: PerSourcePenaltyExemptList in sshd_config(5)
    description: The penalties and the exemption list.
    link: https://man.openbsd.org/sshd_config#PerSourcePenaltyExemptList
'''

EXAMPLES = r'''
- name: SSH also comes through nginx's stream listener on 127.0.0.1
  lowmem.vps.sshd_penalty_exempt:
    exempt: [127.0.0.1, "::1"]
  register: penalty

- name: Say why nothing was written
  ansible.builtin.debug:
    msg: "{{ penalty.msg }}"
  when: not penalty.supported

- name: Remove the drop-in
  lowmem.vps.sshd_penalty_exempt:
    exempt: []
'''

RETURN = r'''
path:
  description: The drop-in.
  returned: always
  type: str
  sample: /etc/ssh/sshd_config.d/50-lowmem-penalty-exempt.conf
version:
  description: OpenSSH's version as C(sshd -V) gave it; null when O(exempt) is empty or sshd is missing.
  returned: always
  type: str
  sample: '10.0'
supported:
  description: Whether sshd has per-source penalties (OpenSSH 9.8 and later); null when O(exempt) is empty.
  returned: always
  type: bool
reloaded:
  description: Whether C(systemctl reload ssh) ran.
  returned: always
  type: bool
msg:
  description: What was done, or why nothing was written.
  returned: always
  type: str
  sample: 'OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL 3.0.19 27 Jan 2026: OpenSSH before 9.8 has no per-source penalties, nothing to exempt'
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.module_utils.sshd_penalty import DEFAULT_PATH, DEFAULT_SSHD, run

ARGUMENT_SPEC = dict(
    exempt=dict(type='list', elements='str', required=True),
    path=dict(type='path', default=DEFAULT_PATH),
    header=dict(type='str', default='Ansible managed: lowmem.vps.sshd_penalty_exempt'),
    sshd=dict(type='path', default=DEFAULT_SSHD),
    reload=dict(type='bool', default=True),
)


def main():
    report(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), 'sshd_penalty_exempt', run)


if __name__ == '__main__':
    main()
