# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""xanmod and kernel_cleanup: bad input is refused before the apt sources, keys or packages change.

The signed test repository (tools/build-test-apt-repo) is served on 127.0.0.1 for the wrong-fingerprint case,
so the refusal comes from the real key check, after the repository answered.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
KEYRING = '/etc/apt/keyrings/xanmod-archive-keyring.gpg'


def apt_state():
    listing = sorted(os.listdir('/etc/apt/sources.list.d'))
    with open('/etc/apt/sources.list', 'rb') if os.path.exists('/etc/apt/sources.list') else contextlib.nullcontext() as handle:
        main = handle.read() if handle else None
    return listing, main, os.path.exists(KEYRING)


@pytest.fixture(scope='module')
def served_repo():
    """The test repository on a free 127.0.0.1 port: yields (base URL, fingerprint)."""
    out = subprocess.run([os.path.join(ROOT, 'tools', 'build-test-apt-repo')], check=True, capture_output=True, text=True)
    assert out.returncode == 0
    directory = os.path.join(os.environ.get('LOWMEM_CACHE_DIR', os.path.expanduser('~/.cache/lowmem-vps')), 'apt-repo')
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, '-m', 'http.server', '--bind', '127.0.0.1', str(port), '--directory', directory],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for dummy in range(50):
            with socket.socket() as client:
                if client.connect_ex(('127.0.0.1', port)) == 0:
                    break
            time.sleep(0.1)
        with open(os.path.join(directory, 'fingerprint')) as handle:
            yield 'http://127.0.0.1:%d' % port, handle.read().strip()
    finally:
        server.terminate()
        server.wait()


def xanmod_vars(base, fingerprint, **more):
    variables = {'xanmod_enabled': True, 'xanmod_repo_url': base + '/repo', 'xanmod_key_url': base + '/archive.key',
                 'xanmod_key_fingerprint': fingerprint}
    variables.update(more)
    return variables


def test_wrong_fingerprint_is_refused_before_any_file_is_written(run_role, served_repo):
    base, real = served_repo
    wrong = ('0' * 39 + '1') if real != '0' * 39 + '1' else '1' * 40
    before = apt_state()
    run = run_role('lowmem.vps.xanmod', xanmod_vars(base, wrong))
    assert run.rc != 0, run.output
    assert 'fingerprint mismatch' in run.output and real in run.output
    assert 'nothing was written' in run.output
    assert apt_state() == before


@pytest.mark.parametrize('bad, message', [
    ({'xanmod_key_fingerprint': 'D38D 7D1D A134'}, '40 hex digits'),
    ({'xanmod_key_fingerprint': 'Z' * 40}, '40 hex digits'),
    ({'xanmod_flavour': 'turbo'}, 'turbo'),
    ({'xanmod_repo_url': 'http://127.0.0.1:9/xanmod'}, 'does not serve dists/'),
])
def test_bad_input_leaves_the_sources_unchanged(run_role, served_repo, bad, message):
    base, real = served_repo
    before = apt_state()
    run = run_role('lowmem.vps.xanmod', xanmod_vars(base, real, **bad))
    assert run.rc != 0, run.output
    assert message in run.output
    assert apt_state() == before


def test_keep_zero_is_refused(run_role):
    run = run_role('lowmem.vps.kernel_cleanup', {'kernel_cleanup_enabled': True, 'kernel_cleanup_keep': 0})
    assert run.rc != 0, run.output
    assert 'keep must be at least 1' in run.output and 'nothing was changed' in run.output


def test_too_little_room_in_boot_is_refused_before_the_key(run_role, served_repo):
    """The free space comes from one df of /boot and / (its first line: the filesystem holding /boot)."""
    base, real = served_repo
    before = apt_state()
    df = subprocess.run(['df', '-B1', '--output=target', '/boot' if os.path.exists('/boot') else '/'],
                        capture_output=True, text=True, check=True).stdout.splitlines()[1].strip()
    run = run_role('lowmem.vps.xanmod', xanmod_vars(base, real, xanmod_boot_min_free_mb=10 ** 9))
    assert run.rc != 0, run.output
    assert 'xanmod: %s (holding /boot) has' % df in run.flat and 'run the kernel_cleanup role first' in run.flat, run.output
    assert 'Install the signing key' not in run.output
    assert apt_state() == before
