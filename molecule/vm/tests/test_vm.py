# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kernel state of the 512 MB VM after harden.yml and a reboot: what containers cannot show."""
from __future__ import annotations

import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('all')

# The guest sees 454 MiB: the 512 MB RAM class, runbook values.
EXPECTED = {
    'vm.min_free_kbytes': '16384',
    'vm.swappiness': '30',
    'vm.vfs_cache_pressure': '100',
    'net.core.netdev_max_backlog': '2500',
}


def test_the_vm_is_the_small_box(host):
    mem_total_kb = int(host.file('/proc/meminfo').content_string.split()[1])
    assert mem_total_kb < 768 * 1024


def test_live_values_after_reboot_are_the_configured_ones(host):
    # Debian's defaults differ (vm.swappiness 60, netdev_max_backlog 1000, min_free_kbytes a few thousand):
    # after a reboot only the drop-in, applied by systemd-sysctl, gives these values.
    live = host.run('for k in %s; do cat /proc/sys/$(echo $k | tr . /); done' % ' '.join(EXPECTED))
    assert live.rc == 0
    assert live.stdout.split() == list(EXPECTED.values())


def test_systemd_sysctl_applied_it_cleanly_at_boot(host):
    assert host.service('systemd-sysctl').is_running  # oneshot, RemainAfterExit: "active" once applied
    journal = host.run('journalctl -b -u systemd-sysctl --no-pager -o cat')
    assert '99-lowmem-network-tuning' not in journal.stdout, journal.stdout


def test_swapfile_is_active_again_after_reboot_with_the_runbook_size(host):
    swaps = [line.split() for line in host.file('/proc/swaps').content_string.splitlines()[1:]]
    ours = [entry for entry in swaps if entry[0] == '/swapfile']
    assert len(ours) == 1, swaps
    # /proc/swaps counts kB and leaves out the 4 kB header page: a 2 GiB file shows 2097148.
    assert int(ours[0][2]) == 2 * 1024 * 1024 - 4
    assert host.file('/swapfile').mode == 0o600


def test_zswap_uses_zstd_after_reboot(host):
    parameters = '/sys/module/zswap/parameters/'
    assert host.file(parameters + 'enabled').content_string.strip() == 'Y'
    # The kernel alone boots with lzo ("compressor zstd not available") because zswap starts before modules
    # can load; the tmpfiles rule switches it to zstd early in userspace.
    assert host.file(parameters + 'compressor').content_string.strip() == 'zstd'
    assert host.file('/etc/tmpfiles.d/lowmem-zswap.conf').contains('compressor - - - - zstd')
    cmdline = host.file('/proc/cmdline').content_string.split()
    assert 'zswap.enabled=1' in cmdline and 'zswap.compressor=zstd' in cmdline
    assert 'net.ifnames=0' in cmdline  # the tokens that were there stay


def test_entry_services_start_with_the_protective_score_after_reboot(host):
    scores = {}
    for unit in ('ssh', 'nginx', 'supervisor'):
        pid = host.check_output('systemctl show -p MainPID --value %s' % unit)
        scores[unit] = int(host.file('/proc/%s/oom_score_adj' % pid).content_string)
    # sshd's listener lowers itself to -1000; nginx and supervisord start with the drop-in's -700.
    assert scores == {'ssh': -1000, 'nginx': -700, 'supervisor': -700}


def test_sessions_are_not_made_unkillable(host):
    # sshd gives each session the score the unit started it with (-700), never its listener's -1000:
    # the test's own SSH connection is one of these.
    sessions = host.check_output('for p in $(pgrep -x sshd-session); do cat /proc/$p/oom_score_adj; done').split()
    assert sessions and all(-1000 < int(score) <= 0 for score in sessions), sessions


def test_earlyoom_runs_on_the_vm(host):
    assert host.service('earlyoom').is_running
    assert '--prefer ^(hysteria|tuic-server|filebrowser)$' in host.file('/etc/default/earlyoom').content_string


def test_old_kernels_were_purged_and_the_vm_still_boots_its_kernel(host):
    # prepare.yml installed 6.12.40 and 6.12.41 beside the running kernel; keep=2 keeps the running kernel
    # and the newest older one as fallback, so 6.12.40 goes. The reboot before verify proves the box still boots.
    assert host.check_output('uname -r') == host.file('/var/tmp/lowmem-kernel-before').content_string.strip()
    assert host.run('dpkg-query -W linux-image-6.12.40+deb13-amd64').rc != 0
    assert host.run('dpkg-query -W linux-headers-6.12.40+deb13-amd64').rc != 0
    assert host.package('linux-image-6.12.41+deb13-amd64').is_installed
    assert host.package('linux-image-%s' % host.check_output('uname -r')).is_installed


def test_the_oom_kill_before_the_reboot_is_found_in_the_previous_boot(host):
    # side_effect killed a hog named lowmem-hog with the kernel OOM killer, then rebooted. The journal is persistent
    # (log_caps: Storage=persistent), so memory_facts' default read (this boot and the previous one) still finds the
    # kill, marked boot -1: the seed's evidence was only in the previous boot's kernel log.
    facts = host.ansible('lowmem.vps.memory_facts', 'boots=1', check=True, become=True)
    kills = [kill for kill in facts['events']['oom_kills'] if kill['victim_comm'] == 'lowmem-hog']
    assert [kill['boot'] for kill in kills] == [-1], facts['events']
    assert facts['journal']['persistent'] is True
    assert [flag['name'] for flag in facts['flags']] == ['oom_kills'], facts['flags']


def test_the_memory_history_samples_on_after_the_reboot(host):
    # memory_history (a sample every 30 s here) kept its file across the reboot and its timer started again at boot:
    # samples from before the reboot (with leak_probe.yml's warned one) and new ones from this boot.
    assert host.service('lowmem-memory-history.timer').is_running
    boot = int(float(host.check_output("awk '/^btime/ {print $2}' /proc/stat")))
    lines = host.file('/var/lib/lowmem-vps/memory-history').content_string.splitlines()
    samples = [line.split() for line in lines[1:]]
    assert any(int(sample[0]) < boot and sample[6] == '1' for sample in samples), lines[-20:]
    assert any(int(sample[0]) >= boot for sample in samples), (boot, lines[-5:])
