# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OpenPGP keys without gpg: dearmor, walk packets, compute v4 fingerprints (RFC 4880 / RFC 9580).

Enough of OpenPGP to check that a downloaded apt signing key is the expected one and to write it as
the binary keyring ``signed-by=`` wants, on hosts where gpg is not installed. Nothing here checks
signatures: the fingerprint pinned in the playbook is the trust anchor.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct

from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.files import FilePlan, apply_file, file_mode

PUBLIC_KEY = 6
SECRET_TAGS = (5, 7)  # secret key, secret subkey: never write those into /etc/apt/keyrings
# Only data packets may use partial body lengths (RFC 4880 4.2.2.4; RFC 9580 adds 20).
PARTIAL_TAGS = (8, 9, 11, 18, 20)
MAX_KEY_BYTES = 1024 * 1024  # a keyring larger than this is not an apt signing key
FINGERPRINT_RE = re.compile(r'^[0-9A-F]{40}$')
BEGIN_RE = re.compile(r'^-----BEGIN PGP ([A-Z0-9 ,/]+)-----\s*$')
END_RE = re.compile(r'^-----END PGP ([A-Z0-9 ,/]+)-----\s*$')
HEADER_RE = re.compile(r'^[\x21-\x39\x3b-\x7e]+: ')
CRC_RE = re.compile(r'^=([A-Za-z0-9+/]{4})$')
CRC24_INIT = 0xB704CE
CRC24_POLY = 0x1864CFB


class FetchError(Exception):
    """The key could not be downloaded (message says why)."""


class KeyringError(RefusedError):
    """The key is refused (bad input, a download that failed, a fingerprint that does not match): nothing was written."""


def normalise_fingerprint(text):
    """``text`` without whitespace, upper case; ValueError unless it is 40 hex digits."""
    value = re.sub(r'\s+', '', text or '').upper()
    if not FINGERPRINT_RE.match(value):
        raise ValueError('fingerprint must be 40 hexadecimal digits (spaces allowed), got %r' % (text,))
    return value


def crc24(data):
    crc = CRC24_INIT
    for byte in bytearray(data):
        crc ^= byte << 16
        for dummy in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= CRC24_POLY
    return crc & 0xFFFFFF


def dearmor(text):
    """The binary data of every ASCII-armored block in ``text``, concatenated.

    Armor headers (``Comment: ...``) are skipped, the CRC24 line is checked when present.
    ValueError when there is no block, a block is not closed, or its base64 or checksum is bad.
    """
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    out, label, body, crc = [], None, [], None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if label is None:
            begin = BEGIN_RE.match(line)
            if begin:
                label, body, crc = begin.group(1), [], None
            continue
        end = END_RE.match(line)
        if end:
            if end.group(1) != label:
                raise ValueError('armor line %d: END PGP %s does not close BEGIN PGP %s' % (number, end.group(1), label))
            out.append(_decode_block(label, body, crc))
            label = None
        elif not line or (not body and HEADER_RE.match(line)):
            continue
        elif crc is not None:
            raise ValueError('armor line %d: data after the checksum line' % number)
        elif CRC_RE.match(line):
            crc = CRC_RE.match(line).group(1)
        else:
            body.append(line)
    if label is not None:
        raise ValueError('armored block PGP %s has no END line (truncated?)' % label)
    if not out:
        raise ValueError('no -----BEGIN PGP ...----- armored block found')
    return b''.join(out)


