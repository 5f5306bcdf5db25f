# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.lowmem.vps.plugins.filter.service_limits import FilterModule, service_limits

DEFAULTS = {'mem_limit': '96m', 'memswap_limit': '160m', 'pids_limit': 128, 'oom_score_adj': 500}
PRESETS = {'tuic-server': {'mem_limit': '64m', 'memswap_limit': '128m'}}


def test_defaults_then_preset_then_own_limits():
    merged = service_limits({'hysteria': None, 'tuic-server': {}, 'filebrowser': {'mem_limit': '128m'},
                             'tuic2': {'pids_limit': 32}}, DEFAULTS, PRESETS)
    assert merged == {
        'hysteria': DEFAULTS,
        'tuic-server': {'mem_limit': '64m', 'memswap_limit': '128m', 'pids_limit': 128, 'oom_score_adj': 500},
        'filebrowser': {'mem_limit': '128m', 'memswap_limit': '160m', 'pids_limit': 128, 'oom_score_adj': 500},
        'tuic2': {'mem_limit': '96m', 'memswap_limit': '160m', 'pids_limit': 32, 'oom_score_adj': 500},
    }


def test_own_limits_win_over_the_preset_and_null_leaves_a_key_to_the_file():
    merged = service_limits({'tuic-server': {'memswap_limit': '96m', 'oom_score_adj': None}}, DEFAULTS, PRESETS)
    assert merged == {'tuic-server': {'mem_limit': '64m', 'memswap_limit': '96m', 'pids_limit': 128}}
    assert service_limits({'a': None}, {'mem_limit': None}) == {'a': {}}


def test_inputs_are_not_modified():
    services = {'tuic-server': {'pids_limit': 8}}
    service_limits(services, DEFAULTS, PRESETS)
    assert services == {'tuic-server': {'pids_limit': 8}} and PRESETS['tuic-server'] == {'mem_limit': '64m', 'memswap_limit': '128m'}


@pytest.mark.parametrize('services, defaults, presets, message', [
    (['hysteria'], DEFAULTS, {}, 'the services must be a dict'),
    ({'hysteria': '96m'}, DEFAULTS, {}, 'the limits of service hysteria must be a dict'),
    ({'hysteria': None}, '96m', {}, 'the defaults must be a dict'),
    ({'tuic-server': None}, DEFAULTS, {'tuic-server': 64}, 'the preset for tuic-server must be a dict'),
])
def test_shapes_that_are_not_dicts_are_refused(services, defaults, presets, message):
    with pytest.raises(AnsibleFilterError, match=message):
        service_limits(services, defaults, presets)


def test_registered():
    assert FilterModule().filters() == {'service_limits': service_limits}
