# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The RAM-class profile of a host: swap size, reserve, swappiness and earlyoom thresholds."""

from __future__ import annotations

DOCUMENTATION = r'''
name: ram_profile
short_description: The RAM-class profile (512m, 1g, 2g) of a host
version_added: 1.0.0
description:
  - Returns the profile of the host's RAM class - C(swap_size), C(sysctl_min_free_kbytes), C(sysctl_swappiness),
    C(earlyoom_mem_min_percent), C(earlyoom_swap_min_percent) - and the class itself as C(ram_class).
  - The class is O(ram_class) when given (the inventory's C(lowmem_ram_class)), else it follows the facts'
    C(memtotal_mb) - up to 768 MB C(512m), up to 1536 MB C(1g), above C(2g).
  - The roles' C(auto) values (C(swap_size), C(sysctl_min_free_kbytes), C(sysctl_swappiness), C(earlyoom_*_min_percent))
    read it; a value set in the inventory wins over its class's.
author:
  - lowmem.vps contributors (@lowmem)
options:
  _input:
    description: The host's C(ansible_facts), with C(memtotal_mb) (the C(hardware) subset) unless O(ram_class) is given.
    type: dict
    required: true
  ram_class:
    description: The class chosen in the inventory (C(512m), C(1g), C(2g), or a class added in O(profiles)); null or
      C(auto) follows the memory.
    type: str
  profiles:
    description:
      - "Changes to the built-in profiles, merged key by key (C({\"1g\": {\"sysctl_swappiness\": 20}})); new classes must
        give every key."
    type: dict
'''

EXAMPLES = r'''
- name: Show which class and values a host gets
  ansible.builtin.debug:
    msg: "{{ ansible_facts | lowmem.vps.ram_profile(lowmem_ram_class | default(none)) }}"
'''

RETURN = r'''
_value:
  description: The profile, with the chosen class as C(ram_class).
  type: dict
  sample: {"ram_class": "512m", "swap_size": "auto", "sysctl_min_free_kbytes": 16384, "sysctl_swappiness": 30,
           "earlyoom_mem_min_percent": [10, 5], "earlyoom_swap_min_percent": [20, 10]}
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.lowmem.vps.plugins.module_utils.ram_class import RamClassError, profile


def ram_profile(facts, ram_class=None, profiles=None):
    if not isinstance(facts, dict):
        raise AnsibleFilterError('ram_profile expects ansible_facts (a dict), got %s' % type(facts).__name__)
    if ram_class in (None, '', 'auto') and 'memtotal_mb' not in facts:
        raise AnsibleFilterError('ram_profile needs memtotal_mb: gather the hardware facts, or set lowmem_ram_class')
    try:
        return profile(facts.get('memtotal_mb'), ram_class, profiles)
    except RamClassError as exc:
        raise AnsibleFilterError('ram_profile: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'ram_profile': ram_profile}
