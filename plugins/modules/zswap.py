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
  runtime:
    description:
      - Write the parameters to the running kernel now and read them back.
      - Set to V(false) where C(/sys) is read-only (containers); the running values are then only reported in
        RV(runtime_pending) and no module is loaded.
    type: bool
    default: true
extends_documentation_fragment:
  - lowmem.vps.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
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

import errno
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure
from ansible_collections.lowmem.vps.plugins.module_utils.files import apply_file, plan_file, read_text, values_diff
from ansible_collections.lowmem.vps.plugins.module_utils.grub import (
    CMDLINE_DEFAULT, CMDLINE_LINUX, GRUB_D, GRUB_DEFAULT, PROC_CMDLINE, GrubError, cmdline_value, find_overrides, read_cmdline,
    set_cmdline_tokens, token_key,
)
from ansible_collections.lowmem.vps.plugins.module_utils.zswap import (
    CRYPTO_MODULES, INITRAMFS_MODULES, PARAMETERS_DIR, PROC_CRYPTO, ZswapError, cmdline_tokens, compressor_available,
    crypto_module, mismatches, modprobe_name, plan_initramfs_modules, plan_runtime, predicted, read_crypto,
    read_parameters, reboot_required, split_existing, validate, writable, write_parameter,
)
from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.module_utils.runner import commands, tail

PATHS = {
    'parameters_dir': PARAMETERS_DIR, 'proc_crypto': PROC_CRYPTO, 'proc_cmdline': PROC_CMDLINE,
    'grub': GRUB_DEFAULT, 'grub_d': GRUB_D, 'initramfs_modules': INITRAMFS_MODULES,
}
READ_ONLY = (errno.EROFS, errno.EPERM, errno.EACCES)

ARGUMENT_SPEC = dict(
    enabled=dict(type='bool', default=True),
    compressor=dict(type='str', default='zstd'),
    zpool=dict(type='str'),
    max_pool_percent=dict(type='int'),
    accept_threshold_percent=dict(type='int'),
    persistent=dict(type='bool', default=True),
    initramfs=dict(type='bool', default=False),
    runtime=dict(type='bool', default=True),
)


class ZswapFailure(PartialFailure):
    """A runtime parameter was written, then a later one was refused."""


def ensure_compressor(module, compressor, paths):
    """The /proc/crypto text once ``compressor`` is known to the kernel; fails (before any write) when it cannot be.

    Loads the module only when the runtime is managed and this is no check mode; otherwise asks
    ``modprobe --dry-run`` whether it could be loaded.
    """
    crypto = read_crypto(paths['proc_crypto'])
    if compressor_available(compressor, crypto):
        return crypto
    target = modprobe_name(compressor)
    load = module.params['runtime'] and not module.check_mode
    arguments = [target] if load else ['--dry-run', target]
    runner, which = commands(module)
    modprobe = which('modprobe')
    if not modprobe:
        why = 'modprobe is not installed'
    else:
        rc, out, err = runner([modprobe] + arguments)
        if rc == 0 and not load:
            return crypto
        if rc == 0:
            crypto = read_crypto(paths['proc_crypto'])
            if compressor_available(compressor, crypto):
                return crypto
            why = '`modprobe %s` succeeded but it still does not list %s' % (target, compressor)
        else:
            why = '`modprobe %s` failed: %s' % (' '.join(arguments), tail(rc, out, err))
    if not module.params['runtime'] and compressor in CRYPTO_MODULES:
        module.warn('compressor %s could not be checked on this kernel (%s does not list it, %s); '
                    'it goes to the boot configuration unchecked' % (compressor, paths['proc_crypto'], why))
        return crypto
    raise ZswapError('compressor %s is not known to the running kernel: %s does not list it, %s' % (compressor, paths['proc_crypto'], why))


def runtime_diff(names, before, after):
    return values_diff('%s (running)' % PARAMETERS_DIR, names, before, after)


def plan_grub(module, tokens, paths):
    """(FilePlan for /etc/default/grub, grub.d overrides); fails before any write on a file it cannot edit."""
    grub_text = read_text(paths['grub'])
    if grub_text is None:
        raise ZswapError('%s does not exist: this machine does not boot through Debian\'s GRUB configuration '
                         '(use persistent=false, or install grub-pc / grub-efi-amd64)' % paths['grub'])
    try:
        new_text = set_cmdline_tokens(grub_text, tokens)
        linux_tokens = cmdline_value(grub_text, CMDLINE_LINUX) or []
    except GrubError as exc:
        raise ZswapError('%s: %s' % (paths['grub'], exc))

    wanted = dict((token_key(token), token) for token in tokens)
    for token in linux_tokens:
        key = token_key(token)
        if key in wanted and token != wanted[key]:
            module.warn('%s sets %s in %s too: normal boot entries use %s from %s, recovery entries that one'
                        % (paths['grub'], token, CMDLINE_LINUX, wanted[key], CMDLINE_DEFAULT))

    overrides = find_overrides(list(wanted), CMDLINE_DEFAULT, paths['grub_d'])
    for override in overrides:
        if override.get('problem'):
            module.warn('%s could not be read as shell assignments (%s): check whether it overrides %s'
                        % (override['file'], override['problem'], CMDLINE_DEFAULT))
        elif override['replaces']:
            module.warn('%s sets %s="%s" after %s: that value replaces the zswap tokens at boot; '
                        'add them there or remove the assignment' % (override['file'], CMDLINE_DEFAULT, override['value'], paths['grub']))
        else:
            module.warn('%s sets %s again in %s after %s: its value wins at boot'
                        % (override['file'], ', '.join(override['keys']), CMDLINE_DEFAULT, paths['grub']))
    return plan_file(paths['grub'], new_text), overrides


