# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module end to end on a system tree under tmp_path, with a fake modprobe (a real executable) first in PATH.

``report(module, 'zswap', run(context, paths=paths))`` is what main() does with the real system paths; main() itself runs only where the real
defaults are harmless (failures before anything is written, runtime=false and persistent=false).
"""
from __future__ import annotations

import errno
import json
import os
import textwrap

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.module_utils.zswap import Paths, run
from ansible_collections.lowmem.vps.plugins.modules.zswap import ARGUMENT_SPEC, main
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__grub import BOOKWORM_GRUB, CLOUD_CFG, TRIXIE_VPS_GRUB
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__zswap import (
    DEBIAN_INITRAMFS_MODULES, PARAMS_6_1, PARAMS_6_12, PROC_CRYPTO,
)

# /proc/crypto before zstd is loaded: only the built-in lzo and lzo-rle.
CRYPTO_WITHOUT_ZSTD = PROC_CRYPTO[:PROC_CRYPTO.index('name         : zstd')]
ZSTD_BLOCK = PROC_CRYPTO[PROC_CRYPTO.index('name         : zstd'):PROC_CRYPTO.index('name         : crc32c')]
CMDLINE_BEFORE = 'BOOT_IMAGE=/boot/vmlinuz-6.12.43+deb13-amd64 root=UUID=0b5c-4c1e ro console=ttyS0 net.ifnames=0 quiet\n'

# Logs its arguments; "loads" zstd by adding its block to the fake /proc/crypto; fails for anything else.
FAKE_MODPROBE = textwrap.dedent('''\
    #!/bin/sh
    echo "$*" >> "$FAKE_MODPROBE_LOG"
    last=""
    for arg in "$@"; do last="$arg"; done
    if [ "$last" = zstd ]; then
        [ "$1" = --dry-run ] || cat "$FAKE_ZSTD_BLOCK" >> "$FAKE_CRYPTO"
        exit 0
    fi
    echo "modprobe: FATAL: Module $last not found in directory /lib/modules/6.12.43+deb13-amd64" >&2
    exit 1
    ''')


class System(object):
    """A zswap-capable Debian under tmp_path: parameters, /proc files, GRUB and initramfs-tools configuration."""

    def __init__(self, root, monkeypatch, parameters=None, grub=TRIXIE_VPS_GRUB, crypto=CRYPTO_WITHOUT_ZSTD):
        self.root = root
        self.paths = Paths(
            parameters_dir=str(root / 'sys' / 'module' / 'zswap' / 'parameters'), proc_crypto=str(root / 'proc' / 'crypto'),
            proc_cmdline=str(root / 'proc' / 'cmdline'), grub=str(root / 'etc' / 'default' / 'grub'),
            grub_d=str(root / 'etc' / 'default' / 'grub.d'), initramfs_modules=str(root / 'etc' / 'initramfs-tools' / 'modules'),
        )
        params_dir = root / 'sys' / 'module' / 'zswap' / 'parameters'
        params_dir.mkdir(parents=True)
        for name, value in (PARAMS_6_12 if parameters is None else parameters).items():
            (params_dir / name).write_text(value + '\n')
        (root / 'proc').mkdir()
        (root / 'proc' / 'crypto').write_text(crypto)
        (root / 'proc' / 'cmdline').write_text(CMDLINE_BEFORE)
        (root / 'etc' / 'default' / 'grub.d').mkdir(parents=True)
        if grub is not None:
            (root / 'etc' / 'default' / 'grub').write_text(grub)
        (root / 'etc' / 'initramfs-tools').mkdir()
        (root / 'etc' / 'initramfs-tools' / 'modules').write_text(DEBIAN_INITRAMFS_MODULES)
        bin_dir = root / 'bin'
        bin_dir.mkdir()
        (bin_dir / 'modprobe').write_text(FAKE_MODPROBE)
        (bin_dir / 'modprobe').chmod(0o755)
        (root / 'zstd.block').write_text('\n' + ZSTD_BLOCK)
        self.log = root / 'modprobe.log'
        monkeypatch.setenv('PATH', '%s:%s' % (bin_dir, os.environ.get('PATH', '')))
        monkeypatch.setenv('FAKE_MODPROBE_LOG', str(self.log))
        monkeypatch.setenv('FAKE_CRYPTO', self.paths.proc_crypto)
        monkeypatch.setenv('FAKE_ZSTD_BLOCK', str(root / 'zstd.block'))

    def param(self, name):
        with open(os.path.join(self.paths.parameters_dir, name)) as handle:
            return handle.read().strip()

    def text(self, key):
        with open(getattr(self.paths, key)) as handle:
            return handle.read()

    def modprobe_calls(self):
        return self.log.read_text().splitlines() if self.log.exists() else []

    def snapshot(self):
        """Every file of the tree with its content, to prove that nothing was changed."""
        files = {}
        for directory, dirs, names in os.walk(str(self.root)):
            for name in names:
                path = os.path.join(directory, name)
                if not os.path.islink(path):
                    with open(path) as handle:
                        files[path] = handle.read()
        return files


def warnings(result):
    """The warning texts of a result (ansible-core 2.19 returns them as structured summaries)."""
    return [item['event']['msg'] if isinstance(item, dict) else item for item in result.get('warnings', [])]


@pytest.fixture
def system(tmp_path, monkeypatch):
    return lambda **kwargs: System(tmp_path, monkeypatch, **kwargs)


@pytest.fixture
def zswap(capsys):
    """Run the module's run() against a System with real AnsibleModule argument handling; (rc, result)."""
    from ansible.module_utils.basic import AnsibleModule
    from ansible.module_utils.testing import patch_module_args

    def call(system, **params):
        with patch_module_args(params):
            module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
            with pytest.raises(SystemExit) as exited:
                report(module, 'zswap', lambda context: run(context, paths=system.paths))
        return exited.value.code, json.loads(capsys.readouterr().out)
    return call


