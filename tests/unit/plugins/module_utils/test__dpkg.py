# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""dpkg's version order, against a table and (where dpkg is installed) dpkg --compare-versions itself."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.dpkg import VersionError, compare_versions, split_version, version_key


# ------------------------------------------------------------------ Debian version order


@pytest.mark.parametrize('first, second, expected', [
    ('1.0', '1.0', 0),
    ('1.0', '1.0-0', 0),
    ('0:1.0', '1.0', 0),
    ('1.01', '1.1', 0),
    ('1.0~rc1', '1.0', -1),
    ('1.0~rc1~', '1.0~rc1', -1),
    ('1.0~~', '1.0~', -1),
    ('1.0', '1.0+b1', -1),
    ('1.0a', '1.0', 1),
    ('1.0a', '1.0+', -1),
    ('1.0.0', '1.0', 1),
    ('2.30-1', '2.3-1', 1),
    ('1:0.1', '2.0', 1),
    ('1.0-1', '1.0-1~bpo12+1', 1),
    ('1.0-1', '1.0-1+deb12u1', -1),
    ('1.0-10', '1.0-9', 1),
    ('1.0-a', '1.0-1', 1),
    ('6.1.115-1', '6.1.119-1', -1),
    ('6.12.57-1', '6.12.9-1', 1),
    ('6.12.57-1', '6.12.57-1~bpo12+1', 1),
    ('6.17.8-x64v3-xanmod1-0~20251113.g0a1b2c3', '6.17.7-x64v3-xanmod1-0~20251106.g9f3e1d2', 1),
    ('6.17.8-x64v3-xanmod1-0~20251113.g0a1b2c3', '6.12.57-1', 1),
    ('6.1.0-27-amd64', '6.1.0-26-amd64', 1),
    ('6.12.57+deb13-amd64', '6.12.57+deb13-cloud-amd64', -1),
])
def test_compare_versions_table(first, second, expected):
    assert compare_versions(first, second) == expected
    assert compare_versions(second, first) == -expected


@pytest.mark.skipif(not shutil.which('dpkg'), reason='dpkg is not installed')
@pytest.mark.parametrize('left, right', [
    ('1.0~rc1', '1.0'), ('1.0a', '1.0+'), ('1:0.1', '2.0'), ('1.0-1', '1.0-1~bpo12+1'), ('2.30-1', '2.3-1'), ('1.01', '1.1'),
    ('6.17.8-x64v3-xanmod1-0~20251113.g0a1b2c3', '6.12.57-1'), ('1.0-a', '1.0-1'), ('1.0~~', '1.0~'),
])
def test_compare_versions_agrees_with_dpkg(left, right):
    for operator, wanted in (('lt', -1), ('eq', 0), ('gt', 1)):
        agrees = subprocess.call(['dpkg', '--compare-versions', left, operator, right]) == 0
        assert agrees == (compare_versions(left, right) == wanted), (left, operator, right)


@pytest.mark.parametrize('version, parts', [
    ('6.12.57-1', (0, '6.12.57', '1')),
    ('1:2.3', (1, '2.3', '')),
    ('6.17.8-x64v3-xanmod1-0~20251113.g0a1b2c3', (0, '6.17.8-x64v3-xanmod1', '0~20251113.g0a1b2c3')),
])
def test_split_version(version, parts):
    assert split_version(version) == parts


def test_bad_epoch():
    with pytest.raises(VersionError, match='epoch'):
        compare_versions('x:1.0', '1.0')


def test_sorting_with_the_version_order():
    versions = ['6.12.9-1', '6.12.57-1~bpo12+1', '6.12.57-1', '1:6.1-1', '6.12.57~rc3-1']
    assert sorted(versions, key=version_key) == ['6.12.9-1', '6.12.57~rc3-1', '6.12.57-1~bpo12+1', '6.12.57-1', '1:6.1-1']
