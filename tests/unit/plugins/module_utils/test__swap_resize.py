# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every failure point of the swap resize paths after an earlier host change: the task reports ``changed: true``,
``actions`` (the host changes made, in order) and one diff entry per change, never "nothing was changed".

Each test runs the task as on a host, through result.report and swap_resize.run(module, paths=...), on real files
under tmp_path (test__swap.Host) with shell scripts first in PATH standing in for swapon and swapoff (and, to inject
a fault, for fallocate or mkswap); fallocate, dd and mkswap otherwise run for real on the temporary files.
"""
from __future__ import annotations

import json
import os

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.module_utils.sizes import MIB
from ansible_collections.lowmem.vps.plugins.module_utils.swap import Paths
from ansible_collections.lowmem.vps.plugins.module_utils.swap_resize import run
from ansible_collections.lowmem.vps.plugins.modules.swapfile import ARGUMENT_SPEC
# fake: test__swap's fixture of fake commands, used through bins below
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__swap import FSTAB, Host, fake, real  # noqa: F401 pylint: disable=unused-import

BUSY = 'swapon: $last: swapon failed: Device or resource busy'


@pytest.fixture
def bins(fake):  # pylint: disable=redefined-outer-name
    """test__swap's fake commands: swapon/swapoff recorded, fallocate/dd/mkswap/chattr real, btrfs missing."""
    return fake


@pytest.fixture
def box(tmp_path):
    return Host(tmp_path)


def task(capsys, host, **params):
    """The swapfile task on ``host`` as main() runs it (report + run), with ``host``'s paths: (exit code, result)."""
    params.setdefault('size', '16M')
    params['path'] = host.path
    with patch_module_args(params):
        module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
        with pytest.raises(SystemExit) as exited:
            report(module, 'swapfile', lambda context: run(context, paths=host.system))
    return exited.value.code, json.loads(capsys.readouterr().out)


def assert_failed_after_changes(code, result, actions, text):
    """Failed, changed, the message names the failure, ``actions`` and the diff list what was done, in order."""
    assert code == 1 and result['failed'] is True, result
    assert result['changed'] is True, result
    assert text in result['msg'] and 'nothing was changed' not in result['msg'], result['msg']
    assert result['actions'] == actions
    steps = [entry['before_header'] for entry in result['diff'] if entry['before_header'].startswith('step ')]
    assert steps == ['step %d: %s' % (number, action) for number, action in enumerate(actions, 1)
                     if not action.startswith('write ')]


def active_resize(host, size=8 * MIB, used=1 * MIB, available_kb=2 * 1024 * 1024):
    host.swapfile(size=size)
    host.meminfo(total_kb=474000, available_kb=available_kb)
    host.swaps((host.path, size - 4096, used, -2))


# ------------------------------------------------------------------ reprioritize


def test_reprioritize_swapon_failing_after_swapoff_reports_changed(box, bins, capsys):
    box.swapfile(size=16 * MIB)
    box.swaps((box.path, 16 * MIB - 4096, 0, -2))
    bins.add('swapon', 'case "$1" in -p) echo "%s" >&2; exit 255;; esac\nexit 0' % BUSY)
    code, result = task(capsys, box, priority=5)
    assert_failed_after_changes(code, result, ['swapoff %s' % box.path, 'swapon %s' % box.path],
                                'swapon -p 5 %s failed after it was swapped off' % box.path)
    assert 'it is active again with priority -2' in result['msg']
    assert result['diff'][0]['before'] == '%s: active\n' % box.path and result['diff'][0]['after'] == '%s: inactive\n' % box.path
    assert box.fstab() == FSTAB


def test_reprioritize_swapon_failing_twice_says_the_file_is_not_active(box, bins, capsys):
    box.swapfile(size=16 * MIB)
    box.swaps((box.path, 16 * MIB - 4096, 0, -2))
    bins.fail('swapon', BUSY, 255)
    code, result = task(capsys, box, priority=5)
    assert_failed_after_changes(code, result, ['swapoff %s' % box.path], 'it is NOT active')


# ------------------------------------------------------------------ recreate (in place) and restore


def test_recreate_failing_after_swapoff_and_removal_restores_and_reports_changed(box, bins, capsys):
    active_resize(box)
    bins.fail('fallocate', 'fallocate: fallocate failed: No space left on device')
    code, result = task(capsys, box)
    assert_failed_after_changes(code, result, ['swapoff %s' % box.path, 'remove %s' % box.path, 'create %s' % box.path,
                                               'mkswap %s' % box.path, 'swapon %s' % box.path],
                                'the old size (8M) was recreated and is active again')
    assert os.path.getsize(box.path) == 8 * MIB and box.fstab() == FSTAB


def test_recreate_and_restore_both_failing_report_the_file_inactive_and_changed(box, bins, capsys):
    active_resize(box)
    bins.fail('mkswap', 'mkswap: error: swap area needs to be at least 40 KiB')
    code, result = task(capsys, box)
    assert_failed_after_changes(code, result, ['swapoff %s' % box.path, 'remove %s' % box.path, 'create %s' % box.path,
                                               'remove %s' % box.path, 'create %s' % box.path],
                                'restoring the old size failed too')
    assert '%s is NOT active' % box.path in result['msg'] and box.fstab() == FSTAB


def test_recreate_of_an_inactive_file_failing_after_its_removal_reports_changed(box, bins, capsys):
    box.swapfile(size=8 * MIB)
    bins.fail('mkswap', 'mkswap: error')
    code, result = task(capsys, box)
    assert_failed_after_changes(code, result, ['remove %s' % box.path, 'create %s' % box.path, 'remove %s' % box.path],
                                'the previous (inactive) %s was removed' % box.path)
    assert not os.path.exists(box.path)


