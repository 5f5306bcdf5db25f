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

from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.files import apply_file, comment_lines, plan_file, values_diff
from ansible_collections.lowmem.vps.plugins.module_utils.meminfo import MEMINFO_PATH, mem_total_kb

PROC_SYS = '/proc/sys'
# MGLRU's thrashing guard (kernels with CONFIG_LRU_GEN, Debian 13's 6.12): not a sysctl, a file under /sys.
LRU_GEN_MIN_TTL = '/sys/kernel/mm/lru_gen/min_ttl_ms'
LRU_GEN_MAX_MS = 60000
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
    """The drop-in text: the header as ``#`` lines (files.comment_lines), then ``key = value`` sorted by key."""
    lines = comment_lines(header)
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


# ---------------------------------------------------------------- run


class Paths(object):
    """The system paths the sysctl_dropin module reads and writes; tests point them under a temporary tree."""

    def __init__(self, proc_sys=PROC_SYS, sysctl_dirs=SYSCTL_DIRS, meminfo=MEMINFO_PATH, lru_gen_min_ttl=LRU_GEN_MIN_TTL):
        self.proc_sys = proc_sys
        self.sysctl_dirs = tuple(sysctl_dirs)
        self.meminfo = meminfo
        self.lru_gen_min_ttl = lru_gen_min_ttl


def check_lru_gen(params):
    """Problems with the thrashing guard's options, as an operator-facing message (None when fine)."""
    ttl, rule = params.get('lru_gen_min_ttl_ms'), params.get('lru_gen_tmpfiles')
    if ttl is not None and not 0 <= ttl <= LRU_GEN_MAX_MS:
        return 'lru_gen_min_ttl_ms must be 0..%d ms or null (got %s)' % (LRU_GEN_MAX_MS, ttl)
    if rule is not None and not (rule.startswith('/') and rule.endswith('.conf')):
        return 'lru_gen_tmpfiles=%s must be an absolute path ending in .conf: systemd-tmpfiles ignores other names' % rule
    return None


def render_lru_gen_rule(ttl, header='', path=LRU_GEN_MIN_TTL):
    """The systemd-tmpfiles rule that sets MGLRU's min_ttl_ms at every boot ("w-": no error where it is missing)."""
    lines = comment_lines(header)
    lines.append('# MGLRU\'s thrashing guard: the kernel OOM-kills instead of thrashing when the pages used within the last N ms')
    lines.append('# cannot stay in memory. "w-": a kernel without MGLRU has no such file, which is no error.')
    lines.append('w- %s - - - - %d' % (path, ttl))
    return '\n'.join(lines) + '\n'


def lru_gen(module, paths):
    """The thrashing guard: its tmpfiles rule (written, or removed when the value is null) and, with apply, its live
    value (read first; check mode only reads). Returns the result keys and the diffs."""
    params = module.params
    ttl, rule = params.get('lru_gen_min_ttl_ms'), params.get('lru_gen_tmpfiles')
    result = dict(lru_gen_available=os.path.exists(paths.lru_gen_min_ttl), lru_gen_rule_changed=False,
                  lru_gen_live=None, lru_gen_live_changed=False)
    diffs = []
    if rule is not None:
        plan = plan_file(rule, None if ttl is None else render_lru_gen_rule(ttl, params['header'] or ''), 0o644)
        apply_file(module, plan)
        result['lru_gen_rule_changed'] = plan.changed
        if plan.changed:
            diffs.append(plan.diff())
    if result['lru_gen_available']:
        with open(paths.lru_gen_min_ttl) as handle:
            before = handle.read().strip()
        result['lru_gen_live'] = before
        if ttl is not None and params['apply'] and before != str(ttl):
            result['lru_gen_live_changed'] = True
            after = str(ttl)
            if not module.check_mode:
                try:
                    with open(paths.lru_gen_min_ttl, 'w', encoding='ascii') as handle:
                        handle.write(after + '\n')
                except OSError as exc:
                    raise PartialFailure('%s could not be set to %s: %s' % (paths.lru_gen_min_ttl, after, exc.strerror or exc),
                                         dict(lru_gen_live=before))
                module.wrote()
                with open(paths.lru_gen_min_ttl) as handle:
                    after = handle.read().strip()
                if after != str(ttl):
                    raise PartialFailure('the kernel kept %s=%s (wanted %d)' % (paths.lru_gen_min_ttl, after, ttl),
                                         dict(lru_gen_live=after))
            result['lru_gen_live'] = after
            diffs.append(values_diff('%s (running)' % os.path.dirname(paths.lru_gen_min_ttl), ['min_ttl_ms'],
                                     {'min_ttl_ms': before}, {'min_ttl_ms': after}))
    return result, diffs


