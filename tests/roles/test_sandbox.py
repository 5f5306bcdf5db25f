# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The sandbox every role test runs in (tools/sandbox) really is read-only outside tmp_path.

If any of these fail, the role tests are no longer protected: a role whose check broke would change this machine.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import SANDBOX


# Places a broken role could write to. Probed with access(W_OK), which answers EROFS for a read-only mount and
# writes nothing, so these tests cannot change the host even if the sandbox were gone.
OUTSIDE = ['/', '/etc', '/etc/sysctl.d', '/etc/apt', '/etc/apt/sources.list.d', '/etc/apt/keyrings', '/etc/default',
           '/etc/systemd/system', '/etc/docker', '/etc/fstab', '/root', '/tmp', '/var/lib', '/var/lib/docker',
           '/sys/fs/cgroup/memory', '/sys/module', '/proc/sys/vm/swappiness', '/proc/self/oom_score_adj']

PROBE = r'''
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for path in sys.argv[1:]:
    if libc.access(path.encode(), os.W_OK) == 0:
        print('WRITABLE ' + path)
    else:
        print(errno.errorcode.get(ctypes.get_errno(), '?') + ' ' + path)
'''


def probe(sandboxed, paths):
    proc = sandboxed(['python3', '-c', PROBE] + list(paths))
    assert proc.returncode == 0, proc.stderr
    return dict(reversed(line.split(' ', 1)) for line in proc.stdout.splitlines())


def test_host_paths_are_read_only_and_tmp_path_is_writable(sandboxed, tmp_path):
    targets = [path for path in OUTSIDE if os.path.exists(path)]
    outcome = probe(sandboxed, targets + [str(tmp_path)])
    assert {path: outcome[path] for path in targets} == {path: 'EROFS' for path in targets}
    assert outcome[str(tmp_path)] == 'WRITABLE'


def test_a_real_write_outside_tmp_path_fails_and_inside_succeeds(sandboxed, tmp_path):
    # O_EXCL on a fresh name, removed at once if it ever got created: nothing is left even without the sandbox.
    script = (
        'import errno, os, sys\n'
        'for path in sys.argv[1:]:\n'
        '    try:\n'
        '        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)); os.unlink(path); print("WRITTEN")\n'
        '    except OSError as error:\n'
        '        print(errno.errorcode[error.errno])\n')
    outside = '/etc/.lowmem-sandbox-probe-%d' % os.getpid()
    proc = sandboxed(['python3', '-c', script, outside, str(tmp_path / 'probe')])
    assert proc.stdout.split() == ['EROFS', 'WRITTEN'], proc.stdout + proc.stderr
    assert not os.path.exists(outside)


@pytest.mark.parametrize('knob', ['vm/swappiness', 'vm/min_free_kbytes', 'vm/vfs_cache_pressure',
                                  'net/core/netdev_max_backlog'])
def test_proc_sys_is_read_only(sandboxed, knob):
    """Writing the value it already has (so a missing sandbox would change nothing) fails with EROFS."""
    path = '/proc/sys/' + knob
    with open(path) as handle:
        before = handle.read()
    proc = sandboxed(['sh', '-c', 'printf %s "$1" > "$2"; echo "rc=$?"', '-', before.strip(), path])
    assert 'Read-only file system' in proc.stderr and 'rc=0' not in proc.stdout, (proc.stdout, proc.stderr)
    with open(path) as handle:
        assert handle.read() == before


def test_the_command_runs_without_cap_sys_admin(sandboxed):
    """So it can neither remount anything writable again nor swapon, mount or sethostname."""
    proc = sandboxed(['sh', '-c', 'grep ^CapEff: /proc/self/status; mount -o remount,bind,rw /; echo "remount=$?"'])
    effective = int(proc.stdout.split()[1], 16)
    for cap in (21, 12, 16, 25, 27):  # SYS_ADMIN, NET_ADMIN, SYS_MODULE, SYS_TIME, MKNOD
        assert not effective >> cap & 1, (cap, proc.stdout)
    assert 'remount=0' not in proc.stdout, proc.stdout + proc.stderr


MOUNTS = r'''
import json, os
top = {}
with open('/proc/self/mountinfo') as handle:
    for line in handle:
        fields = line.split()
        point = fields[4].encode().decode('unicode_escape')
        top[point] = (fields[5].split(','), fields[fields.index('-') + 1], os.path.exists(point))
print(json.dumps(top))
'''


def test_every_reachable_mount_is_read_only_but_tmp_path(sandboxed, tmp_path):
    """The topmost mount at each path the sandbox can reach is ro, except tmp_path and its private /dev/shm."""
    proc = sandboxed(['python3', '-c', MOUNTS])
    assert proc.returncode == 0, proc.stderr
    top = json.loads(proc.stdout)
    allowed = {str(tmp_path.resolve()): None, '/dev/shm': 'tmpfs'}
    checked = 0
    for point, (options, fstype, exists) in top.items():
        if point in allowed:
            assert 'rw' in options and allowed[point] in (None, fstype), (point, options, fstype)
        elif exists:  # else hidden under a later mount on a parent path (/dev/pts under the sandbox's /dev)
            assert 'ro' in options, '%s is writable in the sandbox: %s' % (point, options)
            checked += 1
    assert checked >= 4 and '/' in top and '/proc' in top


def test_host_sockets_and_processes_are_out_of_reach(sandboxed):
    proc = sandboxed(['sh', '-c', 'ls -A /run; echo "pid1=$(cat /proc/1/comm)"; ls /dev; '
                      'test -e /dev/vda && echo DISK; echo "docker_host=${DOCKER_HOST:-}"'])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith('pid1='), proc.stdout    # /run is empty: no docker.sock, no D-Bus
    assert 'DISK' not in lines and 'docker_host=' in lines


def test_the_sandbox_refuses_to_run_without_its_arguments(tmp_path):
    proc = subprocess.run([SANDBOX, '--writable', str(tmp_path / 'missing'), '--', 'true'],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 125 and 'not a directory' in proc.stderr
