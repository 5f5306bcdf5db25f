# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The sysctl role: good input writes the drop-in; each kind of bad input fails before anything is written."""
from __future__ import annotations

import pytest


def role_vars(tmp_path, **extra):
    base = {'sysctl_file': str(tmp_path / 'sysctl.d' / '99-lowmem-network-tuning.conf'), 'sysctl_apply_live': False}
    base.update(extra)
    return base


def test_role_writes_the_drop_in_scaled_by_ram(tmp_path, run_role):
    run = run_role('lowmem.vps.sysctl', role_vars(tmp_path))
    assert run.rc == 0, run.output
    text = (tmp_path / 'sysctl.d' / '99-lowmem-network-tuning.conf').read_text()
    assert 'Ansible managed' in text
    # This machine has far more than 1.5 GB: the largest RAM class applies.
    assert 'vm.min_free_kbytes = 32768\n' in text
    for line in ('vm.swappiness = 30', 'vm.vfs_cache_pressure = 100', 'net.core.netdev_max_backlog = 2500'):
        assert line in text
    assert 'live apply skipped (sysctl_apply_live is false)' in ' '.join(run.output.split())


def test_role_check_mode_writes_nothing(tmp_path, run_role):
    run = run_role('lowmem.vps.sysctl', role_vars(tmp_path), check=True)
    assert run.rc == 0, run.output
    assert not (tmp_path / 'sysctl.d').exists()


@pytest.mark.parametrize('bad, message', [
    ({'sysctl_extra': {'vm.no_such_knob': 1}}, 'unknown sysctl key vm.no_such_knob'),
    ({'sysctl_swappiness': 'thirty'}, "vm.swappiness: 'thirty' is not an integer"),
    ({'sysctl_min_free_kbytes': 10 ** 12}, 'is above 5% of RAM'),
    ({'sysctl_file': '/etc/sysctl.conf'}, 'Debian 13 no longer reads it'),
    ({'sysctl_apply_live': 'sometimes'}, 'sysctl_apply_live'),
])
def test_role_bad_input_fails_before_writing(tmp_path, run_role, bad, message):
    run = run_role('lowmem.vps.sysctl', role_vars(tmp_path, **bad))
    assert run.rc != 0
    assert message in run.output, run.output
    assert not (tmp_path / 'sysctl.d').exists()
