# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A host's memory health, read-only: what memory_facts returns, and the risk flags drawn from it.

Readers take their system paths as default arguments (``/proc``, ``/sys``, ``/etc/systemd``, the Docker socket),
so tests run them on trees under a temporary directory. Commands (journalctl, systemctl) go through the
callables of :mod:`runner`. Nothing here writes.

Where memory went (``memory``), in kB from /proc/meminfo:

- ``unaccounted_kb`` is memory that neither a process nor any /proc/meminfo counter accounts for:
  MemTotal − (MemFree + Buffers + Cached + SwapCached + AnonPages + Slab + KernelStack + PageTables + SecPageTables
  + Percpu + VmallocUsed + Zswap + Hugetlb), never below 0. These are pages drivers and subsystems take from the
  page allocator directly (network buffers, GPU/virtio rings, a leak through alloc_pages): ``ps`` cannot show them,
  and on a healthy box they stay at a few MB. (KernelStack is also part of VmallocUsed on kernels with
  VMAP_STACK, so this figure errs low, never high.)
- ``process_kb`` is AnonPages + Shmem, what processes hold (their file pages are page cache).
"""

from __future__ import annotations

import glob
import json
import os
import re
import socket
import time

from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.kernel_log import (
    NETWORK_RX_FRAMES, NETWORK_RX_MODULES, empty_events, parse_events,
)
from ansible_collections.lowmem.vps.plugins.module_utils.meminfo import MeminfoError, read_meminfo
from ansible_collections.lowmem.vps.plugins.module_utils.memory_history import DEFAULT_GROWTH_KB_PER_HOUR, HISTORY_FILE, history
from ansible_collections.lowmem.vps.plugins.module_utils.oom import audit, parse_show, show_command, unit_name, unit_pids
from ansible_collections.lowmem.vps.plugins.module_utils.runner import StreamError, commands, stream_lines, tail

PROC_ROOT = '/proc'
SYS_ROOT = '/sys'
JOURNALD_CONF = '/etc/systemd/journald.conf'
JOURNALD_DROPIN_DIRS = ('/usr/lib/systemd/journald.conf.d', '/run/systemd/journald.conf.d',
                        '/etc/systemd/journald.conf.d')
JOURNAL_DIR = '/var/log/journal'
DOCKER_SOCKET = '/var/run/docker.sock'
DEFAULT_UNITS = ('ssh', 'nginx', 'supervisor')
SEVERITIES = ('critical', 'warning', 'info')
VMSTAT_KEYS = ('oom_kill', 'pswpin', 'pswpout', 'pgmajfault', 'workingset_refault_anon', 'workingset_refault_file',
               'workingset_refault', 'compact_stall')
JOURNAL_MATCHES = ('_TRANSPORT=kernel', '+', 'SYSLOG_IDENTIFIER=earlyoom', '+', 'SYSLOG_IDENTIFIER=systemd-oomd',
                   '+', '_PID=1')
# What earlyoom does without -m/-s: SIGTERM at 10 % free, SIGKILL at half the SIGTERM level.
EARLYOOM_DEFAULT_PERCENT = 10
_SINCE_RE = re.compile(r'^(?:@?\d{1,11}(?:\.\d+)?|\d{4}-\d\d-\d\d(?:[ T]\d\d:\d\d(?::\d\d)?)?|today|yesterday|now|'
                       r'-\d+(?:s|min|m|h|d|w))$')
SINCE_RE = _SINCE_RE  # what health_check accepts too
_BOOT_RE = re.compile(r'^\s*(-?\d+)\s+([0-9a-f]{32})\b')


class MemoryFactsError(RefusedError):
    """Bad input to memory_facts (a threshold out of range, an unreadable kernel_log_file...)."""


# ---------------------------------------------------------------- parameters

def check_params(params):
    """Validate memory_facts' options; raise MemoryFactsError naming every bad one."""
    problems = []
    boots = params.get('boots', 1)
    if not isinstance(boots, int) or isinstance(boots, bool) or boots < 0:
        problems.append('boots must be an integer >= 0 (previous boots to read besides the current one), got %r' % (boots,))
    for key, low, high in (('sunreclaim_percent', 0, 100), ('swap_full_percent', 0, 100)):
        value = params.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not low < value <= high:
            problems.append('%s must be a number above %s and at most %s, got %r' % (key, low, high, value))
    growth = params.get('history_growth_kb_per_hour', DEFAULT_GROWTH_KB_PER_HOUR)
    if not isinstance(growth, (int, float)) or isinstance(growth, bool) or not growth > 0:
        problems.append('history_growth_kb_per_hour must be a number above 0, got %r' % (growth,))
    top = params.get('slab_top', 10)
    if not isinstance(top, int) or isinstance(top, bool) or not 0 <= top <= 100:
        problems.append('slab_top must be an integer from 0 to 100, got %r' % (top,))
    since = params.get('since')
    if since is not None and not _SINCE_RE.match(str(since).strip()):
        problems.append('since must be epoch seconds, "YYYY-MM-DD[ HH:MM[:SS]]", today, yesterday or a relative '
                        'time like -2h, got %r' % (since,))
    log_file = params.get('kernel_log_file')
    if log_file is not None:
        if since is not None:
            problems.append('since reads the journal: it cannot be combined with kernel_log_file')
        elif not os.path.isfile(log_file):
            problems.append('kernel_log_file %s is not a readable file' % log_file)
        elif not os.access(log_file, os.R_OK):
            problems.append('kernel_log_file %s is not readable by this user' % log_file)
    units = params.get('units')
    if units is not None and (not isinstance(units, (list, tuple)) or
                              not all(isinstance(unit, str) and unit.strip() for unit in units)):
        problems.append('units must be a list of unit names, got %r' % (units,))
    if problems:
        raise MemoryFactsError('; '.join(problems) + ' (nothing was read)')
    return params