def test_runbook_switch_lzo_to_zstd_at_runtime_and_in_grub_then_idempotent(system, zswap):
    box = system()
    rc, result = zswap(box, initramfs=True, compressor='zstd')
    assert rc == 0 and result['changed'], result
    assert box.modprobe_calls() == ['zstd']
    assert box.param('compressor') == 'zstd' and box.param('enabled') == 'Y'
    assert result['runtime_changed'] == ['compressor', 'enabled']
    assert result['runtime']['compressor'] == 'zstd' and result['runtime']['shrinker_enabled'] == 'N'
    assert result['cmdline_tokens'] == ['zswap.enabled=1', 'zswap.compressor=zstd']
    assert ('GRUB_CMDLINE_LINUX_DEFAULT="net.ifnames=0 biosdevname=0 console=ttyS0 zswap.enabled=1 zswap.compressor=zstd"\n'
            in box.text('grub'))
    assert box.text('initramfs_modules') == DEBIAN_INITRAMFS_MODULES + 'zstd\n'
    assert result['grub_changed'] and result['initramfs_changed'] and result['reboot_required']
    assert result['crypto_module'] == 'zstd' and result['missing_parameters'] == [] and result['overrides'] == []
    assert [entry['before_header'] for entry in result['diff']] == [
        box.paths.grub, box.paths.initramfs_modules, '/sys/module/zswap/parameters (running)']
    assert result['diff'][2]['before'] == 'enabled = N\ncompressor = lzo\n'
    assert result['diff'][2]['after'] == 'enabled = Y\ncompressor = zstd\n'

    rc, again = zswap(box, initramfs=True, compressor='zstd')
    assert rc == 0 and not again['changed'], again
    assert again['runtime_changed'] == [] and not again['grub_changed'] and not again['initramfs_changed']
    assert again['diff'] == [{'before_header': box.paths.grub, 'after_header': box.paths.grub,
                              'before': box.text('grub'), 'after': box.text('grub')},
                             {'before_header': box.paths.initramfs_modules, 'after_header': box.paths.initramfs_modules,
                              'before': box.text('initramfs_modules'), 'after': box.text('initramfs_modules')}]
    assert box.modprobe_calls() == ['zstd'], 'zstd is in /proc/crypto now: no second modprobe'
    assert again['reboot_required'], '/proc/cmdline has not the tokens until the machine boots with them'

    (box.root / 'proc' / 'cmdline').write_text(CMDLINE_BEFORE.strip() + ' zswap.enabled=1 zswap.compressor=zstd\n')
    rc, booted = zswap(box, initramfs=True, compressor='zstd')
    assert rc == 0 and not booted['changed'] and not booted['reboot_required']


