# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one way module_utils runs commands: list argv, the C locale, and a short tail of the output for messages.

Executors take two callables, ``runner(args, environ_update=...)`` returning ``(rc, stdout, stderr)`` and
``which(name)`` returning a path or None. On a host they are :func:`commands` of the AnsibleModule; tests hand in
fakes (a recording function, real scripts on a temporary PATH).
"""

from __future__ import annotations

C_LOCALE = {'LC_ALL': 'C', 'LANG': 'C'}


def with_locale(run_command):
    """``run_command`` with the C locale always set (a caller's ``environ_update`` adds to it, never drops it)."""
    def runner(args, environ_update=None, **kwargs):
        environ = dict(C_LOCALE)
        environ.update(environ_update or {})
        return run_command(list(args), environ_update=environ, **kwargs)
    return runner


def commands(module, runner=None, which=None):
    """(runner, which) for an executor: the given test doubles, else the module's, the runner in the C locale."""
    return (runner or with_locale(module.run_command)), (which or module.get_bin_path)


def tail(rc, out, err, lines=3):
    """The last ``lines`` lines of stderr (else stdout) joined by ' / ', for an error message; 'rc=N' when both are empty."""
    found = ((err or '').strip() or (out or '').strip()).splitlines()
    if found:
        return ' / '.join(line.strip() for line in found[-lines:])
    return 'rc=%s' % rc if rc is not None else 'no output'
