# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/storm_report.py on rounds built here: earlyoom's threshold, per-round figures, the per-side summary,
the one table (Markdown and aligned text) and the PNG timelines (real matplotlib, checked by their PNG header)."""

from __future__ import annotations

import importlib.util
import json
import os
import struct

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
_SPEC = importlib.util.spec_from_file_location('storm_report', os.path.join(ROOT, 'bench', 'storm_report.py'))
sr = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(sr)

MEM_TOTAL = 472000
SWAP_TOTAL = 2097148


def sample(t, avail, swap_free=SWAP_TOTAL, swap_total=SWAP_TOTAL):
    return {'t': t, 'mem_total_kb': MEM_TOTAL, 'mem_available_kb': avail, 'swap_total_kb': swap_total, 'swap_free_kb': swap_free}


def probes(spec, start=0.0):
    """'..x.' -> one probe a second: '.' answered in 1.5 s, 'x' failed after the 5 s timeout; or (ok, latency) pairs."""
    items = [(c == '.', 1.5 if c == '.' else 5.0) for c in spec] if isinstance(spec, str) else spec
    return [{'t': start + i, 'ok': ok, 'latency_s': latency, 'error': None if ok else 'timeout'}
            for i, (ok, latency) in enumerate(items)]


def make_round(side='stock', number=1, ssh='....', http='....', samples=None, kills=(), pids_after=None, **extra):
    pids_before = {'ssh': 501, 'nginx': 610, 'supervisor': 620}
    rnd = {
        'side': side, 'round': number, 'seed': 1000 + number, 'min_ttl_ms': 1000 if 'ttl' in side else 0, 'duration_s': 150.0,
        'probes': {'ssh': probes(ssh), 'http': probes(http, start=0.5)},
        'samples': [sample(0.0, 300000), sample(1.0, 40000, 500000), sample(3.0, 30000, 200000)] if samples is None else samples,
        'threshold': {'mem_percent': 10, 'swap_percent': 20},
        'kills': [{'t': t, 'by': by, 'comm': comm, 'pid': 900 + i} for i, (t, comm, by) in enumerate(kills)],
        'page_alloc_failures': 0,
        'pids_before': pids_before,
        'pids_after': dict(pids_before) if pids_after is None else pids_after,
        'traffic': {'streams': 32, 'bytes_sent': 123456789}, 'machine': '2 cores, TCG', 'date': '2026-12-03T18:00:00Z',
    }
    rnd.update(extra)
    return rnd


# ---- one round ----

def test_threshold_needs_memory_and_swap_low():
    samples = [sample(0.0, 300000), sample(1.0, 40000), sample(2.0, 40000, 500000), sample(4.0, 47200, 200000, 1000000)]
    # t=1: memory low (8.5 %) but swap all free; t=2: swap 23.8 % free, still above 20 %;
    # t=4: both exactly at the limits (10 % of 472000 kB, 20 % of 1000000 kB): earlyoom's "<=" counts
    assert sr.threshold_crossed(make_round(samples=samples)) == 4.0
    assert sr.threshold_crossed(make_round(samples=samples[:3])) is None


def test_threshold_without_swap_is_memory_alone():
    samples = [sample(0.0, 300000, 0, 0), sample(2.0, 47201, 0, 0), sample(5.0, 47200, 0, 0)]
    assert sr.threshold_crossed(make_round(samples=samples)) == 5.0
    assert sr.threshold_crossed(make_round(samples=[])) is None


def test_threshold_reads_samples_in_time_order():
    samples = [sample(9.0, 1000, 0), sample(3.0, 1000, 0)]
    assert sr.threshold_crossed(make_round(samples=samples)) == 3.0


@pytest.mark.parametrize('n, expected', [(1, 1), (10, 10), (19, 19), (20, 19), (21, 20), (40, 38)])
def test_p95_nearest_rank(n, expected):
    # latencies 1..n in shuffled order; nearest rank: the ceil(0.95 n)-th smallest
    latencies = list(range(n, 0, -2)) + list(range(n - 1, 0, -2))
    assert sr.p95(latencies) == expected


def test_p95_counts_failed_probes_with_their_latency():
    ssh = [(True, 1.0)] * 18 + [(False, 5.0), (False, 4.2)]
    m = sr.round_metrics(make_round(ssh=ssh, http=''))
    assert (m['ssh_p95_s'], m['ssh_worst_s']) == (4.2, 5.0)
    assert (m['http_p95_s'], m['http_worst_s'], m['http_sent'], m['http_answered']) == (None, None, 0, 0)


def test_longest_failed_run_and_its_seconds():
    m = sr.round_metrics(make_round(ssh='.xx..xxx.x'))
    # probes at t=5, 6, 7 failed, the last gave up at 7 + 5 s
    assert (m['ssh_fail_run'], m['ssh_fail_run_s']) == (3, 7.0)
    assert sr.round_metrics(make_round(ssh='.x..xxxx'))['ssh_fail_run'] == 4  # a run that lasts to the end
    assert sr.round_metrics(make_round(ssh='....'))['ssh_fail_run'] == 0


def test_round_metrics_counts_kills_and_memory():
    rnd = make_round(ssh='..x.', kills=[(60.1, 'hog', 'kernel'), (35.2, 'hysteria', 'earlyoom')], page_alloc_failures=2)
    m = sr.round_metrics(rnd)
    assert (m['ssh_answered'], m['ssh_sent'], m['http_answered'], m['http_sent']) == (3, 4, 4, 4)
    assert (m['first_kill_t'], m['first_victim']) == (35.2, 'hysteria (earlyoom)')
    assert m['threshold_t'] == 3.0 and m['threshold_to_kill_s'] == pytest.approx(32.2)
    assert (m['min_mem_available_kb'], m['max_swap_used_kb'], m['page_alloc_failures']) == (30000, SWAP_TOTAL - 200000, 2)


def test_threshold_to_kill_needs_both():
    assert sr.round_metrics(make_round(kills=[]))['threshold_to_kill_s'] is None
    no_cross = make_round(samples=[sample(0.0, 300000)], kills=[(10.0, 'hog', 'kernel')])
    assert sr.round_metrics(no_cross)['threshold_to_kill_s'] is None


def test_pids_kept_null_and_changed_are_false():
    m = sr.round_metrics(make_round(pids_after={'ssh': 501, 'nginx': None, 'supervisor': 777}))
    assert m['pids_kept'] == {'ssh': True, 'nginx': False, 'supervisor': False}


# ---- summary ----

def test_side_order_known_sides_then_others_first_seen():
    rounds = [make_round(s) for s in ('hardened+ttl', 'zram', 'hardened', 'stock+ttl', 'extra', 'stock', 'zram')]
    assert [e['side'] for e in sr.summarize(rounds)] == ['stock', 'hardened', 'stock+ttl', 'hardened+ttl', 'zram', 'extra']


def three_hardened_rounds():
    return [
        make_round('hardened', 2, ssh=[(True, 6.0)] + [(True, 1.0)] * 19 + [(False, 5.0)] * 5, kills=[(40.0, 'hysteria', 'earlyoom')]),
        make_round('hardened', 1, ssh=[(True, 4.9)] + [(True, 1.0)] * 24, kills=[(35.5, 'hysteria', 'earlyoom')]),
        make_round('hardened', 3, ssh=[(True, 5.2)] + [(True, 1.0)] * 22 + [(False, 5.0)] * 2,
                   kills=[(30.0, 'hog', 'kernel')], pids_after={'ssh': 501, 'nginx': None, 'supervisor': 620}),
    ]


def test_summary_medians_and_ranges_over_three_rounds():
    entry = sr.summarize(three_hardened_rounds())[0]
    assert entry['rounds'] == 3
    assert (entry['ssh']['answered'], entry['ssh']['sent']) == (68, 75)
    assert entry['ssh']['pct'] == {'median': 92.0, 'min': 80.0, 'max': 100.0, 'n': 3}
    assert entry['ssh_worst_s'] == {'median': 5.2, 'min': 4.9, 'max': 6.0, 'n': 3}
    assert entry['first_kill_t'] == {'median': 35.5, 'min': 30.0, 'max': 40.0, 'n': 3}
    assert entry['first_victims'] == [('hysteria (earlyoom)', 2), ('hog (kernel)', 1)]
    assert entry['pids_kept'] == {'ssh': (3, 3), 'nginx': (2, 3), 'supervisor': (3, 3)}


def test_median_round_is_median_ssh_percent_lowest_number_on_tie():
    rounds = three_hardened_rounds()
    assert sr.median_round(rounds)['round'] == 3  # 80 %, 92 %, 100 %
    tied = [make_round('stock', 3, ssh='..x.'), make_round('stock', 1, ssh='...x'), make_round('stock', 2, ssh='....')]
    assert sr.median_round(tied)['round'] == 1


# ---- table ----

def table_sides():
    stock = [make_round('stock', n, ssh='.' * 27, kills=[(20.0 + n, 'nginx', 'kernel')]) for n in (1, 2, 3)]
    quiet = [make_round('stock+ttl', 1, kills=[])]
    return sr.summarize(stock + quiet + three_hardened_rounds())


def md_cells(line):
    assert line.startswith('| ') and line.endswith(' |')
    return line[2:-2].split(' | ')


def test_markdown_table_one_header_sides_in_order_and_cells():
    lines = sr.render_table(table_sides(), 'markdown').splitlines()
    assert md_cells(lines[0]) == ['metric', 'stock', 'hardened', 'stock+ttl']
    assert [line for line in lines if set(line) <= set('|-: ')] == [lines[1]]  # one separator: one header row
    assert lines[1] == '|---|---|---|---|'
    rows = {md_cells(line)[0]: md_cells(line)[1:] for line in lines[2:]}
    assert list(rows) == [
        'rounds', 'probes answered: SSH (via stream port)', 'probes answered: HTTP', 'worst SSH latency', 'p95 SSH latency',
        'first kill (s after storm start)', 'threshold → first kill (s)', 'first victim (by)', 'page allocation failures',
        'sshd / nginx / supervisord kept PID (rounds)',
    ]
    assert len(lines) == 2 + len(rows)  # no row repeated, no second header
    assert rows['probes answered: SSH (via stream port)'] == ['81/81 (100 %)', '68/75 (92 %, 80–100)', '4/4 (100 %)']
    assert rows['worst SSH latency'] == ['1.5 s', '5.2 s (4.9–6.0)', '1.5 s']
    assert rows['first kill (s after storm start)'] == ['22.0 s (21.0–23.0)', '35.5 s (30.0–40.0)', '—']
    assert rows['threshold → first kill (s)'] == ['19.0 s (18.0–20.0)', '32.5 s (27.0–37.0)', '—']
    assert rows['first victim (by)'] == ['nginx (kernel) ×3', 'hysteria (earlyoom) ×2, hog (kernel) ×1', '—']
    assert rows['sshd / nginx / supervisord kept PID (rounds)'] == ['3 / 3 / 3 of 3', '3 / 2 / 3 of 3', '1 / 1 / 1 of 1']
    assert rows['page allocation failures'] == ['0', '0', '0']


def test_some_rounds_without_kill_say_so():
    rounds = [make_round('stock', 1, kills=[(10.0, 'hog', 'kernel')]), make_round('stock', 2, kills=[])]
    rows = {r[0]: r[1] for r in sr.table_rows(sr.summarize(rounds))}
    assert rows['first kill (s after storm start)'] == '10.0 s (1 of 2 rounds)'
    assert rows['first victim (by)'] == 'hog (kernel) ×1, no kill ×1'


def test_text_table_columns_are_aligned():
    # with, not in the last column, a side whose name is wider than its cells
    summary = table_sides()
    summary[1:1] = sr.summarize([make_round('hardened+ttl+zram-experiment', 1)])
    text = sr.render_table(summary, 'text')
    lines = text.splitlines()
    rule = lines[1]
    assert set(rule) == {'-', ' '}
    # each column starts where its dashes start; slicing every line there gives back exactly the cells
    starts = [i for i, c in enumerate(rule) if c == '-' and (i == 0 or rule[i - 1] == ' ')]
    assert len(starts) == 5
    table = sr.table_rows(summary)
    for line, row in zip(lines[:1] + lines[2:], table):
        bounds = starts + [None]
        assert [line[a:b].strip() for a, b in zip(bounds, bounds[1:])] == row
        assert all(line[s - 2:s] == '  ' for s in starts[1:])
    assert len(lines) == len(table) + 1
    with pytest.raises(ValueError, match='markdown or text'):
        sr.render_table(summary, 'html')


# ---- PNGs ----

def png_size(path):
    with open(path, 'rb') as handle:
        head = handle.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n', path
    assert head[12:16] == b'IHDR'
    return struct.unpack('>II', head[16:24])


def test_plot_all_writes_one_png_per_side(tmp_path):
    rounds = three_hardened_rounds() + [make_round('stock+ttl', 1, kills=[(2.0, 'hog', 'kernel')])]
    paths = sr.plot_all(rounds, str(tmp_path / 'png'))
    assert [os.path.basename(p) for p in paths] == ['storm-hardened.png', 'storm-stock-ttl.png']
    for path in paths:
        width, height = png_size(path)
        assert abs(width - 1200) <= 5 and abs(height - 700) <= 5, (path, width, height)


@pytest.mark.parametrize('rounds, message', [
    ([make_round('stock', 1, samples=[])], 'side stock round 1 .* no memory samples'),
    ([make_round('stock', 1), make_round('hardened', 1)], 'several sides'),
    ([], 'no rounds'),
])
def test_broken_plot_is_a_clear_value_error(tmp_path, rounds, message):
    with pytest.raises(ValueError, match=message):
        sr.plot_side(rounds, str(tmp_path / 'x.png'))
    assert not (tmp_path / 'x.png').exists()


# ---- command line ----

def test_main_renders_a_saved_results_file(tmp_path, capsys):
    results = tmp_path / 'results.json'
    results.write_text(json.dumps({'rounds': three_hardened_rounds(), 'meta': {'machine': '2 cores, TCG'}}))
    assert sr.main([str(results), '--markdown']) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == '| metric | hardened |'
    results.write_text(json.dumps({'meta': {}}))
    assert sr.main([str(results)]) == 1
    assert "missing key 'rounds'" in capsys.readouterr().err


def test_a_round_whose_guest_rebooted_is_left_out_of_the_table_and_named():
    rebooted = dict(make_round('hardened', 2), guest_rebooted=True)
    rounds = [make_round('hardened', 1), rebooted]
    assert sr.valid_rounds(rounds) == rounds[:1]
    assert sr.lost_rounds(rounds) == ['hardened round 2']
    assert [entry['rounds'] for entry in sr.summarize(rounds)] == [1]
