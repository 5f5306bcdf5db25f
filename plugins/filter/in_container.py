# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether gathered facts describe a container guest (read-only /proc/sys and /sys, no bootloader, no swapon)."""

from __future__ import annotations

DOCUMENTATION = r'''
name: in_container
short_description: Whether the facts describe a container
version_added: 1.0.0
description:
  - True when C(virtualization_role) is C(guest) and C(virtualization_type) is a container technology
    (docker, container, containerd, podman, lxc, openvz, systemd-nspawn, wsl). There C(/proc/sys) and C(/sys) are
    read-only, there is no bootloader and no initramfs to update, and swapon is refused.
  - The roles decide what to apply live from this, never from knowledge of the test environment.
author:
  - lowmem.vps contributors (@lowmem)
options:
  _input:
    description: The host's C(ansible_facts), gathered with at least the C(virtual) subset.
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: Apply sysctl values live only on real machines and VMs
  ansible.builtin.debug:
    msg: "{{ 'container' if ansible_facts | lowmem.vps.in_container else 'machine or VM' }}"
'''

RETURN = r'''
_value:
  description: Whether the host is a container guest.
  type: bool
'''

from ansible.errors import AnsibleFilterError

CONTAINER_TYPES = frozenset(['docker', 'container', 'containerd', 'podman', 'lxc', 'openvz', 'systemd-nspawn', 'wsl'])


def in_container(facts):
    if not isinstance(facts, dict):
        raise AnsibleFilterError('in_container expects ansible_facts (a dict), got %s' % type(facts).__name__)
    if 'virtualization_type' not in facts:
        raise AnsibleFilterError('in_container needs the virtual facts: gather them with gather_subset including "virtual"')
    return facts.get('virtualization_role') == 'guest' and facts.get('virtualization_type') in CONTAINER_TYPES


class FilterModule(object):
    def filters(self):
        return {'in_container': in_container}
