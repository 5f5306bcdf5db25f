# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    """What check_mode, diff_mode and idempotent mean. Each module says its own support (and details when partial) in
    its DOCUMENTATION's ``attributes``; a module that only reads extends ``lowmem.vps.attributes.info_module`` too, one
    with full support of all three ``lowmem.vps.attributes.planned_writes``."""

    DOCUMENTATION = r'''
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description:
      - When run twice in a row with the same options, the second run reports C(changed=false) and changes nothing on
        the target (given the target was not changed in between).
'''

    # For modules that plan, then write only outside check mode, return the diff of what they change, and change
    # nothing on a second run with the same options.
    PLANNED_WRITES = r'''
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
'''

    # Only for modules that read and never change the target: no diff, changed is always false.
    INFO_MODULE = r'''
attributes:
  check_mode:
    support: full
    details:
      - This module only reads the target, so check mode runs exactly as a normal run does.
  diff_mode:
    support: N/A
    details:
      - This module does not change the target, so it returns no diff.
  idempotent:
    support: full
'''