def _decode_block(label, body, crc):
    try:
        data = base64.b64decode(''.join(body), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError('armored block PGP %s: bad base64 (%s)' % (label, exc))
    if crc is not None:
        expected = struct.unpack('>I', b'\0' + base64.b64decode(crc))[0]
        if crc24(data) != expected:
            raise ValueError('armored block PGP %s: CRC24 checksum mismatch (corrupted or truncated)' % label)
    return data


def _take(data, pos, count, what):
    if pos + count > len(data):
        raise ValueError('truncated packet at offset %d: %s needs %d bytes, %d left' % (pos, what, count, len(data) - pos))
    return data[pos:pos + count], pos + count


def _new_length(data, pos):
    """(length, position after it, partial?) of a new-format length at ``pos``."""
    first = _take(data, pos, 1, 'length')[0][0]
    if first < 192:
        return first, pos + 1, False
    if first < 224:
        second = _take(data, pos + 1, 1, 'length')[0][0]
        return ((first - 192) << 8) + second + 192, pos + 2, False
    if first == 255:
        return struct.unpack('>I', _take(data, pos + 1, 4, 'length')[0])[0], pos + 5, False
    return 1 << (first & 0x1F), pos + 1, True


def packets(data):
    """Iterate over (tag, body) of the OpenPGP packets in ``data`` (bytes); ValueError when malformed."""
    data = bytes(data)
    pos = 0
    while pos < len(data):
        start, header = pos, data[pos]
        if not header & 0x80:
            raise ValueError('not OpenPGP data: byte 0x%02x at offset %d is no packet header' % (header, pos))
        if header & 0x40:
            tag = header & 0x3F
            length, pos, partial = _new_length(data, pos + 1)
            if partial and tag not in PARTIAL_TAGS:
                raise ValueError('packet tag %d at offset %d uses a partial length, only data packets may' % (tag, start))
            chunks = []
            while partial:
                chunk, pos = _take(data, pos, length, 'partial body')
                chunks.append(chunk)
                length, pos, partial = _new_length(data, pos)
            chunk, pos = _take(data, pos, length, 'body')
            body = b''.join(chunks + [chunk])
        else:
            tag, kind = (header >> 2) & 0x0F, header & 0x03
            if kind == 3:  # indeterminate length: up to the end of the data
                body, pos = data[pos + 1:], len(data)
            else:
                size = (1, 2, 4)[kind]
                raw, pos = _take(data, pos + 1, size, 'length')
                body, pos = _take(data, pos, int(binascii.hexlify(raw), 16), 'body')
        if tag == 0:
            raise ValueError('packet at offset %d has the reserved tag 0' % start)
        yield tag, body


def fingerprint(body):
    """Fingerprint of a public key packet body (hex, upper case); ValueError for key versions other than 4."""
    if not body:
        raise ValueError('empty public key packet')
    version = bytearray(body)[0]
    if version != 4:
        raise ValueError('unsupported key version %d (only OpenPGP v4 keys are supported)' % version)
    return hashlib.sha1(b'\x99' + struct.pack('>H', len(body)) + body).hexdigest().upper()


def primary_fingerprints(data):
    """Fingerprints of the primary public keys (tag 6) in binary ``data``, in file order."""
    return [fingerprint(body) for tag, body in packets(data) if tag == PUBLIC_KEY]


def key_bytes(raw):
    """Binary OpenPGP data from ``raw``: armored text (str or bytes) or binary packets; ValueError otherwise."""
    if isinstance(raw, bytes) and raw[:1] and raw[0] & 0x80:
        data = raw
    else:
        data = dearmor(raw)
    tags = [tag for tag, _body in packets(data)]
    if not tags:
        raise ValueError('no OpenPGP packets')
    if any(tag in SECRET_TAGS for tag in tags):
        raise ValueError('it contains secret key material')
    return data


def describe(data, mode=None):
    """Text for ``diff``: one ``fingerprint ...`` line per primary key, the file's SHA-256 and mode."""
    if data is None:
        return '(absent)\n'
    try:
        lines = ['fingerprint %s' % value for value in primary_fingerprints(data)]
    except ValueError as exc:
        lines = ['(not an OpenPGP keyring: %s)' % exc]
    lines.append('sha256 %s' % hashlib.sha256(data).hexdigest())
    if mode is not None:
        lines.append('mode %04o' % mode)
    return '\n'.join(lines) + '\n'


def read_bytes(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def fetch_key(module, url):
    """The bytes at ``url`` via fetch_url (validate_certs and timeout from the module); FetchError on failure."""
    from ansible.module_utils.urls import fetch_url

    response, info = fetch_url(module, url, timeout=module.params['timeout'])
    status = info.get('status')
    if response is None or (status is not None and not 200 <= status < 300):
        raise FetchError(info.get('msg') or 'HTTP status %s' % status)
    try:
        data = response.read(MAX_KEY_BYTES + 1)
    except Exception as exc:  # socket timeouts and resets while reading the body
        raise FetchError('reading the response failed: %s' % exc)
    finally:
        response.close()
    if len(data) > MAX_KEY_BYTES:
        raise FetchError('the response is larger than %d bytes, not a key' % MAX_KEY_BYTES)
    return data


def parse_mode(text):
    if not re.match(r'^0?[0-7]{3,4}$', str(text)):
        raise ValueError('mode must be octal like 0644, got %r' % (text,))
    return int(str(text), 8)


def run(module, fetch=None):
    """The openpgp_keyring module: check the key's fingerprint, then write it as a binary keyring."""
    params = module.params

    def fail(message, **extra):
        raise KeyringError('%s; nothing was written' % message, extra)

    try:
        expected = normalise_fingerprint(params['fingerprint'])
        mode = parse_mode(params['mode'])
    except ValueError as exc:
        fail(str(exc))
    url = params.get('url')
    where = 'at %s' % url if url else 'in content'
    if url:
        try:
            raw = (fetch or fetch_key)(module, url)
        except FetchError as exc:
            fail('could not download the key from %s: %s' % (url, exc))
    else:
        raw = params['content']
    try:
        data = key_bytes(raw)
        found = primary_fingerprints(data)
    except ValueError as exc:
        fail('the key %s is not usable OpenPGP public key data: %s' % (where, exc))
    if expected not in found:
        fail('fingerprint mismatch: the key %s is %s, expected %s' % (where, ' and '.join(found) or 'no public key', expected),
             fingerprints=found, fingerprint=expected)

    dest = params['dest']
    plan = FilePlan(dest, read_bytes(dest), data, mode, file_mode(dest))
    apply_file(module, plan)
    diff = {'before_header': dest if plan.before is not None else '%s (absent)' % dest, 'after_header': dest,
            'before': describe(plan.before, plan.before_mode), 'after': describe(plan.after, mode)}
    return dict(changed=plan.changed, dest=dest, fingerprints=found, fingerprint=expected, diff=diff)
