# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-service resource limits in a Docker Compose file: :func:`run` for the compose_limits module.

The rules for the values live in :mod:`compose_rules`, the line editor and its read-back check in :mod:`compose_yaml`,
the compose CLI (which command, ``config --quiet``) in :mod:`compose_engine`.

:func:`run` carries a plan out through a module-like object (``check_mode``, ``params``, ``atomic_move``,
``backup_local``) and two callables, ``runner(args, environ_update=...)`` returning ``(rc, stdout, stderr)``
(``module.run_command``) and ``which(name)`` (``module.get_bin_path``).
"""

from __future__ import annotations

import os

from ansible_collections.lowmem.vps.plugins.module_utils.compose_engine import compose_command, validate_text
from ansible_collections.lowmem.vps.plugins.module_utils.compose_rules import ComposeError, expected_inspect, normalise_services
from ansible_collections.lowmem.vps.plugins.module_utils.compose_yaml import check_result, plan_limits
from ansible_collections.lowmem.vps.plugins.module_utils.files import apply_file, plan_file, read_text
from ansible_collections.lowmem.vps.plugins.module_utils.runner import commands

DEFAULTS = dict(services=None, validate=True, backup=False)


def run(module, runner=None, which=None, params=None):
    """Validate, plan, check the candidate with compose config, write it (outside check mode); return the result.

    Raises ComposeError (nothing written) for bad input, refusals and a candidate compose does not accept.
    """
    runner, which = commands(module, runner, which)
    params = dict(DEFAULTS, **dict((key, value) for key, value in (params or module.params).items() if value is not None))
    path = params['path']
    wanted = normalise_services(params['services'])
    if os.path.isdir(path):
        raise ComposeError('%s is a directory: give the compose file itself' % path)
    try:
        before = read_text(path)
    except UnicodeDecodeError:
        raise ComposeError('%s is not UTF-8 text' % path)
    except OSError as exc:
        raise ComposeError('cannot read %s: %s' % (path, exc.strerror or exc))
    if before is None:
        raise ComposeError('%s does not exist' % path)
    result = dict(changed=False, changed_services=[], services={}, expected_inspect={}, diff={}, validated_with=None,
                  warnings=[])
    if not wanted:
        return result
    planned = plan_limits(before, wanted)
    warnings = result['warnings'] = planned['warnings']
    result['changed_services'] = planned['changed_services']
    result['services'] = planned['services']
    result['expected_inspect'] = dict((name, expected_inspect(limits)) for name, limits in planned['typed'].items())
    plan = plan_file(path, planned['after'])
    result['diff'] = plan.diff()
    if not plan.changed:
        return result
    check_result(before, planned['after'], planned['written'])
    if params['validate']:
        command, label = compose_command(runner, which)
        if command is None:
            warnings.append('neither docker compose (the v2 plugin) nor docker-compose is installed: the new file was not '
                            'checked with compose config')
        else:
            rc, message = validate_text(path, planned['after'], command, runner)
            if rc != 0:
                again, _old = validate_text(path, before, command, runner)
                if again != 0:
                    raise ComposeError('%s config refuses the file as it is already (%s): fix it first, or set validate=false'
                                       % (label, message))
                raise ComposeError('%s config refuses the file with the new limits: %s' % (label, message))
            result['validated_with'] = label
    if params['backup'] and not module.check_mode:
        result['backup_file'] = module.backup_local(path)
    apply_file(module, plan)
    result['changed'] = True
    return result