# ------------------------------------------------------------------ two_file and rebuild_from_new


def test_two_file_swapoff_of_the_old_file_failing_reports_the_new_file_made_and_removed(box, bins, capsys):
    active_resize(box, used=6 * MIB, available_kb=60 * 1024)
    bins.add('swapoff', 'case "$last" in *.new) exit 0;; esac\necho "swapoff: $last: swapoff failed: Cannot allocate memory" >&2\n'
                        'exit 255')
    code, result = task(capsys, box)
    assert_failed_after_changes(code, result, ['create %s' % box.new_path, 'mkswap %s' % box.new_path,
                                               'swapon %s' % box.new_path, 'swapoff %s' % box.new_path,
                                               'remove %s' % box.new_path],
                                'the new file was swapped off and removed again')
    assert os.path.getsize(box.path) == 8 * MIB and not os.path.exists(box.new_path)


def test_two_file_failing_after_the_old_file_is_off_reports_changed(box, bins, capsys):
    active_resize(box, used=6 * MIB, available_kb=60 * 1024)
    bins.add('fallocate', 'case "$last" in *.new) exec "%s" "$@";; esac\n'
                          'echo "fallocate: fallocate failed: No space left on device" >&2\nexit 1' % real('fallocate'))
    code, result = task(capsys, box)
    assert_failed_after_changes(code, result, ['create %s' % box.new_path, 'mkswap %s' % box.new_path,
                                               'swapon %s' % box.new_path, 'swapoff %s' % box.path, 'remove %s' % box.path],
                                '%s is active and holds the swap' % box.new_path)
    assert os.path.getsize(box.new_path) == 16 * MIB and not os.path.exists(box.path)


def test_rebuild_from_new_failing_after_swapoff_and_removal_reports_changed(box, bins, capsys):
    box.swapfile(size=8 * MIB)
    box.swapfile(path=box.new_path, size=16 * MIB)
    box.meminfo(total_kb=474000, available_kb=60 * 1024)
    box.swaps((box.path, 8 * MIB - 4096, 6 * MIB, -2), (box.new_path, 16 * MIB - 4096, 0, -3))
    bins.fail('mkswap', 'mkswap: error')
    code, result = task(capsys, box)
    assert_failed_after_changes(code, result, ['swapoff %s' % box.path, 'remove %s' % box.path, 'create %s' % box.path,
                                               'remove %s' % box.path],
                                '%s is active and holds the swap' % box.new_path)
    assert not os.path.exists(box.path) and os.path.exists(box.new_path)


# ------------------------------------------------------------------ activate_existing


def test_activate_existing_rewrite_failing_after_the_unusable_file_was_removed_reports_changed(box, bins, capsys):
    box.swapfile(size=16 * MIB)
    bins.fail('swapon', 'swapon: $last: swapon failed: Invalid argument', 255)
    code, result = task(capsys, box)
    assert_failed_after_changes(code, result, ['remove %s' % box.path, 'create %s' % box.path, 'mkswap %s' % box.path,
                                               'remove %s' % box.path],
                                'the unusable %s was removed' % box.path)
    assert not os.path.exists(box.path)


def test_activate_existing_failing_after_its_mode_was_fixed_reports_changed(box, bins, capsys):
    box.swapfile(size=16 * MIB, mode=0o644)
    bins.fail('swapon', BUSY, 255)
    code, result = task(capsys, box)
    assert_failed_after_changes(code, result, ['chmod %s' % box.path], 'swapon %s failed' % box.path)
    assert 'the file and /etc/fstab were left as they were' not in result['msg']


# ------------------------------------------------------------------ absent: swapoff, then fstab or the removal fails


def test_absent_fstab_write_failing_after_swapoff_reports_changed(box, bins, capsys, tmp_path):
    etc = tmp_path / 'etc'
    etc.mkdir()
    (etc / 'fstab').write_text(FSTAB + '%s none swap sw 0 0\n' % box.path)
    box.system = Paths(swaps=box.system.swaps, meminfo=box.system.meminfo, mounts=box.system.mounts, fstab=str(etc / 'fstab'),
                       container_markers=())
    box.swapfile(size=16 * MIB)
    box.swaps((box.path, 16 * MIB - 4096, 1 * MIB, -2))
    # swapoff succeeds, then the fstab's directory is gone (a file in its place): the fstab write fails.
    bins.add('swapoff', 'rm -rf "%s" && touch "%s"' % (etc, etc))
    code, result = task(capsys, box, state='absent')
    assert_failed_after_changes(code, result, ['swapoff %s' % box.path], 'done so far: swapoff %s' % box.path)
    assert os.path.exists(box.path)


def test_absent_removal_failing_after_swapoff_and_fstab_reports_changed(box, bins, capsys):
    (box.root / 'fstab').write_text(FSTAB + '%s none swap sw 0 0\n' % box.path)
    box.swapfile(size=16 * MIB)
    box.swaps((box.path, 16 * MIB - 4096, 1 * MIB, -2))
    # swapoff succeeds, then something puts a directory where the file was: the removal fails.
    bins.add('swapoff', 'rm -f "$last" && mkdir "$last" && touch "$last/x"')
    code, result = task(capsys, box, state='absent')
    fstab = box.system.fstab
    assert_failed_after_changes(code, result, ['swapoff %s' % box.path, 'write %s' % fstab],
                                'done so far: swapoff %s, write %s' % (box.path, fstab))
    assert box.fstab() == FSTAB and any(entry['before_header'] == fstab for entry in result['diff'])
