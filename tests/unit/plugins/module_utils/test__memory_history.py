# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The memory history: the sampler script the memory_history role installs (run for real, with /bin/sh and the
system's awk, on a fake /proc under tmp_path and a fake clock), and the parser/trend memory_facts reads it with."""
from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.memory_facts import risk_flags, sizing
from ansible_collections.lowmem.vps.plugins.module_utils.memory_history import (
    HEADER, downsample, history, oom_kills, parse_history, read_history, slope_per_hour, trend,
)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..', '..'))
SCRIPT = os.path.join(ROOT, 'roles', 'memory_history', 'files', 'lowmem-memory-history')

# /proc/meminfo of the 512 MB lab VM (Debian 13, 6.12), as in test__memory_facts.py.
MEMINFO = """MemTotal:         472460 kB
MemFree:          180312 kB
MemAvailable:     301556 kB
Buffers:           10040 kB
Cached:           120112 kB
SwapCached:            0 kB
AnonPages:         68748 kB
Shmem:              1624 kB
Slab:              61000 kB
SReclaimable:      22652 kB
SUnreclaim:        38348 kB
SwapTotal:       2097148 kB
SwapFree:        2094076 kB
"""
VMSTAT = "nr_free_pages 45078\noom_kill 0\npswpin 12\n"
STAT = "cpu  1 2 3 4\nintr 0\nctxt 12\nbtime 1764700000\nprocesses 99\n"


def fake_proc(tmp_path, sunreclaim=38348, available=301556, oom=0, swap_free=2094076):
    proc = tmp_path / 'proc'
    proc.mkdir(exist_ok=True)
    text = re.sub(r'(?m)^SUnreclaim:.*$', 'SUnreclaim:     %d kB' % sunreclaim, MEMINFO)
    text = re.sub(r'(?m)^MemAvailable:.*$', 'MemAvailable:   %d kB' % available, text)
    text = re.sub(r'(?m)^SwapFree:.*$', 'SwapFree:       %d kB' % swap_free, text)
    (proc / 'meminfo').write_text(text)
    (proc / 'vmstat').write_text(VMSTAT.replace('oom_kill 0', 'oom_kill %d' % oom))
    (proc / 'stat').write_text(STAT)
    (proc / 'uptime').write_text('1234.56 2000.10\n')
    return proc


def run(tmp_path, now, samples=10, window=3, threshold=256, prom=True, **proc):
    """One run of the sampler; returns (rc, stderr)."""
    proc_dir = fake_proc(tmp_path, **proc)
    prom_dir = tmp_path / 'node-exporter'
    if prom:
        prom_dir.mkdir(exist_ok=True)
    env = dict(PATH=os.environ.get('PATH', '/usr/bin:/bin'), LC_ALL='C', LOWMEM_PROC=str(proc_dir), LOWMEM_NOW=str(now),
               LOWMEM_HISTORY_FILE=str(tmp_path / 'lib' / 'memory-history'), LOWMEM_HISTORY_SAMPLES=str(samples),
               LOWMEM_HISTORY_WINDOW=str(window), LOWMEM_HISTORY_THRESHOLD=str(threshold),
               LOWMEM_HISTORY_PROM_DIR=str(prom_dir))
    (tmp_path / 'lib').mkdir(exist_ok=True)
    done = subprocess.run(['/bin/sh', SCRIPT], env=env, capture_output=True, text=True, timeout=30, check=False)
    return done.returncode, done.stderr


def lines(tmp_path):
    return (tmp_path / 'lib' / 'memory-history').read_text().splitlines()


# ---------------------------------------------------------------- the sampler script

def test_each_run_appends_one_sample_under_the_header(tmp_path):
    for minute in range(3):
        assert run(tmp_path, 1764770000 + 60 * minute, sunreclaim=38348) == (0, '')
    text = lines(tmp_path)
    assert text[0] == HEADER
    assert text[1:] == ['%d 301556 38348 61000 3072 0 0' % (1764770000 + 60 * minute) for minute in range(3)]


def test_the_file_never_holds_more_than_its_samples(tmp_path):
    for minute in range(25):
        assert run(tmp_path, 1764770000 + 60 * minute, samples=8)[0] == 0
        assert len(lines(tmp_path)) <= 1 + 8
    text = lines(tmp_path)
    assert text[0] == HEADER and text[-1].startswith('%d ' % (1764770000 + 60 * 24))
    # trimmed to 7 of 8 when full: no run rewrites the whole file every minute
    assert len(text) - 1 in (7, 8)
    assert sorted(os.listdir(tmp_path / 'lib')) == ['memory-history']


