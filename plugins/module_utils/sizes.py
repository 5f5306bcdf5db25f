# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sizes as operators write them (``2G``, ``512M``, ``96m``, ``2GiB``) to bytes and back.

One parser for every module that takes a size: swap files, compose memory limits, log caps.
Units are binary (K = 1024) and case-insensitive, with an optional trailing ``B`` or ``iB``;
bare digits are bytes. A fraction is allowed when the result is a whole number of bytes
(``1.5G``).
"""

from __future__ import annotations

import re

from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB

_FACTORS = {'': 1, 'K': KIB, 'M': MIB, 'G': GIB, 'T': TIB}
_SIZE_RE = re.compile(r'^(?P<sign>[-+]?)(?P<number>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*(?P<unit>[KMGT]?)(?:I?B)?$', re.IGNORECASE)


class SizeError(RefusedError):
    """A size that cannot be used: the message is meant for the operator as it is."""


def parse_size(value, allow_zero=False):
    """Bytes in ``value``: an int (bytes) or a string such as ``2G``, ``512M``, ``96m``, ``2GiB``, ``4096``.

    Raises SizeError for anything else, for zero (unless ``allow_zero``), for negative sizes and
    for fractions that do not come to a whole number of bytes.
    """
    if isinstance(value, bool):
        raise SizeError('%r is not a size (write a number with an optional unit K, M, G or T)' % (value,))
    if isinstance(value, int):
        number = value
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
        match = _SIZE_RE.match(text)
        if not match:
            raise SizeError('%r is not a size (write a number with an optional unit K, M, G or T, '
                            'for example 512M or 2G)' % (value,))
        if match.group('sign') == '-':
            raise SizeError('%r is negative: a size must be positive' % (value,))
        factor = _FACTORS[match.group('unit').upper()]
        digits = match.group('number')
        if '.' in digits:
            whole, fraction = digits.split('.')
            scale = 10 ** len(fraction)
            numerator = (int(whole or '0') * scale + int(fraction)) * factor
            if numerator % scale:
                raise SizeError('%r is not a whole number of bytes' % (value,))
            number = numerator // scale
        else:
            number = int(digits) * factor
    else:
        raise SizeError('%r is not a size (write a number with an optional unit K, M, G or T)' % (value,))
    if number < 0:
        raise SizeError('%r is negative: a size must be positive' % (text,))
    if number == 0 and not allow_zero:
        raise SizeError('%r is zero: a size must be positive' % (text,))
    return number


def format_size(number):
    """The shortest exact spelling of ``number`` bytes: ``2G``, ``512M``, ``1536M``, ``4K``, ``1000``.

    ``parse_size(format_size(n)) == n`` for every n >= 0.
    """
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise SizeError('%r is not a byte count' % (number,))
    if number == 0:
        return '0'
    for unit in ('T', 'G', 'M', 'K'):
        factor = _FACTORS[unit]
        if number % factor == 0:
            return '%d%s' % (number // factor, unit)
    return str(number)
