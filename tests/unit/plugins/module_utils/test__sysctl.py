# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import os

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.sysctl import (
    SysctlError, check_guard_rails, config_files, find_overrides, key_path, normalize_value, parse_sysctl_text,
    plan_live, read_live, render_dropin, validate_settings, write_live,
)

MEM_512 = 464896  # kB, MemTotal of the 512 MB VM


@pytest.fixture
def proc_sys(tmp_path):
    """A /proc/sys tree with the keys the role manages and their Debian defaults."""
    root = tmp_path / 'proc' / 'sys'
    for key, value in {'vm.min_free_kbytes': '2896', 'vm.swappiness': '60', 'vm.vfs_cache_pressure': '100',
                       'net.core.netdev_max_backlog': '1000',
                       'net.ipv4.ip_local_port_range': '32768\t60999'}.items():
        path = root.joinpath(*key.split('.'))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + '\n')
    return str(root)


@pytest.mark.parametrize('value, expected', [
    (30, '30'), ('30', '30'), (' 30 ', '30'), ('-1', '-1'), ('1024   65000', '1024 65000'), ('007', '7'),
])
def test_normalize_accepts_integers(value, expected):
    assert normalize_value('k.k', value) == expected


@pytest.mark.parametrize('value, message', [
    (True, 'is a boolean'), (1.5, 'is not an integer'), ('thirty', 'is not an integer'), ('', 'is not an integer'),
    ('3O', 'is not an integer'), (None, 'is not an integer'), ([1], 'is not an integer'),
])
def test_normalize_refuses_non_integers(value, message):
    with pytest.raises(SysctlError, match=message):
        normalize_value('vm.swappiness', value)


def test_validate_returns_normalized_settings(proc_sys):
    assert validate_settings({'vm.swappiness': 30, 'net.core.netdev_max_backlog': '2500'}, proc_sys) == ({
        'vm.swappiness': '30', 'net.core.netdev_max_backlog': '2500'}, [])


def test_hidden_net_keys_are_accepted_only_when_allowed(proc_sys):
    # A container's network namespace hides global keys: net/core exists, netdev_budget does not.
    settings = {'net.core.netdev_budget': 600, 'vm.swappiness': 30}
    with pytest.raises(SysctlError, match='unknown sysctl key net.core.netdev_budget'):
        validate_settings(settings, proc_sys)
    assert validate_settings(settings, proc_sys, hidden_net_ok=True) == (
        {'net.core.netdev_budget': '600', 'vm.swappiness': '30'}, ['net.core.netdev_budget'])
    # Only net.*, only under a directory that exists, and values are still checked.
    with pytest.raises(SysctlError, match='unknown sysctl key vm.no_knob'):
        validate_settings({'vm.no_knob': 1}, proc_sys, hidden_net_ok=True)
    with pytest.raises(SysctlError, match='unknown sysctl key net.nosuchdir.knob'):
        validate_settings({'net.nosuchdir.knob': 1}, proc_sys, hidden_net_ok=True)
    with pytest.raises(SysctlError, match='is not an integer'):
        validate_settings({'net.core.netdev_budget': 'many'}, proc_sys, hidden_net_ok=True)


def test_validate_reports_every_problem_at_once(proc_sys):
    with pytest.raises(SysctlError) as err:
        validate_settings({'vm.bogus_knob': 1, 'vm.swappiness': 'thirty', 'Not A Key': 3}, proc_sys)
    text = str(err.value)
    assert 'unknown sysctl key vm.bogus_knob' in text
    assert "vm.swappiness: 'thirty' is not an integer" in text
    assert "'Not A Key' is not a sysctl key" in text


def test_validate_rejects_path_tricks_and_empty_input(proc_sys):
    with pytest.raises(SysctlError, match='is not a sysctl key'):
        validate_settings({'vm..swappiness': 1}, proc_sys)
    with pytest.raises(SysctlError, match='is not a sysctl key'):
        validate_settings({'vm.../../etc': 1}, proc_sys)
    with pytest.raises(SysctlError, match='non-empty mapping'):
        validate_settings({}, proc_sys)


def test_a_directory_is_not_a_key(proc_sys):
    with pytest.raises(SysctlError, match='unknown sysctl key net.core'):
        validate_settings({'net.core': 1}, proc_sys)


def test_guard_rail_min_free_kbytes_5_percent_of_ram():
    check_guard_rails({'vm.min_free_kbytes': '16384'}, MEM_512)
    check_guard_rails({'vm.min_free_kbytes': '23244'}, MEM_512)  # exactly 5 %
    with pytest.raises(SysctlError, match=r'vm.min_free_kbytes=23245 is above 5% of RAM .*at most 23244'):
        check_guard_rails({'vm.min_free_kbytes': '23245'}, MEM_512)
    with pytest.raises(SysctlError, match='above 2.5% of RAM'):
        check_guard_rails({'vm.min_free_kbytes': '16384'}, MEM_512, min_free_kbytes_max_percent=2.5)