def since_argument(since):
    """journalctl's --since value: epoch seconds become ``@N``."""
    text = str(since).strip()
    if re.match(r'^\d+(?:\.\d+)?$', text):
        return '@' + text.split('.', maxsplit=1)[0]
    return text


# ---------------------------------------------------------------- /proc and /sys

def _read(path, default=None):
    try:
        with open(path, 'r', encoding='utf-8', errors='replace') as handle:
            return handle.read()
    except OSError:
        return default


def memory_summary(info):
    """The ``memory`` dict (kB) from parsed /proc/meminfo (see the module docstring for ``unaccounted_kb``)."""
    def get(name):
        return info.get(name, 0)

    hugetlb = info.get('Hugetlb', get('HugePages_Total') * get('Hugepagesize'))
    known = (get('MemFree') + get('Buffers') + get('Cached') + get('SwapCached') + get('AnonPages') + get('Slab') +
             get('KernelStack') + get('PageTables') + get('SecPageTables') + get('Percpu') + get('VmallocUsed') +
             get('Zswap') + hugetlb)
    return dict(
        mem_total_kb=get('MemTotal'), mem_available_kb=info.get('MemAvailable', get('MemFree')),
        mem_free_kb=get('MemFree'), swap_total_kb=get('SwapTotal'), swap_used_kb=get('SwapTotal') - get('SwapFree'),
        anon_pages_kb=get('AnonPages'), shmem_kb=get('Shmem'), buffers_kb=get('Buffers'), cached_kb=get('Cached'),
        slab_kb=get('Slab'), sreclaimable_kb=get('SReclaimable'), sunreclaim_kb=get('SUnreclaim'),
        page_tables_kb=get('PageTables'), kernel_stack_kb=get('KernelStack'), percpu_kb=get('Percpu'),
        vmalloc_used_kb=get('VmallocUsed'), process_kb=get('AnonPages') + get('Shmem'),
        unaccounted_kb=max(get('MemTotal') - known, 0))


def parse_slabinfo(text, page_size=4096):
    """[{name, bytes, objects, object_size}] from /proc/slabinfo text (version 2.x); bytes = slabs × pages × page size."""
    caches = []
    for line in (text or '').splitlines():
        if line.startswith(('slabinfo', '#')) or ':' not in line:
            continue
        fields = line.split()
        try:
            name, num_objs, objsize, pages_per_slab = fields[0], int(fields[2]), int(fields[3]), int(fields[5])
            marker = fields.index('slabdata')
            num_slabs = int(fields[marker + 2])
        except (IndexError, ValueError):
            continue
        caches.append(dict(name=name, bytes=num_slabs * pages_per_slab * page_size, objects=num_objs,
                           object_size=objsize))
    return caches


def reclaimable_cache(name, sys_root=SYS_ROOT):
    """True/False from SLUB's /sys/kernel/slab/NAME/reclaim_account; None where the kernel does not show it."""
    text = _read(os.path.join(sys_root, 'kernel', 'slab', name, 'reclaim_account'))
    if text is None:
        return None
    return text.strip().startswith('1')


def slab_top(limit, proc_root=PROC_ROOT, sys_root=SYS_ROOT):
    """The ``limit`` largest unreclaimable slab caches ([{name, bytes}]), and a note when slabinfo cannot be read."""
    if limit == 0:
        return [], None
    text = _read(os.path.join(proc_root, 'slabinfo'))
    if text is None:
        return [], '%s/slabinfo is not readable (it needs root): slab_top is empty' % proc_root
    caches = []
    unknown = False
    for cache in parse_slabinfo(text, os.sysconf('SC_PAGE_SIZE') if hasattr(os, 'sysconf') else 4096):
        reclaimable = reclaimable_cache(cache['name'], sys_root)
        if reclaimable:
            continue
        unknown = unknown or reclaimable is None
        caches.append(dict(name=cache['name'], bytes=cache['bytes'], reclaimable=reclaimable))
    caches.sort(key=lambda cache: (-cache['bytes'], cache['name']))
    note = ('this kernel does not say which slab caches are reclaimable (no /sys/kernel/slab): the list has them all'
            if unknown else None)
    return caches[:limit], note


