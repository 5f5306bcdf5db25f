# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.sizes import GIB, KIB, MIB, TIB, SizeError, format_size, parse_size


@pytest.mark.parametrize('text, expected', [
    ('2G', 2 * GIB),
    ('512M', 512 * MIB),
    ('96m', 96 * MIB),
    ('2GiB', 2 * GIB),
    ('2gib', 2 * GIB),
    ('2GB', 2 * GIB),
    ('4k', 4 * KIB),
    ('1T', TIB),
    ('4096', 4096),
    ('512B', 512),
    (' 1G ', GIB),
    ('1.5G', 1536 * MIB),
    ('+64M', 64 * MIB),
    (2048, 2048),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize('value, message', [
    ('2X', "'2X' is not a size"),
    ('', "'' is not a size"),
    ('G', "'G' is not a size"),
    ('2 G B', "'2 G B' is not a size"),
    ('0', "'0' is zero"),
    ('0M', "'0M' is zero"),
    ('-1G', "'-1G' is negative"),
    (-5, "'-5' is negative"),
    ('1.0000001K', 'is not a whole number of bytes'),
    (True, 'True is not a size'),
    (1.5, '1.5 is not a size'),
    (None, 'None is not a size'),
])
def test_bad_sizes_raise_a_value_error_with_a_clear_message(value, message):
    with pytest.raises(SizeError) as raised:
        parse_size(value)
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_zero_is_allowed_when_asked():
    assert parse_size('0', allow_zero=True) == 0


@pytest.mark.parametrize('number, text', [
    (2 * GIB, '2G'),
    (512 * MIB, '512M'),
    (1536 * MIB, '1536M'),
    (4 * KIB, '4K'),
    (TIB, '1T'),
    (1000, '1000'),
    (0, '0'),
])
def test_format_size(number, text):
    assert format_size(number) == text


@pytest.mark.parametrize('number', [1, 1023, 1024, 123456789, 3 * GIB + MIB, 5 * TIB])
def test_format_then_parse_round_trips(number):
    assert parse_size(format_size(number)) == number


@pytest.mark.parametrize('value', [-1, 1.5, '2G', True])
def test_format_size_refuses_what_is_not_a_byte_count(value):
    with pytest.raises(SizeError):
        format_size(value)
