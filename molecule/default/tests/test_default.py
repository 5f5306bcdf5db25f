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
    # lowmem_ram_class 512m from the inventory (a container's memory is the host's, which would make it 2g)
    assert settings['vm.min_free_kbytes'] == '16384'


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


def test_swapfile_and_its_single_fstab_line(host):
    swapfile = host.file('/swapfile')
    assert swapfile.is_file
    assert (swapfile.user, swapfile.group, swapfile.mode) == ('root', 'root', 0o600)
    assert swapfile.size == 256 * 1024 * 1024
    assert host.run('head -c 4096 /swapfile | tail -c 10').stdout == 'SWAPSPACE2'
    lines = [line.split() for line in host.file('/etc/fstab').content_string.splitlines()
             if line.strip() and not line.lstrip().startswith('#')]
    assert [line for line in lines if line[0] == '/swapfile'] == [['/swapfile', 'none', 'swap', 'sw', '0', '0']]


def test_grub_gets_zswap_tokens_and_keeps_the_others(host):
    grub = host.file('/etc/default/grub').content_string
    line = [entry for entry in grub.splitlines() if entry.startswith('GRUB_CMDLINE_LINUX_DEFAULT=')]
    assert len(line) == 1
    tokens = line[0].split('=', 1)[1].strip('"').split()
    kept = ['quiet'] if host.backend.get_hostname() == 'lowmem-debian12' else ['net.ifnames=0', 'biosdevname=0', 'console=ttyS0']
    assert tokens[:len(kept)] == kept
    assert sorted(tokens[len(kept):]) == ['zswap.compressor=zstd', 'zswap.enabled=1']
    assert 'GRUB_TIMEOUT=5' in grub


def test_initramfs_is_left_alone_by_default(host):
    # zswap_initramfs is off: listing zstd there was measured not to keep it at boot (the tmpfiles rule does).
    modules = host.file('/etc/initramfs-tools/modules').content_string.splitlines()
    assert 'zstd' not in modules
    assert modules[0].startswith('# List of modules')


def test_tmpfiles_rule_sets_zswap_at_boot(host):
    rule = host.file('/etc/tmpfiles.d/lowmem-zswap.conf')
    assert rule.mode == 0o644
    lines = [line for line in rule.content_string.splitlines() if line and not line.startswith('#')]
    assert lines == ['w /sys/module/zswap/parameters/compressor - - - - zstd',
                     'w /sys/module/zswap/parameters/enabled - - - - Y']


def test_tmpfiles_rule_sets_the_thrashing_guard_at_boot(host):
    # MGLRU's min_ttl_ms (sysctl_lru_gen_min_ttl_ms: 1000 here; off by default); no live write in containers.
    rule = host.file('/etc/tmpfiles.d/lowmem-lru-gen.conf')
    assert rule.mode == 0o644
    lines = [line for line in rule.content_string.splitlines() if line and not line.startswith('#')]
    assert lines == ['w- /sys/kernel/mm/lru_gen/min_ttl_ms - - - - 1000']
