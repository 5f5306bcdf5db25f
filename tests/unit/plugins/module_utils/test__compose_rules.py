# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""compose_rules: docker sizes, the limit checks on the services option, expected_inspect/compare_inspect."""
from __future__ import annotations

import json

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.compose_rules import (
    ComposeError, compare_inspect, expected_inspect, normalise_services, parse_size,
)

MIB = 1024 * 1024
# The runbook's limits for the 512 MB VPS.
RUNBOOK = {
    'hysteria': {'mem_limit': '96m', 'memswap_limit': '160m', 'pids_limit': 128, 'oom_score_adj': 500},
    'tuic-server': {'mem_limit': '64m', 'memswap_limit': '128m'},
}


# ---------------------------------------------------------------- sizes

@pytest.mark.parametrize('text, expected', [
    ('96m', 96 * MIB), ('96M', 96 * MIB), ('1g', 1024 * MIB), ('1G', 1024 * MIB), ('512k', 512 * 1024),
    ('100b', 100), ('4096', 4096), (4096, 4096), ('1gb', 1024 * MIB), ('96MB', 96 * MIB), ('64kb', 64 * 1024),
    ('2gib', 2048 * MIB), ('1.5g', 1536 * MIB), ('96 m', 96 * MIB), ('0', 0), ('0m', 0),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize('text', ['96x', '-1g', '+1g', 'm', '', '96 mb b', '1.0000001k', True, None, 1.5])
def test_parse_size_refuses(text):
    with pytest.raises(ComposeError):
        parse_size(text)


# ---------------------------------------------------------------- input checks

def test_normalise_services_writes_lower_case_and_ints():
    assert normalise_services({'hysteria': {'mem_limit': '96M', 'memswap_limit': -1, 'pids_limit': '128',
                                            'oom_score_adj': 500}}) == {
        'hysteria': {'mem_limit': ('96m', 96 * MIB), 'memswap_limit': ('-1', -1), 'pids_limit': ('128', 128),
                     'oom_score_adj': ('500', 500)}}
    assert normalise_services({'hysteria': {'mem_limit': 100663296}})['hysteria']['mem_limit'] == ('100663296', 96 * MIB)


@pytest.mark.parametrize('services, message', [
    ({'hysteria': {'mem_limits': '96m'}}, 'hysteria: unknown limit mem_limits (did you mean mem_limit?) (allowed: mem_limit, '
                                          'memswap_limit, pids_limit, oom_score_adj)'),
    ({'hysteria': {'mem_limit': '96x'}}, "hysteria: '96x' is not a size docker reads"),
    ({'hysteria': {'mem_limit': '0m'}}, "hysteria: mem_limit '0m' is zero: leave mem_limit out for no memory limit"),
    ({'hysteria': {'mem_limit': '4m'}}, "mem_limit '4m' is below 6m, the smallest memory limit docker accepts"),
    ({'hysteria': {'mem_limit': -1}}, 'hysteria: mem_limit -1 is negative'),
    ({'hysteria': {'memswap_limit': '-2g'}}, "'-2g' is not a size docker reads"),
    ({'hysteria': {'memswap_limit': -5}}, 'memswap_limit -5 is negative (only -1, unlimited swap, is allowed)'),
    ({'hysteria': {'memswap_limit': 0}}, 'memswap_limit 0 is zero: leave memswap_limit out for swap equal to mem_limit'),
    ({'hysteria': {'pids_limit': 0}}, 'hysteria: pids_limit 0: use a number of processes of at least 1, or -1 for no limit'),
    ({'hysteria': {'pids_limit': 'many'}}, "pids_limit 'many' is not a whole number"),
    ({'hysteria': {'oom_score_adj': 1001}}, 'hysteria: oom_score_adj 1001 is outside -1000..1000'),
    ({'hysteria': {'oom_score_adj': -1001}}, 'oom_score_adj -1001 is outside -1000..1000'),
    ({'hysteria': '96m'}, "hysteria: limits must be a dict"),
    (['hysteria'], 'services must be a dict'),
])
def test_normalise_services_refuses(services, message):
    with pytest.raises(ComposeError) as raised:
        normalise_services(services)
    assert message in str(raised.value)


def test_normalise_services_lists_every_problem():
    with pytest.raises(ComposeError) as raised:
        normalise_services({'hysteria': {'pids_limit': 0, 'oom_score_adj': 2000}, 'tuic-server': {'mem_limit': '1x'}})
    assert str(raised.value).count('; ') == 2


# ---------------------------------------------------------------- docker inspect

@pytest.mark.parametrize('limits, expected', [
    ({'mem_limit': '96m', 'memswap_limit': '160m', 'pids_limit': 128, 'oom_score_adj': 500},
     {'HostConfig.Memory': 96 * MIB, 'HostConfig.MemorySwap': 160 * MIB, 'HostConfig.PidsLimit': 128,
      'HostConfig.OomScoreAdj': 500}),
    ({'mem_limit': '64m'}, {'HostConfig.Memory': 64 * MIB, 'HostConfig.MemorySwap': 128 * MIB}),
    ({'mem_limit': 64 * MIB, 'memswap_limit': -1}, {'HostConfig.Memory': 64 * MIB, 'HostConfig.MemorySwap': -1}),
    ({'mem_limit': '64m', 'memswap_limit': '64m'}, {'HostConfig.Memory': 64 * MIB, 'HostConfig.MemorySwap': 64 * MIB}),
    ({'pids_limit': -1}, {'HostConfig.PidsLimit': None}),
    ({}, {}),
])
def test_expected_inspect(limits, expected):
    assert expected_inspect(limits) == expected


def inspect(**host_config):
    return json.dumps([{'Id': 'abc', 'Name': '/hysteria', 'HostConfig': host_config}])


def test_compare_inspect_matches():
    expected = expected_inspect(RUNBOOK['hysteria'])
    assert compare_inspect(expected, inspect(Memory=96 * MIB, MemorySwap=160 * MIB, PidsLimit=128, OomScoreAdj=500)) == []
    assert compare_inspect({'HostConfig.PidsLimit': None}, {'HostConfig': {'PidsLimit': 0}}) == []
    assert compare_inspect({'HostConfig.PidsLimit': None}, [{'HostConfig': {}}]) == []


def test_compare_inspect_reports_dropped_values_and_missing_swap_support():
    expected = expected_inspect(RUNBOOK['hysteria'])
    found = compare_inspect(expected, inspect(Memory=96 * MIB, MemorySwap=-1, PidsLimit=None, OomScoreAdj=500))
    assert [item['key'] for item in found] == ['HostConfig.MemorySwap', 'HostConfig.PidsLimit']
    assert found[0]['expected'] == 160 * MIB and found[0]['actual'] == -1
    assert 'no swap limit support' in found[0]['msg'] and 'Your kernel does not support swap limit capabilities' in found[0]['msg']
    assert found[1]['msg'].startswith('HostConfig.PidsLimit: expected 128, the engine has None (the engine dropped')
    with pytest.raises(ComposeError, match='holds 2 containers'):
        compare_inspect(expected, '[{}, {}]')
