# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one kernel-log event parser: page allocation failures, OOM kills, earlyoom's kills, systemd's OOM lines.

:func:`parse_events` reads lines one at a time (an iterable: a file, a generator over journalctl's output), so a
long log is never held in memory. Every line first loses its prefix (:func:`split_prefix`), whichever tool wrote it:

- dmesg ``[  123.456789]``, ``dmesg -T`` ``[Fri Nov 21 14:22:56 2025]``, printk caller ids ``[ T2438]``/``[    C0]``;
- the kmsg level ``<4>``, ``dmesg -x``'s ``kern  :warn  : ``;
- syslog and ``journalctl`` short/short-precise (``May 15 23:09:30 host kernel: ``), short-iso
  (``2025-05-15T23:09:30+0000 host kernel: ``), short-unix (``1764670000.123456 host kernel: ``), and what a
  paste adds: leading indentation.

Events (dicts; ``time`` is the timestamp as printed, ISO 8601 UTC for short-unix lines, None when the line had none):

- ``page_alloc_failures``: ``comm``, ``pid`` (from the ``CPU: .. PID: .. Comm:`` line, None when not printed),
  ``order``, ``mode`` (the GFP names as printed, e.g. ``GFP_ATOMIC|__GFP_COMP``, else the hex mask), ``frames``
  (call trace function names in order: offsets, ``[module]`` suffixes, compiler suffixes such as ``.constprop.0``,
  unreliable ``? `` frames and the generic allocator/report frames dropped), ``modules`` (the ``[module]`` names
  seen in the trace), ``network_rx`` (the trace runs through the network receive path);
- ``oom_kills``: ``victim_pid``, ``victim_comm``, ``invoker_comm``, ``constraint`` (``global``, ``memcg``, ``cpuset``,
  ``mempolicy``), ``memcg`` (the cgroup path when printed), ``anon_rss_kb``;
- ``earlyoom_kills``: ``pid``, ``comm``, ``signal``, ``uid`` (earlyoom >= 1.7), ``score`` (``badness`` before 1.7,
  ``oom_score`` after);
- ``unit_oom_kills``: ``unit`` (systemd's "A process of this unit has been killed by the OOM killer", and
  systemd-oomd's kills), ``by`` (``kernel`` or ``systemd-oomd``).

Lines of two traces printed at once are told apart by their caller id where the kernel prints one
(CONFIG_PRINTK_CALLER); unrelated lines inside a trace are skipped, not taken as its end.
"""

from __future__ import annotations

import datetime
import re

EVENT_KINDS = ('page_alloc_failures', 'oom_kills', 'earlyoom_kills', 'unit_oom_kills')

_MONTHS = r'(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)'
_DAYS = r'(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
# A syslog/journal head: a time, a host, an identifier with an optional [pid], a colon.
_HEAD_TIMES = (
    r'(?P<unix>\d{9,11}\.\d+)',
    r'(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)',
    # English month names, or the locale's (journalctl prints "апр 28", "mars 27").
    r'(?P<bsd>(?:' + _MONTHS + r'|[^\W\d_]{3,5}\.?) [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?)',
)
# The host is left out by some pastes ("Nov 12 17:08:27 earlyoom[1295]: "); a host never holds ':', '[' or ']'.
_HEAD = re.compile(r'^(?:%s) (?:(?P<host>[^\s:\[\]]+) )?(?P<ident>[^\s:\[]+)(?:\[(?P<ipid>\d+)\])?: ?'
                   % '|'.join(_HEAD_TIMES))
# A time and a colon, nothing else ("Jun 12 06:39:16: mem avail: ..." as pasted from earlyoom's journal).
_BARE_HEAD = re.compile(r'^(?:%s): ' % '|'.join(_HEAD_TIMES))
_LEVEL = re.compile(r'^<\d{1,3}>')
_DMESG_X = re.compile(r'^[a-z]{3,8} *:[a-z]{3,6} *: ')
_MONO = re.compile(r'^\[ *(?P<mono>\d+\.\d+)\]')
_CTIME = re.compile(r'^\[(?P<ctime>' + _DAYS + r' ' + _MONTHS + r' [ \d]\d \d\d:\d\d:\d\d \d{4})\]')
_CALLER = re.compile(r'^ ?\[ *(?P<caller>[TC]\d+)\]')

_PAGE_ALLOC = re.compile(
    r'^(?P<comm>.+?): page allocation failure[.:] *order:(?P<order>\d+), mode:(?P<hex>0x[0-9a-fA-F]+)'
    r'(?:\((?P<names>[^)]*)\))?')
_CPU_LINE = re.compile(r'^(?:CPU: \d+ (?:UID: \d+ )?PID: (?P<pid>\d+) Comm: |Pid: (?P<oldpid>\d+), comm: )'
                       r'(?P<comm>.*?)(?: (?:Not tainted|Tainted:)|$)')
_FRAME = re.compile(
    r'^(?:\[<[0-9a-fA-F]+>\] )?(?:\[[0-9a-fA-F]+\] )?(?P<unsure>\? )?(?P<fn>[A-Za-z_][\w.]*)\+0x[0-9a-fA-F]+/0x[0-9a-fA-F]+'
    r'(?: \[(?P<mod>[\w-]+)\])?')
_TRACE_MARK = re.compile(r'^(?:Call Trace:|<IRQ>|</IRQ>|<TASK>|<NMI>|</NMI>|<EOI>|<SOFTIRQ>|</SOFTIRQ>|Hardware name:|'
                         r'Workqueue:|RIP:|RSP:|RAX:|RDX:|RBP:|R\d\d:|Code:|\[<[0-9a-f]+>\])')
_TRACE_END = re.compile(r'^(?:</TASK>|Mem-Info:|---\[ end trace)')
_COMPILER_SUFFIX = re.compile(r'(?:\.(?:constprop|isra|part|cold|llvm|lto_priv|localalias)(?:\.\d+)*)+$')
# Frames every allocation failure report has, whatever failed: the report itself and the page allocator.
GENERIC_FRAME_PREFIXES = ('dump_stack', '__dump_stack', 'show_stack', 'warn_alloc', '__warn_alloc', '__alloc_pages',
                          'alloc_pages', '__alloc_frozen_pages', 'alloc_frozen_pages', '__folio_alloc', 'folio_alloc')
# Functions and modules of the network receive path (the seed's failures: virtio_net, tcp_gro_receive, ...).
NETWORK_RX_FRAMES = frozenset((
    'tcp_gro_receive', 'tcp4_gro_receive', 'tcp6_gro_receive', 'inet_gro_receive', 'ipv6_gro_receive',
    'dev_gro_receive', 'napi_gro_receive', 'napi_gro_frags', 'gro_receive_skb', 'napi_poll', '__napi_poll',
    'net_rx_action', 'skb_page_frag_refill', 'page_frag_alloc', '__page_frag_alloc_align', 'page_frag_alloc_align',
    '__netdev_alloc_skb', '__napi_alloc_skb', 'napi_alloc_skb', 'netif_receive_skb', '__netif_receive_skb',
    '__netif_receive_skb_core', 'netif_receive_skb_list_internal', 'receive_buf', 'try_fill_recv', 'virtnet_poll',
    'virtnet_receive', 'add_recvbuf_mergeable', 'add_recvbuf_small', 'add_recvbuf_big', 'refill_work',
    'e1000_alloc_rx_buffers', 'ixgbe_alloc_rx_buffers', 'igb_alloc_rx_buffers', 'build_skb', 'napi_build_skb',
))
NETWORK_RX_MODULES = frozenset(('virtio_net', 'e1000', 'e1000e', 'igb', 'ixgbe', 'vmxnet3', 'ena', 'xen_netfront',
                                'hv_netvsc', 'r8169', 'mlx4_en', 'mlx5_core', 'gve'))

_INVOKED = re.compile(r'^(?P<comm>.+?) invoked oom-killer: gfp_mask=(?P<gfp>0x[0-9a-fA-F]+)')
_CONSTRAINT = re.compile(
    r'^oom-kill:constraint=CONSTRAINT_(?P<constraint>\w+),(?P<rest>.*?)(?:,task=(?P<task>.*),pid=(?P<pid>\d+),'
    r'uid=(?P<uid>\d+))?$')
_SELECT_OLD = re.compile(r'^(?P<memcg>Memory cgroup out of memory: )?(?:Out of memory(?: \([^)]*\))?: )?'
                         r'Kill process (?P<pid>\d+) \((?P<comm>.*)\) score -?\d+ or sacrifice child')
_TASK_IN = re.compile(r'^Task in (?P<task>\S+) killed as a result of limit of (?P<limit>\S+)')
_KILLED = re.compile(
    r'^(?:(?P<memcg>Memory cgroup out of memory)|Out of memory(?: \((?P<why>[^)]*)\))?)?:? ?'
    r'Killed process (?P<pid>\d+) \((?P<comm>.*)\),?(?: UID \d+,)? (?:total-vm|vsz):(?P<vm>\d+)kB, anon-rss:(?P<anon>\d+)kB')
_EARLYOOM = re.compile(
    r'^sending (?P<signal>SIG[A-Z0-9]+) to process (?P<pid>\d+)(?: uid (?P<uid>\d+))? "(?P<comm>.*)": '
    r'(?:badness|oom_score) (?P<score>-?\d+)')
_EARLYOOM_OLD = re.compile(r'^killing process (?P<pid>\d+) "(?P<comm>.*)" with signal (?P<signum>\d+): badness (?P<score>-?\d+)')
_SIGNALS = {'9': 'SIGKILL', '15': 'SIGTERM'}
_UNIT_OOM = re.compile(r'^(?P<unit>\S+\.(?:service|scope|slice|socket|mount|swap|target|timer)): '
                       r'A process of this unit has been killed by the OOM killer\.?')
_OOMD = re.compile(r'^Killed (?P<cgroup>/\S+) due to memory (?:pressure|used)')

_CONSTRAINTS = {'NONE': 'global', 'MEMCG': 'memcg', 'CPUSET': 'cpuset', 'MEMORY_POLICY': 'mempolicy'}
# How many lines that are neither frames nor trace markers may come between two frames of one trace.
MAX_TRACE_GAP = 12


def _unix_time(text):
    stamp = datetime.datetime.fromtimestamp(float(text), tz=datetime.timezone.utc)
    return stamp.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def split_prefix(line):
    """Return ``(message, time, epoch, ident, caller)`` for one log line.

    ``time`` is the timestamp as printed (ISO 8601 UTC for short-unix), ``epoch`` seconds since 1970 when the line
    carried them (short-unix), ``ident`` the syslog identifier (``kernel``, ``earlyoom``, ``systemd``) when there was a
    syslog/journal head, ``caller`` the printk caller id (``T2438``) when printed.
    """
    text = line.rstrip('\r\n').lstrip()
    time = epoch = ident = caller = None
    head = _HEAD.match(text) or _BARE_HEAD.match(text)
    if head:
        ident = head.groupdict().get('ident')
        if head.group('unix'):
            epoch = float(head.group('unix'))
            time = _unix_time(head.group('unix'))
        else:
            time = head.group('iso') or head.group('bsd')
        text = text[head.end():]
    for _pass in range(2):  # "<4>[ 1.2] ...", "kern  :warn  : [ 1.2] ..."
        matched = _LEVEL.match(text) or _DMESG_X.match(text)
        if matched:
            text = text[matched.end():].lstrip()
    stamp = _MONO.match(text) or _CTIME.match(text)
    if stamp:
        if time is None:
            time = stamp.group(1)
        text = text[stamp.end():]
    who = _CALLER.match(text)
    if who:
        caller = who.group('caller')
        text = text[who.end():]
    return text.strip(), time, epoch, ident, caller


def clean_frame(name):
    """A call trace function name without compiler suffixes (``__alloc_pages_slowpath.constprop.0`` → ``__alloc_pages_slowpath``)."""
    return _COMPILER_SUFFIX.sub('', name)


def is_generic_frame(name):
    return name.startswith(GENERIC_FRAME_PREFIXES)


def network_rx(frames, modules=()):
    """Whether a trace's frames (or modules) run through the network receive path."""
    return bool(NETWORK_RX_FRAMES.intersection(frames)) or bool(NETWORK_RX_MODULES.intersection(modules))


class _Stream(object):
    """What one printk caller (or the whole log, without caller ids) is in the middle of."""

    def __init__(self):
        self.failure = None      # the page allocation failure whose trace is being read
        self.gap = 0             # lines since its last frame
        self.in_trace = False
        self.oom = None          # {'invoker_comm', 'constraint', 'memcg'} of the OOM kill being reported

    def close_failure(self):
        failure, self.failure, self.in_trace, self.gap = self.failure, None, False, 0
        return failure


def _event(kind, fields, time, epoch, boot):
    fields['time'] = time
    fields['epoch'] = epoch
    if boot is not None:
        fields['boot'] = boot
    return kind, fields


def iter_events(lines, boot=None):
    """Yield ``(kind, event)`` for every event in ``lines`` (any iterable of str), in log order.

    A page allocation failure is yielded once its trace is over (the next event or report, the end of the trace,
    MAX_TRACE_GAP lines without a frame, or the end of the log).
    """
    streams = {}
    for line in lines:
        if line.lstrip().startswith('#'):
            continue  # a note in a saved log (fixture headers): never a kernel or daemon line
        message, time, epoch, ident, caller = split_prefix(line)
        if not message:
            continue
        stream = streams.setdefault(caller, _Stream())
        finished, consumed = _page_alloc_line(stream, message, time, epoch)
        for fields, at, at_epoch in finished:
            yield _event('page_alloc_failures', fields, at, at_epoch, boot)
        if consumed:
            continue
        kill = _oom_line(stream, message)
        if kill is not None:
            yield _event('oom_kills', kill, time, epoch, boot)
            continue
        if ident is None or ident.startswith('earlyoom'):
            matched = _EARLYOOM.match(message)
            if matched:
                yield _event('earlyoom_kills', dict(
                    pid=int(matched.group('pid')), comm=matched.group('comm'), signal=matched.group('signal'),
                    uid=int(matched.group('uid')) if matched.group('uid') is not None else None,
                    score=int(matched.group('score'))), time, epoch, boot)
                continue
            matched = _EARLYOOM_OLD.match(message)
            if matched:
                signum = matched.group('signum')
                yield _event('earlyoom_kills', dict(
                    pid=int(matched.group('pid')), comm=matched.group('comm'), signal=_SIGNALS.get(signum, signum), uid=None,
                    score=int(matched.group('score'))), time, epoch, boot)
                continue
        matched = _UNIT_OOM.match(message)
        if matched:
            yield _event('unit_oom_kills', dict(unit=matched.group('unit'), by='kernel'), time, epoch, boot)
            continue
        matched = _OOMD.match(message)
        if matched:
            unit = matched.group('cgroup').rstrip('/').rsplit('/', 1)[-1]
            yield _event('unit_oom_kills', dict(unit=unit, by='systemd-oomd'), time, epoch, boot)
    for stream in streams.values():
        if stream.failure is not None:
            fields, at, at_epoch = _finish(stream.close_failure())
            yield _event('page_alloc_failures', fields, at, at_epoch, boot)


def _finish(failure):
    fields, time, epoch = failure
    fields['network_rx'] = network_rx(fields['frames'], fields['modules'])
    return fields, time, epoch


def _page_alloc_line(stream, message, time, epoch):
    """Feed one message to the page allocation failure reader.

    Returns ``(finished, consumed)``: the failures whose report ended here, as ``(fields, time, epoch)``, and
    whether the line belonged to a failure's report (then no other reader needs it).
    """
    header = _PAGE_ALLOC.match(message)
    if header:
        finished = [_finish(stream.close_failure())] if stream.failure is not None else []
        mode = header.group('names') or header.group('hex')
        stream.failure = (dict(comm=header.group('comm'), pid=None, order=int(header.group('order')), mode=mode,
                               frames=[], modules=[]), time, epoch)
        stream.in_trace, stream.gap = True, 0
        return finished, True
    if stream.failure is None:
        return [], False
    fields = stream.failure[0]
    if _TRACE_END.match(message):
        return [_finish(stream.close_failure())], True
    if _INVOKED.match(message) or _KILLED.match(message) or _CONSTRAINT.match(message):
        return [_finish(stream.close_failure())], False
    cpu = _CPU_LINE.match(message)
    if cpu and fields['pid'] is None and not fields['frames']:
        fields['pid'] = int(cpu.group('pid') or cpu.group('oldpid'))
        stream.gap = 0
        return [], True
    frame = _FRAME.match(message)
    if frame:
        stream.gap = 0
        module = frame.group('mod')
        if module and module not in fields['modules']:
            fields['modules'].append(module)
        name = clean_frame(frame.group('fn'))
        if not frame.group('unsure') and not is_generic_frame(name):
            fields['frames'].append(name)
        return [], True
    if _TRACE_MARK.match(message):
        stream.gap = 0
        return [], True
    stream.gap += 1
    if stream.gap > MAX_TRACE_GAP:
        return [_finish(stream.close_failure())], False
    return [], False


def _oom_line(stream, message):
    """Feed one message to the OOM kill reader; return the finished kill, or None."""
    invoked = _INVOKED.match(message)
    if invoked:
        stream.oom = dict(invoker_comm=invoked.group('comm'), constraint=None, memcg=None)
        return None
    constraint = _CONSTRAINT.match(message)
    if constraint:
        oom = stream.oom if stream.oom is not None else dict(invoker_comm=None, constraint=None, memcg=None)
        stream.oom = oom
        oom['constraint'] = _CONSTRAINTS.get(constraint.group('constraint'), constraint.group('constraint').lower())
        parts = dict(item.partition('=')[::2] for item in constraint.group('rest').split(',') if '=' in item)
        memcg = parts.get('oom_memcg') or (parts.get('task_memcg') if oom['constraint'] == 'memcg' else None)
        if memcg:
            oom['memcg'] = memcg
        return None
    task_in = _TASK_IN.match(message)
    if task_in and stream.oom is not None:
        stream.oom['memcg'] = task_in.group('limit')
        return None
    selected = _SELECT_OLD.match(message)
    if selected:
        oom = stream.oom if stream.oom is not None else dict(invoker_comm=None, constraint=None, memcg=None)
        stream.oom = oom
        if selected.group('memcg'):
            oom['constraint'] = 'memcg'
        return None
    killed = _KILLED.match(message)
    if not killed:
        return None
    oom = stream.oom or dict(invoker_comm=None, constraint=None, memcg=None)
    stream.oom = None
    constraint = oom['constraint']
    if killed.group('memcg'):
        constraint = 'memcg'
    if constraint is None:
        constraint = 'memcg' if oom['memcg'] else 'global'
    return dict(victim_pid=int(killed.group('pid')), victim_comm=killed.group('comm'),
                invoker_comm=oom['invoker_comm'], constraint=constraint, memcg=oom['memcg'],
                anon_rss_kb=int(killed.group('anon')))


def empty_events():
    return {kind: [] for kind in EVENT_KINDS}


def parse_events(lines, boot=None, into=None):
    """Group :func:`iter_events` by kind: ``{'page_alloc_failures': [...], 'oom_kills': [...], ...}``."""
    events = into if into is not None else empty_events()
    for kind, event in iter_events(lines, boot=boot):
        events[kind].append(event)
    return events
