# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RAM classes: which profile of swap size, reserve, swappiness and earlyoom thresholds a host gets.

The one table of the collection (the roles' `auto` values read it through the lowmem.vps.ram_profile filter). A
host's class is the inventory's choice (lowmem_ram_class) or follows from its memory: a 512 MB VPS shows 454-480 MB
to the guest, a 1 GB one 950-990 MB, so the bounds sit halfway between the sizes sold.
"""

from __future__ import annotations

# (class, upper bound of MemTotal in MB, inclusive), smallest first; the last class takes everything above.
CLASS_BOUNDS = (('512m', 768), ('1g', 1536), ('2g', None))

# The runbook's values are the 512m profile (a 512 MB Debian 13 VPS behind one nginx stream listener): vm.min_free_kbytes
# 16384 (higher starved userspace), swappiness 30, earlyoom -m 10,5 -s 20,10. Larger boxes keep a larger reserve for
# the network receive path (GFP_ATOMIC) and, from 2 GB, less swap appetite. earlyoom's thresholds are percentages, so
# they already scale with RAM. swap_size `auto` is the swap role's own rule: 2 GiB up to 2 GiB of RAM (the runbook's
# 2G), as much as RAM above (at most 4 GiB), never more than a share of the disk's free space.
PROFILES = {
    '512m': dict(swap_size='auto', sysctl_min_free_kbytes=16384, sysctl_swappiness=30,
                 earlyoom_mem_min_percent=[10, 5], earlyoom_swap_min_percent=[20, 10]),
    '1g': dict(swap_size='auto', sysctl_min_free_kbytes=24576, sysctl_swappiness=30,
               earlyoom_mem_min_percent=[10, 5], earlyoom_swap_min_percent=[20, 10]),
    '2g': dict(swap_size='auto', sysctl_min_free_kbytes=32768, sysctl_swappiness=20,
               earlyoom_mem_min_percent=[10, 5], earlyoom_swap_min_percent=[20, 10]),
}
KEYS = ('swap_size', 'sysctl_min_free_kbytes', 'sysctl_swappiness', 'earlyoom_mem_min_percent',
        'earlyoom_swap_min_percent')


class RamClassError(ValueError):
    """A class or profile that cannot be used; the message names the variable to fix."""


def class_for(memtotal_mb, bounds=CLASS_BOUNDS):
    """The class of a host with memtotal_mb of RAM (as the facts' memtotal_mb gives it)."""
    if isinstance(memtotal_mb, bool):
        raise RamClassError('memtotal_mb must be a number of MB, got %r' % (memtotal_mb,))
    try:
        memtotal = int(memtotal_mb)
    except (TypeError, ValueError):
        raise RamClassError('memtotal_mb must be a number of MB, got %r (gather the hardware facts)' % (memtotal_mb,))
    if memtotal <= 0:
        raise RamClassError('memtotal_mb must be positive, got %d' % memtotal)
    for name, upper in bounds:
        if upper is None or memtotal <= upper:
            return name
    return bounds[-1][0]


def profile(memtotal_mb=None, ram_class=None, profiles=None):
    """The profile dict for a host, with `ram_class` (the chosen class) added.

    ram_class: the inventory's class (lowmem_ram_class) or None to follow memtotal_mb. profiles: the inventory's
    lowmem_ram_profiles, merged key by key over the built-in ones (so one value of one class can be changed alone).
    """
    table = dict((name, dict(values)) for name, values in PROFILES.items())
    for name, values in (profiles or {}).items():
        if not isinstance(values, dict):
            raise RamClassError('lowmem_ram_profiles.%s must be a dict of %s, got %r' % (name, ', '.join(KEYS), values))
        unknown = sorted(set(values) - set(KEYS))
        if unknown:
            raise RamClassError('lowmem_ram_profiles.%s: unknown key(s) %s (known: %s)'
                                % (name, ', '.join(unknown), ', '.join(KEYS)))
        table.setdefault(name, {}).update(values)
    if ram_class in (None, '', 'auto'):
        ram_class = class_for(memtotal_mb)
    ram_class = str(ram_class)
    if ram_class not in table:
        raise RamClassError('lowmem_ram_class %r is not a class (classes: %s)' % (ram_class, ', '.join(sorted(table))))
    chosen = dict(table[ram_class])
    missing = [key for key in KEYS if key not in chosen]
    if missing:
        raise RamClassError('lowmem_ram_profiles.%s lacks %s' % (ram_class, ', '.join(missing)))
    chosen['ram_class'] = ram_class
    return chosen
