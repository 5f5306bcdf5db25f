# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module end to end on a real compose file under tmp_path, with a fake docker (and docker-compose) first in PATH
that logs every call and keeps a copy of the file it was asked to check."""
from __future__ import annotations

import os
import textwrap

import pytest

from ansible_collections.lowmem.vps.plugins.modules.compose_limits import main
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__compose_rules import RUNBOOK
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__compose_yaml import fixture

FAKE_DOCKER = textwrap.dedent('''\
    #!/bin/sh
    echo "docker $*" >> "$FAKE_LOG"
    [ "$1" = compose ] || { echo "fake docker: unexpected $1" >&2; exit 3; }
    shift
    [ "$1" = version ] && { [ "$FAKE_PLUGIN" = 1 ] || { echo "docker: 'compose' is not a docker command." >&2; exit 1; }
                            echo "Docker Compose version v2.29.7"; exit 0; }
    [ "$1" = -f ] && [ "$3" = config ] && [ "$4" = --quiet ] || { echo "fake docker: unexpected $*" >&2; exit 3; }
    cp "$2" "$FAKE_SEEN"
    dirname "$2" >> "$FAKE_LOG"
    if [ -n "$FAKE_REFUSE" ] && grep -q -- "$FAKE_REFUSE" "$2"; then
        echo "validating $2: services.hysteria.pids_limit must be a integer" >&2; exit 15
    fi
    exit 0
    ''')
FAKE_COMPOSE_V1 = textwrap.dedent('''\
    #!/bin/sh
    echo "docker-compose $*" >> "$FAKE_LOG"
    cp "$2" "$FAKE_SEEN"
    exit 0
    ''')


def warnings(result):
    """The warning texts of a result (ansible-core 2.19 returns them as structured summaries)."""
    return [item['event']['msg'] if isinstance(item, dict) else item for item in result.get('warnings', [])]


class Host(object):
    """A compose project directory and a fake docker first in PATH."""

    def __init__(self, root, monkeypatch):
        self.project = root / 'proxy'
        self.project.mkdir()
        self.compose = self.project / 'compose.yml'
        self.compose.write_text(fixture('compose.yml'))
        self.bin = root / 'bin'
        self.bin.mkdir()
        self.log = root / 'calls.log'
        self.seen = root / 'seen.yml'
        self.tool('docker', FAKE_DOCKER)
        monkeypatch.setenv('PATH', '%s:/usr/bin:/bin' % self.bin)
        monkeypatch.setenv('FAKE_LOG', str(self.log))
        monkeypatch.setenv('FAKE_SEEN', str(self.seen))
        monkeypatch.setenv('FAKE_PLUGIN', '1')
        monkeypatch.delenv('FAKE_REFUSE', raising=False)

    def tool(self, name, text):
        (self.bin / name).write_text(text)
        (self.bin / name).chmod(0o755)

    def params(self, **extra):
        params = dict(path=str(self.compose), services=RUNBOOK)
        params.update(extra)
        return params

    def calls(self):
        return self.log.read_text().splitlines() if self.log.exists() else []

    def files(self):
        return sorted(os.listdir(str(self.project)))


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


def test_sets_runbook_limits_validates_then_is_idempotent(host, module_runner):
    host.compose.chmod(0o640)
    code, result = module_runner(main, host.params())
    assert code == 0 and result['changed'], result
    text = host.compose.read_text()
    assert '    mem_limit: 96m    # first guess, too big\n    pids_limit: 128\n    memswap_limit: 160m\n    oom_score_adj: 500\n' in text
    assert host.seen.read_text() == text  # compose config saw exactly what was written
    calls = host.calls()
    assert calls[0] == 'docker compose version' and calls[1].startswith('docker compose -f %s/.compose.yml.' % host.project)
    assert calls[1].endswith(' config --quiet') and calls[2] == str(host.project)
    assert host.files() == ['compose.yml'] and host.compose.stat().st_mode & 0o777 == 0o640
    assert result['changed_services'] == ['hysteria'] and result['validated_with'] == 'docker compose'
    assert result['services']['hysteria'] == {'mem_limit': '96m', 'memswap_limit': '160m', 'pids_limit': 128, 'oom_score_adj': 500}
    assert result['expected_inspect']['hysteria'] == {'HostConfig.Memory': 100663296, 'HostConfig.MemorySwap': 167772160,
                                                      'HostConfig.PidsLimit': 128, 'HostConfig.OomScoreAdj': 500}
    assert result['diff']['before'] == fixture('compose.yml') and result['diff']['after'] == text
    assert warnings(result) == []

    code, again = module_runner(main, host.params())
    assert code == 0 and not again['changed'] and again['changed_services'] == []
    assert host.compose.read_text() == text and len(host.calls()) == 3  # nothing to validate when nothing changes


def test_check_mode_validates_the_candidate_and_writes_nothing(host, module_runner):
    code, result = module_runner(main, host.params(_ansible_check_mode=True))
    assert code == 0 and result['changed'] and result['changed_services'] == ['hysteria']
    assert host.compose.read_text() == fixture('compose.yml') and host.files() == ['compose.yml']
    assert 'oom_score_adj: 500' in host.seen.read_text() and result['validated_with'] == 'docker compose'


def test_compose_config_failing_writes_nothing(host, module_runner, monkeypatch):
    monkeypatch.setenv('FAKE_REFUSE', 'pids_limit: 128')
    code, result = module_runner(main, host.params())
    assert code == 1 and result['msg'].startswith('compose_limits: docker compose config refuses the file with the new '
                                                  'limits: validating %s: services.hysteria.pids_limit' % host.compose)
    assert result['msg'].endswith('; nothing was changed')
    assert host.compose.read_text() == fixture('compose.yml') and host.files() == ['compose.yml']


def test_falls_back_to_docker_compose_v1(host, module_runner, monkeypatch):
    monkeypatch.setenv('FAKE_PLUGIN', '0')
    host.tool('docker-compose', FAKE_COMPOSE_V1)
    code, result = module_runner(main, host.params(backup=True))
    assert code == 0 and result['validated_with'] == 'docker-compose'
    assert host.calls()[1].startswith('docker-compose -f %s/.compose.yml.' % host.project)
    assert os.path.basename(result['backup_file']) in host.files()
    with open(result['backup_file']) as handle:
        assert handle.read() == fixture('compose.yml')


def test_without_docker_warns_and_writes(host, module_runner, monkeypatch):
    monkeypatch.setenv('PATH', str(host.bin))
    (host.bin / 'docker').unlink()
    code, result = module_runner(main, host.params())
    assert code == 0 and result['changed'] and result['validated_with'] is None
    assert warnings(result) == ['neither docker compose (the v2 plugin) nor docker-compose is installed: the new file was '
                                'not checked with compose config']


def test_validate_false_runs_no_docker(host, module_runner):
    code, result = module_runner(main, host.params(validate=False))
    assert code == 0 and result['changed'] and host.calls() == []


def test_deploy_limits_warning(host, module_runner):
    code, result = module_runner(main, host.params(services={'filebrowser': {'mem_limit': '64M'}}))
    assert code == 0 and result['changed_services'] == ['filebrowser']
    assert warnings(result) == ['filebrowser: both mem_limit and deploy.resources.limits.memory exist in the file; docker '
                                'compose prefers deploy.resources.limits, so the value set here may not be the one applied: '
                                'keep only one']


@pytest.mark.parametrize('services, message', [
    ({'hysteria': {'mem_limit': '96x'}}, "hysteria: '96x' is not a size docker reads"),
    ({'hysteria': {'mem_limit': '0m'}}, "hysteria: mem_limit '0m' is zero"),
    ({'hysteria': {'memswap_limit': -2}}, 'memswap_limit -2 is negative'),
    ({'hysteria': {'mem_limit': '160m', 'memswap_limit': '96m'}}, 'memswap_limit 96m is below mem_limit 160m'),
    ({'hysteria': {'pids_limit': 0}}, 'pids_limit 0: use a number of processes of at least 1, or -1 for no limit'),
    ({'hysteria': {'oom_score_adj': 1500}}, 'oom_score_adj 1500 is outside -1000..1000'),
    ({'hysteria': {'cpus': 0.5}}, 'hysteria: unknown limit cpus'),
    ({'nginx': {'mem_limit': '64m'}}, 'service nginx not in the file (it has: filebrowser, hysteria, hysteria2, tuic-server)'),
])
def test_bad_input_leaves_the_file_byte_identical(host, module_runner, services, message):
    before = host.compose.read_bytes()
    code, result = module_runner(main, host.params(services=services))
    assert code == 1 and message in result['msg'], result['msg']
    assert result['msg'].startswith('compose_limits: ') and result['msg'].endswith('; nothing was changed')
    assert host.compose.read_bytes() == before and host.files() == ['compose.yml'] and host.calls() == []


def test_refused_layouts_leave_the_file_byte_identical(host, module_runner):
    host.compose.write_text(fixture('merge.yml'))
    before = host.compose.read_bytes()
    for service, message in (('hysteria', 'takes mem_limit from the merge key <<: *small'),
                             ('filebrowser', 'is written in flow style')):
        code, result = module_runner(main, host.params(services={service: {'mem_limit': '96m'}}))
        assert code == 1 and message in result['msg']
    assert host.compose.read_bytes() == before and host.calls() == []


def test_missing_file(host, module_runner):
    code, result = module_runner(main, host.params(path=str(host.project / 'docker-compose.yml')))
    assert code == 1 and result['msg'] == ('compose_limits: %s does not exist; nothing was changed'
                                           % (host.project / 'docker-compose.yml'))
