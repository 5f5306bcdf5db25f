# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module end to end on real files: drop-ins and a /proc/sys tree under tmp_path, this machine's /proc/meminfo.

The tests run module_utils.sysctl.run() (what main() does) with ``Paths(proc_sys=...)`` under tmp_path, so even a broken ``apply`` switch or a
mutant cannot set a live value on this machine; main() itself runs only where argument checking fails first.
"""
from __future__ import annotations

import json

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.module_utils.sysctl import Paths, check_path, run as converge
from ansible_collections.lowmem.vps.plugins.modules.sysctl_dropin import ARGUMENT_SPEC, REQUIRED_IF, main

# Values as a stock Debian 13 kernel has them (the runbook changes the first two).
PROC_SYS = {'vm/swappiness': '60', 'net/core/netdev_max_backlog': '1000', 'vm/dirty_ratio': '20',
            'vm/min_free_kbytes': '2896', 'vm/vfs_cache_pressure': '100'}


@pytest.fixture
def module_runner(tmp_path, capsys):
    """(main, params) -> (exit code, result): main()'s argument spec, converge() on a /proc/sys under tmp_path."""
    proc_sys = tmp_path / 'proc-sys'
    for key, value in PROC_SYS.items():
        (proc_sys / key).parent.mkdir(parents=True, exist_ok=True)
        (proc_sys / key).write_text(value + '\n')
    # MGLRU's thrashing guard, as Debian 13's kernel has it (off).
    lru_gen = tmp_path / 'sys-lru-gen' / 'min_ttl_ms'
    lru_gen.parent.mkdir()
    lru_gen.write_text('0\n')

    def run(_main, params):
        with patch_module_args(params):
            module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF, supports_check_mode=True)
            with pytest.raises(SystemExit) as exited:
                report(module, 'sysctl_dropin', lambda context: converge(context, paths=Paths(
                    proc_sys=str(proc_sys), lru_gen_min_ttl=str(lru_gen))))
        return exited.value.code, json.loads(capsys.readouterr().out)
    run.proc_sys = proc_sys
    run.lru_gen = lru_gen
    return run


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


def test_bad_paths_are_refused(tmp_path, module_runner):
    # /etc/sysctl.conf is refused by check_path; the test asks it directly instead of pointing the module at /etc.
    assert 'Debian 13 no longer reads it' in check_path('/etc/sysctl.conf')
    assert 'Debian 13 no longer reads it' in check_path('/etc/sysctl.conf/')
    assert check_path('/etc/sysctl.d/99-lowmem-network-tuning.conf') is None
    path = tmp_path / 'tuning.txt'
    path.write_text('vm.swappiness = 10\n')
    code, result = module_runner(main, args(path))
    assert code == 1 and 'must end in .conf' in result['msg'] and 'nothing was changed' in result['msg']
    assert path.read_text() == 'vm.swappiness = 10\n'


def test_settings_are_required_when_present(tmp_path, capsys):
    # main() itself, where its argument spec fails before anything is read or written.
    from ansible_collections.lowmem.vps.tests.unit.conftest import run_module
    code, result = run_module(main, {'path': str(tmp_path / 'a.conf')}, capsys)
    assert code == 1 and 'settings' in result['msg']


def test_applies_live_and_reads_back(tmp_path, module_runner):
    path = tmp_path / '99-lowmem.conf'
    code, result = module_runner(main, args(path, apply=True))
    assert code == 0 and result['changed'] and result['live_changed'] == ['net.core.netdev_max_backlog', 'vm.swappiness']
    assert (module_runner.proc_sys / 'vm' / 'swappiness').read_text() == '30\n'
    assert result['diff'][1] == {'before_header': '/proc/sys (running)', 'after_header': '/proc/sys (running)',
                                 'before': 'net.core.netdev_max_backlog = 1000\nvm.swappiness = 60\n',
                                 'after': 'net.core.netdev_max_backlog = 2500\nvm.swappiness = 30\n'}
    code, again = module_runner(main, args(path, apply=True))
    assert code == 0 and not again['changed'] and again['live_changed'] == []


def test_apply_false_leaves_the_live_values(tmp_path, module_runner):
    code, result = module_runner(main, args(tmp_path / '99-lowmem.conf'))
    assert code == 0 and result['live_pending'] == ['net.core.netdev_max_backlog', 'vm.swappiness']
    assert (module_runner.proc_sys / 'vm' / 'swappiness').read_text() == '60\n'


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


