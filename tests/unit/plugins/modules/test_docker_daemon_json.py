# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module end to end on a daemon.json under tmp_path, with a fake systemctl and a fake dockerd (real executables)
first in PATH that log every call with its locale."""
from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest

from ansible_collections.lowmem.vps.plugins.modules.docker_daemon_json import main
from ansible_collections.lowmem.vps.tests.unit.plugins.modules import fakes
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__daemon_json import EXISTING, MERGED

FAKE_SYSTEMCTL = textwrap.dedent('''\
    #!/bin/sh
    echo "systemctl $*" >> "$FAKE_LOG"
    echo "LANG=$LANG LC_ALL=$LC_ALL" >> "$FAKE_ENV_LOG"
    [ "$*" = "restart docker" ] && exit 0
    echo "fake systemctl: unexpected $*" >&2
    exit 3
    ''')
# dockerd 20.10 (Debian 12) has no --validate; FAKE_VALIDATE=1 makes it a Docker 23+ dockerd.
FAKE_DOCKERD = textwrap.dedent('''\
    #!/bin/sh
    echo "dockerd $1" >> "$FAKE_LOG"
    case "$1" in
        --version) echo "Docker version 20.10.24+dfsg1, build 5d6db84"; exit 0 ;;
        --help) echo "Usage: dockerd [OPTIONS]"; [ "$FAKE_VALIDATE" = 1 ] && echo "      --validate   Validate daemon configuration and exit"
                exit 0 ;;
        --validate) grep -q '"max-file": "2"' "$3" && { echo "configuration OK"; exit 0; }
                    echo "unable to configure the Docker daemon with file $3: bad max-file" >&2; exit 1 ;;
    esac
    exit 3
    ''')


def warnings(result):
    """The warning texts of a result (ansible-core 2.19 returns them as structured summaries)."""
    return [item['event']['msg'] if isinstance(item, dict) else item for item in result.get('warnings', [])]


class Host(object):
    def __init__(self, root, monkeypatch):
        self.path = root / 'etc' / 'docker' / 'daemon.json'
        self.path.parent.mkdir(parents=True)
        self.log = root / 'calls.log'
        self.env_log = root / 'env.log'
        fakes.install(root, monkeypatch, (('systemctl', FAKE_SYSTEMCTL), ('dockerd', FAKE_DOCKERD)))
        monkeypatch.setenv('FAKE_LOG', str(self.log))
        monkeypatch.setenv('FAKE_ENV_LOG', str(self.env_log))
        monkeypatch.setenv('FAKE_VALIDATE', '0')

    def params(self, **extra):
        base = dict(path=str(self.path), settings={'log-driver': 'json-file', 'log-opts': {'max-size': '5m', 'max-file': 2}})
        base.update(extra)
        return base

    def calls(self):
        return self.log.read_text().splitlines() if self.log.exists() else []

    def restarts(self):
        return [call for call in self.calls() if call.startswith('systemctl')]


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


def test_merges_logs_settings_then_is_idempotent(host, module_runner, monkeypatch):
    monkeypatch.setenv('FAKE_VALIDATE', '1')
    host.path.write_text(EXISTING)
    code, result = module_runner(main, host.params())
    assert code == 0 and result['changed'], result
    assert host.path.read_text() == MERGED and result['settings'] == json.loads(MERGED)
    assert host.calls() == ['dockerd --version', 'dockerd --help', 'dockerd --validate']
    assert result['validated'] and result['recreate_needed'] and result['restart_needed'] and not result['restarted']
    assert result['diff']['before'] == EXISTING and result['diff']['after'] == MERGED
    assert warnings(result) == []

    code, again = module_runner(main, host.params())
    assert code == 0 and not again['changed'] and not again['restart_needed'] and again['notes'] == []
    assert len(host.calls()) == 3


@pytest.mark.parametrize('policy, live, restarted', [
    ('always', False, True), ('always', True, True),
    ('if_live_restore', False, False), ('if_live_restore', True, True),
    ('never', False, False), ('never', True, False),
])
def test_restart_policy_only_when_changed(host, module_runner, policy, live, restarted):
    host.path.write_text('{"live-restore": %s}\n' % json.dumps(live))
    code, result = module_runner(main, host.params(restart=policy))
    assert code == 0 and result['changed'] and result['restarted'] == restarted and result['live_restore'] == live
    assert result['restart_needed'] == (not restarted)
    assert host.restarts() == (['systemctl restart docker'] if restarted else [])
    code, again = module_runner(main, host.params(restart=policy))
    assert code == 0 and not again['changed'] and not again['restarted']
    assert host.restarts() == (['systemctl restart docker'] if restarted else [])
    if restarted:
        assert set(host.env_log.read_text().splitlines()) == {'LANG=C LC_ALL=C'}


def test_without_live_restore_says_why_it_did_not_restart(host, module_runner):
    code, result = module_runner(main, host.params())
    assert code == 0 and result['changed'] and result['restart_needed'] and not result['restarted']
    assert result['notes'] == [
        'dockerd 20.10.24+dfsg1 has no --validate (it came with Docker 23): the merged file was not checked by dockerd',
        'dockerd was not restarted: without live-restore, restarting dockerd stops every running container; restart '
        'docker in a maintenance window (systemctl restart docker) for the new settings to apply',
        'log-driver/log-opts apply only to containers created afterwards: recreate running containers '
        '(docker compose up -d --force-recreate) for them to take effect']
    assert host.restarts() == []


def test_check_mode_writes_nothing(host, module_runner):
    host.path.write_text(EXISTING)
    code, result = module_runner(main, host.params(restart='always', _ansible_check_mode=True))
    assert code == 0 and result['changed'] and result['restarted'] and result['diff']['after'] == MERGED
    assert host.path.read_text() == EXISTING and host.restarts() == []
    assert os.listdir(str(host.path.parent)) == ['daemon.json']


def test_invalid_json_is_left_byte_for_byte(host, module_runner):
    host.path.write_text('{\n  "log-driver": "json-file",\n}\n')
    os.utime(str(host.path), (1000000000, 1000000000))
    code, result = module_runner(main, host.params(restart='always'))
    assert code == 1 and result['failed']
    # the position and words of the json module of the Python that runs the module (3.13 names the trailing comma)
    why = ('line 2 col 28): Illegal trailing comma before end of object' if sys.version_info >= (3, 13)
           else 'line 3 col 1): Expecting property name enclosed in double quotes')
    assert result['msg'] == 'docker_daemon_json: %s is not valid JSON (%s; nothing was changed' % (host.path, why)
    assert host.path.read_text() == '{\n  "log-driver": "json-file",\n}\n'
    assert os.stat(str(host.path)).st_mtime == 1000000000 and host.calls() == []


def test_a_list_is_refused(host, module_runner):
    host.path.write_text('[]\n')
    code, result = module_runner(main, host.params())
    assert code == 1 and result['msg'] == ('docker_daemon_json: %s holds a JSON array, not an object ({...}): dockerd would '
                                           'not start with it; nothing was changed' % host.path)
    assert host.path.read_text() == '[]\n'


def test_validation_refusal_fails_and_writes_nothing(host, module_runner, monkeypatch):
    monkeypatch.setenv('FAKE_VALIDATE', '1')
    host.path.write_text(EXISTING)
    code, result = module_runner(main, host.params(settings={'log-opts': {'max-file': 3}}, restart='always'))
    assert code == 1 and result['msg'] == ('docker_daemon_json: dockerd --validate refused the merged %s: unable to '
                                           'configure the Docker daemon with file <merged daemon.json>: bad max-file; '
                                           'nothing was changed' % host.path)
    assert host.path.read_text() == EXISTING and host.restarts() == []


def test_non_string_log_opts_in_the_file_warn(host, module_runner):
    host.path.write_text('{"log-opts": {"max-file": 5}}')
    code, result = module_runner(main, host.params(settings={'log-driver': 'local'}, restart='never', validate=False))
    assert code == 0 and result['changed'] and host.calls() == []
    assert warnings(result) == ['%s: log-opts max-file=5 is not a string: dockerd refuses to start with non-string '
                                'log-opts values; give them in settings (they are written as strings) or quote them in '
                                'the file' % host.path]


def test_bad_settings_fail_before_anything(host, module_runner):
    code, result = module_runner(main, host.params(settings={'log-opts': {'max-size': 'lots'}}))
    assert code == 1 and "log-opts.max-size: 'lots' is not a size" in result['msg']
    assert result['msg'].endswith('; nothing was changed') and not host.path.exists() and host.calls() == []
