# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module end to end on a drop-in under tmp_path, with fake systemctl and journalctl (real executables) first in
PATH: each logs its arguments and its locale; journalctl answers --disk-usage as systemd 252 does, and a rotate and
vacuum shrink the footprint it reports."""
from __future__ import annotations

import textwrap

import pytest

from ansible_collections.lowmem.vps.plugins.modules.journald_caps import main
from ansible_collections.lowmem.vps.tests.unit.plugins.modules import fakes
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__journald_caps import (
    OLD_FILE, ROLE_HEADER, ROLE_SETTINGS, USAGE_AFTER, USAGE_BEFORE,
)

FAKE_SYSTEMCTL = textwrap.dedent('''\
    #!/bin/sh
    echo "systemctl $* LANG=$LANG LC_ALL=$LC_ALL" >> "$FAKE_LOG"
    if [ "$FAKE_SYSTEMCTL_RC" != 0 ]; then
        echo "Job for systemd-journald.service failed because the control process exited with error code." >&2
        exit "$FAKE_SYSTEMCTL_RC"
    fi
    exit 0
    ''')
FAKE_JOURNALCTL = textwrap.dedent('''\
    #!/bin/sh
    echo "journalctl $* LANG=$LANG LC_ALL=$LC_ALL" >> "$FAKE_LOG"
    case "$1" in
        --disk-usage) cat "$FAKE_USAGE"; exit 0 ;;
        --rotate)
            if [ "$FAKE_VACUUM_RC" != 0 ]; then
                echo "Failed to rotate: Connection timed out" >&2
                exit "$FAKE_VACUUM_RC"
            fi
            cp "$FAKE_USAGE_AFTER" "$FAKE_USAGE"
            echo "Vacuuming done, freed 16.0M of archived journals from /var/log/journal/0123." >&2
            exit 0 ;;
    esac
    echo "fake journalctl: unexpected $*" >&2
    exit 3
    ''')
C = 'LANG=C LC_ALL=C'


class Host(object):
    """/etc/systemd under tmp_path (journald.conf.d not made yet), fake systemctl and journalctl first in PATH."""

    def __init__(self, root, monkeypatch):
        self.path = root / 'etc' / 'systemd' / 'journald.conf.d' / '50-lowmem-log-caps.conf'
        self.path.parent.parent.mkdir(parents=True)
        self.log = root / 'calls.log'
        usage, after = root / 'usage.txt', root / 'usage-after.txt'
        usage.write_text(USAGE_BEFORE)
        after.write_text(USAGE_AFTER)
        fakes.install(root, monkeypatch, (('systemctl', FAKE_SYSTEMCTL), ('journalctl', FAKE_JOURNALCTL)))
        for name, value in (('FAKE_LOG', self.log), ('FAKE_USAGE', usage), ('FAKE_USAGE_AFTER', after),
                            ('FAKE_SYSTEMCTL_RC', 0), ('FAKE_VACUUM_RC', 0)):
            monkeypatch.setenv(name, str(value))

    def params(self, **extra):
        base = dict(path=str(self.path), settings=ROLE_SETTINGS, header=ROLE_HEADER)
        base.update(extra)
        return base

    def calls(self):
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


def test_first_run_caps_restarts_rotates_and_vacuums_then_a_rerun_runs_nothing(host, module_runner):
    code, result = module_runner(main, host.params())
    assert code == 0 and result['changed'], result
    assert host.path.read_text() == OLD_FILE
    assert host.calls() == ['journalctl --disk-usage ' + C, 'systemctl restart systemd-journald ' + C,
                            'journalctl --rotate --vacuum-size=128M ' + C, 'journalctl --disk-usage ' + C]
    assert result['usage_before'] == '24.0M' and result['usage_after'] == '8.0M'
    assert result['actions'] == ['write %s' % host.path, 'systemctl restart systemd-journald',
                                 'journalctl --rotate --vacuum-size=128M']
    assert result['diff']['after'] == OLD_FILE and result['diff']['before'] == ''

    host.log.unlink()
    code, again = module_runner(main, host.params())
    assert code == 0 and not again['changed'] and host.calls() == []
    assert again['usage_before'] is None and again['usage_after'] is None and again['actions'] == []


def test_default_header(host, module_runner):
    code, result = module_runner(main, dict(path=str(host.path), settings={'SystemMaxUse': '64M'}, apply=False))
    assert code == 0 and host.calls() == []
    assert host.path.read_text().startswith('# Ansible managed: lowmem.vps.journald_caps\n# Caps from lowmem.vps')


def test_check_mode_writes_nothing_and_only_reads_the_footprint(host, module_runner):
    code, result = module_runner(main, host.params(_ansible_check_mode=True))
    assert code == 0 and result['changed'] and result['diff']['after'] == OLD_FILE
    assert not host.path.parent.exists()
    assert host.calls() == ['journalctl --disk-usage ' + C]
    assert result['usage_before'] == '24.0M' and result['usage_after'] is None and result['actions'] == []


@pytest.mark.parametrize('settings, message', [
    ({'Storage': 'persistent', 'System-MaxUse': '128M'}, "key 'System-MaxUse' is not a journald.conf key"),
    ({'SystemMaxUse': '128M=1'}, "contains whitespace or '='"),
    ({'SystemMaxUse': '128 M'}, "contains whitespace or '='"),
])
def test_bad_settings_are_refused_with_nothing_written(host, module_runner, settings, message):
    code, result = module_runner(main, host.params(settings=settings))
    assert code == 1 and result['failed'] and not result['changed'], result
    assert message in result['msg'] and result['msg'].endswith('nothing was changed'), result['msg']
    assert result['msg'].startswith('journald_caps: ')
    assert not host.path.parent.exists() and host.calls() == []


def test_journalctl_failing_after_the_write_fails_changed_with_the_diff(host, module_runner, monkeypatch):
    monkeypatch.setenv('FAKE_VACUUM_RC', '1')
    code, result = module_runner(main, host.params())
    assert code == 1 and result['failed'] and result['changed'], result
    assert '`journalctl --rotate --vacuum-size=128M` failed (rc=1): Failed to rotate: Connection timed out' in result['msg']
    assert 'nothing was changed' not in result['msg']
    assert result['diff']['after'] == OLD_FILE and host.path.read_text() == OLD_FILE
    assert result['actions'] == ['write %s' % host.path, 'systemctl restart systemd-journald']


def test_a_failed_restart_fails_changed(host, module_runner, monkeypatch):
    monkeypatch.setenv('FAKE_SYSTEMCTL_RC', '1')
    code, result = module_runner(main, host.params())
    assert code == 1 and result['changed'] and 'Job for systemd-journald.service failed' in result['msg'], result
    assert host.calls() == ['journalctl --disk-usage ' + C, 'systemctl restart systemd-journald ' + C]
