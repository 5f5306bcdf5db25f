# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One result shape for every lowmem.vps module.

A module's ``main()`` builds its AnsibleModule and hands a *body* to :func:`report`. The body gets a
:class:`Context` (the module, plus a record of what was written so far) and returns the result dict, or raises:

- :class:`~errors.RefusedError` (and every module's own error class, all built on it): bad input or a refusal;
- :class:`~errors.PartialFailure`: a step failed after changes began; ``result`` says what was done.

Whatever is raised, the task reports ``changed`` and ``diff`` true to what was written: every file written through
:func:`files.apply_file` and every live change a body records with :meth:`Context.wrote` counts, so an error after a
write can never say ``changed: false``. A message says "nothing was changed" only when that is so.
"""

from __future__ import annotations

import traceback

from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError


class Context(object):
    """What module_utils needs of an AnsibleModule (``params``, ``check_mode``, ``atomic_move``, ``run_command``,
    ``get_bin_path``, ``warn``...), plus what was written so far (``diffs``, ``changed``)."""

    def __init__(self, module):
        self.module = module
        self.changed = False
        self.diffs = []

    def __getattr__(self, name):
        # Everything else is the module's own (params, check_mode, atomic_move, run_command, backup_local...).
        return getattr(self.module, name)

    def wrote(self, diff=None):
        """Record that something on the host was changed (a file written, a value set live, a service restarted)."""
        self.changed = True
        if diff:
            self.diffs.append(diff)


def _failure_fields(context, extra):
    fields = dict(extra or {})
    fields.pop('msg', None)
    fields.pop('warnings', None)
    changed = bool(fields.pop('changed', False)) or context.changed
    diff = fields.pop('diff', None) or (context.diffs if context.diffs else None)
    if diff:
        fields['diff'] = diff
    return changed, fields


def report(module, name, body, nothing='nothing was changed'):
    """Run ``body(context)`` and end the module with exit_json or fail_json (this function does not return).

    ``nothing`` is what a refusal's message adds when nothing was written ("nothing was recreated"; None: nothing,
    for modules that never write).
    """
    context = Context(module)
    try:
        result = body(context) or {}
    except RefusedError as exc:
        changed, fields = _failure_fields(context, getattr(exc, 'result', None))
        message = str(exc)
        if not changed and nothing and 'nothing was' not in message:
            message += '; ' + nothing
        module.fail_json(msg='%s: %s' % (name, message), changed=changed, **fields)
    except PartialFailure as exc:
        changed, fields = _failure_fields(context, exc.result)
        for warning in (exc.result or {}).get('warnings') or []:
            module.warn(warning)
        module.fail_json(msg='%s: %s' % (name, exc), changed=changed, **fields)
    except Exception as exc:  # pylint: disable=broad-except
        if not context.changed:
            raise
        # An unforeseen error after a write: still say what was written.
        module.fail_json(msg='%s: %s after changes were made: %s' % (name, type(exc).__name__, exc),
                         changed=True, diff=context.diffs, exception=traceback.format_exc())
    result = dict(result)
    for warning in result.pop('warnings', None) or []:
        module.warn(warning)
    result['changed'] = bool(result.get('changed')) or context.changed
    module.exit_json(**result)
