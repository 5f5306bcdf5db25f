# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""timer_units.run on real files under tmp_path, with a fake systemctl runner that records every argv and keeps the
timer's enabled/active state as systemd would."""
from __future__ import annotations

import os
import stat

import pytest

from ansible.module_utils.common.warnings import get_warning_messages

from ansible_collections.lowmem.vps.plugins.module_utils.result import Context
from ansible_collections.lowmem.vps.plugins.module_utils.timer_units import (
    TimerUnitsError, TimerUnitsFailure, check_name, parse_mode, run,
)

NAME = 'lowmem-memory-history'
TIMER = NAME + '.timer'
SERVICE_TEXT = '[Unit]\nDescription=sample\n\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/%s\n' % NAME
TIMER_TEXT = '[Timer]\nOnActiveSec=5s\nOnUnitActiveSec=1min\n\n[Install]\nWantedBy=timers.target\n'
SCRIPT_TEXT = '#!/bin/sh\necho sample\n'
SYSTEMCTL = '/usr/bin/systemctl'
# The commands that change the host (is-enabled and is-active only read).
CHANGING = ('daemon-reload', 'enable', 'start', 'restart', 'disable')


class FakeSystemctl(object):
    """A runner for systemctl: records argv, answers is-enabled/is-active from its state, changes the state on
    enable/start/restart/disable --now; ``fail`` names a verb that exits 1."""

    def __init__(self, enabled=False, active=False, fail=None, missing=False):
        self.enabled, self.active, self.fail, self.missing = enabled, active, fail, missing
        self.calls = []

    def which(self, name):
        assert name == 'systemctl'
        return None if self.missing else SYSTEMCTL

    def __call__(self, args, environ_update=None):
        args = list(args)
        self.calls.append(args)
        assert args[0] == SYSTEMCTL
        verb = args[1]
        if verb == 'is-enabled':
            return (0 if self.enabled else 1), '', ''
        if verb == 'is-active':
            return (0 if self.active else 3), '', ''
        if verb == self.fail:
            return 1, '', 'Failed to %s unit: Access denied\n' % verb
        if verb == 'enable':
            self.enabled = True
        elif verb in ('start', 'restart'):
            self.active = True
        elif verb == 'disable':
            assert args[2] == '--now'
            self.enabled = self.active = False
        else:
            assert verb == 'daemon-reload' and len(args) == 2, args
        return 0, '', ''

    def changing(self):
        """The state-changing calls, as argv without the binary."""
        return [args[1:] for args in self.calls if args[1] in CHANGING]


class Host(object):
    """A unit directory and a script directory under tmp_path."""

    def __init__(self, root):
        self.unit_dir = root / 'etc' / 'systemd' / 'system'
        self.unit_dir.mkdir(parents=True)
        (root / 'usr' / 'local' / 'sbin').mkdir(parents=True)
        self.script = root / 'usr' / 'local' / 'sbin' / NAME
        self.service = self.unit_dir / (NAME + '.service')
        self.timer = self.unit_dir / TIMER
        self.prom = root / 'prom' / 'lowmem_vps.prom'

    def params(self, **extra):
        base = {'name': NAME, 'service': SERVICE_TEXT, 'timer': TIMER_TEXT, 'state': 'present',
                'unit_dir': str(self.unit_dir), 'remove': [],
                'files': [{'path': str(self.script), 'content': SCRIPT_TEXT, 'mode': '0755'}]}
        base.update(extra)
        return base

    def absent(self, **extra):
        base = {'name': NAME, 'service': None, 'timer': None, 'state': 'absent', 'unit_dir': str(self.unit_dir),
                'files': [{'path': str(self.script)}], 'remove': [str(self.prom)]}
        base.update(extra)
        return base

    def install(self):
        for path, text in ((self.service, SERVICE_TEXT), (self.timer, TIMER_TEXT), (self.script, SCRIPT_TEXT)):
            path.write_text(text)
        self.script.chmod(0o755)
        self.prom.parent.mkdir()
        self.prom.write_text('lowmem_vps_memory_history_samples 12\n')

    def snapshot(self):
        """Every file under the host with its text and mode."""
        found = {}
        for path in (self.service, self.timer, self.script, self.prom):
            if path.exists():
                found[str(path)] = (path.read_text(), stat.S_IMODE(path.stat().st_mode))
        return found


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