def parse_vmstat(text):
    values = {}
    for line in (text or '').splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].lstrip('-').isdigit():
            values[fields[0]] = int(fields[1])
    picked = dict((key, values[key]) for key in VMSTAT_KEYS if key in values)
    stalls = dict((key, value) for key, value in values.items() if key.startswith('allocstall'))
    picked.update(stalls)
    picked['allocstall'] = sum(stalls.values())
    return picked


def parse_psi(text):
    """{'some': {avg10, avg60, avg300, total}, 'full': {...}} from /proc/pressure/memory text; None when empty."""
    result = {}
    for line in (text or '').splitlines():
        fields = line.split()
        if not fields or fields[0] not in ('some', 'full'):
            continue
        values = {}
        for item in fields[1:]:
            key, _sep, value = item.partition('=')
            try:
                values[key] = int(value) if key == 'total' else float(value)
            except ValueError:
                continue
        result[fields[0]] = values
    return result or None


def read_zswap(info, sys_root=SYS_ROOT):
    """zswap's parameters and pool size, or None where the kernel has no zswap."""
    parameters = os.path.join(sys_root, 'module', 'zswap', 'parameters')
    if not os.path.isdir(parameters):
        return None
    values = {}
    for name in ('enabled', 'compressor', 'zpool', 'max_pool_percent', 'shrinker_enabled'):
        text = _read(os.path.join(parameters, name))
        if text is not None:
            values[name] = text.strip()
    for name in ('enabled', 'shrinker_enabled'):
        if name in values:
            values[name] = values[name] in ('Y', '1', 'y')
    if values.get('max_pool_percent', '').isdigit():
        values['max_pool_percent'] = int(values['max_pool_percent'])
    # 6.x kernels show the pool in /proc/meminfo (Zswap: compressed, Zswapped: what it holds); older ones only in
    # debugfs, when it is mounted.
    values['pool_kb'] = info.get('Zswap')
    values['stored_kb'] = info.get('Zswapped')
    debug = os.path.join(sys_root, 'kernel', 'debug', 'zswap')
    for name, key in (('pool_total_size', 'pool_total_size_bytes'), ('stored_pages', 'stored_pages')):
        text = _read(os.path.join(debug, name))
        values[key] = int(text) if text and text.strip().isdigit() else None
    if values['pool_kb'] is None and values['pool_total_size_bytes'] is not None:
        values['pool_kb'] = values['pool_total_size_bytes'] // 1024
    return values


# ---------------------------------------------------------------- processes: earlyoom, protected units

def _processes(proc_root):
    for entry in os.listdir(proc_root):
        if entry.isdigit():
            yield int(entry)


def parse_earlyoom_args(argv):
    """earlyoom's thresholds from its command line: mem/swap term/kill percent, prefer, avoid, report interval."""
    result = dict(mem_term_percent=EARLYOOM_DEFAULT_PERCENT, mem_kill_percent=EARLYOOM_DEFAULT_PERCENT / 2.0,
                  swap_term_percent=EARLYOOM_DEFAULT_PERCENT, swap_kill_percent=EARLYOOM_DEFAULT_PERCENT / 2.0,
                  prefer=None, avoid=None, report_interval_s=None, args=list(argv))
    args = list(argv)
    index = 0
    while index < len(args):
        arg = args[index]
        value = args[index + 1] if index + 1 < len(args) else None
        step = 2
        if arg.startswith('-') and not arg.startswith('--') and len(arg) > 2 and arg[1] in 'msMSr':
            arg, value, step = arg[:2], arg[2:], 1
        if arg in ('-m', '-s') and value is not None:
            term, _sep, kill = value.partition(',')
            try:
                term_value = float(term)
                kill_value = float(kill) if kill else term_value / 2.0
            except ValueError:
                index += step
                continue
            prefix = 'mem' if arg == '-m' else 'swap'
            result[prefix + '_term_percent'] = _number(term_value)
            result[prefix + '_kill_percent'] = _number(kill_value)
        elif arg in ('--prefer', '--avoid') and value is not None:
            result[arg[2:]] = value
        elif arg == '-r' and value is not None:
            result['report_interval_s'] = int(value) if value.isdigit() else value
        else:
            step = 1
        index += step
    for key in ('mem_kill_percent', 'swap_kill_percent'):
        result[key] = _number(result[key])
    return result