def test_check_mode_changes_nothing_and_only_asks_modprobe(system, zswap):
    box = system(grub=BOOKWORM_GRUB)
    before = box.snapshot()
    rc, result = zswap(box, initramfs=True, compressor='zstd', max_pool_percent=25, _ansible_check_mode=True)
    assert rc == 0 and result['changed']
    assert box.modprobe_calls() == ['--dry-run zstd']
    box.log.unlink()
    assert box.snapshot() == before
    assert result['runtime_changed'] == ['compressor', 'max_pool_percent', 'enabled']
    assert result['runtime']['compressor'] == 'zstd' and result['runtime']['max_pool_percent'] == '25'
    assert result['grub_changed'] and result['initramfs_changed']
    assert 'GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.enabled=1 zswap.compressor=zstd zswap.max_pool_percent=25"' in result['diff'][0]['after']


def test_zpool_is_written_on_6_1_only(system, zswap, tmp_path):
    box = system(parameters=PARAMS_6_1, grub=BOOKWORM_GRUB, crypto=PROC_CRYPTO)
    rc, result = zswap(box, compressor='zstd', zpool='zsmalloc')
    assert rc == 0 and box.param('zpool') == 'zsmalloc'
    assert result['runtime_changed'] == ['compressor', 'zpool', 'enabled'] and result['missing_parameters'] == []
    assert 'zswap.zpool=zsmalloc' in result['cmdline_tokens']
    assert box.modprobe_calls() == []


def test_zpool_on_6_12_is_a_warning_and_stays_off_the_command_line(system, zswap):
    box = system(crypto=PROC_CRYPTO)
    rc, result = zswap(box, compressor='zstd', zpool='zsmalloc', accept_threshold_percent=80)
    assert rc == 0 and result['missing_parameters'] == ['zpool']
    assert not os.path.exists(os.path.join(box.paths.parameters_dir, 'zpool'))
    assert 'zpool' not in box.text('grub')
    assert result['cmdline_tokens'] == ['zswap.enabled=1', 'zswap.compressor=zstd', 'zswap.accept_threshold_percent=80']
    assert any('no zswap parameter zpool' in warning for warning in warnings(result))


def test_unknown_compressor_fails_before_anything_is_written(system, zswap):
    box = system()
    before = box.snapshot()
    rc, result = zswap(box, compressor='nosuchalgo')
    assert rc == 1 and result['failed']
    assert 'compressor nosuchalgo is not known to the running kernel' in result['msg']
    assert '`modprobe crypto-nosuchalgo` failed: modprobe: FATAL: Module crypto-nosuchalgo not found' in result['msg']
    assert result['msg'].endswith('; nothing was changed')
    assert box.modprobe_calls() == ['crypto-nosuchalgo']
    box.log.unlink()
    assert box.snapshot() == before


def test_known_compressor_whose_module_is_missing_fails(system, zswap):
    box = system()
    rc, result = zswap(box, compressor='lz4')
    assert rc == 1 and '`modprobe lz4` failed' in result['msg'] and result['msg'].endswith('; nothing was changed')
    assert box.param('compressor') == 'lzo' and box.text('grub') == TRIXIE_VPS_GRUB


def test_modprobe_that_succeeds_without_the_algorithm_appearing_fails(system, zswap):
    box = system()
    (box.root / 'zstd.block').write_text('')
    rc, result = zswap(box, compressor='zstd')
    assert rc == 1 and 'succeeded but it still does not list zstd' in result['msg']
    assert box.param('compressor') == 'lzo'


