# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Summary, table and PNG timelines of bench/storm's rounds (one JSON object per round, see bench/storm).

    python3 bench/storm_report.py RESULTS.json [--png-dir DIR] [--markdown]

RESULTS.json is ``{"rounds": [...], "meta": {...}}``. The table has one column per side (stock, hardened,
stock+ttl, hardened+ttl, then any other side), one row per metric. Summed counts are over all rounds of a side;
"median (min–max)" is over the per-round values. Stdlib only; matplotlib is imported by the plotting code alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys

SIDE_ORDER = ('stock', 'hardened', 'stock+ttl', 'hardened+ttl')
SERVICE_ORDER = ('ssh', 'nginx', 'supervisor')
SERVICE_NAMES = {'ssh': 'sshd', 'supervisor': 'supervisord'}
PROBE_TIMEOUT_S = 5.0
NONE = '—'


def _by_t(items):
    return sorted(items or (), key=lambda item: item['t'])


def threshold_crossed(rnd):
    """First sample t at which earlyoom's condition holds: MemAvailable <= mem_percent % of MemTotal and
    SwapFree <= swap_percent % of SwapTotal (without swap, the memory condition alone); None if never."""
    threshold = rnd.get('threshold') or {}
    mem_pct = threshold.get('mem_percent', 10)
    swap_pct = threshold.get('swap_percent', 10)
    for sample in _by_t(rnd.get('samples')):
        mem_low = sample['mem_available_kb'] * 100 <= mem_pct * sample['mem_total_kb']
        swap_total = sample.get('swap_total_kb') or 0
        swap_low = swap_total == 0 or sample['swap_free_kb'] * 100 <= swap_pct * swap_total
        if mem_low and swap_low:
            return sample['t']
    return None


def p95(values):
    """95th percentile by the nearest-rank method (the ceil(0.95 n)-th smallest value); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def longest_failed_run(probes):
    """(count, seconds) of the longest run of consecutive failed probes; seconds from the first failed probe's
    start to the moment the last one gave up. (0, 0.0) when none failed."""
    best = (0, 0.0)
    run = []
    for probe in _by_t(probes) + [{'t': math.inf, 'ok': True}]:
        if not probe['ok']:
            run.append(probe)
            continue
        if len(run) > best[0]:
            best = (len(run), run[-1]['t'] + run[-1].get('latency_s', 0.0) - run[0]['t'])
        run = []
    return best


def round_metrics(rnd):
    """The figures of one round (None where there is nothing to measure)."""
    out = {'side': rnd.get('side'), 'round': rnd.get('round')}
    probes = rnd.get('probes') or {}
    for kind in ('ssh', 'http'):
        kind_probes = probes.get(kind) or []
        latencies = [p['latency_s'] for p in kind_probes]
        out[kind + '_sent'] = len(kind_probes)
        out[kind + '_answered'] = sum(1 for p in kind_probes if p['ok'])
        out[kind + '_worst_s'] = max(latencies) if latencies else None
        out[kind + '_p95_s'] = p95(latencies)
    out['ssh_fail_run'], out['ssh_fail_run_s'] = longest_failed_run(probes.get('ssh'))
    kills = _by_t(rnd.get('kills'))
    first = kills[0] if kills else None
    out['first_kill_t'] = first['t'] if first else None
    out['first_victim'] = '%s (%s)' % (first['comm'], first['by']) if first else None
    out['threshold_t'] = threshold_crossed(rnd)
    if first is None or out['threshold_t'] is None:
        out['threshold_to_kill_s'] = None
    else:
        out['threshold_to_kill_s'] = first['t'] - out['threshold_t']
    out['page_alloc_failures'] = rnd.get('page_alloc_failures') or 0
    before = rnd.get('pids_before') or {}
    after = rnd.get('pids_after') or {}
    out['pids_kept'] = {name: after.get(name) is not None and after.get(name) == pid for name, pid in before.items()}
    samples = rnd.get('samples') or []
    out['min_mem_available_kb'] = min((s['mem_available_kb'] for s in samples), default=None)
    out['max_swap_used_kb'] = max(((s.get('swap_total_kb') or 0) - (s.get('swap_free_kb') or 0) for s in samples), default=None)
    return out


def spread(values):
    """{'median', 'min', 'max', 'n'} of the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    return {'median': statistics.median(present), 'min': min(present), 'max': max(present), 'n': len(present)}


def _pct(answered, sent):
    return 100.0 * answered / sent if sent else None


