# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Swap file logic on real files under tmp_path.

The system files (/proc/swaps, /proc/meminfo, /proc/mounts, /etc/fstab) are written under tmp_path and
passed as swap.Paths, and the tasks run through swap_resize.run(module, paths=...). Commands run for real: fallocate, dd and mkswap on files under tmp_path, and
small shell scripts first in PATH stand in for swapon and swapoff (never the real ones: this machine's
swap stays untouched) and, where a fault is needed, for fallocate, dd, chattr, btrfs and mkswap.
"""
from __future__ import annotations

import os
import shutil
import stat

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lowmem.vps.plugins.module_utils.sizes import GIB, MIB, SizeError
from ansible_collections.lowmem.vps.plugins.module_utils.swap import (
    FileState, Paths, SwapError, SwapFailure, auto_size, check_directory, check_fits, choose_method,
    classify_swapon_error, escape, fallback_method, file_state, find_entry,
    fstab_line, has_swap_signature, memory, mount_of, parse_mounts, parse_swap_size, parse_swaps, plan_steps, read_swaps,
    recreate_reason, render_fstab, reported_method, resize_strategy,
)
from ansible_collections.lowmem.vps.plugins.module_utils.swap_resize import run
from ansible_collections.lowmem.vps.plugins.modules.swapfile import ARGUMENT_SPEC

SBIN_PATH = os.pathsep.join([os.environ.get('PATH', ''), '/usr/sbin', '/sbin'])
FSTAB = ('# /etc/fstab: static file system information.\n'
         'UUID=0a1b / ext4 errors=remount-ro 0 1\n'
         '/dev/vdb1\t/srv\text4\tdefaults,noatime\t0\t2\n')


def real(name):
    found = shutil.which(name, path=SBIN_PATH)
    assert found, '%s is needed for these tests' % name
    return found


class FakeBin(object):
    """Executables first in PATH that log their argv to one file and do what the test says."""

    def __init__(self, directory, log):
        self.directory = directory
        self.log = log

    def add(self, name, body='exit 0'):
        script = self.directory / name
        script.write_text('#!/bin/sh\necho "%s $*" >> "%s"\nfor arg; do last="$arg"; done\n%s\n' % (name, self.log, body))
        script.chmod(0o755)

    def passthrough(self, name):
        self.add(name, 'exec "%s" "$@"' % real(name))

    def fail(self, name, message, code=1):
        self.add(name, 'echo "%s" >&2\nexit %d' % (message, code))

    def fail_once(self, name, message, code=1):
        marker = self.directory / ('%s.failed' % name)
        self.add(name, 'if [ ! -e "%s" ]; then touch "%s"; echo "%s" >&2; exit %d; fi\nexit 0' % (marker, marker, message, code))

    def calls(self):
        if not self.log.exists():
            return []
        return self.log.read_text().splitlines()

    def names(self):
        return [line.split()[0] for line in self.calls()]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    directory = tmp_path / 'bin'
    directory.mkdir()
    bins = FakeBin(directory, tmp_path / 'commands.log')
    for name in ('swapon', 'swapoff'):
        bins.add(name)
    for name in ('fallocate', 'dd', 'mkswap', 'chattr'):
        bins.passthrough(name)
    bins.fail('btrfs', 'btrfs: not installed here', 127)
    monkeypatch.setenv('PATH', '%s%s%s' % (directory, os.pathsep, os.environ.get('PATH', '')))
    return bins


class Host(object):
    """A fake system under tmp_path: /proc files, fstab and a directory for the swap file."""

    def __init__(self, root):
        self.root = root
        self.dir = root / 'disk'
        self.dir.mkdir()
        self.path = str(self.dir / 'swapfile')
        self.new_path = self.path + '.new'
        self.system = Paths(swaps=str(root / 'swaps'), meminfo=str(root / 'meminfo'), mounts=str(root / 'mounts'),
                            fstab=str(root / 'fstab'), container_markers=())
        self.fstab_text = FSTAB
        (root / 'fstab').write_text(FSTAB)
        self.mounts('ext4')
        self.meminfo(total_kb=474000, available_kb=2 * 1024 * 1024)
        self.swaps()

    def mounts(self, fstype, options='rw,relatime'):
        (self.root / 'mounts').write_text('/dev/vda / ext4 rw,relatime 0 0\n/dev/vdc %s %s %s 0 0\n'
                                          % (escape(os.path.realpath(str(self.dir))), fstype, options))

    def meminfo(self, total_kb, available_kb):
        (self.root / 'meminfo').write_text('MemTotal:       %d kB\nMemFree:        1000 kB\nMemAvailable:   %d kB\n'
                                           % (total_kb, available_kb))

    def swaps(self, *entries):
        lines = ['Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority']
        for path, size, used, priority in entries:
            lines.append('%s\tfile\t\t%d\t\t%d\t\t%d' % (escape(path), size // 1024, used // 1024, priority))
        (self.root / 'swaps').write_text('\n'.join(lines) + '\n')

    def fstab(self):
        return (self.root / 'fstab').read_text()

    def swapfile(self, path=None, size=8 * MIB, mode=0o600):
        """A real formatted swap file (fallocate + mkswap), made without the module."""
        path = path or self.path
        with open(path, 'wb') as handle:
            os.posix_fallocate(handle.fileno(), 0, size)
        os.system('"%s" "%s" >/dev/null 2>&1' % (real('mkswap'), path))
        os.chmod(path, mode)
        return path


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def swap_module(check_mode=False, **params):
    """A real AnsibleModule with the swapfile module's arguments."""
    with patch_module_args(dict(params, _ansible_check_mode=check_mode)):
        return AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)


