# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every module that writes: a step that fails *after* a write reports ``changed: true`` and the diff of what was
written, never ``changed: false`` (result.report, files.apply_file).

Two kinds of failure after a write are shown:
- the module's own next step failing (a live value refused, a restart failing, a kernel package left);
- ``atomic_move`` failing after it renamed the file into place (the write landed, then the task broke), the same
  for every module that writes a file.
Each test runs on files under tmp_path with fake commands first in PATH (the fixtures of each module's own tests).
"""
from __future__ import annotations

import json
import os

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lowmem.vps.plugins.module_utils import sysctl as sysctl_utils, zswap as zswap_utils
from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.modules import (
    compose_limits, docker_daemon_json, earlyoom, journald_caps, kernel_cleanup, openpgp_keyring, sshd_penalty_exempt,
    swapfile,
    sysctl_dropin, timer_units, zswap,
)
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__openpgp import ED25519_FPR, fixture
from ansible_collections.lowmem.vps.tests.unit.plugins.modules import (
    test_compose_limits, test_docker_daemon_json, test_earlyoom, test_journald_caps, test_kernel_cleanup, test_oom_protect,
    test_sshd_penalty_exempt, test_timer_units, test_zswap,
)


def call(capsys, argument_spec, body, name, **params):
    """report(module, name, body) on a real AnsibleModule; (exit code, result)."""
    with patch_module_args(params):
        module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
        with pytest.raises(SystemExit) as exited:
            report(module, name, body)
    return exited.value.code, json.loads(capsys.readouterr().out)


def assert_changed_failure(code, result, text):
    assert code == 1, result
    assert result['failed'] is True and result['changed'] is True, result
    assert 'nothing was changed' not in result['msg'] and text in result['msg'], result['msg']
    assert result.get('diff'), 'a failure after a write must still show what was written'


# ---------------------------------------------------------------- the module's own next step fails

def refusing_proc_sys(tmp_path):
    """A fake /proc/sys: netdev_max_backlog takes a write, vm.swappiness refuses it."""
    proc_sys = tmp_path / 'proc' / 'sys'
    (proc_sys / 'net' / 'core').mkdir(parents=True)
    (proc_sys / 'net' / 'core' / 'netdev_max_backlog').write_text('1000\n')
    (proc_sys / 'vm').mkdir()
    # A kernel file that reads a number but cannot be opened for writing, even by root (kernfs: no write mode).
    os.symlink('/sys/kernel/uevent_seqnum', str(proc_sys / 'vm' / 'swappiness'))
    return proc_sys


def test_sysctl_dropin_file_written_then_a_live_value_refused(tmp_path, capsys):
    proc_sys = refusing_proc_sys(tmp_path)
    path = tmp_path / 'sysctl.d' / '99-lowmem.conf'
    code, result = call(capsys, sysctl_dropin.ARGUMENT_SPEC, lambda context: sysctl_utils.run(context, paths=sysctl_utils.Paths(
        proc_sys=str(proc_sys))), 'sysctl_dropin', path=str(path), settings={'net.core.netdev_max_backlog': 2500, 'vm.swappiness': 30})
    assert_changed_failure(code, result, 'could not be set live')
    assert path.read_text().count('= ') == 2
    assert (proc_sys / 'net' / 'core' / 'netdev_max_backlog').read_text() == '2500\n'
    texts = [entry['after'] for entry in result['diff']]
    assert any('vm.swappiness = 30' in text for text in texts)                     # the file
    assert any('net.core.netdev_max_backlog = 2500' in text and 'vm.swappiness' not in text for text in texts)  # live


def test_sysctl_dropin_file_unchanged_one_live_value_set_then_the_next_refused(tmp_path, capsys):
    """The drop-in is already right: only the live write changed the host, and the failure still says so."""
    proc_sys = refusing_proc_sys(tmp_path)
    path = tmp_path / 'sysctl.d' / '99-lowmem.conf'
    path.parent.mkdir()
    path.write_text('net.core.netdev_max_backlog = 2500\nvm.swappiness = 30\n')
    code, result = call(capsys, sysctl_dropin.ARGUMENT_SPEC, lambda context: sysctl_utils.run(context, paths=sysctl_utils.Paths(
        proc_sys=str(proc_sys))), 'sysctl_dropin', path=str(path), settings={'net.core.netdev_max_backlog': 2500, 'vm.swappiness': 30})
    assert_changed_failure(code, result, 'unchanged, but vm.swappiness could not be set live')
    assert (proc_sys / 'net' / 'core' / 'netdev_max_backlog').read_text() == '2500\n'
    assert [entry['after'] for entry in result['diff']] == ['net.core.netdev_max_backlog = 2500\n']


def test_earlyoom_file_written_then_restart_fails(tmp_path, monkeypatch, module_runner):
    box = test_earlyoom.Host(tmp_path, monkeypatch)
    monkeypatch.setenv('FAKE_SYSTEMCTL_RC', '1')
    code, result = module_runner(earlyoom.main, test_earlyoom.params(box.path, restart=True, verify=True))
    assert_changed_failure(code, result, '`systemctl restart earlyoom` failed')
    assert '-m 10,5' in box.path.read_text() and '-m 10,5' in result['diff'][0]['after']


def test_journald_caps_dropin_written_journald_restarted_then_the_vacuum_fails(tmp_path, monkeypatch, module_runner):
    host = test_journald_caps.Host(tmp_path, monkeypatch)
    monkeypatch.setenv('FAKE_VACUUM_RC', '1')
    code, result = module_runner(journald_caps.main, host.params())
    assert_changed_failure(code, result, '`journalctl --rotate --vacuum-size=128M` failed')
    assert 'SystemMaxUse=128M' in host.path.read_text() and 'SystemMaxUse=128M' in result['diff']['after']
    assert result['actions'][-1] == 'systemctl restart systemd-journald'


def test_zswap_one_runtime_value_set_then_the_next_refused(tmp_path, monkeypatch, capsys):
    box = test_zswap.System(tmp_path, monkeypatch, crypto=test_zswap.PROC_CRYPTO)
    test_zswap.refuse_enabled(monkeypatch)
    code, result = call(capsys, zswap.ARGUMENT_SPEC, lambda context: zswap_utils.run(context, paths=box.paths), 'zswap',
                        compressor='zstd')
    assert_changed_failure(code, result, 'already set: compressor=zstd')
    assert box.param('compressor') == 'zstd'
    assert 'compressor = zstd' in result['diff'][0]['after'] and 'compressor = lzo' in result['diff'][0]['before']


def test_oom_protect_drop_ins_written_then_daemon_reload_fails(tmp_path, monkeypatch, capsys):
    host = test_oom_protect.Host(tmp_path, monkeypatch)
    fake = (tmp_path / 'bin' / 'systemctl')
    fake.write_text(fake.read_text().replace('daemon-reload) exit 0', 'daemon-reload) echo "Access denied" >&2; exit 1'))
    code, result = test_oom_protect.protect(host, capsys, host.params())
    assert_changed_failure(code, result, 'daemon-reload')
    assert any('OOMScoreAdjust=-700' in entry['after'] for entry in result['diff'])


def test_docker_daemon_json_written_then_restart_fails(tmp_path, monkeypatch, module_runner):
    host = test_docker_daemon_json.Host(tmp_path, monkeypatch)
    host.path.write_text('{"live-restore": true}\n')
    fake = tmp_path / 'bin' / 'systemctl'
    fake.write_text(fake.read_text().replace('[ "$*" = "restart docker" ] && exit 0', '[ "$*" = "restart docker" ] && '
                                             '{ echo "Job for docker.service failed" >&2; exit 1; }'))
    code, result = module_runner(docker_daemon_json.main, host.params(restart='always'))
    assert_changed_failure(code, result, 'Job for docker.service failed')
    assert json.loads(host.path.read_text())['log-opts']['max-file'] == '2'


def test_kernel_cleanup_purged_then_update_grub_fails(tmp_path, capsys):
    host = test_kernel_cleanup.Host(tmp_path, '6.12.48+deb13-amd64')
    read_only = 'cannot create /boot/grub/grub.cfg.new: Read-only file system\n'
    fake = test_kernel_cleanup.FakeDpkg(test_kernel_cleanup.TRIXIE, fail={'update-grub': (1, '', read_only)})
    code, result = call(capsys, kernel_cleanup.ARGUMENT_SPEC, lambda context: kernel_cleanup.run(
        context, runner=fake, which=fake.which, paths=host.paths), 'kernel_cleanup')
    assert_changed_failure(code, result, 'update-grub failed')


def test_timer_units_written_then_daemon_reload_fails(tmp_path, monkeypatch, module_runner, commands_in_path):
    host = test_timer_units.Host(tmp_path, commands_in_path)
    monkeypatch.setenv('FAKE_FAIL', 'daemon-reload')
    code, result = module_runner(timer_units.main, host.params())
    assert_changed_failure(code, result, '`systemctl daemon-reload` failed')
    assert result['actions'] == [] and len(result['diff']) == 3
    assert (host.unit_dir / test_timer_units.TIMER).read_text() == test_timer_units.TIMER_TEXT


def test_sshd_penalty_exempt_written_then_reload_fails(tmp_path, monkeypatch, module_runner, commands_in_path):
    host = test_sshd_penalty_exempt.Host(tmp_path, commands_in_path)
    monkeypatch.setenv('FAKE_FAIL', 'reload')
    code, result = module_runner(sshd_penalty_exempt.main, host.params())
    assert_changed_failure(code, result, '`systemctl reload ssh` failed')
    assert host.path.read_text() == result['diff'][0]['after'] and 'PerSourcePenaltyExemptList' in host.path.read_text()


def test_sshd_penalty_exempt_removed_then_reload_fails(tmp_path, monkeypatch, module_runner, commands_in_path):
    host = test_sshd_penalty_exempt.Host(tmp_path, commands_in_path)
    host.path.write_text('PerSourcePenaltyExemptList 127.0.0.1\n')
    monkeypatch.setenv('FAKE_FAIL', 'reload')
    code, result = module_runner(sshd_penalty_exempt.main, host.params(exempt=[]))
    assert_changed_failure(code, result, 'removed, but `systemctl reload ssh` failed')
    assert not host.path.exists() and result['diff'][0]['after'] == ''


# ---------------------------------------------------------------- atomic_move fails after the rename

@pytest.fixture
def move_then_fail(monkeypatch):
    """AnsibleModule.atomic_move renames the file into place, then raises (as a failing chown or SELinux step would)."""
    real = AnsibleModule.atomic_move

    def atomic_move(self, src, dest, *args, **kwargs):
        real(self, src, dest, *args, **kwargs)
        raise OSError(5, 'Input/output error after the rename')
    monkeypatch.setattr(AnsibleModule, 'atomic_move', atomic_move)


def test_compose_limits_file_moved_in_then_the_task_broke(tmp_path, monkeypatch, module_runner, move_then_fail):
    host = test_compose_limits.Host(tmp_path, monkeypatch)
    before = host.compose.read_text()
    code, result = module_runner(compose_limits.main, host.params(validate=False))
    assert_changed_failure(code, result, 'Input/output error after the rename')
    assert host.compose.read_text() != before and 'mem_limit: 96m' in host.compose.read_text()


def test_openpgp_keyring_moved_in_then_the_task_broke(tmp_path, module_runner, move_then_fail):
    dest = tmp_path / 'xanmod.gpg'
    code, result = module_runner(openpgp_keyring.main, {'content': fixture('ed25519.asc', 'r'), 'fingerprint': ED25519_FPR,
                                                        'dest': str(dest)})
    assert_changed_failure(code, result, 'Input/output error after the rename')
    assert dest.exists()


def test_earlyoom_moved_in_then_the_task_broke(tmp_path, monkeypatch, module_runner, move_then_fail):
    box = test_earlyoom.Host(tmp_path, monkeypatch)
    code, result = module_runner(earlyoom.main, test_earlyoom.params(box.path, restart=False))
    assert_changed_failure(code, result, 'Input/output error after the rename')


def test_journald_caps_moved_in_then_the_task_broke(tmp_path, monkeypatch, module_runner, move_then_fail):
    host = test_journald_caps.Host(tmp_path, monkeypatch)
    code, result = module_runner(journald_caps.main, host.params())
    assert_changed_failure(code, result, 'Input/output error after the rename')
    assert host.path.exists() and [call.split()[1] for call in host.calls()] == ['--disk-usage']


def test_swapfile_fstab_moved_in_then_the_task_broke(tmp_path, move_then_fail, capsys):
    # Absent with an fstab line: the only write is /etc/fstab, redirected to tmp_path by the module_utils default.
    from ansible_collections.lowmem.vps.plugins.module_utils import swap, swap_resize
    fstab = tmp_path / 'fstab'
    fstab.write_text('/dev/vda1 / ext4 defaults 0 1\n%s none swap sw 0 0\n' % (tmp_path / 'swapfile'))
    paths = swap.Paths(swaps=str(tmp_path / 'swaps'), fstab=str(fstab))
    (tmp_path / 'swaps').write_text('Filename\tType\tSize\tUsed\tPriority\n')
    code, result = call(capsys, swapfile.ARGUMENT_SPEC, lambda context: swap_resize.run(context, paths=paths), 'swapfile',
                        path=str(tmp_path / 'swapfile'), state='absent', fstab=True)
    assert_changed_failure(code, result, 'Input/output error after the rename')
    assert 'swap' not in fstab.read_text()
    assert result['actions'] == ['write %s' % fstab]


def test_timer_units_moved_in_then_the_task_broke(tmp_path, module_runner, move_then_fail, commands_in_path):
    host = test_timer_units.Host(tmp_path, commands_in_path)
    code, result = module_runner(timer_units.main, host.params())
    assert_changed_failure(code, result, 'Input/output error after the rename')
    assert (host.unit_dir / (test_timer_units.NAME + '.service')).exists() and host.calls() == []


def test_sshd_penalty_exempt_moved_in_then_the_task_broke(tmp_path, module_runner, move_then_fail, commands_in_path):
    host = test_sshd_penalty_exempt.Host(tmp_path, commands_in_path)
    code, result = module_runner(sshd_penalty_exempt.main, host.params())
    assert_changed_failure(code, result, 'Input/output error after the rename')
    assert host.path.exists() and not any('systemctl' in call for call in host.calls())
