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

import os
import re

from ansible_collections.lowmem.vps.plugins.module_utils.files import read_kernel_text
from ansible_collections.lowmem.vps.plugins.module_utils.grub import cmdline_differs
from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError

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

_NAME_RE = re.compile(r'^[a-z0-9][a-z0-9_-]{0,63}$')


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