def test_guard_rail_min_free_kbytes_floor_and_swappiness_range():
    with pytest.raises(SysctlError, match='below 1024'):
        check_guard_rails({'vm.min_free_kbytes': '512'}, MEM_512)
    check_guard_rails({'vm.swappiness': '0'}, MEM_512)
    check_guard_rails({'vm.swappiness': '200'}, MEM_512)
    with pytest.raises(SysctlError, match='vm.swappiness=201 is outside 0..200'):
        check_guard_rails({'vm.swappiness': '201'}, MEM_512)
    check_guard_rails({'net.core.netdev_max_backlog': '2500'}, MEM_512)


def test_render_sorts_keys_under_the_header():
    text = render_dropin({'vm.swappiness': '30', 'net.core.netdev_max_backlog': '2500'}, '#\n# Ansible managed\n#\n')
    assert text == '#\n# Ansible managed\n#\nnet.core.netdev_max_backlog = 2500\nvm.swappiness = 30\n'
    assert render_dropin({'vm.swappiness': '30'}) == 'vm.swappiness = 30\n'


def test_render_and_parse_round_trip():
    settings = {'vm.swappiness': '30', 'net.ipv4.ip_local_port_range': '1024 65000'}
    assert parse_sysctl_text(render_dropin(settings, '# header')) == settings


def test_parse_follows_systemd_sysctl_syntax():
    text = '# c\n; c\n\nvm/swappiness=10\n-vm.min_free_kbytes = 4096\nnot a line\nvm.swappiness = 20\n'
    assert parse_sysctl_text(text) == {'vm.swappiness': '20', 'vm.min_free_kbytes': '4096'}


@pytest.fixture
def sysctl_dirs(tmp_path):
    etc, usr = tmp_path / 'etc' / 'sysctl.d', tmp_path / 'usr' / 'lib' / 'sysctl.d'
    etc.mkdir(parents=True)
    usr.mkdir(parents=True)
    return str(etc), str(usr)


def test_overrides_by_later_file_names_and_debian_sysctl_conf_link(sysctl_dirs, tmp_path):
    etc, usr = sysctl_dirs
    ours = os.path.join(etc, '99-lowmem-network-tuning.conf')
    open(ours, 'w').write('vm.swappiness = 30\n')
    sysctl_conf = tmp_path / 'sysctl.conf'
    sysctl_conf.write_text('vm.swappiness=60\n')
    os.symlink(str(sysctl_conf), os.path.join(etc, '99-sysctl.conf'))  # Debian 12 ships this link
    open(os.path.join(etc, '10-early.conf'), 'w').write('vm.swappiness = 1\n')  # earlier: we win
    open(os.path.join(usr, 'zz-vendor.conf'), 'w').write('vm.*_cache_pressure = 50\nnet.core.somaxconn = 1\n')
    found = find_overrides(ours, ['vm.swappiness', 'vm.vfs_cache_pressure'], (etc, usr))
    assert found == [
        ('vm.swappiness', os.path.join(etc, '99-sysctl.conf'), '60'),
        ('vm.vfs_cache_pressure', os.path.join(usr, 'zz-vendor.conf'), '50'),
    ]


def test_same_name_in_etc_masks_vendor_file(sysctl_dirs):
    etc, usr = sysctl_dirs
    open(os.path.join(usr, '50-x.conf'), 'w').write('vm.swappiness = 5\n')
    open(os.path.join(etc, '50-x.conf'), 'w').write('vm.swappiness = 6\n')
    assert config_files((etc, usr)) == [os.path.join(etc, '50-x.conf')]


def test_live_read_plan_and_write(proc_sys):
    settings = {'vm.swappiness': '30', 'vm.vfs_cache_pressure': '100', 'net.ipv4.ip_local_port_range': '1024 65000'}
    live = read_live(sorted(settings) + ['vm.absent_key'], proc_sys)
    assert live['net.ipv4.ip_local_port_range'] == '32768 60999'  # tabs folded as the kernel prints them
    assert live['vm.absent_key'] is None
    assert plan_live(settings, live) == ['net.ipv4.ip_local_port_range', 'vm.swappiness']
    write_live('vm.swappiness', '30', proc_sys)
    assert open(key_path('vm.swappiness', proc_sys)).read() == '30\n'
    assert plan_live({'vm.swappiness': '30'}, read_live(['vm.swappiness'], proc_sys)) == []
