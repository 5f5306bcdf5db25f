# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""health_check end to end through main(): bad input checks nothing; with systemctl and journalctl scripts first on
PATH (a stopped nginx, a journal with an OOM kill or without), an SSH-like banner and an HTTP server on 127.0.0.1,
the task fails naming exactly the failed checks, and passes with changed=false, also in check mode."""
from __future__ import annotations

import http.server
import os
import socket
import stat
import threading

import pytest

from ansible_collections.lowmem.vps.plugins.modules import health_check

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'kernel_log')
OOM_FIXTURE = os.path.join(FIXTURES, 'oom-new-6.12-global-journal-short-iso-labvm.txt')

SYSTEMCTL = r'''#!/bin/sh
case "$1" in
  list-units) exit 0 ;;
  show) printf 'Id=ssh.service\nLoadState=loaded\nActiveState=active\nSubState=running\n\n'
        printf 'Id=nginx.service\nLoadState=loaded\nActiveState=%s\nSubState=%s\n' "$NGINX_STATE" "$NGINX_SUB" ;;
  *) exit 1 ;;
esac
'''


def executable(path, text):
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A bin directory first on PATH with systemctl and journalctl scripts; nginx active and an empty journal."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    executable(bin_dir / 'systemctl', SYSTEMCTL)
    executable(bin_dir / 'journalctl', '#!/bin/sh\ncat "${JOURNAL:-/dev/null}"\n')
    monkeypatch.setenv('PATH', '%s:%s' % (bin_dir, os.environ.get('PATH', '/usr/bin:/bin')))
    monkeypatch.setenv('NGINX_STATE', 'active')
    monkeypatch.setenv('NGINX_SUB', 'running')
    return monkeypatch


@pytest.fixture
def servers():
    """An SSH-like banner and an API answering 404 on 127.0.0.1: (ssh port, api url)."""
    banner = socket.socket()
    banner.bind(('127.0.0.1', 0))
    banner.listen(8)

    def serve():
        while True:
            try:
                client = banner.accept()[0]
            except OSError:
                return
            client.sendall(b'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n')
            client.close()

    class Api(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # pylint: disable=invalid-name
            self.send_response(404)
            self.send_header('Content-Length', '0')
            self.end_headers()

        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass

    api = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Api)
    threads = [threading.Thread(target=serve, daemon=True), threading.Thread(target=api.serve_forever, daemon=True)]
    for thread in threads:
        thread.start()
    yield banner.getsockname()[1], 'http://127.0.0.1:%d/' % api.server_address[1]
    banner.shutdown(socket.SHUT_RDWR)
    banner.close()
    api.shutdown()
    api.server_close()
    for thread in threads:
        thread.join(5)


def args(ssh_port, api_url, status=404, **more):
    result = dict(units=['ssh', 'nginx', 'supervisor'], ssh_ports=[ssh_port], http=[dict(url=api_url, status=status)],
                  since='1764669000', timeout=3)
    result.update(more)
    return result


def test_bad_input_fails_clearly_and_checks_nothing(module_runner, host):
    host.setenv('PATH', '/nonexistent')  # a check that ran would fail on "systemctl is not installed" instead
    code, result = module_runner(health_check.main, {'ssh_ports': [0], 'http': [{'url': 'http://127.0.0.1/', 'code': 1}],
                                                     'timeout': 0})
    assert code == 1 and result['changed'] is False and 'checks' not in result
    assert result['msg'].startswith('health_check: ssh_ports must be TCP ports (1-65535), got 0; ')
    assert 'http[0] has unknown keys code' in result['msg'] and 'timeout must be seconds above 0' in result['msg']
    assert result['msg'].endswith('(nothing was checked)')


@pytest.mark.parametrize('check_mode', [False, True])
def test_a_healthy_host_passes_unchanged(module_runner, host, servers, check_mode):
    ssh_port, api_url = servers
    code, result = module_runner(health_check.main, dict(args(ssh_port, api_url), _ansible_check_mode=check_mode))
    assert code == 0 and result['changed'] is False, result
    assert result['msg'] == 'all 6 checks passed' and result['failed_checks'] == []
    assert [check['name'] for check in result['checks']] == [
        'failed_units', 'unit:ssh.service', 'unit:nginx.service', 'ssh:%d' % ssh_port, 'http:%s' % api_url, 'kernel_log']


def test_a_stopped_entry_service_and_a_wrong_status_fail_naming_exactly_those(module_runner, host, servers):
    ssh_port, api_url = servers
    host.setenv('NGINX_STATE', 'inactive')
    host.setenv('NGINX_SUB', 'dead')
    code, result = module_runner(health_check.main, args(ssh_port, api_url, status=200))
    assert code == 1 and result['changed'] is False
    assert result['failed_checks'] == ['unit:nginx.service', 'http:%s' % api_url]
    assert result['msg'] == ('health_check: 2 of 6 checks failed: unit:nginx.service: nginx.service is inactive (dead); '
                             'http:%s: %s answered 404, expected 200' % (api_url, api_url))
    assert len(result['checks']) == 6


def test_an_oom_kill_in_the_run_fails_the_gate(module_runner, host, servers):
    ssh_port, api_url = servers
    host.setenv('JOURNAL', OOM_FIXTURE)
    code, result = module_runner(health_check.main, args(ssh_port, api_url))
    assert code == 1 and result['failed_checks'] == ['kernel_log']
    assert result['msg'] == 'health_check: 1 of 6 checks failed: kernel_log: 1 OOM kill(s) (lowmem-hog 2001) since @1764669000'
    assert result['events']['oom_kills'][0]['victim_pid'] == 2001
