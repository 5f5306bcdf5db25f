# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parse /proc/meminfo: one parser for every module that reasons about memory."""

from __future__ import annotations

from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError

MEMINFO_PATH = '/proc/meminfo'

_UNITS = {'kb': 1, 'mb': 1024, 'gb': 1024 * 1024}


class MeminfoError(RefusedError):
    """/proc/meminfo could not be read or has no usable line."""


def parse_meminfo(text):
    """Return {field: value in kB} from the text of /proc/meminfo.

    Lines look like ``MemTotal:  464896 kB``; a few (HugePages_Total) carry a bare count,
    which is kept as is. Malformed lines are skipped; an input without a single usable
    line raises MeminfoError.
    """
    values = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(':')
        if not sep:
            continue
        fields = rest.split()
        if not fields:
            continue
        try:
            number = int(fields[0])
        except ValueError:
            continue
        if len(fields) > 1:
            factor = _UNITS.get(fields[1].lower())
            if factor is None:
                continue
            number *= factor
        values[name.strip()] = number
    if not values:
        raise MeminfoError('no "Name: value kB" line found in meminfo text')
    return values


def read_meminfo(path=MEMINFO_PATH):
    """Read and parse ``path`` (default /proc/meminfo)."""
    try:
        with open(path, 'r', encoding='ascii', errors='replace') as handle:
            return parse_meminfo(handle.read())
    except OSError as exc:
        raise MeminfoError('cannot read %s: %s' % (path, exc)) from exc


def mem_total_kb(path=MEMINFO_PATH):
    """MemTotal in kB, or MeminfoError when the file has none."""
    info = read_meminfo(path)
    if 'MemTotal' not in info:
        raise MeminfoError('%s has no MemTotal line' % path)
    return info['MemTotal']