@pytest.fixture
def call(ansible_module):
    """call(params, systemctl, check_mode=False) -> (result, context): run() with a result.Context around a real
    AnsibleModule holding ``params``."""
    def run_it(params, systemctl, check_mode=False):
        context = new_context(ansible_module, params, check_mode)
        return run(context, runner=systemctl, which=systemctl.which), context
    return run_it


def new_context(ansible_module, params, check_mode=False):
    module = ansible_module(check_mode)
    module.params = params
    return Context(module)


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


# ---------------------------------------------------------------- present

def test_first_install_writes_three_files_then_reloads_enables_and_restarts(host, call):
    systemctl = FakeSystemctl()
    result, context = call(host.params(), systemctl)
    assert result['changed'] and context.changed
    assert host.service.read_text() == SERVICE_TEXT and host.timer.read_text() == TIMER_TEXT
    assert host.script.read_text() == SCRIPT_TEXT and mode(host.script) == 0o755
    assert mode(host.service) == 0o644 and mode(host.timer) == 0o644
    assert result['files_changed'] == [str(host.service), str(host.timer), str(host.script)]
    assert result['actions'] == ['daemon-reload', 'enable', 'restart']
    assert systemctl.changing() == [['daemon-reload'], ['enable', TIMER], ['restart', TIMER]]
    # is-enabled / is-active asked after the reload, with the timer named
    assert systemctl.calls[1:3] == [[SYSTEMCTL, 'is-enabled', '--quiet', TIMER], [SYSTEMCTL, 'is-active', '--quiet', TIMER]]
    assert [entry['after'] for entry in result['diff'][:3]] == [SERVICE_TEXT, TIMER_TEXT, SCRIPT_TEXT]
    assert result['diff'][3]['before'] == 'enabled = no\nactive = no\n'
    assert result['diff'][3]['after'] == 'enabled = yes\nactive = yes\n'
    assert systemctl.enabled and systemctl.active


def test_rerun_changes_nothing_and_runs_no_changing_systemctl(host, call):
    systemctl = FakeSystemctl()
    call(host.params(), systemctl)
    before = host.snapshot()
    again = FakeSystemctl(enabled=True, active=True)
    result, context = call(host.params(), again)
    assert not result['changed'] and not context.changed
    assert result['actions'] == [] and result['files_changed'] == [] and result['diff'] == []
    assert again.changing() == []
    assert host.snapshot() == before


def test_a_stopped_timer_is_started_not_restarted(host, call):
    host.install()
    systemctl = FakeSystemctl(enabled=True, active=False)
    result, _context = call(host.params(), systemctl)
    assert result['changed'] and result['files_changed'] == []
    assert systemctl.changing() == [['start', TIMER]]
    assert result['diff'] == [{'before_header': TIMER + ' (systemd)', 'after_header': TIMER + ' (systemd)',
                               'before': 'enabled = yes\nactive = no\n', 'after': 'enabled = yes\nactive = yes\n'}]


def test_changed_timer_content_is_written_reloaded_and_restarted(host, call):
    host.install()
    systemctl = FakeSystemctl(enabled=True, active=True)
    new_timer = TIMER_TEXT.replace('1min', '30s')
    result, _context = call(host.params(timer=new_timer), systemctl)
    assert host.timer.read_text() == new_timer
    assert result['files_changed'] == [str(host.timer)]
    assert systemctl.changing() == [['daemon-reload'], ['restart', TIMER]]
    assert result['actions'] == ['daemon-reload', 'restart']
    assert [entry['after'] for entry in result['diff']] == [new_timer]  # enabled and active before and after


def test_a_changed_script_alone_neither_reloads_nor_restarts(host, call):
    host.install()
    systemctl = FakeSystemctl(enabled=True, active=True)
    result, _context = call(host.params(files=[{'path': str(host.script), 'content': SCRIPT_TEXT + 'exit 0\n',
                                                'mode': '0755'}]), systemctl)
    assert result['changed'] and result['files_changed'] == [str(host.script)]
    assert systemctl.changing() == []