def _number(value):
    return int(value) if float(value).is_integer() else value


def read_earlyoom(proc_root=PROC_ROOT):
    """{'active': bool, 'pid', thresholds...}: earlyoom is active when a process named earlyoom runs."""
    for pid in _processes(proc_root):
        comm = _read(os.path.join(proc_root, str(pid), 'comm'))
        if comm is None or comm.strip() != 'earlyoom':
            continue
        cmdline = _read(os.path.join(proc_root, str(pid), 'cmdline')) or ''
        argv = [arg for arg in cmdline.split('\0') if arg]
        result = dict(active=True, pid=pid)
        result.update(parse_earlyoom_args(argv[1:]))
        return result
    return dict(active=False, pid=None)


def read_units(runner, which, units, proc_root=PROC_ROOT, cgroup_root=SYS_ROOT + '/fs/cgroup'):
    """Each unit's state and processes: [{unit, found, active, main_pid, processes: [{pid, comm, oom_score_adj}]}]."""
    names = [unit_name(unit.strip()) for unit in units]
    if not names:
        return [], None
    systemctl = which('systemctl')
    if not systemctl:
        return [dict(unit=name, found=False, active=False, main_pid=None, processes=[]) for name in names], \
            'systemctl is not installed: unit states are unknown'
    args = show_command(systemctl, names)
    args[2:2] = ['-p', 'ActiveState']
    rc, out, err = runner(args)
    if rc != 0:
        return [], 'systemctl show failed (%s): unit states are unknown' % tail(rc, out, err)
    active = [line.partition('=')[2].strip() for line in out.splitlines() if line.startswith('ActiveState=')]
    result = []
    for index, shown in enumerate(parse_show(out)):
        name = names[index] if index < len(names) else shown['id']
        found = shown['load_state'] == 'loaded'
        state = active[index] if index < len(active) else ''
        pids = unit_pids(shown, 'all', cgroup_root) if found else []
        processes = [dict(pid=record['pid'], comm=record['comm'], oom_score_adj=record['oom_score_adj'])
                     for record in audit(shown['id'] or name, pids, proc_root)]
        result.append(dict(unit=shown['id'] or name, found=found, active=state == 'active',
                           main_pid=shown['main_pid'] or None, processes=processes))
    return result, None


# ---------------------------------------------------------------- journal persistence

def _storage_value(text, current):
    section = None
    for raw in (text or '').splitlines():
        line = raw.strip()
        if not line or line[0] in '#;':
            continue
        if line.startswith('['):
            section = line.strip('[]').strip()
            continue
        key, sep, value = line.partition('=')
        if sep and section == 'Journal' and key.strip() == 'Storage':
            current = value.strip()
    return current


def journal_storage(conf=JOURNALD_CONF, dropin_dirs=JOURNALD_DROPIN_DIRS, journal_dir=JOURNAL_DIR):
    """{'persistent': bool, 'storage': value, 'reason': text}: whether the journal outlives a reboot.

    journald reads journald.conf, then the drop-ins of every journald.conf.d in file-name order (a name in /etc
    hides the same name in /run and /usr/lib); the last Storage= wins. ``auto`` (the default) is persistent only
    when /var/log/journal exists.
    """
    storage = _storage_value(_read(conf, ''), 'auto')
    dropins = {}
    for directory in dropin_dirs:
        for path in glob.glob(os.path.join(directory, '*.conf')):
            dropins[os.path.basename(path)] = path  # later directories (/etc last) win
    for name in sorted(dropins):
        storage = _storage_value(_read(dropins[name], ''), storage)
    exists = os.path.isdir(journal_dir)
    if storage == 'persistent':
        return dict(persistent=True, storage=storage, reason='Storage=persistent')
    if storage == 'auto':
        if exists:
            return dict(persistent=True, storage=storage, reason='Storage=auto and %s exists' % journal_dir)
        return dict(persistent=False, storage=storage,
                    reason='Storage=auto but %s does not exist: the journal lives in /run and a reboot loses it'
                    % journal_dir)
    return dict(persistent=False, storage=storage,
                reason='Storage=%s: the journal %s' % (storage, 'is kept in /run and a reboot loses it'
                                                       if storage == 'volatile' else 'is not stored'))


# ---------------------------------------------------------------- containers

class _UnixHTTP(object):
    """The smallest HTTP/1.0 GET over a unix socket (the Docker engine API), without extra imports."""

    def __init__(self, path, timeout=5.0):
        self.path = path
        self.timeout = timeout

    def get(self, url):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
            sock.sendall(('GET %s HTTP/1.0\r\nHost: docker\r\n\r\n' % url).encode('ascii'))
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            sock.close()
        head, _sep, body = b''.join(chunks).partition(b'\r\n\r\n')
        status = head.split(b'\r\n', 1)[0].split()
        if len(status) < 2 or status[1] != b'200':
            raise OSError('%s answered %s' % (url, head.split(b'\r\n', 1)[0].decode('ascii', 'replace')))
        return json.loads(body.decode('utf-8'))