def present(host, check_mode=False, **options):
    options.setdefault('size', '16M')
    return run(swap_module(check_mode, path=host.path, **options), paths=host.system)


def absent(host, check_mode=False, **options):
    return run(swap_module(check_mode, path=host.path, state='absent', **options), paths=host.system)


# ------------------------------------------------------------------ parsing


def test_parse_swaps_turns_kb_into_bytes_and_decodes_escapes():
    text = ('Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n'
            '/dev/vda2                               partition\t1048572\t\t0\t\t-2\n'
            '/my\\040swap\tfile\t\t524284\t\t1024\t\t10\n')
    entries = parse_swaps(text)
    assert [(e.path, e.kind, e.size, e.used, e.priority) for e in entries] == [
        ('/dev/vda2', 'partition', 1048572 * 1024, 0, -2),
        ('/my swap', 'file', 524284 * 1024, 1024 * 1024, 10),
    ]
    assert find_entry(entries, '/my swap').priority == 10
    assert find_entry(entries, '/swapfile') is None


def test_read_swaps_of_a_missing_file_is_empty(tmp_path):
    assert read_swaps(str(tmp_path / 'none')) == []


def test_mount_of_takes_the_longest_prefix_and_the_last_of_equal_mount_points():
    mounts = parse_mounts('/dev/vda / ext4 rw 0 0\n'
                          '/dev/vdb /srv xfs rw 0 0\n'
                          'tmpfs /srv/cache tmpfs rw 0 0\n'
                          '/dev/vdc /srv/cache btrfs ro,subvol=x 0 0\n'
                          '/dev/vdd /my\\040disk ext4 rw 0 0\n')
    assert mount_of('/swapfile', mounts).fstype == 'ext4'
    assert mount_of('/srv/swapfile', mounts).fstype == 'xfs'
    assert mount_of('/srvx/swapfile', mounts).fstype == 'ext4'
    cache = mount_of('/srv/cache/swapfile', mounts)
    assert cache.fstype == 'btrfs' and cache.read_only
    assert mount_of('/my disk/swapfile', mounts).device == '/dev/vdd'


# ------------------------------------------------------------------ fstab


def test_fstab_line_with_and_without_priority():
    assert fstab_line('/swapfile', 10) == '/swapfile none swap sw,pri=10 0 0'
    assert fstab_line('/swapfile') == '/swapfile none swap sw 0 0'
    assert fstab_line('/swapfile', -1) == '/swapfile none swap sw 0 0'
    assert fstab_line('/my swap') == '/my\\040swap none swap sw 0 0'


def test_render_fstab_appends_one_line_and_keeps_the_rest_byte_for_byte():
    after = render_fstab(FSTAB, '/swapfile', fstab_line('/swapfile'))
    assert after == FSTAB + '/swapfile none swap sw 0 0\n'


def test_render_fstab_ends_an_unterminated_last_line_before_appending():
    assert render_fstab('UUID=1 / ext4 defaults 0 1', '/swapfile', '/swapfile none swap sw 0 0') == \
        'UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n'


def test_render_fstab_replaces_in_place_and_drops_duplicates():
    text = ('UUID=1 / ext4 defaults 0 1\n'
            '/swapfile swap swap defaults 0 0\n'
            '# /swapfile none swap sw 0 0 (a comment stays)\n'
            'tmpfs /tmp tmpfs defaults 0 0\n'
            '/swapfile none swap sw 0 0\n')
    after = render_fstab(text, '/swapfile', fstab_line('/swapfile', 5))
    assert after == ('UUID=1 / ext4 defaults 0 1\n'
                     '/swapfile none swap sw,pri=5 0 0\n'
                     '# /swapfile none swap sw 0 0 (a comment stays)\n'
                     'tmpfs /tmp tmpfs defaults 0 0\n')


def test_render_fstab_keeps_an_equal_line_with_other_spacing():
    text = 'UUID=1 / ext4 defaults 0 1\n/swapfile\tnone\tswap\tsw\t0\t0\n'
    assert render_fstab(text, '/swapfile', fstab_line('/swapfile')) == text


def test_render_fstab_removes_every_line_for_the_path_and_nothing_else():
    text = FSTAB + '/swapfile none swap sw 0 0\n/swapfile.old none swap sw 0 0\n/swapfile none swap sw,pri=1 0 0\n'
    assert render_fstab(text, '/swapfile', None) == FSTAB + '/swapfile.old none swap sw 0 0\n'


def test_render_fstab_without_a_file():
    assert render_fstab(None, '/swapfile', None) is None
    assert render_fstab(None, '/swapfile', '/swapfile none swap sw 0 0') == '/swapfile none swap sw 0 0\n'


