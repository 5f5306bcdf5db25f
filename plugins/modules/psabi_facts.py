#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: psabi_facts
short_description: The x86-64 psABI level of the CPU and the XanMod kernel package built for it
version_added: 1.0.0
description:
  - Reads the flags of the first processor in C(/proc/cpuinfo) and returns the highest x86-64 psABI level (1 to 4) the
    CPU supports, with the same flag lists as XanMod's C(check_x86-64_psabi.sh) (flags compared as whole words, and
    C(pni) (SSE3) required for x86-64-v2 as in the psABI).
  - Returns the XanMod meta package for that level in the chosen flavour. A x86-64-v4 CPU gets the x64v3 build, because
    XanMod no longer publishes x64v4; a x86-64-v1 CPU gets C(linux-xanmod-lts-x64v1) whatever the flavour, because only
    the LTS flavour is built for v1. RV(note) says when either happened.
  - Inside a virtual machine the flags are those the hypervisor exposes, which can be fewer than the host CPU has
    (a hidden AVX2 makes a v2 guest on a v3 host); the guest's flags are the ones that count for the kernel it runs.
  - Changes nothing; a CPU without the x86-64 baseline flags fails the task.
author:
  - lowmem.vps contributors (@lowmem)
options:
  cpuinfo_path:
    description:
      - The file to read the CPU flags from.
    type: path
    default: /proc/cpuinfo
  flavour:
    description:
      - The XanMod flavour for RV(xanmod_package).
    type: str
    choices: [main, lts, edge, rt]
    default: main
extends_documentation_fragment:
  - lowmem.vps.attributes
  - lowmem.vps.attributes.info_module
seealso:
  - name: XanMod
    description: The kernel builds per x86-64 level and the official level check script.
    link: https://xanmod.org
'''

EXAMPLES = r'''
- name: Which XanMod kernel fits this CPU
  lowmem.vps.psabi_facts:
  register: cpu

- name: Install it
  ansible.builtin.apt:
    name: "{{ cpu.xanmod_package }}"

- name: The LTS flavour
  lowmem.vps.psabi_facts:
    flavour: lts
'''

RETURN = r'''
psabi_level:
  description: The highest x86-64 psABI level the CPU supports (C(x86-64-vN)).
  returned: always
  type: int
  sample: 3
xanmod_package:
  description: The XanMod meta package for RV(psabi_level) in O(flavour).
  returned: always
  type: str
  sample: linux-xanmod-x64v3
note:
  description: Why RV(xanmod_package) is not the O(flavour) build of RV(psabi_level); null when it is.
  returned: always
  type: str
  sample: "the CPU is x86-64-v4 but XanMod no longer publishes x64v4 builds: linux-xanmod-x64v3 is the one for it"
missing_for_next_level:
  description: The flags the CPU lacks for the next level, sorted; empty at level 4.
  returned: always
  type: list
  elements: str
  sample: [avx512bw, avx512cd, avx512dq, avx512f, avx512vl]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.psabi import (
    CPUINFO_PATH, FLAVOURS, LEVELS, PsabiError, cpu_flags, missing_for_level, psabi_level, read_cpuinfo, xanmod_package,
)
from ansible_collections.lowmem.vps.plugins.module_utils.result import report


def facts(module):
    path = module.params['cpuinfo_path']
    try:
        flags = cpu_flags(read_cpuinfo(path))
        level = psabi_level(flags)
        package, note = xanmod_package(level, module.params['flavour'])
    except PsabiError as exc:
        raise PsabiError('%s: %s' % (path, exc))
    missing = missing_for_level(flags, level + 1) if level < LEVELS[-1] else []
    return dict(changed=False, psabi_level=level, xanmod_package=package, note=note, missing_for_next_level=missing)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            cpuinfo_path=dict(type='path', default=CPUINFO_PATH),
            flavour=dict(type='str', default='main', choices=list(FLAVOURS)),
        ),
        supports_check_mode=True,
    )
    report(module, 'psabi_facts', facts, nothing=None)


if __name__ == '__main__':
    main()
