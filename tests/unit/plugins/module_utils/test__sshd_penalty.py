# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""sshd_penalty: addresses, the drop-in's text, OpenSSH's version from real ``sshd -V`` output, and run() on real files
under tmp_path with a recording runner (the module's own tests run the real runner on fake commands)."""
from __future__ import annotations

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.result import Context
from ansible_collections.lowmem.vps.plugins.module_utils.sshd_penalty import (
    NOT_SUPPORTED, SshdPenaltyError, SshdPenaltyFailure, check_addresses, parse_version, render, run,
)

# Debian 12: the version line is what `ssh -V` prints on the Debian 12 machine these tests were written on (no sshd is
# installed there; sshd prints the same SSH_RELEASE, OPENSSL line). OpenSSH 9.2's sshd has no -V: getopt complains and
# usage() prints the version line before the usage text, exit 1.
BOOKWORM_VERSION = 'OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL 3.0.19 27 Jan 2026'
BOOKWORM_SSHD_V = ("/usr/sbin/sshd: invalid option -- 'V'\n" + BOOKWORM_VERSION + '\n'
                   'usage: sshd [-46DDdeiqTt] [-C connection_spec] [-c host_cert_file]\n'
                   '            [-E log_file] [-f config_file] [-g login_grace_time]\n'
                   '            [-h host_key_file] [-o option] [-p port] [-u len]\n')
# Debian 13 (trixie): the release the lab VM's sshd announces (test__health_check's banner); sshd -V prints it to stderr.
TRIXIE_SSHD_V = 'OpenSSH_10.0p2 Debian-7, OpenSSL 3.5.1 1 Jul 2025\n'
HEADER = 'Ansible managed'
TEXT = ('# Ansible managed\n'
        "# SSH reached through a local proxy: sshd's per-source penalties must not refuse the proxy's address.\n"
        'PerSourcePenaltyExemptList 127.0.0.1,::1\n')
SSHD = '/usr/sbin/sshd'


@pytest.mark.parametrize('good', [[], ['127.0.0.1', '::1'], ['10.0.0.0/8', 'fd00::/8', '192.168.1.7/24'],
                                  ['::ffff:127.0.0.1']])
def test_addresses_and_ranges_are_taken(good):
    assert check_addresses(good) == good


@pytest.mark.parametrize('bad, named', [
    (['127.0.0.1', 'proxy.example'], "'proxy.example'"),
    (['127.0.0.1 ::1'], "'127.0.0.1 ::1'"),
    (['300.1.1.1'], "'300.1.1.1'"),
    (['10.0.0.0/33'], "'10.0.0.0/33'"),
    ([' 127.0.0.1'], "' 127.0.0.1'"),
    (['127.0.0.1,::1'], "'127.0.0.1,::1'"),
    ('127.0.0.1', "'127.0.0.1'"),
])
def test_anything_else_is_refused_by_name(bad, named):
    with pytest.raises(SshdPenaltyError) as raised:
        check_addresses(bad)
    assert 'IPv4/IPv6 addresses or CIDR ranges' in str(raised.value) and named in str(raised.value)


def test_the_drop_in_is_the_header_the_reason_and_the_list():
    assert render(['127.0.0.1', '::1'], HEADER) == TEXT
    assert render(['127.0.0.1'], '#\n# Ansible managed\n#').startswith('#\n# Ansible managed\n#\n# SSH reached')
    assert render(['127.0.0.1'], None).splitlines()[1] == 'PerSourcePenaltyExemptList 127.0.0.1'


@pytest.mark.parametrize('text, version, line', [
    (BOOKWORM_SSHD_V, (9, 2), BOOKWORM_VERSION),
    (TRIXIE_SSHD_V, (10, 0), 'OpenSSH_10.0p2 Debian-7, OpenSSL 3.5.1 1 Jul 2025'),
    ('OpenSSH_9.8p1, OpenSSL 3.3.1 4 Jun 2024\n', (9, 8), 'OpenSSH_9.8p1, OpenSSL 3.3.1 4 Jun 2024'),
    ("sshd: invalid option -- 'V'\n", None, None),
])
def test_the_version_is_read_from_any_line(text, version, line):
    assert parse_version(text) == (version, line)


class Runner(object):
    """Records argv; sshd -V answers ``version_text`` (rc 1 as 9.2 does), sshd -t ``check`` (rc, stderr) and copies
    the checked file's text, systemctl reload exits ``reload_rc``."""

    def __init__(self, version_text=TRIXIE_SSHD_V, check=(0, ''), reload_rc=0):
        self.version_text, self.check, self.reload_rc = version_text, check, reload_rc
        self.calls, self.checked = [], []

    def __call__(self, args, environ_update=None):
        self.calls.append(list(args))
        if args[1:] == ['-V']:
            return (1 if 'invalid option' in self.version_text else 0), '', self.version_text
        if args[1] == '-t':
            with open(args[3]) as handle:
                self.checked.append(handle.read())
            return self.check[0], '', self.check[1]
        return self.reload_rc, '', 'Failed to reload ssh.service: Access denied' if self.reload_rc else ''

    @staticmethod
    def which(name):
        return '/usr/bin/' + name


@pytest.fixture
def call(tmp_path, ansible_module):
    sshd = tmp_path / 'sshd'
    sshd.write_text('#!/bin/sh\n')
    sshd.chmod(0o755)
    path = tmp_path / 'sshd_config.d' / '50-lowmem-penalty-exempt.conf'
    path.parent.mkdir()

    def go(runner, exempt=('127.0.0.1', '::1'), check_mode=False, **extra):
        context = Context(ansible_module(check_mode))
        context.module.params.update(dict(exempt=list(exempt), path=str(path), header=HEADER, sshd=str(sshd),
                                          reload=True), **extra)
        return run(context, runner=runner, which=runner.which), context
    go.path, go.sshd = path, str(sshd)
    return go


def test_new_text_is_checked_by_sshd_before_it_is_in_place_then_ssh_reloaded(call):
    runner = Runner()
    result, context = call(runner)
    assert result['changed'] and result['reloaded'] and result['supported'] and result['version'] == '10.0'
    assert call.path.read_text() == TEXT and runner.checked == [TEXT]
    check = runner.calls[1]
    assert check[:3] == [call.sshd, '-t', '-f'] and check[3] != str(call.path)
    assert check[3].startswith(str(call.path.parent) + '/.50-lowmem-penalty-exempt.conf.')
    assert runner.calls[2] == ['/usr/bin/systemctl', 'reload', 'ssh'] and len(runner.calls) == 3
    assert context.changed and result['diff']['after'] == TEXT


def test_refused_by_sshd_nothing_written(call):
    complaint = 'line 3: Bad configuration option: PerSourcePenaltyExemptList\nterminating, 1 bad configuration options\n'
    runner = Runner(check=(255, complaint))
    with pytest.raises(SshdPenaltyError) as raised:
        call(runner)
    assert 'terminating, 1 bad configuration options' in str(raised.value)
    assert list(call.path.parent.iterdir()) == [] and not any(c[1] == 'reload' for c in runner.calls)


def test_before_9_8_nothing_is_written_and_the_message_says_why(call):
    runner = Runner(version_text=BOOKWORM_SSHD_V)
    result, context = call(runner)
    assert not result['changed'] and result['supported'] is False and result['version'] == '9.2'
    assert result['msg'] == '%s: %s' % (BOOKWORM_VERSION, NOT_SUPPORTED)
    assert runner.calls == [[call.sshd, '-V']] and not call.path.exists() and not context.changed


def test_no_version_in_the_output_is_no_support(call):
    result, _context = call(Runner(version_text="sshd: invalid option -- 'V'\n"))
    assert result['supported'] is False and result['version'] is None and 'printed no OpenSSH version' in result['msg']


def test_reload_failing_after_the_write_is_a_partial_failure_with_the_write_recorded(call):
    runner = Runner(reload_rc=1)
    with pytest.raises(SshdPenaltyFailure) as raised:
        call(runner)
    assert 'written, but `systemctl reload ssh` failed' in str(raised.value) and 'Access denied' in str(raised.value)
    assert call.path.read_text() == TEXT


def test_removal_then_reload_and_nothing_when_absent(call):
    call.path.write_text(TEXT)
    runner = Runner()
    result, _context = call(runner, exempt=())
    assert result['changed'] and result['reloaded'] and result['supported'] is None and not call.path.exists()
    assert runner.calls == [['/usr/bin/systemctl', 'reload', 'ssh']] and result['diff']['before'] == TEXT
    runner = Runner()
    result, _context = call(runner, exempt=())
    assert not result['changed'] and runner.calls == [] and result['msg'] == '%s is absent' % call.path


@pytest.mark.parametrize('text, supported', [('OpenSSH_9.8p1, OpenSSL 3.3.1 4 Jun 2024\n', True),
                                             ('OpenSSH_9.7p1, OpenSSL 3.2.1 30 Jan 2024\n', False)])
def test_penalties_start_at_9_8(call, text, supported):
    result, _context = call(Runner(version_text=text))
    assert result['supported'] is supported and call.path.exists() is supported
