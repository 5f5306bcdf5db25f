# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The memory history between audits: the file the memory_history role's timer appends a sample to every minute.

Its format (written by ``roles/memory_history/files/lowmem-memory-history``)::

    # lowmem-vps memory history 1: epoch mem_available_kb sunreclaim_kb slab_kb swap_used_kb oom_kill warned
    1764771200 301234 21012 40123 0 0 0

``oom_kill`` is /proc/vmstat's counter (it starts again at 0 after a reboot); ``warned`` is 1 on the sample where the
sampler logged its "SUnreclaim grew steadily" warning to the journal.

:func:`read_history` parses it, :func:`trend` draws what memory_facts returns as ``history`` (growth per hour over the
last hour, the swap that stayed in use through the whole history, the kills in it, and a short series for the
report's sparklines). Pure standard library; nothing here writes.
"""

from __future__ import annotations

import os

HISTORY_FILE = '/var/lib/lowmem-vps/memory-history'
HEADER = '# lowmem-vps memory history 1: epoch mem_available_kb sunreclaim_kb slab_kb swap_used_kb oom_kill warned'
FIELDS = ('epoch', 'mem_available_kb', 'sunreclaim_kb', 'slab_kb', 'swap_used_kb', 'oom_kill', 'warned')
SERIES_POINTS = 60          # the report's sparklines: at most this many points per series
TREND_MINUTES = 60          # growth per hour is measured over this much of the newest history
MIN_TREND_MINUTES = 30      # ... and only when the samples in it span at least this long
DEFAULT_GROWTH_KB_PER_HOUR = 4096


def parse_history(text):
    """``(samples, skipped)``: the samples of a history file's text as dicts of ints, oldest first, and how many
    lines were not samples of this format (a torn last line after a power cut, an edited file)."""
    samples = []
    skipped = 0
    for line in text.splitlines():
        if not line.strip() or line.startswith('#'):
            continue
        parts = line.split()
        if len(parts) != len(FIELDS) or not all(part.isdigit() for part in parts):
            skipped += 1
            continue
        samples.append(dict(zip(FIELDS, (int(part) for part in parts))))
    samples.sort(key=lambda sample: sample['epoch'])
    return samples, skipped


def read_history(path=HISTORY_FILE):
    """``(samples, skipped, note)``; no file is ``(None, 0, None)`` (the role is opt-in)."""
    try:
        with open(path, encoding='utf-8', errors='replace') as handle:
            text = handle.read()
    except FileNotFoundError:
        return None, 0, None
    except OSError as exc:
        return None, 0, 'memory history %s could not be read: %s' % (path, exc.strerror or exc)
    first = text.split('\n', 1)[0]
    if first.startswith('#') and first.strip() != HEADER:
        return None, 0, 'memory history %s is of another format (%s): not read' % (path, first.strip()[:80])
    samples, skipped = parse_history(text)
    return samples, skipped, ('%d line(s) of %s are not samples: skipped' % (skipped, path)) if skipped else None


def slope_per_hour(points):
    """Least-squares slope of ``[(epoch, value)]`` in value per hour; None with fewer than two distinct times."""
    count = len(points)
    if count < 2:
        return None
    mean_t = sum(point[0] for point in points) / float(count)
    mean_v = sum(point[1] for point in points) / float(count)
    spread = sum((point[0] - mean_t) ** 2 for point in points)
    if not spread:
        return None
    return sum((point[0] - mean_t) * (point[1] - mean_v) for point in points) / spread * 3600.0


def oom_kills(samples):
    """The OOM kills the history saw: the counter's rises (a fall is a reboot, after which it counts from 0)."""
    kills = 0
    for before, after in zip(samples, samples[1:]):
        if after['oom_kill'] >= before['oom_kill']:
            kills += after['oom_kill'] - before['oom_kill']
        else:
            kills += after['oom_kill']
    return kills


def downsample(samples, key, points=SERIES_POINTS):
    """At most ``points`` values of ``key``, each the mean of an equal run of consecutive samples, oldest first."""
    count = len(samples)
    if count <= points:
        return [sample[key] for sample in samples]
    values = []
    for index in range(points):
        start = index * count // points
        end = (index + 1) * count // points
        chunk = [sample[key] for sample in samples[start:end]]
        values.append(int(round(sum(chunk) / float(len(chunk)))))
    return values


def trend(samples, path=HISTORY_FILE, growth_kb_per_hour=DEFAULT_GROWTH_KB_PER_HOUR):
    """What memory_facts returns as ``history``: None without samples."""
    if not samples:
        return None
    last = samples[-1]
    recent = [sample for sample in samples if sample['epoch'] >= last['epoch'] - TREND_MINUTES * 60]
    recent_minutes = (recent[-1]['epoch'] - recent[0]['epoch']) / 60.0
    rate = slope_per_hour([(sample['epoch'], sample['sunreclaim_kb']) for sample in recent])
    available_rate = slope_per_hour([(sample['epoch'], sample['mem_available_kb']) for sample in recent])
    warned = [sample['epoch'] for sample in samples if sample['warned']]
    span = (last['epoch'] - samples[0]['epoch']) / 60.0
    growing = bool(rate is not None and recent_minutes >= MIN_TREND_MINUTES and rate >= growth_kb_per_hour and
                   recent[-1]['sunreclaim_kb'] - recent[0]['sunreclaim_kb'] >= growth_kb_per_hour * recent_minutes / 120.0)
    return dict(
        path=path,
        samples=len(samples),
        first_at=samples[0]['epoch'],
        last_at=last['epoch'],
        span_minutes=round(span, 1),
        trend_minutes=round(recent_minutes, 1),
        sunreclaim_kb_per_hour=None if rate is None else round(rate, 1),
        mem_available_kb_per_hour=None if available_rate is None else round(available_rate, 1),
        sunreclaim_growing=growing,
        growth_threshold_kb_per_hour=growth_kb_per_hour,
        mem_available_min_kb=min(sample['mem_available_kb'] for sample in samples),
        sunreclaim_max_kb=max(sample['sunreclaim_kb'] for sample in samples),
        # Swap that never left: the least swap in use at any sample. Cold pages belong in swap, but a floor that stays
        # up across a day of samples is memory the box needs and does not have.
        swap_kept_kb=min(sample['swap_used_kb'] for sample in samples),
        oom_kills=oom_kills(samples),
        warnings=len(warned),
        last_warning_at=warned[-1] if warned else None,
        series=dict(
            epoch=downsample(samples, 'epoch'),
            mem_available_kb=downsample(samples, 'mem_available_kb'),
            sunreclaim_kb=downsample(samples, 'sunreclaim_kb'),
            swap_used_kb=downsample(samples, 'swap_used_kb'),
        ),
    )


def history(path=HISTORY_FILE, growth_kb_per_hour=DEFAULT_GROWTH_KB_PER_HOUR):
    """``(trend or None, note or None)`` for the history file at ``path``."""
    samples, dummy, note = read_history(path)
    if samples is None:
        return None, note
    if not samples:
        return None, note or 'memory history %s holds no sample yet' % path
    return trend(samples, os.path.abspath(path), growth_kb_per_hour), note
