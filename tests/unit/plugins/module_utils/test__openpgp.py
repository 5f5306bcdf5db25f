# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fingerprints against gpg's own, for keys made with gpg 2.2 in a throwaway GNUPGHOME (fixtures/openpgp):
``gpg --batch --passphrase '' --quick-gen-key UID ed25519|rsa3072 sign never`` plus an encryption subkey
(``--quick-add-key FPR cv25519|rsa3072 encr``), exported with and without ``--armor``; the fingerprints are
those of ``gpg --with-colons --list-keys``."""
from __future__ import annotations

import json
import os
import stat
import struct

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lowmem.vps.plugins.module_utils.openpgp import (
    FetchError, dearmor, key_bytes, normalise_fingerprint, packets, primary_fingerprints, run,
)
from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.modules.openpgp_keyring import ARGUMENT_SPEC

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'openpgp')
ED25519_FPR = '49E290F58076FB6E278F8EE66A58400CBD95C695'
ED25519_SUB_FPR = 'A490535ED334EC7982FB707CB86964DBF863F5E5'
RSA_FPR = 'B0EAC962F01BB43974D339DE92079F2A223D9568'
XANMOD_FPR = 'D38D7D1DA1349567ADED882D86F7D09EE734E623'  # pinned by the role; its key material is not a fixture
URL = 'https://example.invalid/archive.key'


def fixture(name, mode='rb'):
    with open(os.path.join(FIXTURES, name), mode) as handle:
        return handle.read()


@pytest.mark.parametrize('name, expected', [
    ('ed25519.asc', [ED25519_FPR]), ('ed25519.gpg', [ED25519_FPR]),
    ('rsa3072.asc', [RSA_FPR]), ('rsa3072.gpg', [RSA_FPR]),
    ('both.asc', [ED25519_FPR, RSA_FPR]), ('both.gpg', [ED25519_FPR, RSA_FPR]),
])
def test_fingerprints_equal_gpgs(name, expected):
    data = key_bytes(fixture(name))
    assert data == fixture(name.replace('.asc', '.gpg')), 'armored keys dearmor to what gpg exports binary'
    assert primary_fingerprints(data) == expected, 'subkeys (tag 14) are not primary keys'
    assert ED25519_SUB_FPR not in primary_fingerprints(data)


def test_armored_text_and_concatenated_blocks():
    text = fixture('ed25519.asc', 'r')
    assert key_bytes(text) == fixture('ed25519.gpg')
    two_blocks = 'Some page text\n' + text + '\n' + fixture('rsa3072.asc', 'r')
    assert primary_fingerprints(dearmor(two_blocks)) == [ED25519_FPR, RSA_FPR]


def test_armor_headers_and_missing_checksum_are_accepted():
    lines = fixture('ed25519.asc', 'r').splitlines()
    no_crc = [line for line in lines if not line.startswith('=')]
    with_headers = [lines[0], 'Comment: made by a test', 'Version: X 1.0', ''] + no_crc[2:]
    assert dearmor('\n'.join(with_headers)) == fixture('ed25519.gpg')


@pytest.mark.parametrize('name, message', [
    ('ed25519-badcrc.asc', 'CRC24 checksum mismatch'),
    ('rsa3072-truncated.asc', 'has no END line (truncated?)'),
])
def test_corrupted_armor_is_refused(name, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace(')', r'\)').replace('?', r'\?')):
        key_bytes(fixture(name))


@pytest.mark.parametrize('raw, message', [
    (b'', 'no -----BEGIN PGP'),
    ('hello world', 'no -----BEGIN PGP'),
    (b'<html><body>404 Not Found</body></html>', 'no -----BEGIN PGP'),
    ('-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDME*awKO\n-----END PGP PUBLIC KEY BLOCK-----\n', 'bad base64'),
    ('-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP SIGNATURE-----\n', 'does not close'),
    ('-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----\n', 'no OpenPGP packets'),
    (b'\x99\x01\x0d\x04', 'truncated packet'),
    (b'\x98\x03\x04\x00\x00\x7f', 'byte 0x7f at offset 5 is no packet header'),
    (b'\x80\x00', 'reserved tag 0'),
    (b'\xc6\xe1' + b'\x04' * 2, 'tag 6 at offset 0 uses a partial length'),
    (b'\x94\x02\x04\x00', 'secret key material'),
])
def test_garbage_is_refused(raw, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(')):
        primary_fingerprints(key_bytes(raw))


def test_other_key_versions_are_refused():
    v5_body = b'\x05' + b'\x00' * 20
    with pytest.raises(ValueError, match='unsupported key version 5'):
        primary_fingerprints(b'\x98' + bytes([len(v5_body)]) + v5_body)


def new_length(size):
    if size < 192:
        return bytes([size])
    if size < 8384:
        size -= 192
        return bytes([(size >> 8) + 192, size & 0xFF])
    return b'\xff' + struct.pack('>I', size)


def test_every_length_encoding_gives_the_same_packets():
    original = list(packets(fixture('both.gpg')))
    new_format = b''.join(bytes([0xC0 | tag]) + new_length(len(body)) + body for tag, body in original)
    new_five = b''.join(bytes([0xC0 | tag]) + b'\xff' + struct.pack('>I', len(body)) + body for tag, body in original)
    old_four = b''.join(bytes([0x82 | tag << 2]) + struct.pack('>I', len(body)) + body for tag, body in original)
    old_two = b''.join(bytes([0x81 | tag << 2]) + struct.pack('>H', len(body)) + body for tag, body in original)
    last_tag, last_body = original[-1]
    indeterminate = old_two[:-(len(last_body) + 3)] + bytes([0x83 | last_tag << 2]) + last_body
    for data in (new_format, new_five, old_four, old_two, indeterminate):
        assert list(packets(data)) == original
        assert primary_fingerprints(data) == [ED25519_FPR, RSA_FPR]


def test_partial_lengths_in_a_data_packet():
    literal = bytes(range(256)) * 3 + b'tail'  # 772 bytes: 512 + 256 + a final 4
    partial = b'\xcb' + b'\xe9' + literal[:512] + b'\xe8' + literal[512:768] + b'\x04' + literal[768:]
    data = partial + fixture('ed25519.gpg')
    assert list(packets(data))[0] == (11, literal)
    assert primary_fingerprints(data) == [ED25519_FPR]


@pytest.mark.parametrize('text, expected', [
    (XANMOD_FPR, XANMOD_FPR),
    ('d38d 7d1d a134 9567 aded  882d 86f7 d09e e734 e623', XANMOD_FPR),
    ('\tD38D7D1DA1349567ADED882D86F7D09EE734E623\n', XANMOD_FPR),
])
def test_normalise_fingerprint(text, expected):
    assert normalise_fingerprint(text) == expected


@pytest.mark.parametrize('text', ['', None, XANMOD_FPR[:-1], XANMOD_FPR + '0', 'G' * 40, '0x' + XANMOD_FPR[2:],
                                  'E734E623'])
def test_malformed_fingerprint_is_refused(text):
    with pytest.raises(ValueError, match='40 hexadecimal digits'):
        normalise_fingerprint(text)


def call_run(capsys, fetch=None, **args):
    """run() on a real AnsibleModule with the module's argument spec; (exit code, result)."""
    with patch_module_args(args):
        module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
        with pytest.raises(SystemExit) as exited:
            report(module, 'openpgp_keyring', lambda context: run(context, fetch=fetch))
    return exited.value.code, json.loads(capsys.readouterr().out)