def group_by_side(rounds):
    """{side: [rounds]} in SIDE_ORDER, then any other side in first-seen order; rounds sorted by number."""
    seen = []
    for rnd in rounds:
        if rnd.get('side') not in seen:
            seen.append(rnd.get('side'))
    order = [s for s in SIDE_ORDER if s in seen] + [s for s in seen if s not in SIDE_ORDER]
    return {side: sorted((r for r in rounds if r.get('side') == side), key=lambda r: r.get('round') or 0) for side in order}


def valid_rounds(rounds):
    """The rounds that measured a storm: a guest that rebooted during it (``guest_rebooted``) measured none."""
    return [rnd for rnd in rounds or () if not rnd.get('guest_rebooted')]


def lost_rounds(rounds):
    """'side round N' for every round dropped by :func:`valid_rounds`."""
    return ['%s round %s' % (rnd.get('side'), rnd.get('round')) for rnd in rounds or () if rnd.get('guest_rebooted')]


def summarize(rounds):
    """One summary dict per side, in side order (rounds whose guest rebooted left out)."""
    summary = []
    for side, side_rounds in group_by_side(valid_rounds(rounds)).items():
        metrics = [round_metrics(r) for r in side_rounds]
        entry = {'side': side, 'rounds': len(metrics)}
        for kind in ('ssh', 'http'):
            entry[kind] = {
                'answered': sum(m[kind + '_answered'] for m in metrics),
                'sent': sum(m[kind + '_sent'] for m in metrics),
                'pct': spread(_pct(m[kind + '_answered'], m[kind + '_sent']) for m in metrics),
            }
        for key in ('ssh_worst_s', 'ssh_p95_s', 'http_worst_s', 'http_p95_s', 'first_kill_t', 'threshold_to_kill_s',
                    'ssh_fail_run_s'):
            entry[key] = spread(m[key] for m in metrics)
        victims = {}
        for m in metrics:
            if m['first_victim'] is not None:
                victims[m['first_victim']] = victims.get(m['first_victim'], 0) + 1
        # most frequent first; equal counts stay in the order first seen (sorted() is stable)
        entry['first_victims'] = sorted(victims.items(), key=lambda item: -item[1])
        entry['rounds_without_kill'] = sum(1 for m in metrics if m['first_victim'] is None)
        entry['page_alloc_failures'] = sum(m['page_alloc_failures'] for m in metrics)
        kept = {}
        for m in metrics:
            for name, ok in m['pids_kept'].items():
                kept.setdefault(name, [0, 0])
                kept[name][0] += int(ok)
                kept[name][1] += 1
        entry['pids_kept'] = {name: tuple(kept[name]) for name in _services(kept)}
        summary.append(entry)
    return summary


def _services(names):
    return [s for s in SERVICE_ORDER if s in names] + sorted(s for s in names if s not in SERVICE_ORDER)


# ---- table ----

def _num(value):
    """Seconds: two decimals below 1 s (0.31), one above (5.2)."""
    if abs(value) < 1 and value != 0:
        return '%.2f' % value
    return '%.1f' % value


def fmt_spread(sp, unit=' s', rounds=None):
    """'5.2 s (4.9–6.0)'; just '5.2 s' when every round agrees; ', N of M rounds' when some had no value."""
    if sp is None:
        return NONE
    text = _num(sp['median']) + unit
    parts = []
    if sp['min'] != sp['max']:
        # a dash between negative numbers reads badly: '-47.8 to -45.8'
        parts.append(('%s to %s' if sp['min'] < 0 else '%s–%s') % (_num(sp['min']), _num(sp['max'])))
    if rounds is not None and sp['n'] < rounds:
        parts.append('%d of %d rounds' % (sp['n'], rounds))
    return text + (' (%s)' % '; '.join(parts) if parts else '')


def fmt_percent(value):
    text = '%.1f' % value
    return text[:-2] if text.endswith('.0') else text


def fmt_answered(probes):
    """'81/81 (100 %)': answered/sent over all rounds, the per-round percentage's median and min–max."""
    if not probes['sent']:
        return NONE
    sp = probes['pct']
    text = '%d/%d (%s %%' % (probes['answered'], probes['sent'], fmt_percent(sp['median']))
    if sp['min'] != sp['max']:
        text += ', %s–%s' % (fmt_percent(sp['min']), fmt_percent(sp['max']))
    return text + ')'


def fmt_victims(entry):
    if not entry['first_victims']:
        return NONE
    parts = ['%s ×%d' % item for item in entry['first_victims']]
    if entry['rounds_without_kill']:
        parts.append('no kill ×%d' % entry['rounds_without_kill'])
    return ', '.join(parts)