def test_a_steady_sunreclaim_leak_is_warned_once_per_window(tmp_path):
    """The seed's leak: 1 MB a minute of unreclaimable slab."""
    errors = []
    for minute in range(8):
        rc, err = run(tmp_path, 1764770000 + 60 * minute, window=3, threshold=256, sunreclaim=38348 + 1024 * minute)
        assert rc == 0
        errors.append(err)
    warned = [index for index, err in enumerate(errors) if err]
    # first full window at the third sample, then again once the window holds no warned sample
    assert warned == [2, 5]
    assert errors[2].startswith('<4>SUnreclaim grew steadily: +2048 kB in 2 min (1024 kB/min, threshold 256) to 39.4 MiB.')
    assert 'leak_probe' in errors[2] and errors[2].count('\n') == 1
    flags = [line.split()[6] for line in lines(tmp_path)[1:]]
    assert flags == ['0', '0', '1', '0', '0', '1', '0', '0']


@pytest.mark.parametrize('series', [
    [38348] * 6,                                  # flat
    [38348, 38900, 38348, 38900, 38348, 38900],   # noise
    [38348, 41000, 38000, 42000, 38500, 43000],   # up and down, rising on the whole: not steady
    [38348, 38400, 38450, 38500, 38550, 38600],   # steady but slower than the threshold (50 kB/min)
])
def test_no_warning_without_steady_growth_above_the_threshold(tmp_path, series):
    for minute, value in enumerate(series):
        assert run(tmp_path, 1764770000 + 60 * minute, window=4, threshold=256, sunreclaim=value) == (0, '')


