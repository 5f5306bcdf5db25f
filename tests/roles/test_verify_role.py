# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""verify: bad input fails before anything is checked; a gate that fails on purpose (nothing on an SSH port, an HTTP
endpoint that does not answer) fails the host with one message naming those checks, the same in check mode."""

from __future__ import annotations

import socket

import pytest


def free_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.mark.parametrize('bad, message', [
    ({'verify_http': [{'url': 'ftp://127.0.0.1/'}]}, 'http[0].url must be an http:// or https:// URL'),
    ({'verify_http': [{'url': 'http://127.0.0.1/', 'status': 999}]}, 'http[0].status must be an HTTP status'),
    ({'verify_ssh_ports': [0]}, 'ssh_ports must be TCP ports'),
    ({'verify_since': 'after lunch'}, 'since must be epoch seconds'),
])
def test_verify_bad_input_fails_before_checking(run_role, bad, message):
    run = run_role('lowmem.vps.verify', bad)
    assert run.rc != 0, run.output
    assert message in run.flat and 'nothing was checked' in run.flat


@pytest.mark.parametrize('check', [False, True])
def test_verify_fails_naming_every_failed_check(run_role, check):
    ssh_port, http_port = free_port(), free_port()
    run = run_role('lowmem.vps.verify', {'verify_units': [], 'verify_kernel_log': False, 'verify_timeout': 2,
                                         'verify_ssh_ports': [ssh_port],
                                         'verify_http': [{'url': 'http://127.0.0.1:%d/api' % http_port, 'status': 404}]},
                   check=check)
    assert run.rc != 0, run.output
    assert 'health_check: ' in run.flat and ' checks failed: ' in run.flat
    assert 'ssh:%d: no SSH banner from 127.0.0.1:%d within 2s' % (ssh_port, ssh_port) in run.flat
    assert 'http:http://127.0.0.1:%d/api: http://127.0.0.1:%d/api did not answer within 2s' % (http_port, http_port) \
        in run.flat
    assert 'kernel_log' not in run.flat