def plan_initramfs(module, module_name, compressor, paths):
    """FilePlan for /etc/initramfs-tools/modules, or None (with a warning) when there is nothing to plan."""
    directory = os.path.dirname(paths['initramfs_modules'])
    if module_name is None:
        module.warn('could not tell which kernel module provides compressor %s: make sure the initramfs can load it, '
                    'or zswap falls back to its default compressor at boot' % compressor)
        return None
    if not os.path.isdir(directory):
        module.warn('%s does not exist (initramfs-tools is not installed): make sure the initramfs can load %s, '
                    'or zswap falls back to its default compressor at boot' % (directory, module_name))
        return None
    return plan_file(paths['initramfs_modules'], plan_initramfs_modules(read_text(paths['initramfs_modules']), module_name))


def apply_runtime(module, writes, before, paths):
    """Write ``writes`` to the kernel and read every value back; raises on refusal or mismatch."""
    done = []
    for name, value in writes:
        try:
            write_parameter(name, value, paths['parameters_dir'])
        except OSError as exc:
            message = 'the kernel refused %s=%s: %s' % (name, value, exc.strerror or exc)
            if exc.errno in READ_ONLY:
                message += ' (where /sys is read-only, in containers, use runtime=false)'
            if not done:
                raise ZswapError(message, dict(runtime=before))
            after = read_parameters(paths['parameters_dir']) or {}
            module.wrote(runtime_diff([item[0] for item in done], before, after))
            raise ZswapFailure(message + '; already set: %s; boot configuration not written'
                               % ', '.join('%s=%s' % write for write in done), dict(runtime=after))
        done.append((name, value))
    after = read_parameters(paths['parameters_dir']) or {}
    module.wrote(runtime_diff([name for name, value in writes], before, after))
    refused = mismatches(writes, after)
    if refused:
        raise ZswapFailure('the kernel did not keep %s; boot configuration not written' % ', '.join(
            '%s (wanted %s, reads %s)' % item for item in refused), dict(runtime=after))
    return after


def run(module, paths=None):
    """Everything main() does, with the system paths replaceable (tests point them under a temporary tree)."""
    paths = dict(PATHS, **(paths or {}))
    params = module.params
    wanted = validate(params['enabled'], params['compressor'], params['zpool'], params['max_pool_percent'],
                      params['accept_threshold_percent'])

    before = read_parameters(paths['parameters_dir'])
    if before is None and params['runtime']:
        raise ZswapError('the running kernel has no zswap (%s does not exist)' % paths['parameters_dir'])
    if before is None:
        module.warn('%s does not exist: the boot tokens cannot be checked against this kernel' % paths['parameters_dir'])
    names, missing = split_existing(wanted, before)
    for name in missing:
        module.warn('this kernel has no zswap parameter %s: it is written neither at runtime nor on the boot command line' % name)
    tokens = cmdline_tokens(wanted, names)

    grub_plan = initramfs_plan = None
    overrides = []
    if params['persistent']:
        grub_plan, overrides = plan_grub(module, tokens, paths)
    crypto = ensure_compressor(module, params['compressor'], paths)
    module_name = crypto_module(params['compressor'], crypto)
    if params['persistent'] and params['initramfs']:
        initramfs_plan = plan_initramfs(module, module_name, params['compressor'], paths)

    before = before or {}
    writes = plan_runtime(wanted, before)
    to_write = writes if params['runtime'] else []
    for name, value in to_write:
        problem = writable(name, paths['parameters_dir'])
        if problem:
            raise ZswapError('cannot write %s: %s (where /sys is read-only, in containers, use runtime=false)'
                             % (os.path.join(paths['parameters_dir'], name), problem))

    after = before
    if to_write:
        after = predicted(before, to_write) if module.check_mode else apply_runtime(module, to_write, before, paths)
    plans = [plan for plan in (grub_plan, initramfs_plan) if plan is not None]
    for plan in plans:
        apply_file(module, plan)

    diff = [plan.diff() for plan in plans]
    if to_write:
        diff.append(runtime_diff([name for name in names if name in before], before, after))
    grub_changed = bool(grub_plan and grub_plan.changed)
    initramfs_changed = bool(initramfs_plan and initramfs_plan.changed)
    return dict(
        changed=bool(to_write) or grub_changed or initramfs_changed, runtime=after, runtime_changed=[name for name, value in to_write],
        runtime_pending=[] if params['runtime'] else [name for name, value in writes], missing_parameters=missing,
        cmdline_tokens=tokens, grub_changed=grub_changed, initramfs_changed=initramfs_changed,
        reboot_required=bool(params['persistent']) and reboot_required(tokens, read_cmdline(paths['proc_cmdline'])),
        crypto_module=module_name, overrides=overrides, diff=diff)


def main():
    report(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), 'zswap', run)


if __name__ == '__main__':
    main()
