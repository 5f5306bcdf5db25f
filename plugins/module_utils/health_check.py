# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The health gate after a run: is the host still what its users reach?

Each check returns ``{name, ok, detail}``; :func:`run_checks` runs all of them (one failing check never hides
another) and :func:`failure_message` names every one that failed. Checks, in order:

- ``failed_units``: ``systemctl list-units --state=failed`` is empty (names matching ``ignore_failed_units``, shell
  globs, left out);
- ``unit:NAME``: each entry service is active (a unit that is not installed is skipped when ``missing_ok``);
- ``ssh:PORT``: a TCP connect to the port gets an ``SSH-`` banner within the timeout (also through an nginx stream
  listener, where the seed's SSH died with ``kex_exchange_identification: Connection closed by remote host``);
- ``http:URL``: the URL answers with one of the expected statuses (an API's 404 can be the right answer; redirects
  are not followed, so a 301 can be expected too);
- ``kernel_log``: no OOM kill and no page allocation failure in the journal since ``since`` (the run's start), read
  with the one kernel-log parser.

Standard library only, nothing here writes; the network checks go to 127.0.0.1 with short timeouts.
"""

from __future__ import annotations

import fnmatch
import re
import socket
import ssl
import time
from http.client import HTTPConnection, HTTPSConnection
from urllib.parse import urlsplit

from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.kernel_log import empty_events, parse_events
from ansible_collections.lowmem.vps.plugins.module_utils.memory_facts import SINCE_RE, journal_command, since_argument
from ansible_collections.lowmem.vps.plugins.module_utils.oom import show_blocks, unit_name
from ansible_collections.lowmem.vps.plugins.module_utils.runner import StreamError, tail

HTTP_KEYS = ('url', 'status', 'host_header')
BANNER_MAX = 1024
_UNIT_RE = re.compile(r'^[A-Za-z0-9:_.@\\-]+$')


class HealthCheckError(RefusedError):
    """Bad input to health_check (nothing was checked)."""


class HealthCheckFailed(RefusedError):
    """The gate failed: the message names every failed check, ``result['checks']`` has them all."""


# ---------------------------------------------------------------- parameters

def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def expected_statuses(value):
    """[int] from an HTTP status or a list of them (100-599); None when any is not one."""
    values = value if isinstance(value, (list, tuple)) else [value]
    result = []
    for item in values:
        if isinstance(item, bool) or isinstance(item, float):
            return None
        try:
            number = int(str(item).strip())
        except (TypeError, ValueError):
            return None
        if not 100 <= number <= 599:
            return None
        result.append(number)
    return result or None


def _http_problems(index, endpoint):
    if not isinstance(endpoint, dict) or not isinstance(endpoint.get('url'), str):
        return ['http[%d] must be a mapping with a url, got %r' % (index, endpoint)]
    problems = []
    parts = urlsplit(endpoint['url'])
    try:
        port_ok = parts.port is None or 1 <= parts.port <= 65535
    except ValueError:
        port_ok = False
    if parts.scheme not in ('http', 'https') or not parts.hostname or not port_ok:
        problems.append('http[%d].url must be an http:// or https:// URL with a host, got %r' % (index, endpoint['url']))
    unknown = sorted(set(endpoint) - set(HTTP_KEYS))
    if unknown:
        problems.append('http[%d] has unknown keys %s (known: %s)' % (index, ', '.join(unknown), ', '.join(HTTP_KEYS)))
    if expected_statuses(endpoint.get('status', 200)) is None:
        problems.append('http[%d].status must be an HTTP status (100-599) or a list of them, got %r'
                        % (index, endpoint.get('status')))
    host_header = endpoint.get('host_header')
    if host_header is not None and (not isinstance(host_header, str) or not host_header.strip()
                                    or any(char in host_header for char in '\r\n')):
        problems.append('http[%d].host_header must be a host name, got %r' % (index, host_header))
    return problems


def check_params(params):
    """Validate health_check's options; raise HealthCheckError naming every bad one."""
    problems = []
    ports = params.get('ssh_ports') or []
    for port in ports:
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            problems.append('ssh_ports must be TCP ports (1-65535), got %r' % (port,))
    for index, endpoint in enumerate(params.get('http') or []):
        problems.extend(_http_problems(index, endpoint))
    timeout = params.get('timeout')
    if not _is_number(timeout) or not 0 < timeout <= 300:
        problems.append('timeout must be seconds above 0 and at most 300, got %r' % (timeout,))
    since = params.get('since')
    if since is not None and not SINCE_RE.match(str(since).strip()):
        problems.append('since must be epoch seconds, "YYYY-MM-DD[ HH:MM[:SS]]", today, yesterday or a relative '
                        'time like -1h, got %r' % (since,))
    for key in ('units', 'ignore_failed_units'):
        names = params.get(key) or []
        bad = [name for name in names if not isinstance(name, str) or not name.strip()
               or (key == 'units' and not _UNIT_RE.match(name.strip()))]
        if bad:
            problems.append('%s must be systemd unit names%s, got %r'
                            % (key, ' (shell globs allowed)' if key == 'ignore_failed_units' else '', bad))
    if problems:
        raise HealthCheckError('; '.join(problems) + ' (nothing was checked)')
    return params


# ---------------------------------------------------------------- checks

def _check(name, ok, detail):
    return dict(name=name, ok=bool(ok), detail=detail)


def check_failed_units(runner, systemctl, ignore=()):
    """``failed_units``: no unit in the failed state but those matching ``ignore`` (shell globs)."""
    rc, out, err = runner([systemctl, 'list-units', '--state=failed', '--all', '--plain', '--no-legend', '--no-pager'])
    if rc != 0:
        return _check('failed_units', False, 'systemctl list-units failed: %s' % tail(rc, out, err))
    failed, ignored = [], []
    for line in out.splitlines():
        fields = line.split()
        if fields and fields[0] in ('\u25cf', '*'):
            fields = fields[1:]  # the status bullet systemctl prints without --plain
        if not fields:
            continue
        name = fields[0]
        (ignored if any(fnmatch.fnmatchcase(name, pattern) for pattern in ignore) else failed).append(name)
    if failed:
        return _check('failed_units', False, 'failed units: %s' % ', '.join(sorted(failed)))
    if ignored:
        return _check('failed_units', True, 'no failed unit but the allowed %s' % ', '.join(sorted(ignored)))
    return _check('failed_units', True, 'no failed unit')


def check_units(runner, systemctl, units, missing_ok=True):
    """``unit:NAME`` for each unit: active, else failed with its state; a unit not installed is skipped when
    ``missing_ok``, else failed."""
    names = []
    for unit in units:
        name = unit_name(unit.strip())
        if name not in names:
            names.append(name)
    if not names:
        return []
    rc, out, err = runner([systemctl, 'show', '-p', 'Id', '-p', 'LoadState', '-p', 'ActiveState', '-p', 'SubState',
                           '--'] + names)
    if rc != 0:
        return [_check('unit:%s' % name, False, 'systemctl show failed: %s' % tail(rc, out, err)) for name in names]
    blocks = show_blocks(out)
    checks = []
    for index, name in enumerate(names):
        block = blocks[index] if index < len(blocks) else {}
        load, active, sub = block.get('LoadState', ''), block.get('ActiveState', ''), block.get('SubState', '')
        if load in ('not-found', ''):
            if not missing_ok:
                checks.append(_check('unit:%s' % name, False, '%s is not installed' % name))
        elif load == 'masked':
            checks.append(_check('unit:%s' % name, False, '%s is masked' % name))
        elif active == 'active':
            checks.append(_check('unit:%s' % name, True, '%s is active (%s)' % (name, sub or '-')))
        else:
            checks.append(_check('unit:%s' % name, False, '%s is %s (%s)' % (name, active or 'unknown', sub or '-')))
    return checks


def read_banner(host, port, timeout, connect=socket.create_connection, clock=time.monotonic):
    """(first line the server sends, seconds taken): an SSH server speaks first. Raises OSError (socket.timeout too)."""
    start = clock()
    deadline = start + timeout
    sock = connect((host, port), timeout)
    try:
        data = b''
        while b'\n' not in data and len(data) < BANNER_MAX:
            left = deadline - clock()
            if left <= 0:
                raise socket.timeout('timed out')
            sock.settimeout(left)
            chunk = sock.recv(256)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    return data.split(b'\n', 1)[0].decode('ascii', 'replace').strip(), clock() - start


def check_ssh(port, host='127.0.0.1', timeout=5, connect=socket.create_connection):
    """``ssh:PORT``: the port answers with an ``SSH-`` banner within ``timeout`` seconds."""
    name = 'ssh:%d' % port
    try:
        banner, seconds = read_banner(host, port, timeout, connect)
    except OSError as exc:
        return _check(name, False, 'no SSH banner from %s:%d within %gs: %s' % (host, port, timeout,
                                                                                str(exc) or type(exc).__name__))
    if not banner.startswith('SSH-'):
        if not banner:
            return _check(name, False, '%s:%d closed the connection without a banner (what ssh reports as '
                                       'kex_exchange_identification: Connection closed by remote host)' % (host, port))
        return _check(name, False, '%s:%d answered %r, not an SSH banner' % (host, port, banner[:80]))
    return _check(name, True, '%s in %.2fs' % (banner[:80], seconds))


def http_status(url, timeout, host_header=None):
    """The status of a GET of ``url`` (redirects not followed; TLS certificates not checked: liveness, not trust)."""
    parts = urlsplit(url)
    if parts.scheme == 'https':
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=context)
    else:
        connection = HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path or '/'
        if parts.query:
            path += '?' + parts.query
        headers = {'User-Agent': 'lowmem.vps-health-check', 'Connection': 'close'}
        if host_header:
            headers['Host'] = host_header
        connection.request('GET', path, headers=headers)
        response = connection.getresponse()
        response.read(65536)
        return response.status
    finally:
        connection.close()


def check_http(endpoint, timeout=5, fetch=http_status):
    """``http:URL``: the URL answers with one of its expected statuses (default 200)."""
    url = endpoint['url']
    statuses = expected_statuses(endpoint.get('status', 200))
    name = 'http:%s' % url
    try:
        status = fetch(url, timeout, endpoint.get('host_header'))
    except Exception as exc:  # pylint: disable=broad-except
        return _check(name, False, '%s did not answer within %gs: %s' % (url, timeout, str(exc) or type(exc).__name__))
    expected = ' or '.join(str(code) for code in statuses)
    if status in statuses:
        return _check(name, True, '%s answered %d' % (url, status))
    return _check(name, False, '%s answered %d, expected %s' % (url, status, expected))


def check_kernel_log(stream, journalctl, since=None):
    """``kernel_log``: no OOM kill and no page allocation failure in the journal since ``since`` (the current boot
    when None). Returns (check, events)."""
    events = empty_events()
    where = 'since %s' % since_argument(since) if since is not None else 'in this boot'
    try:
        if since is not None:
            parse_events(stream(journal_command(journalctl, since=since)), into=events)
        else:
            parse_events(stream(journal_command(journalctl, boot='0')), into=events)
    except StreamError as exc:
        return _check('kernel_log', False, 'the journal could not be read: %s' % exc), events
    found = []
    if events['oom_kills']:
        found.append('%d OOM kill(s) (%s)' % (len(events['oom_kills']), ', '.join(
            '%s %s' % (kill.get('victim_comm'), kill.get('victim_pid')) for kill in events['oom_kills'][:5])))
    if events['page_alloc_failures']:
        found.append('%d page allocation failure(s) (%s)' % (len(events['page_alloc_failures']), ', '.join(
            sorted(set(str(failure.get('comm')) for failure in events['page_alloc_failures']))[:5])))
    if found:
        return _check('kernel_log', False, '%s %s' % (' and '.join(found), where)), events
    return _check('kernel_log', True, 'no OOM kill or page allocation failure %s' % where), events


def run_checks(params, runner, which, stream, connect=socket.create_connection, fetch=http_status):
    """(every check's result in order, the kernel-log events seen). Raises HealthCheckError on bad input."""
    check_params(params)
    checks = []
    units = params.get('units') or []
    want_failed = params.get('failed_units', True)
    systemctl = which('systemctl') if (want_failed or units) else None
    if (want_failed or units) and not systemctl:
        checks.append(_check('systemd', False, 'systemctl is not installed: the unit checks cannot run'))
    if systemctl and want_failed:
        checks.append(check_failed_units(runner, systemctl, params.get('ignore_failed_units') or ()))
    if systemctl:
        checks.extend(check_units(runner, systemctl, units, params.get('missing_ok', True)))
    timeout = params['timeout']
    for port in params.get('ssh_ports') or []:
        checks.append(check_ssh(port, params.get('ssh_host') or '127.0.0.1', timeout, connect))
    for endpoint in params.get('http') or []:
        checks.append(check_http(endpoint, timeout, fetch))
    events = empty_events()
    if params.get('kernel_log', True):
        journalctl = which('journalctl')
        if journalctl:
            check, events = check_kernel_log(stream, journalctl, params.get('since'))
            checks.append(check)
        else:
            checks.append(_check('kernel_log', False, 'journalctl is not installed: the kernel log cannot be read'))
    return checks, events


def failure_message(checks):
    """'N of M checks failed: name: detail; ...' naming every failed check; None when all passed."""
    failed = [check for check in checks if not check['ok']]
    if not failed:
        return None
    return '%d of %d checks failed: %s' % (len(failed), len(checks), '; '.join(
        '%s: %s' % (check['name'], check['detail']) for check in failed))


def gate(params, runner, which, stream, connect=socket.create_connection, fetch=http_status):
    """The module's result when every check passed; raises HealthCheckFailed (with the result) when one failed."""
    checks, events = run_checks(params, runner, which, stream, connect, fetch)
    result = dict(changed=False, checks=checks, failed_checks=[check['name'] for check in checks if not check['ok']],
                  events=dict(oom_kills=events['oom_kills'], page_alloc_failures=events['page_alloc_failures']))
    message = failure_message(checks)
    if message:
        raise HealthCheckFailed(message, result=result)
    result['msg'] = 'all %d checks passed' % len(checks)
    return result