def test_runtime_false_reports_pending_and_writes_boot_configuration(system, zswap):
    box = system()
    rc, result = zswap(box, compressor='zstd', runtime=False)
    assert rc == 0 and result['changed']
    assert result['runtime_pending'] == ['compressor', 'enabled'] and result['runtime_changed'] == []
    assert box.param('compressor') == 'lzo' and 'zswap.compressor=zstd' in box.text('grub')
    assert box.modprobe_calls() == ['--dry-run zstd']


def test_runtime_false_accepts_a_known_compressor_it_cannot_check(system, zswap):
    box = system()
    rc, result = zswap(box, initramfs=True, compressor='lz4', runtime=False)
    assert rc == 0 and 'zswap.compressor=lz4' in box.text('grub')
    assert box.text('initramfs_modules').endswith('\nlz4\n')
    assert any('could not be checked on this kernel' in warning for warning in warnings(result))


def test_runtime_false_without_zswap_warns_and_writes_every_token(system, zswap):
    box = system()
    for name in os.listdir(box.paths.parameters_dir):
        os.unlink(os.path.join(box.paths.parameters_dir, name))
    os.rmdir(box.paths.parameters_dir)
    rc, result = zswap(box, compressor='zstd', zpool='zsmalloc', runtime=False)
    assert rc == 0 and result['runtime'] == {}
    assert 'zswap.zpool=zsmalloc' in box.text('grub')
    assert any('cannot be checked against this kernel' in warning for warning in warnings(result))
    rc, result = zswap(box, compressor='zstd')
    assert rc == 1 and 'the running kernel has no zswap' in result['msg']


def test_read_only_parameter_fails_with_the_container_hint_and_changes_nothing(system, zswap):
    box = system(crypto=PROC_CRYPTO)
    target = os.path.join(box.paths.parameters_dir, 'compressor')
    os.unlink(target)
    # A kernel file nobody may write, root included: as /sys/module/zswap/parameters inside a container.
    os.symlink('/proc/sys/kernel/osrelease', target)
    before = box.snapshot()
    rc, result = zswap(box, compressor='zstd')
    assert rc == 1
    assert 'cannot write %s' % target in result['msg'] and 'use runtime=false' in result['msg']
    assert result['msg'].endswith('; nothing was changed')
    assert box.snapshot() == before


def test_compressor_loaded_then_a_parameter_not_writable_reports_the_load(system, zswap):
    """modprobe loading zstd changes the running kernel: a refusal after it says changed, never "nothing was changed"."""
    box = system()  # /proc/crypto without zstd: the fake modprobe loads it
    target = os.path.join(box.paths.parameters_dir, 'enabled')
    os.unlink(target)
    os.symlink('/proc/sys/kernel/osrelease', target)
    rc, result = zswap(box, compressor='zstd')
    assert rc == 1 and box.modprobe_calls() == ['zstd']
    assert result['changed'] is True and 'cannot write %s' % target in result['msg']
    assert 'nothing was changed' not in result['msg']
    assert box.text('grub') == TRIXIE_VPS_GRUB


def refuse_enabled(monkeypatch):
    """The kernel refusing enabled=Y with EINVAL, as zswap does when it cannot create a pool (other writes go through).

    Injected at write_parameter: a real kernel file that refuses a value needs a writable /proc or /sys, which the
    unit tests' sandbox (tools/sandbox) does not give.
    """
    from ansible_collections.lowmem.vps.plugins.module_utils import zswap as zswap_module
    real = zswap_module.write_parameter

    def write_parameter(name, value, parameters_dir):
        if name == 'enabled':
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return real(name, value, parameters_dir)
    monkeypatch.setattr(zswap_module, 'write_parameter', write_parameter)


def test_refusal_midway_says_what_was_set_and_leaves_files_alone(system, zswap, monkeypatch):
    box = system(crypto=PROC_CRYPTO)
    refuse_enabled(monkeypatch)
    rc, result = zswap(box, compressor='zstd')
    assert rc == 1
    assert 'the kernel refused enabled=Y: Invalid argument' in result['msg'] and 'already set: compressor=zstd' in result['msg']
    assert box.param('compressor') == 'zstd'
    assert box.text('grub') == TRIXIE_VPS_GRUB and box.text('initramfs_modules') == DEBIAN_INITRAMFS_MODULES


