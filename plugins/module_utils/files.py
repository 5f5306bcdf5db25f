# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plan-then-apply for whole files: before/after for ``diff``, atomic writes only when needed.

Every module that owns a file (sysctl drop-ins, fstab, /etc/default/grub, /etc/default/earlyoom,
compose files) plans with :func:`plan_file` and writes with :func:`apply_file`.
"""

from __future__ import annotations

import os
import tempfile

from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError


class FileWriteError(RefusedError):
    """A planned file cannot be written (its directory is missing)."""


class FilePlan(object):
    """What would happen to one file: ``before``/``after`` text (None = absent)."""

    def __init__(self, path, before, after, mode=None, before_mode=None):
        self.path = path
        self.before = before
        self.after = after
        self.mode = mode
        self.before_mode = before_mode

    @property
    def mode_changed(self):
        return self.after is not None and self.mode is not None and self.before_mode != self.mode

    @property
    def changed(self):
        return self.before != self.after or self.mode_changed

    def diff(self):
        """A diff entry as Ansible's ``--diff`` callback expects it."""
        return {
            'before_header': self.path if self.before is not None else '%s (absent)' % self.path,
            'after_header': self.path if self.after is not None else '%s (absent)' % self.path,
            'before': self.before or '',
            'after': self.after or '',
        }


def values_diff(header, names, before, after):
    """A diff entry for live values (``/proc/sys``, zswap parameters): one ``name = value`` line per name."""
    def text(values):
        return ''.join('%s = %s\n' % (name, values.get(name)) for name in names)
    return {'before_header': header, 'after_header': header, 'before': text(before), 'after': text(after)}


def comment_lines(header):
    """``header`` as configuration comment lines: each line with "# " before it, lines already starting with "#" kept
    as they are, trailing blanks and trailing empty lines dropped; [] for an empty or missing header. Every module that
    writes a file under a header (``{{ ansible_managed | comment }}`` or plain text) writes it through this."""
    lines = []
    for line in (header or '').rstrip('\n').splitlines():
        line = line.rstrip()
        lines.append(line if line.startswith('#') else ('# ' + line).rstrip())
    return lines


def read_text(path):
    """Text of ``path``, or None when it does not exist."""
    try:
        with open(path, 'r', encoding='utf-8') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def read_kernel_text(path):
    """Text of a kernel interface file (/proc/cmdline, /proc/crypto), or '' when it cannot be read."""
    try:
        with open(path, 'r', encoding='utf-8', errors='replace') as handle:
            return handle.read()
    except OSError:
        return ''


def file_mode(path):
    """Permission bits of ``path``, or None when it does not exist."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return None


def plan_file(path, content, mode=None):
    """Plan to make ``path`` hold ``content`` (None: remove it) with permission bits ``mode``."""
    return FilePlan(path, read_text(path), content, mode, file_mode(path))


def _wrote(module, plan):
    # A result.Context records the write, so a later failure still reports changed and diff.
    record = getattr(module, 'wrote', None)
    if record is not None:
        record(plan.diff())
    return True


def apply_file(module, plan, parent_mode=0o755, validate=None):
    """Carry out ``plan`` (a FilePlan) outside check mode; no-op when nothing changes.

    Raises FileWriteError (before writing) when the directory cannot be made. ``validate(tmp_path)``, when given, is
    called on the complete new file before it is moved into place (as ``copy``'s ``validate`` does); whatever it
    raises leaves the old file as it was and no temporary file behind.

    The new text goes to a temporary file in the target's directory, then
    ``module.atomic_move`` puts it in place, so a reader never sees half a file and an
    interrupted run leaves the old file intact. A missing parent directory is created
    only when its own parent exists (``/etc/sysctl.d`` on a minimal Debian, never a
    whole invented tree).
    """
    if not plan.changed or module.check_mode:
        return False
    if plan.after is None:
        os.unlink(plan.path)
        return _wrote(module, plan)
    if plan.before == plan.after:
        os.chmod(plan.path, plan.mode)
        return _wrote(module, plan)
    directory = os.path.dirname(plan.path) or '.'
    if not os.path.isdir(directory):
        if not os.path.isdir(os.path.dirname(directory) or '.'):
            raise FileWriteError('cannot write %s: directory %s does not exist' % (plan.path, directory))
        os.mkdir(directory, parent_mode)
    fd, tmp_path = tempfile.mkstemp(prefix='.%s.' % os.path.basename(plan.path), dir=directory)
    try:
        # Text files are written as UTF-8; bytes (a binary keyring) as they are.
        with (os.fdopen(fd, 'wb') if isinstance(plan.after, bytes) else os.fdopen(fd, 'w', encoding='utf-8')) as handle:
            handle.write(plan.after)
        os.chmod(tmp_path, plan.mode if plan.mode is not None else 0o644)
        if validate is not None:
            validate(tmp_path)
        try:
            module.atomic_move(tmp_path, plan.path)
        finally:
            if not os.path.exists(tmp_path):
                # Moved into place: written, even when atomic_move failed after the rename.
                _wrote(module, plan)
        if plan.mode is not None:
            # atomic_move keeps an existing file's permissions: enforce the planned ones.
            os.chmod(plan.path, plan.mode)
    finally:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
    return True
