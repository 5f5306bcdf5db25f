# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What harden.yml leaves in a Debian 12/13 systemd container."""
from __future__ import annotations

import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('all')

DROPIN = '/etc/sysctl.d/99-lowmem-network-tuning.conf'


def dropin_settings(host):
    settings = {}
    for line in host.file(DROPIN).content_string.splitlines():
        if line and not line.startswith('#'):
            key, value = line.split(' = ', 1)
            settings[key] = value
    return settings


def test_dropin_is_owned_by_root_and_world_readable(host):
    dropin = host.file(DROPIN)
    assert dropin.is_file
    assert (dropin.user, dropin.group, dropin.mode) == ('root', 'root', 0o644)
    assert dropin.content_string.startswith('#\n# Ansible managed')


def test_dropin_holds_the_runbook_values(host):
    settings = dropin_settings(host)
    assert settings['vm.swappiness'] == '30'
    assert settings['vm.vfs_cache_pressure'] == '100'
    assert settings['net.core.netdev_max_backlog'] == '2500'
    mem_total_kb = int(host.file('/proc/meminfo').content_string.split()[1])
    min_free = int(settings['vm.min_free_kbytes'])
    assert 16384 <= min_free <= mem_total_kb * 5 // 100


def test_extra_keys_are_merged_where_configured(host):
    settings = dropin_settings(host)
    if host.backend.get_hostname() == 'lowmem-debian13':
        assert settings['net.core.somaxconn'] == '1024'
        assert len(settings) == 5
    else:
        assert len(settings) == 4


def test_systemd_sysctl_accepts_the_file(host):
    # systemd-sysctl parses the drop-in (it cannot write /proc/sys in a container: only parse errors count).
    out = host.run('/lib/systemd/systemd-sysctl --cat-config')
    assert out.rc == 0
    assert 'vm.swappiness = 30' in out.stdout
