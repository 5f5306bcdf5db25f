# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Debian package versions in dpkg's order (``dpkg --compare-versions``), for any module that compares versions of
installed packages (kernel_cleanup keeps the newest kernels by it).

Pure functions over strings: epoch, then upstream version, then revision, each compared as dpkg's ``verrevcmp``
does (``~`` before everything, even the end of the string; digits as numbers; letters before other characters).
"""

from __future__ import annotations

import functools

from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError


class VersionError(RefusedError):
    """A version dpkg would not accept (an epoch that is not a number); raised before anything was changed."""


def _order(char):
    """dpkg's weight of one non-digit character: ``~`` first, then the end of the string, letters, everything else."""
    if char == '~':
        return -1
    if not char or _isdigit(char):
        return 0
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def _isdigit(char):
    return '0' <= char <= '9' if char else False


def _verrevcmp(left, right):
    """dpkg's comparison of two upstream versions or two revisions (negative, 0, positive)."""
    i = j = 0
    while i < len(left) or j < len(right):
        first_diff = 0
        while (i < len(left) and not _isdigit(left[i])) or (j < len(right) and not _isdigit(right[j])):
            a = _order(left[i] if i < len(left) else '')
            b = _order(right[j] if j < len(right) else '')
            if a != b:
                return a - b
            i += 1
            j += 1
        while i < len(left) and left[i] == '0':
            i += 1
        while j < len(right) and right[j] == '0':
            j += 1
        while i < len(left) and j < len(right) and _isdigit(left[i]) and _isdigit(right[j]):
            if not first_diff:
                first_diff = ord(left[i]) - ord(right[j])
            i += 1
            j += 1
        if i < len(left) and _isdigit(left[i]):
            return 1
        if j < len(right) and _isdigit(right[j]):
            return -1
        if first_diff:
            return first_diff
    return 0


def split_version(version):
    """(epoch, upstream, revision) of a Debian version; the revision is what follows the last ``-`` ('' without one)."""
    version = version.strip()
    epoch = 0
    if ':' in version:
        text, version = version.split(':', 1)
        if not text.isdigit():
            raise VersionError('version %r has an epoch that is not a number' % text)
        epoch = int(text)
    upstream, sep, revision = version.rpartition('-')
    if not sep:
        upstream, revision = revision, ''
    return epoch, upstream, revision


def compare_versions(left, right):
    """-1, 0 or 1 as ``dpkg --compare-versions left lt|eq|gt right`` (epoch, then upstream, then revision)."""
    left_epoch, left_upstream, left_revision = split_version(left)
    right_epoch, right_upstream, right_revision = split_version(right)
    if left_epoch != right_epoch:
        return -1 if left_epoch < right_epoch else 1
    result = _verrevcmp(left_upstream, right_upstream) or _verrevcmp(left_revision, right_revision)
    return (result > 0) - (result < 0)


version_key = functools.cmp_to_key(compare_versions)