# ------------------------------------------------------------------ sizes, disk, strategy


@pytest.mark.parametrize('mem_total, free, reclaimable, percent, expected', [
    (461 * MIB, 100 * GIB, 0, 25, 2 * GIB),          # 512 MB VPS: 2 GiB
    (2 * GIB, 100 * GIB, 0, 25, 2 * GIB),            # up to 2 GiB RAM: 2 GiB
    (2867 * MIB, 100 * GIB, 0, 25, 3 * GIB),         # "3 GB" box: RAM rounded up to 256 MiB
    (3891 * MIB, 100 * GIB, 0, 25, 4 * GIB),
    (16 * GIB, 100 * GIB, 0, 25, 4 * GIB),           # capped at 4 GiB
    (461 * MIB, 4 * GIB, 0, 25, 1 * GIB),            # 25 % of the free space
    (461 * MIB, 3 * GIB, 1 * GIB, 25, 1 * GIB),      # the current swap file counts as free
    (461 * MIB, 5 * GIB, 0, 25, 1280 * MIB),         # rounded down to 256 MiB
    (461 * MIB, 5 * GIB + 900 * MIB, 0, 25, 1280 * MIB),
    (461 * MIB, 4 * GIB, 0, 50, 2 * GIB),
])
def test_auto_size_rule(mem_total, free, reclaimable, percent, expected):
    assert auto_size(mem_total, free, reclaimable, percent) == expected


def test_auto_size_below_the_minimum_fails():
    with pytest.raises(SwapError) as raised:
        auto_size(461 * MIB, 1000 * MIB, 0, 25)
    assert 'below the minimum of 256M' in str(raised.value)


@pytest.mark.parametrize('value, message', [
    ('0', "'0' is zero"),
    ('-1G', "'-1G' is negative"),
    ('2X', "'2X' is not a size"),
    ('1000', 'is not a whole number of MiB'),
    ('1.5K', 'is not a whole number of MiB'),
])
def test_parse_swap_size_refuses_bad_sizes(value, message):
    with pytest.raises(SwapError) as raised:
        parse_swap_size(value)
    assert message in str(raised.value) and str(raised.value).startswith('size=%s' % value)
    assert not isinstance(raised.value, SizeError)


def test_parse_swap_size():
    assert parse_swap_size('512M') == 512 * MIB and parse_swap_size('2GiB') == 2 * GIB


def test_check_fits():
    check_fits(1 * GIB, 2 * GIB, 0, '/')
    check_fits(2 * GIB, 1 * GIB, 1 * GIB + 64 * MIB, '/')
    with pytest.raises(SwapError) as raised:
        check_fits(2 * GIB, 1 * GIB, 1 * GIB, '/')
    assert 'size=2G does not fit on the filesystem of /: 1G free plus 1G of the current file, and 64M must stay free' \
        == str(raised.value)
    with pytest.raises(SwapError) as raised:
        check_fits(2 * GIB, 2 * GIB, 4 * GIB, '/', two_files=True)
    assert 'the current file stays until the new one is active' in str(raised.value)


@pytest.mark.parametrize('fstype, mkswapfile, method', [
    ('ext4', False, 'fallocate'), ('xfs', False, 'fallocate'), ('ext3', False, 'dd'), ('overlay', False, 'dd'),
    (None, False, 'dd'), ('btrfs', True, 'btrfs'), ('btrfs', False, 'btrfs_nocow'),
])
def test_choose_method(fstype, mkswapfile, method):
    assert choose_method(fstype, mkswapfile) == method


def test_fallback_and_reported_methods():
    assert fallback_method('ext4') == 'dd' and fallback_method('btrfs') == 'btrfs_nocow'
    assert reported_method('btrfs_nocow') == 'dd' and reported_method('fallocate') == 'fallocate'


def test_resize_strategy_keeps_a_margin():
    assert resize_strategy(100 * MIB, 164 * MIB) == 'in_place'
    assert resize_strategy(100 * MIB, 164 * MIB - 1) == 'two_file'


def test_classify_swapon_error():
    assert classify_swapon_error('swapon: /swapfile: swapon failed: Operation not permitted') == 'eperm'
    assert classify_swapon_error('swapon: /swapfile: swapon failed: Invalid argument') == 'einval'
    assert classify_swapon_error('swapon: /swapfile: skipping - it appears to have holes.') == 'einval'
    assert classify_swapon_error('swapon: /swapfile: swapon failed: Device or resource busy') == 'error'


def test_swap_signature_and_recreate_reasons(host):
    path = host.swapfile(size=8 * MIB)
    state = file_state(path)
    assert state.signature and has_swap_signature(path) and state.size == 8 * MIB
    assert recreate_reason(state, 8 * MIB, active=False, fstype='ext4') is None
    assert recreate_reason(state, 16 * MIB, active=True) == 'size 8M, wanted 16M'
    assert recreate_reason(FileState(path), 8 * MIB, active=False) == 'missing'
    sparse = host.dir / 'sparse'
    with open(sparse, 'wb') as handle:
        handle.truncate(8 * MIB)
    assert 'no swap signature' in recreate_reason(file_state(str(sparse)), 8 * MIB, active=False)
    assert recreate_reason(file_state(str(sparse)), 8 * MIB, active=True) is None
    with open(sparse, 'r+b') as handle:
        handle.seek(os.sysconf('SC_PAGE_SIZE') - 10)
        handle.write(b'SWAPSPACE2')
    assert recreate_reason(file_state(str(sparse)), 8 * MIB, active=False, fstype='ext4') == 'the file has holes'