def fmt_kept(entry, services):
    """'3 / 3 / 2 of 3' (rounds that kept each service's PID, in the row label's order)."""
    if not entry['pids_kept']:
        return NONE
    counts = [str(entry['pids_kept'][s][0]) if s in entry['pids_kept'] else NONE for s in services]
    return '%s of %d' % (' / '.join(counts), entry['rounds'])


def table_rows(summary):
    """[header, row, ...]: the first column names the metric, then one column per side."""
    services = _services({name for entry in summary for name in entry['pids_kept']})
    kept_label = ' / '.join(SERVICE_NAMES.get(s, s) for s in services) + ' kept PID (rounds)'
    rows = [
        ('rounds', lambda e: str(e['rounds'])),
        ('probes answered: SSH (via stream port)', lambda e: fmt_answered(e['ssh'])),
        ('probes answered: HTTP', lambda e: fmt_answered(e['http'])),
        ('worst SSH latency', lambda e: fmt_spread(e['ssh_worst_s'])),
        ('p95 SSH latency', lambda e: fmt_spread(e['ssh_p95_s'])),
        ('first kill (s after storm start)', lambda e: fmt_spread(e['first_kill_t'], rounds=e['rounds'])),
        ('threshold → first kill (s)', lambda e: fmt_spread(e['threshold_to_kill_s'], rounds=e['rounds'])),
        ('first victim (by)', fmt_victims),
        ('page allocation failures', lambda e: str(e['page_alloc_failures'])),
        (kept_label, lambda e: fmt_kept(e, services)),
    ]
    table = [['metric'] + [e['side'] for e in summary]]
    table += [[label] + [cell(e) for e in summary] for label, cell in rows]
    return table