def test_a_wrong_mode_alone_is_fixed(host, call):
    host.install()
    host.script.chmod(0o644)
    systemctl = FakeSystemctl(enabled=True, active=True)
    result, _context = call(host.params(), systemctl)
    assert result['changed'] and result['files_changed'] == [str(host.script)] and mode(host.script) == 0o755


def test_check_mode_writes_nothing_and_names_the_actions(host, call):
    systemctl = FakeSystemctl()
    result, context = call(host.params(), systemctl, check_mode=True)
    assert result['changed'] and not context.changed
    assert host.snapshot() == {}
    assert result['actions'] == ['daemon-reload', 'enable', 'restart']
    assert result['files_changed'] == [str(host.service), str(host.timer), str(host.script)]
    assert [entry['after'] for entry in result['diff'][:3]] == [SERVICE_TEXT, TIMER_TEXT, SCRIPT_TEXT]
    assert systemctl.changing() == []


def test_check_mode_without_systemctl_on_a_host_without_units_predicts_and_warns(host, call):
    systemctl = FakeSystemctl(missing=True)
    result, context = call(host.params(), systemctl, check_mode=True)
    assert result['changed'] and result['actions'] == ['daemon-reload', 'enable', 'restart']
    assert systemctl.calls == [] and host.snapshot() == {}
    assert any('systemctl is not installed' in text for text in get_warning_messages())


def test_without_systemctl_present_is_refused_before_anything_is_written(host, call):
    with pytest.raises(TimerUnitsError, match='systemctl is not installed'):
        call(host.params(), FakeSystemctl(missing=True))
    assert host.snapshot() == {}


# ---------------------------------------------------------------- absent

def test_absent_disables_the_timer_and_removes_every_file(host, call):
    host.install()
    systemctl = FakeSystemctl(enabled=True, active=True)
    result, context = call(host.absent(), systemctl)
    assert result['changed'] and context.changed
    assert host.snapshot() == {}
    assert systemctl.changing() == [['disable', '--now', TIMER], ['daemon-reload']]
    assert result['actions'] == ['disable --now', 'daemon-reload']
    assert result['files_changed'] == [str(host.service), str(host.timer), str(host.script), str(host.prom)]
    assert result['diff'][-1]['before'] == 'enabled = yes\nactive = yes\n'
    assert result['diff'][-1]['after'] == 'enabled = no\nactive = no\n'
    assert not systemctl.enabled and not systemctl.active


def test_absent_in_check_mode_removes_nothing(host, call):
    host.install()
    before = host.snapshot()
    systemctl = FakeSystemctl(enabled=True, active=True)
    result, _context = call(host.absent(), systemctl, check_mode=True)
    assert result['changed'] and result['actions'] == ['disable --now', 'daemon-reload']
    assert host.snapshot() == before and systemctl.changing() == []


def test_absent_when_nothing_is_there_changes_nothing_and_needs_no_systemctl(host, call):
    systemctl = FakeSystemctl(missing=True)
    result, context = call(host.absent(), systemctl)
    assert not result['changed'] and not context.changed
    assert result['actions'] == [] and result['files_changed'] == [] and result['diff'] == []
    assert systemctl.calls == []


def test_absent_with_only_the_prom_file_left_removes_it_without_systemctl(host, call):
    host.prom.parent.mkdir()
    host.prom.write_text('x 1\n')
    systemctl = FakeSystemctl()
    result, _context = call(host.absent(), systemctl)
    assert result['files_changed'] == [str(host.prom)] and not host.prom.exists()
    assert systemctl.calls == []


# ---------------------------------------------------------------- refusals, before anything is written

@pytest.mark.parametrize('name', ['', 'a/b', '../etc', 'has space', 'x.timer', 'x.service', '..', 'semi;colon', None])
def test_bad_names_are_refused(name):
    with pytest.raises(TimerUnitsError):
        check_name(name)


@pytest.mark.parametrize('name', [NAME, 'getty@tty1', 'a:b_c.d-e'])
def test_good_names_pass(name):
    assert check_name(name) == name


@pytest.mark.parametrize('value, wanted', [('0755', 0o755), ('644', 0o644), ('4755', 0o4755)])
def test_modes(value, wanted):
    assert parse_mode(value, 'x') == wanted


