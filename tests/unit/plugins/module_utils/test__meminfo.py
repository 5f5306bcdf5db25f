# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.meminfo import (
    MeminfoError, mem_total_kb, parse_meminfo, read_meminfo,
)

# /proc/meminfo of the 512 MB lab VM (Debian 13, 6.12), abridged.
VM_MEMINFO = """MemTotal:         464896 kB
MemFree:           21340 kB
MemAvailable:     187720 kB
SwapTotal:       2097148 kB
SwapFree:        2001020 kB
Zswap:              8624 kB
SUnreclaim:        41232 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
"""


def test_parse_reads_kb_fields_and_bare_counts():
    info = parse_meminfo(VM_MEMINFO)
    assert info['MemTotal'] == 464896
    assert info['MemAvailable'] == 187720
    assert info['SUnreclaim'] == 41232
    assert info['HugePages_Total'] == 0


def test_parse_skips_malformed_lines():
    info = parse_meminfo('garbage\nMemTotal: lots kB\nWeird: 5 parsecs\nMemFree: 10 kB\n')
    assert info == {'MemFree': 10}


def test_parse_without_any_usable_line_fails():
    with pytest.raises(MeminfoError, match='no "Name: value kB" line'):
        parse_meminfo('nothing here\n')


def test_read_real_file(tmp_path):
    path = tmp_path / 'meminfo'
    path.write_text(VM_MEMINFO)
    assert read_meminfo(str(path))['SwapTotal'] == 2097148
    assert mem_total_kb(str(path)) == 464896


def test_missing_file_and_missing_memtotal(tmp_path):
    with pytest.raises(MeminfoError, match='cannot read'):
        read_meminfo(str(tmp_path / 'absent'))
    path = tmp_path / 'meminfo'
    path.write_text('MemFree: 10 kB\n')
    with pytest.raises(MeminfoError, match='no MemTotal'):
        mem_total_kb(str(path))
