# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The XanMod source, key and package from the signed test repository, and the old kernels cleaned up."""
from __future__ import annotations

import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('all')

KEYRING = '/etc/apt/keyrings/xanmod-archive-keyring.gpg'
OLD_KERNELS = ['linux-image-6.1.0-90-amd64', 'linux-image-6.1.0-91-amd64', 'linux-image-6.12.40+deb13-amd64',
               'linux-image-6.12.41+deb13-amd64', 'linux-headers-6.12.40+deb13-amd64', 'linux-headers-6.12.41+deb13-amd64']
METAS = ['linux-xanmod-x64v3', 'linux-xanmod-x64v2', 'linux-xanmod-lts-x64v1']


def installed(host, package):
    return host.run("dpkg-query -W -f='${db:Status-Abbrev}' %s" % package).stdout.startswith('ii')


def pinned_fingerprint(host):
    """The fingerprint the role was given (molecule.yml: the test repository's key), spaces removed, upper case."""
    return ''.join(str(host.ansible.get_variables()['xanmod_key_fingerprint']).split()).upper()


def check_keyring_against(host, fingerprint):
    """openpgp_keyring in check mode (testinfra's default: nothing is written) with the installed keyring as both
    source and destination: it parses the file's primary keys and compares them with ``fingerprint``.

    testinfra raises AnsibleException for some failures and returns the parsed ``FAILED!`` result for others (the
    ``failed`` key can be lost): both come back as the result dict. Only the success path returns ``dest``."""
    try:
        return host.ansible('lowmem.vps.openpgp_keyring',
                            'url=file://%s dest=%s fingerprint=%s' % (KEYRING, KEYRING, fingerprint), check=True)
    except host.ansible.AnsibleException as exc:
        return exc.result


def test_keyring_is_the_binary_key_with_the_pinned_fingerprint(host):
    keyring = host.file(KEYRING)
    assert keyring.mode == 0o644 and keyring.user == 'root'
    assert not keyring.content.startswith(b'-----BEGIN')   # dearmored, as signed-by wants it
    pinned = pinned_fingerprint(host)
    assert len(pinned) == 40

    # The right fingerprint is accepted, and the file on disk already is exactly that one key: nothing would change.
    accepted = check_keyring_against(host, pinned)
    assert 'msg' not in accepted and accepted.get('dest') == KEYRING, accepted
    assert accepted['fingerprints'] == [pinned] and accepted['changed'] is False, accepted

    # One digit off is refused: the check really compares.
    wrong = pinned[:-1] + ('0' if pinned[-1] != '0' else '1')
    refused = check_keyring_against(host, wrong)
    assert 'dest' not in refused, 'a key with the wrong fingerprint was accepted: %s' % refused
    assert refused['msg'] == ('openpgp_keyring: fingerprint mismatch: the key at file://%s is %s, expected %s; '
                              'nothing was written' % (KEYRING, pinned, wrong)), refused


def test_source_is_deb822_for_the_codename(host):
    codename = host.system_info.codename
    source = host.file('/etc/apt/sources.list.d/xanmod.sources').content_string
    assert 'URIs: http://127.0.0.1:8079/repo' in source
    assert 'Suites: %s' % codename in source
    assert 'Components: main' in source
    assert 'Signed-By: %s' % KEYRING in source
    assert not host.run('grep -rl xanmod /etc/apt/sources.list /etc/apt/sources.list.d/ --include=*.list').stdout


def test_apt_verified_the_repository(host):
    policy = host.check_output('apt-cache policy linux-xanmod-x64v3')
    assert '127.0.0.1:8079/repo' in policy


def test_one_xanmod_build_matching_the_cpu_is_installed(host):
    flags = set()
    for line in host.file('/proc/cpuinfo').content_string.splitlines():
        if line.startswith('flags'):
            flags = set(line.split(':', 1)[1].split())
            break
    v2 = {'cx16', 'lahf_lm', 'popcnt', 'sse4_1', 'sse4_2', 'ssse3'} <= flags
    v3 = v2 and {'avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave'} <= flags
    expected = 'linux-xanmod-x64v3' if v3 else 'linux-xanmod-x64v2' if v2 else 'linux-xanmod-lts-x64v1'
    assert [meta for meta in METAS if installed(host, meta)] == [expected]


def test_old_kernels_were_purged_and_the_running_one_kept(host):
    assert not [package for package in OLD_KERNELS if host.run('dpkg-query -W %s' % package).rc == 0]
    assert installed(host, 'linux-image-%s' % host.check_output('uname -r'))