def read_containers(socket_path=DOCKER_SOCKET, client=None):
    """The running containers' memory limits from the engine: {engine, count, limited, unlimited, limits_total_kb,
    containers: [{name, memory_limit_kb}]}; engine False when no engine answers."""
    if client is None:
        if not os.path.exists(socket_path):
            return dict(engine=False, count=0, limited=0, unlimited=0, limits_total_kb=0, containers=[])
        client = _UnixHTTP(socket_path)
    try:
        listed = client.get('/containers/json')
        containers = []
        for entry in listed:
            inspected = client.get('/containers/%s/json' % entry['Id'])
            limit = (inspected.get('HostConfig') or {}).get('Memory') or 0
            containers.append(dict(name=(inspected.get('Name') or entry['Id'][:12]).lstrip('/'),
                                   memory_limit_kb=limit // 1024))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return dict(engine=False, count=0, limited=0, unlimited=0, limits_total_kb=0, containers=[],
                    note='the container engine at %s did not answer: %s' % (socket_path, exc))
    limited = [entry for entry in containers if entry['memory_limit_kb']]
    return dict(engine=True, count=len(containers), limited=len(limited), unlimited=len(containers) - len(limited),
                limits_total_kb=sum(entry['memory_limit_kb'] for entry in limited), containers=containers)


# ---------------------------------------------------------------- events

def parse_boots(text):
    """[(offset, boot_id)] from ``journalctl --list-boots`` text, newest first."""
    boots = []
    for line in (text or '').splitlines():
        matched = _BOOT_RE.match(line)
        if matched:
            boots.append((int(matched.group(1)), matched.group(2)))
    boots.sort(key=lambda boot: -boot[0])
    return boots


def journal_command(journalctl, boot=None, since=None):
    args = [journalctl, '--no-pager', '-q', '-o', 'short-unix']
    if since is not None:
        args.append('--since=%s' % since_argument(since))
    elif boot is not None:
        args.extend(['-b', boot])
    return args + list(JOURNAL_MATCHES)


def read_events(stream, runner, which, boots=1, since=None, kernel_log_file=None):
    """The parser's events and where they came from.

    ``stream(args)`` yields a command's output lines (journalctl's output is read line by line, never held whole);
    ``runner`` runs ``journalctl --list-boots``. Returns (events, source) where source is
    {'kind': 'file'|'journal'|'none', 'boots': [{offset, boot_id}], 'since', 'path', 'note'}.
    """
    events = empty_events()
    if kernel_log_file is not None:
        try:
            with open(kernel_log_file, 'r', encoding='utf-8', errors='replace') as handle:
                parse_events(handle, into=events)
        except OSError as exc:
            raise MemoryFactsError('cannot read kernel_log_file %s: %s (nothing was read)' % (kernel_log_file, exc))
        return events, dict(kind='file', path=kernel_log_file, boots=[], since=None, note=None)
    journalctl = which('journalctl')
    if not journalctl:
        return events, dict(kind='none', boots=[], since=since, path=None,
                            note='journalctl is not installed: no kernel-log events were read')
    if since is not None:
        try:
            parse_events(stream(journal_command(journalctl, since=since)), into=events)
        except StreamError as exc:
            raise MemoryFactsError('reading the journal since %s: %s' % (since, exc))
        return events, dict(kind='journal', boots=[], since=since_argument(since), path=None, note=None)
    rc, out, err = runner([journalctl, '--no-pager', '--list-boots'])
    listed = parse_boots(out) if rc == 0 else []
    note = None
    if not listed:
        listed = [(0, None)]
        if rc != 0:
            note = 'journalctl --list-boots failed (%s): only the current boot was read' % tail(rc, out, err)
    wanted = [boot for boot in listed if boot[0] <= 0][:boots + 1]
    if boots and len(wanted) < boots + 1:
        note = note or ('the journal keeps %d earlier boot(s) of the %d asked for' % (len(wanted) - 1, boots))
    try:
        for offset, boot_id in wanted:
            parse_events(stream(journal_command(journalctl, boot=boot_id or '0')), boot=offset, into=events)
    except StreamError as exc:
        raise MemoryFactsError('reading the journal: %s (nothing was changed)' % exc)
    return events, dict(kind='journal', boots=[dict(offset=offset, boot_id=boot_id) for offset, boot_id in wanted],
                        since=None, path=None, note=note)


# ---------------------------------------------------------------- flags

def _flag(name, severity, reason):
    return dict(name=name, severity=severity, reason=reason)


def _mib(kb):
    return '%.0f MiB' % (kb / 1024.0) if kb >= 10240 else '%.1f MiB' % (kb / 1024.0)


# Sizing: RAM classes of small VPS plans (MB), and the shares behind the verdict.
RAM_CLASSES_MB = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)
OUTGROWN_PERCENT = 85      # what cannot be reclaimed at or above this share of MemTotal: outgrown
OUTGROWN_KILLS_PERCENT = 70  # ... or at or above this share with OOM kills in the kernel log read
SIZING_TARGET_PERCENT = 60   # the class advised holds what cannot be reclaimed (and swap in use) in this share
OUTGROWN_SWAP_KEPT_PERCENT = 25  # ... or at or above that share with this share of MemTotal kept in swap all history
MEMTOTAL_SHARE = 0.9         # MemTotal is about this share of a plan's nominal RAM (kernel, firmware reserve)


