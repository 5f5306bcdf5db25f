# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.files import FileWriteError, apply_file, comment_lines, plan_file, read_kernel_text


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_is_planned_then_written_atomically(tmp_path, ansible_module):
    target = tmp_path / 'a.conf'
    plan = plan_file(str(target), 'x = 1\n', 0o644)
    assert plan.changed and plan.before is None
    assert plan.diff()['before_header'].endswith('(absent)')
    assert apply_file(ansible_module(), plan) is True
    assert target.read_text() == 'x = 1\n'
    assert mode_of(target) == 0o644
    assert sorted(os.listdir(tmp_path)) == ['a.conf'], 'no temporary file may be left behind'


def test_check_mode_writes_nothing(tmp_path, ansible_module):
    target = tmp_path / 'a.conf'
    plan = plan_file(str(target), 'x = 1\n', 0o644)
    assert apply_file(ansible_module(check_mode=True), plan) is False
    assert not target.exists()


def test_same_content_is_no_change(tmp_path, ansible_module):
    target = tmp_path / 'a.conf'
    target.write_text('x = 1\n')
    target.chmod(0o644)
    plan = plan_file(str(target), 'x = 1\n', 0o644)
    assert not plan.changed
    assert apply_file(ansible_module(), plan) is False


def test_existing_file_mode_is_enforced(tmp_path, ansible_module):
    target = tmp_path / 'a.conf'
    target.write_text('old\n')
    target.chmod(0o600)
    plan = plan_file(str(target), 'new\n', 0o644)
    assert apply_file(ansible_module(), plan)
    assert target.read_text() == 'new\n' and mode_of(target) == 0o644


def test_mode_only_drift_is_a_change(tmp_path, ansible_module):
    target = tmp_path / 'a.conf'
    target.write_text('x\n')
    target.chmod(0o666)
    plan = plan_file(str(target), 'x\n', 0o644)
    assert plan.changed and plan.mode_changed
    apply_file(ansible_module(), plan)
    assert mode_of(target) == 0o644


def test_removal(tmp_path, ansible_module):
    target = tmp_path / 'a.conf'
    target.write_text('x\n')
    plan = plan_file(str(target), None)
    assert plan.changed
    apply_file(ansible_module(), plan)
    assert not target.exists()
    assert not plan_file(str(target), None).changed


def test_missing_parent_is_created_only_one_level_deep(tmp_path, ansible_module):
    plan = plan_file(str(tmp_path / 'sysctl.d' / 'a.conf'), 'x\n', 0o644)
    apply_file(ansible_module(), plan)
    assert (tmp_path / 'sysctl.d' / 'a.conf').read_text() == 'x\n'

    deep = plan_file(str(tmp_path / 'no' / 'such' / 'a.conf'), 'x\n', 0o644)
    with pytest.raises(FileWriteError) as raised:
        apply_file(ansible_module(), deep)
    assert isinstance(raised.value, RefusedError)
    assert 'directory %s does not exist' % (tmp_path / 'no' / 'such') in str(raised.value)
    assert not (tmp_path / 'no').exists()


def test_validate_sees_the_whole_new_file_before_it_is_in_place_and_a_refusal_keeps_the_old(tmp_path, ansible_module):
    path = tmp_path / 'drop-in.conf'
    path.write_text('old\n')
    seen = []

    def refuse(tmp):
        seen.append((tmp, open(tmp).read(), path.read_text()))
        raise RefusedError('no')
    with pytest.raises(RefusedError):
        apply_file(ansible_module(), plan_file(str(path), 'new\n', 0o644), validate=refuse)
    assert seen[0][1:] == ('new\n', 'old\n') and os.path.dirname(seen[0][0]) == str(tmp_path)
    assert path.read_text() == 'old\n' and sorted(os.listdir(str(tmp_path))) == ['drop-in.conf']
    assert apply_file(ansible_module(), plan_file(str(path), 'new\n', 0o644), validate=seen.append)
    assert path.read_text() == 'new\n' and len(seen) == 2


def test_read_kernel_text_is_empty_when_unreadable(tmp_path):
    path = tmp_path / 'cmdline'
    path.write_bytes(b'root=/dev/vda1 \xff quiet\n')
    assert read_kernel_text(str(path)) == 'root=/dev/vda1 \ufffd quiet\n'
    assert read_kernel_text(str(tmp_path / 'absent')) == ''
    assert read_kernel_text(str(tmp_path)) == ''  # a directory: OSError, not a crash


@pytest.mark.parametrize('header, lines', [
    (None, []),
    ('', []),
    ('\n\n', []),
    # `{{ ansible_managed | comment }}` as Ansible renders it: kept line for line
    ('#\n# Ansible managed\n#', ['#', '# Ansible managed', '#']),
    # plain text becomes comments; trailing blanks and trailing empty lines go, an empty line inside stays a comment
    ('Managed by lowmem.vps  \n\nsee README\n\n', ['# Managed by lowmem.vps', '#', '# see README']),
    ('  indented', ['#   indented']),
])
def test_a_header_becomes_comment_lines(header, lines):
    assert comment_lines(header) == lines
