# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet memory report: every host's memory_facts result in one dict, worst host first, and its renderings.

- :func:`build_report` takes ``{host: memory_facts result | {'unreachable': True, 'msg'} | {'failed': True, 'msg'}}``
  and the previous report (the dict an earlier call built, as read back from ``report.json``), and measures each
  host's SUnreclaim and unaccounted growth per hour against it. Growth above the threshold is a warning flag
  (``sunreclaim_growing``, ``unaccounted_growing``); a reboot in between (another ``boot_id``) skips it.
- :func:`render_markdown` and :func:`render_html` turn that dict into text. The HTML is one self-contained page: inline
  CSS and inline SVG, no script, no fetch of anything. Everything that came from a host (its name, flag reasons,
  process names) is escaped.
- A host that keeps a memory history (memory_facts' ``history``, from the opt-in memory_history role) gets it drawn:
  an SVG sparkline per series in HTML and a line of Unicode blocks in Markdown, with its summary (:func:`history`
  checks every figure; a malformed history is not drawn, and never refuses the host).

Pure standard library; nothing here reads or writes a file.
"""

from __future__ import annotations

import datetime
import html
import math
import numbers
import time

from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError

FORMAT = 1
WORST = ('critical', 'warning', 'ok')
FLAG_SEVERITIES = ('critical', 'warning', 'info')
DEFAULT_GROWTH_THRESHOLD_KB_PER_HOUR = 4096
ABSENT = 'absent'  # growth(): the host is not in the previous report
NO_PREVIOUS = 'no previous report'  # growth(): there is no previous report
GROWTH_KEYS = (('sunreclaim_kb', 'sunreclaim_kb_per_hour', 'sunreclaim_growing', 'SUnreclaim'),
               ('unaccounted_kb', 'unaccounted_kb_per_hour', 'unaccounted_growing', 'unaccounted memory'))
# Memory composition (the chart): key, label, colour. The parts add up to MemTotal.
PARTS = (('anon', 'apps (anon)', '#4e79a7'), ('shmem', 'shmem', '#9ecae9'), ('cache', 'page cache / other', '#bab0ac'),
         ('sreclaimable', 'SReclaimable', '#f1ce63'), ('sunreclaim', 'SUnreclaim', '#e15759'),
         ('unaccounted', 'unaccounted', '#b07aa1'), ('free', 'free', '#59a14f'))
# Swap is not part of MemTotal: its own bar under the RAM bar (used, free).
SWAP_PARTS = (('swap_used', 'swap used', '#76448a'), ('swap_free', 'swap free', '#d5dbe3'))
# Kernel-log events (memory_facts' events): kind, label, the fields shown (untrusted text from the host).
EVENT_KINDS = (('oom_kills', 'OOM kill', ('victim_comm', 'victim_pid', 'invoker_comm', 'constraint', 'memcg', 'anon_rss_kb')),
               ('page_alloc_failures', 'page allocation failure', ('comm', 'pid', 'order', 'mode', 'network_rx')),
               ('earlyoom_kills', 'earlyoom kill', ('comm', 'pid', 'signal', 'score')),
               ('unit_oom_kills', 'unit OOM kill', ('unit', 'by')))
MAX_EVENTS = 20  # per host, newest first
# The memory history (memory_facts' ``history``, from the opt-in memory_history role): the series drawn as sparklines
# (key, label, colour; swap only when some of it was in use), the numbers read from it, and the limits of what is drawn.
HISTORY_SERIES = (('sunreclaim_kb', 'SUnreclaim', '#e15759'), ('mem_available_kb', 'MemAvailable', '#1e8449'),
                  ('swap_used_kb', 'swap used', '#76448a'))
HISTORY_NUMBERS = ('samples', 'first_at', 'last_at', 'span_minutes', 'trend_minutes', 'sunreclaim_kb_per_hour',
                   'mem_available_kb_per_hour', 'growth_threshold_kb_per_hour', 'mem_available_min_kb', 'sunreclaim_max_kb',
                   'swap_kept_kb', 'oom_kills', 'warnings', 'last_warning_at')
MAX_SPARK_POINTS = 240  # memory_history sends at most 60 per series; a longer one is not drawn
MAX_SPARK_VALUE = 1e15  # kB; beyond it a value is not a memory figure
MAX_PATH_CHARS = 200
SPARK_BLOCKS = '▁▂▃▄▅▆▇█'  # the Markdown sparkline, lowest to highest
SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 240.0, 32.0, 3.0


class ReportError(RefusedError):
    """Bad input to the report (hosts not a mapping, a result of the wrong shape, a previous report of another format)."""


# ---------------------------------------------------------------- small helpers

def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _iso(epoch, minutes=False):
    stamp = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return stamp.strftime('%Y-%m-%dT%H:%MZ' if minutes else '%Y-%m-%dT%H:%M:%SZ')


def _mib(kb):
    if kb is None:
        return '–'
    kb = float(kb)
    return '%.0f MiB' % (kb / 1024.0) if abs(kb) >= 10240 else '%.1f MiB' % (kb / 1024.0)


def _rate(kb_per_hour):
    return '%+.1f MB/h' % (kb_per_hour / 1024.0)


def _flag(name, severity, reason):
    return dict(name=name, severity=severity, reason=reason)


def _mem(facts, key):
    value = (facts.get('memory') or {}).get(key)
    return value if _is_number(value) else None


# ---------------------------------------------------------------- validation

def _check_facts(host, facts):
    memory = facts.get('memory')
    if not isinstance(memory, dict):
        raise ReportError('host %s: the memory_facts result has no memory dict (got %s): pass the registered result of '
                          'lowmem.vps.memory_facts, or {unreachable: true} / {failed: true, msg: ...}'
                          % (host, type(memory).__name__))
    for key, value in memory.items():
        if value is not None and not _is_number(value):
            raise ReportError('host %s: memory.%s must be a number of kB, got %r' % (host, key, value))
    if facts.get('collected_at') is not None and not _is_number(facts['collected_at']):
        raise ReportError('host %s: collected_at must be epoch seconds, got %r' % (host, facts['collected_at']))
    flags = facts.get('flags', [])
    if not isinstance(flags, list):
        raise ReportError('host %s: flags must be a list, got %s' % (host, type(flags).__name__))
    for flag in flags:
        if not isinstance(flag, dict) or not isinstance(flag.get('name'), str) or flag.get('severity') not in FLAG_SEVERITIES:
            raise ReportError('host %s: each flag must be a dict with a name and a severity of %s, got %r'
                              % (host, ', '.join(FLAG_SEVERITIES), flag))
    slabs = facts.get('slab_top', [])
    if slabs is not None and not isinstance(slabs, list):
        raise ReportError('host %s: slab_top must be a list, got %s' % (host, type(slabs).__name__))


def _check_previous(previous):
    if previous is None:
        return {}
    if not isinstance(previous, dict):
        raise ReportError('previous must be a report dict (as build_report returns it), got %s' % type(previous).__name__)
    if previous.get('format') != FORMAT:
        raise ReportError('the previous report has format %r; this version reads format %d only: move the old report away '
                          '(growth is then not shown once)' % (previous.get('format'), FORMAT))
    entries = previous.get('hosts')
    if not isinstance(entries, list):
        raise ReportError('the previous report has no hosts list (got %s)' % type(entries).__name__)
    by_host = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get('host'), str):
            raise ReportError('the previous report has a host entry without a host name: %r' % (entry,))
        facts = entry.get('facts')
        if isinstance(facts, dict) and isinstance(facts.get('memory'), dict):
            by_host[entry['host']] = facts
        else:
            by_host[entry['host']] = None
    return by_host


# ---------------------------------------------------------------- growth

def growth(facts, before, threshold_kb_per_hour=DEFAULT_GROWTH_THRESHOLD_KB_PER_HOUR):
    """(growth dict or None, why it is None, extra flags) of ``facts`` against the same host's earlier facts.

    ``before`` is the earlier facts dict, None when the previous report has no figures of the host (it was unreachable
    or failed then), :data:`ABSENT` when the host is not in it, :data:`NO_PREVIOUS` without a previous report.
    The extra flags are warnings for growth above ``threshold_kb_per_hour``.
    """
    if before == NO_PREVIOUS:
        return None, 'no previous report to compare with', []
    if before is None:
        return None, 'the previous report has no figures of this host (it was unreachable or failed then)', []
    if before == ABSENT:
        return None, 'the host is not in the previous report', []
    now_at, then_at = facts.get('collected_at'), before.get('collected_at')
    if not _is_number(now_at) or not _is_number(then_at):
        return None, 'collected_at is missing, so growth per hour cannot be measured', []
    if facts.get('boot_id') and before.get('boot_id') and facts['boot_id'] != before['boot_id']:
        return None, 'the host rebooted since the previous report (boot_id changed): growth starts again from now', []
    seconds = now_at - then_at
    if seconds < 1:
        return None, 'less than a second since the previous report (%.3f s): growth is not measured' % seconds, []
    hours = seconds / 3600.0
    since = _iso(then_at)
    result = dict(hours=round(hours, 4), since=since)
    flags = []
    for key, rate_key, flag_name, label in GROWTH_KEYS:
        now_kb, then_kb = _mem(facts, key), _mem(before, key)
        if now_kb is None or then_kb is None:
            result[rate_key] = None
            continue
        rate = (now_kb - then_kb) / hours
        result[rate_key] = round(rate, 1)
        if rate > threshold_kb_per_hour:
            flags.append(_flag(flag_name, 'warning', '%s grew %.1f MB/h since %s (%s to %s in %.1f h; threshold %.1f MB/h)' % (
                label, rate / 1024.0, _iso(then_at, minutes=True), _mib(then_kb), _mib(now_kb), hours,
                threshold_kb_per_hour / 1024.0)))
    return result, None, flags


# ---------------------------------------------------------------- the report

def _worst(flags):
    severities = set(flag['severity'] for flag in flags)
    for severity in WORST[:2]:
        if severity in severities:
            return severity
    return 'ok'


def _sorted_flags(flags):
    order = dict((name, index) for index, name in enumerate(FLAG_SEVERITIES))
    return sorted(flags, key=lambda flag: order.get(flag['severity'], len(order)))


def _entry(host, result, before, threshold):
    if not isinstance(result, dict):
        raise ReportError('host %s: expected its memory_facts result (a dict), got %s' % (host, type(result).__name__))
    msg = result.get('msg')
    msg = '' if msg is None else str(msg)
    if result.get('unreachable'):
        flags = [_flag('unreachable', 'critical', 'the host could not be reached, so nothing was read%s'
                       % (': ' + msg if msg else ''))]
        return dict(host=host, worst='critical', flags=flags, facts=None, growth=None, growth_note='not read')
    if result.get('failed'):
        flags = [_flag('audit_failed', 'critical', 'memory_facts failed on the host%s' % (': ' + msg if msg else ''))]
        return dict(host=host, worst='critical', flags=flags, facts=None, growth=None, growth_note='not read')
    _check_facts(host, result)
    measured, note, extra = growth(result, before, threshold)
    flags = _sorted_flags([dict(flag) for flag in result.get('flags') or []] + extra)
    return dict(host=host, worst=_worst(flags), flags=flags, facts=result, growth=measured, growth_note=note)


def build_report(hosts, previous=None, now=None, growth_threshold_kb_per_hour=DEFAULT_GROWTH_THRESHOLD_KB_PER_HOUR):
    """The report dict (format 1) of ``hosts`` ({host: memory_facts result or unreachable/failed}), worst host first.

    ``previous`` is an earlier report dict (growth is measured against it); ``now`` the epoch time of the report
    (default: the clock). Raises :class:`ReportError` on input of the wrong shape.
    """
    if not isinstance(hosts, dict):
        raise ReportError('hosts must be a mapping of host name to its memory_facts result, got %s' % type(hosts).__name__)
    if not _is_number(growth_threshold_kb_per_hour) or growth_threshold_kb_per_hour <= 0:
        raise ReportError('growth_threshold_kb_per_hour must be a number above 0, got %r' % (growth_threshold_kb_per_hour,))
    if now is None:
        now = time.time()
    elif not _is_number(now):
        raise ReportError('now must be epoch seconds, got %r' % (now,))
    earlier = _check_previous(previous)
    missing = ABSENT if previous is not None else NO_PREVIOUS
    entries = []
    for host, result in hosts.items():
        if not isinstance(host, str) or not host:
            raise ReportError('host names must be non-empty strings, got %r' % (host,))
        entries.append(_entry(host, result, earlier.get(host, missing), growth_threshold_kb_per_hour))
    rank = dict((name, index) for index, name in enumerate(WORST))
    entries.sort(key=lambda entry: (rank[entry['worst']], -len(entry['flags']), entry['host']))
    by_name = {}
    for entry in entries:
        for name in sorted(set(flag['name'] for flag in entry['flags'])):
            by_name[name] = by_name.get(name, 0) + 1
    summary = dict(hosts=len(entries), flags_by_name=by_name)
    for severity in WORST:
        summary[severity] = sum(1 for entry in entries if entry['worst'] == severity)
    previous_at = None
    if previous is not None:
        previous_at = previous.get('generated_at')
    return {'format': FORMAT, 'generated_at': _iso(now), 'generated_epoch': now, 'previous_generated_at': previous_at,
            'growth_threshold_kb_per_hour': growth_threshold_kb_per_hour, 'hosts': entries, 'summary': summary}


# ---------------------------------------------------------------- shared by the renderers

def composition(memory):
    """[(key, label, colour, kB)] of the chart: the parts of MemTotal, page cache / other being what is left."""
    def get(key):
        value = memory.get(key)
        return max(value, 0) if _is_number(value) else 0
    total = get('mem_total_kb')
    free = memory.get('mem_free_kb')
    if not _is_number(free):
        free = min(get('mem_available_kb'), total)
    values = dict(anon=get('anon_pages_kb'), shmem=get('shmem_kb'), sreclaimable=get('sreclaimable_kb'),
                  sunreclaim=get('sunreclaim_kb'), unaccounted=get('unaccounted_kb'), free=max(free, 0))
    values['cache'] = max(total - sum(values.values()), 0)
    return [(key, label, colour, values[key]) for key, label, colour in PARTS]


def swap_composition(memory):
    """[(key, label, colour, kB)] of the swap bar (used, free); [] without swap."""
    total = memory.get('swap_total_kb')
    if not _is_number(total) or total <= 0:
        return []
    used = memory.get('swap_used_kb')
    used = min(max(used, 0), total) if _is_number(used) else 0
    values = dict(swap_used=used, swap_free=total - used)
    return [(key, label, colour, values[key]) for key, label, colour in SWAP_PARTS]


def events(facts):
    """[(kind label, time, {field: value})] of the host's kernel-log events, newest first, at most MAX_EVENTS."""
    found = []
    source = facts.get('events') or {}
    if not isinstance(source, dict):
        return []
    for kind, label, fields in EVENT_KINDS:
        for event in source.get(kind) or []:
            if not isinstance(event, dict):
                continue
            epoch = event.get('epoch')
            when = event.get('time')
            if not when and _is_number(epoch):
                when = _iso(epoch)
            if event.get('boot') not in (None, 0):
                when = '%s (boot %s)' % (when or '?', event['boot'])
            shown = [(name, event[name]) for name in fields if event.get(name) not in (None, '', [])]
            found.append((epoch if _is_number(epoch) else 0, label, when or '?', shown))
    found.sort(key=lambda item: -item[0])
    return [(label, when, shown) for epoch, label, when, shown in found[:MAX_EVENTS]]


def _event_text(shown):
    return ', '.join('%s %s' % (name, value) for name, value in shown)


def _number(value):
    """``value`` as a float when it is a finite real number (not a bool), else None."""
    if not _is_number(value):
        return None
    try:
        value = float(value)
    except (OverflowError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _series(values):
    """A history series as a list of floats; None when it is not a list of at most MAX_SPARK_POINTS memory figures."""
    if not isinstance(values, (list, tuple)) or len(values) > MAX_SPARK_POINTS:
        return None
    checked = [_number(value) for value in values]
    if any(value is None or abs(value) > MAX_SPARK_VALUE for value in checked):
        return None
    return checked


def history(facts):
    """``(history, note)``: memory_facts' ``history`` with every figure checked, or None and why it is not shown.

    The history comes from the host, so nothing in it is trusted: it is shown only as a dict with a number of samples
    (at least one) and a dict of series; a figure that is not a finite number becomes None, a series that is not a list
    of numbers is left out, a path that is not a string is dropped. ``(None, None)`` when the host keeps no history
    (the memory_history role is opt-in). A malformed history never refuses the host: it is just not drawn.
    """
    source = facts.get('history')
    if source is None:
        return None, None
    if not isinstance(source, dict):
        return None, 'the history in the facts is not a dict (got %s): not shown' % type(source).__name__
    checked = dict((key, _number(source.get(key))) for key in HISTORY_NUMBERS)
    if checked['samples'] is None or checked['samples'] < 1 or not isinstance(source.get('series'), dict):
        return None, 'the history in the facts has no number of samples or no series: not shown'
    path = source.get('path')
    checked['path'] = path[:MAX_PATH_CHARS] if isinstance(path, str) else None
    checked['sunreclaim_growing'] = source.get('sunreclaim_growing') is True
    checked['series'] = dict((key, _series(source['series'].get(key))) for key in ('epoch',) + tuple(
        item[0] for item in HISTORY_SERIES))
    return checked, None


def history_series(checked):
    """[(key, label, colour, values)] of the sparklines to draw: each series with points (swap only when some is used)."""
    drawn = []
    for key, label, colour in HISTORY_SERIES:
        values = checked['series'].get(key)
        if not values or (key == 'swap_used_kb' and max(values) <= 0):
            continue
        drawn.append((key, label, colour, values))
    return drawn


def _safe_iso(epoch):
    try:
        return _iso(epoch)
    except (OverflowError, ValueError, OSError):
        return '?'


def _or_unknown(value, form):
    return '?' if value is None else form(value)


def _span_text(checked):
    return _or_unknown(checked['span_minutes'], lambda minutes: '%.1f h' % (minutes / 60.0))


def history_text(checked):
    """One line: the samples and their span, SUnreclaim growth per hour, swap kept in use, OOM kills, journal warnings."""
    samples = int(checked['samples'])
    parts = ['%d sample%s over %s' % (samples, '' if samples == 1 else 's', _span_text(checked))]
    if checked['path']:
        parts[0] += ' in %s' % checked['path']
    rates = ['%s %s' % (label, _rate(checked[key])) for key, label in (
        ('sunreclaim_kb_per_hour', 'SUnreclaim'), ('mem_available_kb_per_hour', 'MemAvailable')) if checked[key] is not None]
    if rates:
        parts.append('%s over the last %s min%s' % (
            ', '.join(rates), _or_unknown(checked['trend_minutes'], lambda minutes: '%.0f' % minutes),
            ' (SUnreclaim growing)' if checked['sunreclaim_growing'] else ''))
    else:
        parts.append('growth per hour not measured yet (too few samples)')
    parts.append('lowest MemAvailable %s, highest SUnreclaim %s' % (
        _or_unknown(checked['mem_available_min_kb'], _mib), _or_unknown(checked['sunreclaim_max_kb'], _mib)))
    parts.append('swap kept in use: %s' % _or_unknown(checked['swap_kept_kb'], lambda kb: _mib(kb) if kb > 0 else 'none'))
    parts.append('OOM kills in the history: %s' % _or_unknown(checked['oom_kills'], lambda count: '%d' % count))
    warnings = 'journal warnings: %s' % _or_unknown(checked['warnings'], lambda count: '%d' % count)
    if checked['warnings'] and checked['last_warning_at'] is not None:
        warnings += ' (last at %s)' % _safe_iso(checked['last_warning_at'])
    parts.append(warnings)
    return '; '.join(parts)


def spark_figures(values):
    """min, max and last of a series, as text."""
    return 'min %s · max %s · last %s' % (_mib(min(values)), _mib(max(values)), _mib(values[-1]))


def sparkline_text(values):
    """The series as Unicode blocks (▁ lowest to █ highest), one per point; a flat series is a row of ▄."""
    if not values:
        return ''
    low, high = min(values), max(values)
    if high <= low:
        return SPARK_BLOCKS[3] * len(values)
    top = len(SPARK_BLOCKS) - 1
    return ''.join(SPARK_BLOCKS[int(round((value - low) / (high - low) * top))] for value in values)


def spark_points(values, width=SPARK_WIDTH, height=SPARK_HEIGHT, pad=SPARK_PAD):
    """[(x, y)] of the sparkline in a width × height box, oldest left, highest value on top. One point sits in the
    middle; a flat series is a line halfway up."""
    count = len(values)
    if not count:
        return []
    low, high = min(values), max(values)
    step = (width - 2 * pad) / (count - 1) if count > 1 else 0.0
    points = []
    for index, value in enumerate(values):
        x = pad + index * step if count > 1 else width / 2.0
        y = pad + (height - 2 * pad) * (high - value) / (high - low) if high > low else height / 2.0
        points.append((x, y))
    return points


def sizing_text(facts):
    """memory_facts' sizing advice as one line (None when the facts have none)."""
    advice = facts.get('sizing')
    if not isinstance(advice, dict) or 'outgrown' not in advice:
        return None
    figures = 'cannot be reclaimed %s%s, swap in use %s, OOM kills %s' % (
        _mib(advice.get('unreclaimable_kb')),
        ' (%s %% of RAM)' % advice['unreclaimable_percent'] if advice.get('unreclaimable_percent') is not None else '',
        _mib(advice.get('swap_used_kb')), advice.get('oom_kills', '?'))
    if advice['outgrown']:
        return 'outgrown its %s MB: needs the %s MB class (%s; %s)' % (
            advice.get('ram_class_mb'), advice.get('needed_ram_class_mb'), advice.get('reason'), figures)
    return 'fits its %s MB (%s)' % (advice.get('ram_class_mb'), figures)


def _summary_text(report):
    summary = report['summary']
    return '%d host(s): %d critical, %d warning, %d ok' % (summary['hosts'], summary['critical'], summary['warning'],
                                                           summary['ok'])


def _growth_text(entry):
    measured = entry.get('growth')
    if not measured:
        return None
    parts = []
    for key, rate_key, flag_name, label in GROWTH_KEYS:
        if measured.get(rate_key) is not None:
            parts.append('%s %s' % (label.split()[0], _rate(measured[rate_key])))
    return '%s over %.1f h' % (', '.join(parts), measured['hours'])


def _swap_text(memory):
    if not memory.get('swap_total_kb'):
        return 'none'
    return '%s / %s' % (_mib(memory.get('swap_used_kb') or 0), _mib(memory['swap_total_kb']))


# ---------------------------------------------------------------- Markdown

MD_SPECIAL = '\\`*_[]|~'  # inline syntax; no host text starts a line, so '#', '-', '+' need nothing


def _md(value):
    """One line of Markdown text showing ``value`` literally: ASCII punctuation that Markdown reads (emphasis, code
    spans, links, table pipes) is backslash-escaped, HTML's ``<``, ``>`` and ``&`` become entities, and line breaks
    become spaces, so a host's text cannot break the table, open a link or inject HTML."""
    text = ' '.join(str(value).split())
    text = text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
    return ''.join('\\' + char if char in MD_SPECIAL else char for char in text)


def _history_markdown(facts):
    checked, note = history(facts)
    if note:
        return ['', 'Memory history: %s.' % _md(note)]
    if checked is None:
        return []
    lines = ['', 'Memory history: %s.' % _md(history_text(checked))]
    drawn = history_series(checked)
    if drawn:
        lines.append('')
        lines += ['- %s %s %s' % (label, sparkline_text(values), _md(spark_figures(values))) for key, label, colour, values in drawn]
    return lines


def render_markdown(report):
    """The report as Markdown: a summary line, a table of hosts (worst first), then each host's flags and slab caches."""
    lines = ['# Fleet memory report', '',
             '**%s** — generated %s%s; growth flagged above %.1f MB/h.' % (
                 _summary_text(report), report['generated_at'],
                 ', growth since %s' % report['previous_generated_at'] if report.get('previous_generated_at') else '',
                 report['growth_threshold_kb_per_hour'] / 1024.0), '']
    by_name = report['summary'].get('flags_by_name') or {}
    if by_name:
        lines += ['Flags: ' + ', '.join('%s × %d' % (_md(name), count) for name, count in sorted(by_name.items())), '']
    lines += ['| host | worst | flags | MemAvailable | swap used | SUnreclaim | unaccounted | growth |',
              '|---|---|---|---:|---:|---:|---:|---|']
    for entry in report['hosts']:
        memory = (entry.get('facts') or {}).get('memory') or {}
        names = ', '.join(flag['name'] for flag in entry['flags']) or '–'
        if memory:
            figures = [_mib(memory.get('mem_available_kb')), _swap_text(memory), _mib(memory.get('sunreclaim_kb')),
                       _mib(memory.get('unaccounted_kb'))]
        else:
            figures = ['–'] * 4
        cells = [entry['host'], entry['worst'].upper(), names] + figures + [_growth_text(entry) or '–']
        lines.append('| %s |' % ' | '.join(_md(cell) for cell in cells))
    for entry in report['hosts']:
        facts = entry.get('facts') or {}
        lines += ['', '## %s — %s' % (_md(entry['host']), entry['worst']), '']
        if facts:
            lines.append('%s, kernel %s, up %s.' % (
                _md(facts.get('hostname') or entry['host']), _md(facts.get('kernel') or '?'), _uptime(facts.get('uptime_s'))))
            lines.append('')
        if entry['flags']:
            for flag in entry['flags']:
                lines.append('- **%s** %s: %s' % (flag['severity'], _md(flag['name']), _md(flag.get('reason') or '')))
        else:
            lines.append('No flags.')
        if entry.get('growth'):
            lines += ['', 'Growth since %s: %s.' % (entry['growth']['since'], _growth_text(entry))]
        elif facts and entry.get('growth_note'):
            lines += ['', 'Growth: %s.' % _md(entry['growth_note'])]
        if facts:
            lines += _history_markdown(facts)
        if facts:
            memory = facts.get('memory') or {}
            if sizing_text(facts):
                lines += ['', 'Sizing: %s.' % _md(sizing_text(facts))]
            parts = composition(memory) + swap_composition(memory)
            lines += ['', 'Memory: ' + ', '.join('%s %s' % (label, _mib(kb)) for key, label, colour, kb in parts) + '.']
            found = events(facts)
            if found:
                lines += ['', '| time | event | details |', '|---|---|---|']
                lines += ['| %s | %s | %s |' % (_md(when), _md(label), _md(_event_text(shown))) for label, when, shown in found]
            else:
                lines += ['', 'No memory events in the kernel log read.']
        slabs = facts.get('slab_top') or []
        if slabs:
            lines += ['', 'Top unreclaimable slab caches: ' + ', '.join(
                '%s %s' % (_md(cache.get('name')), _mib((cache.get('bytes') or 0) / 1024.0)) for cache in slabs[:5]) + '.']
        for note in facts.get('notes') or []:
            lines += ['', '_Note: %s_' % _md(note)]
    return '\n'.join(lines) + '\n'


def _uptime(seconds):
    if not _is_number(seconds):
        return '?'
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return '%d d %d h' % (days, hours)
    return '%d h %d min' % (hours, rest // 60)


# ---------------------------------------------------------------- HTML

CSS = """
:root { --crit: #c0392b; --warn: #d68910; --ok: #1e8449; --ink: #1f2933; --muted: #637083; --line: #e3e7ed; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f6f9; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 40px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0; word-break: break-all; }
.meta { color: var(--muted); margin: 0 0 16px; }
.cards { display: flex; gap: 12px; margin: 0 0 14px; }
.card { flex: 1; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; border-top: 4px solid #9aa5b1; }
.card b { display: block; font-size: 26px; line-height: 1.1; }
.overview td:first-child { white-space: nowrap; }
.card.critical { border-top-color: var(--crit); } .card.warning { border-top-color: var(--warn); } .card.ok { border-top-color: var(--ok); }
.chips { margin: 0 0 18px; padding: 0; list-style: none; display: flex; flex-wrap: wrap; gap: 6px; }
.chips li { background: #fff; border: 1px solid var(--line); border-radius: 12px; padding: 1px 10px; font-size: 12px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 5px 9px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.overview { border: 1px solid var(--line); border-radius: 8px; margin: 0 0 22px; }
.badge { display: inline-block; border-radius: 10px; padding: 0 9px; color: #fff; font-size: 12px; font-weight: 600;
  text-transform: uppercase; letter-spacing: .03em; }
.badge.critical { background: var(--crit); } .badge.warning { background: var(--warn); } .badge.ok { background: var(--ok); }
section.host { background: #fff; border: 1px solid var(--line); border-left: 6px solid var(--ok); border-radius: 8px;
  padding: 14px 18px; margin: 0 0 18px; }
section.host[data-worst=critical] { border-left-color: var(--crit); }
section.host[data-worst=warning] { border-left-color: var(--warn); }
.host header { display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; margin: 0 0 8px; }
.host header .sub { color: var(--muted); font-size: 13px; }
.cols { display: flex; gap: 18px; align-items: flex-start; }
.cols > .figures { flex: 0 0 330px; }
.cols > .right { flex: 1; min-width: 0; }
.figures th, .figures td { padding: 2px 8px; vertical-align: baseline; }
ul.flags { list-style: none; margin: 0 0 10px; padding: 0; }
li.flag { border-left: 4px solid #9aa5b1; background: #f7f8fa; padding: 5px 10px; margin: 0 0 5px; border-radius: 0 6px 6px 0; }
li.flag b { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
li.flag .sev { font-size: 11px; font-weight: 700; text-transform: uppercase; margin-right: 6px; }
li.sev-critical { border-left-color: var(--crit); background: #fdf0ee; } li.sev-critical .sev { color: var(--crit); }
li.sev-warning { border-left-color: var(--warn); background: #fef7e8; } li.sev-warning .sev { color: var(--warn); }
li.sev-info { border-left-color: #5d9cec; } li.sev-info .sev { color: #3b78c2; }
.noflags { color: var(--ok); font-weight: 600; margin: 0 0 10px; }
svg.bar { display: block; width: 100%; height: auto; margin: 4px 0 2px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 4px 0 10px; padding: 0; list-style: none; font-size: 12px; }
.legend i { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
.growth { font-size: 13px; margin: 4px 0 8px; } .growth.up { color: var(--warn); font-weight: 600; }
.sizing { font-size: 13px; margin: 4px 0 8px; } .sizing.up { color: var(--warn); font-weight: 600; }
.events { font-size: 12.5px; margin: 4px 0 8px; } .events td.when { white-space: nowrap; }
.slabs { font-size: 12.5px; color: var(--muted); margin: 6px 0 0; }
.history { font-size: 13px; margin: 6px 0 8px; } .history p { margin: 0 0 4px; }
.history.up .history-text { color: var(--warn); font-weight: 600; }
.spark-row { display: flex; align-items: center; gap: 10px; margin: 2px 0; font-size: 12px; }
.spark-row .spark-label { flex: 0 0 92px; color: var(--muted); }
.spark-row .spark-nums { font-variant-numeric: tabular-nums; white-space: nowrap; }
svg.spark { flex: 0 0 240px; width: 240px; height: 32px; background: #f7f8fa; border: 1px solid var(--line); border-radius: 3px; }
.notes { font-size: 12px; color: var(--muted); margin: 6px 0 0; padding-left: 18px; }
.msg { color: var(--muted); }
footer { color: var(--muted); font-size: 12px; margin-top: 20px; }
"""


def _e(value):
    return html.escape('' if value is None else str(value), quote=True)


def _bar_svg(memory):
    parts = composition(memory)
    total = float(sum(part[3] for part in parts)) or 1.0
    width, height = 760.0, 30.0
    shapes = []
    x = 0.0
    for key, label, colour, kb in parts:
        span = width * kb / total
        if span <= 0:
            continue
        shapes.append('<rect class="part-%s" x="%.2f" y="0" width="%.2f" height="%.0f" fill="%s"><title>%s: %s</title></rect>'
                      % (key, x, span, height, colour, _e(label), _e(_mib(kb))))
        if span > 46:
            shapes.append('<text x="%.2f" y="19.5" font-size="11" fill="%s" text-anchor="middle">%s</text>'
                          % (x + span / 2, '#fff' if key in ('anon', 'sunreclaim', 'unaccounted', 'free') else '#1f2933',
                             _e('%.0f%%' % (100.0 * kb / total))))
        x += span
    available = memory.get('mem_available_kb')
    if _is_number(available) and available > 0:
        start = width * (1 - min(float(available), total) / total)
        shapes.append('<path d="M%.2f 36 v5 H%.2f v-5" fill="none" stroke="#1e8449" stroke-width="1.5"/>' % (start + 1, width - 1))
        shapes.append('<text x="%.2f" y="54" font-size="11" fill="#1e8449" text-anchor="end">MemAvailable %s</text>'
                      % (width - 1, _e(_mib(available))))
    swap = swap_composition(memory)
    swap_total = float(sum(part[3] for part in swap)) or 1.0
    x = 0.0
    for key, label, colour, kb in swap:
        span = width * kb / swap_total
        if span > 0:
            shapes.append('<rect class="part-%s" x="%.2f" y="62" width="%.2f" height="14" fill="%s"><title>%s: %s</title></rect>'
                          % (key, x, span, colour, _e(label), _e(_mib(kb))))
        x += span
    shapes.append('<text x="0" y="92" font-size="11" fill="#637083">%s</text>'
                  % _e('swap: %s used of %s' % (_mib(swap[0][3]), _mib(swap_total)) if swap else 'swap: none'))
    return ('<svg class="bar" viewBox="0 0 760 96" role="img" aria-label="memory composition">'
            '<rect x="0" y="0" width="760" height="30" fill="#eef1f5"/>%s</svg>' % ''.join(shapes))


def _legend(memory):
    return '<ul class="legend">%s</ul>' % ''.join(
        '<li><i style="background:%s"></i>%s %s</li>' % (colour, _e(label), _e(_mib(kb)))
        for key, label, colour, kb in composition(memory) + swap_composition(memory))


def _events_html(facts):
    found = events(facts)
    if not found:
        return '<p class="msg events-none">No memory events in the kernel log read.</p>'
    return '<table class="events"><tr><th>time</th><th>event</th><th>details</th></tr>%s</table>' % ''.join(
        '<tr class="event"><td class="when">%s</td><td>%s</td><td>%s</td></tr>' % (_e(when), _e(label), _e(_event_text(shown)))
        for label, when, shown in found)


def _spark_svg(host, label, colour, values, checked):
    points = spark_points(values)
    count = len(values)
    title = '%s: %s over %s, %d point%s (%s)' % (host, label, _span_text(checked), count, '' if count == 1 else 's',
                                                 spark_figures(values))
    last_x, last_y = points[-1]
    return ('<svg class="spark" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s"><title>%s</title>'
            '<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-linejoin="round"/>'
            '<circle cx="%.2f" cy="%.2f" r="2.2" fill="%s"/></svg>'
            % (SPARK_WIDTH, SPARK_HEIGHT, _e(title), _e(title), ' '.join('%.2f,%.2f' % point for point in points), colour,
               last_x, last_y, colour))


def _history_html(host, facts):
    checked, note = history(facts)
    if note:
        return '<p class="history msg">Memory history: %s</p>' % _e(note)
    if checked is None:
        return ''
    rows = ['<div class="spark-row" data-series="%s"><span class="spark-label">%s</span>%s<span class="spark-nums">%s</span></div>'
            % (key, _e(label), _spark_svg(host, label, colour, values, checked), _e(spark_figures(values)))
            for key, label, colour, values in history_series(checked)]
    return '<div class="history%s"><p class="history-text"><b>Memory history</b> %s</p>%s</div>' % (
        ' up' if checked['sunreclaim_growing'] else '', _e(history_text(checked)), ''.join(rows))


def _figures(facts):
    memory = facts.get('memory') or {}
    psi = facts.get('psi') or {}
    some = (psi.get('some') or {}).get('avg10') if isinstance(psi.get('some'), dict) else None
    events = facts.get('events') or {}
    earlyoom = facts.get('earlyoom') or {}
    journal = facts.get('journal') or {}
    zswap = facts.get('zswap') or {}
    rows = [('MemTotal', _mib(memory.get('mem_total_kb'))), ('MemAvailable', _mib(memory.get('mem_available_kb'))),
            ('swap used', _swap_text(memory)), ('AnonPages', _mib(memory.get('anon_pages_kb'))),
            ('Shmem', _mib(memory.get('shmem_kb'))), ('SReclaimable', _mib(memory.get('sreclaimable_kb'))),
            ('SUnreclaim', _mib(memory.get('sunreclaim_kb'))), ('unaccounted', _mib(memory.get('unaccounted_kb')))]
    if zswap:
        rows.append(('zswap pool', _mib(zswap.get('pool_kb')) if zswap.get('pool_kb') is not None else 'on'))
    if some is not None:
        rows.append(('PSI some avg10', '%s %%' % some))
    rows.append(('earlyoom', 'running' if earlyoom.get('active') else 'not running'))
    if journal:
        rows.append(('journal', 'persistent' if journal.get('persistent') else 'volatile'))
    counts = [(label, len(events.get(key) or [])) for key, label in (
        ('oom_kills', 'OOM kills'), ('page_alloc_failures', 'page alloc failures'), ('earlyoom_kills', 'earlyoom kills'),
        ('unit_oom_kills', 'unit OOM kills'))]
    rows += [(label, str(count)) for label, count in counts if count]
    return '<table class="figures">%s</table>' % ''.join(
        '<tr><th>%s</th><td class="num">%s</td></tr>' % (_e(name), _e(value)) for name, value in rows)


def _flags_html(flags):
    if not flags:
        return '<p class="noflags">No flags: nothing to do.</p>'
    return '<ul class="flags">%s</ul>' % ''.join(
        '<li class="flag sev-%s" data-flag="%s" data-severity="%s"><span class="sev">%s</span><b>%s</b> %s</li>'
        % (_e(flag['severity']), _e(flag['name']), _e(flag['severity']), _e(flag['severity']), _e(flag['name']),
           _e(flag.get('reason') or '')) for flag in flags)


def _host_section(index, entry):
    facts = entry.get('facts') or {}
    sub = ''
    if facts:
        hostname = facts.get('hostname')
        read_at = _iso(facts['collected_at']) if _is_number(facts.get('collected_at')) else '?'
        sub = '%skernel %s · up %s · read %s' % (hostname + ' · ' if hostname and hostname != entry['host'] else '',
                                                 facts.get('kernel') or '?', _uptime(facts.get('uptime_s')), read_at)
    out = ['<section class="host" id="host-%d" data-host="%s" data-worst="%s">' % (index, _e(entry['host']), _e(entry['worst'])),
           '<header><h2>%s</h2><span class="badge %s">%s</span><span class="sub">%s</span></header>'
           % (_e(entry['host']), _e(entry['worst']), _e(entry['worst']), _e(sub))]
    if not facts:
        out.append(_flags_html(entry['flags']))
        out.append('</section>')
        return '\n'.join(out)
    memory = facts.get('memory') or {}
    out.append('<div class="cols"><div class="figures">%s</div><div class="right">' % _figures(facts))
    out.append(_flags_html(entry['flags']))
    out.append(_bar_svg(memory))
    out.append(_legend(memory))
    out.append(_events_html(facts))
    measured = entry.get('growth')
    if measured:
        up = any((measured.get(rate_key) or 0) > 0 for key, rate_key, name, label in GROWTH_KEYS)
        out.append('<p class="growth%s">Growth since %s: %s</p>' % (
            ' up' if up else '', _e(measured['since']), _e(_growth_text(entry))))
    elif entry.get('growth_note'):
        out.append('<p class="growth msg">Growth: %s</p>' % _e(entry['growth_note']))
    out.append(_history_html(entry['host'], facts))
    slabs = facts.get('slab_top') or []
    if slabs:
        out.append('<p class="slabs">Largest unreclaimable slab caches: %s</p>' % ', '.join(
            '<b>%s</b> %s' % (_e(cache.get('name')), _e(_mib((cache.get('bytes') or 0) / 1024.0))) for cache in slabs[:6]))
    if sizing_text(facts):
        outgrown = (facts.get('sizing') or {}).get('outgrown')
        out.append('<p class="sizing%s">Sizing: %s</p>' % (' up' if outgrown else '', _e(sizing_text(facts))))
    notes = facts.get('notes') or []
    if notes:
        out.append('<ul class="notes">%s</ul>' % ''.join('<li>%s</li>' % _e(note) for note in notes))
    out.append('</div></div></section>')
    return '\n'.join(out)


def render_html(report):
    """The report as one self-contained HTML page (inline CSS and SVG, nothing fetched), worst host first."""
    summary = report['summary']
    meta = 'Generated %s' % report['generated_at']
    if report.get('previous_generated_at'):
        meta += ' · growth since the report of %s' % report['previous_generated_at']
    meta += ' · growth flagged above %.1f MB/h' % (report['growth_threshold_kb_per_hour'] / 1024.0)
    cards = ''.join('<div class="card %s"><b>%d</b>%s</div>' % (name, summary[name], label) for name, label in (
        ('hosts', 'hosts'), ('critical', 'critical'), ('warning', 'warning'), ('ok', 'ok')))
    chips = ''.join('<li>%s × %d</li>' % (_e(name), count) for name, count in sorted((summary.get('flags_by_name') or {}).items(),
                                                                                     key=lambda item: (-item[1], item[0])))
    rows = []
    for index, entry in enumerate(report['hosts']):
        memory = (entry.get('facts') or {}).get('memory') or {}
        cells = [_mib(memory.get('mem_available_kb')), _swap_text(memory), _mib(memory.get('sunreclaim_kb')),
                 _mib(memory.get('unaccounted_kb'))] if memory else ['–'] * 4
        rows.append('<tr><td><a href="#host-%d">%s</a></td><td><span class="badge %s">%s</span></td><td class="num">%d</td>%s<td>%s</td></tr>'
                    % (index, _e(entry['host']), _e(entry['worst']), _e(entry['worst']), len(entry['flags']),
                       ''.join('<td class="num">%s</td>' % _e(cell) for cell in cells), _e(_growth_text(entry) or '–')))
    page = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<title>Fleet memory report — %s</title>' % _e(_summary_text(report)),
            '<style>%s</style></head><body><main>' % CSS,
            '<h1>Fleet memory report</h1>', '<p class="meta">%s</p>' % _e(meta),
            '<div class="cards">%s</div>' % cards]
    if chips:
        page.append('<ul class="chips">%s</ul>' % chips)
    page.append('<table class="overview"><tr><th>host</th><th>worst</th><th class="num">flags</th><th class="num">MemAvailable</th>'
                '<th class="num">swap used</th><th class="num">SUnreclaim</th><th class="num">unaccounted</th><th>growth</th></tr>'
                '%s</table>' % ''.join(rows))
    page += [_host_section(index, entry) for index, entry in enumerate(report['hosts'])]
    page.append('<footer>lowmem.vps fleet_report · format %d · %s</footer>' % (report.get('format', FORMAT), _e(_summary_text(report))))
    page.append('</main></body></html>')
    return '\n'.join(page) + '\n'
