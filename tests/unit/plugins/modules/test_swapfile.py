# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module end to end through main(): swap files under a temporary directory, this machine's /proc files.

swapon and swapoff are always shell scripts first in PATH that log their argv (this machine's swap stays
untouched); fallocate, dd and mkswap run for real on the temporary files unless a test replaces them to
inject a fault. fstab=false throughout: main() reads the real /etc/fstab, whose handling is covered in
test__swap.py on files under tmp_path.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.module_utils.sizes import GIB, MIB
from ansible_collections.lowmem.vps.plugins.module_utils.swap import NO_SWAP_FS, read_mount
from ansible_collections.lowmem.vps.plugins.module_utils.swap_resize import run
from ansible_collections.lowmem.vps.plugins.modules.swapfile import ARGUMENT_SPEC, main

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))


def write_script(directory, log, name, body):
    script = directory / name
    script.write_text('#!/bin/sh\necho "%s $*" >> "%s"\nfor arg; do last="$arg"; done\n%s\n' % (name, log, body))
    script.chmod(0o755)


@pytest.fixture
def swapdir(tmp_path):
    """A directory on a filesystem that can hold a swap file (tmp_path unless /tmp is a tmpfs)."""
    mount = read_mount(str(tmp_path))
    if mount is None or mount.fstype not in NO_SWAP_FS:
        yield tmp_path
        return
    os.makedirs(os.path.join(ROOT, '.build'), exist_ok=True)
    directory = tempfile.mkdtemp(prefix='swapfile-test-', dir=os.path.join(ROOT, '.build'))
    try:
        yield Path(directory)
    finally:
        shutil.rmtree(directory)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """(directory, log): swapon/swapoff stand-ins first in PATH; add more with write_script."""
    directory = tmp_path / 'bin'
    directory.mkdir()
    log = tmp_path / 'commands.log'
    for name in ('swapon', 'swapoff'):
        write_script(directory, log, name, 'exit 0')
    monkeypatch.setenv('PATH', '%s%s%s' % (directory, os.pathsep, os.environ.get('PATH', '')))
    return directory, log


@pytest.fixture(autouse=True)
def fstab_untouched():
    before = open('/etc/fstab').read() if os.path.exists('/etc/fstab') else None
    yield
    assert (open('/etc/fstab').read() if os.path.exists('/etc/fstab') else None) == before


def commands(log):
    return log.read_text().splitlines() if log.exists() else []


def args(path, **extra):
    base = {'path': str(path), 'size': '16M', 'fstab': False}
    base.update(extra)
    return base


def run_with_paths(capsys, paths, params):
    """What main() does, with ``paths`` handed to swap_resize.run: (exit code, result)."""
    with patch_module_args(params):
        module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
        with pytest.raises(SystemExit) as exited:
            report(module, 'swapfile', lambda context: run(context, paths=paths))
    return exited.value.code, json.loads(capsys.readouterr().out)


def test_creates_an_active_swap_file_and_reports_it(swapdir, fake, module_runner):
    path = swapdir / 'swapfile'
    code, result = module_runner(main, args(path, priority=3))
    assert code == 0 and result['changed'] and result['active'] and result['inactive_reason'] == ''
    assert result['size'] == 16 * MIB and result['size_human'] == '16M' and result['size_before'] is None
    assert result['method'] in ('fallocate', 'dd', 'btrfs') and result['resize'] == 'none' and result['priority'] == 3
    assert not result['fstab_changed'] and result['diff'][-1]['after'] == 'size: 16M\nactive: true\npriority: 3\n'
    assert path.stat().st_size == 16 * MIB and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert commands(fake[1])[-1] == 'swapon -p 3 %s' % path


def test_inside_a_container_writes_the_file_reports_inactive_and_reruns_unchanged(swapdir, fake, module_runner):
    write_script(fake[0], fake[1], 'swapon', 'echo "swapon: $last: swapon failed: Operation not permitted" >&2\nexit 255')
    path = swapdir / 'swapfile'
    code, result = module_runner(main, args(path))
    assert code == 0 and result['changed'] and result['active'] is False
    assert 'Operation not permitted' in result['inactive_reason']
    assert path.stat().st_size == 16 * MIB
    code, again = module_runner(main, args(path))
    assert code == 0 and not again['changed'] and again['active'] is False and again['method'] == 'none'


def test_check_mode_creates_nothing(swapdir, fake, module_runner):
    path = swapdir / 'swapfile'
    code, result = module_runner(main, args(path, _ansible_check_mode=True, _ansible_diff=True))
    assert code == 0 and result['changed'] and result['size'] == 16 * MIB
    assert not path.exists() and commands(fake[1]) == []
    assert result['diff'][-1]['before'] == 'absent\n'


# /proc/meminfo heads: a 512 MB KVM VPS (Debian 13, 6.12 kernel: the kernel keeps ~20 MB, so MemTotal < 512 MiB),
# and a 3 GB one. Only MemTotal and MemAvailable matter to size=auto.
MEMINFO_512M = """MemTotal:         479996 kB
MemFree:           61244 kB
MemAvailable:     262480 kB
Buffers:           14660 kB
Cached:           203772 kB
SwapCached:            0 kB
SwapTotal:             0 kB
SwapFree:              0 kB
"""
MEMINFO_3G = MEMINFO_512M.replace('479996', '3002744').replace('262480', '2416112')


