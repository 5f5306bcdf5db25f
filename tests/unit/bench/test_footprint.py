# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/footprint's log parsing, summary and table, on a log in the form bench/footprint-python writes it."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
_LOADER = importlib.machinery.SourceFileLoader('footprint', os.path.join(ROOT, 'bench', 'footprint'))
_SPEC = importlib.util.spec_from_loader('footprint', _LOADER)
fp = importlib.util.module_from_spec(_SPEC)
_LOADER.exec_module(fp)

LOG = """# idle
# reference ping
ansible.modules.ping 24000
# reference setup
ansible.modules.setup 41000
# reference apt
ansible.modules.apt 98000
# converge
ansible.modules.setup 40000
ansible_collections.lowmem.vps.plugins.modules.swapfile 26000
ansible.modules.apt 120000
ansible.modules.stat 25000
ansible.modules.stat 25500
# after converge
# rerun
ansible.modules.setup 40500
ansible_collections.lowmem.vps.plugins.modules.swapfile 26500
ansible.modules.stat 25100
# after rerun
"""


def test_phases_name_modules_as_users_write_them():
    phases = fp.parse_log(LOG)
    assert phases['reference ping'] == [('ansible.builtin.ping', 24000)]
    assert ('lowmem.vps.swapfile', 26000) in phases['converge']
    assert phases['after converge'] == []


def test_summary_peaks_runs_lowest_memavailable_and_modules_over_ping():
    samples = [(100.0, 300000), (105.0, 250000), (110.0, 180000), (120.0, 260000), (130.0, 240000)]
    bounds = {'idle': (99.0, 101.0), 'converge': (104.0, 115.0), 'rerun': (119.0, 131.0)}
    result = fp.summarize(fp.parse_log(LOG), samples, bounds)
    assert result['ping_kb'] == 24000
    assert result['references'] == {'ping': 24000, 'setup': 41000, 'apt': 98000}
    assert result['modules']['ansible.builtin.stat'] == {'converge': 25500, 'rerun': 25100,
                                                         'runs': {'converge': 2, 'rerun': 1}}
    assert result['modules']['ansible.builtin.apt']['rerun'] is None
    # setup (40500 > 28800) is over 1.2x ping on the rerun; swapfile (26500) and stat are within
    assert result['rerun_over_1_2x_ping'] == ['ansible.builtin.setup']
    assert result['lowest_memavailable_kb'] == {'idle': 300000, 'converge': 180000, 'rerun': 240000}
    table = fp.render(dict(result, date='2026-12-03', machine='test'))
    assert '| ansible.builtin.apt | 1, 117.2 MiB | 0, - | - |' in table
    assert '| ansible.builtin.setup | 1, 39.1 MiB | 1, 39.6 MiB | 1.69 **over 1.2** |' in table
    assert 'Lowest MemAvailable: converge 175.8 MiB (11.0 s), rerun 234.4 MiB (12.0 s); idle before 293.0 MiB.' in table
