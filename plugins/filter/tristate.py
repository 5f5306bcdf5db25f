# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one rule for the roles' ``auto``/true/false switches: resolve and validate in one place."""

from __future__ import annotations

DOCUMENTATION = r'''
name: tristate
short_description: Resolve an auto/true/false switch, refusing anything else
version_added: 1.0.0
description:
  - Returns the switch as a boolean. C(auto) (any case) gives O(auto_value), what the role decides from facts
    (for example C(not (ansible_facts | lowmem.vps.in_container))).
  - Accepts booleans and the strings C(true)/C(false), C(yes)/C(no), C(on)/C(off); anything else fails with a
    message naming the variable, before any task changes the host.
author:
  - lowmem.vps contributors (@lowmem)
options:
  _input:
    description: The switch's value.
    type: raw
    required: true
  name:
    description: The variable's name, for the error message.
    type: str
    required: true
  auto_value:
    description: The result for C(auto).
    type: bool
    required: true
'''

EXAMPLES = r'''
- name: Apply live only outside containers unless told otherwise
  ansible.builtin.debug:
    msg: "{{ sysctl_apply_live | lowmem.vps.tristate('sysctl_apply_live', not (ansible_facts | lowmem.vps.in_container)) }}"
'''

RETURN = r'''
_value:
  description: The resolved switch.
  type: bool
'''

from ansible.errors import AnsibleFilterError

TRUE = frozenset(['true', 'yes', 'on'])
FALSE = frozenset(['false', 'no', 'off'])


def tristate(value, name, auto_value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text == 'auto':
        if not isinstance(auto_value, bool):
            auto_value = str(auto_value).strip().lower() in TRUE
        return auto_value
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise AnsibleFilterError('%s must be auto, true or false (got %r)' % (name, value))


class FilterModule(object):
    def filters(self):
        return {'tristate': tristate}
