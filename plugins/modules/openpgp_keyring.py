#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: openpgp_keyring
short_description: Install an apt repository signing key as a binary keyring after checking its fingerprint, without gpg
version_added: 1.0.0
description:
  - Downloads an OpenPGP public key from O(url) (in memory, never to a temporary file) or takes it from O(content),
    checks that it holds a primary key with the expected O(fingerprint), and writes it in binary form to O(dest) for
    apt's C(signed-by=).
  - Needs no gpg on the target (minimal Debian images have none). The key may be ASCII-armored (armor headers are
    skipped, the CRC24 checksum line is checked when present) or binary; it is always written binary (dearmored).
  - Fingerprints are computed from the key packets themselves (OpenPGP v4, SHA-1 over the public key packet).
    Keys of other versions (v3, v5, v6) are refused with a clear message. Signatures are not checked; the pinned
    fingerprint is the trust anchor.
  - Nothing is written unless the fingerprint matches; O(dest) is replaced atomically and only when its bytes or
    mode differ. A missing O(dest) directory (such as C(/etc/apt/keyrings) on Debian 11) is created with mode 0755 when
    its own parent exists.
author:
  - lowmem.vps contributors (@lowmem)
options:
  url:
    description:
      - Where to download the key (http, https). Mutually exclusive with O(content); one of them is required.
      - Downloaded with Ansible's C(fetch_url), so proxies from the environment are honoured. At most 1 MiB is read.
    type: str
  content:
    description:
      - The key itself as an ASCII-armored block (C(-----BEGIN PGP PUBLIC KEY BLOCK-----)), instead of O(url).
    type: str
  fingerprint:
    description:
      - The expected fingerprint of the primary key, 40 hexadecimal digits; spaces are allowed and removed, case does
        not matter (V(D38D 7D1D A134 9567 ADED  882D 86F7 D09E E734 E623)).
      - Other primary keys in the same file are allowed, and written too.
    type: str
    required: true
  dest:
    description:
      - The keyring file to write, the path given to apt's C(signed-by=).
    type: path
    required: true
  mode:
    description:
      - Permission bits of O(dest), as an octal string.
    type: str
    default: '0644'
  validate_certs:
    description:
      - Verify the server's TLS certificate when downloading from O(url).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the download.
    type: int
    default: 30
extends_documentation_fragment:
  - lowmem.vps.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the key fingerprints, the SHA-256 and the mode of the file, not the binary keyring.
  idempotent:
    support: full
notes:
  - The C(diff) shows the fingerprints, SHA-256 and mode of the file before and after, not the binary key.
  - Secret key material is refused.
seealso:
  - name: Debian wiki, third-party repositories
    description: Why a repository key belongs in its own keyring referenced by C(signed-by=).
    link: https://wiki.debian.org/DebianRepository/UseThirdParty
'''

EXAMPLES = r'''
- name: XanMod archive key
  lowmem.vps.openpgp_keyring:
    url: https://dl.xanmod.org/archive.key
    fingerprint: D38D7D1DA1349567ADED882D86F7D09EE734E623
    dest: /etc/apt/keyrings/xanmod-archive-keyring.gpg

- name: A key kept in the inventory
  lowmem.vps.openpgp_keyring:
    content: "{{ vendor_repo_key }}"
    fingerprint: "{{ vendor_repo_fingerprint }}"
    dest: /etc/apt/keyrings/vendor.gpg
'''

RETURN = r'''
dest:
  description: The keyring file.
  returned: always
  type: str
  sample: /etc/apt/keyrings/xanmod-archive-keyring.gpg
fingerprint:
  description: The expected fingerprint, normalised (no spaces, upper case).
  returned: always
  type: str
  sample: D38D7D1DA1349567ADED882D86F7D09EE734E623
fingerprints:
  description: The fingerprints of all primary keys found in the key data, in file order.
  returned: always
  type: list
  elements: str
  sample: ["D38D7D1DA1349567ADED882D86F7D09EE734E623"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.openpgp import run
from ansible_collections.lowmem.vps.plugins.module_utils.result import report

ARGUMENT_SPEC = dict(
    url=dict(type='str'),
    content=dict(type='str'),
    fingerprint=dict(type='str', required=True),
    dest=dict(type='path', required=True),
    mode=dict(type='str', default='0644'),
    validate_certs=dict(type='bool', default=True),
    timeout=dict(type='int', default=30),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, mutually_exclusive=[('url', 'content')],
                           required_one_of=[('url', 'content')], supports_check_mode=True)
    report(module, 'openpgp_keyring', run)


if __name__ == '__main__':
    main()
