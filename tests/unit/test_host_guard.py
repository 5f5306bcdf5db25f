# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""tools/host-guard on a fake root under tmp_path (--root): the host's own paths are only read, never written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
GUARD = os.path.join(ROOT, 'tools', 'host-guard')

SWAPS = 'Filename\tType\tSize\tUsed\tPriority\n/swapfile file 262140 %d -2\n'


def guard(*args):
    return subprocess.run([sys.executable, GUARD] + list(args), capture_output=True, text=True, check=False)


@pytest.fixture
def fake_root(tmp_path):
    root = tmp_path / 'root'
    files = {
        'etc/sysctl.d/99-lowmem-network-tuning.conf': 'vm.swappiness = 30\n',
        'etc/sysctl.conf': '# empty\n',
        'etc/apt/sources.list.d/debian.sources': 'Types: deb\n',
        'etc/apt/keyrings/.keep': '',
        'etc/fstab': '/dev/vda / ext4 defaults 0 1\n',
        'etc/default/grub': 'GRUB_CMDLINE_LINUX=""\n',
        'etc/systemd/system/ssh.service.d/50-oom.conf': '[Service]\nOOMScoreAdjust=-900\n',
        'etc/docker/daemon.json': '{}\n',
        'etc/modules-load.d/zswap.conf': 'zstd\n',
        'etc/tmpfiles.d/zswap.conf': 'w /sys/module/zswap/parameters/compressor - - - - zstd\n',
        'proc/swaps': SWAPS % 0,
        'proc/sys/vm/min_free_kbytes': '32768\n',
        'proc/sys/vm/swappiness': '60\n',
        'proc/sys/vm/vfs_cache_pressure': '100\n',
        'proc/sys/net/core/netdev_max_backlog': '1000\n',
        'sys/module/zswap/parameters/enabled': 'Y\n',
        'sys/module/zswap/parameters/compressor': 'lzo\n',
        'etc/hostname': 'not guarded\n',
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    os.symlink('../sysctl.conf', root / 'etc/sysctl.d/99-sysctl.conf')
    return root


def home_file(root, name):
    """A file under the fake root's copy of $HOME (the guard reads ROOT/$HOME/...)."""
    path = root / os.path.expanduser('~').lstrip('/') / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('namespace: lowmem\n')


def snapshot(root, tmp_path):
    recorded = tmp_path / 'snapshot.json'
    proc = guard('snapshot', str(recorded), '--root', str(root))
    assert proc.returncode == 0, proc.stderr
    return recorded


def test_an_unchanged_machine_passes(fake_root, tmp_path):
    recorded = snapshot(fake_root, tmp_path)
    (fake_root / 'proc/swaps').write_text(SWAPS % 4096)       # the Used column moves: not a change
    (fake_root / 'etc/hostname').write_text('changed\n')     # not guarded
    proc = guard('check', str(recorded), '--root', str(fake_root))
    assert proc.returncode == 0, proc.stderr
    assert 'guarded entries unchanged' in proc.stdout


@pytest.mark.parametrize('change, entry', [
    (lambda r: (r / 'etc/sysctl.d/99-lowmem-network-tuning.conf').write_text('vm.swappiness = 10\n'),
     '/etc/sysctl.d/99-lowmem-network-tuning.conf'),
    (lambda r: (r / 'etc/sysctl.conf').write_text('vm.swappiness = 1\n'), '/etc/sysctl.d/99-sysctl.conf'),
    (lambda r: (r / 'etc/apt/sources.list.d/xanmod.sources').write_text('Types: deb\n'),
     '/etc/apt/sources.list.d/xanmod.sources'),
    (lambda r: (r / 'etc/apt/keyrings/xanmod-archive-keyring.gpg').write_bytes(b'\x99'),
     '/etc/apt/keyrings/xanmod-archive-keyring.gpg'),
    (lambda r: (r / 'etc/apt/trusted.gpg').write_bytes(b'\x99'), '/etc/apt/trusted.gpg'),
    (lambda r: (r / 'etc/fstab').unlink(), '/etc/fstab'),
    (lambda r: (r / 'etc/default/earlyoom').write_text('EARLYOOM_ARGS=""\n'), '/etc/default/earlyoom'),
    (lambda r: (r / 'etc/systemd/system/nginx.service.d').mkdir(), '/etc/systemd/system/nginx.service.d'),
    (lambda r: (r / 'etc/systemd/system/ssh.service.d/50-oom.conf').chmod(0o600),
     '/etc/systemd/system/ssh.service.d/50-oom.conf'),
    (lambda r: (r / 'etc/docker/daemon.json').write_text('{"log-driver": "local"}\n'), '/etc/docker/daemon.json'),
    (lambda r: (r / 'etc/tmpfiles.d/zswap.conf').unlink(), '/etc/tmpfiles.d/zswap.conf'),
    (lambda r: (r / 'swapfile').write_bytes(b''), '/swapfile'),
    (lambda r: (r / 'proc/swaps').write_text(SWAPS.replace('262140', '524284') % 0), '/proc/swaps'),
    (lambda r: (r / 'proc/sys/vm/swappiness').write_text('30\n'), '/proc/sys/vm/swappiness'),
    (lambda r: (r / 'proc/sys/vm/min_free_kbytes').write_text('16384\n'), '/proc/sys/vm/min_free_kbytes'),
    (lambda r: (r / 'sys/module/zswap/parameters/compressor').write_text('zstd\n'),
     '/sys/module/zswap/parameters/compressor'),
    (lambda r: home_file(r, '.ansible/collections/ansible_collections/lowmem/vps/galaxy.yml'),
     '~/.ansible/collections/ansible_collections/lowmem'),
])
def test_each_guarded_change_is_reported_by_name(fake_root, tmp_path, change, entry):
    recorded = snapshot(fake_root, tmp_path)
    change(fake_root)
    proc = guard('check', str(recorded), '--root', str(fake_root))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'THIS MACHINE CHANGED' in proc.stderr and '\n  %s\n' % entry in proc.stderr + '\n', proc.stderr
    assert 'before:' in proc.stderr and 'now:' in proc.stderr


def test_a_missing_snapshot_is_an_error_not_a_pass(fake_root, tmp_path):
    proc = guard('check', str(tmp_path / 'never-written.json'), '--root', str(fake_root))
    assert proc.returncode == 2 and 'cannot read the snapshot' in proc.stderr


def test_the_real_host_can_be_read(tmp_path):
    """Snapshot and check of this machine itself: only reads it (the snapshot file is under tmp_path)."""
    recorded = tmp_path / 'host.json'
    assert guard('snapshot', str(recorded)).returncode == 0
    proc = guard('check', str(recorded))
    assert proc.returncode == 0, proc.stderr
