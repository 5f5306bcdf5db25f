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

import os
import subprocess
import tempfile

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


class StreamError(RuntimeError):
    """A streamed command exited with an error (after its output was read)."""


def stream_lines(args, environ_update=None, popen=None):
    """Yield the output lines of ``args`` one by one (C locale), for output too long to hold in memory at once
    (journalctl over a whole boot). Raises StreamError, with the tail of stderr, when the command fails."""
    environ = dict(os.environ)
    environ.update(C_LOCALE)
    environ.update(environ_update or {})
    popen = popen or subprocess.Popen
    with tempfile.TemporaryFile() as errors:
        # Not run_command (ansible-core 2.21's pylint asks for it): it holds the whole output in memory, which is what
        # streaming a boot's journal on a 512 MB host avoids; the argv list and the C locale are the same as the runner's.
        process = popen(list(args), stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, env=environ)  # pylint: disable=ansible-bad-function
        try:
            for raw in process.stdout:
                yield raw.decode('utf-8', 'replace')
        finally:
            process.stdout.close()
            rc = process.wait()
        if rc != 0:
            errors.seek(0)
            raise StreamError('%s failed: %s' % (args[0], tail(rc, '', errors.read()[-4096:].decode('utf-8', 'replace'))))
