#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: oom_protect
short_description: Protect entry services from the OOM killer with a systemd drop-in, applied live without a restart
version_added: 1.0.0
description:
  - Decides who dies first when memory runs out. For each unit in O(units) writes the drop-in
    C(<systemd_dir>/<unit>.d/<dropin_name>) holding C(OOMScoreAdjust=) (the whole file, with a header, atomically, with
    C(--diff) support), then runs C(systemctl daemon-reload) once when a drop-in changed.
  - Units are looked up with one C(systemctl show) call. The directory is named after the unit's real name, so an alias
    (V(sshd) on Debian) gets its drop-in under C(ssh.service.d). A unit systemd does not know is skipped with a warning;
    two names of the same unit asking for the same values count once.
  - The drop-in only applies at the unit's next start, and restarting an entry service cuts people off (nginx carries
    SSH sessions through its stream listener). So with O(live=true) the value is also written to
    C(/proc/PID/oom_score_adj) of the running processes, and only where that lowers it; a process that set itself lower
    (OpenSSH's listener sets itself to -1000) keeps its own value. Nothing is restarted.
  - Where the kernel refuses the write (no C(CAP_SYS_RESOURCE), for example in a container) the task warns and reports
    RV(units[].live_applied=false); the drop-in applies at the unit's next start.
  - Afterwards every process of each unit is read back (RV(audit), RV(audit_lines)) with its oom_score, oom_score_adj and command line.
  - Every option is checked before anything is written; any problem fails the task with one message listing all.
author:
  - lowmem.vps contributors (@lowmem)
options:
  units:
    description:
      - The units to protect, as names (V(ssh), V(nginx), V(supervisor.service)) or dicts with the keys C(name) (required),
        C(score) (default O(score)) and C(live_scope).
      - C(.service) is added to a name without a unit type; only services are accepted.
      - C(live_scope=main) lowers only the main process live, C(live_scope=all) every process of the unit's cgroup.
        The default is C(main) for ssh/sshd (sessions keep the value the listener gives them) and C(all) otherwise
        (nginx workers, supervisord's programs).
    type: list
    elements: raw
    required: true
  score:
    description:
      - C(OOMScoreAdjust=) for units without their own C(score), -1000 (never killed) to 1000 (killed first).
    type: int
    default: -700
  allow_unkillable_sessions:
    description:
      - Accept score V(-1000) for ssh/sshd. OpenSSH's listener already sets itself to -1000, and the unit's value is what
        every session (and so every shell) gets back, so -1000 there makes every login shell, and whatever it starts,
        unkillable. Refused unless this is V(true).
    type: bool
    default: false
  dropin_name:
    description:
      - The drop-in's file name in each C(<unit>.d) directory. Drop-ins apply in name order, a later one wins.
    type: str
    default: 50-lowmem-oom-protect.conf
  header:
    description:
      - Text put at the top of each drop-in, each line as a C(#) comment (lines already starting with C(#) are kept).
    type: str
    default: 'Ansible managed: lowmem.vps.oom_protect'
  live:
    description:
      - Lower C(oom_score_adj) of the running processes now (see O(units) C(live_scope)), without restarting anything.
    type: bool
    default: true
  daemon_reload:
    description:
      - Run C(systemctl daemon-reload) once when a drop-in changed (never in check mode).
    type: bool
    default: true
  systemd_dir:
    description:
      - Where the C(<unit>.d) drop-in directories go. It must exist.
    type: path
    default: /etc/systemd/system
extends_documentation_fragment:
  - lowmem.vps.attributes
  - lowmem.vps.attributes.planned_writes
notes:
  - A unit's processes are read from C(cgroup.procs) under C(/sys/fs/cgroup/unified/) (hybrid), C(/sys/fs/cgroup/) (cgroup v2)
    or C(/sys/fs/cgroup/systemd/) (cgroup v1), the first that exists.
  - Children inherit the value at the unit's next start, so a unit that starts workloads (supervisord's programs) protects
    them too; give such programs their own value (for example with C(choom -n 500 -- PROGRAM) in their command), or leave that unit out.
  - OpenSSH's listener remembers the value it started with and hands it to every new session, so new SSH sessions get
    the ssh unit's value only after ssh's next start; sessions already open keep theirs.
  - The task warns when systemd has another C(OOMScoreAdjust=) loaded for an unchanged drop-in (a drop-in sorting later
    overrides it, or a daemon-reload is pending).
seealso:
  - name: systemd.exec OOMScoreAdjust=
    description: The setting written to the drop-ins.
    link: https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html#OOMScoreAdjust=
'''

EXAMPLES = r'''
- name: Keep the entry services alive on a 512 MB VPS
  lowmem.vps.oom_protect:
    units: [ssh, nginx, supervisor]

- name: Per-unit values, nginx workers lowered live, ssh listener only
  lowmem.vps.oom_protect:
    score: -700
    units:
      - name: ssh
      - name: nginx
        score: -800
        live_scope: all

- name: In a container, write the drop-ins only
  lowmem.vps.oom_protect:
    units: [ssh, nginx]
    live: false
'''

RETURN = r'''
units:
  description: The units protected.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The unit as asked for, with C(.service) added.
      type: str
      sample: sshd.service
    id:
      description: The unit's real name from systemd (its drop-in directory).
      type: str
      sample: ssh.service
    score:
      description: The value written.
      type: int
      sample: -700
    live_scope:
      description: V(main) or V(all).
      type: str
    dropin:
      description: The drop-in file.
      type: str
      sample: /etc/systemd/system/ssh.service.d/50-lowmem-oom-protect.conf
    dropin_changed:
      description: Whether the drop-in was (or in check mode would be) written.
      type: bool
    live:
      description: The running processes looked at; C(written) where the value was (or in check mode would be) lowered.
      type: list
      elements: dict
      sample: [{"pid": 701, "before": 0, "after": -700, "written": true}]
    live_applied:
      description: False when O(live=false) or the kernel refused a write (the value applies at the unit's next start).
      type: bool
skipped:
  description: Units left out, with the reason (not installed, or another name of a unit already listed).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "supervisor.service", "reason": "not installed (LoadState=not-found)"}]
daemon_reloaded:
  description: Whether C(systemctl daemon-reload) ran (in check mode, whether it would).
  returned: always
  type: bool
audit:
  description: After the task, every process of each protected unit (its cgroup, or its main process).
  returned: always
  type: list
  elements: dict
  sample: [{"unit": "ssh.service", "pid": 612, "comm": "sshd", "oom_score": 0, "oom_score_adj": -1000,
            "cmdline": "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"}]
audit_lines:
  description: RV(audit) as printable lines.
  returned: always
  type: list
  elements: str
  sample: ["ssh.service pid=612 oom_score=0 oom_score_adj=-1000 cmdline=sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.oom import (
    DEFAULT_DROPIN, DEFAULT_HEADER, DEFAULT_SCORE, SYSTEMD_DIR, run,
)
from ansible_collections.lowmem.vps.plugins.module_utils.result import report

ARGUMENT_SPEC = dict(
    units=dict(type='list', elements='raw', required=True),
    score=dict(type='int', default=DEFAULT_SCORE),
    allow_unkillable_sessions=dict(type='bool', default=False),
    dropin_name=dict(type='str', default=DEFAULT_DROPIN),
    header=dict(type='str', default=DEFAULT_HEADER),
    live=dict(type='bool', default=True),
    daemon_reload=dict(type='bool', default=True),
    systemd_dir=dict(type='path', default=SYSTEMD_DIR),
)


def main():
    report(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), 'oom_protect', run)


if __name__ == '__main__':
    main()