def _rate(kb_per_hour):
    return '%+.1f MiB/h' % (kb_per_hour / 1024.0) if abs(kb_per_hour) >= 1024 else '%+.0f kB/h' % kb_per_hour


def _ram_class(kb):
    """The smallest RAM class (MB) whose MemTotal (MEMTOTAL_SHARE of it) holds ``kb``."""
    for size in RAM_CLASSES_MB:
        if size * 1024 * MEMTOTAL_SHARE >= kb:
            return size
    return RAM_CLASSES_MB[-1]


def sizing(facts):
    """Has the host outgrown its RAM? From what cannot be reclaimed (anonymous memory, shmem, unreclaimable slab,
    kernel stacks and page tables) against MemTotal, swap in use and the OOM kills in the kernel log read; with a
    memory history (``facts['history']``), also the swap kept in use through all of it and the kills it saw. With the
    figures behind the verdict and the RAM class it would need (what cannot be reclaimed plus swap in use at most
    SIZING_TARGET_PERCENT of its MemTotal)."""
    memory = facts['memory']
    total = memory.get('mem_total_kb') or 0
    pinned = sum(memory.get(key) or 0 for key in ('anon_pages_kb', 'shmem_kb', 'sunreclaim_kb', 'kernel_stack_kb',
                                                  'page_tables_kb'))
    swap_used = memory.get('swap_used_kb') or 0
    kills = len((facts.get('events') or {}).get('oom_kills') or [])
    trend = facts.get('history') or {}
    kept = trend.get('swap_kept_kb') if trend else None
    if trend:
        kills = max(kills, trend.get('oom_kills') or 0)
    percent = round(pinned * 100.0 / total, 1) if total else None
    demand = pinned + max(swap_used if kept is None else kept, 0)
    needed = _ram_class(demand * 100.0 / SIZING_TARGET_PERCENT)
    current = next((size for size in RAM_CLASSES_MB if size * 1024 >= total), RAM_CLASSES_MB[-1])
    why = []
    if percent is not None and percent >= OUTGROWN_PERCENT:
        why.append('what cannot be reclaimed is %.0f %% of RAM (at least %d %%)' % (percent, OUTGROWN_PERCENT))
    elif percent is not None and kills and percent >= OUTGROWN_KILLS_PERCENT:
        why.append('what cannot be reclaimed is %.0f %% of RAM and the kernel OOM killer killed %d process(es)'
                   % (percent, kills))
    elif (percent is not None and kept and total and kept * 100.0 / total >= OUTGROWN_SWAP_KEPT_PERCENT and
          percent >= OUTGROWN_KILLS_PERCENT):
        why.append('what cannot be reclaimed is %.0f %% of RAM and %s of swap stayed in use through %.0f h of history'
                   % (percent, _mib(kept), (trend.get('span_minutes') or 0) / 60.0))
    # Swap in use in one snapshot is no verdict (cold pages belong there); kept in use through a history it counts,
    # and in any case it counts in the class advised (the history's floor when there is one, else the snapshot).
    outgrown = bool(why) and needed > current
    return dict(outgrown=outgrown, unreclaimable_kb=pinned, unreclaimable_percent=percent, swap_used_kb=swap_used,
                swap_kept_kb=kept, history_minutes=trend.get('span_minutes') if trend else None,
                basis='snapshot and memory history' if trend else 'snapshot',
                oom_kills=kills, ram_class_mb=current, needed_ram_class_mb=max(needed, current),
                reason='; '.join(why) if why else 'what cannot be reclaimed is %s of RAM' % (
                    '?' if percent is None else '%.0f %%' % percent))