def check_path(path):
    """Problems with the drop-in's path, as an operator-facing message (None when fine)."""
    if path.rstrip('/') == '/etc/sysctl.conf':
        return ('path=/etc/sysctl.conf is refused: Debian 13 no longer reads it; '
                'use a drop-in such as /etc/sysctl.d/99-lowmem-network-tuning.conf')
    if not path.endswith('.conf'):
        return 'path=%s must end in .conf: systemd-sysctl ignores other file names' % path
    return None


def live_diff(keys, before, after):
    return values_diff('/proc/sys (running)', keys, before, after)


def present(module, paths):
    params = module.params
    proc_sys = paths.proc_sys
    problem = check_lru_gen(params)
    if problem:
        raise SysctlError(problem)
    settings, hidden = validate_settings(params['settings'] or {}, proc_sys, hidden_net_ok=params['hidden_net_keys_ok'])
    check_guard_rails(settings, mem_total_kb(paths.meminfo), params['min_free_kbytes_max_percent'])
    if hidden:
        module.warn('not visible in this network namespace, written to the file only: %s' % ', '.join(hidden))

    keys = sorted(key for key in settings if key not in hidden)
    plan = plan_file(params['path'], render_dropin(settings, params['header']), 0o644)
    live_before = read_live(keys, proc_sys)
    pending = plan_live(dict((key, settings[key]) for key in keys), live_before)
    to_apply = pending if params['apply'] else []

    overrides = find_overrides(params['path'], sorted(settings), paths.sysctl_dirs)
    for key, other, value in overrides:
        module.warn('%s sets %s = %s after %s: that value wins at boot' % (other, key, value, params['path']))
    if not any(params['path'].startswith(directory + '/') for directory in paths.sysctl_dirs):
        module.warn('%s is outside the directories systemd-sysctl reads: it will not apply at boot' % params['path'])

    apply_file(module, plan)
    live_after = dict(live_before)
    if to_apply and not module.check_mode:
        done = []
        for key in to_apply:
            try:
                write_live(key, settings[key], proc_sys)
            except OSError as exc:
                if done:
                    module.wrote(live_diff(done, live_before, read_live(done, proc_sys)))
                raise PartialFailure('%s %s, but %s could not be set live: %s. Where /proc/sys is read-only (containers) '
                                     'use apply=false.' % (params['path'], 'written' if plan.changed else 'unchanged', key,
                                                           exc.strerror or exc), dict(path=params['path']))
            module.wrote()  # recorded as it happens; the diff of all the writes follows once they are read back
            done.append(key)
        live_after = read_live(keys, proc_sys)
        module.wrote(live_diff(keys, live_before, live_after))
        refused = [key for key in to_apply if live_after.get(key) != settings[key]]
        if refused:
            raise PartialFailure('the kernel did not keep %s' % ', '.join(
                '%s (wanted %s, reads %s)' % (key, settings[key], live_after.get(key)) for key in refused),
                dict(path=params['path'], live=live_after))
    elif to_apply:
        live_after.update((key, settings[key]) for key in to_apply)

    lru, lru_diffs = lru_gen(module, paths)
    diff = [plan.diff()]
    if to_apply:
        diff.append(live_diff(keys, live_before, live_after))
    diff.extend(lru_diffs)
    return dict(
        lru,
        changed=plan.changed or bool(to_apply) or lru['lru_gen_rule_changed'] or lru['lru_gen_live_changed'],
        path=params['path'], settings=settings, file_changed=plan.changed,
        live=live_after, live_changed=to_apply, live_pending=[] if params['apply'] else pending,
        overrides=[{'key': key, 'file': other, 'value': value} for key, other, value in overrides], hidden=hidden,
        diff=diff)


def absent(module):
    plan = plan_file(module.params['path'], None)
    apply_file(module, plan)
    return dict(changed=plan.changed, path=module.params['path'], file_changed=plan.changed, diff=plan.diff())


def run(module, runner=None, which=None, paths=None):
    """Everything the sysctl_dropin module does; ``module`` is a result.Context. Tests replace the system paths
    (``paths``, a :class:`Paths`) so they never touch the host's /proc/sys; no command is run (``runner`` and
    ``which`` are accepted for the one signature of every run())."""
    paths = paths or Paths()
    problem = check_path(module.params['path'])
    if problem:
        raise SysctlError(problem)
    if module.params['state'] == 'absent':
        return absent(module)
    return present(module, paths)