@pytest.mark.parametrize('value', ['0855', 'rwx', '', '07555', 420, None, 'u+x'])
def test_bad_modes_are_refused(value):
    with pytest.raises(TimerUnitsError, match='octal'):
        parse_mode(value, 'x')


@pytest.mark.parametrize('change, shown', [
    (dict(name='bad/name'), 'not a unit base name'),
    (dict(files=[{'path': 'relative/script', 'content': SCRIPT_TEXT, 'mode': '0755'}]), 'files[0].path must be an absolute'),
    (dict(files=[{'path': '/x/script', 'content': SCRIPT_TEXT, 'mode': '0955'}]), 'mode must be'),
    (dict(files=[{'path': '/x/script', 'content': SCRIPT_TEXT, 'mode': 493}]), 'quoted string'),
    (dict(files=[{'path': '/x/script', 'mode': '0755'}]), 'content is required'),
    (dict(timer=None), 'timer: the content of %s is required' % TIMER),
    (dict(unit_dir='etc/systemd/system'), 'unit_dir must be an absolute path'),
])
def test_bad_input_is_refused_with_nothing_written(host, change, shown, call):
    systemctl = FakeSystemctl()
    with pytest.raises(TimerUnitsError) as raised:
        call(host.params(**change), systemctl)
    assert shown in str(raised.value)
    assert host.snapshot() == {} and systemctl.calls == []


def test_a_file_that_is_also_a_unit_is_refused(host, call):
    with pytest.raises(TimerUnitsError, match='given twice'):
        call(host.params(files=[{'path': str(host.timer), 'content': 'x', 'mode': '0644'}]), FakeSystemctl())
    assert host.snapshot() == {}


def test_absent_refuses_a_relative_remove_path_before_disabling(host, call):
    host.install()
    before = host.snapshot()
    systemctl = FakeSystemctl(enabled=True, active=True)
    with pytest.raises(TimerUnitsError, match=r'remove\[0\] must be an absolute path'):
        call(host.absent(remove=['lowmem_vps.prom']), systemctl)
    assert host.snapshot() == before and systemctl.calls == []


def test_a_directory_is_never_removed(host, tmp_path, call):
    host.install()
    with pytest.raises(TimerUnitsError, match='is a directory'):
        call(host.absent(remove=[str(tmp_path / 'prom')]), FakeSystemctl(enabled=True, active=True))
    assert host.timer.exists()


# ---------------------------------------------------------------- failures after a write

def test_restart_failing_after_the_write_is_a_failure_that_says_what_was_written(host, ansible_module):
    systemctl = FakeSystemctl(fail='restart')
    context = new_context(ansible_module, host.params())
    with pytest.raises(TimerUnitsFailure) as raised:
        run(context, runner=systemctl, which=systemctl.which)
    assert '`systemctl restart %s` failed (rc=1): Failed to restart unit: Access denied' % TIMER in str(raised.value)
    assert str(host.timer) in str(raised.value)
    assert raised.value.result['actions'] == ['daemon-reload', 'enable']
    assert raised.value.result['failed_action'] == 'restart'
    assert context.changed and [entry['after'] for entry in context.diffs[:3]] == [SERVICE_TEXT, TIMER_TEXT, SCRIPT_TEXT]
    assert context.diffs[3]['after'] == 'enabled = yes\n'  # the enable, recorded as it happened
    assert host.timer.read_text() == TIMER_TEXT


def test_daemon_reload_failing_stops_before_enable(host, ansible_module):
    systemctl = FakeSystemctl(fail='daemon-reload')
    context = new_context(ansible_module, host.params())
    with pytest.raises(TimerUnitsFailure, match='daemon-reload'):
        run(context, runner=systemctl, which=systemctl.which)
    assert context.changed and len(context.diffs) == 3
    assert systemctl.changing() == [['daemon-reload']]


def test_disable_failing_on_absent_removes_nothing(host, ansible_module):
    host.install()
    before = host.snapshot()
    systemctl = FakeSystemctl(enabled=True, active=True, fail='disable')
    context = new_context(ansible_module, host.absent())
    with pytest.raises(TimerUnitsFailure, match='no file was changed'):
        run(context, runner=systemctl, which=systemctl.which)
    assert not context.changed and host.snapshot() == before