@pytest.mark.parametrize('meminfo, free, expected', [
    (MEMINFO_512M, 20 * GIB, 2 * GIB),          # small RAM: 2 GiB, whatever the RAM
    (MEMINFO_512M, 3 * GIB + 100 * MIB, 1536 * MIB),   # ... but at most half the free disk, down to 256 MiB
    (MEMINFO_3G, 20 * GIB, 3072 * MIB),         # more RAM: as much as RAM (2932 MiB), up to 256 MiB
    (MEMINFO_3G.replace('3002744', '16384000'), 40 * GIB, 4 * GIB),   # ... at most 4 GiB
], ids=['512M-roomy-disk', '512M-small-disk', '3G', '16G'])
def test_auto_size_in_check_mode_is_the_rules_exact_size(swapdir, fake, capsys, monkeypatch, tmp_path,
                                                         meminfo, free, expected):
    """Fixed /proc/meminfo and free space in, the exact size out: a wrong step in the rule changes the number."""
    from ansible_collections.lowmem.vps.plugins.module_utils import swap

    fake_meminfo = tmp_path / 'meminfo'
    fake_meminfo.write_text(meminfo)
    seen = []
    monkeypatch.setattr(swap, 'free_bytes', lambda directory: seen.append(directory) or free)
    code, result = run_with_paths(capsys, swap.Paths(meminfo=str(fake_meminfo)),
                                  args(swapdir / 'swapfile', size='auto', _ansible_check_mode=True))
    assert code == 0 and result['changed'], result
    assert result['size'] == expected, '%d MiB, expected %d MiB' % (result['size'] // MIB, expected // MIB)
    assert seen == [str(swapdir)], 'the free space is that of the swap file\'s directory'
    assert not (swapdir / 'swapfile').exists() and commands(fake[1]) == []


@pytest.mark.parametrize('size, message', [
    ('0', "'0' is zero"),
    ('-1G', "'-1G' is negative"),
    ('2X', "'2X' is not a size"),
    ('1000T', 'does not fit on the filesystem'),
    ('100000', 'is not a whole number of MiB'),
])
def test_bad_sizes_fail_clearly_and_change_nothing(swapdir, fake, module_runner, size, message):
    path = swapdir / 'swapfile'
    code, result = module_runner(main, args(path, size=size))
    assert code == 1 and result['failed'] and message in result['msg']
    assert result['msg'].endswith('; nothing was changed')
    assert not path.exists() and commands(fake[1]) == []


@pytest.mark.parametrize('extra, message', [
    ({'path': '/nonexistent-lowmem-dir/swapfile'}, 'directory /nonexistent-lowmem-dir does not exist'),
    ({'path': 'swapfile'}, 'must be an absolute path'),
    ({'priority': 32768}, 'priority=32768 is outside -1..32767'),
    ({'auto_max_disk_percent': 101}, 'auto_max_disk_percent=101 is outside 1..100'),
])
def test_bad_paths_and_options_fail_clearly(swapdir, fake, module_runner, extra, message):
    options = args(swapdir / 'swapfile')
    options.update(extra)
    code, result = module_runner(main, options)
    assert code == 1 and message in result['msg'] and result['msg'].endswith('; nothing was changed')
    assert not (swapdir / 'swapfile').exists() and commands(fake[1]) == []


def test_disk_full_leaves_no_partial_file(swapdir, fake, module_runner):
    for tool in ('fallocate', 'dd'):
        write_script(fake[0], fake[1], tool, 'target="$last"\nfor arg; do case "$arg" in of=*) target="${arg#of=}";; esac; done\n'
                     'head -c 65536 /dev/zero > "$target"\necho "%s: No space left on device" >&2\nexit 1' % tool)
    path = swapdir / 'swapfile'
    code, result = module_runner(main, args(path))
    assert code == 1 and 'no space left on device' in result['msg'] and 'partial file was removed' in result['msg']
    assert not path.exists() and 'swapon' not in ' '.join(commands(fake[1]))


def test_resize_of_an_inactive_file(swapdir, fake, module_runner):
    path = swapdir / 'swapfile'
    module_runner(main, args(path, size='8M'))
    code, result = module_runner(main, args(path))
    assert code == 0 and result['changed'] and result['resize'] == 'in_place'
    assert result['size_before'] == 8 * MIB and path.stat().st_size == 16 * MIB


def test_absent_deletes_the_file_then_is_unchanged(swapdir, fake, module_runner):
    path = swapdir / 'swapfile'
    module_runner(main, args(path))
    code, result = module_runner(main, {'path': str(path), 'state': 'absent', 'fstab': False})
    assert code == 0 and result['changed'] and not path.exists() and result['size_before'] == 16 * MIB
    assert result['method'] == 'none' and result['active'] is False
    code, again = module_runner(main, {'path': str(path), 'state': 'absent', 'fstab': False})
    assert code == 0 and not again['changed']
