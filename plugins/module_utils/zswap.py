# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic for zswap: validate, read the running parameters, plan runtime writes and boot tokens.

No AnsibleModule here: every function takes plain values and, where it touches the system,
the system path as a default argument, so tests run on real files under a temporary tree.

The parameters differ between kernels: 6.1 has ``zpool`` and no ``shrinker_enabled``, 6.8+ adds
``shrinker_enabled``, and ``zpool`` goes once zsmalloc is the only pool. Only parameters that exist
on the running kernel are written, at runtime and on the boot command line.
"""

from __future__ import annotations

import errno
import os
import re

from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.files import apply_file, comment_lines, plan_file, read_kernel_text, read_text, values_diff
from ansible_collections.lowmem.vps.plugins.module_utils.grub import (
    CMDLINE_DEFAULT, CMDLINE_LINUX, GRUB_D, GRUB_DEFAULT, PROC_CMDLINE, GrubError, cmdline_differs, cmdline_value, find_overrides,
    read_cmdline, set_cmdline_tokens, token_key,
)
from ansible_collections.lowmem.vps.plugins.module_utils.runner import commands, tail

PARAMETERS_DIR = '/sys/module/zswap/parameters'
PROC_CRYPTO = '/proc/crypto'
INITRAMFS_MODULES = '/etc/initramfs-tools/modules'

# zswap compressors and the kernel module that provides each (crypto/<name>.c).
CRYPTO_MODULES = {
    '842': '842',
    'deflate': 'deflate',
    'lz4': 'lz4',
    'lz4hc': 'lz4hc',
    'lzo': 'lzo',
    'lzo-rle': 'lzo-rle',
    'zstd': 'zstd',
}
# The parameters this module manages, in the order they appear on the command line.
MANAGED = ('enabled', 'compressor', 'zpool', 'max_pool_percent', 'accept_threshold_percent')
BOOL_PARAMETERS = frozenset(('enabled', 'shrinker_enabled', 'same_filled_pages_enabled', 'non_same_filled_pages_enabled',
                             'exclusive_loads'))
# /proc/crypto types under which a compression algorithm is usable by zswap (through acomp).
COMPRESSION_TYPES = frozenset(('compression', 'scomp', 'acomp'))

READ_ONLY = (errno.EROFS, errno.EPERM, errno.EACCES)

_NAME_RE = re.compile(r'^[a-z0-9][a-z0-9_-]{0,63}$')


class Paths(object):
    """The system paths the zswap module reads and writes; tests point them under a temporary tree."""

    def __init__(self, parameters_dir=PARAMETERS_DIR, proc_crypto=PROC_CRYPTO, proc_cmdline=PROC_CMDLINE, grub=GRUB_DEFAULT,
                 grub_d=GRUB_D, initramfs_modules=INITRAMFS_MODULES):
        self.parameters_dir = parameters_dir
        self.proc_crypto = proc_crypto
        self.proc_cmdline = proc_cmdline
        self.grub = grub
        self.grub_d = grub_d
        self.initramfs_modules = initramfs_modules


class ZswapError(RefusedError):
    """Bad input or a kernel that cannot do what is asked: the message is meant for the operator as it is."""


def kernel_bool(value):
    """'Y'/'N' as the kernel prints a bool parameter, from a bool or any spelling kstrtobool accepts."""
    if isinstance(value, bool):
        return 'Y' if value else 'N'
    text = str(value).strip()
    if text[:1] in ('Y', 'y', '1', 'T', 't') or text.lower() == 'on':
        return 'Y'
    if text[:1] in ('N', 'n', '0', 'F', 'f') or text.lower() == 'off':
        return 'N'
    return text


def validate(enabled=True, compressor='zstd', zpool=None, max_pool_percent=None, accept_threshold_percent=None):
    """{parameter: value as the kernel prints it} for the given options; raises one ZswapError listing every problem."""
    problems = []
    wanted = {'enabled': kernel_bool(bool(enabled))}
    if not isinstance(compressor, str) or not _NAME_RE.match(compressor):
        problems.append('compressor=%r is not a crypto algorithm name (known ones: %s)' % (compressor, ', '.join(sorted(CRYPTO_MODULES))))
    else:
        wanted['compressor'] = compressor
    if zpool is not None:
        if not isinstance(zpool, str) or not _NAME_RE.match(zpool):
            problems.append('zpool=%r is not a pool name (zsmalloc, z3fold, zbud)' % (zpool,))
        else:
            wanted['zpool'] = zpool
    for name, value, low in (('max_pool_percent', max_pool_percent, 1), ('accept_threshold_percent', accept_threshold_percent, 0)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 100:
            problems.append('%s=%r is outside %d..100' % (name, value, low))
        else:
            wanted[name] = str(value)
    if problems:
        raise ZswapError('; '.join(problems))
    return wanted


def read_parameters(parameters_dir=PARAMETERS_DIR):
    """{parameter: value} for every parameter file of the running kernel; None when there is no zswap.

    Directories are skipped; a file that cannot be read maps to None.
    """
    try:
        names = sorted(os.listdir(parameters_dir))
    except OSError:
        return None
    values = {}
    for name in names:
        path = os.path.join(parameters_dir, name)
        if os.path.isdir(path):
            continue
        try:
            with open(path, 'r', encoding='ascii', errors='replace') as handle:
                values[name] = handle.read().strip()
        except OSError:
            values[name] = None
    return values


def parse_crypto(text):
    """/proc/crypto as a list of dicts, one per ``name : ...`` block."""
    entries = []
    entry = {}
    for line in (text or '').splitlines():
        if not line.strip():
            if entry:
                entries.append(entry)
            entry = {}
            continue
        key, sep, value = line.partition(':')
        if sep:
            entry[key.strip()] = value.strip()
    if entry:
        entries.append(entry)
    return entries


def read_crypto(path=PROC_CRYPTO):
    """Text of /proc/crypto ('' when it cannot be read)."""
    return read_kernel_text(path)


def compressor_entries(name, crypto_text):
    """The /proc/crypto blocks of compression algorithm ``name`` (exact name: lzo is not lzo-rle)."""
    return [entry for entry in parse_crypto(crypto_text) if entry.get('name') == name and entry.get('type') in COMPRESSION_TYPES]


def compressor_available(name, crypto_text):
    return bool(compressor_entries(name, crypto_text))


def crypto_module(name, crypto_text=''):
    """The kernel module that provides compressor ``name``.

    Known compressors come from the table (the module is built from crypto/<name>.c). Others come
    from the ``module`` field of /proc/crypto once loaded; None when it is built in or not known.
    """
    if name in CRYPTO_MODULES:
        return CRYPTO_MODULES[name]
    for entry in compressor_entries(name, crypto_text):
        module = entry.get('module')
        if module and module != 'kernel':
            return module
    return None


def modprobe_name(name):
    """What to ask modprobe for: the module, or the ``crypto-<name>`` alias the kernel itself requests."""
    return CRYPTO_MODULES.get(name) or 'crypto-%s' % name


def split_existing(wanted, current):
    """(wanted parameters the running kernel has, wanted parameters it does not have), both sorted as MANAGED.

    ``current`` None (no zswap on this kernel: nothing can be checked) counts every parameter as present.
    """
    present = []
    missing = []
    for name in MANAGED:
        if name not in wanted:
            continue
        if current is None or name in current:
            present.append(name)
        else:
            missing.append(name)
    return present, missing


def same_value(name, left, right):
    if left is None or right is None:
        return left == right
    if name in BOOL_PARAMETERS:
        return kernel_bool(left) == kernel_bool(right)
    return str(left).strip() == str(right).strip()


def plan_runtime(wanted, current):
    """The (parameter, value) writes that bring ``current`` to ``wanted``, in a safe order.

    Only parameters that exist in ``current`` are written. When zswap is being enabled it is enabled
    last (so it never starts with the old compressor); when it is being disabled, first.
    """
    current = current or {}
    present = split_existing(wanted, current)[0]
    writes = [(name, wanted[name]) for name in present if not same_value(name, current.get(name), wanted[name])]
    enabling = [write for write in writes if write[0] == 'enabled']
    others = [write for write in writes if write[0] != 'enabled']
    if enabling and enabling[0][1] == 'N':
        return enabling + others
    return others + enabling


def predicted(current, writes):
    """``current`` after ``writes`` (for check mode)."""
    after = dict(current or {})
    after.update(writes)
    return after


def mismatches(wanted_writes, after):
    """(parameter, wanted, read) for every write the kernel did not keep."""
    return [(name, value, after.get(name)) for name, value in wanted_writes if not same_value(name, after.get(name), value)]


def parameter_path(name, parameters_dir=PARAMETERS_DIR):
    if not _NAME_RE.match(name):
        raise ZswapError('%r is not a zswap parameter name' % (name,))
    return os.path.join(parameters_dir, name)


def writable(name, parameters_dir=PARAMETERS_DIR):
    """None when ``name`` can be written, else the reason (read-only /sys in containers, not root)."""
    path = parameter_path(name, parameters_dir)
    try:
        if os.access(path, os.W_OK):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    return None


def write_parameter(name, value, parameters_dir=PARAMETERS_DIR):
    """Write one parameter; raises OSError (EROFS in containers, EINVAL for a value the kernel refuses) untouched."""
    with open(parameter_path(name, parameters_dir), 'w', encoding='ascii') as handle:
        handle.write(value)


def cmdline_tokens(wanted, names):
    """The ``zswap.<name>=<value>`` boot tokens for parameters ``names`` (bools as 1/0, as the runbook writes them)."""
    tokens = []
    for name in MANAGED:
        if name not in names or name not in wanted:
            continue
        value = wanted[name]
        if name in BOOL_PARAMETERS:
            value = '1' if kernel_bool(value) == 'Y' else '0'
        tokens.append('zswap.%s=%s' % (name, value))
    return tokens


def _normalize_cmdline(key, value):
    name = key.partition('.')[2]
    return kernel_bool(value) if name in BOOL_PARAMETERS else value


def reboot_required(tokens, cmdline_text):
    """Whether the running kernel was booted without every token in ``tokens`` in effect."""
    return bool(cmdline_differs(tokens, cmdline_text, _normalize_cmdline))


def plan_initramfs_modules(text, module):
    """Text of /etc/initramfs-tools/modules with ``module`` listed once (comments and other lines kept).

    modprobe treats ``-`` and ``_`` in module names alike, so ``lzo_rle`` already lists ``lzo-rle``.
    """
    text = text or ''
    wanted = module.replace('-', '_')
    for line in text.splitlines():
        words = line.split('#', 1)[0].split()
        if words and words[0].replace('-', '_') == wanted:
            return text
    if text and not text.endswith('\n'):
        text += '\n'
    return text + module + '\n'


# ---------------------------------------------------------------- run


class ZswapFailure(PartialFailure):
    """A runtime parameter was written, then a later one was refused."""


def ensure_compressor(module, compressor, paths, runner, which):
    """The /proc/crypto text once ``compressor`` is known to the kernel; fails (before any write) when it cannot be.

    Loads the module only when the runtime is managed and this is no check mode (recorded as a host change on
    ``module``, a result.Context); otherwise asks ``modprobe --dry-run`` whether it could be loaded.
    """
    crypto = read_crypto(paths.proc_crypto)
    if compressor_available(compressor, crypto):
        return crypto
    target = modprobe_name(compressor)
    load = module.params['runtime'] and not module.check_mode
    arguments = [target] if load else ['--dry-run', target]
    modprobe = which('modprobe')
    if not modprobe:
        why = 'modprobe is not installed'
    else:
        rc, out, err = runner([modprobe] + arguments)
        if rc == 0 and not load:
            return crypto
        if rc == 0:
            module.wrote()  # a kernel module loaded: the host changed, whatever follows
            crypto = read_crypto(paths.proc_crypto)
            if compressor_available(compressor, crypto):
                return crypto
            why = '`modprobe %s` succeeded but it still does not list %s' % (target, compressor)
        else:
            why = '`modprobe %s` failed: %s' % (' '.join(arguments), tail(rc, out, err))
    if not module.params['runtime'] and compressor in CRYPTO_MODULES:
        module.warn('compressor %s could not be checked on this kernel (%s does not list it, %s); '
                    'it goes to the boot configuration unchecked' % (compressor, paths.proc_crypto, why))
        return crypto
    raise ZswapError('compressor %s is not known to the running kernel: %s does not list it, %s' % (compressor, paths.proc_crypto, why))


def runtime_diff(names, before, after):
    return values_diff('%s (running)' % PARAMETERS_DIR, names, before, after)


def render_tmpfiles(compressor, enabled, header=''):
    """A systemd-tmpfiles rule file that sets the compressor and the switch again early at every boot.

    zswap starts (late_initcall) before any module can load, so a zswap.compressor= token for a modular compressor
    (zstd on Debian's kernels) falls back to lzo at boot; systemd-tmpfiles writes the values early in userspace, which
    loads the module on demand. ``header`` lines become ``#`` comments (lines already starting with ``#`` stay)."""
    lines = comment_lines(header)
    lines.append('w %s/compressor - - - - %s' % (PARAMETERS_DIR, compressor))
    lines.append('w %s/enabled - - - - %s' % (PARAMETERS_DIR, 'Y' if enabled else 'N'))
    return '\n'.join(lines) + '\n'


def plan_grub(module, tokens, paths):
    """(FilePlan for /etc/default/grub, grub.d overrides); fails before any write on a file it cannot edit."""
    grub_text = read_text(paths.grub)
    if grub_text is None:
        raise ZswapError('%s does not exist: this machine does not boot through Debian\'s GRUB configuration '
                         '(use persistent=false, or install grub-pc / grub-efi-amd64)' % paths.grub)
    try:
        new_text = set_cmdline_tokens(grub_text, tokens)
        linux_tokens = cmdline_value(grub_text, CMDLINE_LINUX) or []
    except GrubError as exc:
        raise ZswapError('%s: %s' % (paths.grub, exc))

    wanted = dict((token_key(token), token) for token in tokens)
    for token in linux_tokens:
        key = token_key(token)
        if key in wanted and token != wanted[key]:
            module.warn('%s sets %s in %s too: normal boot entries use %s from %s, recovery entries that one'
                        % (paths.grub, token, CMDLINE_LINUX, wanted[key], CMDLINE_DEFAULT))

    overrides = find_overrides(list(wanted), CMDLINE_DEFAULT, paths.grub_d)
    for override in overrides:
        if override.get('problem'):
            module.warn('%s could not be read as shell assignments (%s): check whether it overrides %s'
                        % (override['file'], override['problem'], CMDLINE_DEFAULT))
        elif override['replaces']:
            module.warn('%s sets %s="%s" after %s: that value replaces the zswap tokens at boot; '
                        'add them there or remove the assignment' % (override['file'], CMDLINE_DEFAULT, override['value'], paths.grub))
        else:
            module.warn('%s sets %s again in %s after %s: its value wins at boot'
                        % (override['file'], ', '.join(override['keys']), CMDLINE_DEFAULT, paths.grub))
    return plan_file(paths.grub, new_text), overrides


def plan_initramfs(module, module_name, compressor, paths):
    """FilePlan for /etc/initramfs-tools/modules, or None (with a warning) when there is nothing to plan."""
    directory = os.path.dirname(paths.initramfs_modules)
    if module_name is None:
        module.warn('could not tell which kernel module provides compressor %s: make sure the initramfs can load it, '
                    'or zswap falls back to its default compressor at boot' % compressor)
        return None
    if not os.path.isdir(directory):
        module.warn('%s does not exist (initramfs-tools is not installed): make sure the initramfs can load %s, '
                    'or zswap falls back to its default compressor at boot' % (directory, module_name))
        return None
    return plan_file(paths.initramfs_modules, plan_initramfs_modules(read_text(paths.initramfs_modules), module_name))


def apply_runtime(module, writes, before, paths):
    """Write ``writes`` to the kernel and read every value back; raises on refusal or mismatch."""
    done = []
    for name, value in writes:
        try:
            write_parameter(name, value, paths.parameters_dir)
        except OSError as exc:
            message = 'the kernel refused %s=%s: %s' % (name, value, exc.strerror or exc)
            if exc.errno in READ_ONLY:
                message += ' (where /sys is read-only, in containers, use runtime=false)'
            if not done:
                raise ZswapError(message, dict(runtime=before))
            after = read_parameters(paths.parameters_dir) or {}
            module.wrote(runtime_diff([item[0] for item in done], before, after))
            raise ZswapFailure(message + '; already set: %s; boot configuration not written'
                               % ', '.join('%s=%s' % write for write in done), dict(runtime=after))
        module.wrote()  # recorded as it happens; the diff of all the writes follows once they are read back
        done.append((name, value))
    after = read_parameters(paths.parameters_dir) or {}
    module.wrote(runtime_diff([name for name, value in writes], before, after))
    refused = mismatches(writes, after)
    if refused:
        raise ZswapFailure('the kernel did not keep %s; boot configuration not written' % ', '.join(
            '%s (wanted %s, reads %s)' % item for item in refused), dict(runtime=after))
    return after


def run(module, runner=None, which=None, paths=None):
    """Everything the zswap module does; ``module`` is a result.Context. Tests replace the commands (``runner``,
    ``which``) and the system paths (``paths``, a :class:`Paths`)."""
    runner, which = commands(module, runner, which)
    paths = paths or Paths()
    params = module.params
    wanted = validate(params['enabled'], params['compressor'], params['zpool'], params['max_pool_percent'],
                      params['accept_threshold_percent'])

    before = read_parameters(paths.parameters_dir)
    if before is None and params['runtime']:
        raise ZswapError('the running kernel has no zswap (%s does not exist)' % paths.parameters_dir)
    if before is None:
        module.warn('%s does not exist: the boot tokens cannot be checked against this kernel' % paths.parameters_dir)
    names, missing = split_existing(wanted, before)
    for name in missing:
        module.warn('this kernel has no zswap parameter %s: it is written neither at runtime nor on the boot command line' % name)
    tokens = cmdline_tokens(wanted, names)

    grub_plan = initramfs_plan = None
    overrides = []
    if params['persistent']:
        grub_plan, overrides = plan_grub(module, tokens, paths)
    crypto = ensure_compressor(module, params['compressor'], paths, runner, which)
    module_name = crypto_module(params['compressor'], crypto)
    if params['persistent'] and params['initramfs']:
        initramfs_plan = plan_initramfs(module, module_name, params['compressor'], paths)
    tmpfiles_plan = None
    if params['persistent'] and params.get('tmpfiles'):
        tmpfiles_plan = plan_file(params['tmpfiles'], render_tmpfiles(params['compressor'], params['enabled'],
                                                                      params.get('header')), 0o644)

    before = before or {}
    writes = plan_runtime(wanted, before)
    to_write = writes if params['runtime'] else []
    for name, value in to_write:
        problem = writable(name, paths.parameters_dir)
        if problem:
            raise ZswapError('cannot write %s: %s (where /sys is read-only, in containers, use runtime=false)'
                             % (os.path.join(paths.parameters_dir, name), problem))

    after = before
    if to_write:
        after = predicted(before, to_write) if module.check_mode else apply_runtime(module, to_write, before, paths)
    plans = [plan for plan in (grub_plan, initramfs_plan, tmpfiles_plan) if plan is not None]
    for plan in plans:
        apply_file(module, plan)

    diff = [plan.diff() for plan in plans]
    if to_write:
        diff.append(runtime_diff([name for name in names if name in before], before, after))
    grub_changed = bool(grub_plan and grub_plan.changed)
    initramfs_changed = bool(initramfs_plan and initramfs_plan.changed)
    tmpfiles_changed = bool(tmpfiles_plan and tmpfiles_plan.changed)
    return dict(
        changed=bool(to_write) or grub_changed or initramfs_changed or tmpfiles_changed, tmpfiles_changed=tmpfiles_changed,
        runtime=after, runtime_changed=[name for name, value in to_write],
        runtime_pending=[] if params['runtime'] else [name for name, value in writes], missing_parameters=missing,
        cmdline_tokens=tokens, grub_changed=grub_changed, initramfs_changed=initramfs_changed,
        reboot_required=bool(params['persistent']) and reboot_required(tokens, read_cmdline(paths.proc_cmdline)),
        crypto_module=module_name, overrides=overrides, diff=diff)