def test_value_the_kernel_does_not_keep_fails(system, zswap):
    box = system(crypto=PROC_CRYPTO)
    target = os.path.join(box.paths.parameters_dir, 'max_pool_percent')
    os.unlink(target)
    os.symlink('/dev/null', target)  # takes every write, reads back empty
    rc, result = zswap(box, compressor='zstd', max_pool_percent=20)
    assert rc == 1 and 'the kernel did not keep max_pool_percent (wanted 20, reads )' in result['msg']
    assert box.text('grub') == TRIXIE_VPS_GRUB


def test_cloud_image_grub_d_override_is_warned(system, zswap):
    box = system(crypto=PROC_CRYPTO)
    cfg = box.root / 'etc' / 'default' / 'grub.d' / '10_cloud.cfg'
    cfg.write_text(CLOUD_CFG)
    rc, result = zswap(box, compressor='zstd')
    assert rc == 0
    assert result['overrides'][0]['file'] == str(cfg) and result['overrides'][0]['replaces']
    assert any(str(cfg) in warning and 'replaces the zswap tokens at boot' in warning for warning in warnings(result))


def test_conflicting_grub_cmdline_linux_is_warned(system, zswap):
    box = system(crypto=PROC_CRYPTO, grub='GRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="zswap.compressor=lzo"\n')
    rc, result = zswap(box, compressor='zstd')
    assert rc == 0 and box.text('grub') == (
        'GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.enabled=1 zswap.compressor=zstd"\nGRUB_CMDLINE_LINUX="zswap.compressor=lzo"\n')
    assert any('zswap.compressor=lzo in GRUB_CMDLINE_LINUX' in warning for warning in warnings(result))


def test_interrupted_run_then_rerun_converges(system, zswap):
    # A run stopped after the runtime writes, before /etc/default/grub; and an earlier tool that appended tokens twice.
    box = system(crypto=PROC_CRYPTO, grub='GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.compressor=lzo zswap.enabled=1 zswap.compressor=lzo"\n')
    (box.root / 'sys' / 'module' / 'zswap' / 'parameters' / 'compressor').write_text('zstd\n')
    rc, result = zswap(box, compressor='zstd')
    assert rc == 0 and result['runtime_changed'] == ['enabled']
    assert box.text('grub') == 'GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.compressor=zstd zswap.enabled=1"\n'
    rc, result = zswap(box, compressor='zstd')
    assert rc == 0 and not result['changed']


def test_disable_and_persistent_false(system, zswap):
    box = system(parameters=dict(PARAMS_6_12, enabled='Y', compressor='zstd'), crypto=PROC_CRYPTO)
    rc, result = zswap(box, enabled=False, persistent=False)
    assert rc == 0 and result['runtime_changed'] == ['enabled'] and box.param('enabled') == 'N'
    assert box.text('grub') == TRIXIE_VPS_GRUB and not result['grub_changed'] and not result['reboot_required']
    assert len(result['diff']) == 1


def test_missing_grub_file_fails_clearly(system, zswap):
    box = system(grub=None, crypto=PROC_CRYPTO)
    rc, result = zswap(box, compressor='zstd')
    assert rc == 1 and 'does not exist' in result['msg'] and 'persistent=false' in result['msg']
    assert box.param('compressor') == 'lzo'


def test_grub_file_it_cannot_rewrite_fails_before_runtime_writes(system, zswap):
    box = system(crypto=PROC_CRYPTO, grub='GRUB_CMDLINE_LINUX_DEFAULT="quiet\n  splash"\n')
    rc, result = zswap(box, compressor='zstd')
    assert rc == 1 and 'continues on the next line' in result['msg'] and result['msg'].endswith('; nothing was changed')
    assert box.param('compressor') == 'lzo'