class FakeFetch(object):
    def __init__(self, data=None, error=None):
        self.data, self.error, self.urls = data, error, []

    def __call__(self, module, url):
        self.urls.append(url)
        if self.error:
            raise FetchError(self.error)
        return self.data


def test_download_is_written_binary_then_unchanged(tmp_path, capsys):
    dest = tmp_path / 'keyrings' / 'test.gpg'
    fetch = FakeFetch(fixture('both.asc'))
    code, result = call_run(capsys, fetch, url=URL, fingerprint=RSA_FPR.lower(), dest=str(dest))
    assert code == 0 and result['changed'], result
    assert dest.read_bytes() == fixture('both.gpg') and fetch.urls == [URL]
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(str(dest.parent)).st_mode) == 0o755
    assert result['fingerprints'] == [ED25519_FPR, RSA_FPR] and result['fingerprint'] == RSA_FPR
    assert result['diff']['before'] == '(absent)\n'
    assert result['diff']['after'].startswith('fingerprint %s\nfingerprint %s\nsha256 ' % (ED25519_FPR, RSA_FPR))
    assert sorted(os.listdir(str(dest.parent))) == ['test.gpg'], 'no temporary file may be left behind'

    code, again = call_run(capsys, fetch, url=URL, fingerprint=RSA_FPR, dest=str(dest))
    assert code == 0 and not again['changed'] and again['diff']['before'] == again['diff']['after']


