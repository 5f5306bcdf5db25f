# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Behaviour the mutation bench (bench/mutation, results in bench/results/mutation.md) found untested: each test
names the surviving mutant it kills."""
from __future__ import annotations

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.meminfo import MeminfoError, mem_total_kb
from ansible_collections.lowmem.vps.plugins.module_utils.sysctl import render_dropin


def test_meminfo_without_memtotal_names_the_file_exactly(tmp_path):
    # kills meminfo.x_mem_total_kb__mutmut_9 (the message was only matched as a substring)
    path = tmp_path / 'meminfo'
    path.write_text('MemFree:           61244 kB\nMemAvailable:     262480 kB\n')
    with pytest.raises(MeminfoError) as raised:
        mem_total_kb(str(path))
    assert str(raised.value) == '%s has no MemTotal line' % path


def test_dropin_header_keeps_leading_indentation_and_drops_trailing_blanks():
    # kills sysctl.x_render_dropin__mutmut_4 (rstrip -> lstrip went unnoticed: no header had leading spaces)
    header = '# Ansible managed   \n#   indented note\t\n'
    assert render_dropin({'vm.swappiness': '30'}, header) == '# Ansible managed\n#   indented note\nvm.swappiness = 30\n'
    # files.comment_lines: a line not starting with "#" (leading blanks included) gets "# " before it
    assert render_dropin({'vm.swappiness': '30'}, '  # odd   \n') == '#   # odd\nvm.swappiness = 30\n'
