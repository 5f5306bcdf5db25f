# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.lowmem.vps.plugins.filter.in_container import FilterModule, in_container


@pytest.mark.parametrize('role, kind, expected', [
    ('guest', 'docker', True),
    ('guest', 'container', True),   # systemd-detect-virt inside docker on some hosts
    ('guest', 'lxc', True),
    ('guest', 'systemd-nspawn', True),
    ('guest', 'kvm', False),        # a VPS: a real kernel of its own
    ('guest', 'qemu', False),       # the lab VM under TCG
    ('host', 'kvm', False),         # a hypervisor host
    ('host', 'docker', False),      # a docker host is not a container
    ('NA', 'NA', False),            # bare metal
])
def test_container_guests_are_told_from_machines(role, kind, expected):
    assert in_container({'virtualization_role': role, 'virtualization_type': kind}) is expected


def test_without_virtual_facts_it_says_what_to_gather():
    with pytest.raises(AnsibleFilterError, match='gather_subset'):
        in_container({'memtotal_mb': 454})


def test_not_facts():
    with pytest.raises(AnsibleFilterError, match='expects ansible_facts'):
        in_container('docker')


def test_registered_under_its_name():
    assert FilterModule().filters()['in_container'] is in_container
