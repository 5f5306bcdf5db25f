# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kernel package logic: dpkg-query parsing, releases and flavours, the cleanup plan.

The dpkg-query texts are what ``dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'`` prints
(status with its trailing blank), cut to the kernel packages and a few neighbours that must be ignored.
"""
from __future__ import annotations


import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.kernels import (
    KernelError, base_version, classify, describe, flavour, kernels_of, list_installed, parse_release, plan, simulated_removals,
)


def dpkg(*rows):
    """dpkg-query output from (name, version, status) rows."""
    return ''.join('%s\t%s\t%s\n' % (name, version, status.ljust(3)) for name, version, status in rows)


def kernel_rows(release, version, status='ii', headers=True, common=None, kbuild=None):
    rows = [('linux-image-%s' % release, version, status)]
    if headers:
        rows.append(('linux-headers-%s' % release, version, status))
    if common:
        rows.append(('linux-headers-%s-common' % common, version, status))
    if kbuild:
        rows.append(('linux-kbuild-%s' % kbuild, version, status))
    return rows


OTHERS = [('linux-libc-dev', '6.12.57-1', 'ii'), ('linux-base', '4.12', 'ii'), ('linux-sysctl-defaults', '4.12', 'ii'),
          ('firmware-linux-free', '20241210-2', 'ii'), ('linux-perf', '6.12.57-1', 'ii')]

# Debian 13 with three stock kernels, each with headers, -common and kbuild, and the meta packages.
TRIXIE = dpkg(*(
    kernel_rows('6.12.41+deb13-amd64', '6.12.41-1', common='6.12.41+deb13', kbuild='6.12.41+deb13')
    + kernel_rows('6.12.48+deb13-amd64', '6.12.48-1', common='6.12.48+deb13', kbuild='6.12.48+deb13')
    + kernel_rows('6.12.57+deb13-amd64', '6.12.57-1', common='6.12.57+deb13', kbuild='6.12.57+deb13')
    + [('linux-image-amd64', '6.12.57-1', 'ii'), ('linux-headers-amd64', '6.12.57-1', 'ii')] + OTHERS))

# Debian 12: the ABI number is in the release, kbuild is per major.minor and shared by all of them.
BOOKWORM = dpkg(*(
    kernel_rows('6.1.0-26-amd64', '6.1.112-1', common='6.1.0-26')
    + kernel_rows('6.1.0-27-amd64', '6.1.115-1', common='6.1.0-27')
    + kernel_rows('6.1.0-28-amd64', '6.1.119-1', common='6.1.0-28')
    + [('linux-kbuild-6.1', '6.1.119-1', 'ii'), ('linux-image-cloud-amd64', '6.1.119-1', 'ii'), ('linux-image-amd64', '6.1.119-1', 'ii')]))

# Debian 13 with XanMod next to two stock kernels.
XANMOD_MIX = dpkg(*(
    kernel_rows('6.12.48+deb13-amd64', '6.12.48-1', common='6.12.48+deb13', kbuild='6.12.48+deb13')
    + kernel_rows('6.12.57+deb13-amd64', '6.12.57-1', common='6.12.57+deb13', kbuild='6.12.57+deb13')
    + kernel_rows('6.17.7-x64v3-xanmod1', '6.17.7-x64v3-xanmod1-0~20251106.g9f3e1d2')
    + kernel_rows('6.17.8-x64v3-xanmod1', '6.17.8-x64v3-xanmod1-0~20251113.g0a1b2c3')
    + [('linux-image-amd64', '6.12.57-1', 'ii'), ('linux-xanmod-x64v3', '6.17.8-0~20251113.g0a1b2c3', 'ii')]))


def packages(text):
    return list_installed(text)


# ------------------------------------------------------------------ releases, flavours, package names


@pytest.mark.parametrize('release, base, raw, normal', [
    ('6.12.57+deb13-amd64', '6.12.57+deb13', 'amd64', 'amd64'),
    ('6.12.57+deb13-cloud-amd64', '6.12.57+deb13', 'cloud-amd64', 'cloud-amd64'),
    ('6.1.0-27-amd64', '6.1.0-27', 'amd64', 'amd64'),
    ('6.1.0-0.deb11.17-amd64', '6.1.0-0.deb11.17', 'amd64', 'amd64'),
    ('6.12.12+bpo-amd64', '6.12.12+bpo', 'amd64', 'amd64'),
    ('6.8.0-45-generic', '6.8.0-45', 'generic', 'generic'),
    ('6.17.8-x64v3-xanmod1', '6.17.8', 'x64v3-xanmod1', 'xanmod-x64v3'),
    ('6.12.58-x64v2-xanmod1', '6.12.58', 'x64v2-xanmod1', 'xanmod-x64v2'),
    ('6.6.58-rt45-x64v3-xanmod1', '6.6.58', 'rt45-x64v3-xanmod1', 'xanmod-rt-x64v3'),
    ('6.1.0-27', '6.1.0-27', '', ''),
])
def test_release_parts(release, base, raw, normal):
    assert parse_release(release) == (base, raw)
    assert base_version(release) == base
    assert flavour(release) == normal


@pytest.mark.parametrize('release', ['amd64', 'cloud-amd64', 'generic', 'x64v3', '', 'rt-amd64'])
def test_not_a_release(release):
    assert parse_release(release) is None and flavour(release) == '' and base_version(release) == release


@pytest.mark.parametrize('name, kind, key', [
    ('linux-image-6.12.57+deb13-amd64', 'image', '6.12.57+deb13-amd64'),
    ('linux-image-6.17.8-x64v3-xanmod1', 'image', '6.17.8-x64v3-xanmod1'),
    ('linux-image-6.1.0-27-amd64-unsigned', 'image', '6.1.0-27-amd64'),
    ('linux-image-unsigned-6.8.0-45-generic', 'image', '6.8.0-45-generic'),
    ('linux-image-6.12.57+deb13-amd64-dbg', 'dbg', '6.12.57+deb13-amd64'),
    ('linux-headers-6.12.57+deb13-amd64', 'headers', '6.12.57+deb13-amd64'),
    ('linux-headers-6.12.57+deb13-common', 'common', '6.12.57+deb13'),
    ('linux-headers-6.1.0-27-common-rt', 'common', '6.1.0-27'),
    ('linux-headers-6.8.0-45', 'common', '6.8.0-45'),
    ('linux-kbuild-6.12.57+deb13', 'common', '6.12.57+deb13'),
    ('linux-kbuild-6.1', 'common', '6.1'),
    ('linux-modules-6.8.0-45-generic', 'modules', '6.8.0-45-generic'),
    ('linux-modules-extra-6.8.0-45-generic', 'modules', '6.8.0-45-generic'),
    ('linux-image-amd64', None, None),
    ('linux-image-cloud-amd64', None, None),
    ('linux-image-generic', None, None),
    ('linux-headers-amd64', None, None),
    ('linux-xanmod-x64v3', None, None),
    ('linux-xanmod-lts-x64v1', None, None),
    ('linux-libc-dev', None, None),
    ('linux-perf', None, None),
    ('linux-base', None, None),
    ('linux-image-amd64-dbg', None, None),
])
def test_classify(name, kind, key):
    assert classify(name) == (kind, key)


def test_list_installed_keeps_kernel_packages_and_their_states():
    found = list_installed(TRIXIE + dpkg(('linux-image-6.12.38+deb13-amd64', '6.12.38-1', 'rc'),
                                         ('linux-image-6.12.30+deb13-amd64', '6.12.30-1', 'pn'),
                                         ('linux-headers-6.12.99+deb13-amd64', '6.12.99-1', 'iU')) + 'garbage line\n\n')
    by_name = dict((package.name, package) for package in found)
    assert len(found) == 12 + 2
    assert 'linux-image-amd64' not in by_name and 'linux-libc-dev' not in by_name
    assert 'linux-image-6.12.30+deb13-amd64' not in by_name
    rc = by_name['linux-image-6.12.38+deb13-amd64']
    assert rc.status == 'rc' and rc.config_files and not rc.installed and rc.settled
    half = by_name['linux-headers-6.12.99+deb13-amd64']
    assert half.status == 'iU' and not half.settled
    image = by_name['linux-image-6.12.57+deb13-amd64']
    assert image.installed and image.kind == 'image' and image.key == '6.12.57+deb13-amd64' and image.version == '6.12.57-1'


def installed_releases(found):
    """Releases with an installed image in the order plan() ranks them (order_key, newest first)."""
    kernels = [kernel for kernel in kernels_of(found).values() if kernel.installed]
    return [kernel.release for kernel in sorted(kernels, key=lambda kernel: kernel.order_key, reverse=True)]


def test_installed_releases_newest_first_by_package_version():
    assert installed_releases(packages(XANMOD_MIX)) == ['6.17.8-x64v3-xanmod1', '6.17.7-x64v3-xanmod1', '6.12.57+deb13-amd64',
                                                        '6.12.48+deb13-amd64']
    assert installed_releases(packages(BOOKWORM)) == ['6.1.0-28-amd64', '6.1.0-27-amd64', '6.1.0-26-amd64']


# ------------------------------------------------------------------ the plan


def test_debian_stock_running_the_middle_one():
    kept, purge, reasons = plan(packages(TRIXIE), '6.12.48+deb13-amd64', keep=2)
    assert kept == ['6.12.57+deb13-amd64', '6.12.48+deb13-amd64']
    assert purge == ['linux-headers-6.12.41+deb13-amd64', 'linux-headers-6.12.41+deb13-common', 'linux-image-6.12.41+deb13-amd64',
                     'linux-kbuild-6.12.41+deb13']
    assert reasons == {'6.12.48+deb13-amd64': 'running kernel', '6.12.57+deb13-amd64': 'newest installed kernel',
                       '6.12.41+deb13-amd64': 'older than the kept kernels (keep=2)'}


def test_running_the_newest_keeps_the_next_one_as_fallback():
    kept, purge, reasons = plan(packages(TRIXIE), '6.12.57+deb13-amd64')
    assert kept == ['6.12.57+deb13-amd64', '6.12.48+deb13-amd64'] and reasons['6.12.48+deb13-amd64'] == 'fallback (keep=2)'
    assert 'linux-image-6.12.41+deb13-amd64' in purge


def test_keep_1_keeps_running_and_newest_only():
    kept, purge, reasons = plan(packages(TRIXIE), '6.12.57+deb13-amd64', keep=1)
    assert kept == ['6.12.57+deb13-amd64']
    assert purge == sorted(['linux-image-6.12.41+deb13-amd64', 'linux-headers-6.12.41+deb13-amd64', 'linux-headers-6.12.41+deb13-common',
                            'linux-kbuild-6.12.41+deb13', 'linux-image-6.12.48+deb13-amd64', 'linux-headers-6.12.48+deb13-amd64',
                            'linux-headers-6.12.48+deb13-common', 'linux-kbuild-6.12.48+deb13'])
    # Running an older kernel: the newest stays even though that makes two.
    kept, purge, reasons = plan(packages(TRIXIE), '6.12.41+deb13-amd64', keep=1)
    assert kept == ['6.12.57+deb13-amd64', '6.12.41+deb13-amd64'] and 'linux-image-6.12.48+deb13-amd64' in purge


def test_keep_more_than_installed_purges_nothing():
    assert plan(packages(TRIXIE), '6.12.48+deb13-amd64', keep=5)[:2] == (
        ['6.12.57+deb13-amd64', '6.12.48+deb13-amd64', '6.12.41+deb13-amd64'], [])


@pytest.mark.parametrize('keep, message', [
    (0, 'keep must be at least 1: the running kernel is always kept (got keep=0)'),
    (-1, 'keep must be at least 1'),
    (True, 'keep must be a whole number'),
    ('2', 'keep must be a whole number'),
])
def test_bad_keep(keep, message):
    with pytest.raises(KernelError) as raised:
        plan(packages(TRIXIE), '6.12.48+deb13-amd64', keep=keep)
    assert message in str(raised.value)


def test_bookworm_common_headers_follow_their_abi_and_shared_kbuild_stays():
    kept, purge, reasons = plan(packages(BOOKWORM), '6.1.0-28-amd64')
    assert kept == ['6.1.0-28-amd64', '6.1.0-27-amd64']
    assert purge == ['linux-headers-6.1.0-26-amd64', 'linux-headers-6.1.0-26-common', 'linux-image-6.1.0-26-amd64']


def test_xanmod_and_debian_running_xanmod_default_boot_debian():
    kept, purge, reasons = plan(packages(XANMOD_MIX), '6.17.8-x64v3-xanmod1', keep=2, default_boot_release='6.12.57+deb13-amd64')
    assert kept == ['6.17.8-x64v3-xanmod1', '6.17.7-x64v3-xanmod1', '6.12.57+deb13-amd64']
    assert reasons['6.12.57+deb13-amd64'] == 'GRUB boots it by default'
    assert purge == ['linux-headers-6.12.48+deb13-amd64', 'linux-headers-6.12.48+deb13-common', 'linux-image-6.12.48+deb13-amd64',
                     'linux-kbuild-6.12.48+deb13']
    assert 'linux-xanmod-x64v3' not in purge and 'linux-image-amd64' not in purge


def test_xanmod_keep_1_without_a_default_removes_every_debian_kernel():
    kept, purge, reasons = plan(packages(XANMOD_MIX), '6.17.8-x64v3-xanmod1', keep=1)
    assert kept == ['6.17.8-x64v3-xanmod1']
    assert 'linux-image-6.12.57+deb13-amd64' in purge and 'linux-image-6.17.7-x64v3-xanmod1' in purge


def test_default_boot_naming_a_missing_kernel_keeps_one_of_its_flavour():
    kept, purge, reasons = plan(packages(XANMOD_MIX), '6.17.8-x64v3-xanmod1', keep=1, default_boot_release='6.12.41+deb13-amd64')
    assert kept == ['6.17.8-x64v3-xanmod1', '6.12.57+deb13-amd64']
    assert reasons['6.12.57+deb13-amd64'].startswith('last kernel of the amd64 flavour GRUB boots by default')
    assert 'linux-image-6.12.48+deb13-amd64' in purge


def test_default_boot_of_a_flavour_already_kept_adds_nothing():
    kept = plan(packages(TRIXIE), '6.12.57+deb13-amd64', keep=1, default_boot_release='6.12.30+deb13-amd64')[0]
    assert kept == ['6.12.57+deb13-amd64']


def test_running_debian_after_a_failed_xanmod_boot():
    kept, purge, reasons = plan(packages(XANMOD_MIX), '6.12.57+deb13-amd64', keep=2)
    assert kept == ['6.17.8-x64v3-xanmod1', '6.12.57+deb13-amd64']
    assert reasons['6.17.8-x64v3-xanmod1'] == 'newest installed kernel'


@pytest.mark.parametrize('running', ['6.8.0-45-generic', '6.12.38+deb13-amd64', ''])
def test_running_kernel_not_installed_as_a_package_refuses(running):
    text = TRIXIE + dpkg(('linux-image-6.12.38+deb13-amd64', '6.12.38-1', 'rc'))
    with pytest.raises(KernelError) as raised:
        plan(packages(text), running)
    message = str(raised.value)
    assert message.startswith("cannot identify the running kernel's package: no installed linux-image package for the running release")
    assert message.endswith('refusing to remove anything')
    assert '6.12.57+deb13-amd64, 6.12.48+deb13-amd64, 6.12.41+deb13-amd64' in message


def test_no_kernel_packages_at_all_refuses():
    with pytest.raises(KernelError, match=r'installed kernels: none\); refusing to remove anything'):
        plan(packages(dpkg(*OTHERS)), '6.1.0-27-amd64')


def test_config_files_only_kernels_are_purged_but_not_removed():
    text = TRIXIE + dpkg(('linux-image-6.12.38+deb13-amd64', '6.12.38-1', 'rc'), ('linux-headers-6.12.38+deb13-common', '6.12.38-1', 'rc'))
    kept, purge, reasons = plan(packages(text), '6.12.57+deb13-amd64', keep=3)
    assert purge == ['linux-headers-6.12.38+deb13-common', 'linux-image-6.12.38+deb13-amd64']
    assert reasons['6.12.38+deb13-amd64'] == 'removed earlier, configuration files left'
    assert plan(packages(text), '6.12.57+deb13-amd64', keep=3, purge=False)[1] == []


def test_remove_mode_skips_config_files_of_old_kernels_but_removes_installed_ones():
    text = TRIXIE + dpkg(('linux-image-6.12.38+deb13-amd64', '6.12.38-1', 'rc'))
    purge = plan(packages(text), '6.12.57+deb13-amd64', keep=2, purge=False)[1]
    assert 'linux-image-6.12.41+deb13-amd64' in purge and 'linux-image-6.12.38+deb13-amd64' not in purge


def test_config_files_of_a_kept_kernel_stay():
    text = dpkg(('linux-image-6.12.57+deb13-amd64', '6.12.57-1', 'ii'), ('linux-headers-6.12.57+deb13-amd64', '6.12.57-1', 'rc'))
    assert plan(packages(text), '6.12.57+deb13-amd64', keep=1) == (['6.12.57+deb13-amd64'], [], {'6.12.57+deb13-amd64': 'running kernel'})


def test_headers_follow_their_image():
    text = dpkg(
        ('linux-image-6.12.41+deb13-amd64', '6.12.41-1', 'ii'),
        ('linux-image-6.12.48+deb13-amd64', '6.12.48-1', 'ii'),
        ('linux-headers-6.12.48+deb13-amd64', '6.12.48-1', 'ii'),
        ('linux-headers-6.12.41+deb13-amd64', '6.12.41-1', 'ii'),
        ('linux-image-6.12.41+deb13-amd64-dbg', '6.12.41-1', 'ii'),
        ('linux-modules-6.12.41+deb13-amd64', '6.12.41-1', 'ii'),
        # Headers of a kernel whose image is gone altogether: not this module's business.
        ('linux-headers-6.12.30+deb13-amd64', '6.12.30-1', 'ii'),
        ('linux-headers-6.12.30+deb13-common', '6.12.30-1', 'ii'),
    )
    kept, purge, reasons = plan(packages(text), '6.12.48+deb13-amd64', keep=1)
    assert kept == ['6.12.48+deb13-amd64']
    assert purge == ['linux-headers-6.12.41+deb13-amd64', 'linux-image-6.12.41+deb13-amd64', 'linux-image-6.12.41+deb13-amd64-dbg',
                     'linux-modules-6.12.41+deb13-amd64']


def test_common_headers_stay_while_a_kept_flavour_shares_the_version():
    text = dpkg(*(kernel_rows('6.12.57+deb13-amd64', '6.12.57-1', common='6.12.57+deb13', kbuild='6.12.57+deb13')
                  + kernel_rows('6.12.57+deb13-cloud-amd64', '6.12.57-1')
                  + kernel_rows('6.12.48+deb13-cloud-amd64', '6.12.48-1', common='6.12.48+deb13', kbuild='6.12.48+deb13')))
    kept, purge, reasons = plan(packages(text), '6.12.57+deb13-amd64', keep=1)
    assert kept == ['6.12.57+deb13-cloud-amd64', '6.12.57+deb13-amd64']
    assert purge == ['linux-headers-6.12.48+deb13-cloud-amd64', 'linux-headers-6.12.48+deb13-common', 'linux-image-6.12.48+deb13-cloud-amd64',
                     'linux-kbuild-6.12.48+deb13']


def test_held_and_half_installed_kernels_are_kept():
    text = TRIXIE.replace('linux-image-6.12.41+deb13-amd64\t6.12.41-1\tii ', 'linux-image-6.12.41+deb13-amd64\t6.12.41-1\thi ')
    kept, purge, reasons = plan(packages(text), '6.12.57+deb13-amd64', keep=1)
    assert '6.12.41+deb13-amd64' in kept and reasons['6.12.41+deb13-amd64'] == 'on hold in dpkg'
    assert 'linux-image-6.12.48+deb13-amd64' in purge and 'linux-headers-6.12.41+deb13-common' not in purge
    text = TRIXIE.replace('linux-kbuild-6.12.41+deb13\t6.12.41-1\tii ', 'linux-kbuild-6.12.41+deb13\t6.12.41-1\thi ')
    purge = plan(packages(text), '6.12.48+deb13-amd64')[1]
    assert 'linux-image-6.12.41+deb13-amd64' in purge and 'linux-kbuild-6.12.41+deb13' not in purge
    text = TRIXIE.replace('linux-headers-6.12.41+deb13-amd64\t6.12.41-1\tii ', 'linux-headers-6.12.41+deb13-amd64\t6.12.41-1\tiF ')
    kept, purge, reasons = plan(packages(text), '6.12.57+deb13-amd64', keep=1)
    assert '6.12.41+deb13-amd64' in kept and 'half-installed (dpkg status iF)' in reasons['6.12.41+deb13-amd64']


def test_held_running_kernel_is_installed():
    text = dpkg(('linux-image-6.1.0-27-amd64', '6.1.115-1', 'hi'), ('linux-image-6.1.0-26-amd64', '6.1.112-1', 'ii'))
    assert plan(packages(text), '6.1.0-27-amd64', keep=1)[:2] == (['6.1.0-27-amd64'], ['linux-image-6.1.0-26-amd64'])


def test_describe_before_and_after():
    text = dpkg(('linux-image-6.1.0-27-amd64', '6.1.115-1', 'ii'), ('linux-image-6.1.0-26-amd64', '6.1.112-1', 'ii'),
                ('linux-image-6.1.0-20-amd64', '6.1.85-1', 'rc'))
    found = packages(text)
    assert describe(found) == ('rc  linux-image-6.1.0-20-amd64 6.1.85-1\nii  linux-image-6.1.0-26-amd64 6.1.112-1\n'
                               'ii  linux-image-6.1.0-27-amd64 6.1.115-1\n')
    assert describe(found, ['linux-image-6.1.0-20-amd64', 'linux-image-6.1.0-26-amd64']) == 'ii  linux-image-6.1.0-27-amd64 6.1.115-1\n'
    assert describe(found, ['linux-image-6.1.0-26-amd64'], purge=False) == (
        'rc  linux-image-6.1.0-20-amd64 6.1.85-1\nrc  linux-image-6.1.0-26-amd64 6.1.112-1\nii  linux-image-6.1.0-27-amd64 6.1.115-1\n')


def test_simulated_removals():
    out = ('NOTE: This is only a simulation!\nReading package lists...\nThe following packages will be REMOVED:\n'
           '  linux-image-6.1.0-26-amd64* linux-xanmod-x64v3*\n0 upgraded, 0 newly installed, 2 to remove and 0 not upgraded.\n'
           'Purg linux-image-6.1.0-26-amd64 [6.1.112-1]\nRemv linux-xanmod-x64v3:amd64 [6.17.8-0~20251113.g0a1b2c3]\n')
    assert simulated_removals(out) == ['linux-image-6.1.0-26-amd64', 'linux-xanmod-x64v3']
