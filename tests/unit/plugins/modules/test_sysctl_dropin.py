# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module end to end on real files: drop-ins under tmp_path, this machine's /proc/sys and /proc/meminfo."""
from __future__ import annotations

import os

import pytest

from ansible_collections.lowmem.vps.plugins.modules.sysctl_dropin import main


def args(path, **extra):
    base = {'path': str(path), 'settings': {'vm.swappiness': 30, 'net.core.netdev_max_backlog': 2500},
            'header': '# Ansible managed', 'apply': False}
    base.update(extra)
    return base


def test_writes_file_with_diff_then_is_idempotent(tmp_path, module_runner):
    path = tmp_path / '99-lowmem.conf'
    code, result = module_runner(main, args(path))
    assert code == 0 and result['changed'] and result['file_changed']
    assert path.read_text() == '# Ansible managed\nnet.core.netdev_max_backlog = 2500\nvm.swappiness = 30\n'
    assert result['diff'][0]['before'] == '' and 'vm.swappiness = 30' in result['diff'][0]['after']
    assert result['settings'] == {'vm.swappiness': '30', 'net.core.netdev_max_backlog': '2500'}
    assert set(result['live']) == {'vm.swappiness', 'net.core.netdev_max_backlog'}
    assert result['live_changed'] == []

    code, again = module_runner(main, args(path))
    assert code == 0 and not again['changed']


def test_check_mode_writes_nothing_but_reports_the_change(tmp_path, module_runner):
    path = tmp_path / '99-lowmem.conf'
    code, result = module_runner(main, args(path, _ansible_check_mode=True))
    assert code == 0 and result['changed']
    assert not path.exists()


def test_keys_no_longer_wanted_leave_the_file(tmp_path, module_runner):
    path = tmp_path / '99-lowmem.conf'
    path.write_text('vm.swappiness = 30\nvm.dirty_ratio = 5\n')
    code, result = module_runner(main, args(path, settings={'vm.swappiness': 30}, header=''))
    assert code == 0 and result['changed']
    assert path.read_text() == 'vm.swappiness = 30\n'


@pytest.mark.parametrize('settings, message', [
    ({'vm.no_such_knob': 1}, 'unknown sysctl key vm.no_such_knob'),
    ({'vm.swappiness': 'thirty'}, "vm.swappiness: 'thirty' is not an integer"),
    ({'vm.swappiness': True}, 'is a boolean'),
    ({'vm.min_free_kbytes': 10 ** 12}, 'vm.min_free_kbytes=1000000000000 is above 5% of RAM'),
    ({'vm.swappiness': 500}, 'vm.swappiness=500 is outside 0..200'),
])
def test_bad_input_fails_clearly_and_changes_nothing(tmp_path, module_runner, settings, message):
    path = tmp_path / '99-lowmem.conf'
    path.write_text('vm.swappiness = 10\n')
    code, result = module_runner(main, args(path, settings=settings))
    assert code == 1 and result['failed']
    assert message in result['msg'] and 'nothing was changed' in result['msg']
    assert path.read_text() == 'vm.swappiness = 10\n'


@pytest.mark.parametrize('path, message', [
    ('/etc/sysctl.conf', 'Debian 13 no longer reads it'),
    ('{tmp}/tuning.txt', 'must end in .conf'),
])
def test_bad_paths_are_refused(tmp_path, module_runner, path, message):
    path = path.format(tmp=tmp_path)
    before = os.path.exists(path) and open(path).read()
    code, result = module_runner(main, args(path))
    assert code == 1 and message in result['msg']
    assert (os.path.exists(path) and open(path).read()) == before


def test_settings_are_required_when_present(tmp_path, module_runner):
    code, result = module_runner(main, {'path': str(tmp_path / 'a.conf')})
    assert code == 1 and 'settings' in result['msg']


def test_absent_removes_the_file(tmp_path, module_runner):
    path = tmp_path / '99-lowmem.conf'
    path.write_text('vm.swappiness = 30\n')
    code, result = module_runner(main, {'path': str(path), 'state': 'absent'})
    assert code == 0 and result['changed'] and not path.exists()
    code, result = module_runner(main, {'path': str(path), 'state': 'absent'})
    assert code == 0 and not result['changed']


def test_warns_outside_sysctl_dirs(tmp_path, module_runner):
    code, result = module_runner(main, args(tmp_path / 'a.conf'))
    assert 'outside the directories systemd-sysctl reads' in str(result.get('warnings'))
