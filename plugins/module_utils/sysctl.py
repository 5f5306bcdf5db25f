# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic for sysctl drop-ins: validate, guard, render, find what overrides us, plan live values.

No AnsibleModule here: every function takes plain values and, where it touches the system,
the system path as a default argument, so tests run on real files under a temporary tree.
"""

from __future__ import annotations

import fnmatch
import os
import re

from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError

PROC_SYS = '/proc/sys'
# The directories systemd-sysctl reads, in its precedence order for equal file names.
SYSCTL_DIRS = ('/etc/sysctl.d', '/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d', '/lib/sysctl.d')

_KEY_RE = re.compile(r'^[a-z0-9_]+(?:\.[A-Za-z0-9_-]+)+$')
_INT_RE = re.compile(r'^-?[0-9]+$')

# Keys with a safety rule of their own: (lowest, highest) where highest may be a callable of MemTotal.
SWAPPINESS_RANGE = (0, 200)


class SysctlError(RefusedError):
    """Bad input: the message is meant for the operator as it is."""


def key_path(key, proc_sys=PROC_SYS):
    """``vm.swappiness`` -> ``/proc/sys/vm/swappiness``."""
    return os.path.join(proc_sys, *key.split('.'))


def normalize_value(key, value):
    """Return the value as the kernel prints it (integers, one space between several).

    Accepts an int or a string of whitespace-separated integers
    (``net.ipv4.ip_local_port_range: "1024 65000"``); refuses booleans, floats and words.
    """
    if isinstance(value, bool):
        raise SysctlError('%s: %r is a boolean, not an integer (write 0 or 1)' % (key, value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        parts = value.split()
        if parts and all(_INT_RE.match(part) for part in parts):
            return ' '.join(str(int(part)) for part in parts)
    raise SysctlError('%s: %r is not an integer (this module manages integer-valued keys only)' % (key, value))


def validate_settings(settings, proc_sys=PROC_SYS, hidden_net_ok=False):
    """Check every key exists on the running kernel and every value is an integer.

    Returns ({key: normalized value}, [hidden keys]). Collects every problem and raises one
    SysctlError listing all of them, so an operator fixes the inventory in one pass.

    With ``hidden_net_ok`` (inside a container's network namespace, where the kernel hides global
    ``net.*`` keys such as net.core.netdev_max_backlog), a missing ``net.*`` key whose parent
    directory exists is accepted and returned in the hidden list instead of failing.
    """
    if not isinstance(settings, dict) or not settings:
        raise SysctlError('settings must be a non-empty mapping of sysctl keys to integer values')
    problems = []
    normalized = {}
    hidden = []
    for key in sorted(settings):
        if not isinstance(key, str) or not _KEY_RE.match(key):
            problems.append('%r is not a sysctl key (expected dotted names like vm.swappiness)' % (key,))
            continue
        path = key_path(key, proc_sys)
        if not os.path.isfile(path):
            if hidden_net_ok and key.startswith('net.') and os.path.isdir(os.path.dirname(path)):
                hidden.append(key)
            else:
                problems.append('unknown sysctl key %s: the running kernel has no %s' % (key, path))
                continue
        try:
            normalized[key] = normalize_value(key, settings[key])
        except SysctlError as exc:
            problems.append(str(exc))
    if problems:
        raise SysctlError('; '.join(problems))
    return normalized, hidden


def check_guard_rails(settings, mem_total_kb, min_free_kbytes_max_percent=5.0):
    """Refuse values that hurt a small box. ``settings`` are normalized (strings).

    - vm.min_free_kbytes above ``min_free_kbytes_max_percent`` of MemTotal: the kernel keeps that
      much free for atomic allocations, and on 512 MB a larger reserve starves userspace
      (the runbook saw it); below 1024 kB the network receive path fails atomic allocations.
    - vm.swappiness outside 0..200.
    """
    problems = []
    if 'vm.min_free_kbytes' in settings:
        value = int(settings['vm.min_free_kbytes'])
        ceiling = int(mem_total_kb * min_free_kbytes_max_percent / 100)
        if value > ceiling:
            problems.append(
                'vm.min_free_kbytes=%d is above %s%% of RAM (MemTotal %d kB allows at most %d): '
                'a reserve that large starves userspace on a small box' % (
                    value, _fmt_percent(min_free_kbytes_max_percent), mem_total_kb, ceiling))
        elif value < 1024:
            problems.append('vm.min_free_kbytes=%d is below 1024: atomic allocations in the network '
                            'receive path would fail first' % value)
    if 'vm.swappiness' in settings:
        value = int(settings['vm.swappiness'])
        low, high = SWAPPINESS_RANGE
        if not low <= value <= high:
            problems.append('vm.swappiness=%d is outside %d..%d' % (value, low, high))
    if problems:
        raise SysctlError('; '.join(problems))


def _fmt_percent(value):
    return ('%g' % value)


def render_dropin(settings, header=''):
    """The drop-in text: the header (already commented), then ``key = value`` sorted by key."""
    lines = []
    if header:
        lines.extend(line.rstrip() for line in header.rstrip('\n').splitlines())
    lines.extend('%s = %s' % (key, settings[key]) for key in sorted(settings))
    return '\n'.join(lines) + '\n'


def parse_sysctl_text(text):
    """{key: value} from sysctl.d text. Later lines win; ``-key`` (ignore errors) counts as key;
    ``/`` separators are read as dots, as systemd-sysctl does. Globs are kept as written."""
    result = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in '#;':
            continue
        key, sep, value = line.partition('=')
        if not sep:
            continue
        key = key.strip().lstrip('-').replace('/', '.')
        result[key] = ' '.join(value.split())
    return result


def config_files(dirs=SYSCTL_DIRS):
    """The files systemd-sysctl applies, in order: {basename: path}, first directory wins."""
    chosen = {}
    for directory in dirs:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if name.endswith('.conf') and name not in chosen:
                chosen[name] = os.path.join(directory, name)
    return [chosen[name] for name in sorted(chosen)]


def find_overrides(path, keys, dirs=SYSCTL_DIRS):
    """Which later files set one of ``keys`` again, so that their value wins at boot.

    Returns a list of (key, file, value) for every override. ``path`` is our drop-in: files whose
    name sorts after it are applied after it (systemd-sysctl orders by file name across dirs).
    A file with our name in a directory of higher precedence replaces ours entirely.
    """
    ours = os.path.basename(path)
    overrides = []
    for other in config_files(dirs):
        name = os.path.basename(other)
        if os.path.realpath(other) == os.path.realpath(path):
            continue
        if name < ours:
            continue
        try:
            with open(other, 'r', encoding='utf-8', errors='replace') as handle:
                theirs = parse_sysctl_text(handle.read())
        except OSError:
            continue
        for their_key, value in sorted(theirs.items()):
            for key in keys:
                if their_key == key or ('*' in their_key and fnmatch.fnmatchcase(key, their_key)):
                    overrides.append((key, other, value))
    return overrides


def read_live(keys, proc_sys=PROC_SYS):
    """{key: value as the kernel prints it, whitespace folded} for keys that can be read."""
    live = {}
    for key in keys:
        try:
            with open(key_path(key, proc_sys), 'r', encoding='ascii') as handle:
                live[key] = ' '.join(handle.read().split())
        except OSError:
            live[key] = None
    return live


def plan_live(settings, live):
    """Keys whose running value differs from the wanted one, in key order."""
    return [key for key in sorted(settings) if live.get(key) != settings[key]]


def write_live(key, value, proc_sys=PROC_SYS):
    """Write one value to /proc/sys; raises OSError (EROFS in containers) untouched."""
    with open(key_path(key, proc_sys), 'w', encoding='ascii') as handle:
        handle.write(value + '\n')
