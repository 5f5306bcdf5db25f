# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module end to end (main(), the real runner in the C locale) on files under tmp_path, with a fake systemctl
first in PATH that logs its arguments and keeps the timer's state in files."""
from __future__ import annotations

import os
import stat
import textwrap

import pytest

from ansible_collections.lowmem.vps.plugins.modules.timer_units import main
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__timer_units import (
    NAME, SCRIPT_TEXT, SERVICE_TEXT, TIMER, TIMER_TEXT,
)

FAKE_SYSTEMCTL = textwrap.dedent('''\
    #!/bin/sh
    echo "$LC_ALL $*" >> "$FAKE_LOG"
    last=""
    for arg in "$@"; do last="$arg"; done
    case "$1" in
        is-enabled) [ -f "$FAKE_STATE.enabled" ]; exit $? ;;
        is-active) [ -f "$FAKE_STATE.active" ] && exit 0; exit 3 ;;
    esac
    if [ "$1" = "$FAKE_FAIL" ]; then
        echo "Failed to $1 $last: Access denied" >&2
        exit 1
    fi
    case "$1" in
        enable) touch "$FAKE_STATE.enabled" ;;
        start|restart) touch "$FAKE_STATE.active" ;;
        disable) rm -f "$FAKE_STATE.enabled" "$FAKE_STATE.active" ;;
    esac
    exit 0
    ''')


class Host(object):
    """A unit directory and a script directory under ``root``; ``install`` is the commands_in_path fixture."""

    def __init__(self, root, install):
        self.root = root
        self.unit_dir = root / 'system'
        self.unit_dir.mkdir()
        self.script = root / 'sbin' / NAME
        self.script.parent.mkdir()
        self.prom = root / 'lowmem_vps.prom'
        self.log = root / 'systemctl.log'
        install(dict(FAKE_LOG=self.log, FAKE_STATE=root / 'timer', FAKE_FAIL='none'), systemctl=FAKE_SYSTEMCTL)

    def params(self, **extra):
        base = {'name': NAME, 'service': SERVICE_TEXT, 'timer': TIMER_TEXT, 'unit_dir': str(self.unit_dir),
                'files': [{'path': str(self.script), 'content': SCRIPT_TEXT, 'mode': '0755'}]}
        base.update(extra)
        return base

    def absent(self, **extra):
        base = {'name': NAME, 'state': 'absent', 'unit_dir': str(self.unit_dir), 'files': [{'path': str(self.script)}],
                'remove': [str(self.prom)]}
        base.update(extra)
        return base

    def calls(self):
        """The systemctl calls, each as 'LC_ALL verb args'."""
        return self.log.read_text().splitlines() if self.log.exists() else []

    def changing(self):
        return [line for line in self.calls() if not line.split()[1].startswith('is-')]

    def files(self):
        return sorted(str(path.relative_to(self.root)) for path in self.root.rglob('*')
                      if path.is_file() and path.parent.name in ('system', 'sbin') or path == self.prom)


@pytest.fixture
def host(tmp_path, commands_in_path):
    return Host(tmp_path, commands_in_path)


def test_install_then_rerun_is_idempotent(host, module_runner):
    code, result = module_runner(main, host.params())
    assert code == 0 and result['changed'], result
    assert host.files() == ['sbin/' + NAME, 'system/' + NAME + '.service', 'system/' + TIMER]
    assert stat.S_IMODE(host.script.stat().st_mode) == 0o755 and host.script.read_text() == SCRIPT_TEXT
    assert result['actions'] == ['daemon-reload', 'enable', 'restart']
    assert host.changing() == ['C daemon-reload', 'C enable %s' % TIMER, 'C restart %s' % TIMER]
    assert len(result['files_changed']) == 3 and len(result['diff']) == 4

    os.unlink(str(host.log))
    code, again = module_runner(main, host.params())
    assert code == 0 and not again['changed'], again
    assert again['actions'] == [] and again['files_changed'] == [] and again['diff'] == []
    assert host.changing() == [] and host.calls() == ['C is-enabled --quiet %s' % TIMER, 'C is-active --quiet %s' % TIMER]


def test_changed_timer_is_reloaded_and_restarted(host, module_runner):
    module_runner(main, host.params())
    os.unlink(str(host.log))
    code, result = module_runner(main, host.params(timer=TIMER_TEXT.replace('1min', '30s')))
    assert code == 0 and result['changed'] and result['files_changed'] == [str(host.unit_dir / TIMER)]
    assert host.changing() == ['C daemon-reload', 'C restart %s' % TIMER]
    assert 'OnUnitActiveSec=30s' in (host.unit_dir / TIMER).read_text()


def test_check_mode_writes_nothing_and_names_the_actions(host, module_runner):
    code, result = module_runner(main, dict(host.params(), _ansible_check_mode=True, _ansible_diff=True))
    assert code == 0 and result['changed'], result
    assert result['actions'] == ['daemon-reload', 'enable', 'restart']
    assert host.files() == [] and host.changing() == []
    assert [entry['after'] for entry in result['diff'][:3]] == [SERVICE_TEXT, TIMER_TEXT, SCRIPT_TEXT]


def test_absent_removes_and_disables_then_changes_nothing(host, module_runner):
    module_runner(main, host.params())
    host.prom.write_text('lowmem_vps_memory_history_samples 3\n')
    os.unlink(str(host.log))
    code, result = module_runner(main, host.absent())
    assert code == 0 and result['changed'], result
    assert host.files() == []
    assert host.changing() == ['C disable --now %s' % TIMER, 'C daemon-reload']
    assert result['actions'] == ['disable --now', 'daemon-reload']

    os.unlink(str(host.log))
    code, again = module_runner(main, host.absent())
    assert code == 0 and not again['changed'] and again['actions'] == [] and host.calls() == []


@pytest.mark.parametrize('change, shown', [
    (dict(name='lowmem/history'), 'not a unit base name'),
    (dict(files=[{'path': 'sbin/script', 'content': SCRIPT_TEXT}]), 'must be an absolute path'),
    (dict(files=[{'path': '/usr/local/sbin/x', 'content': SCRIPT_TEXT, 'mode': '0789'}]), 'mode must be'),
    (dict(service=None), 'is required for state=present'),
])
def test_bad_input_fails_with_nothing_written(host, module_runner, change, shown):
    code, result = module_runner(main, host.params(**change))
    assert code == 1 and result['failed'] and not result['changed'], result
    assert shown in result['msg'] and result['msg'].startswith('timer_units: ') and 'nothing was changed' in result['msg']
    assert host.files() == [] and host.calls() == []


def test_restart_failing_after_the_write_reports_changed_and_the_diff(host, module_runner, monkeypatch):
    monkeypatch.setenv('FAKE_FAIL', 'restart')
    code, result = module_runner(main, host.params())
    assert code == 1 and result['failed'] and result['changed'], result
    assert 'nothing was changed' not in result['msg']
    assert '`systemctl restart %s` failed (rc=1): Failed to restart %s: Access denied' % (TIMER, TIMER) in result['msg']
    assert result['actions'] == ['daemon-reload', 'enable'] and result['failed_action'] == 'restart'
    assert [entry['after'] for entry in result['diff'][:3]] == [SERVICE_TEXT, TIMER_TEXT, SCRIPT_TEXT]
    assert (host.unit_dir / TIMER).read_text() == TIMER_TEXT
