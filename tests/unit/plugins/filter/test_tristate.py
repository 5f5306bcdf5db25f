# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The auto/true/false rule every role's switch goes through."""
from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.lowmem.vps.plugins.filter.tristate import tristate


@pytest.mark.parametrize('value, auto_value, expected', [
    ('auto', True, True), ('AUTO', False, False), (' auto ', True, True), ('auto', 'True', True), ('auto', 'False', False),
    (True, False, True), (False, True, False), ('yes', False, True), ('No', True, False), ('on', False, True),
    ('off', True, False), ('true', False, True), ('FALSE', True, False),
])
def test_resolves(value, auto_value, expected):
    assert tristate(value, 'x_switch', auto_value) is expected


@pytest.mark.parametrize('value', ['sometimes', '', None, 1, 0, 'autO-ish', ['auto']])
def test_refuses_anything_else_naming_the_variable(value):
    with pytest.raises(AnsibleFilterError) as raised:
        tristate(value, 'sysctl_apply_live', True)
    assert str(raised.value) == 'sysctl_apply_live must be auto, true or false (got %r)' % (value,)
