#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: sysctl_dropin
short_description: Own one sysctl.d drop-in, validated and guarded, and apply it live with read-back
version_added: 1.0.0
description:
  - Writes all given kernel parameters into one drop-in file under C(/etc/sysctl.d/) (never C(/etc/sysctl.conf),
    which Debian 13 no longer reads), as a whole file with a header, atomically, with C(--diff) support.
  - Before anything is written, every key must exist under C(/proc/sys) of the running kernel, every value must be an
    integer, and guard rails for small machines hold (C(vm.min_free_kbytes) at most O(min_free_kbytes_max_percent)
    of MemTotal, C(vm.swappiness) in 0..200). Any violation fails with one message listing every problem.
  - With O(apply=true) the values are written to C(/proc/sys) and read back; a value the kernel did not take fails
    the task. In containers C(/proc/sys) is read-only, so roles pass O(apply=false) there and the module only
    reports which running values differ (RV(live_pending)).
  - Warns when a file that systemd-sysctl applies after this one sets one of the same keys (for example Debian 12's
    C(99-sysctl.conf) link to C(/etc/sysctl.conf)), because that value would win at boot.
  - One module call does what M(ansible.posix.sysctl) does in one call per key; on a 512 MB machine every module
    process costs memory and seconds, so the role manages the whole drop-in at once.
author:
  - lowmem.vps contributors (@lowmem)
