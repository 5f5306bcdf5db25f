# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module end to end (main(), the real runner in the C locale) on a drop-in under tmp_path, with a fake sshd (its
path is a parameter) and a fake systemctl first in PATH; both log their arguments. The fake sshd answers -V with real
Debian 12 or Debian 13 output and keeps a copy of each file it was asked to check with -t."""
from __future__ import annotations

import os
import stat
import textwrap

import pytest

from ansible_collections.lowmem.vps.plugins.modules.sshd_penalty_exempt import main
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__sshd_penalty import (
    BOOKWORM_SSHD_V, BOOKWORM_VERSION, HEADER, TEXT, TRIXIE_SSHD_V,
)

FAKE_SSHD = textwrap.dedent('''\
    #!/bin/sh
    echo "$LC_ALL sshd $*" >> "$FAKE_LOG"
    case "$1" in
        -V) cat "$FAKE_SSHD_V" >&2; exit "$FAKE_SSHD_V_RC" ;;
        -t) cp "$3" "$FAKE_CHECKED"
            if [ -n "$FAKE_SSHD_REFUSES" ]; then
                echo "$3 line 3: Bad configuration option: PerSourcePenaltyExemptList" >&2
                echo "$3: terminating, 1 bad configuration options" >&2
                exit 255
            fi
            exit 0 ;;
    esac
    exit 1
    ''')
FAKE_SYSTEMCTL = textwrap.dedent('''\
    #!/bin/sh
    echo "$LC_ALL systemctl $*" >> "$FAKE_LOG"
    if [ "$1" = "$FAKE_FAIL" ]; then
        echo "Failed to $1 $2.service: Access denied" >&2
        exit 1
    fi
    exit 0
    ''')
MSG_92 = BOOKWORM_VERSION + ': OpenSSH before 9.8 has no per-source penalties, nothing to exempt'


class Host(object):
    """The drop-in directory under ``root``, fake sshd and systemctl (``install``: the commands_in_path fixture)."""

    def __init__(self, root, install, version_text=TRIXIE_SSHD_V, sshd=True):
        self.root = root
        self.path = root / 'sshd_config.d' / '50-lowmem-penalty-exempt.conf'
        self.path.parent.mkdir()
        self.log = root / 'calls.log'
        self.checked = root / 'checked.conf'
        answer = root / 'sshd-V.txt'
        answer.write_text(version_text)
        scripts = dict(systemctl=FAKE_SYSTEMCTL)
        if sshd:
            scripts['sshd'] = FAKE_SSHD
        bin_dir = install(dict(FAKE_LOG=self.log, FAKE_SSHD_V=answer, FAKE_SSHD_V_RC=1 if 'invalid' in version_text else 0,
                               FAKE_CHECKED=self.checked, FAKE_FAIL='none', FAKE_SSHD_REFUSES=''), **scripts)
        self.sshd = bin_dir / 'sshd'

    def params(self, **extra):
        base = {'exempt': ['127.0.0.1', '::1'], 'path': str(self.path), 'header': HEADER, 'sshd': str(self.sshd)}
        base.update(extra)
        return base

    def calls(self):
        return self.log.read_text().splitlines() if self.log.exists() else []

    def reset(self):
        if self.log.exists():
            os.unlink(str(self.log))

    def leftovers(self):
        return sorted(path.name for path in self.path.parent.iterdir() if path != self.path)


@pytest.fixture
def host(tmp_path, commands_in_path):
    return lambda **kwargs: Host(tmp_path, commands_in_path, **kwargs)


def test_trixie_writes_checks_reloads_then_a_rerun_runs_no_reload(host, module_runner):
    box = host()
    code, result = module_runner(main, box.params())
    assert code == 0 and result['changed'], result
    assert box.path.read_text() == TEXT and stat.S_IMODE(box.path.stat().st_mode) == 0o644
    assert box.checked.read_text() == TEXT, 'sshd -t checked the new text'
    calls = box.calls()
    assert calls[0] == 'C sshd -V' and calls[2] == 'C systemctl reload ssh' and len(calls) == 3
    assert calls[1].startswith('C sshd -t -f %s/.50-lowmem-penalty-exempt.conf.' % box.path.parent)
    assert result['version'] == '10.0' and result['supported'] is True and result['reloaded'] is True
    assert result['diff']['before'] == '' and result['diff']['after'] == TEXT and result['path'] == str(box.path)
    assert box.leftovers() == []

    box.reset()
    code, again = module_runner(main, box.params())
    assert code == 0 and not again['changed'] and again['reloaded'] is False, again
    assert box.calls() == ['C sshd -V'] and again['msg'] == '%s is as wanted' % box.path


def test_a_changed_list_is_rewritten_and_reloaded(host, module_runner):
    box = host()
    module_runner(main, box.params())
    box.reset()
    code, result = module_runner(main, box.params(exempt=['127.0.0.1']))
    assert code == 0 and result['changed'] and result['reloaded']
    assert box.path.read_text().endswith('PerSourcePenaltyExemptList 127.0.0.1\n')
    assert box.calls()[-1] == 'C systemctl reload ssh'


def test_check_mode_writes_checks_and_reloads_nothing(host, module_runner):
    box = host()
    code, result = module_runner(main, dict(box.params(), _ansible_check_mode=True, _ansible_diff=True))
    assert code == 0 and result['changed'] and result['reloaded'] is False, result
    assert not box.path.exists() and box.calls() == ['C sshd -V'] and result['diff']['after'] == TEXT
    assert result['msg'] == '%s would be written' % box.path


def test_refused_by_sshd_t_changes_nothing_and_leaves_no_temporary_file(host, module_runner, monkeypatch):
    box = host()
    box.path.write_text('PerSourcePenaltyExemptList 10.0.0.1\n')
    monkeypatch.setenv('FAKE_SSHD_REFUSES', 'yes')
    code, result = module_runner(main, box.params())
    assert code == 1 and result['failed'] and not result['changed'], result
    assert 'refused the new drop-in (rc=255)' in result['msg'] and 'Bad configuration option' in result['msg']
    assert 'nothing was changed' in result['msg']
    assert box.path.read_text() == 'PerSourcePenaltyExemptList 10.0.0.1\n' and box.leftovers() == []
    assert not any('systemctl' in call for call in box.calls())


def test_bookworm_writes_nothing_and_says_why(host, module_runner):
    box = host(version_text=BOOKWORM_SSHD_V)
    code, result = module_runner(main, box.params())
    assert code == 0 and not result['changed'], result
    assert result['supported'] is False and result['version'] == '9.2' and result['msg'] == MSG_92
    assert not box.path.exists() and box.calls() == ['C sshd -V']


def test_without_sshd_nothing_is_written_and_it_is_no_failure(host, module_runner):
    box = host(sshd=False)
    code, result = module_runner(main, box.params())
    assert code == 0 and not result['changed'] and result['supported'] is False, result
    assert result['msg'].startswith('no sshd found') and not box.path.exists() and box.calls() == []


def test_an_empty_list_removes_the_drop_in_and_reloads_then_runs_nothing(host, module_runner):
    box = host()
    box.path.write_text(TEXT)
    code, result = module_runner(main, box.params(exempt=[]))
    assert code == 0 and result['changed'] and result['reloaded'], result
    assert not box.path.exists() and box.calls() == ['C systemctl reload ssh']
    assert result['diff']['before'] == TEXT and result['diff']['after'] == ''

    box.reset()
    code, again = module_runner(main, box.params(exempt=[]))
    assert code == 0 and not again['changed'] and not again['reloaded'] and box.calls() == [], again


def test_a_bad_address_is_refused_before_any_command(host, module_runner):
    box = host()
    code, result = module_runner(main, box.params(exempt=['127.0.0.1', 'proxy.example']))
    assert code == 1 and not result['changed'], result
    assert "not addresses: 'proxy.example'" in result['msg'] and 'nothing was changed' in result['msg']
    assert box.calls() == [] and not box.path.exists()


def test_reload_failing_after_the_write_fails_with_changed_and_the_diff(host, module_runner, monkeypatch):
    box = host()
    monkeypatch.setenv('FAKE_FAIL', 'reload')
    code, result = module_runner(main, box.params())
    assert code == 1 and result['failed'] and result['changed'], result
    assert 'written, but `systemctl reload ssh` failed (rc=1): Failed to reload ssh.service' in result['msg']
    assert result['diff'][0]['after'] == TEXT and box.path.read_text() == TEXT


def test_reload_false_writes_without_reloading(host, module_runner):
    box = host()
    code, result = module_runner(main, box.params(reload=False))
    assert code == 0 and result['changed'] and not result['reloaded']
    assert not any('systemctl' in call for call in box.calls())
