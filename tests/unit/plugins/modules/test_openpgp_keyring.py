# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module end to end with an armored key given as content (no network), dest under tmp_path."""
from __future__ import annotations

from ansible_collections.lowmem.vps.plugins.modules.openpgp_keyring import main
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__openpgp import (
    ED25519_FPR, RSA_FPR, fixture,
)


def test_content_is_checked_written_binary_then_unchanged(tmp_path, module_runner):
    dest = tmp_path / 'keyrings' / 'both.gpg'
    args = {'content': fixture('both.asc', 'r'), 'fingerprint': ' '.join(RSA_FPR[i:i + 4] for i in range(0, 40, 4)),
            'dest': str(dest), 'mode': '0640'}
    code, result = module_runner(main, args)
    assert code == 0 and result['changed'], result
    assert dest.read_bytes() == fixture('both.gpg') and oct(dest.stat().st_mode & 0o777) == '0o640'
    assert result['dest'] == str(dest) and result['fingerprint'] == RSA_FPR
    assert result['fingerprints'] == [ED25519_FPR, RSA_FPR]

    code, again = module_runner(main, args)
    assert code == 0 and not again['changed']


def test_url_and_content_are_exclusive_and_one_is_required(tmp_path, module_runner):
    code, result = module_runner(main, {'fingerprint': RSA_FPR, 'dest': str(tmp_path / 'k.gpg')})
    assert code == 1 and 'one of the following is required: url, content' in result['msg']
    code, result = module_runner(main, {'fingerprint': RSA_FPR, 'dest': str(tmp_path / 'k.gpg'),
                                        'url': 'https://example.invalid/k', 'content': 'x'})
    assert code == 1 and 'mutually exclusive' in result['msg']


def test_bad_mode_fails_before_anything(tmp_path, module_runner):
    code, result = module_runner(main, {'content': fixture('ed25519.asc', 'r'), 'fingerprint': ED25519_FPR,
                                        'dest': str(tmp_path / 'k.gpg'), 'mode': 'u=rw'})
    assert code == 1 and result['msg'] == "openpgp_keyring: mode must be octal like 0644, got 'u=rw'; nothing was written"
    assert not (tmp_path / 'k.gpg').exists()
