# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Carry a swap :class:`~swap.Plan` out: create, format, swap on and off, resize, remove, write fstab.

:func:`run` is the swapfile module's entry point: ``run(module, runner=None, which=None, paths=None)`` reads the
module's params, plans with :mod:`swap` and (outside check mode) has a :class:`SwapExecutor` carry the plan out.
Tests inject only through ``runner``/``which`` (:func:`runner.commands`) and ``paths`` (:class:`swap.Paths`).

Every host change is recorded *as it is made*, by :meth:`SwapExecutor.record`: a short text in ``actions``
(``swapoff /swapfile``, ``remove /swapfile``, ``create /swapfile``, ``mkswap /swapfile``, ``swapon -p 10 /swapfile``,
``chmod /swapfile``, ``write /etc/fstab``) and one ``diff`` entry through the Context's ``wrote()``::

    {'before_header': 'step 1: swapoff /swapfile', 'after_header': 'step 1: swapoff /swapfile',
     'before': '/swapfile: active\\n', 'after': '/swapfile: inactive\\n'}

so a step that fails after an earlier change (swapon failing after a swapoff, a rebuild failing after the old file
was removed) reports ``changed: true``, the diff of each step done and ``actions``, never "nothing was changed".
"""

from __future__ import annotations

import errno
import os

from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.files import apply_file
from ansible_collections.lowmem.vps.plugins.module_utils.result import Context
from ansible_collections.lowmem.vps.plugins.module_utils.runner import C_LOCALE, commands
from ansible_collections.lowmem.vps.plugins.module_utils.sizes import MIB, format_size
from ansible_collections.lowmem.vps.plugins.module_utils.swap import (
    AUTO_MAX_DISK_PERCENT, NEW_SUFFIX, SWAPFILE_MODE, Paths, SwapFailure, classify_swapon_error, describe,
    fallback_method, find_entry, in_container, is_enospc, plan_absent, plan_present, read_swaps, reported_method,
)


class SwapExecutor(object):
    """Carries out the steps of one swapfile task and records each host change it makes (``actions``, ``context``).

    ``context`` is a :class:`result.Context`; ``runner``/``which`` come from :func:`runner.commands`.
    """

    def __init__(self, context, path, runner, which, paths=None):
        self.context = context
        self.path = path
        self.new_path = path + NEW_SUFFIX
        self.runner = runner
        self.which = which
        self.paths = paths or Paths()
        self.warnings = []
        self.actions = []

    # -- the record

    def record(self, action, target, before, after):
        """One host change, as it happens: ``actions`` and a diff entry through ``context.wrote``."""
        self.actions.append(action)
        header = 'step %d: %s' % (len(self.actions), action)
        self.context.wrote({'before_header': header, 'after_header': header,
                            'before': '%s: %s\n' % (target, before), 'after': '%s: %s\n' % (target, after)})

    def done_so_far(self):
        """For a failure message: 'nothing was changed', or the host changes made so far."""
        if not self.actions:
            return 'nothing was changed'
        return 'done so far: %s' % ', '.join(self.actions)

    # -- commands

    def run(self, name, args):
        """(rc, stdout, stderr) of one command, by list, in the C locale; rc 127 when it is not installed."""
        binary = self.which(name)
        if not binary:
            return 127, '', '%s: command not found' % name
        return self.runner([binary] + list(args), environ_update=C_LOCALE)

    def btrfs_has_mkswapfile(self):
        if not self.which('btrfs'):
            return False
        return self.run('btrfs', ['filesystem', 'mkswapfile', '--help'])[0] == 0

    # -- host changes, each recorded

    def create(self, target, size, method):
        """Create ``target`` (absent) with ``size`` bytes by ``method``, mode 0600 root:root.

        On failure the partial file is removed (nothing recorded) and SwapFailure says why (disk full named as such).
        """
        try:
            if method == 'btrfs':
                result = self.run('btrfs', ['filesystem', 'mkswapfile', '--size', format_size(size).lower(), target])
            else:
                handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SWAPFILE_MODE)
                os.close(handle)
                result = (0, '', '')
                if method == 'btrfs_nocow':
                    result = self.run('chattr', ['+C', target])
                if result[0] == 0 and method == 'fallocate':
                    result = self.run('fallocate', ['-l', str(size), target])
                    if result[0] != 0 and not is_enospc(result[2]):
                        self.warnings.append('fallocate failed on %s (%s); writing the file with dd instead'
                                             % (target, result[2].strip()))
                        os.truncate(target, 0)
                        method = 'dd'
                        result = (0, '', '')
                if result[0] == 0 and method in ('dd', 'btrfs_nocow'):
                    result = self.run('dd', ['if=/dev/zero', 'of=%s' % target, 'bs=1M', 'count=%d' % (size // MIB),
                                             'conv=fsync', 'status=none'])
            rc, out, err = result
            if rc != 0:
                detail = (err or out).strip()
                if is_enospc(detail):
                    raise SwapFailure('no space left on device while creating %s (%s): the partial file was removed'
                                      % (target, detail))
                raise SwapFailure('creating %s failed: %s' % (target, detail))
            os.chmod(target, SWAPFILE_MODE)
            info = os.stat(target)
            if info.st_uid != 0 or info.st_gid != 0:
                os.chown(target, 0, 0)
        except OSError as exc:
            self._unlink(target)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise SwapFailure('no space left on device while creating %s: the partial file was removed' % target) from exc
            raise SwapFailure('creating %s failed: %s' % (target, exc.strerror or exc)) from exc
        except SwapFailure:
            self._unlink(target)
            raise
        self.record('create %s' % target, target, 'absent', '%s file (%s)' % (format_size(size), reported_method(method)))
        return method

    def mkswap(self, target):
        rc, out, err = self.run('mkswap', [target])
        if rc != 0:
            raise SwapFailure('mkswap %s failed: %s' % (target, (err or out).strip()))
        self.record('mkswap %s' % target, target, 'no swap signature', 'swap signature')

    def swapon(self, target, priority):
        """('ok', '') or (kind, message) with kind from :func:`swap.classify_swapon_error`; only 'ok' changed the host."""
        args = [target] if priority is None or priority < 0 else ['-p', str(priority), target]
        rc, out, err = self.run('swapon', args)
        if rc == 0:
            self.record(' '.join(['swapon'] + args), target, 'inactive',
                        'active' if len(args) == 1 else 'active, priority %d' % priority)
            return 'ok', ''
        message = (err or out).strip()
        return classify_swapon_error(message), message

    def swapoff(self, target):
        rc, out, err = self.run('swapoff', [target])
        if rc != 0:
            raise SwapFailure('swapoff %s failed: %s' % (target, (err or out).strip()))
        self.record('swapoff %s' % target, target, 'active', 'inactive')

    def remove(self, target):
        """Delete ``target`` (recorded when it existed)."""
        if self._unlink(target):
            self.record('remove %s' % target, target, 'present', 'absent')

    def _unlink(self, target):
        try:
            os.unlink(target)
        except FileNotFoundError:
            return False
        return True

    def fix_owner(self, current):
        os.chmod(current.path, SWAPFILE_MODE)
        if current.uid != 0 or current.gid != 0:
            os.chown(current.path, 0, 0)
        self.record('chmod %s' % current.path, current.path, 'mode %04o, owner %s:%s' % (current.mode or 0, current.uid, current.gid),
                    'mode 0600, owner 0:0')

    def write_fstab(self, plan):
        """apply_file of the fstab plan (which records its own diff); ``actions`` names it once it is written."""
        before = len(self.context.diffs)
        try:
            apply_file(self.context, plan)
        finally:
            if len(self.context.diffs) > before:
                self.actions.append('write %s' % plan.path)

    def build(self, target, size, method, priority, retry_method):
        """Create, format and activate ``target``.

        Returns (method, status, message): status ``ok``, or ``eperm`` (swapon refused, the file stays).
        A swapon ``Invalid argument`` on a file made by fallocate or mkswapfile recreates it by
        ``retry_method`` once. Any other failure removes ``target`` and raises SwapFailure.
        """
        method = self.create(target, size, method)
        try:
            self.mkswap(target)
            status, message = self.swapon(target, priority)
            if status == 'einval' and method not in ('dd', 'btrfs_nocow'):
                self.warnings.append('swapon refused %s made by %s (%s); recreated it by writing it in full'
                                     % (target, method, message))
                self.remove(target)
                method = self.create(target, size, retry_method)
                self.mkswap(target)
                status, message = self.swapon(target, priority)
            if status not in ('ok', 'eperm'):
                raise SwapFailure('swapon %s failed: %s' % (target, message))
        except SwapFailure:
            self.remove(target)
            raise
        return method, status, message

    # -- the resize paths

    def drop_new(self):
        self.swapoff(self.new_path)
        self.remove(self.new_path)

    def rebuild_from_new(self, size, method, priority, retry_method, original_active=True):
        """With <path>.new active: swap <path> off (when active), recreate and activate it, then retire <path>.new.

        An active swap file can be neither renamed nor unlinked (the kernel answers EPERM), so <path>.new
        cannot simply take the old file's name: it holds the swap while <path> is made again.
        """
        path, new_path = self.path, self.new_path
        if original_active:
            try:
                self.swapoff(path)
            except SwapFailure as exc:
                raise SwapFailure('%s; both %s and %s are active, rerun to finish the resize' % (exc, path, new_path)) from exc
        self.remove(path)
        try:
            method, status, message = self.build(path, size, method, priority, retry_method)
            if status != 'ok':
                self.remove(path)
                raise SwapFailure('swapon %s failed: %s' % (path, message))
        except SwapFailure as exc:
            raise SwapFailure('%s; %s is active and holds the swap, /etc/fstab still names %s: rerun to finish the resize'
                              % (exc, new_path, path)) from exc
        try:
            self.drop_new()
        except SwapFailure as exc:
            raise SwapFailure('%s; both %s and %s are active, rerun to finish the resize' % (exc, path, new_path)) from exc
        return method

    def activate_existing(self, size, priority, retry_method):
        """swapon an existing, correct file; a file swapon calls invalid is rewritten in full once."""
        path = self.path
        status, message = self.swapon(path, priority)
        method = 'none'
        if status == 'einval':
            self.warnings.append('swapon refused %s (%s); recreated it by writing it in full' % (path, message))
            self.remove(path)
            try:
                method, status, message = self.build(path, size, retry_method, priority, retry_method)
            except SwapFailure as exc:
                raise SwapFailure('%s; the unusable %s was removed, /etc/fstab left as it was' % (exc, path)) from exc
        if status == 'eperm':
            return method, False, _inactive_reason(message)
        if status != 'ok':
            left = '/etc/fstab left as it was, %s' % self.done_so_far() if self.actions else \
                'the file and /etc/fstab were left as they were'
            raise SwapFailure('swapon %s failed: %s; %s' % (path, message, left))
        return method, True, ''

    def recreate(self, size, method, priority, retry_method, entry, current):
        """Create the file at its path: after swapping the old one off when it is active (in place)."""
        path = self.path
        if entry is not None:
            try:
                self.swapoff(path)
            except SwapFailure as exc:
                raise SwapFailure('%s; %s stays active as it was, %s' % (exc, path, self.done_so_far())) from exc
        self.remove(path)
        try:
            method, status, message = self.build(path, size, method, priority, retry_method)
            if status != 'ok' and entry is not None:
                raise SwapFailure('swapon %s failed: %s' % (path, message))
        except SwapFailure as exc:
            if entry is None:
                if current.exists:
                    raise SwapFailure('%s; the previous (inactive) %s was removed, /etc/fstab left as it was' % (exc, path)) from exc
                raise SwapFailure('%s; /etc/fstab left as it was, %s' % (exc, self.done_so_far())) from exc
            raise SwapFailure('%s; %s' % (exc, self.restore(current.size, retry_method, entry.priority))) from exc
        if status == 'eperm':
            return method, False, _inactive_reason(message)
        return method, True, ''

    def restore(self, size, method, priority):
        """Best effort after a failed in-place resize: bring back a swap file of the old size; says how it went."""
        path = self.path
        try:
            self.remove(path)
            self.create(path, size, method)
            self.mkswap(path)
            status, message = self.swapon(path, priority)
        except SwapFailure as exc:
            return 'restoring the old size failed too (%s): %s is NOT active, /etc/fstab left as it was' % (exc, path)
        if status != 'ok':
            return 'the old size was recreated but swapon failed (%s): %s is NOT active' % (message, path)
        return 'the old size (%s) was recreated and is active again, /etc/fstab left as it was' % format_size(size)

    def two_file(self, size, method, priority, retry_method):
        """Resize an active file whose swap does not fit in RAM, never with less swap active than before.

        <path>.new is created, formatted and swapped on; then <path> is swapped off (its pages move to
        <path>.new), recreated with the new size and swapped on; last <path>.new is swapped off and deleted.
        A failure before <path> is swapped off removes <path>.new again and leaves <path> as it was.
        """
        path, new_path = self.path, self.new_path
        self.remove(new_path)
        try:
            new_method, status, message = self.build(new_path, size, method, priority, retry_method)
        except SwapFailure as exc:
            raise SwapFailure('%s; %s stays active, %s' % (exc, path, self.done_so_far())) from exc
        if status != 'ok':
            self.remove(new_path)
            raise SwapFailure('swapon %s failed: %s; %s stays active, %s' % (new_path, message, path, self.done_so_far()))
        try:
            self.swapoff(path)
        except SwapFailure as exc:
            try:
                self.drop_new()
                state = 'the new file was swapped off and removed again'
            except SwapFailure:
                state = 'both %s and %s are active; rerun to finish the resize' % (path, new_path)
            raise SwapFailure('%s; %s stays active, %s' % (exc, path, state)) from exc
        return self.rebuild_from_new(size, new_method, priority, retry_method, original_active=False)

    def reprioritize(self, priority, old_priority):
        path = self.path
        self.swapoff(path)
        status, message = self.swapon(path, priority)
        if status != 'ok':
            back, again = self.swapon(path, old_priority)
            state = 'it is active again with priority %d' % old_priority if back == 'ok' else 'it is NOT active (%s)' % again
            raise SwapFailure('swapon -p %d %s failed after it was swapped off: %s; %s' % (priority, path, message, state))

    def run_step(self, step, plan, state):
        """Carry out one step of :func:`swap.plan_steps`; True when it changed the host (a refused swapon does not)."""
        retry = fallback_method(plan.fstype)
        if step == 'remove_leftover':
            self.remove(self.new_path)
        elif step == 'drop_new':
            self.drop_new()
        elif step == 'rebuild':
            state['method'] = self.rebuild_from_new(plan.wanted, state['method'], plan.priority, retry,
                                                    original_active=plan.active_before)
        elif step == 'two_file':
            state['method'] = self.two_file(plan.wanted, state['method'], plan.priority, retry)
            state['active'] = True
        elif step == 'recreate':
            state['method'], state['active'], state['inactive_reason'] = self.recreate(
                plan.wanted, state['method'], plan.priority, retry, plan.entry, plan.current)
        elif step == 'fix_owner':
            self.fix_owner(plan.current)
        elif step == 'swapon':
            state['method'], state['active'], state['inactive_reason'] = self.activate_existing(plan.wanted, plan.priority, retry)
            return state['active']
        elif step == 'reprioritize':
            self.reprioritize(plan.priority, plan.entry.priority)
        else:  # pragma: no cover - plan_steps names only the steps above
            raise ValueError('unknown swap step %r' % step)
        return True


def _inactive_reason(message):
    return ('swapon was refused (%s): this looks like a container, where the kernel does not let swap be enabled; '
            'the file and the fstab line take effect on a machine that boots this system' % message)


def _final_priority(paths, path, active, priority, untouched_entry, check_mode):
    if active and not check_mode:
        entry = find_entry(read_swaps(paths.swaps), path)
        if entry is not None:
            return entry.priority
    if priority is not None and priority != -1:
        return priority
    if untouched_entry is not None:
        return untouched_entry.priority
    return None


def converge_present(executor, plan, check_mode):
    """Carry out a :func:`swap.plan_present` plan (check mode: only report it); return the module result."""
    path = plan.path
    steps = plan.steps
    method = plan.method
    active = plan.entry is not None and not plan.reason
    inactive_reason = ''
    if check_mode:
        marker = in_container(executor.paths.container_markers) if plan.needs_swapon else None
        if marker is not None:
            # swapon alone would change nothing there; a recreated file still counts.
            steps = [step for step in steps if step != 'swapon']
            active = False
            inactive_reason = 'swapon would most likely be refused: this looks like a container (%s exists)' % marker
        else:
            active = True if plan.needs_swapon else active
        done = steps
    else:
        state = dict(method=method, active=active, inactive_reason=inactive_reason)
        done = []
        try:
            for step in steps:
                if step == 'fstab':
                    continue  # written last, below: after the swap area is what the line says
                if executor.run_step(step, plan, state):
                    done.append(step)
        except OSError as exc:
            raise SwapFailure('%s: %s; /etc/fstab left as it was, check %s and %s'
                              % (exc.filename or path, exc.strerror or exc, path, plan.new_path)) from exc
        if 'fstab' in steps:
            executor.write_fstab(plan.fstab_plan)
            done.append('fstab')
        method, active, inactive_reason = state['method'], state['active'], state['inactive_reason']
    fstab_plan = plan.fstab_plan
    final_priority = _final_priority(executor.paths, path, active, plan.priority, plan.entry if not plan.reason else None,
                                     check_mode)
    diff = []
    if fstab_plan is not None:
        diff.append(fstab_plan.diff())
    diff.append({'before_header': '%s (swap file)' % path, 'after_header': '%s (swap file)' % path,
                 'before': describe(plan.size_before, plan.active_before, plan.priority_before),
                 'after': describe(plan.wanted, active, final_priority)})
    return dict(changed=bool(done), swapfile=path, size=plan.wanted, size_human=format_size(plan.wanted),
                size_before=plan.size_before, active=active, inactive_reason=inactive_reason, priority=final_priority,
                method=reported_method(method), resize=plan.resize,
                fstab_changed=bool(fstab_plan is not None and fstab_plan.changed), steps=done,
                actions=list(executor.actions), diff=diff, warnings=plan.warnings + executor.warnings)


def converge_absent(executor, plan, check_mode):
    """Carry out a :func:`swap.plan_absent` plan: swap off, drop the fstab lines, delete the files; return the result."""
    path = plan.path
    if not check_mode:
        try:
            for entry in plan.active:
                executor.swapoff(entry.path)
            if plan.fstab_plan is not None:
                executor.write_fstab(plan.fstab_plan)
            for name in plan.existing:
                executor.remove(name)
        except SwapFailure as exc:
            raise SwapFailure('%s; %s' % (exc, executor.done_so_far())) from exc
        except (OSError, RefusedError) as exc:
            detail = '%s: %s' % (exc.filename or path, exc.strerror or exc) if isinstance(exc, OSError) else str(exc)
            raise SwapFailure('%s; %s' % (detail, executor.done_so_far())) from exc
    fstab_changed = bool(plan.fstab_plan is not None and plan.fstab_plan.changed)
    diff = []
    if plan.fstab_plan is not None:
        diff.append(plan.fstab_plan.diff())
    before = plan.active_before
    diff.append({'before_header': '%s (swap file)' % path, 'after_header': '%s (swap file)' % path,
                 'before': describe(plan.size_before, before is not None, before.priority if before else None),
                 'after': describe(None, False, None)})
    return dict(changed=bool(plan.active or plan.existing or fstab_changed), swapfile=path, size=None, size_human=None,
                size_before=plan.size_before, active=False, inactive_reason='state=absent', priority=None, method='none',
                resize='none', fstab_changed=fstab_changed, steps=[], actions=list(executor.actions), diff=diff,
                warnings=executor.warnings)


def run(module, runner=None, which=None, paths=None):
    """The swapfile task for ``module`` (a result.Context, or an AnsibleModule) and its params; return the result.

    ``runner``/``which`` default to the module's (:func:`runner.commands`), ``paths`` to :class:`swap.Paths`.
    Raises SwapError (a refusal, before any change) or SwapFailure; either carries ``actions`` once a change was made.
    """
    context = module if hasattr(module, 'wrote') else Context(module)
    runner, which = commands(module, runner, which)
    paths = paths or Paths()
    params = module.params
    path = params.get('path') or '/swapfile'
    fstab = params.get('fstab', True) is not False
    executor = SwapExecutor(context, path, runner, which, paths)
    try:
        if params.get('state') == 'absent':
            return converge_absent(executor, plan_absent(path, fstab, paths), context.check_mode)
        percent = params.get('auto_max_disk_percent')
        plan = plan_present(path, size=params.get('size') or 'auto', priority=params.get('priority'), fstab=fstab,
                            auto_max_disk_percent=AUTO_MAX_DISK_PERCENT if percent is None else percent, paths=paths,
                            btrfs_mkswapfile=executor.btrfs_has_mkswapfile)
        return converge_present(executor, plan, context.check_mode)
    except (RefusedError, PartialFailure) as exc:
        if executor.actions:
            exc.result = dict(exc.result or {}, swapfile=path, actions=list(executor.actions))
        raise