def test_mode_is_fixed(tmp_path, capsys):
    dest = tmp_path / 'test.gpg'
    dest.write_bytes(fixture('ed25519.gpg'))
    dest.chmod(0o600)
    code, result = call_run(capsys, content=fixture('ed25519.asc', 'r'), fingerprint=ED25519_FPR, dest=str(dest))
    assert code == 0 and result['changed'] and stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o644
    assert 'mode 0600' in result['diff']['before'] and 'mode 0644' in result['diff']['after']


def test_check_mode_writes_nothing(tmp_path, capsys):
    dest = tmp_path / 'test.gpg'
    dest.write_bytes(fixture('rsa3072.gpg'))
    code, result = call_run(capsys, FakeFetch(fixture('ed25519.gpg')), url=URL, fingerprint=ED25519_FPR,
                            dest=str(dest), _ansible_check_mode=True)
    assert code == 0 and result['changed']
    assert result['diff']['before'].startswith('fingerprint %s\n' % RSA_FPR)
    assert result['diff']['after'].startswith('fingerprint %s\n' % ED25519_FPR)
    assert dest.read_bytes() == fixture('rsa3072.gpg') and os.listdir(str(tmp_path)) == ['test.gpg']


def test_fingerprint_mismatch_writes_nothing(tmp_path, capsys):
    dest = tmp_path / 'test.gpg'
    code, result = call_run(capsys, FakeFetch(fixture('both.gpg')), url=URL, fingerprint=XANMOD_FPR, dest=str(dest))
    assert code == 1 and result['failed']
    assert result['msg'] == ('openpgp_keyring: fingerprint mismatch: the key at %s is %s and %s, expected %s; '
                             'nothing was written' % (URL, ED25519_FPR, RSA_FPR, XANMOD_FPR))
    assert not dest.exists()

    dest.write_bytes(b'old')
    code, result = call_run(capsys, content=fixture('rsa3072.asc', 'r'), fingerprint=ED25519_FPR, dest=str(dest))
    assert code == 1 and 'the key in content is %s, expected %s' % (RSA_FPR, ED25519_FPR) in result['msg']
    assert dest.read_bytes() == b'old'


def test_malformed_fingerprint_fails_before_fetching(tmp_path, capsys):
    fetch = FakeFetch(fixture('ed25519.gpg'))
    code, result = call_run(capsys, fetch, url=URL, fingerprint='E734E623', dest=str(tmp_path / 'k.gpg'))
    assert code == 1 and 'fingerprint must be 40 hexadecimal digits' in result['msg']
    assert fetch.urls == [] and os.listdir(str(tmp_path)) == []


def test_download_failure_is_reported(tmp_path, capsys):
    fetch = FakeFetch(error='HTTP Error 404: Not Found')
    code, result = call_run(capsys, fetch, url=URL, fingerprint=XANMOD_FPR, dest=str(tmp_path / 'k.gpg'))
    assert code == 1
    assert result['msg'] == ('openpgp_keyring: could not download the key from %s: HTTP Error 404: Not Found; '
                             'nothing was written' % URL)
    assert os.listdir(str(tmp_path)) == []


def test_corrupted_download_writes_nothing(tmp_path, capsys):
    code, result = call_run(capsys, FakeFetch(fixture('ed25519-badcrc.asc')), url=URL, fingerprint=ED25519_FPR,
                            dest=str(tmp_path / 'k.gpg'))
    assert code == 1 and 'not usable OpenPGP public key data: armored block' in result['msg']
    assert 'CRC24 checksum mismatch' in result['msg'] and os.listdir(str(tmp_path)) == []


def test_the_real_fetch_reads_urls_and_reports_failures(tmp_path, capsys):
    dest = tmp_path / 'k.gpg'
    url = 'file://' + os.path.join(FIXTURES, 'ed25519.asc')
    code, result = call_run(capsys, url=url, fingerprint=ED25519_FPR, dest=str(dest))
    assert code == 0 and result['changed'] and dest.read_bytes() == fixture('ed25519.gpg')
    code, result = call_run(capsys, url='http://127.0.0.1:9/key.asc', fingerprint=ED25519_FPR, dest=str(dest),
                            timeout=5)
    assert code == 1 and result['msg'].startswith('openpgp_keyring: could not download the key from '
                                                  'http://127.0.0.1:9/key.asc: ')
    assert result['msg'].endswith('; nothing was written'), result['msg']
