# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""leak_probe's pure parts: bad input, the verdict on recorded sample series, the bisect's search order on a fake
runner (a fake kernel whose SUnreclaim grows while a given script is in the trial's copy), its refusals and its
clean-up. The real probe on this machine's kernel is in tests/unit/plugins/modules/test_leak_probe.py."""
from __future__ import annotations

import os
import signal

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.leak_probe import (
    TRIAL_SCRIPT, LeakProbeError, bisect, candidates, check_params, growing_caches, measure, probe, sample,
    slab_caches, trial_command, verdict,
)

PARAMS = dict(argv=None, cmd=None, shell=False, runs=10, threshold_kb=64, settle=0.5, bisect_dir=None)


def params(**changes):
    result = dict(PARAMS)
    result.update(changes)
    return result


@pytest.mark.parametrize('changes, message', [
    (dict(), 'give the command to probe: argv (a list) or cmd (a string, with shell: true)'),
    (dict(argv=[]), 'argv must be a non-empty list of strings'),
    (dict(argv=['  ']), 'argv must be a non-empty list of strings'),
    (dict(cmd='   ', shell=True), 'cmd is empty'),
    (dict(cmd='service --status-all > /tmp/x'), 'cmd is run through /bin/sh -c only with shell: true'),
    (dict(argv=['true'], cmd='true'), 'give argv or cmd, not both'),
    (dict(argv=['true'], shell=True), 'with argv leave shell false'),
    (dict(argv=['true'], runs=0), 'runs must be an integer from 1 to 1000, got 0'),
    (dict(argv=['true'], runs=True), 'runs must be an integer from 1 to 1000'),
    (dict(argv=['true'], threshold_kb=0), 'threshold_kb must be a number above 0'),
    (dict(argv=['true'], settle=-1), 'settle must be a number of seconds from 0 to 60'),
    (dict(argv=['true'], bisect_dir='/nonexistent/init.d'), 'bisect_dir /nonexistent/init.d does not exist or is not a directory'),
    (dict(argv=['true'], bisect_dir='etc/init.d'), 'bisect_dir must be an absolute path'),
])
def test_bad_input_is_refused_before_anything_runs(changes, message):
    with pytest.raises(LeakProbeError) as raised:
        check_params(params(**changes))
    assert message in str(raised.value) and str(raised.value).endswith('(nothing was run)')


def test_bad_input_names_every_problem_and_a_file_is_not_a_directory(tmp_path):
    (tmp_path / 'file').write_text('x')
    with pytest.raises(LeakProbeError) as raised:
        check_params(params(argv=['true'], runs=0, bisect_dir=str(tmp_path / 'file')))
    assert 'runs must be' in str(raised.value) and 'is not a directory' in str(raised.value)


def test_the_command_forms():
    assert check_params(params(argv=['service', '--status-all'])) == ['service', '--status-all']
    assert check_params(params(cmd='service --status-all > /tmp/x', shell=True)) == ['/bin/sh', '-c', 'service --status-all > /tmp/x']


def test_check_mode_runs_nothing_and_says_what_it_would_run(tmp_path):
    def runner(args, environ_update=None):
        raise AssertionError('ran %s' % args)
    directory = init_d(tmp_path, ['ssh', 'vendor-agent'])
    result = probe(params(cmd='service --status-all > /tmp/s', shell=True, bisect_dir=directory), runner, None, check_mode=True)
    assert result['command'] == ['/bin/sh', '-c', 'service --status-all > /tmp/s'] and result['changed'] is False
    assert result['msg'].startswith("check mode: nothing was run; would run ['/bin/sh', '-c', 'service --status-all > /tmp/s'] 10 time(s)")
    assert 'bisect over the 2 script(s) of %s, each trial in a private mount namespace' % directory in result['msg']


def test_sample_reads_the_three_figures_through_read_meminfo(tmp_path):
    meminfo = tmp_path / 'meminfo'
    meminfo.write_text('MemTotal: 472260 kB\nMemAvailable: 283472 kB\nSlab: 66796 kB\nSUnreclaim: 38348 kB\n')
    assert sample(str(meminfo)) == dict(sunreclaim_kb=38348, slab_kb=66796, mem_available_kb=283472)
    with pytest.raises(LeakProbeError, match='cannot read'):
        sample(str(tmp_path / 'absent'))
    meminfo.write_text('MemTotal: 472260 kB\n')
    with pytest.raises(LeakProbeError, match='no SUnreclaim line'):
        sample(str(meminfo))


SLABINFO = '''slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> \
<sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
shmem_inode_cache    %d    %d    752   21    4 : tunables    0    0    0 : slabdata     %d     %d      0
kmalloc-64          512    512     64   64    1 : tunables    0    0    0 : slabdata      8      8      0
dentry              %d    %d    192   21    1 : tunables    0    0    0 : slabdata     %d     %d      0
'''


def test_growing_caches_from_slabinfo_through_parse_slabinfo(tmp_path):
    slabinfo = tmp_path / 'slabinfo'
    slabinfo.write_text(SLABINFO % (714, 714, 34, 34, 2100, 2100, 100, 100))
    before = slab_caches(str(slabinfo))
    slabinfo.write_text(SLABINFO % (15714, 15714, 749, 749, 17100, 17100, 815, 815))
    after = slab_caches(str(slabinfo))
    page = os.sysconf('SC_PAGE_SIZE') // 1024
    assert growing_caches(before, after) == [dict(name='shmem_inode_cache', kb=715 * 4 * page, objects=15000),
                                             dict(name='dentry', kb=715 * page, objects=15000)]
    assert slab_caches(str(tmp_path / 'absent')) is None and growing_caches(None, after) == []


# Recorded SUnreclaim growth per run (kB) with threshold 64.
@pytest.mark.parametrize('name, deltas, leaking', [
    ('steady growth: 1500 files in /dev/shm per run, this machine', [1136, 1148, 1140, 1152, 1132, 1144, 1140, 1148, 1136, 1144], True),
    ('steady growth just over the threshold', [70, 60, 80, 66, 64], True),
    ('steady growth below the threshold', [40, 44, 36, 40, 40], False),
    ('noise: `true` on this machine', [0, 4, -4, 8, 0, -12, 4, 0, 16, -8], False),
    ('one jump: a per-CPU slab refill, then flat', [1200, 0, 4, -4, 0, 0, 8, 0, -4, 0], False),
    ('two jumps in ten runs', [900, 0, 0, 0, 900, 0, 4, 0, 0, -4], False),
    ('shrinking: objects freed from an earlier run', [-300, -280, -310, -296, -300], False),
    ('given back every other run', [500, -500, 500, -500, 0], False),
    ('no runs', [], False),
])
def test_the_verdict_wants_consistent_growth(name, deltas, leaking):
    assert verdict(deltas, 64)[1] is leaking, name


def test_the_verdict_reports_the_mean():
    assert verdict([1136, 1148, 1140], 64) == (1141.3, True)
    assert verdict([1200, 0, 0], 64) == (400.0, False)


class FakeKernel(object):
    """SUnreclaim that grows by ``leak_kb`` on each run of the command while ``culprit`` is in the trial's copy (or
    always), with a little noise; records which scripts each trial had present."""

    def __init__(self, culprit=None, leak_kb=750, noise=(3, -2, 1, 0), always=False):
        self.sunreclaim = 38000
        self.culprit = culprit
        self.leak_kb = leak_kb
        self.noise = list(noise)
        self.always = always
        self.calls = []
        self.trials = []

    def read(self):
        return dict(sunreclaim_kb=self.sunreclaim, slab_kb=self.sunreclaim + 28000, mem_available_kb=300000 - self.sunreclaim)

    def runner(self, args, environ_update=None):
        self.calls.append(list(args))
        present = sorted(name for name in os.listdir(args[9]) if name not in ('README', '.depend.boot'))
        if args[12:] != ['true'] and (not self.trials or self.trials[-1][0] != args[9]):
            self.trials.append((args[9], present))
        if args[12:] != ['true'] and (self.always or self.culprit in present):
            self.sunreclaim += self.leak_kb
        self.sunreclaim += self.noise[len(self.calls) % len(self.noise)]
        return 0, ' [ + ]  ssh\n', ''


def no_caches():
    return None


def run_bisect(kernel, directory, command=('service', '--status-all'), runs=3, **kwargs):
    return bisect(kernel.runner, lambda name: '/usr/bin/' + name, directory, list(command), runs, 64, settle=0,
                  read=kernel.read, caches=no_caches, sleep=None, **kwargs)


def test_measure_runs_the_command_runs_times():
    kernel = FakeKernel(always=True)
    measured = measure(lambda: kernel.runner(['u'] * 9 + [os.getcwd(), '/d', '-', 'x']), runs=4, threshold_kb=64, settle=0,
                       read=kernel.read, caches=no_caches)
    assert len(kernel.calls) == 4 and [row['run'] for row in measured['samples']] == [1, 2, 3, 4]
    assert measured['leaking'] and 745 <= measured['per_run_kb'] <= 755 and measured['growing_caches'] == []
    row = measured['samples'][0]
    assert row['sunreclaim_kb'] == row['sunreclaim_after_kb'] - row['sunreclaim_before_kb'] and row['rc'] == 0
    assert row['mem_available_kb'] == -row['sunreclaim_kb'] and row['slab_kb'] == row['sunreclaim_kb']


def init_d(tmp_path, scripts, others=('README', '.depend.boot')):
    directory = tmp_path / 'init.d'
    directory.mkdir(parents=True)
    for name in scripts:
        (directory / name).write_text('#!/bin/sh\nexit 0\n')
        (directory / name).chmod(0o755)
    for name in others:
        (directory / name).write_text('not a script\n')
    return str(directory)


SCRIPTS = ['cron', 'dbus', 'hwclock.sh', 'kmod', 'nginx', 'procps', 'rsync', 'ssh', 'sudo', 'udev', 'vendor-agent']


def test_candidates_are_the_executable_scripts(tmp_path):
    directory = init_d(tmp_path, ['ssh', 'cron'])
    (tmp_path / 'init.d' / 'disabled').write_text('#!/bin/sh\n')
    assert candidates(directory) == (['cron', 'ssh'], ['.depend.boot', 'README', 'disabled'])


# The search order: all, none, then the first half of the suspects (the second only when the first does not leak)
# until one is left, then that one alone to confirm.
@pytest.mark.parametrize('culprit, order', [
    ('vendor-agent', [('all', SCRIPTS), ('none', []), ('half', SCRIPTS[:5]), ('half', SCRIPTS[5:]), ('half', SCRIPTS[5:8]),
                      ('half', SCRIPTS[8:]), ('half', ['sudo']), ('half', ['udev', 'vendor-agent']), ('half', ['udev']),
                      ('half', ['vendor-agent']), ('confirm', ['vendor-agent'])]),
    ('cron', [('all', SCRIPTS), ('none', []), ('half', SCRIPTS[:5]), ('half', ['cron', 'dbus']), ('half', ['cron']),
              ('confirm', ['cron'])]),
    ('procps', [('all', SCRIPTS), ('none', []), ('half', SCRIPTS[:5]), ('half', SCRIPTS[5:]), ('half', SCRIPTS[5:8]),
                ('half', ['procps']), ('confirm', ['procps'])]),
])
def test_bisect_search_order_names_the_script_whose_presence_leaks(tmp_path, culprit, order):
    directory = init_d(tmp_path, SCRIPTS)
    kernel = FakeKernel(culprit=culprit)
    found = run_bisect(kernel, directory, ['/bin/sh', '-c', 'service --status-all > /tmp/s'], tmp_root=str(tmp_path))
    assert [(step['step'], [os.path.basename(path) for path in step['scripts']]) for step in found['steps']] == order
    assert [present for _copy, present in kernel.trials] == [names for _step, names in order]
    assert found['culprit'] == os.path.join(directory, culprit) and found['steps'][-1]['leaking']
    assert found['leaking'] and 745 <= found['per_run_kb'] <= 755 and len(found['samples']) == 3   # the `all` trial's
    # Every run was in the private namespace, over a copy bind-mounted on the directory; the copies are gone.
    for args in kernel.calls:
        assert args[:5] == ['/usr/bin/unshare', '--mount', '--propagation', 'private', '--']
        assert args[5:9] == ['/bin/sh', '-c', TRIAL_SCRIPT, 'lowmem-bisect'] and args[10] == directory
        assert os.path.dirname(os.path.dirname(args[9])) == str(tmp_path)
    assert kernel.calls[0][12:] == ['true']   # the namespace is checked before anything is measured
    assert all(args[12:] == ['/bin/sh', '-c', 'service --status-all > /tmp/s'] for args in kernel.calls[1:])
    assert sorted(os.listdir(tmp_path)) == ['init.d']


def test_bisect_refuses_when_the_full_directory_does_not_leak(tmp_path):
    directory = init_d(tmp_path, SCRIPTS)
    with pytest.raises(LeakProbeError) as raised:
        run_bisect(FakeKernel(), directory, tmp_root=str(tmp_path))
    assert 'does not leak with all 11 script(s) of %s present' % directory in str(raised.value)
    assert [step['step'] for step in raised.value.result['steps']] == ['all'] and raised.value.result['leaking'] is False
    assert sorted(os.listdir(tmp_path)) == ['init.d']


def test_bisect_when_every_trial_leaks_no_script_is_to_blame(tmp_path):
    directory = init_d(tmp_path, SCRIPTS)
    found = run_bisect(FakeKernel(always=True), directory, tmp_root=str(tmp_path))
    assert found['culprit'] is None and 'leaks with none of the scripts' in found['reason']
    assert [step['step'] for step in found['steps']] == ['all', 'none']


def test_bisect_reports_a_leak_that_needs_two_scripts_together(tmp_path):
    directory = init_d(tmp_path, ['a', 'b', 'c', 'd'])

    class Pair(FakeKernel):
        def runner(self, args, environ_update=None):
            present = os.listdir(args[9])
            if 'a' in present and 'd' in present:
                self.sunreclaim += 300
            return 0, '', ''
    found = run_bisect(Pair(), directory, tmp_root=str(tmp_path))
    assert found['culprit'] is None and 'needs scripts of both halves' in found['reason']
    assert [step['step'] for step in found['steps']] == ['all', 'none', 'half', 'half']


def test_bisect_needs_unshare_and_scripts(tmp_path):
    directory = init_d(tmp_path, ['ssh'])
    with pytest.raises(LeakProbeError, match='needs unshare'):
        bisect(None, lambda name: None, directory, ['true'], 3, 64)
    empty = init_d(tmp_path / 'e', [])
    with pytest.raises(LeakProbeError, match='no executable script'):
        bisect(None, lambda name: '/usr/bin/unshare', empty, ['true'], 3, 64)


def test_a_namespace_that_cannot_be_set_up_is_a_clear_error_and_nothing_is_left(tmp_path):
    directory = init_d(tmp_path, ['ssh'])
    calls = []

    def runner(args, environ_update=None):
        calls.append(args)
        return 1, '', 'unshare: unshare failed: Operation not permitted'
    with pytest.raises(LeakProbeError, match='private mount namespace for bisect could not be set up.*was not touched'):
        bisect(runner, lambda name: '/usr/bin/unshare', directory, ['service', '--status-all'], 3, 64, settle=0,
               read=FakeKernel().read, caches=no_caches, tmp_root=str(tmp_path))
    assert len(calls) == 1 and calls[0][12:] == ['true'] and sorted(os.listdir(tmp_path)) == ['init.d']


def test_an_interrupted_bisect_removes_its_copy(tmp_path):
    directory = init_d(tmp_path, SCRIPTS)
    kernel = FakeKernel(culprit='ssh')

    def runner(args, environ_update=None):
        if len(kernel.calls) == 5:
            os.kill(os.getpid(), signal.SIGTERM)   # a task timeout, mid-bisect
        return kernel.runner(args)
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(LeakProbeError, match='interrupted by signal 15: its temporary copy was removed'):
        bisect(runner, lambda name: '/usr/bin/unshare', directory, ['service', '--status-all'], 3, 64, settle=0, read=kernel.read,
               caches=no_caches, tmp_root=str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ['init.d'] and signal.getsignal(signal.SIGTERM) == previous


def test_the_trial_only_mounts_inside_its_namespace_and_never_writes_the_directory():
    args = trial_command('/usr/bin/unshare', '/tmp/lowmem-bisect.x/trial-1', '/etc/init.d', ['service', '--status-all'])
    assert args[1:5] == ['--mount', '--propagation', 'private', '--'] and args[-2:] == ['service', '--status-all']
    for word in (' mv ', ' rm ', 'rename', ' ln ', ' cp ', '>"$dir', '> "$dir'):
        assert word not in TRIAL_SCRIPT
    assert 'mount --bind "$copy" "$dir"' in TRIAL_SCRIPT and args[11] == '-'
    assert trial_command('/usr/bin/unshare', '/c', '/d', ['x'], noexec=True)[11] == 'exec'


def test_a_command_that_fails_is_still_measured_with_a_warning():
    results = iter([0, 3, 3, 0])

    def runner(args, environ_update=None):
        return next(results), '', 'vendor-agent: not running'
    result = probe(params(argv=['service', 'vendor-agent', 'status'], runs=4, settle=0), runner, None)
    assert result['leaking'] is False and len(result['samples']) == 4 and result['msg'].startswith('not leaking: ')
    assert result['warnings'] == ['the command exited non-zero in 2 of 4 run(s) (rc 3): its figures are still returned']
