# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The limits each compose service gets: defaults, then a preset for its name, then what the project gives it."""

from __future__ import annotations

DOCUMENTATION = r'''
name: service_limits
short_description: Merge default, per-name preset and per-service compose limits
version_added: 1.0.0
description:
  - For each service of the input, the limits are O(defaults), overridden by O(presets) for the service's name, overridden
    by the service's own dict. A null service value takes the defaults and preset as they are.
  - A key set to null at any level is dropped from the result, so the compose file's own value (or none) stays for it.
author:
  - lowmem.vps contributors (@lowmem)
options:
  _input:
    description: Service name to its limits (a dict, or null for the defaults).
    type: dict
    required: true
  defaults:
    description: Limits every service gets unless overridden.
    type: dict
    required: true
  presets:
    description: Service name to limits that override the defaults for a service of that name.
    type: dict
    default: {}
'''

EXAMPLES = r'''
- name: hysteria gets 96m/160m, tuic-server its preset 64m/128m, filebrowser 128m and no oom_score_adj
  ansible.builtin.debug:
    msg: >-
      {{ {'hysteria': None, 'tuic-server': {}, 'filebrowser': {'mem_limit': '128m', 'oom_score_adj': None}}
         | lowmem.vps.service_limits({'mem_limit': '96m', 'memswap_limit': '160m', 'oom_score_adj': 500},
                                     {'tuic-server': {'mem_limit': '64m', 'memswap_limit': '128m'}}) }}
'''

RETURN = r'''
_value:
  description: Service name to its merged limits, null keys dropped.
  type: dict
'''

from ansible.errors import AnsibleFilterError


def _mapping(value, what):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AnsibleFilterError('service_limits: %s must be a dict, got %s %r' % (what, type(value).__name__, value))
    return value


def service_limits(services, defaults, presets=None):
    services = _mapping(services, 'the services')
    defaults = _mapping(defaults, 'the defaults')
    presets = _mapping(presets, 'the presets')
    merged = {}
    for name, own in services.items():
        limits = dict(defaults)
        limits.update(_mapping(presets.get(name), 'the preset for %s' % name))
        limits.update(_mapping(own, 'the limits of service %s' % name))
        merged[name] = dict((key, value) for key, value in limits.items() if value is not None)
    return merged


class FilterModule(object):
    def filters(self):
        return {'service_limits': service_limits}
