# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rules for per-service compose limits: which keys, which values docker accepts, and what the engine should show.

:func:`normalise_services` checks the ``services`` option and returns each limit as (text to write, typed value);
:func:`swap_problem` says why a memswap_limit cannot go with a mem_limit; :func:`expected_inspect` turns limits into the
``docker inspect`` values the engine should show, and :func:`compare_inspect` lists where a container differs.

Docker's semantics behind the checks and :func:`expected_inspect`:

- ``memswap_limit`` is memory plus swap. Unset (with ``mem_limit`` set) the engine makes it twice the memory, so the
  container may also use as much swap as memory; equal to ``mem_limit`` means no swap; -1 unlimited swap. Below
  ``mem_limit`` the engine refuses the container, and without ``mem_limit`` it refuses a positive one.
- The engine refuses memory limits under 6 MiB.
- On a kernel without swap accounting the engine drops the swap limit (``MemorySwap`` -1) with a warning.
- ``pids_limit`` 0 or -1 means unlimited (the engine shows no limit); ``oom_score_adj`` is -1000..1000.
"""

from __future__ import annotations

import difflib
import json
import re

from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.sizes import MIB, SizeError, format_size
from ansible_collections.lowmem.vps.plugins.module_utils.sizes import parse_size as _parse_bytes

LIMIT_KEYS = ('mem_limit', 'memswap_limit', 'pids_limit', 'oom_score_adj')
SIZE_KEYS = ('mem_limit', 'memswap_limit')
MIN_MEMORY = 6 * MIB  # the engine's linuxMinMemory
OOM_MIN, OOM_MAX = -1000, 1000
INSPECT_KEYS = ('HostConfig.Memory', 'HostConfig.MemorySwap', 'HostConfig.PidsLimit', 'HostConfig.OomScoreAdj')

# docker's own size syntax (go-units RAMInBytes): digits, an optional fraction, one optional space, b/k/m/g/t, i, b.
_DOCKER_SIZE_RE = re.compile(r'^[0-9]+(?:\.[0-9]+)? ?[kmgt]?i?b?$', re.IGNORECASE)
_INT_RE = re.compile(r'^[-+]?[0-9]+$')


class ComposeError(RefusedError):
    """Bad input or a file the module refuses to edit; raised before anything was written."""


# ---------------------------------------------------------------- sizes and values

def parse_size(text):
    """Bytes in a docker size: an int (bytes) or ``96m``, ``1g``, ``512k``, ``1GB``, ``100b``, ``4096`` (units b, k, m,
    g, t, case-insensitive, with an optional ``b`` or ``ib``; binary, k = 1024). Zero is returned as 0; raises
    ComposeError for anything docker would not read (``96x``, ``-1g``, ``+1g``)."""
    if isinstance(text, bool) or not isinstance(text, (int, str)):
        raise ComposeError('%r is not a size (write bytes or a number with a unit b, k, m or g, such as 96m)' % (text,))
    if isinstance(text, str) and not _DOCKER_SIZE_RE.match(text.strip()):
        raise ComposeError('%r is not a size docker reads (write bytes or a number with a unit b, k, m or g, such as 96m '
                           'or 1g)' % (text,))
    try:
        return _parse_bytes(text, allow_zero=True)
    except SizeError as exc:
        raise ComposeError(str(exc))


def _size_text(value):
    """How a size is written to the file: ints as digits, strings without blanks and with a lower-case unit."""
    if isinstance(value, int):
        return str(value)
    return re.sub(r'\s+', '', value).lower()


def as_int(value):
    """An int from an int or a string of digits (with an optional sign), else None; True and False are not ints here."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    return None


def _limit_problem(key, value):
    """(text to write, typed value) for one asked-for limit, or raise ComposeError with why it is refused."""
    if key in SIZE_KEYS:
        if key == 'memswap_limit' and as_int(value) == -1:
            return '-1', -1
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ComposeError('%s %d is negative%s' % (key, value, ' (only -1, unlimited swap, is allowed)'
                                                        if key == 'memswap_limit' else ''))
        number = parse_size(value)
        if number == 0:
            hint = ('leave memswap_limit out for swap equal to mem_limit, or use -1 for unlimited swap'
                    if key == 'memswap_limit' else 'leave mem_limit out for no memory limit')
            raise ComposeError('%s %r is zero: %s' % (key, value, hint))
        if key == 'mem_limit' and number < MIN_MEMORY:
            raise ComposeError('mem_limit %r is below 6m, the smallest memory limit docker accepts' % (value,))
        return _size_text(value), number
    number = as_int(value)
    if number is None:
        raise ComposeError('%s %r is not a whole number' % (key, value))
    if key == 'pids_limit':
        if number == 0 or number < -1:
            raise ComposeError('pids_limit %d: use a number of processes of at least 1, or -1 for no limit' % number)
    elif not OOM_MIN <= number <= OOM_MAX:
        raise ComposeError('oom_score_adj %d is outside %d..%d' % (number, OOM_MIN, OOM_MAX))
    return str(number), number