def test_check_directory(host, tmp_path):
    assert check_directory(host.path, host.system.mounts).fstype == 'ext4'
    with pytest.raises(SwapError) as raised:
        check_directory(str(tmp_path / 'missing' / 'swapfile'), host.system.mounts)
    assert 'directory %s does not exist' % (tmp_path / 'missing') in str(raised.value)
    host.mounts('ext4', 'ro,relatime')
    with pytest.raises(SwapError) as raised:
        check_directory(host.path, host.system.mounts)
    assert 'is not writable (mounted read-only on' in str(raised.value)
    host.mounts('tmpfs')
    with pytest.raises(SwapError) as raised:
        check_directory(host.path, host.system.mounts)
    assert 'cannot hold a swap file' in str(raised.value)


def test_memory_needs_memavailable(tmp_path):
    meminfo = tmp_path / 'meminfo'
    meminfo.write_text('MemTotal: 474000 kB\n')
    with pytest.raises(SwapError) as raised:
        memory(str(meminfo))
    assert 'has no MemAvailable line' in str(raised.value)


# ------------------------------------------------------------------ converge: create, rerun, check mode


def test_creates_formats_activates_and_writes_one_fstab_line(host, fake):
    result = present(host, priority=10)
    assert result['changed'] and result['active'] and result['inactive_reason'] == ''
    assert result['method'] == 'fallocate' and result['resize'] == 'none'
    assert result['size'] == 16 * MIB and result['size_human'] == '16M' and result['size_before'] is None
    assert result['priority'] == 10 and result['fstab_changed']
    assert os.path.getsize(host.path) == 16 * MIB and mode_of(host.path) == 0o600
    assert os.stat(host.path).st_uid == 0 and has_swap_signature(host.path)
    assert host.fstab() == FSTAB + '%s none swap sw,pri=10 0 0\n' % host.path
    assert fake.calls() == ['fallocate -l %d %s' % (16 * MIB, host.path), 'mkswap %s' % host.path,
                            'swapon -p 10 %s' % host.path]
    fstab_diff, size_diff = result['diff']
    assert fstab_diff['before'] == FSTAB and fstab_diff['after'] == host.fstab()
    assert size_diff == {'before_header': '%s (swap file)' % host.path, 'after_header': '%s (swap file)' % host.path,
                         'before': 'absent\n', 'after': 'size: 16M\nactive: true\npriority: 10\n'}


def test_rerun_on_an_active_file_changes_nothing(host, fake):
    present(host, priority=10)
    host.swaps((host.path, 16 * MIB - 4096, 0, 10))
    fstab = host.fstab()
    log_before = fake.calls()
    result = present(host, priority=10)
    assert not result['changed'] and result['active'] and result['method'] == 'none' and result['priority'] == 10
    assert result['size_before'] == 16 * MIB and not result['fstab_changed']
    assert fake.calls() == log_before and host.fstab() == fstab


def test_check_mode_predicts_and_changes_nothing(host, fake):
    result = present(host, check_mode=True)
    assert result['changed'] and result['active'] and result['method'] == 'fallocate' and result['fstab_changed']
    assert not os.path.exists(host.path) and host.fstab() == FSTAB and fake.calls() == []
    assert result['diff'][0]['after'] == FSTAB + '%s none swap sw 0 0\n' % host.path
    assert result['diff'][1]['after'] == 'size: 16M\nactive: true\n'


def test_check_mode_reports_the_steps_a_real_run_then_carries_out(host, fake):
    planned = present(host, check_mode=True, priority=10)
    assert planned['steps'] == ['recreate', 'fstab'] and fake.calls() == []
    done = present(host, priority=10)
    assert done['steps'] == planned['steps'] and done['changed']
    host.swaps((host.path, 16 * MIB - 4096, 0, 10))
    assert present(host, check_mode=True, priority=10)['steps'] == []
    assert present(host, priority=10)['steps'] == []


@pytest.mark.parametrize('flags, steps', [
    ((False, None, None, 'none', False, False, False, False), []),
    ((True, 'rebuild', None, 'two_file', False, False, False, True), ['remove_leftover', 'rebuild', 'fstab']),
    ((False, 'drop_new', 'size', 'two_file', False, True, False, False), ['drop_new', 'two_file']),
    ((False, None, 'size', 'in_place', True, True, True, False), ['recreate']),
    ((False, None, None, 'none', True, True, True, True), ['fix_owner', 'swapon', 'reprioritize', 'fstab']),
])
def test_plan_steps_orders_the_steps(flags, steps):
    assert plan_steps(*flags) == steps


