#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: zswap
short_description: Configure zswap at runtime and on the GRUB kernel command line, with read-back
version_added: 1.0.0
description:
  - Sets the zswap parameters under C(/sys/module/zswap/parameters) of the running kernel and reads every value back;
    a value the kernel did not keep fails the task.
  - Writes only parameters that exist on the running kernel (they differ between Debian 12's 6.1, which has C(zpool),
    and 6.12+, which has C(shrinker_enabled)); a requested parameter the kernel lacks is reported in
    RV(missing_parameters) with a warning and left out of the runtime writes and of the boot command line.
  - Before anything is written the compressor must be known to the kernel. When C(/proc/crypto) does not list it, the
    module runs C(modprobe) for its crypto module (C(zstd), C(lz4), C(lz4hc), C(lzo), C(lzo-rle), C(842), C(deflate), or
    the kernel's own C(crypto-<name>) alias); when it is still missing the task fails and nothing is changed.
  - With O(persistent=true) the C(zswap.*) tokens are merged into C(GRUB_CMDLINE_LINUX_DEFAULT) in C(/etc/default/grub);
    a token replaces any earlier token with the same key, duplicates are removed, every other token (for example
    C(net.ifnames=0 biosdevname=0 console=ttyS0)) keeps its place, the quoting style is kept and every other line stays byte
    for byte. A rerun after an interrupted run converges on one set of tokens (files are replaced atomically).
  - With O(persistent=true) and O(initramfs=true) the compressor's module is also listed in
    C(/etc/initramfs-tools/modules). This is off by default. Measured in the 512 MB lab VM (Debian 13, 6.12), zswap
    starts before the initramfs loads modules, so the listing did not keep C(zstd) at boot; what does is setting the
    compressor again early in userspace (the zswap role's systemd-tmpfiles rule). C(update-initramfs) also costs
    minutes and a lot of memory on a 512 MB box.
  - Warns when a C(/etc/default/grub.d/*.cfg) file sets C(GRUB_CMDLINE_LINUX_DEFAULT) again, because grub-mkconfig reads
    those files after C(/etc/default/grub) and their value wins.
  - The module does not run C(update-grub) or C(update-initramfs); a role notifies handlers on RV(grub_changed) and
    RV(initramfs_changed), so each runs once.
author:
  - lowmem.vps contributors (@lowmem)
options:
  enabled:
    description:
      - Whether zswap is on. The kernel prints V(Y) or V(N); the boot command line gets C(zswap.enabled=1) or C(=0).
    type: bool
    default: true
  compressor:
    description:
      - The compression algorithm, as C(/proc/crypto) names it (V(zstd), V(lz4), V(lz4hc), V(lzo), V(lzo-rle), V(842),
        V(deflate)). Note that V(lzo) and V(lzo-rle) are different algorithms.
    type: str
    default: zstd
  zpool:
    description:
      - The pool allocator (V(zsmalloc), V(z3fold), V(zbud)). Written only where the running kernel has the parameter
        (6.1 has it, newer kernels with zsmalloc only do not); left as it is when omitted.
    type: str
  max_pool_percent:
    description:
      - Largest share of RAM the compressed pool may use, 1..100. Left as it is when omitted.
    type: int
  accept_threshold_percent:
    description:
      - After the pool was full, zswap accepts pages again only below this share of O(max_pool_percent), 0..100.
        Left as it is when omitted.
    type: int
  persistent:
    description:
      - Merge the C(zswap.*) tokens into C(GRUB_CMDLINE_LINUX_DEFAULT) of C(/etc/default/grub).
      - C(/etc/default/grub) must exist (the machine boots with Debian's GRUB); set V(false) elsewhere.
    type: bool
    default: true
  initramfs:
    description:
      - With O(persistent=true), also list the compressor's module in C(/etc/initramfs-tools/modules).
      - Off by default because it was measured not to keep the compressor at boot (see the description).
    type: bool
    default: false
  tmpfiles:
    description:
      - With O(persistent=true), also write this systemd-tmpfiles rule file (for example
        V(/etc/tmpfiles.d/lowmem-zswap.conf)). It sets the compressor and O(enabled) again early at every boot, because
        zswap starts before any module can load and a modular compressor (zstd on Debian's kernels) given on the
        command line falls back to lzo at boot. Unset, no rule file is written.
    type: path
  header:
    description:
      - Text put at the top of the O(tmpfiles) file, each line as a C(#) comment (lines already starting with C(#)
        are kept as they are).
    type: str
    default: 'Ansible managed: lowmem.vps.zswap'
  runtime:
    description:
      - Write the parameters to the running kernel now and read them back.
      - Set to V(false) where C(/sys) is read-only (containers); the running values are then only reported in
        RV(runtime_pending) and no module is loaded.
    type: bool
    default: true
extends_documentation_fragment:
  - lowmem.vps.attributes
  - lowmem.vps.attributes.planned_writes
notes:
  - Reads C(/sys/module/zswap/parameters), C(/proc/crypto), C(/proc/cmdline), C(/etc/default/grub),
    C(/etc/default/grub.d/*.cfg) and C(/etc/initramfs-tools/modules).
  - In check mode a missing crypto module is looked up with C(modprobe --dry-run) instead of being loaded.
  - RV(reboot_required) compares the wanted tokens with C(/proc/cmdline) of the running kernel; it stays true until the
    machine has booted with them (after C(update-grub)).
seealso:
  - name: zswap in the kernel documentation
    description: The parameters and how the pool behaves.
    link: https://docs.kernel.org/admin-guide/mm/zswap.html
'''

EXAMPLES = r'''
- name: zswap with zstd now and at every boot (the runbook's lzo -> zstd switch)
  lowmem.vps.zswap:
    compressor: zstd
    max_pool_percent: 20
  register: zswap

- name: Regenerate /boot/grub/grub.cfg when the command line changed
  ansible.builtin.command: update-grub
  when: zswap.grub_changed
  changed_when: true

- name: Rebuild the initramfs when its module list changed
  ansible.builtin.command: update-initramfs -u
  when: zswap.initramfs_changed
  changed_when: true

- name: Inside a container, where /sys is read-only, write the boot configuration only
  lowmem.vps.zswap:
    compressor: zstd
    runtime: false

- name: Turn zswap off at runtime only
  lowmem.vps.zswap:
    enabled: false
    persistent: false
'''

RETURN = r'''
runtime:
  description:
    - Every zswap parameter of the running kernel, read back after the task (predicted in check mode; as found when
      O(runtime=false)). Empty when the kernel has no zswap.
  returned: always
  type: dict
  sample: {"enabled": "Y", "compressor": "zstd", "max_pool_percent": "20", "accept_threshold_percent": "90", "shrinker_enabled": "N"}
runtime_changed:
  description: Parameters written to the running kernel (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [compressor, enabled]
runtime_pending:
  description: With O(runtime=false), parameters whose running value differs from the wanted one.
  returned: always
  type: list
  elements: str
missing_parameters:
  description: Requested parameters the running kernel does not have; they were neither written nor put on the command line.
  returned: always
  type: list
  elements: str
  sample: [zpool]
tmpfiles_changed:
  description: Whether the O(tmpfiles) rule file was written (or would be, in check mode).
  returned: always
  type: bool
cmdline_tokens:
  description: The boot tokens wanted on the kernel command line.
  returned: always
  type: list
  elements: str
  sample: [zswap.enabled=1, zswap.compressor=zstd]
grub_changed:
  description: Whether C(/etc/default/grub) was (or would be) rewritten; notify C(update-grub) on it.
  returned: always
  type: bool
initramfs_changed:
  description: Whether C(/etc/initramfs-tools/modules) was (or would be) rewritten; notify C(update-initramfs -u) on it.
  returned: always
  type: bool
reboot_required:
  description: With O(persistent=true), whether C(/proc/cmdline) lacks one of RV(cmdline_tokens).
  returned: always
  type: bool
crypto_module:
  description: The kernel module that provides the compressor (null when built in and not known by name).
  returned: always
  type: str
  sample: zstd
overrides:
  description: C(/etc/default/grub.d/*.cfg) files that set C(GRUB_CMDLINE_LINUX_DEFAULT) after C(/etc/default/grub).
  returned: always
  type: list
  elements: dict
  sample: [{"file": "/etc/default/grub.d/50-cloud.cfg", "value": "console=ttyS0", "replaces": true, "keys": []}]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.module_utils.zswap import run

ARGUMENT_SPEC = dict(
    enabled=dict(type='bool', default=True),
    compressor=dict(type='str', default='zstd'),
    zpool=dict(type='str'),
    max_pool_percent=dict(type='int'),
    accept_threshold_percent=dict(type='int'),
    persistent=dict(type='bool', default=True),
    initramfs=dict(type='bool', default=False),
    runtime=dict(type='bool', default=True),
    tmpfiles=dict(type='path'),
    header=dict(type='str', default='Ansible managed: lowmem.vps.zswap'),
)


def main():
    report(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), 'zswap', run)


if __name__ == '__main__':
    main()
