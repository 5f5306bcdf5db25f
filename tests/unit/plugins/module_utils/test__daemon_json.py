# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""daemon_json: parsing, normalising, merging and rendering daemon.json, the restart policy, run() with a real
AnsibleModule and a fake runner (systemctl, dockerd) that records every command, and the disk-usage readers."""
from __future__ import annotations

import json
import os
import sys

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.daemon_json import (
    C_LOCALE, NOTE_LIVE_RESTORE_NEW, NOTE_NEVER, NOTE_NO_LIVE_RESTORE, NOTE_RECREATE, DaemonJsonError, DaemonJsonFailure,
    merge_settings, non_string_log_opts, normalise_settings, parse_daemon_json,
    render_daemon_json, restart_decision, run,
)

EXISTING = '{\n    "data-root": "/srv/docker",\n    "log-opts": {"max-size": "10m", "labels": "app"},\n    "dns": ["1.1.1.1"]\n}\n'
LOG_SETTINGS = {'log-driver': 'json-file', 'log-opts': {'max-size': '5m', 'max-file': 2}}
MERGED = '''\
{
  "data-root": "/srv/docker",
  "log-opts": {
    "max-size": "5m",
    "labels": "app",
    "max-file": "2"
  },
  "dns": [
    "1.1.1.1"
  ],
  "log-driver": "json-file"
}
'''
HELP_23 = 'Usage:\tdockerd [OPTIONS]\n\n      --validate                 Validate daemon configuration and exit\n'
HELP_20 = 'Usage:\tdockerd [OPTIONS]\n\n      --config-file string       Daemon configuration file\n'


class FakeRunner(object):
    """Answers dockerd --version/--help/--validate and systemctl restart, recording every command with its locale."""

    def __init__(self, help_text=HELP_23, validate_rc=0, restart_rc=0):
        self.help_text, self.validate_rc, self.restart_rc = help_text, validate_rc, restart_rc
        self.calls = []
        self.validated = []

    def __call__(self, args, environ_update=None):
        self.calls.append((list(args), dict(environ_update or {})))
        if args[0].endswith('dockerd'):
            if args[1] == '--version':
                return 0, 'Docker version 20.10.24+dfsg1, build 5d6db84\n', ''
            if args[1] == '--help':
                return 0, self.help_text, ''
            if args[1] == '--validate':
                with open(args[3]) as handle:
                    self.validated.append(handle.read())
                if self.validate_rc:
                    return 1, '', 'unable to configure the Docker daemon with file %s: invalid log-opts' % args[3]
                return 0, 'configuration OK\n', ''
        if args[0].endswith('systemctl') and args[1:] == ['restart', 'docker']:
            return self.restart_rc, '', 'Job for docker.service failed' if self.restart_rc else ''
        raise AssertionError('unexpected command %r' % (args,))

    def commands(self):
        return [' '.join([os.path.basename(args[0])] + args[1:]) for args, env in self.calls]


def which(name):
    return '/usr/bin/' + name


def no_dockerd(name):
    return None if name == 'dockerd' else '/usr/bin/' + name


@pytest.fixture
def daemon_json(tmp_path):
    (tmp_path / 'docker').mkdir()
    return tmp_path / 'docker' / 'daemon.json'


def params(path, **extra):
    base = dict(path=str(path), settings=LOG_SETTINGS, restart='if_live_restore', validate=True)
    base.update(extra)
    return base


# ---------------------------------------------------------------- parse, normalise, merge, render

@pytest.mark.parametrize('text', [None, '', '  \n'])
def test_parse_absent_or_blank_is_an_empty_object(text):
    assert parse_daemon_json(text) == {}


def test_parse_keeps_file_order():
    assert list(parse_daemon_json(EXISTING)) == ['data-root', 'log-opts', 'dns']


@pytest.mark.parametrize('text, message', [
    # Python 3.13's json (Debian 13's) names a trailing comma, at the comma; 3.11's (Debian 12's) the missing name after it
    ('{"log-driver": "json-file",}', '/x/daemon.json is not valid JSON (line 1 col 27): Illegal trailing comma' if sys.version_info >= (3, 13)
     else '/x/daemon.json is not valid JSON (line 1 col 28): Expecting property name'),
    ('{\n  "a": 1\n  "b": 2\n}', '/x/daemon.json is not valid JSON (line 3 col 3): Expecting \',\' delimiter'),
    ('["log-driver"]', '/x/daemon.json holds a JSON array, not an object'),
    ('"json-file"', '/x/daemon.json holds a JSON string, not an object'),
    ('null', '/x/daemon.json holds a JSON null, not an object'),
])
def test_parse_refuses_bad_json_with_its_position(text, message):
    with pytest.raises(DaemonJsonError) as error:
        parse_daemon_json(text, '/x/daemon.json')
    assert str(error.value).startswith(message), str(error.value)


def test_normalise_makes_log_opts_strings():
    result = normalise_settings({'log-opts': {'max-size': '5m', 'max-file': 2, 'compress': True, 'ratio': 3.0},
                                 'live-restore': True, 'default-ulimits': {'nofile': {'Soft': 1024}}})
    assert result == {'log-opts': {'max-size': '5m', 'max-file': '2', 'compress': 'true', 'ratio': '3'},
                      'live-restore': True, 'default-ulimits': {'nofile': {'Soft': 1024}}}


@pytest.mark.parametrize('settings, message', [
    ({}, 'settings is empty'),
    ('log-driver=local', "settings must be a dict of daemon.json keys, got 'log-driver=local'"),
    ({'log-opts': 'max-size=5m'}, "log-opts must be a dict of strings (max-size, max-file, ...), got 'max-size=5m'"),
    ({'log-opts': {'max-size': ['5m']}}, "log-opts values must be strings, numbers or booleans: max-size=['5m']"),
    ({'log-opts': {'max-size': 'five'}}, "log-opts.max-size: 'five' is not a size"),
    ({'log-opts': {'max-file': 0}}, "log-opts.max-file: '0' is not a whole number of files (1 or more)"),
    ({'log-driver': 5}, 'log-driver must be a string'),
    ({'debug': None}, 'debug is null: give a value'),
    ({1: 'x'}, 'settings key 1 is not a non-empty string'),
])
def test_normalise_refuses_bad_settings(settings, message):
    with pytest.raises(DaemonJsonError) as error:
        normalise_settings(settings)
    assert message in str(error.value), str(error.value)


def test_normalise_lists_every_problem():
    with pytest.raises(DaemonJsonError) as error:
        normalise_settings({'log-driver': 5, 'debug': None})
    assert str(error.value) == ('log-driver must be a string (json-file, local, journald, ...), got 5; '
                                'debug is null: give a value (daemon.json keys are not removed by this module)')


def test_merge_keeps_unrelated_keys_and_order_and_appends_new_ones():
    current = parse_daemon_json(EXISTING)
    merged = merge_settings(current, normalise_settings(LOG_SETTINGS))
    assert render_daemon_json(merged) == MERGED
    assert current == json.loads(EXISTING)  # not changed in place


def test_merge_is_one_level_deep_and_replaces_other_values():
    current = {'default-ulimits': {'nofile': {'Soft': 1, 'Hard': 2}}, 'dns': ['1.1.1.1'], 'log-opts': 'odd'}
    merged = merge_settings(current, {'default-ulimits': {'nofile': {'Soft': 3}}, 'dns': ['9.9.9.9'],
                                      'log-opts': {'max-size': '5m'}})
    assert merged == {'default-ulimits': {'nofile': {'Soft': 3}}, 'dns': ['9.9.9.9'], 'log-opts': {'max-size': '5m'}}


def test_render_keeps_non_ascii_and_ends_with_a_newline():
    assert render_daemon_json({'labels': ['café']}) == '{\n  "labels": [\n    "café"\n  ]\n}\n'
    assert render_daemon_json({}) == '{}\n'


def test_non_string_log_opts():
    assert non_string_log_opts({'log-opts': {'max-file': 2, 'max-size': '5m', 'compress': False}}) == [
        ('compress', False), ('max-file', 2)]
    assert non_string_log_opts({'log-opts': 'odd'}) == [] and non_string_log_opts({}) == []


# ---------------------------------------------------------------- restart policy

@pytest.mark.parametrize('policy, changed, before, after, restart, note', [
    ('always', True, {}, {}, True, None),
    ('always', False, {}, {}, False, None),
    ('never', True, {'live-restore': True}, {'live-restore': True}, False, NOTE_NEVER),
    ('never', False, {}, {}, False, None),
    ('if_live_restore', True, {'live-restore': True}, {'live-restore': True}, True, None),
    ('if_live_restore', True, {}, {}, False, NOTE_NO_LIVE_RESTORE),
    ('if_live_restore', True, {'live-restore': True}, {'live-restore': False}, False, NOTE_NO_LIVE_RESTORE),
    ('if_live_restore', True, {'live-restore': 'true'}, {'live-restore': 'true'}, False, NOTE_NO_LIVE_RESTORE),
    ('if_live_restore', True, {}, {'live-restore': True}, False, NOTE_LIVE_RESTORE_NEW),
    ('if_live_restore', False, {'live-restore': True}, {'live-restore': True}, False, None),
])
def test_restart_decision(policy, changed, before, after, restart, note):
    assert restart_decision(policy, changed, before, after) == (restart, note)


def test_restart_decision_refuses_an_unknown_policy():
    with pytest.raises(DaemonJsonError, match="restart 'sometimes' must be one of never, if_live_restore, always"):
        restart_decision('sometimes', True, {}, {})


# ---------------------------------------------------------------- run

def test_run_merges_validates_writes_and_is_idempotent(daemon_json, ansible_module):
    daemon_json.write_text(EXISTING)
    runner = FakeRunner()
    result = run(ansible_module(), runner=runner, which=which, params=params(daemon_json))
    assert daemon_json.read_text() == MERGED
    assert result['changed'] and result['validated'] and result['recreate_needed'] and result['restart_needed']
    assert not result['restarted'] and not result['live_restore'] and result['warnings'] == []
    assert result['settings'] == json.loads(MERGED)
    assert result['notes'] == [NOTE_NO_LIVE_RESTORE, NOTE_RECREATE]
    assert result['diff']['before'] == EXISTING and result['diff']['after'] == MERGED
    assert runner.commands()[:2] == ['dockerd --version', 'dockerd --help']
    assert runner.commands()[2].startswith('dockerd --validate --config-file ')
    assert runner.validated == [MERGED] and not os.path.exists(runner.calls[2][0][3])
    assert all(env == C_LOCALE for args, env in runner.calls)

    again = FakeRunner()
    second = run(ansible_module(), runner=again, which=which, params=params(daemon_json))
    assert not second['changed'] and not second['restart_needed'] and not second['recreate_needed']
    assert second['notes'] == [] and again.calls == [] and daemon_json.read_text() == MERGED


def test_run_keeps_the_formatting_of_a_file_that_already_holds_the_settings(daemon_json, ansible_module):
    text = '{"log-driver":"json-file","log-opts":{"max-size":"5m","max-file":"2"}}'
    daemon_json.write_text(text)
    result = run(ansible_module(), runner=FakeRunner(), which=which, params=params(daemon_json))
    assert not result['changed'] and daemon_json.read_text() == text


def test_run_creates_a_missing_file_and_directory(tmp_path, ansible_module):
    path = tmp_path / 'docker' / 'daemon.json'
    result = run(ansible_module(), runner=FakeRunner(), which=which, params=params(path, settings={'live-restore': True}))
    assert result['changed'] and path.read_text() == '{\n  "live-restore": true\n}\n'
    assert oct(os.stat(path).st_mode & 0o777) == '0o644'
    assert result['diff']['before_header'] == '%s (absent)' % path
    assert result['notes'] == [NOTE_LIVE_RESTORE_NEW] and not result['recreate_needed']


def test_run_empty_file_counts_as_an_empty_object(daemon_json, ansible_module):
    daemon_json.write_text('')
    result = run(ansible_module(), runner=FakeRunner(), which=which, params=params(daemon_json, settings={'debug': False}))
    assert result['changed'] and daemon_json.read_text() == '{\n  "debug": false\n}\n'


@pytest.mark.parametrize('text, message', [
    ('{"log-driver": "json-file"', 'is not valid JSON (line 1 col 27): Expecting \',\' delimiter'),
    ('["log-driver"]', 'holds a JSON array, not an object'),
    (b'{"labels": "caf\xe9"}', 'is not valid JSON (not UTF-8 text'),
])
def test_run_never_touches_a_file_it_cannot_parse(daemon_json, ansible_module, text, message):
    if isinstance(text, bytes):
        daemon_json.write_bytes(text)
    else:
        daemon_json.write_text(text)
    os.utime(daemon_json, (1000000000, 1000000000))
    before = daemon_json.read_bytes()
    runner = FakeRunner()
    with pytest.raises(DaemonJsonError) as error:
        run(ansible_module(), runner=runner, which=which, params=params(daemon_json, restart='always'))
    assert message in str(error.value) and str(error.value).startswith(str(daemon_json))
    assert daemon_json.read_bytes() == before and os.stat(daemon_json).st_mtime == 1000000000
    assert runner.calls == [] and os.listdir(str(daemon_json.parent)) == ['daemon.json']


def test_run_refused_by_dockerd_validate_writes_nothing(daemon_json, ansible_module):
    daemon_json.write_text(EXISTING)
    runner = FakeRunner(validate_rc=1)
    with pytest.raises(DaemonJsonError) as error:
        run(ansible_module(), runner=runner, which=which, params=params(daemon_json, restart='always'))
    assert str(error.value) == ('dockerd --validate refused the merged %s: unable to configure the Docker daemon with '
                                'file <merged daemon.json>: invalid log-opts' % daemon_json)
    assert daemon_json.read_text() == EXISTING and 'systemctl restart docker' not in runner.commands()


def test_run_skips_validation_without_validate_option_or_dockerd(daemon_json, ansible_module):
    runner = FakeRunner(help_text=HELP_20)
    result = run(ansible_module(), runner=runner, which=which, params=params(daemon_json, restart='never'))
    assert result['changed'] and not result['validated'] and runner.commands() == ['dockerd --version', 'dockerd --help']
    assert result['notes'][0] == ('dockerd 20.10.24+dfsg1 has no --validate (it came with '
                                  'Docker 23): the merged file was not checked by dockerd')
    daemon_json.unlink()
    result = run(ansible_module(), runner=FakeRunner(), which=no_dockerd, params=params(daemon_json, restart='never'))
    assert result['notes'][0] == 'dockerd is not installed: the merged file was not checked by dockerd'
    daemon_json.unlink()
    runner = FakeRunner()
    result = run(ansible_module(), runner=runner, which=which, params=params(daemon_json, restart='never', validate=False))
    assert runner.calls == [] and result['notes'] == [NOTE_NEVER, NOTE_RECREATE]


@pytest.mark.parametrize('policy, live, restarted', [
    ('always', False, True), ('always', True, True),
    ('if_live_restore', False, False), ('if_live_restore', True, True),
    ('never', False, False), ('never', True, False),
])
def test_run_restart_policy(daemon_json, ansible_module, policy, live, restarted):
    daemon_json.write_text('{"live-restore": %s}\n' % json.dumps(live))
    runner = FakeRunner()
    result = run(ansible_module(), runner=runner, which=which, params=params(daemon_json, restart=policy, validate=False))
    assert result['changed'] and result['restarted'] == restarted and result['restart_needed'] == (not restarted)
    assert result['live_restore'] == live
    assert runner.commands() == (['systemctl restart docker'] if restarted else [])
    assert all(env == C_LOCALE for args, env in runner.calls)
    second = FakeRunner()
    again = run(ansible_module(), runner=second, which=which, params=params(daemon_json, restart=policy, validate=False))
    assert not again['changed'] and not again['restarted'] and not again['restart_needed'] and second.calls == []


def test_run_check_mode_plans_only(daemon_json, ansible_module):
    daemon_json.write_text(EXISTING)
    runner = FakeRunner()
    result = run(ansible_module(check_mode=True), runner=runner, which=which, params=params(daemon_json, restart='always'))
    assert result['changed'] and result['restarted'] and result['diff']['after'] == MERGED
    assert daemon_json.read_text() == EXISTING and os.listdir(str(daemon_json.parent)) == ['daemon.json']
    assert 'systemctl restart docker' not in runner.commands()


def test_run_warns_about_non_string_log_opts_left_in_the_file(daemon_json, ansible_module):
    daemon_json.write_text('{"log-opts": {"max-file": 3, "mode": "non-blocking"}}')
    result = run(ansible_module(), runner=FakeRunner(), which=which,
                 params=params(daemon_json, settings={'log-opts': {'max-size': '5m'}}, restart='never'))
    assert result['warnings'] == ['%s: log-opts max-file=3 is not a string: dockerd refuses to start with non-string '
                                  'log-opts values; give them in settings (they are written as strings) or quote them in '
                                  'the file' % daemon_json]
    result = run(ansible_module(), runner=FakeRunner(), which=which,
                 params=params(daemon_json, settings={'log-opts': {'max-file': 3}}, restart='never'))
    assert result['warnings'] == [] and json.loads(daemon_json.read_text())['log-opts']['max-file'] == '3'


def test_run_restart_needs_systemctl_before_writing(daemon_json, ansible_module):
    daemon_json.write_text(EXISTING)
    with pytest.raises(DaemonJsonError, match='systemctl is not installed, so docker cannot be restarted'):
        run(ansible_module(), runner=FakeRunner(), which=lambda name: None, params=params(daemon_json, restart='always'))
    assert daemon_json.read_text() == EXISTING


def test_run_failed_restart_says_the_file_was_written(daemon_json, ansible_module):
    with pytest.raises(DaemonJsonFailure) as error:
        run(ansible_module(), runner=FakeRunner(restart_rc=1), which=which, params=params(daemon_json, restart='always'))
    assert str(error.value) == ('%s written, but systemctl restart docker failed: Job for docker.service failed; dockerd '
                                'may be stopped, check journalctl -u docker' % daemon_json)
    assert error.value.result['changed'] and error.value.result['restart_needed']
    assert json.loads(daemon_json.read_text())['log-driver'] == 'json-file'


def test_run_refuses_bad_input_before_reading(daemon_json, ansible_module):
    daemon_json.write_text('not json')
    with pytest.raises(DaemonJsonError, match='debug is null'):
        run(ansible_module(), runner=FakeRunner(), which=which, params=params(daemon_json, settings={'debug': None}))
    with pytest.raises(DaemonJsonError, match="restart 'sometimes' must be one of"):
        run(ansible_module(), runner=FakeRunner(), which=which, params=params(daemon_json, restart='sometimes'))
