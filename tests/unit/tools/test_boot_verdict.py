# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab VM's boot wait decision (tools/labvm-vm.sh: boot_watch_init, boot_observe, boot_verdict)
on synthetic console progress: slow boots are waited for, stalled, capped and failed boots are not.
No VM: bash sources the helpers and is fed (time, console size, fatal) samples."""

from __future__ import annotations

import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))

DRIVER = r'''
set -euo pipefail
. "$ROOT/tools/lib.sh"
. "$ROOT/tools/labvm-vm.sh"
boot_watch_init 0 "$1" "$2" "$3"
while read -r t size fatal; do
  boot_observe "$t" "$size" "${fatal:-}"
  echo "$t $BW_VERDICT $BW_QUIET"
done
'''


def watch(samples, base=300, stall=60, cap=900):
    """Feed (t, size[, fatal]) samples; return [(t, verdict, quiet)] up to the first final verdict."""
    text = ''.join(' '.join(str(x) for x in s) + '\n' for s in samples)
    out = subprocess.run(['bash', '-c', DRIVER, '_', str(base), str(stall), str(cap)], input=text,
                         capture_output=True, text=True, check=True, env=dict(os.environ, ROOT=ROOT)).stdout
    steps = []
    for line in out.splitlines():
        t, verdict, quiet = line.split()
        steps.append((int(t), verdict, int(quiet)))
        if verdict in ('stalled', 'slow', 'failed'):
            break
    return steps


def growing(until, step=2, rate=100):
    """A console that grows by ``rate`` bytes every ``step`` s up to ``until``."""
    return [(t, t * rate) for t in range(0, until + 1, step)]


def final(steps):
    return steps[-1][:2]


def test_quiet_console_before_base_is_normal():
    # GRUB loading the kernel prints nothing for minutes under TCG: no verdict before the base
    steps = watch([(0, 0), (100, 0), (200, 0), (298, 0)])
    assert [v for _time, v, _note in steps] == ['wait'] * 4


def test_slow_boot_still_progressing_is_extended():
    steps = watch(growing(412))
    verdicts = {v for t, v, _note in steps if t >= 300}
    assert verdicts == {'extend'}
    assert all(v == 'wait' for t, v, _note in steps if t < 300)


def test_console_stopped_past_base_is_stalled():
    # output until 250 s, then nothing: stalled once 60 s quiet and past the base
    samples = growing(250) + [(t, 25000) for t in range(252, 400, 2)]
    assert final(watch(samples)) == (310, 'stalled')


def test_console_quiet_since_before_base_is_stalled_at_base():
    samples = growing(100) + [(t, 10000) for t in range(102, 400, 2)]
    assert final(watch(samples)) == (300, 'stalled')


def test_progress_after_quiet_spell_resets_the_stall_window():
    # quiet from 300 to 340 (40 s < 60 s), then output again: still extended
    samples = growing(300) + [(t, 30000) for t in range(302, 342, 2)] + [(t, 30000 + t) for t in range(342, 420, 2)]
    steps = watch(samples)
    assert final(steps) == (418, 'extend')


def test_hard_cap_while_progressing_is_slow():
    assert final(watch(growing(1000))) == (900, 'slow')


def test_emergency_shell_fails_at_once():
    samples = growing(40) + [(42, 4300, 'emergency')]
    assert final(watch(samples)) == (42, 'failed')


def test_kernel_panic_gets_the_supervisor_grace_then_fails():
    # a panic the supervisor replaces (next samples without it) is not a failure
    samples = growing(20) + [(22, 2300, 'panic'), (24, 2300, 'panic'), (26, 0), (28, 100)]
    assert [v for _time, v, _note in watch(samples)] == ['wait'] * len(samples)
    # a panic that stays fails after 10 s
    samples = growing(20) + [(t, 2300, 'panic') for t in range(22, 60, 2)]
    assert final(watch(samples)) == (32, 'failed')


@pytest.mark.parametrize('args, verdict', [
    ((299, 500, 300, 60, 900), 'wait'),
    ((300, 59, 300, 60, 900), 'extend'),
    ((300, 60, 300, 60, 900), 'stalled'),
    ((900, 0, 300, 60, 900), 'slow'),
    ((900, 60, 300, 60, 900), 'stalled'),
    ((5, 0, 300, 60, 900, 'emergency', 0), 'failed'),
    ((5, 0, 300, 60, 900, 'panic', 9), 'wait'),
    ((5, 0, 300, 60, 900, 'panic', 10), 'failed'),
])
def test_boot_verdict_table(args, verdict):
    out = subprocess.run(['bash', '-c', '. "$ROOT/tools/lib.sh"; . "$ROOT/tools/labvm-vm.sh"; boot_verdict "$@"', '_']
                         + [str(a) for a in args], capture_output=True, text=True, check=True,
                         env=dict(os.environ, ROOT=ROOT)).stdout.strip()
    assert out == verdict
