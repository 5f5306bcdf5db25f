# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""tools/lib.sh's shared helpers in isolation: hash_key (every cache key of the harness: it must stay the
`sha256sum | cut` the scripts used, or every cached venv, test image and lab VM image is rebuilt), with_heartbeat
(a command in the background with a heartbeat) and apt_install (against stub apt-get/apt-cache, nothing installed)."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def bash(script, *args, stdin=b'', env=None):
    return subprocess.run(['bash', '-c', 'set -euo pipefail; . "$ROOT/tools/lib.sh"; ' + script, '_'] + list(args),
                          input=stdin, capture_output=True, timeout=60, check=False,
                          env=dict(os.environ, ROOT=ROOT, LOWMEM_T0='0', **(env or {})))


@pytest.mark.parametrize('data', [b'', b'a', b'requirements\nPython 3.13.5\n', bytes(range(256)) * 40])
@pytest.mark.parametrize('length', [None, 16, 64])
def test_hash_key_is_the_sha256sum_cut_the_scripts_used(data, length):
    new = bash('hash_key %s' % (length or ''), stdin=data)
    assert new.returncode == 0, new.stderr
    # the expressions hash_key replaced: `| sha256sum | cut -d' ' -f1`, `| cut -c1-64` and `| cut -c1-16`
    old = bash("sha256sum | cut -d' ' -f1" if length in (None, 64) else 'sha256sum | cut -c1-16', stdin=data)
    assert new.stdout == old.stdout == (hashlib.sha256(data).hexdigest()[:length or 64] + '\n').encode()


def test_with_heartbeat_returns_the_command_status_and_passes_its_output():
    done = bash('with_heartbeat "ok" echo hello; rc=0; with_heartbeat "fails" sh -c "exit 3" || rc=$?; echo "rc=$rc"')
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == 'hello\nrc=3\n'


def test_with_heartbeat_out_overwrites_and_append_appends(tmp_path):
    log = str(tmp_path / 'log')
    done = bash('echo old >"$1"; with_heartbeat --append "$1" msg echo one; with_heartbeat --append "$1" msg sh -c "echo two >&2"; '
                'cat "$1"; with_heartbeat --out "$1" msg echo three; cat "$1"', log)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == 'old\none\ntwo\nthree\n'


def test_with_heartbeat_runs_shell_functions_and_leaves_no_heartbeat_behind():
    done = bash('f() { echo "in f $1"; }; with_heartbeat msg f x; sleep 0.2; pgrep -P $$ -c || true')
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert lines[0] == 'in f x' and lines[-1] == '0'


@pytest.fixture
def stub_apt(tmp_path):
    """apt-get and apt-cache stubs first on PATH: they record their arguments; apt-get install fails FAIL_INSTALLS times."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    calls = tmp_path / 'calls'
    (bin_dir / 'apt-get').write_text('#!/bin/sh\necho "apt-get $* DEBIAN_FRONTEND=$DEBIAN_FRONTEND" >>"%s"\necho output of apt-get\n'
                                     'case "$*" in *install*) n=$(grep -c " install " "%s"); [ "$n" -gt "${FAIL_INSTALLS:-0}" ] || exit 100;; esac\n'
                                     % (calls, calls))
    (bin_dir / 'apt-cache').write_text('#!/bin/sh\necho "apt-cache $*" >>"%s"\nexit ${APT_CACHE_RC:-0}\n' % calls)
    for name in ('apt-get', 'apt-cache'):
        (bin_dir / name).chmod(0o755)
    env = dict(PATH='%s:%s' % (bin_dir, os.environ['PATH']), LOWMEM_CACHE_DIR=str(tmp_path / 'cache'))
    return env, calls, tmp_path / 'cache' / 'apt-thing.log'


needs_root_debian = pytest.mark.skipif(os.geteuid() != 0 or not os.path.isfile('/etc/debian_version'),
                                       reason='apt_install refuses to run but as root on Debian')
APT = '-o DPkg::Lock::Timeout=600 -y -q'


@needs_root_debian
def test_apt_install_installs_without_update_when_apt_knows_the_packages(stub_apt):
    env, calls, log = stub_apt
    done = bash('apt_install thing pkg-a pkg-b', env=env)
    assert done.returncode == 0, done.stderr
    assert calls.read_text().splitlines() == [
        'apt-cache show pkg-a pkg-b',
        'apt-get %s install --no-install-recommends pkg-a pkg-b DEBIAN_FRONTEND=noninteractive' % APT]
    assert log.read_text() == 'output of apt-get\n'
    assert 'installed pkg-a pkg-b' in done.stdout.decode()


@needs_root_debian
def test_apt_install_updates_first_when_apt_does_not_know_them_and_retries_once(stub_apt):
    env, calls, _log = stub_apt
    done = bash('apt_install thing pkg-a', env=dict(env, APT_CACHE_RC='100', FAIL_INSTALLS='1'))
    assert done.returncode == 0, done.stderr
    assert [line.split()[1] if line.startswith('apt-cache') else line.split()[5] for line in calls.read_text().splitlines()] == [
        'show', 'update', 'install', 'update', 'install']


@needs_root_debian
def test_apt_install_dies_with_the_log_when_the_retry_fails_too(stub_apt):
    env, _calls, log = stub_apt
    done = bash('apt_install thing pkg-a', env=dict(env, FAIL_INSTALLS='9'))
    assert done.returncode == 1
    assert 'ERROR: apt-get install pkg-a failed; see %s' % log in done.stderr.decode()


def fake_python(root, version, says=None):
    """A stand-in interpreter under a fake pyenv root: answers the version query with ``says`` (default: X.Y)."""
    minor = '.'.join(version.split('.')[:2])
    path = root / 'versions' / version / 'bin' / ('python' + minor)
    path.parent.mkdir(parents=True)
    path.write_text('#!/bin/sh\necho %s\n' % (says or minor))
    path.chmod(0o755)
    return str(path)


def test_find_python_takes_the_newest_pyenv_version_that_really_is_that_python(tmp_path):
    fake_python(tmp_path, '3.42.2')
    newest = fake_python(tmp_path, '3.42.10')
    fake_python(tmp_path, '3.42.11', says='3.41')  # a broken install: not the Python its directory names
    fake_python(tmp_path, '3.43.0')
    done = bash('find_python 3.42', env=dict(PYENV_ROOT=str(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == newest + '\n'


def test_find_python_fails_silently_when_there_is_none(tmp_path):
    fake_python(tmp_path, '3.43.0')
    done = bash('rc=0; find_python 3.42 || rc=$?; echo "rc=$rc"', env=dict(PYENV_ROOT=str(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == 'rc=1\n'


def test_matrix_venv_exits_3_and_says_so_when_the_python_is_missing(tmp_path):
    req = tmp_path / 'sanity-9.9.txt'
    req.write_text('# python: 3.42\nansible-core==9.9.0\n')
    done = subprocess.run([os.path.join(ROOT, 'tools', 'matrix-venv'), str(req)], capture_output=True, timeout=60, check=False,
                          env=dict(os.environ, PYENV_ROOT=str(tmp_path), LOWMEM_CACHE_DIR=str(tmp_path / 'cache'), LOWMEM_T0='0'))
    assert done.returncode == 3, done.stderr
    assert done.stdout == b''
    assert b'sanity-9.9: no Python 3.42 on this machine' in done.stderr
    assert not (tmp_path / 'cache' / 'venvs').exists()
