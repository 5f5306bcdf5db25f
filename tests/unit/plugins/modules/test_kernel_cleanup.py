# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module's run() with a real AnsibleModule and a fake package system that records every command.

``FakeDpkg`` stands in for dpkg-query, apt-get and update-grub: it answers dpkg-query from its package
table, answers ``apt-get -s`` with the lines apt prints (plus what a meta package would drag along), and on
``apt-get -y purge|remove`` changes its table as dpkg would. /proc/sys/kernel/osrelease, /etc/default/grub
and /boot/grub/grubenv are files under tmp_path. main() runs only where it stops before reading the system.
"""
from __future__ import annotations

import os

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.kernels import APT_ENV, C_LOCALE, KernelError, KernelFailure, Paths, run
from ansible_collections.lowmem.vps.plugins.modules.kernel_cleanup import main
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__kernels import TRIXIE, XANMOD_MIX, dpkg

BIN = '/usr/bin'
GRUB_SAVED = 'GRUB_DEFAULT=saved\nGRUB_SAVEDEFAULT=true\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
GRUBENV = '# GRUB Environment Block\nsaved_entry=%s\n' + '#' * 950


class FakeDpkg(object):
    """dpkg-query, apt-get and update-grub over a package table {name: (version, status)}."""

    def __init__(self, text, missing=(), depends=None, fail=None, keep_after_purge=()):
        self.table = {}
        for line in text.splitlines():
            name, version, status = line.split('\t')
            self.table[name] = (version, status)
        self.missing = set(missing)
        self.depends = depends or {}
        self.fail = fail or {}
        self.keep_after_purge = set(keep_after_purge)
        self.calls = []

    def which(self, name):
        return None if name in self.missing else os.path.join(BIN, name)

    def dpkg_text(self):
        return ''.join('%s\t%s\t%s\n' % (name, version, status) for name, (version, status) in sorted(self.table.items()))

    def __call__(self, args, environ_update=None):
        self.calls.append((list(args), dict(environ_update or {})))
        name = os.path.basename(args[0])
        if name in self.fail:
            return self.fail[name]
        if name == 'dpkg-query':
            return 0, self.dpkg_text(), ''
        if name == 'update-grub':
            return 0, '', 'Generating grub configuration file ...\ndone\n'
        assert name == 'apt-get'
        action, targets = args[2], args[3:]
        dragged = [meta for meta, needs in sorted(self.depends.items()) if set(needs) & set(targets) and meta in self.table]
        if args[1] == '-s':
            verb = 'Purg' if action == 'purge' else 'Remv'
            lines = ['NOTE: This is only a simulation!', 'Reading package lists...']
            lines += ['%s %s [%s]' % (verb, package, self.table[package][0]) for package in targets + dragged]
            return 0, '\n'.join(lines) + '\n', ''
        for package in targets + dragged:
            if package in self.keep_after_purge:
                continue
            if action == 'purge':
                del self.table[package]
            else:
                self.table[package] = (self.table[package][0], 'rc ')
        return 0, 'Removing %s ...\n' % ' '.join(targets), ''

    def commands(self):
        return [[os.path.basename(args[0])] + args[1:] for args, env in self.calls]

    def names(self):
        return [os.path.basename(args[0]) for args, env in self.calls]


class Host(object):
    """/proc/sys/kernel/osrelease, /etc/default/grub and /boot/grub/grubenv under tmp_path."""

    def __init__(self, root, running, grub='GRUB_DEFAULT=0\n', grubenv=None):
        self.paths = Paths(osrelease=str(root / 'osrelease'), grub_default=str(root / 'grub'), grubenv=str(root / 'grubenv'))
        (root / 'osrelease').write_text(running + '\n')
        if grub is not None:
            (root / 'grub').write_text(grub)
        if grubenv is not None:
            (root / 'grubenv').write_text(grubenv)


def cleanup(module, host, fake, **options):
    return run(module, runner=fake, which=fake.which, paths=host.paths, params=options)


def test_debian_stock_purges_the_oldest_then_is_unchanged(tmp_path, ansible_module):
    host = Host(tmp_path, '6.12.48+deb13-amd64')
    fake = FakeDpkg(TRIXIE)
    result = cleanup(ansible_module(), host, fake)
    old = ['linux-headers-6.12.41+deb13-amd64', 'linux-headers-6.12.41+deb13-common', 'linux-image-6.12.41+deb13-amd64',
           'linux-kbuild-6.12.41+deb13']
    assert result['changed'] and result['purged'] == old and result['purged_releases'] == ['6.12.41+deb13-amd64']
    assert result['kept'] == ['6.12.57+deb13-amd64', '6.12.48+deb13-amd64'] and result['running'] == '6.12.48+deb13-amd64'
    assert result['grub_updated'] and result['default_boot'] is None and result['warnings'] == []
    assert fake.commands() == [
        ['dpkg-query', '-W', '--showformat=${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'],
        ['apt-get', '-s', 'purge'] + old,
        ['apt-get', '-y', 'purge'] + old,
        ['update-grub'],
        ['dpkg-query', '-W', '--showformat=${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'],
    ]
    assert fake.calls[0][1] == C_LOCALE and fake.calls[2][1] == APT_ENV and APT_ENV['DEBIAN_FRONTEND'] == 'noninteractive'
    assert 'linux-image-6.12.41+deb13-amd64 6.12.41-1' in result['diff']['before']
    assert 'linux-image-6.12.41+deb13-amd64' not in result['diff']['after'] and 'linux-image-6.12.57+deb13-amd64' in result['diff']['after']
    assert all(name not in fake.table for name in old) and 'linux-image-amd64' in fake.table

    fake.calls = []
    again = cleanup(ansible_module(), host, fake)
    assert not again['changed'] and again['purged'] == [] and fake.names() == ['dpkg-query']
    assert again['diff']['before'] == again['diff']['after']


def test_check_mode_runs_no_apt_get_purge(tmp_path, ansible_module):
    host = Host(tmp_path, '6.12.48+deb13-amd64')
    fake = FakeDpkg(TRIXIE)
    before = dict(fake.table)
    result = cleanup(ansible_module(True), host, fake)
    assert result['changed'] and len(result['purged']) == 4 and result['grub_updated']
    assert fake.commands()[1][:3] == ['apt-get', '-s', 'purge'] and fake.names() == ['dpkg-query', 'apt-get']
    assert fake.table == before


def test_xanmod_running_default_boot_debian_stays(tmp_path, ansible_module):
    entry = 'gnulinux-advanced-0b5c7a2e>gnulinux-6.12.57+deb13-amd64-advanced-0b5c7a2e'
    host = Host(tmp_path, '6.17.8-x64v3-xanmod1', grub=GRUB_SAVED, grubenv=GRUBENV % entry)
    fake = FakeDpkg(XANMOD_MIX)
    result = cleanup(ansible_module(), host, fake)
    assert result['default_boot'] == '6.12.57+deb13-amd64'
    assert result['kept'] == ['6.17.8-x64v3-xanmod1', '6.17.7-x64v3-xanmod1', '6.12.57+deb13-amd64']
    assert result['reasons']['6.12.57+deb13-amd64'] == 'GRUB boots it by default'
    assert result['purged_releases'] == ['6.12.48+deb13-amd64']
    assert 'linux-image-6.12.57+deb13-amd64' in fake.table and 'linux-xanmod-x64v3' in fake.table


def test_saved_entry_of_a_purged_kernel_keeps_one_of_its_flavour(tmp_path, ansible_module):
    entry = 'Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.12.30+deb13-amd64'
    host = Host(tmp_path, '6.17.8-x64v3-xanmod1', grub=GRUB_SAVED, grubenv=GRUBENV % entry)
    fake = FakeDpkg(XANMOD_MIX)
    result = cleanup(ansible_module(True), host, fake, keep=1)
    assert result['default_boot'] == '6.12.30+deb13-amd64'
    assert result['kept'] == ['6.17.8-x64v3-xanmod1', '6.12.57+deb13-amd64']
    assert result['purged_releases'] == ['6.17.7-x64v3-xanmod1', '6.12.48+deb13-amd64']


def test_a_meta_package_apt_would_drag_along_refuses_before_any_change(tmp_path, ansible_module):
    # Running XanMod with keep=1: every Debian kernel goes, and apt would take linux-image-amd64 along,
    # which depends on the newest of them.
    host = Host(tmp_path, '6.17.8-x64v3-xanmod1')
    fake = FakeDpkg(XANMOD_MIX, depends={'linux-image-amd64': ['linux-image-6.12.57+deb13-amd64']})
    with pytest.raises(KernelError) as raised:
        cleanup(ansible_module(), host, fake, keep=1)
    assert 'apt-get purge would also remove linux-image-amd64, which depend on the kernels to purge' in str(raised.value)
    assert fake.names() == ['dpkg-query', 'apt-get'] and fake.commands()[1][1] == '-s'
    assert 'linux-image-6.12.48+deb13-amd64' in fake.table


def test_running_kernel_not_installed_as_a_package_runs_nothing_else(tmp_path, ansible_module):
    host = Host(tmp_path, '6.8.0-45-generic')
    fake = FakeDpkg(TRIXIE)
    with pytest.raises(KernelError) as raised:
        cleanup(ansible_module(), host, fake)
    assert "cannot identify the running kernel's package" in str(raised.value) and '6.8.0-45-generic' in str(raised.value)
    assert fake.names() == ['dpkg-query']


def test_keep_1_with_remove_leaves_config_files(tmp_path, ansible_module):
    host = Host(tmp_path, '6.12.57+deb13-amd64')
    fake = FakeDpkg(TRIXIE + dpkg(('linux-image-6.12.38+deb13-amd64', '6.12.38-1', 'rc')))
    result = cleanup(ansible_module(), host, fake, keep=1, purge=False, update_grub=False)
    assert result['kept'] == ['6.12.57+deb13-amd64'] and len(result['purged']) == 8
    assert 'linux-image-6.12.38+deb13-amd64' not in result['purged']
    assert fake.commands()[2][:3] == ['apt-get', '-y', 'remove'] and 'update-grub' not in fake.names()
    assert fake.table['linux-image-6.12.41+deb13-amd64'] == ('6.12.41-1', 'rc ')
    assert 'rc  linux-image-6.12.41+deb13-amd64 6.12.41-1' in result['diff']['after'] and not result['grub_updated']


def test_config_files_only_leftovers_are_purged(tmp_path, ansible_module):
    host = Host(tmp_path, '6.12.57+deb13-amd64')
    fake = FakeDpkg(TRIXIE + dpkg(('linux-image-6.12.38+deb13-amd64', '6.12.38-1', 'rc')))
    result = cleanup(ansible_module(), host, fake, keep=3)
    assert result['purged'] == ['linux-image-6.12.38+deb13-amd64'] and result['purged_releases'] == ['6.12.38+deb13-amd64']
    assert 'linux-image-6.12.38+deb13-amd64' not in fake.table


def test_missing_update_grub_is_a_warning(tmp_path, ansible_module):
    host = Host(tmp_path, '6.12.57+deb13-amd64')
    fake = FakeDpkg(TRIXIE, missing=['update-grub'])
    result = cleanup(ansible_module(), host, fake)
    assert result['changed'] and not result['grub_updated'] and 'update-grub is not installed' in result['warnings'][0]


@pytest.mark.parametrize('missing, message', [
    ('dpkg-query', 'dpkg-query is not installed'),
    ('apt-get', 'apt-get is not installed'),
])
def test_missing_tools_refuse(tmp_path, ansible_module, missing, message):
    host = Host(tmp_path, '6.12.48+deb13-amd64')
    fake = FakeDpkg(TRIXIE, missing=[missing])
    with pytest.raises(KernelError, match=message):
        cleanup(ansible_module(), host, fake)
    assert 'apt-get' not in fake.names()


def test_keep_0_fails_before_reading_anything(tmp_path, ansible_module):
    fake = FakeDpkg(TRIXIE)
    with pytest.raises(KernelError, match='keep must be at least 1: the running kernel is always kept'):
        run(ansible_module(), runner=fake, which=fake.which, paths=Paths(osrelease=str(tmp_path / 'absent')), params=dict(keep=0))
    assert fake.calls == []


def test_apt_get_failure_reports_what_is_left(tmp_path, ansible_module):
    host = Host(tmp_path, '6.12.48+deb13-amd64')
    fake = FakeDpkg(TRIXIE)
    original = fake.__call__

    def runner(args, environ_update=None):
        if args[1:3] == ['-y', 'purge']:
            fake.calls.append((list(args), dict(environ_update or {})))
            return 100, '', 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 812 (unattended-upgr)\n'
        return original(args, environ_update)

    with pytest.raises(KernelFailure) as raised:
        run(ansible_module(), runner=runner, which=fake.which, paths=host.paths)
    message = str(raised.value)
    assert message.startswith('apt-get -y purge failed: E: Could not get lock') and 'linux-image-6.12.41+deb13-amd64 is still installed' in message
    assert raised.value.result['changed'] is False and 'update-grub' not in fake.names()


def test_a_planned_package_still_there_afterwards_fails(tmp_path, ansible_module):
    host = Host(tmp_path, '6.12.48+deb13-amd64')
    fake = FakeDpkg(TRIXIE, keep_after_purge=['linux-image-6.12.41+deb13-amd64'])
    with pytest.raises(KernelFailure) as raised:
        cleanup(ansible_module(), host, fake)
    assert str(raised.value) == 'after apt-get -y purge: linux-image-6.12.41+deb13-amd64 is still installed'
    assert raised.value.result['changed'] is True


def test_a_kept_package_gone_afterwards_fails(tmp_path, ansible_module):
    host = Host(tmp_path, '6.12.48+deb13-amd64')
    fake = FakeDpkg(TRIXIE)
    original = fake.__call__

    def runner(args, environ_update=None):
        result = original(args, environ_update)
        if args[1:3] == ['-y', 'purge']:
            del fake.table['linux-headers-6.12.48+deb13-amd64']
        return result

    with pytest.raises(KernelFailure, match='linux-headers-6.12.48\\+deb13-amd64 was to stay but is no longer installed'):
        run(ansible_module(), runner=runner, which=fake.which, paths=host.paths)


def test_update_grub_failure(tmp_path, ansible_module):
    host = Host(tmp_path, '6.12.48+deb13-amd64')
    read_only = '/usr/sbin/grub-mkconfig: 278: cannot create /boot/grub/grub.cfg.new: Read-only file system\n'
    fake = FakeDpkg(TRIXIE, fail={'update-grub': (1, '', read_only)})
    with pytest.raises(KernelFailure) as raised:
        cleanup(ansible_module(), host, fake)
    assert 'the old kernels were purged, but update-grub failed' in str(raised.value) and 'Read-only file system' in str(raised.value)


def test_dpkg_query_failure(tmp_path, ansible_module):
    host = Host(tmp_path, '6.12.48+deb13-amd64')
    fake = FakeDpkg(TRIXIE, fail={'dpkg-query': (2, '', 'dpkg-query: error: parsing file /var/lib/dpkg/status near line 5\n')})
    with pytest.raises(KernelError, match='dpkg-query -W failed: dpkg-query: error: parsing file'):
        cleanup(ansible_module(), host, fake)


def test_unreadable_osrelease(tmp_path, ansible_module):
    fake = FakeDpkg(TRIXIE)
    with pytest.raises(KernelError, match='cannot read the running kernel release'):
        run(ansible_module(), runner=fake, which=fake.which, paths=Paths(osrelease=str(tmp_path / 'absent')))


# ------------------------------------------------------------------ main()


def test_main_keep_0_fails_clearly(module_runner):
    code, result = module_runner(main, {'keep': 0})
    assert code == 1 and result['failed']
    assert result['msg'] == 'kernel_cleanup: keep must be at least 1: the running kernel is always kept (got keep=0); nothing was changed'


def test_main_rejects_unknown_options(module_runner):
    code, result = module_runner(main, {'keep_fallback': 1})
    assert code == 1 and 'keep_fallback' in result['msg']