def test_thrashing_guard_rule_and_live_value_then_idempotent(tmp_path, module_runner):
    path, rule = tmp_path / '99-lowmem.conf', tmp_path / 'tmpfiles.d' / 'lowmem-lru-gen.conf'
    code, result = module_runner(main, args(path, apply=True, lru_gen_min_ttl_ms=1000, lru_gen_tmpfiles=str(rule),
                                            _ansible_check_mode=True))
    assert code == 0 and result['lru_gen_rule_changed'] and result['lru_gen_live_changed'] and result['lru_gen_live'] == '1000'
    assert not rule.exists() and module_runner.lru_gen.read_text() == '0\n', 'check mode only reads'

    code, result = module_runner(main, args(path, apply=True, lru_gen_min_ttl_ms=1000, lru_gen_tmpfiles=str(rule)))
    assert code == 0 and result['changed'] and result['lru_gen_available'], result
    assert rule.read_text().endswith('w- /sys/kernel/mm/lru_gen/min_ttl_ms - - - - 1000\n')
    assert rule.read_text().startswith('# Ansible managed\n# MGLRU')
    assert module_runner.lru_gen.read_text() == '1000\n' and result['lru_gen_live'] == '1000'
    assert result['diff'][-1]['before'] == 'min_ttl_ms = 0\n' and result['diff'][-1]['after'] == 'min_ttl_ms = 1000\n'

    code, again = module_runner(main, args(path, apply=True, lru_gen_min_ttl_ms=1000, lru_gen_tmpfiles=str(rule)))
    assert code == 0 and not again['changed'] and not again['lru_gen_rule_changed'] and not again['lru_gen_live_changed']


def test_thrashing_guard_null_removes_the_rule_and_leaves_the_kernel_alone(tmp_path, module_runner):
    path, rule = tmp_path / '99-lowmem.conf', tmp_path / 'lowmem-lru-gen.conf'
    rule.write_text('w- /sys/kernel/mm/lru_gen/min_ttl_ms - - - - 1000\n')
    module_runner.lru_gen.write_text('1000\n')
    code, result = module_runner(main, args(path, apply=True, lru_gen_tmpfiles=str(rule)))
    assert code == 0 and result['lru_gen_rule_changed'] and not rule.exists()
    assert module_runner.lru_gen.read_text() == '1000\n' and not result['lru_gen_live_changed']
    code, again = module_runner(main, args(path, apply=True, lru_gen_tmpfiles=str(rule)))
    assert code == 0 and not again['changed']


def test_thrashing_guard_without_apply_or_mglru_writes_only_the_rule(tmp_path, module_runner):
    path, rule = tmp_path / '99-lowmem.conf', tmp_path / 'lowmem-lru-gen.conf'
    code, result = module_runner(main, args(path, lru_gen_min_ttl_ms=500, lru_gen_tmpfiles=str(rule)))
    assert code == 0 and rule.exists() and module_runner.lru_gen.read_text() == '0\n' and result['lru_gen_live'] == '0'
    module_runner.lru_gen.unlink()
    code, result = module_runner(main, args(path, apply=True, lru_gen_min_ttl_ms=500, lru_gen_tmpfiles=str(rule)))
    assert code == 0 and not result['lru_gen_available'] and result['lru_gen_live'] is None
    assert not result['lru_gen_live_changed'] and not result['lru_gen_rule_changed'] and not module_runner.lru_gen.exists()


@pytest.mark.parametrize('extra, message', [
    ({'lru_gen_min_ttl_ms': 60001}, 'lru_gen_min_ttl_ms must be 0..60000 ms or null (got 60001)'),
    ({'lru_gen_min_ttl_ms': -1}, 'lru_gen_min_ttl_ms must be 0..60000 ms or null (got -1)'),
    ({'lru_gen_tmpfiles': 'tmpfiles.d/x.conf'}, 'must be an absolute path ending in .conf'),
])
def test_thrashing_guard_bad_input_changes_nothing(tmp_path, module_runner, extra, message):
    path = tmp_path / '99-lowmem.conf'
    code, result = module_runner(main, args(path, apply=True, **extra))
    assert code == 1 and message in result['msg'] and result['msg'].endswith('nothing was changed'), result
    assert not path.exists() and module_runner.lru_gen.read_text() == '0\n'