def test_prometheus_textfile_in_bytes_with_help_and_type_and_renamed_into_place(tmp_path):
    run(tmp_path, 1764770000, sunreclaim=38348)
    run(tmp_path, 1764770060, sunreclaim=39372)
    assert run(tmp_path, 1764770120, sunreclaim=40396, available=3000000000 // 1024, oom=2)[0] == 0
    assert os.listdir(tmp_path / 'node-exporter') == ['lowmem_vps.prom']
    text = (tmp_path / 'node-exporter' / 'lowmem_vps.prom').read_text()
    metrics = dict(line.split(' ') for line in text.splitlines() if not line.startswith('#'))
    assert metrics == {
        'lowmem_mem_available_bytes': str(3000000000 // 1024 * 1024),  # beyond 2^31: not clamped by mawk's %d
        'lowmem_sunreclaim_bytes': str(40396 * 1024), 'lowmem_slab_bytes': str(61000 * 1024),
        'lowmem_swap_used_bytes': str(3072 * 1024), 'lowmem_oom_kill_total': '2',
        'lowmem_sunreclaim_growth_bytes_per_minute': str(1024 * 1024), 'lowmem_sunreclaim_growing': '1',
        'lowmem_history_sample_timestamp_seconds': '1764770120'}
    for name in metrics:
        assert '# HELP %s ' % name in text
        kind = 'counter' if name.endswith('_total') else 'gauge'
        assert '# TYPE %s %s\n' % (name, kind) in text


def test_no_textfile_without_the_node_exporter_directory(tmp_path):
    assert run(tmp_path, 1764770000, prom=False) == (0, '')
    assert not (tmp_path / 'node-exporter').exists() and len(lines(tmp_path)) == 2


@pytest.mark.parametrize('override, message', [
    (dict(samples='abc'), 'must be whole numbers'),
    (dict(window=2), 'need 3 <= LOWMEM_HISTORY_WINDOW'),
    (dict(samples=5, window=6), 'need 3 <= LOWMEM_HISTORY_WINDOW'),
    (dict(threshold='-1'), 'must be whole numbers'),
])
def test_bad_settings_are_refused_and_write_nothing(tmp_path, override, message):
    rc, err = run(tmp_path, 1764770000, **override)
    assert rc == 2 and message in err and err.startswith('<3>')
    assert os.listdir(tmp_path / 'lib') == [] and os.listdir(tmp_path / 'node-exporter') == []


def test_a_meminfo_without_the_fields_fails_and_appends_nothing(tmp_path):
    run(tmp_path, 1764770000)
    (tmp_path / 'proc' / 'meminfo').write_text('MemTotal: 1 kB\n')
    env = dict(PATH=os.environ.get('PATH', '/usr/bin:/bin'), LOWMEM_PROC=str(tmp_path / 'proc'), LOWMEM_NOW='1764770060',
               LOWMEM_HISTORY_FILE=str(tmp_path / 'lib' / 'memory-history'), LOWMEM_HISTORY_PROM_DIR=str(tmp_path / 'none'))
    done = subprocess.run(['/bin/sh', SCRIPT], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode != 0 and 'no MemAvailable or SUnreclaim' in done.stderr
    assert len(lines(tmp_path)) == 2


def test_a_file_of_another_format_is_kept_aside(tmp_path):
    (tmp_path / 'lib').mkdir()
    (tmp_path / 'lib' / 'memory-history').write_text('# something else\n1 2 3\n')
    assert run(tmp_path, 1764770000)[0] == 0
    assert (tmp_path / 'lib' / 'memory-history.old').read_text() == '# something else\n1 2 3\n'
    assert lines(tmp_path)[0] == HEADER and len(lines(tmp_path)) == 2


# ---------------------------------------------------------------- parser and trend

def sample(epoch, available=301556, sunreclaim=38348, slab=61000, swap=0, oom=0, warned=0):
    return dict(epoch=epoch, mem_available_kb=available, sunreclaim_kb=sunreclaim, slab_kb=slab, swap_used_kb=swap,
                oom_kill=oom, warned=warned)


def test_the_scripts_own_file_parses_back(tmp_path):
    for minute in range(5):
        run(tmp_path, 1764770000 + 60 * minute, window=3, sunreclaim=38348 + 1024 * minute, oom=minute // 2)
    samples, skipped, note = read_history(str(tmp_path / 'lib' / 'memory-history'))
    assert skipped == 0 and note is None
    assert [item['sunreclaim_kb'] for item in samples] == [38348 + 1024 * minute for minute in range(5)]
    assert [item['warned'] for item in samples] == [0, 0, 1, 0, 0] and samples[0]['swap_used_kb'] == 3072


def test_torn_and_foreign_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / 'h'
    path.write_text(HEADER + '\n1764770000 1 2 3 4 5 0\n1764770060 1 2 3\nnot a sample\n1764770120 1 2 3 4 5 1\n17647')
    samples, skipped, note = read_history(str(path))
    assert [item['epoch'] for item in samples] == [1764770000, 1764770120] and skipped == 3
    assert '3 line(s)' in note
    path.write_text('# lowmem-vps memory history 2: something newer\n1 2\n')
    assert read_history(str(path))[0] is None and 'another format' in read_history(str(path))[2]
    assert read_history(str(tmp_path / 'missing')) == (None, 0, None)
    assert history(str(tmp_path / 'missing')) == (None, None)
    path.write_text(HEADER + '\n')
    assert history(str(path)) == (None, 'memory history %s holds no sample yet' % path)


def test_a_day_of_the_seeds_leak_is_60_mb_an_hour_and_growing():
    samples = [sample(1764700000 + 60 * minute, sunreclaim=20000 + 1024 * minute, available=300000 - 1024 * minute)
               for minute in range(1440)]
    result = trend(samples)
    assert result['samples'] == 1440 and result['span_minutes'] == 1439.0 and result['trend_minutes'] == 60.0
    assert result['sunreclaim_kb_per_hour'] == 61440.0 and result['mem_available_kb_per_hour'] == -61440.0
    assert result['sunreclaim_growing'] is True
    assert all(len(values) == 60 for values in result['series'].values())
    assert result['series']['sunreclaim_kb'][0] < result['series']['sunreclaim_kb'][-1]
    flags = risk_flags(dict(facts_with(result)))
    assert [flag['name'] for flag in flags] == ['sunreclaim_rising']
    assert '+60.0 MiB/h over the last 60 min' in flags[0]['reason']


@pytest.mark.parametrize('minutes, step, growing', [
    (90, 0, False),        # flat
    (20, 1024, False),     # fast, but less than half an hour of samples
    (90, 50, False),       # 3 MB/h: under the 4 MB/h threshold
    (90, 80, True),        # 4.8 MB/h
])
def test_growing_needs_half_an_hour_and_the_threshold(minutes, step, growing):
    samples = [sample(1764700000 + 60 * minute, sunreclaim=20000 + step * minute) for minute in range(minutes)]
    assert trend(samples)['sunreclaim_growing'] is growing


def test_kills_across_a_reboot_and_swap_kept_in_use():
    counters = [0, 0, 1, 3, 3, 0, 1, 1]  # 3 kills, a reboot (counter back to 0), 1 more
    samples = [sample(1764700000 + 60 * index, oom=value, swap=200000 - 1000 * index) for index, value in enumerate(counters)]
    assert oom_kills(samples) == 4
    result = trend(samples)
    assert result['oom_kills'] == 4 and result['swap_kept_kb'] == 193000


def test_slope_and_downsample_edges():
    assert slope_per_hour([]) is None and slope_per_hour([(1, 5)]) is None and slope_per_hour([(1, 5), (1, 6)]) is None
    assert slope_per_hour([(0, 0), (3600, 10)]) == 10.0
    samples = [sample(index, sunreclaim=index) for index in range(7)]
    assert downsample(samples, 'sunreclaim_kb', 3) == [0, 2, 5]  # means of [0,1] [2,3] [4,5,6], rounded half to even
    assert downsample(samples[:2], 'sunreclaim_kb', 3) == [0, 1]
    samples, skipped = parse_history('')
    assert samples == [] and skipped == 0 and trend(samples) is None


# ---------------------------------------------------------------- sizing with a history

def facts_with(result, anon_percent=None):
    memory = dict(mem_total_kb=472460, anon_pages_kb=68748, shmem_kb=1624, sunreclaim_kb=38348, kernel_stack_kb=2544,
                  page_tables_kb=2904, swap_total_kb=2097148, swap_used_kb=0, mem_available_kb=301556)
    if anon_percent is not None:
        memory['anon_pages_kb'] = int(472460 * anon_percent / 100.0) - (1624 + 38348 + 2544 + 2904)
    return dict(memory=memory, slab_top=[], events=dict(page_alloc_failures=[], oom_kills=[], earlyoom_kills=[],
                                                        unit_oom_kills=[]),
                protected_units=[], earlyoom=dict(active=True), journal=dict(persistent=True), containers={},
                history=result)


def test_swap_kept_in_use_through_the_history_is_a_verdict_and_sizes_the_class():
    samples = [sample(1764700000 + 60 * minute, swap=150000 + (minute % 7) * 1000) for minute in range(1440)]
    facts = facts_with(trend(samples), anon_percent=75)
    advice = sizing(facts)
    assert advice['outgrown'] is True and advice['swap_kept_kb'] == 150000 and advice['basis'] == 'snapshot and memory history'
    assert 'stayed in use through 24 h of history' in advice['reason']
    assert (advice['ram_class_mb'], advice['needed_ram_class_mb']) == (512, 1024)
    assert 'ram_outgrown' in [flag['name'] for flag in risk_flags(facts)]
    # the same swap in one snapshot only is no verdict
    facts = facts_with(None, anon_percent=75)
    facts['memory']['swap_used_kb'] = 150000
    assert sizing(facts)['outgrown'] is False and sizing(facts)['basis'] == 'snapshot'
    # kills the history saw count like the kernel log's
    samples = [sample(1764700000 + 60 * minute, oom=minute // 100) for minute in range(300)]
    advice = sizing(facts_with(trend(samples), anon_percent=72))
    assert advice['oom_kills'] == 2 and advice['outgrown'] is True


def test_the_clock_is_the_kernels_and_the_directory_is_made(tmp_path):
    """Without LOWMEM_NOW the time is /proc/stat's btime plus /proc/uptime (no date process; awk's srand() is not a
    clock everywhere: Debian 13's mawk seeds in nanoseconds); a missing directory is created."""
    proc_dir = fake_proc(tmp_path)
    path = tmp_path / 'new' / 'dir' / 'memory-history'
    env = dict(PATH=os.environ.get('PATH', '/usr/bin:/bin'), LOWMEM_PROC=str(proc_dir), LOWMEM_HISTORY_FILE=str(path),
               LOWMEM_HISTORY_PROM_DIR=str(tmp_path / 'none'))
    done = subprocess.run(['/bin/sh', SCRIPT], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0 and done.stderr == ''
    assert path.read_text().splitlines()[1].split()[0] == str(1764700000 + 1234)
    # and with this machine's own /proc/stat and /proc/uptime: now
    for name in ('stat', 'uptime'):
        with open('/proc/' + name, encoding='ascii') as handle:
            (proc_dir / name).write_text(handle.read())
    before = int(time.time())
    done = subprocess.run(['/bin/sh', SCRIPT], env=env, capture_output=True, text=True, timeout=30, check=False)
    after = int(time.time())
    assert done.returncode == 0 and done.stderr == ''
    assert before - 2 <= int(path.read_text().splitlines()[2].split()[0]) <= after + 1
    # no clock at all: refused, nothing appended
    (proc_dir / 'stat').write_text('cpu 1 2 3\n')
    done = subprocess.run(['/bin/sh', SCRIPT], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode != 0 and 'no clock' in done.stderr and len(path.read_text().splitlines()) == 3
