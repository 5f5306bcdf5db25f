# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module end to end on a file under tmp_path, with fake earlyoom, systemctl and journalctl (real executables)
first in PATH: systemctl logs its arguments and, on restart, appends the next startup block to the fake journal."""
from __future__ import annotations

import os
import stat
import textwrap

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils import earlyoom as earlyoom_module
from ansible_collections.lowmem.vps.plugins.modules.earlyoom import main
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__earlyoom import (
    ARGS, DEBIAN_DEFAULT, JOURNAL_17,
)

FAKE_EARLYOOM = textwrap.dedent('''\
    #!/bin/sh
    # Like earlyoom: the version goes to stderr, -v exits at once.
    echo "earlyoom $FAKE_EARLYOOM_VERSION" >&2
    exit 0
    ''')
FAKE_SYSTEMCTL = textwrap.dedent('''\
    #!/bin/sh
    echo "$*" >> "$FAKE_LOG"
    # The unit's state: a file each for enabled and active ($FAKE_UNIT.enabled, $FAKE_UNIT.active).
    case "$1" in
        is-enabled) [ -f "$FAKE_UNIT.enabled" ]; exit $? ;;
        is-active) [ -f "$FAKE_UNIT.active" ]; exit $? ;;
    esac
    if [ "$FAKE_SYSTEMCTL_RC" != 0 ]; then
        echo "Job for earlyoom.service failed because the control process exited with error code." >&2
        exit "$FAKE_SYSTEMCTL_RC"
    fi
    [ "$1" = enable ] && touch "$FAKE_UNIT.enabled"
    case "$1" in start|restart) touch "$FAKE_UNIT.active" ;; esac
    [ "$1" = restart ] && [ -f "$FAKE_NEXT_START" ] && cat "$FAKE_NEXT_START" >> "$FAKE_JOURNAL"
    exit 0
    ''')
FAKE_JOURNALCTL = textwrap.dedent('''\
    #!/bin/sh
    echo "journalctl $*" >> "$FAKE_LOG"
    cat "$FAKE_JOURNAL"
    ''')
BOOT_START = JOURNAL_17.split('earlyoom 1.7\nPreferring', maxsplit=1)[0]
OUR_START = 'earlyoom 1.7' + JOURNAL_17.split('earlyoom 1.7')[2]
HEADER = '# Ansible managed: lowmem.vps.earlyoom\n'
OUR_FILE = HEADER + 'EARLYOOM_ARGS="%s"\n' % ' '.join(ARGS)


def params(path, **extra):
    base = {'path': str(path), 'mem_min_percent': [10, 5], 'swap_min_percent': [20, 10], 'report_interval': 300,
            'prefer': ['hysteria', 'tuic-server'], 'avoid': ['sshd', 'nginx'], 'version': '1.7',
            'restart': False, 'verify': False}
    base.update(extra)
    return base


def warnings(result):
    """The warning texts of a result (ansible-core 2.19 returns them as structured summaries)."""
    return [item['event']['msg'] if isinstance(item, dict) else item for item in result.get('warnings', [])]


class Host(object):
    """/etc/default/earlyoom under tmp_path, and fake earlyoom/systemctl/journalctl first in PATH."""

    def __init__(self, root, monkeypatch, version='1.7', with_earlyoom=True):
        self.root = root
        self.path = root / 'etc' / 'default' / 'earlyoom'
        self.path.parent.mkdir(parents=True)
        self.log = root / 'calls.log'
        self.journal = root / 'journal.txt'
        self.journal.write_text(BOOT_START)
        self.next_start = root / 'next-start.txt'
        bin_dir = root / 'bin'
        bin_dir.mkdir()
        tools = {'systemctl': FAKE_SYSTEMCTL, 'journalctl': FAKE_JOURNALCTL}
        if with_earlyoom:
            tools['earlyoom'] = FAKE_EARLYOOM
        for name, script in tools.items():
            (bin_dir / name).write_text(script)
            (bin_dir / name).chmod(0o755)
        monkeypatch.setenv('PATH', '%s:%s' % (bin_dir, os.environ.get('PATH', '')) if with_earlyoom else str(bin_dir))
        monkeypatch.setenv('FAKE_EARLYOOM_VERSION', version)
        monkeypatch.setenv('FAKE_LOG', str(self.log))
        monkeypatch.setenv('FAKE_JOURNAL', str(self.journal))
        monkeypatch.setenv('FAKE_NEXT_START', str(self.next_start))
        monkeypatch.setenv('FAKE_SYSTEMCTL_RC', '0')
        self.unit = root / 'unit'
        monkeypatch.setenv('FAKE_UNIT', str(self.unit))
        monkeypatch.setattr(earlyoom_module, 'VERIFY_DELAY', 0)
        monkeypatch.setattr(earlyoom_module, 'VERIFY_ATTEMPTS', 3)

    def calls(self):
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def host(tmp_path, monkeypatch):
    return lambda **kwargs: Host(tmp_path, monkeypatch, **kwargs)


def test_writes_the_file_with_diff_then_is_idempotent(host, module_runner):
    box = host()
    box.path.write_text(DEBIAN_DEFAULT)
    code, result = module_runner(main, params(box.path))
    assert code == 0 and result['changed'], result
    assert box.path.read_text() == OUR_FILE
    assert stat.S_IMODE(os.stat(str(box.path)).st_mode) == 0o644
    assert result['args'] == ARGS and result['previous_args'] == ['-r', '3600']
    assert result['version'] == '1.7.0' and not result['restarted'] and result['echoed'] == {}
    assert result['diff']['before'] == DEBIAN_DEFAULT and result['diff']['after'] == OUR_FILE
    assert box.calls() == []

    code, again = module_runner(main, params(box.path))
    assert code == 0 and not again['changed'] and again['previous_args'] == ARGS


def test_check_mode_writes_nothing_but_returns_the_diff(host, module_runner):
    box = host()
    box.path.write_text(DEBIAN_DEFAULT)
    code, result = module_runner(main, params(box.path, restart=True, verify=True, _ansible_check_mode=True))
    assert code == 0 and result['changed'] and not result['restarted']
    assert result['diff']['after'] == OUR_FILE
    assert box.path.read_text() == DEBIAN_DEFAULT
    assert box.calls() == []


def test_creates_a_missing_file(host, module_runner):
    box = host()
    code, result = module_runner(main, params(box.path, header='', mem_min_percent=None, swap_min_percent=None,
                                              prefer=None, avoid=None))
    assert code == 0 and result['changed']
    assert box.path.read_text() == 'EARLYOOM_ARGS="-r 300"\n'
    assert result['diff']['before_header'] == '%s (absent)' % box.path and result['previous_args'] == []


def test_restart_and_verify_against_the_journal(host, module_runner):
    box = host()
    box.next_start.write_text(OUR_START)
    code, result = module_runner(main, params(box.path, restart=True, verify=True))
    assert code == 0 and result['changed'] and result['restarted'], result
    assert result['echoed']['prefer'] == '^(hysteria|tuic-server)$' and result['echoed']['swap_term_percent'] == 20.0
    assert box.calls() == ['restart earlyoom', 'journalctl -u earlyoom -b --no-pager -o cat']

    code, again = module_runner(main, params(box.path, restart=True, verify=True))
    assert code == 0 and not again['changed'] and not again['restarted'] and again['echoed'] == {}
    assert len(box.calls()) == 2, 'unchanged file: no restart, no journal read'


def test_verify_fails_when_earlyoom_did_not_take_the_arguments(host, module_runner):
    box = host()  # no next start: the journal keeps showing the boot start with Debian's defaults
    code, result = module_runner(main, params(box.path, restart=True, verify=True))
    assert code == 1 and result['failed']
    assert result['msg'].startswith('earlyoom: %s written and earlyoom restarted, but it does not run with these '
                                    'arguments: ' % box.path)
    assert "prefer: expected '^(hysteria|tuic-server)$', earlyoom logged no prefer regex" in result['msg']
    assert result['echoed']['swap_term_percent'] == 10.0
    assert box.calls().count('journalctl -u earlyoom -b --no-pager -o cat') == 3
    assert box.path.read_text() == OUR_FILE


def test_failed_restart_is_reported(host, module_runner, monkeypatch):
    box = host()
    monkeypatch.setenv('FAKE_SYSTEMCTL_RC', '1')
    code, result = module_runner(main, params(box.path, restart=True, verify=True))
    assert code == 1
    assert 'written, but `systemctl restart earlyoom` failed (rc=1): Job for earlyoom.service failed' in result['msg']


def test_version_is_read_from_earlyoom(host, module_runner):
    box = host(version='v1.8.2')
    code, result = module_runner(main, params(box.path, version=None, ignore=['systemd-journald'], sort_by_rss=True))
    assert code == 0 and result['version'] == '1.8.2'
    assert result['args'][-3:] == ['--ignore', '^(systemd-journal)$', '--sort-by-rss']
    assert any("'systemd-journald' is longer than 15 bytes" in warning for warning in warnings(result))


def test_options_new_in_1_8_are_refused_on_debian_12(host, module_runner):
    box = host(version='1.7')
    box.path.write_text(DEBIAN_DEFAULT)
    code, result = module_runner(main, params(box.path, version=None, ignore=['sshd']))
    assert code == 1
    assert result['msg'] == ('earlyoom: ignore needs earlyoom 1.8 or later, this host has 1.7.0 (Debian 12 ships 1.7, '
                             'Debian 13 ships 1.8); nothing was changed')
    assert box.path.read_text() == DEBIAN_DEFAULT


def test_missing_earlyoom_fails_unless_check_mode(host, module_runner):
    box = host(with_earlyoom=False)
    code, result = module_runner(main, params(box.path, version=None))
    assert code == 1 and 'earlyoom is not installed' in result['msg'] and not box.path.exists()
    code, result = module_runner(main, params(box.path, version=None, ignore=['sshd'], _ansible_check_mode=True))
    assert code == 0 and result['changed'] and result['version'] is None and not box.path.exists()
    assert any('were not checked' in warning for warning in warnings(result))


def test_if_missing_skip_checks_the_options_and_writes_nothing(host, module_runner):
    box = host(with_earlyoom=False)
    code, result = module_runner(main, params(box.path, version=None, if_missing='skip', keep_running=True))
    assert code == 0 and not result['changed'] and result['installed'] is False, result
    assert result['args'] == ARGS and result['service_actions'] == [] and 'diff' not in result
    assert not box.path.exists() and box.calls() == [], 'no file, no systemctl'
    code, result = module_runner(main, params(box.path, version=None, if_missing='skip', mem_min_percent=[5, 10]))
    assert code == 1 and 'SIGKILL percent 10 must be above 0 and at most the SIGTERM percent 5' in result['msg']
    assert result['msg'].endswith('nothing was changed') and not box.path.exists()


def test_if_missing_skip_does_everything_where_earlyoom_is_installed(host, module_runner):
    box = host()
    code, result = module_runner(main, params(box.path, version=None, if_missing='skip'))
    assert code == 0 and result['changed'] and result['installed'] is True and result['version'] == '1.7.0'
    assert box.path.read_text() == OUR_FILE


def test_keep_running_enables_and_starts_only_what_is_not(host, module_runner):
    box = host()
    box.path.write_text(OUR_FILE)
    code, result = module_runner(main, params(box.path, keep_running=True, _ansible_check_mode=True))
    assert code == 0 and result['changed'] and result['service_actions'] == ['enable', 'start'], result
    assert box.calls() == ['is-enabled --quiet earlyoom', 'is-active --quiet earlyoom'], 'check mode only reads'

    code, result = module_runner(main, params(box.path, keep_running=True))
    assert code == 0 and result['changed'] and result['service_actions'] == ['enable', 'start']
    assert box.calls()[-2:] == ['enable earlyoom', 'start earlyoom']

    (box.unit.parent / 'unit.active').unlink()
    code, result = module_runner(main, params(box.path, keep_running=True))
    assert code == 0 and result['changed'] and result['service_actions'] == ['start']

    code, result = module_runner(main, params(box.path, keep_running=True))
    assert code == 0 and not result['changed'] and result['service_actions'] == []


def test_keep_running_reports_a_failed_start(host, module_runner, monkeypatch):
    box = host()
    box.path.write_text(OUR_FILE)
    (box.unit.parent / 'unit.enabled').write_text('')
    monkeypatch.setenv('FAKE_SYSTEMCTL_RC', '1')
    code, result = module_runner(main, params(box.path, keep_running=True))
    assert code == 1 and not result['changed']
    assert result['msg'] == ('earlyoom: `systemctl start earlyoom` failed (rc=1): Job for earlyoom.service failed '
                             'because the control process exited with error code.')


def test_a_restart_starts_it_so_keep_running_only_enables(host, module_runner):
    box = host()
    box.next_start.write_text(OUR_START)
    code, result = module_runner(main, params(box.path, restart=True, verify=True, keep_running=True))
    assert code == 0 and result['restarted'] and result['service_actions'] == ['enable'], result


@pytest.mark.parametrize('extra, message', [
    ({'mem_min_percent': [100]}, 'SIGTERM percent 100 is outside 1..99'),
    ({'swap_min_percent': [10, 20]}, 'SIGKILL percent 20 must be above 0 and at most the SIGTERM percent 10'),
    ({'avoid': ['sshd', "it's"]}, "avoid: process name \"it's\" contains quotes"),
    ({'prefer_regex': '^(x)$'}, 'prefer and prefer_regex are mutually exclusive'),
    ({'avoid': None, 'avoid_regex': '^(ssh d)$'}, 'contains whitespace'),
    ({'extra_args': ['-s', '5']}, 'extra_args: -s is set through the swap_min_percent option'),
    ({'version': 'latest'}, "version: could not read an earlyoom version from 'latest'"),
])
def test_bad_input_fails_clearly_and_changes_nothing(host, module_runner, extra, message):
    box = host()
    box.path.write_text(DEBIAN_DEFAULT)
    code, result = module_runner(main, params(box.path, restart=True, **extra))
    assert code == 1 and result['failed']
    assert message in result['msg'] and result['msg'].endswith('; nothing was changed'), result['msg']
    assert box.path.read_text() == DEBIAN_DEFAULT
    assert box.calls() == []


def test_mode_is_fixed_without_a_restart(host, module_runner):
    box = host()
    box.path.write_text(OUR_FILE)
    box.path.chmod(0o600)
    code, result = module_runner(main, params(box.path, restart=True))
    assert code == 0 and result['changed'] and not result['restarted']
    assert stat.S_IMODE(os.stat(str(box.path)).st_mode) == 0o644
    assert box.calls() == []