def render_table(summary, fmt='markdown'):
    """The summary as ONE table, sides as columns: 'markdown' (for the README) or 'text' (aligned, for a terminal)."""
    table = table_rows(summary)
    if fmt == 'markdown':
        lines = ['| ' + ' | '.join(c.replace('|', '\\|') for c in row) + ' |' for row in table]
        lines.insert(1, '|' + '|'.join(['---'] * len(table[0])) + '|')
        return '\n'.join(lines) + '\n'
    if fmt == 'text':
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        lines = ['  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table]
        lines.insert(1, '  '.join('-' * w for w in widths))
        return '\n'.join(lines) + '\n'
    raise ValueError('render_table: fmt must be markdown or text, not %r' % (fmt,))


# ---- plots ----

def median_round(rounds):
    """The round whose SSH answered % is the (lower) median; among equal percentages the lowest round number."""
    def key(rnd):
        m = round_metrics(rnd)
        pct = _pct(m['ssh_answered'], m['ssh_sent'])
        return (-1.0 if pct is None else pct, rnd.get('round') or 0)
    ordered = sorted(rounds, key=key)
    target = key(ordered[(len(ordered) - 1) // 2])[0]
    return next(r for r in ordered if key(r)[0] == target)


def _check_plottable(rounds):
    if not rounds:
        raise ValueError('plot_side: no rounds to plot')
    sides = sorted({str(r.get('side')) for r in rounds})
    if len(sides) > 1:
        raise ValueError('plot_side: the rounds belong to several sides (%s); plot one side at a time' % ', '.join(sides))
    chosen = median_round(rounds)
    if not chosen.get('samples'):
        raise ValueError('plot_side: side %s round %s (the median round) has no memory samples to plot'
                         % (chosen.get('side'), chosen.get('round')))
    return chosen


def _memory_lines(ax, rnd, bold):
    samples = _by_t(rnd.get('samples'))
    t = [s['t'] for s in samples]
    avail = [s['mem_available_kb'] / 1024 for s in samples]
    swap = [((s.get('swap_total_kb') or 0) - (s.get('swap_free_kb') or 0)) / 1024 for s in samples]
    style = {'linewidth': 2.0} if bold else {'linewidth': 0.7, 'alpha': 0.3}
    ax.plot(t, avail, color='tab:blue', label='MemAvailable' if bold else None, **style)
    ax.plot(t, swap, color='tab:purple', label='swap used' if bold else None, **style)


def _probe_markers(ax, rnd, timeout):
    styles = {'ssh': ('o', 'tab:blue', 'x', 'red'), 'http': ('s', 'tab:green', '+', 'darkred')}
    for kind, (ok_marker, ok_color, fail_marker, fail_color) in styles.items():
        probes = (rnd.get('probes') or {}).get(kind) or []
        ok = [p for p in probes if p['ok']]
        failed = [p for p in probes if not p['ok']]
        ax.scatter([p['t'] for p in ok], [p['latency_s'] for p in ok], s=12, marker=ok_marker, color=ok_color,
                   label='%s answered' % kind.upper())
        ax.scatter([p['t'] for p in failed], [timeout] * len(failed), s=40, marker=fail_marker, color=fail_color,
                   label='%s failed (at timeout)' % kind.upper())
    ax.axhline(timeout, color='grey', linestyle=':', linewidth=0.8)


def plot_side(rounds, path, title=None):
    """One PNG (1200×700 px) of one side's rounds: memory on top, probe latency below, for the median round
    (other rounds' memory thin and faded); kills as vertical lines, the threshold crossing dashed. Returns path."""
    chosen = _check_plottable(rounds)
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.transforms import blended_transform_factory
    except ImportError as exc:
        raise RuntimeError('plot_side: matplotlib is needed for the PNGs (pip install -r requirements/test.txt): %s' % exc) from exc
    fig = Figure(figsize=(12, 7), dpi=100, layout='constrained')
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True)
    for rnd in rounds:
        if rnd is not chosen and rnd.get('samples'):
            _memory_lines(top, rnd, bold=False)
    _memory_lines(top, chosen, bold=True)
    top.set_ylabel('MiB')
    timeout = max([PROBE_TIMEOUT_S] + [p['latency_s'] for ps in (chosen.get('probes') or {}).values() for p in ps if not p['ok']])
    _probe_markers(bottom, chosen, timeout)
    bottom.set_ylabel('probe latency (s)')
    bottom.set_xlabel('s after storm start (round %s)' % chosen.get('round'))
    crossed = threshold_crossed(chosen)
    for ax in (top, bottom):
        for kill in _by_t(chosen.get('kills')):
            ax.axvline(kill['t'], color='red' if kill['by'] == 'kernel' else 'darkorange', linewidth=1.2)
        if crossed is not None:
            ax.axvline(crossed, color='black', linestyle='--', linewidth=1.0)
    label_at = blended_transform_factory(top.transData, top.transAxes)
    for kill in _by_t(chosen.get('kills')):
        top.text(kill['t'], 0.98, ' %s (%s)' % (kill['comm'], kill['by']), transform=label_at, rotation=90,
                 va='top', ha='right', fontsize=8)
    if crossed is not None:
        top.text(crossed, 0.02, ' earlyoom threshold ', transform=label_at, rotation=90, va='bottom', ha='right', fontsize=8)
    top.legend(loc='best', fontsize=8)
    bottom.set_ylim(0, timeout * 1.3)  # room above the timeout line for the legend
    bottom.legend(loc='upper left', fontsize=8, ncol=4)
    if title is None:
        entry = summarize(rounds)[0]
        title = '%s: %d round%s, SSH probes answered %s; median round %s drawn bold' % (
            entry['side'], entry['rounds'], '' if entry['rounds'] == 1 else 's', fmt_answered(entry['ssh']),
            chosen.get('round'))
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    return path


def plot_all(rounds, outdir):
    """storm-<side>.png ('+' in the side made '-') in outdir for each side present; returns the paths."""
    os.makedirs(outdir, exist_ok=True)
    return [plot_side(side_rounds, os.path.join(outdir, 'storm-%s.png' % str(side).replace('+', '-')))
            for side, side_rounds in group_by_side(valid_rounds(rounds)).items()]


def main(argv=None):
    parser = argparse.ArgumentParser(description='Re-render the storm table (and PNGs) from a saved results file.')
    parser.add_argument('results', help='JSON file: {"rounds": [...], "meta": {...}}')
    parser.add_argument('--png-dir', help='also write storm-<side>.png here')
    parser.add_argument('--markdown', action='store_true', help='Markdown table (default: aligned text)')
    args = parser.parse_args(argv)
    try:
        with open(args.results, encoding='utf-8') as handle:
            data = json.load(handle)
        rounds = data['rounds'] if isinstance(data, dict) else data
        sys.stdout.write(render_table(summarize(rounds), 'markdown' if args.markdown else 'text'))
        if lost_rounds(rounds):
            print('left out (the guest rebooted during the storm): %s' % ', '.join(lost_rounds(rounds)))
        if args.png_dir:
            for path in plot_all(rounds, args.png_dir):
                print('wrote %s' % path, file=sys.stderr)
    except KeyError as exc:
        print('storm_report: %s: missing key %s' % (args.results, exc), file=sys.stderr)
        return 1
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        print('storm_report: %s: %s' % (args.results, exc), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