def test_check_mode_in_a_container_predicts_inactive(host, fake, tmp_path):
    marker = tmp_path / 'dockerenv'
    marker.write_text('')
    host.system.container_markers = (str(marker),)
    host.swapfile(size=16 * MIB)
    (tmp_path / 'fstab').write_text(FSTAB + '%s none swap sw 0 0\n' % host.path)
    result = present(host, check_mode=True)
    assert not result['changed'] and not result['active'] and 'container' in result['inactive_reason']
    assert result['steps'] == []


def test_fstab_false_leaves_fstab_alone(host, fake):
    result = present(host, fstab=False)
    assert result['changed'] and not result['fstab_changed'] and host.fstab() == FSTAB
    assert len(result['diff']) == 1


def test_wrong_mode_is_fixed_without_recreating(host, fake):
    host.swapfile(size=16 * MIB, mode=0o644)
    host.swaps((host.path, 16 * MIB - 4096, 0, -2))
    (host.root / 'fstab').write_text(FSTAB + '%s none swap sw 0 0\n' % host.path)
    result = present(host)
    assert result['changed'] and mode_of(host.path) == 0o600 and result['method'] == 'none'
    assert fake.calls() == [] and result['priority'] == -2


def test_auto_size_uses_ram_and_free_disk(host, fake):
    result = present(host, check_mode=True, size='auto')
    free = os.statvfs(str(host.dir))
    expected = auto_size(474000 * 1024, free.f_bavail * free.f_frsize, 0, 25)
    assert result['size'] == expected == 2 * GIB and result['size_human'] == '2G'


# ------------------------------------------------------------------ converge: faults


def test_container_eperm_writes_file_and_fstab_and_reports_inactive(host, fake):
    fake.fail('swapon', 'swapon: $last: swapon failed: Operation not permitted', 255)
    result = present(host)
    assert result['changed'] and not result['active'] and result['fstab_changed']
    assert 'Operation not permitted' in result['inactive_reason'] and 'container' in result['inactive_reason']
    assert os.path.getsize(host.path) == 16 * MIB and host.fstab().endswith('%s none swap sw 0 0\n' % host.path)
    again = present(host)
    assert not again['changed'] and not again['active'] and again['method'] == 'none'


def test_swapon_einval_on_a_fallocated_file_rewrites_it_with_dd(host, fake):
    fake.fail_once('swapon', 'swapon: $last: swapon failed: Invalid argument', 255)
    result = present(host)
    assert result['changed'] and result['active'] and result['method'] == 'dd'
    assert fake.names() == ['fallocate', 'mkswap', 'swapon', 'dd', 'mkswap', 'swapon']
    assert 'count=16' in fake.calls()[3]
    assert os.path.getsize(host.path) == 16 * MIB and has_swap_signature(host.path)
    assert 'recreated it by writing it in full' in ' '.join(result['warnings'])


def test_swapon_einval_after_dd_too_fails_and_leaves_nothing(host, fake):
    fake.fail('swapon', 'swapon: $last: swapon failed: Invalid argument', 255)
    with pytest.raises(SwapFailure) as raised:
        present(host)
    # The file was made, refused and removed again: the message names those steps, not "nothing was changed".
    assert 'Invalid argument' in str(raised.value) and 'nothing was changed' not in str(raised.value)
    assert str(raised.value).endswith('mkswap %s, remove %s' % (host.path, host.path))
    assert raised.value.result['actions'][-1] == 'remove %s' % host.path
    assert not os.path.exists(host.path) and host.fstab() == FSTAB


@pytest.mark.parametrize('fstype, tool, message', [
    ('ext4', 'fallocate', 'fallocate: fallocate failed: No space left on device'),
    ('ext3', 'dd', "dd: error writing '$last': No space left on device"),
])
def test_disk_full_leaves_no_partial_file_and_fstab_untouched(host, fake, fstype, tool, message):
    host.mounts(fstype)
    fake.add(tool, 'target="$last"\nfor arg; do case "$arg" in of=*) target="${arg#of=}";; esac; done\n'
                   'head -c 1048576 /dev/zero > "$target"\necho "%s" >&2\nexit 1' % message)
    with pytest.raises(SwapFailure) as raised:
        present(host)
    assert 'no space left on device' in str(raised.value) and 'partial file was removed' in str(raised.value)
    assert not os.path.exists(host.path) and host.fstab() == FSTAB
    assert os.listdir(str(host.dir)) == []
    assert 'swapon' not in fake.names()


def test_fallocate_unsupported_falls_back_to_dd(host, fake):
    fake.fail('fallocate', 'fallocate: fallocate failed: Operation not supported')
    result = present(host)
    assert result['method'] == 'dd' and fake.names() == ['fallocate', 'dd', 'mkswap', 'swapon']
    assert os.path.getsize(host.path) == 16 * MIB


def test_btrfs_uses_mkswapfile_when_available(host, fake):
    host.mounts('btrfs')
    fake.add('btrfs', 'case "$*" in *--help*) exit 0;; esac\nhead -c %d /dev/zero > "$last"' % (16 * MIB))
    result = present(host)
    assert result['method'] == 'btrfs'
    assert 'btrfs filesystem mkswapfile --size 16m %s' % host.path in fake.calls()


