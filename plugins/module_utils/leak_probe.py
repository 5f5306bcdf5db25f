# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Does a command leak unreclaimable kernel memory each time it runs, and which init script makes it do so.

The seed's second box grew 1 MB a minute while ``ps`` showed nothing: ``service --status-all > file``, run by a
monitoring script, leaked unreclaimable slab (``SUnreclaim``) through one vendor init script's ``status``. Running each
``service X status`` alone did not reproduce it; only taking scripts out of /etc/init.d did.

:func:`measure` runs a command ``runs`` times and samples /proc/meminfo's SUnreclaim, Slab and MemAvailable (through
:func:`meminfo.read_meminfo`) before and after each run, and /proc/slabinfo (through
:func:`memory_facts.parse_slabinfo`) before the first and after the last run for the caches that grew. The verdict
(:func:`verdict`) says *leaking* only for consistent growth: the mean growth per run at or above ``threshold_kb`` and
the median run's growth at least half of it, so one jump (a per-CPU slab refill, a first run filling a cache) is not a
leak, and growth given back on a later run is not either.

:func:`bisect` finds the script whose presence makes the command leak. Each trial copies the chosen scripts (and every
entry that is not a candidate) from the directory into a temporary copy, and runs the command in a private mount
namespace (``unshare --mount --propagation private``) where that copy is bind-mounted over the directory. The host's
directory is only read; other processes never see the copy; the namespace ends with the command's processes, and the
temporary copy is removed when the bisect ends, fails or is interrupted (SIGTERM included). The search halves the set of
suspects while one half leaks alone, then confirms the one found alone leaks.

Readers take their system paths as default arguments; commands go through :mod:`runner` callables (list argv, C locale).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import statistics
import tempfile
import time

from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.meminfo import MEMINFO_PATH, MeminfoError, read_meminfo
from ansible_collections.lowmem.vps.plugins.module_utils.memory_facts import parse_slabinfo
from ansible_collections.lowmem.vps.plugins.module_utils.runner import tail

SLABINFO_PATH = '/proc/slabinfo'
RUNS_MAX = 1000
SETTLE_MAX = 60
GROWING_CACHES = 5
# Run by /bin/sh inside the private mount namespace: $1 the trial's copy, $2 the directory it hides, $3 "exec" when
# the copy's filesystem is mounted noexec (a /tmp mounted noexec), then the command.
TRIAL_SCRIPT = r'''copy=$1 dir=$2 noexec=$3
shift 3
mount --bind "$copy" "$dir" || { echo "lowmem-bisect: cannot bind the copy over $dir" >&2; exit 125; }
if [ "$noexec" = exec ]; then
  mount -o remount,bind,exec "$dir" || { echo "lowmem-bisect: cannot allow exec on $dir" >&2; exit 125; }
fi
exec "$@"
'''


class LeakProbeError(RefusedError):
    """Bad input to leak_probe, or a bisect it refuses (the command does not leak, no unshare...)."""


# ---------------------------------------------------------------- parameters

def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_params(params, isdir=os.path.isdir):
    """Validate leak_probe's options; return the argv to run, or raise LeakProbeError naming every bad one."""
    problems = []
    argv, cmd, shell = params.get('argv'), params.get('cmd'), bool(params.get('shell'))
    command = None
    if argv is not None and cmd is not None:
        problems.append('give argv or cmd, not both')
    elif argv is not None:
        if shell:
            problems.append('shell: true runs cmd (a string) through /bin/sh -c; with argv leave shell false')
        elif not argv or not all(isinstance(arg, str) for arg in argv) or not argv[0].strip():
            problems.append('argv must be a non-empty list of strings, got %r' % (argv,))
        else:
            command = list(argv)
    elif cmd is not None:
        if not str(cmd).strip():
            problems.append('cmd is empty')
        elif not shell:
            problems.append('cmd is run through /bin/sh -c only with shell: true (or give argv, a list), got %r' % (cmd,))
        else:
            command = ['/bin/sh', '-c', str(cmd)]
    else:
        problems.append('give the command to probe: argv (a list) or cmd (a string, with shell: true)')
    runs = params.get('runs')
    if not isinstance(runs, int) or isinstance(runs, bool) or not 1 <= runs <= RUNS_MAX:
        problems.append('runs must be an integer from 1 to %d, got %r' % (RUNS_MAX, runs))
    threshold = params.get('threshold_kb')
    if not _number(threshold) or threshold <= 0:
        problems.append('threshold_kb must be a number above 0, got %r' % (threshold,))
    settle = params.get('settle')
    if not _number(settle) or not 0 <= settle <= SETTLE_MAX:
        problems.append('settle must be a number of seconds from 0 to %d, got %r' % (SETTLE_MAX, settle))
    directory = params.get('bisect_dir')
    if directory is not None:
        if not os.path.isabs(directory):
            problems.append('bisect_dir must be an absolute path, got %r' % (directory,))
        elif not isdir(directory):
            problems.append('bisect_dir %s does not exist or is not a directory' % directory)
    if problems:
        raise LeakProbeError('; '.join(problems) + ' (nothing was run)')
    return command


