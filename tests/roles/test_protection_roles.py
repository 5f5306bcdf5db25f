# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""earlyoom and oom_protect: bad input fails with a clear message before anything is installed or written."""

from __future__ import annotations

import os

import pytest


@pytest.mark.parametrize('bad, message', [
    ({'earlyoom_mem_min_percent': [101, 5]}, 'mem_min_percent'),
    ({'earlyoom_mem_min_percent': [10, 20]}, 'mem_min_percent'),
    ({'earlyoom_swap_min_percent': [20, 30]}, 'swap_min_percent'),
    ({'earlyoom_prefer': ['bad name']}, 'bad name'),
    ({'earlyoom_extra_args': ['--prefer', 'x']}, '--prefer'),
])
def test_earlyoom_bad_input_fails_before_the_package_is_installed(run_role, bad, message):
    before = os.path.exists('/etc/default/earlyoom')
    run = run_role('lowmem.vps.earlyoom', bad)
    assert run.rc != 0, run.output
    assert message in run.output
    assert 'Install earlyoom' not in run.output
    assert os.path.exists('/etc/default/earlyoom') == before


@pytest.mark.parametrize('bad, message', [
    ({'oom_protect_units': [{'name': 'ssh', 'score': -1000}]}, 'unkillable'),
    ({'oom_protect_score': 2000}, '-1000..1000'),
    ({'oom_protect_units': ['nginx', {'name': 'ssh', 'live_scope': 'some'}]}, 'live_scope'),
    ({'oom_protect_units': ['../etc/passwd']}, 'passwd'),
])
def test_oom_protect_bad_input_fails_before_writing(run_role, bad, message):
    before = sorted(os.listdir('/etc/systemd/system')) if os.path.isdir('/etc/systemd/system') else None
    run = run_role('lowmem.vps.oom_protect', bad)
    assert run.rc != 0, run.output
    assert message in run.output
    assert 'nothing was changed' in run.output
    after = sorted(os.listdir('/etc/systemd/system')) if os.path.isdir('/etc/systemd/system') else None
    assert after == before


@pytest.mark.parametrize('bad', [['127.0.0.1', 'proxy.example'], '127.0.0.1', ['127.0.0.1 ::1']])
def test_oom_protect_refuses_a_penalty_exemption_that_is_no_address_list_before_writing(run_role, bad):
    # The check runs before the OOMScoreAdjust drop-ins are written, not only before sshd's drop-in.
    before = sorted(os.listdir('/etc/systemd/system')) if os.path.isdir('/etc/systemd/system') else None
    run = run_role('lowmem.vps.oom_protect', {'oom_protect_sshd_penalty_exempt': bad})
    assert run.rc != 0, run.output
    assert 'oom_protect_sshd_penalty_exempt must be a list of IPv4/IPv6 addresses' in run.output
    assert 'Write OOMScoreAdjust drop-ins' not in run.output
    assert not os.path.exists('/etc/ssh/sshd_config.d/50-lowmem-penalty-exempt.conf')
    after = sorted(os.listdir('/etc/systemd/system')) if os.path.isdir('/etc/systemd/system') else None
    assert after == before