def test_without_initramfs_tools_it_warns(system, zswap):
    box = system(crypto=PROC_CRYPTO)
    os.unlink(box.paths.initramfs_modules)
    os.rmdir(os.path.dirname(box.paths.initramfs_modules))
    rc, result = zswap(box, initramfs=True, compressor='zstd')
    assert rc == 0 and not result['initramfs_changed']
    assert any('initramfs-tools is not installed' in warning for warning in warnings(result))


@pytest.mark.parametrize('args, message', [
    ({'max_pool_percent': 0}, 'max_pool_percent=0 is outside 1..100'),
    ({'accept_threshold_percent': 101}, 'accept_threshold_percent=101 is outside 0..100'),
    ({'compressor': 'zstd;reboot'}, "compressor='zstd;reboot' is not a crypto algorithm name"),
    ({'zpool': '../zbud'}, "zpool='../zbud' is not a pool name"),
])
def test_main_refuses_bad_input_before_touching_the_system(module_runner, args, message):
    rc, result = module_runner(main, args)
    assert rc == 1 and message in result['msg'] and result['msg'].endswith('; nothing was changed')


def test_main_unknown_compressor_with_the_real_defaults(tmp_path, monkeypatch, module_runner):
    # runtime=false and persistent=false: main() reads the real /proc/crypto but writes nothing anywhere.
    System(tmp_path, monkeypatch)
    rc, result = module_runner(main, {'compressor': 'nosuchalgo', 'runtime': False, 'persistent': False})
    assert rc == 1 and 'compressor nosuchalgo is not known to the running kernel: /proc/crypto does not list it' in result['msg']
    assert (tmp_path / 'modprobe.log').read_text() == '--dry-run crypto-nosuchalgo\n'


def test_initramfs_is_left_alone_by_default(system, zswap):
    # Listing zstd in the initramfs was measured not to keep it at boot (the tmpfiles rule does): opt-in only.
    box = system(crypto=PROC_CRYPTO)
    rc, result = zswap(box, compressor='zstd')
    assert rc == 0 and result['grub_changed'] and not result['initramfs_changed']
    assert box.text('initramfs_modules') == DEBIAN_INITRAMFS_MODULES
    assert box.paths.initramfs_modules not in [entry['before_header'] for entry in result['diff']]


def test_tmpfiles_rule_is_written_with_the_boot_configuration_then_idempotent(system, zswap):
    box = system()
    rule = box.root / 'etc' / 'tmpfiles.d' / 'lowmem-zswap.conf'  # its directory does not exist yet
    rc, result = zswap(box, compressor='zstd', tmpfiles=str(rule), header='Ansible managed\n# keep')
    assert rc == 0 and result['changed'] and result['tmpfiles_changed'], result
    assert rule.read_text() == ('# Ansible managed\n# keep\n'
                                'w /sys/module/zswap/parameters/compressor - - - - zstd\n'
                                'w /sys/module/zswap/parameters/enabled - - - - Y\n')
    assert oct(os.stat(str(rule)).st_mode & 0o777) == '0o644'
    assert result['diff'][1]['before_header'] == '%s (absent)' % rule

    rc, again = zswap(box, compressor='zstd', tmpfiles=str(rule), header='Ansible managed\n# keep')
    assert rc == 0 and not again['changed'] and not again['tmpfiles_changed']

    rc, off = zswap(box, compressor='zstd', enabled=False, tmpfiles=str(rule), header='')
    assert rc == 0 and off['tmpfiles_changed'] and rule.read_text().endswith('enabled - - - - N\n')
    assert not rule.read_text().startswith('#')


def test_tmpfiles_rule_is_not_written_without_persistent_or_in_check_mode(system, zswap):
    box = system()
    rule = box.root / 'etc' / 'tmpfiles.d' / 'lowmem-zswap.conf'
    rc, result = zswap(box, compressor='zstd', tmpfiles=str(rule), _ansible_check_mode=True)
    assert rc == 0 and result['tmpfiles_changed'] and not rule.exists()
    rc, result = zswap(box, compressor='zstd', tmpfiles=str(rule), persistent=False)
    assert rc == 0 and not result['tmpfiles_changed'] and not rule.exists()