def test_btrfs_without_mkswapfile_makes_a_nocow_file_with_dd(host, fake):
    host.mounts('btrfs')
    fake.fail('btrfs', "btrfs filesystem: unknown token 'mkswapfile'")
    fake.add('chattr')
    result = present(host)
    assert result['method'] == 'dd'
    assert fake.names() == ['btrfs', 'chattr', 'dd', 'mkswap', 'swapon']
    assert fake.calls()[1] == 'chattr +C %s' % host.path


@pytest.mark.parametrize('options, message', [
    ({'size': '0'}, "'0' is zero"),
    ({'size': '-1G'}, "'-1G' is negative"),
    ({'size': '2X'}, "'2X' is not a size"),
    ({'size': '1000T'}, 'does not fit on the filesystem'),
    ({'priority': 40000}, 'priority=40000 is outside -1..32767'),
    ({'auto_max_disk_percent': 0}, 'auto_max_disk_percent=0 is outside 1..100'),
])
def test_bad_input_changes_nothing(host, fake, options, message):
    with pytest.raises(SwapError) as raised:
        present(host, **options)
    assert message in str(raised.value)
    assert not os.path.exists(host.path) and host.fstab() == FSTAB and fake.calls() == []


def test_read_only_or_missing_directory_changes_nothing(host, fake, tmp_path):
    host.mounts('ext4', 'ro')
    with pytest.raises(SwapError) as raised:
        present(host)
    assert 'not writable (mounted read-only' in str(raised.value)
    with pytest.raises(SwapError) as raised:
        run(swap_module(path=str(tmp_path / 'nope' / 'swapfile'), size='16M'), paths=host.system)
    assert 'does not exist' in str(raised.value)
    assert host.fstab() == FSTAB and fake.calls() == []


def test_symlink_and_directory_paths_are_refused(host, fake):
    os.symlink('/etc/hostname', host.path)
    with pytest.raises(SwapError) as raised:
        present(host)
    assert 'is a symlink' in str(raised.value)
    os.unlink(host.path)
    os.mkdir(host.path)
    with pytest.raises(SwapError) as raised:
        present(host)
    assert 'is not a regular file' in str(raised.value)


# ------------------------------------------------------------------ converge: resize


def test_resize_in_place_when_used_swap_fits_in_memavailable(host, fake):
    host.swapfile(size=8 * MIB)
    host.swaps((host.path, 8 * MIB - 4096, 2 * MIB, -2))
    (host.root / 'fstab').write_text(FSTAB + '%s none swap sw 0 0\n' % host.path)
    result = present(host)
    assert result['changed'] and result['resize'] == 'in_place' and result['active']
    assert result['size_before'] == 8 * MIB and result['size'] == 16 * MIB and not result['fstab_changed']
    assert fake.names() == ['swapoff', 'fallocate', 'mkswap', 'swapon']
    assert os.path.getsize(host.path) == 16 * MIB
    assert result['diff'][1]['before'] == 'size: 8M\nactive: true\npriority: -2\n'


def test_resize_two_file_when_used_swap_exceeds_memavailable(host, fake):
    host.swapfile(size=8 * MIB)
    host.meminfo(total_kb=474000, available_kb=60 * 1024)
    host.swaps((host.path, 8 * MIB - 4096, 6 * MIB, -2))
    (host.root / 'fstab').write_text(FSTAB + '%s none swap sw 0 0\n' % host.path)
    result = present(host)
    assert result['changed'] and result['resize'] == 'two_file' and result['active'] and not result['fstab_changed']
    # The kernel refuses to rename or unlink an active swap file: <path>.new holds the swap while <path> is remade.
    assert fake.calls() == ['fallocate -l %d %s' % (16 * MIB, host.new_path), 'mkswap %s' % host.new_path,
                            'swapon %s' % host.new_path, 'swapoff %s' % host.path,
                            'fallocate -l %d %s' % (16 * MIB, host.path), 'mkswap %s' % host.path,
                            'swapon %s' % host.path, 'swapoff %s' % host.new_path]
    assert os.path.getsize(host.path) == 16 * MIB and not os.path.exists(host.new_path)
    assert host.fstab() == FSTAB + '%s none swap sw 0 0\n' % host.path