def normalise_services(services):
    """{service: {key: (text to write, typed value)}} from the ``services`` option; raises ComposeError listing every
    problem (unknown keys, bad sizes, pids_limit 0, oom_score_adj out of range, memswap_limit below mem_limit)."""
    if services is None:
        return {}
    if not isinstance(services, dict):
        raise ComposeError('services must be a dict of service name to limits, got %r' % (services,))
    problems = []
    result = {}
    for name, limits in services.items():
        if not isinstance(name, str) or not name:
            problems.append('%r is not a service name' % (name,))
            continue
        if not isinstance(limits, dict):
            problems.append('%s: limits must be a dict with any of %s, got %r' % (name, ', '.join(LIMIT_KEYS), limits))
            continue
        unknown = sorted(str(key) for key in limits if key not in LIMIT_KEYS)
        for key in unknown:
            close = difflib.get_close_matches(key, LIMIT_KEYS, 1)
            hint = ' (did you mean %s?)' % close[0] if close else ''
            problems.append('%s: unknown limit %s%s (allowed: %s)' % (name, key, hint, ', '.join(LIMIT_KEYS)))
        if unknown:
            continue
        wanted = {}
        for key in LIMIT_KEYS:
            if key in limits and limits[key] is not None:
                try:
                    wanted[key] = _limit_problem(key, limits[key])
                except ComposeError as exc:
                    problems.append('%s: %s' % (name, exc))
        result[name] = wanted
    if problems:
        raise ComposeError('; '.join(problems))
    return result


def swap_problem(name, mem, swap, mem_from='', swap_from=''):
    """Why ``swap`` (bytes or -1) cannot go with ``mem`` (bytes or None) for ``name``, or None."""
    if swap is None or swap == -1:
        return None
    if mem is None:
        return ('%s: memswap_limit %s%s without mem_limit: docker refuses a swap limit without a memory limit; set mem_limit '
                'too, or use -1 for unlimited swap' % (name, format_size(swap).lower(), swap_from))
    if swap < mem:
        return ('%s: memswap_limit %s%s is below mem_limit %s%s. In compose memswap_limit is memory plus swap, so it cannot '
                'be less than mem_limit (docker refuses the container): equal to mem_limit means no swap, larger gives '
                'memswap_limit - mem_limit of swap, -1 unlimited swap, and unset gives swap equal to mem_limit (a total of '
                'twice mem_limit)' % (name, format_size(swap).lower(), swap_from, format_size(mem).lower(), mem_from))
    return None


# ---------------------------------------------------------------- docker inspect

def expected_inspect(limits):
    """What ``docker inspect`` should show for a service's limits ({mem_limit, memswap_limit, pids_limit,
    oom_score_adj}, sizes as text or bytes): {'HostConfig.Memory': ..., ...} for the keys the limits decide.

    MemorySwap follows the engine: memswap_limit when set (-1 unlimited), else twice Memory when Memory is set.
    PidsLimit None means unlimited (the engine shows no limit for 0 and -1).
    """
    expected = {}
    mem = limits.get('mem_limit')
    swap = limits.get('memswap_limit')
    if mem is not None:
        expected['HostConfig.Memory'] = parse_size(mem)
    if swap is not None:
        expected['HostConfig.MemorySwap'] = -1 if as_int(swap) == -1 else parse_size(swap)
    elif mem is not None:
        expected['HostConfig.MemorySwap'] = 2 * expected['HostConfig.Memory']
    if limits.get('pids_limit') is not None:
        pids = as_int(limits['pids_limit'])
        expected['HostConfig.PidsLimit'] = pids if pids and pids > 0 else None
    if limits.get('oom_score_adj') is not None:
        expected['HostConfig.OomScoreAdj'] = as_int(limits['oom_score_adj'])
    return expected


def _inspect_value(data, dotted):
    for part in dotted.split('.'):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def compare_inspect(expected, inspect_json):
    """Mismatches between :func:`expected_inspect` and a container's ``docker inspect`` (the JSON text, its list, or one
    container's dict): [{key, expected, actual, msg}], empty when the engine applied every value."""
    data = json.loads(inspect_json) if isinstance(inspect_json, (str, bytes)) else inspect_json
    if isinstance(data, list):
        if len(data) != 1:
            raise ComposeError('docker inspect output holds %d containers, expected one' % len(data))
        data = data[0]
    mismatches = []
    for key in INSPECT_KEYS:
        if key not in expected:
            continue
        want, have = expected[key], _inspect_value(data, key)
        if key == 'HostConfig.PidsLimit' and (have is None or have <= 0):
            have = None
        if want == have:
            continue
        msg = '%s: expected %s, the engine has %s' % (key, want, have)
        if key == 'HostConfig.MemorySwap' and have == -1 and want != -1:
            msg += (' (this host has no swap limit support: the kernel does not account swap for cgroups, so docker drops '
                    'the swap limit and warns "Your kernel does not support swap limit capabilities"; the container may '
                    'use swap without limit)')
        elif key in ('HostConfig.Memory', 'HostConfig.PidsLimit', 'HostConfig.OomScoreAdj'):
            msg += ' (the engine dropped or changed the value: was the container recreated after the file changed?)'
        mismatches.append({'key': key, 'expected': want, 'actual': have, 'msg': msg})
    return mismatches