# ---------------------------------------------------------------- sampling

def sample(meminfo=MEMINFO_PATH):
    """{'sunreclaim_kb', 'slab_kb', 'mem_available_kb'} now, from /proc/meminfo."""
    try:
        info = read_meminfo(meminfo)
    except MeminfoError as exc:
        raise LeakProbeError('%s (nothing was run)' % exc) from exc
    if 'SUnreclaim' not in info:
        raise LeakProbeError('%s has no SUnreclaim line: this kernel cannot show a slab leak (nothing was run)' % meminfo)
    return dict(sunreclaim_kb=info['SUnreclaim'], slab_kb=info.get('Slab', 0), mem_available_kb=info.get('MemAvailable', 0))


def slab_caches(slabinfo=SLABINFO_PATH):
    """{cache name: (bytes, objects)} from /proc/slabinfo; None when it cannot be read (it needs root)."""
    try:
        with open(slabinfo, 'r', encoding='ascii', errors='replace') as handle:
            text = handle.read()
    except OSError:
        return None
    page_size = os.sysconf('SC_PAGE_SIZE') if hasattr(os, 'sysconf') else 4096
    return dict((cache['name'], (cache['bytes'], cache['objects'])) for cache in parse_slabinfo(text, page_size))


def growing_caches(before, after, limit=GROWING_CACHES):
    """The ``limit`` slab caches that grew most between two :func:`slab_caches` readings: [{name, kb, objects}]."""
    if before is None or after is None:
        return []
    grown = []
    for name, (size, objects) in after.items():
        old_size, old_objects = before.get(name, (0, 0))
        if size > old_size:
            grown.append(dict(name=name, kb=(size - old_size) // 1024, objects=objects - old_objects))
    grown.sort(key=lambda cache: (-cache['kb'], cache['name']))
    return grown[:limit]


def verdict(deltas, threshold_kb):
    """(per_run_kb, leaking) for the SUnreclaim growth of each run (kB).

    Leaking: the mean growth per run is at least ``threshold_kb`` AND the median run grew at least half of it. One
    jump among flat runs has a high mean but a median near 0; growth given back later has a mean near 0.
    """
    if not deltas:
        return 0.0, False
    mean = statistics.mean(deltas)
    median = statistics.median(deltas)
    return round(mean, 1), bool(mean >= threshold_kb and median >= threshold_kb / 2.0)


def measure(run_once, runs, threshold_kb, settle=0.5, read=sample, caches=slab_caches, sleep=time.sleep):
    """Run ``run_once()`` (returns rc, out, err) ``runs`` times, sampling before and after each run (``settle``
    seconds after it). Returns {per_run_kb, leaking, samples, growing_caches}."""
    first_caches = caches()
    samples = []
    for index in range(runs):
        before = read()
        rc = run_once()[0]
        if settle:
            sleep(settle)
        after = read()
        samples.append(dict(run=index + 1, rc=rc, sunreclaim_before_kb=before['sunreclaim_kb'],
                            sunreclaim_after_kb=after['sunreclaim_kb'],
                            sunreclaim_kb=after['sunreclaim_kb'] - before['sunreclaim_kb'],
                            slab_kb=after['slab_kb'] - before['slab_kb'],
                            mem_available_kb=after['mem_available_kb'] - before['mem_available_kb']))
    per_run, leaking = verdict([row['sunreclaim_kb'] for row in samples], threshold_kb)
    return dict(per_run_kb=per_run, leaking=leaking, samples=samples,
                growing_caches=growing_caches(first_caches, caches()))


def failed_runs_warning(samples):
    failed = sorted(set(row['rc'] for row in samples if row['rc'] != 0))
    if not failed:
        return []
    return ['the command exited non-zero in %d of %d run(s) (rc %s): its figures are still returned'
            % (sum(1 for row in samples if row['rc'] != 0), len(samples), ', '.join(str(rc) for rc in failed))]


# ---------------------------------------------------------------- bisect

def candidates(directory):
    """(scripts, fixed): the executable regular files of ``directory`` (or links to them) not starting with '.', to
    bisect over; the other entries (README, .depend.*, subdirectories) are present in every trial."""
    scripts, fixed = [], []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if not name.startswith('.') and os.path.isfile(path) and os.access(path, os.X_OK):
            scripts.append(name)
        else:
            fixed.append(name)
    return scripts, fixed


def _same_owner(source, target):
    try:
        info = os.lstat(source)
        os.lchown(target, info.st_uid, info.st_gid)
    except OSError:
        pass   # not root: the copy is the caller's own


def populate(directory, target, names):
    """Make ``target`` a copy of ``directory`` holding only ``names`` (modes, times and, as root, owners kept).
    Only reads ``directory``."""
    os.mkdir(target)
    for name in names:
        source, copy = os.path.join(directory, name), os.path.join(target, name)
        if os.path.islink(source):
            os.symlink(os.readlink(source), copy)
        elif os.path.isdir(source):
            shutil.copytree(source, copy, symlinks=True)
        else:
            shutil.copy2(source, copy)
        _same_owner(source, copy)
    shutil.copystat(directory, target)
    _same_owner(directory, target)


def trial_command(unshare, copy, directory, command, noexec=False):
    """The argv of one trial: ``command`` in a private mount namespace where ``copy`` hides ``directory``."""
    return [unshare, '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', TRIAL_SCRIPT, 'lowmem-bisect',
            copy, directory, 'exec' if noexec else '-'] + list(command)


class Interrupted(LeakProbeError):
    """SIGTERM during a bisect (a task timeout): raised so the temporary copy is removed on the way out."""


@contextlib.contextmanager
def _sigterm_raises():
    def stop(signum, _frame):
        raise Interrupted('bisect interrupted by signal %d: its temporary copy was removed, nothing was changed on the '
                          'host' % signum)
    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:   # not the main thread: nothing to install
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def bisect(runner, which, directory, command, runs, threshold_kb, settle=0.5, read=sample, caches=slab_caches,
           sleep=time.sleep, tmp_root=None):
    """Find the script of ``directory`` whose presence makes ``command`` leak.

    Trials in order: ``all`` scripts (refused when it does not leak), ``none`` (when that leaks too, no script is to
    blame), ``half`` trials (the first half of the suspects; the second only when the first does not leak), and
    ``confirm`` (the one left, alone). Returns {culprit (full path or None), steps, reason, per_run_kb, leaking,
    samples, growing_caches} where the last four are the ``all`` trial's.
    """
    unshare = which('unshare')
    if not unshare:
        raise LeakProbeError('bisect needs unshare (util-linux) for its private mount namespace; it is not installed '
                             '(nothing was run)')
    scripts, fixed = candidates(directory)
    if not scripts:
        raise LeakProbeError('%s has no executable script to bisect over (nothing was run)' % directory)
    work = tempfile.mkdtemp(prefix='lowmem-bisect.', dir=tmp_root)
    try:
        with _sigterm_raises():
            return _search(runner, unshare, directory, command, scripts, fixed, work,
                           dict(runs=runs, threshold_kb=threshold_kb, settle=settle, read=read, caches=caches,
                                sleep=sleep))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _search(runner, unshare, directory, command, scripts, fixed, work, how):
    noexec = bool(os.statvfs(work).f_flag & getattr(os, 'ST_NOEXEC', 8))
    steps = []
    measures = []

    def trial(present, step):
        copy = os.path.join(work, 'trial-%d' % (len(steps) + 1))
        populate(directory, copy, sorted(fixed + list(present)))
        args = trial_command(unshare, copy, directory, command, noexec)
        if not steps:   # the namespace itself must work before anything is measured
            rc, out, err = runner(trial_command(unshare, copy, directory, ['true'], noexec))
            if rc != 0:
                raise LeakProbeError('the private mount namespace for bisect could not be set up: %s (the host\'s %s '
                                     'was not touched; it needs root)' % (tail(rc, out, err), directory))
        measured = measure(lambda: runner(args), **how)
        shutil.rmtree(copy, ignore_errors=True)
        measures.append(measured)
        steps.append(dict(step=step, scripts=[os.path.join(directory, name) for name in present],
                          per_run_kb=measured['per_run_kb'], leaking=measured['leaking']))
        return measured['leaking']

    def result(culprit, reason):
        found = dict(measures[0])
        found.update(culprit=culprit, steps=steps, reason=reason)
        return found

    if not trial(scripts, 'all'):
        refused = dict(measures[0])
        refused['steps'] = steps
        raise LeakProbeError('the command does not leak with all %d script(s) of %s present (%.1f kB per run, threshold '
                             '%s kB): nothing to bisect (nothing was changed on the host)'
                             % (len(scripts), directory, measures[0]['per_run_kb'], how['threshold_kb']), result=refused)
    if trial([], 'none'):
        return result(None, 'the command leaks with none of the scripts of %s present: no script of it is to blame'
                      % directory)
    suspects = list(scripts)
    while len(suspects) > 1:
        half = len(suspects) // 2
        first, second = suspects[:half], suspects[half:]
        if trial(first, 'half'):
            suspects = first
        elif trial(second, 'half'):
            suspects = second
        else:
            return result(None, 'neither half of %s leaks alone: the leak needs scripts of both halves together'
                          % ', '.join(suspects))
    if not trial(suspects, 'confirm'):
        return result(None, '%s alone did not leak when confirmed: the leak needs it together with others'
                      % os.path.join(directory, suspects[0]))
    culprit = os.path.join(directory, suspects[0])
    return result(culprit, 'with only %s present the command leaks %.1f kB of SUnreclaim per run'
                  % (culprit, steps[-1]['per_run_kb']))


# ---------------------------------------------------------------- the module's body

def plan(params, command, directory_scripts=None):
    """What a run would do, in words (check mode)."""
    text = 'would run %s %d time(s), sampling SUnreclaim before and after each run' % (command, params['runs'])
    if params.get('bisect_dir'):
        text += (' and bisect over the %d script(s) of %s, each trial in a private mount namespace (unshare --mount '
                 '--propagation private) over a temporary copy bind-mounted on it'
                 % (len(directory_scripts or []), params['bisect_dir']))
    return 'check mode: nothing was run; ' + text


def probe(params, runner, which, check_mode=False):
    """leak_probe's result for validated-or-not ``params``."""
    command = check_params(params)
    if check_mode:
        scripts = candidates(params['bisect_dir'])[0] if params.get('bisect_dir') else None
        return dict(changed=False, command=command, msg=plan(params, command, scripts))
    how = dict(runs=params['runs'], threshold_kb=params['threshold_kb'], settle=params['settle'])
    if params.get('bisect_dir'):
        result = bisect(runner, which, params['bisect_dir'], command, **how)
        msg = result.pop('reason')
    else:
        result = measure(lambda: runner(command), **how)
        msg = '%s: %.1f kB of SUnreclaim per run over %d run(s)' % (
            'leaking' if result['leaking'] else 'not leaking', result['per_run_kb'], params['runs'])
    result.update(changed=False, command=command, msg=msg, warnings=failed_runs_warning(result['samples']))
    return result