def test_two_file_failure_after_the_old_file_is_off_keeps_the_new_one_active_and_a_rerun_finishes(host, fake):
    host.swapfile(size=8 * MIB)
    host.meminfo(total_kb=474000, available_kb=60 * 1024)
    host.swaps((host.path, 8 * MIB - 4096, 6 * MIB, -2))
    (host.root / 'fstab').write_text(FSTAB + '%s none swap sw 0 0\n' % host.path)
    fake.add('fallocate', 'case "$last" in *.new) exec "%s" "$@";; esac\n'
                          'echo "fallocate: fallocate failed: No space left on device" >&2\nexit 1' % real('fallocate'))
    with pytest.raises(SwapFailure) as raised:
        present(host)
    assert '%s is active and holds the swap' % host.new_path in str(raised.value) and 'rerun' in str(raised.value)
    assert os.path.getsize(host.new_path) == 16 * MIB and not os.path.exists(host.path)
    assert fake.calls()[-1] == 'fallocate -l %d %s' % (16 * MIB, host.path)
    assert host.fstab() == FSTAB + '%s none swap sw 0 0\n' % host.path

    fake.passthrough('fallocate')
    host.swaps((host.new_path, 16 * MIB - 4096, 6 * MIB, -3))
    log_length = len(fake.calls())
    result = present(host)
    assert result['changed'] and result['resize'] == 'two_file' and result['active']
    assert fake.calls()[log_length:] == ['fallocate -l %d %s' % (16 * MIB, host.path), 'mkswap %s' % host.path,
                                         'swapon %s' % host.path, 'swapoff %s' % host.new_path]
    assert os.path.getsize(host.path) == 16 * MIB and not os.path.exists(host.new_path)
    assert host.fstab() == FSTAB + '%s none swap sw 0 0\n' % host.path


