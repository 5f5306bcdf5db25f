# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""tools/storm.py: what it reads from the guest (samples, the kernel's and earlyoom's lines, PIDs) and what it sends."""

from __future__ import annotations

import importlib.util
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')


@pytest.fixture(scope='module')
def storm():
    spec = importlib.util.spec_from_file_location('storm_under_test', os.path.join(ROOT, 'tools', 'storm.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def journal():
    with open(os.path.join(FIXTURES, 'storm-journal-6.12-short-unix-labvm.txt'), encoding='utf-8') as handle:
        return handle.read().splitlines()


def test_kills_from_the_real_journal_are_the_kernels_and_earlyooms_with_their_times(storm):
    start = 1796322000.0
    kills, failures, events = storm.parse_kills(journal(), start)
    assert kills == [
        {'t': 31.52, 'by': 'kernel', 'comm': 'hog', 'pid': 710},
        {'t': 513.47, 'by': 'earlyoom', 'comm': 'hog', 'pid': 2166},
    ]
    assert failures == 0 and events == []


def test_one_kill_per_pid_the_first_and_kills_without_a_time_last(storm):
    lines = ['1796322010.000000 labvm earlyoom[1]: sending SIGTERM to process 12 uid 0 "hysteria": oom_score 816, VmRSS 40 MiB',
             '1796322011.000000 labvm earlyoom[1]: sending SIGKILL to process 12 uid 0 "hysteria": oom_score 816, VmRSS 40 MiB',
             'sending SIGTERM to process 13 uid 0 "tuic-server": oom_score 812, VmRSS 30 MiB']
    kills = storm.parse_kills(lines, 1796322000.0)[0]
    assert kills == [{'t': 10.0, 'by': 'earlyoom', 'comm': 'hysteria', 'pid': 12},
                     {'t': None, 'by': 'earlyoom', 'comm': 'tuic-server', 'pid': 13}]


def test_samples_are_relative_to_the_hogs_start_and_broken_lines_skipped(storm):
    text = '100.50 472000 300000 2097148 2097148\n101.5 472000 200000 2097148 2000000\ngarbage\n102.5 1 2 3\n'
    assert storm.parse_samples(text, 100.0) == [
        {'t': 0.5, 'mem_total_kb': 472000, 'mem_available_kb': 300000, 'swap_total_kb': 2097148, 'swap_free_kb': 2097148},
        {'t': 1.5, 'mem_total_kb': 472000, 'mem_available_kb': 200000, 'swap_total_kb': 2097148, 'swap_free_kb': 2000000}]


def test_read_collect_splits_pids_states_penalties_samples_and_journal(storm):
    text = ('pids 501 0 620 \nactive ssh active\nactive nginx failed\nactive supervisor active\npenalty_drops 3\n'
            '--- samples\n10.0 472000 300000 0 0\n--- journal\n' + '\n'.join(journal()) + '\n')
    got = storm.read_collect(text, {'epoch': 1796322000.0, 'uptime': 9.0})
    assert got['pids_after'] == {'ssh': 501, 'nginx': None, 'supervisor': 620}
    assert got['active_after'] == {'ssh': 'active', 'nginx': 'failed', 'supervisor': 'active'}
    assert got['sshd_penalty_drops'] == 3
    assert got['samples'] == [{'t': 1.0, 'mem_total_kb': 472000, 'mem_available_kb': 300000, 'swap_total_kb': 0,
                               'swap_free_kb': 0}]
    assert [kill['pid'] for kill in got['kills']] == [710, 2166]
    assert got['journal'] == journal()


@pytest.mark.parametrize('ttl, swap_off', [(None, False), (1000, True)])
def test_the_guest_scripts_are_valid_bash_and_carry_the_settings(storm, ttl, swap_off):
    start = storm.start_script(7, ttl, 10, 0.2, swap_off=swap_off)
    collect = storm.collect_script(1796322000.9)
    for script in (start, collect):
        subprocess.run(['bash', '-n'], input=script, text=True, check=True)
    assert '--grow 10 --every 0.2 --seed 7' in start
    assert ('echo 1000 >/sys/kernel/mm/lru_gen/min_ttl_ms' in start) == (ttl == 1000)
    assert ('if [ 1 = 1 ]; then swapoff -a' in start) == swap_off
    assert 'OOMScoreAdjust=-1000' in start  # the sampler outlives the storm
    assert '--since @1796322000 ' in collect and 'swapon -a' in collect


def test_the_sampler_line_is_what_parse_samples_reads(storm, tmp_path):
    # The awk program of the start script, run here on this machine's /proc files.
    start = storm.start_script(1, None, 10, 0.2)
    program = start.split("awk '", 1)[1].split("'", 1)[0]
    line = subprocess.run(['awk', program, '/proc/uptime', '/proc/meminfo'], capture_output=True, text=True,
                          check=True).stdout
    samples = storm.parse_samples(line, 0.0)
    assert len(samples) == 1 and samples[0]['mem_total_kb'] > samples[0]['mem_available_kb'] > 0, line


def _fake_probe(answers):
    """A probe_ssh stand-in answering from the list, one entry per call."""
    calls = []

    def probe(info, t0, results, lock):
        ok = answers[len(calls)]
        calls.append(ok)
        results.append({'t': float(len(calls)), 'ok': ok, 'latency_s': 0.1, 'error': None if ok else 'timeout',
                        'hog': 'gone' if ok else None})
    return probe, calls


def test_the_probe_after_the_storm_stops_at_the_first_answer(storm):
    probe, calls = _fake_probe([False, False, True, True])
    after = storm.probe_after({}, 0.0, tries=5, probe=probe, pause=0)
    assert after['ok'] is True and after['tries'] == 3 and calls == [False, False, True]
    assert [p['ok'] for p in after['probes']] == [False, False, True]


def test_the_probe_after_the_storm_gives_up_after_its_tries(storm):
    probe, calls = _fake_probe([False] * 6)
    after = storm.probe_after({}, 0.0, tries=4, probe=probe, pause=0)
    assert after == {'ok': False, 'tries': 4, 'probes': after['probes']} and len(calls) == 4