def risk_flags(facts, sunreclaim_percent=10, swap_full_percent=90):
    """The risk flags of a memory_facts result, worst first. A hardened, healthy host has none."""
    flags = []
    memory = facts['memory']
    total = memory['mem_total_kb'] or 1
    events = facts.get('events') or empty_events()
    kills = events['oom_kills']
    if kills:
        victims = ', '.join('%s (%s)' % (kill['victim_comm'], kill['constraint']) for kill in kills[:5])
        flags.append(_flag('oom_kills', 'critical', 'the kernel OOM killer killed %d process(es): %s%s' % (
            len(kills), victims, ' ...' if len(kills) > 5 else '')))
    failures = events['page_alloc_failures']
    if failures:
        rx = [failure for failure in failures if failure.get('network_rx')]
        comms = sorted(set(failure['comm'] for failure in failures))
        if rx:
            flags.append(_flag('page_alloc_failures', 'critical',
                               '%d page allocation failure(s), %d in the network receive path (%s): incoming packets '
                               'are dropped and SSH handshakes fail; by %s' % (
                                   len(failures), len(rx), ', '.join(_rx_frames(rx)), ', '.join(comms[:8]))))
        else:
            flags.append(_flag('page_alloc_failures', 'warning', '%d page allocation failure(s) (orders %s) by %s' % (
                len(failures), ','.join(sorted(set(str(f['order']) for f in failures))), ', '.join(comms[:8]))))
    for unit in facts.get('protected_units') or []:
        if not unit['found']:
            continue
        if not unit['active']:
            flags.append(_flag('entry_service_inactive', 'critical', '%s is not active' % unit['unit']))
            continue
        main = [proc for proc in unit['processes'] if proc['pid'] == unit.get('main_pid')] or unit['processes'][:1]
        exposed = [proc for proc in main if proc['oom_score_adj'] is not None and proc['oom_score_adj'] >= 0]
        if exposed:
            flags.append(_flag('entry_service_unprotected', 'critical', '%s (pid %d, %s) runs at oom_score_adj %d: '
                               'the OOM killer may pick it' % (unit['unit'], exposed[0]['pid'], exposed[0]['comm'],
                                                               exposed[0]['oom_score_adj'])))
    earlyoom = facts.get('earlyoom') or {}
    if not earlyoom.get('active'):
        flags.append(_flag('earlyoom_inactive', 'warning', 'earlyoom is not running: nothing acts before the kernel '
                           'OOM killer, which comes only after the box has thrashed'))
    if not memory['swap_total_kb']:
        flags.append(_flag('no_swap', 'warning', 'no swap: anonymous memory cannot be moved out, so a spike goes '
                           'straight to the OOM killer'))
    elif memory['swap_used_kb'] * 100.0 / memory['swap_total_kb'] >= swap_full_percent:
        flags.append(_flag('swap_nearly_full', 'warning', 'swap is %.0f %% used (%s of %s; threshold %s %%)' % (
            memory['swap_used_kb'] * 100.0 / memory['swap_total_kb'], _mib(memory['swap_used_kb']),
            _mib(memory['swap_total_kb']), swap_full_percent)))
    share = memory['sunreclaim_kb'] * 100.0 / total
    if share >= sunreclaim_percent:
        top = ', '.join('%s %s' % (cache['name'], _mib(cache['bytes'] // 1024)) for cache in (facts.get('slab_top') or [])[:3])
        flags.append(_flag('sunreclaim_high', 'warning', 'unreclaimable kernel slab is %s, %.1f %% of RAM (threshold '
                           '%s %%)%s' % (_mib(memory['sunreclaim_kb']), share, sunreclaim_percent,
                                         ': largest ' + top if top else '')))
    trend = facts.get('history') or {}
    if trend.get('sunreclaim_growing'):
        flags.append(_flag('sunreclaim_rising', 'warning', 'the memory history shows unreclaimable kernel slab growing '
                           '%s over the last %.0f min (threshold %s); a leak, and ps cannot show it: find the caches with '
                           'slabtop and the command with lowmem.vps.leak_probe' % (
                               _rate(trend['sunreclaim_kb_per_hour']), trend['trend_minutes'],
                               _rate(trend['growth_threshold_kb_per_hour']))))
    journal = facts.get('journal') or {}
    if journal and not journal.get('persistent'):
        flags.append(_flag('journal_not_persistent', 'warning', journal.get('reason', 'the journal is not persistent') +
                           ': the kernel log of a crash is gone after the reboot'))
    advice = facts.get('sizing') or sizing(facts)
    if advice['outgrown']:
        figures = (advice['reason'], _mib(advice['unreclaimable_kb']), _mib(memory['mem_total_kb']),
                   _mib(advice['swap_used_kb']), advice['oom_kills'], advice['needed_ram_class_mb'], advice['ram_class_mb'])
        flags.append(_flag('ram_outgrown', 'warning', '%s: anonymous memory, shmem, unreclaimable slab, kernel stacks and '
                           'page tables hold %s of %s; swap in use %s; OOM kills %d. Tuning only delays it: it needs the '
                           '%d MB class (now %d MB)' % figures))
    containers = facts.get('containers') or {}
    capacity = memory['mem_total_kb'] + memory['swap_total_kb']
    if containers.get('engine') and containers.get('limits_total_kb', 0) > capacity:
        flags.append(_flag('limits_exceed_memory', 'warning', 'the memory limits of %d running container(s) add up to '
                           '%s, more than RAM and swap hold (%s)' % (containers['limited'],
                                                                     _mib(containers['limits_total_kb']), _mib(capacity))))
    order = dict((name, index) for index, name in enumerate(SEVERITIES))
    flags.sort(key=lambda flag: order[flag['severity']])
    return flags


def _rx_frames(failures):
    seen = []
    for failure in failures:
        for frame in failure['frames'] + failure.get('modules', []):
            if frame in seen:
                continue
            if frame in NETWORK_RX_FRAMES or frame in NETWORK_RX_MODULES:
                seen.append(frame)
    return seen[:4]


# ---------------------------------------------------------------- all of it

class Paths(object):
    """The system trees and files memory_facts reads; tests point them under a temporary tree."""

    def __init__(self, proc_root=PROC_ROOT, sys_root=SYS_ROOT, journald_conf=JOURNALD_CONF,
                 journald_dropins=JOURNALD_DROPIN_DIRS, journal_dir=JOURNAL_DIR):
        self.proc_root = proc_root
        self.sys_root = sys_root
        self.journald_conf = journald_conf
        self.journald_dropins = tuple(journald_dropins)
        self.journal_dir = journal_dir


def run(module, runner=None, which=None, paths=None):
    """What the memory_facts module returns; ``module`` is a result.Context. Tests replace the commands (``runner``,
    ``which``) and the system paths (``paths``, a :class:`Paths`)."""
    runner, which = commands(module, runner, which)
    result = collect(module.params, runner, which, stream_lines, paths)
    result['changed'] = False
    return result


def collect(params, runner, which, stream, paths=None, clock=time.time):
    """Everything memory_facts returns (``changed`` aside)."""
    paths = paths or Paths()
    proc_root, sys_root = paths.proc_root, paths.sys_root
    check_params(params)
    notes = []
    try:
        info = read_meminfo(os.path.join(proc_root, 'meminfo'))
    except MeminfoError as exc:
        raise MemoryFactsError(str(exc))
    hostname = (_read(os.path.join(proc_root, 'sys', 'kernel', 'hostname'), '') or '').strip() or None
    facts = dict(collected_at=clock(), hostname=hostname,
                 kernel=(_read(os.path.join(proc_root, 'sys', 'kernel', 'osrelease'), '') or '').strip() or None,
                 boot_id=(_read(os.path.join(proc_root, 'sys', 'kernel', 'random', 'boot_id'), '') or '').strip() or None)
    uptime = (_read(os.path.join(proc_root, 'uptime'), '') or '').split()
    facts['uptime_s'] = int(float(uptime[0])) if uptime else None
    facts['memory'] = memory_summary(info)
    facts['slab_top'], note = slab_top(params.get('slab_top', 10), proc_root, sys_root)
    notes.append(note)
    facts['vmstat'] = parse_vmstat(_read(os.path.join(proc_root, 'vmstat'), ''))
    facts['psi'] = parse_psi(_read(os.path.join(proc_root, 'pressure', 'memory')))
    facts['zswap'] = read_zswap(info, sys_root)
    facts['earlyoom'] = read_earlyoom(proc_root)
    units = params.get('units')
    facts['protected_units'], note = read_units(runner, which, list(DEFAULT_UNITS if units is None else units),
                                                proc_root, os.path.join(sys_root, 'fs', 'cgroup'))
    notes.append(note)
    facts['journal'] = journal_storage(paths.journald_conf, paths.journald_dropins, paths.journal_dir)
    facts['containers'] = read_containers(params.get('docker_socket') or DOCKER_SOCKET)
    notes.append(facts['containers'].pop('note', None))
    facts['events'], facts['events_source'] = read_events(
        stream, runner, which, boots=params.get('boots', 1), since=params.get('since'),
        kernel_log_file=params.get('kernel_log_file'))
    notes.append(facts['events_source'].get('note'))
    facts['history'], note = history(params.get('history_file') or HISTORY_FILE,
                                     params.get('history_growth_kb_per_hour', DEFAULT_GROWTH_KB_PER_HOUR))
    notes.append(note)
    facts['sizing'] = sizing(facts)
    facts['flags'] = risk_flags(facts, params['sunreclaim_percent'], params['swap_full_percent'])
    facts['notes'] = [text for text in notes if text]
    return facts