def test_two_file_needs_room_for_two_files_of_the_new_size(host, fake):
    host.swapfile(size=8 * MIB)
    host.meminfo(total_kb=474000, available_kb=60 * 1024)
    host.swaps((host.path, 8 * MIB - 4096, 6 * MIB, -2))
    free = os.statvfs(str(host.dir))
    half = (free.f_bavail * free.f_frsize) // 2 // MIB * MIB
    with pytest.raises(SwapError) as raised:
        present(host, size='%dM' % (half // MIB))
    assert 'needs two files of' in str(raised.value) and fake.calls() == []


def test_two_file_failure_before_swapoff_keeps_the_old_file_active(host, fake):
    host.swapfile(size=8 * MIB)
    host.meminfo(total_kb=474000, available_kb=60 * 1024)
    host.swaps((host.path, 8 * MIB - 4096, 6 * MIB, -2))
    fake.fail('swapon', 'swapon: $last: swapon failed: Device or resource busy', 255)
    with pytest.raises(SwapFailure) as raised:
        present(host)
    assert '%s stays active, done so far: create %s' % (host.path, host.new_path) in str(raised.value)
    assert str(raised.value).endswith('remove %s' % host.new_path) and 'nothing was changed' not in str(raised.value)
    assert 'swapoff' not in fake.names()
    assert os.path.getsize(host.path) == 8 * MIB and not os.path.exists(host.new_path) and host.fstab() == FSTAB


def test_two_file_swapoff_of_the_old_file_failing_removes_the_new_one(host, fake):
    host.swapfile(size=8 * MIB)
    host.meminfo(total_kb=474000, available_kb=60 * 1024)
    host.swaps((host.path, 8 * MIB - 4096, 6 * MIB, -2))
    fake.add('swapoff', 'case "$last" in *.new) exit 0;; esac\necho "swapoff: $last: swapoff failed: Cannot allocate memory" >&2\nexit 255')
    with pytest.raises(SwapFailure) as raised:
        present(host)
    assert 'stays active, the new file was swapped off and removed again' in str(raised.value)
    assert fake.names()[-2:] == ['swapoff', 'swapoff'] and fake.calls()[-1] == 'swapoff %s' % host.new_path
    assert os.path.getsize(host.path) == 8 * MIB and not os.path.exists(host.new_path)


def test_two_file_shrink_that_cannot_hold_the_used_swap_is_refused(host, fake):
    host.swapfile(size=64 * MIB)
    host.meminfo(total_kb=474000, available_kb=40 * 1024)
    host.swaps((host.path, 64 * MIB - 4096, 60 * MIB, -2))
    with pytest.raises(SwapError) as raised:
        present(host, size='8M')
    assert 'cannot resize' in str(raised.value) and fake.calls() == []


def test_in_place_failure_restores_the_old_size(host, fake):
    host.swapfile(size=8 * MIB)
    host.swaps((host.path, 8 * MIB - 4096, 1 * MIB, -2))
    fake.fail('fallocate', 'fallocate: fallocate failed: No space left on device')
    with pytest.raises(SwapFailure) as raised:
        present(host)
    assert 'the old size (8M) was recreated and is active again' in str(raised.value)
    assert fake.names() == ['swapoff', 'fallocate', 'dd', 'mkswap', 'swapon']
    assert os.path.getsize(host.path) == 8 * MIB and host.fstab() == FSTAB


def test_priority_change_on_an_active_file(host, fake):
    host.swapfile(size=16 * MIB)
    host.swaps((host.path, 16 * MIB - 4096, 0, -2))
    result = present(host, priority=5)
    assert result['changed'] and fake.calls() == ['swapoff %s' % host.path, 'swapon -p 5 %s' % host.path]
    assert host.fstab().endswith('%s none swap sw,pri=5 0 0\n' % host.path)


def test_priority_change_that_would_need_too_much_memory_waits_for_the_boot(host, fake):
    host.swapfile(size=16 * MIB)
    host.meminfo(total_kb=474000, available_kb=10 * 1024)
    host.swaps((host.path, 16 * MIB - 4096, 12 * MIB, -2))
    result = present(host, priority=5)
    assert result['changed'] and result['fstab_changed'] and fake.calls() == []
    assert 'applies at the next boot' in ' '.join(result['warnings'])


# ------------------------------------------------------------------ converge: interrupted runs


def test_interrupted_run_leftover_and_duplicate_lines_converge_to_one_line(host, fake):
    fake.fail('swapon', 'swapon: $last: swapon failed: Operation not permitted', 255)
    host.swapfile(size=8 * MIB)
    with open(host.new_path, 'wb') as handle:
        handle.write(b'\0' * MIB)
    line = '%s none swap sw 0 0\n' % host.path
    (host.root / 'fstab').write_text(line + FSTAB + line + line)
    result = present(host)
    assert result['changed'] and not os.path.exists(host.new_path) and result['resize'] == 'in_place'
    assert host.fstab() == line + FSTAB and host.fstab().count(host.path) == 1
    assert os.path.getsize(host.path) == 16 * MIB
    again = present(host)
    assert not again['changed'] and host.fstab().count(host.path) == 1


def test_interrupted_two_file_resize_with_the_new_file_active_is_finished(host, fake):
    host.swapfile(size=8 * MIB)
    host.swapfile(path=host.new_path, size=16 * MIB)
    host.meminfo(total_kb=474000, available_kb=60 * 1024)
    host.swaps((host.path, 8 * MIB - 4096, 6 * MIB, -2), (host.new_path, 16 * MIB - 4096, 0, -3))
    (host.root / 'fstab').write_text(FSTAB + '%s none swap sw 0 0\n' % host.path)
    result = present(host)
    assert result['changed'] and result['resize'] == 'two_file' and result['active']
    assert fake.calls() == ['swapoff %s' % host.path, 'fallocate -l %d %s' % (16 * MIB, host.path), 'mkswap %s' % host.path,
                            'swapon %s' % host.path, 'swapoff %s' % host.new_path]
    assert os.path.getsize(host.path) == 16 * MIB and not os.path.exists(host.new_path)


def test_interrupted_two_file_resize_at_its_last_step_only_retires_the_new_file(host, fake):
    host.swapfile(size=16 * MIB)
    host.swapfile(path=host.new_path, size=16 * MIB)
    host.swaps((host.path, 16 * MIB - 4096, 0, -2), (host.new_path, 16 * MIB - 4096, 1 * MIB, -3))
    (host.root / 'fstab').write_text(FSTAB + '%s none swap sw 0 0\n' % host.path)
    result = present(host)
    assert result['changed'] and result['resize'] == 'none' and result['method'] == 'none'
    assert fake.calls() == ['swapoff %s' % host.new_path] and not os.path.exists(host.new_path)
    assert os.path.getsize(host.path) == 16 * MIB


def test_partly_written_file_without_signature_is_recreated(host, fake):
    with open(host.path, 'wb') as handle:
        handle.write(b'\0' * (16 * MIB))
    os.chmod(host.path, 0o600)
    result = present(host)
    assert result['changed'] and result['method'] == 'fallocate' and has_swap_signature(host.path)


# ------------------------------------------------------------------ absent


def test_absent_swaps_off_removes_the_line_and_the_file(host, fake):
    host.swapfile(size=16 * MIB)
    host.swaps((host.path, 16 * MIB - 4096, 1 * MIB, -2))
    (host.root / 'fstab').write_text(FSTAB + '%s none swap sw 0 0\n' % host.path + '%s none swap sw 0 0\n' % host.path)
    result = absent(host)
    assert result['changed'] and result['fstab_changed'] and not result['active'] and result['size_before'] == 16 * MIB
    assert fake.calls() == ['swapoff %s' % host.path]
    assert not os.path.exists(host.path) and host.fstab() == FSTAB
    host.swaps()
    again = absent(host)
    assert not again['changed']


def test_absent_in_check_mode_changes_nothing(host, fake):
    host.swapfile(size=16 * MIB)
    (host.root / 'fstab').write_text(FSTAB + '%s none swap sw 0 0\n' % host.path)
    result = absent(host, check_mode=True)
    assert result['changed'] and result['fstab_changed'] and result['diff'][0]['after'] == FSTAB
    assert os.path.exists(host.path) and host.fstab() != FSTAB


def test_absent_refuses_when_used_swap_does_not_fit_in_memavailable(host, fake):
    host.swapfile(size=16 * MIB)
    host.meminfo(total_kb=474000, available_kb=40 * 1024)
    host.swaps((host.path, 16 * MIB - 4096, 12 * MIB, -2))
    (host.root / 'fstab').write_text(FSTAB + '%s none swap sw 0 0\n' % host.path)
    with pytest.raises(SwapError) as raised:
        absent(host)
    assert 'OOM killer' in str(raised.value)
    assert fake.calls() == [] and os.path.exists(host.path) and host.path in host.fstab()


def test_absent_also_removes_a_leftover_new_file(host, fake):
    host.swapfile(path=host.new_path, size=8 * MIB)
    result = absent(host, fstab=False)
    assert result['changed'] and not os.path.exists(host.new_path) and host.fstab() == FSTAB
