# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The two kinds of error every lowmem.vps module tells apart.

- :class:`RefusedError`: bad input or a state the module will not touch, raised *before* anything changed. The module
  fails with the message and ``changed=False``.
- :class:`PartialFailure`: a step failed *after* changes began. ``result`` holds what was done, so the module can fail
  with ``changed=True`` and say what state the host was left in.

Each module_utils file subclasses both with its own names (``SwapError``, ``SwapFailure``...), so callers catch
exactly their module's errors; :func:`result.report` turns any of them into the task's result.
"""

from __future__ import annotations


class RefusedError(ValueError):
    """Bad input or a state the module refuses to act on; raised before anything was changed.

    ``result`` may carry fields for the failed task's result (the path concerned, the values read).
    """

    def __init__(self, msg='', result=None):
        super(RefusedError, self).__init__(msg)
        self.result = result or {}


class PartialFailure(Exception):
    """A step failed after changes began; the message says what state the host was left in, ``result`` what was done."""

    def __init__(self, msg, result=None):
        super(PartialFailure, self).__init__(msg)
        self.result = result or {}