options:
  path:
    description:
      - The drop-in file. Its name must end in C(.conf) (systemd-sysctl ignores other names).
      - C(/etc/sysctl.conf) is refused.
    type: path
    default: /etc/sysctl.d/99-lowmem-network-tuning.conf
  settings:
    description:
      - Mapping of dotted sysctl keys to integer values (or strings of whitespace-separated integers).
      - Required with O(state=present). The file holds exactly these keys; others in it are removed.
    type: dict
  header:
    description:
      - Comment text put at the top of the file, already commented (for example C(# Ansible managed)).
    type: str
    default: ''
  apply:
    description:
      - Write the values to C(/proc/sys) now and read them back.
      - Set to V(false) where C(/proc/sys) is read-only (containers); the file still applies at the next boot.
    type: bool
    default: true
  hidden_net_keys_ok:
    description:
      - Accept C(net.*) keys that this network namespace does not show (a container hides global keys such as
        C(net.core.netdev_max_backlog)); they are written to the file with a warning and left out of live values.
      - Only for containers. On a host or VM every key must exist.
    type: bool
    default: false
  min_free_kbytes_max_percent:
    description:
      - Highest C(vm.min_free_kbytes) allowed, in percent of MemTotal.
    type: float
    default: 5.0
  lru_gen_min_ttl_ms:
    description:
      - MGLRU's thrashing guard (C(/sys/kernel/mm/lru_gen/min_ttl_ms), kernels with C(CONFIG_LRU_GEN) such as Debian
        13's). The kernel OOM-kills instead of thrashing when the pages used within the last this many ms cannot stay in
        memory. 0..60000; 0 turns the guard off.
      - With O(apply), set live where the file exists (read first, read back after). Written at boot by the O(lru_gen_tmpfiles) rule.
      - Unset (null), the running value is left alone and the O(lru_gen_tmpfiles) rule is removed.
    type: int
  lru_gen_tmpfiles:
    description:
      - The systemd-tmpfiles rule file that sets O(lru_gen_min_ttl_ms) at every boot (for example
        V(/etc/tmpfiles.d/lowmem-lru-gen.conf)); removed when O(lru_gen_min_ttl_ms) is null. Unset, no rule file is
        managed.
    type: path
  state:
    description:
      - V(absent) removes the file. Running values stay as they are until the next boot.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - lowmem.vps.attributes
  - lowmem.vps.attributes.planned_writes
notes:
  - Reads C(/proc/meminfo) for the guard rails and C(/etc/sysctl.d), C(/run/sysctl.d), C(/usr/local/lib/sysctl.d),
    C(/usr/lib/sysctl.d) for overrides.
seealso:
  - module: ansible.posix.sysctl
'''

EXAMPLES = r'''
- name: Network and memory tuning for a 512 MB VPS
  lowmem.vps.sysctl_dropin:
    path: /etc/sysctl.d/99-lowmem-network-tuning.conf
    header: "{{ lookup('ansible.builtin.config', 'DEFAULT_MANAGED_STR') | comment }}"
    settings:
      vm.min_free_kbytes: 16384
      vm.swappiness: 30
      vm.vfs_cache_pressure: 100
      net.core.netdev_max_backlog: 2500

- name: Write the file only (inside a container)
  lowmem.vps.sysctl_dropin:
    settings:
      vm.swappiness: 30
    apply: false

- name: Remove the drop-in
  lowmem.vps.sysctl_dropin:
    path: /etc/sysctl.d/99-lowmem-network-tuning.conf
    state: absent
'''

RETURN = r'''
path:
  description: The drop-in file.
  returned: always
  type: str
  sample: /etc/sysctl.d/99-lowmem-network-tuning.conf
settings:
  description: The validated settings as written, values as the kernel prints them.
  returned: when O(state=present)
  type: dict
  sample: {"vm.swappiness": "30", "vm.min_free_kbytes": "16384"}
file_changed:
  description: Whether the drop-in file was (or in check mode would be) written or removed.
  returned: always
  type: bool
live:
  description: Running values after the task (predicted in check mode; unchanged when O(apply=false)).
  returned: when O(state=present)
  type: dict
  sample: {"vm.swappiness": "30"}
live_changed:
  description: Keys whose running value was (or in check mode would be) changed.
  returned: when O(state=present)
  type: list
  elements: str
hidden:
  description: With O(hidden_net_keys_ok=true), keys written to the file that this network namespace does not show.
  returned: when O(state=present)
  type: list
  elements: str
live_pending:
  description: With O(apply=false), keys whose running value differs from the file (they apply at the next boot).
  returned: when O(state=present)
  type: list
  elements: str
lru_gen_available:
  description: Whether the running kernel has MGLRU's C(min_ttl_ms) (without it the tmpfiles rule does nothing, harmlessly).
  returned: when O(state=present)
  type: bool
lru_gen_live:
  description: The running C(min_ttl_ms) after the task (predicted in check mode), null where the kernel has none.
  returned: when O(state=present)
  type: str
lru_gen_live_changed:
  description: Whether the running C(min_ttl_ms) was (or in check mode would be) changed.
  returned: when O(state=present)
  type: bool
lru_gen_rule_changed:
  description: Whether the O(lru_gen_tmpfiles) rule file was written or removed (or would be, in check mode).
  returned: when O(state=present)
  type: bool
overrides:
  description: Later files that set one of these keys again; their value wins at boot.
  returned: when O(state=present)
  type: list
  elements: dict
  sample: [{"key": "vm.swappiness", "file": "/etc/sysctl.d/99-sysctl.conf", "value": "60"}]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.module_utils.sysctl import run

ARGUMENT_SPEC = dict(
    path=dict(type='path', default='/etc/sysctl.d/99-lowmem-network-tuning.conf'),
    settings=dict(type='dict'),
    header=dict(type='str', default=''),
    apply=dict(type='bool', default=True),
    hidden_net_keys_ok=dict(type='bool', default=False),
    min_free_kbytes_max_percent=dict(type='float', default=5.0),
    lru_gen_min_ttl_ms=dict(type='int'),
    lru_gen_tmpfiles=dict(type='path'),
    state=dict(type='str', default='present', choices=['present', 'absent']),
)
REQUIRED_IF = [('state', 'present', ('settings',))]


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF, supports_check_mode=True)
    report(module, 'sysctl_dropin', run)


if __name__ == '__main__':
    main()
