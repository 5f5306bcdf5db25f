# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""compose: run() with a fake runner (validate with compose config, then write; v1 fallback; refusals)."""
from __future__ import annotations

import os

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.compose import ComposeError, run
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__compose_rules import MIB, RUNBOOK
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__compose_yaml import fixture

# ---------------------------------------------------------------- run


class FakeModule(object):
    def __init__(self, params, check_mode=False):
        self.params = params
        self.check_mode = check_mode
        self.moved = []

    def atomic_move(self, src, dest):
        self.moved.append(dest)
        os.rename(src, dest)

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs)


class Recorder(object):
    """runner(): records each command with the candidate file's text; ``refuse`` makes config fail on text containing it."""

    def __init__(self, plugin=True, refuse=None):
        self.calls, self.seen, self.plugin, self.refuse = [], [], plugin, refuse

    def __call__(self, args, environ_update=None):
        assert environ_update == {'LC_ALL': 'C', 'LANG': 'C'}
        self.calls.append(args)
        if args[-1] == 'version':
            return (0, 'Docker Compose version v2.29.7\n', '') if self.plugin else (1, '', "docker: 'compose' is not a docker command.\n")
        path = args[args.index('-f') + 1]
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
        self.seen.append((os.path.dirname(path), text))
        if self.refuse and self.refuse in text:
            return 15, '', 'services.hysteria.mem_limit must be a valid size (%s)\n' % path
        return 0, '', ''


def test_run_validates_then_writes(tmp_path):
    path = tmp_path / 'compose.yml'
    path.write_text(fixture('compose.yml'))
    module, runner = FakeModule({'path': str(path), 'services': RUNBOOK, 'validate': True}), Recorder()
    result = run(module, runner=runner, which=lambda name: '/usr/bin/' + name)
    assert result['changed'] and result['changed_services'] == ['hysteria'] and result['validated_with'] == 'docker compose'
    assert runner.calls[0] == ['/usr/bin/docker', 'compose', 'version']
    assert runner.calls[1][:2] == ['/usr/bin/docker', 'compose'] and runner.calls[1][-2:] == ['config', '--quiet']
    assert runner.seen == [(str(tmp_path), path.read_text())]
    assert sorted(os.listdir(str(tmp_path))) == ['compose.yml']  # the candidate is gone
    assert result['expected_inspect']['tuic-server'] == {'HostConfig.Memory': 64 * MIB, 'HostConfig.MemorySwap': 128 * MIB}


def test_run_refused_by_compose_writes_nothing(tmp_path):
    path = tmp_path / 'compose.yml'
    path.write_text(fixture('compose.yml'))
    runner = Recorder(refuse='96m')
    with pytest.raises(ComposeError) as raised:
        run(FakeModule({'path': str(path), 'services': RUNBOOK}), runner=runner, which=lambda name: '/usr/bin/' + name)
    assert str(raised.value) == ('docker compose config refuses the file with the new limits: services.hysteria.mem_limit '
                                 'must be a valid size (%s)' % path)
    assert path.read_text() == fixture('compose.yml') and os.listdir(str(tmp_path)) == ['compose.yml']


def test_run_says_when_compose_refuses_the_file_as_it_is(tmp_path):
    path = tmp_path / 'compose.yml'
    path.write_text(fixture('compose.yml'))
    with pytest.raises(ComposeError, match='refuses the file as it is already'):
        run(FakeModule({'path': str(path), 'services': RUNBOOK}), runner=Recorder(refuse='hysteria'),
            which=lambda name: '/usr/bin/' + name)


def test_run_falls_back_to_docker_compose_v1_and_warns_without_either(tmp_path):
    path = tmp_path / 'compose.yml'
    path.write_text(fixture('compose.yml'))
    runner = Recorder(plugin=False)
    result = run(FakeModule({'path': str(path), 'services': RUNBOOK}, check_mode=True), runner=runner,
                 which=lambda name: '/usr/bin/' + name)
    assert result['validated_with'] == 'docker-compose' and runner.calls[1][0] == '/usr/bin/docker-compose'
    assert path.read_text() == fixture('compose.yml')
    result = run(FakeModule({'path': str(path), 'services': RUNBOOK}), runner=runner, which=lambda name: None)
    assert result['validated_with'] is None and result['changed']
    assert result['warnings'] == ['neither docker compose (the v2 plugin) nor docker-compose is installed: the new file was '
                                  'not checked with compose config']


def test_run_missing_file_and_directory(tmp_path):
    for path, message in ((tmp_path / 'nope.yml', 'does not exist'), (tmp_path, 'is a directory')):
        with pytest.raises(ComposeError, match=message):
            run(FakeModule({'path': str(path), 'services': RUNBOOK}), runner=Recorder(), which=lambda name: None)
