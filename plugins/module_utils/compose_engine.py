# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Recreate compose services and check what the engine applied, through the docker and compose CLIs.

``docker update`` cannot change ``oom_score_adj`` or log options, so new limits reach a container only when compose
recreates it. :func:`run` recreates exactly the services it is given (``up -d --no-deps --force-recreate``; nothing else
in the project is touched), then reads every container of the services in ``expected`` with ``docker inspect`` and
compares Memory, MemorySwap, PidsLimit and OomScoreAdj with what the compose file asks for. A swap limit the engine
dropped because the kernel does not account swap is a warning, or an error when asked for; any other difference is an
error.

Debian 13 ships compose v2 (``docker compose``), Debian 12 only v1 (``docker-compose``): both take the same arguments
here, which is why this goes through the CLI instead of community.docker.docker_compose_v2 (v2 only).
:func:`compose_command` picks the one a host has, and :func:`validate_text` runs ``config --quiet`` on a candidate text
(compose_limits checks its edit with it before writing).

:func:`run` takes ``runner(args, environ_update=...)`` returning ``(rc, stdout, stderr)`` (``module.run_command``) and
``which(name)`` (``module.get_bin_path``), so tests drive it with fake binaries.
"""

from __future__ import annotations

import json
import os
import tempfile

from ansible_collections.lowmem.vps.plugins.module_utils.compose_rules import INSPECT_KEYS, compare_inspect
from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.runner import C_LOCALE, commands, tail

DEFAULTS = dict(recreate=None, expected=None, require_swap_limit=False)
NO_SWAP_ACCOUNTING = ('this host cannot enforce swap limits: docker info reports no swap limit support (the kernel does '
                      'not account swap for cgroups; on cgroup v1 boot with swapaccount=1), so %s may use swap beyond '
                      'memswap_limit')


class EngineError(RefusedError):
    """Bad input or a missing tool: nothing was recreated."""


class EngineFailure(PartialFailure):
    """Something failed after containers may have been recreated; ``result`` says what was done."""


# ---------------------------------------------------------------- the compose CLI

def compose_command(runner, which):
    """(argv before the file, label): ``docker compose`` when the v2 plugin answers, else ``docker-compose``; None when
    neither exists."""
    docker = which('docker')
    if docker:
        rc, _out, _err = runner([docker, 'compose', 'version'], environ_update=C_LOCALE)
        if rc == 0:
            return [docker, 'compose'], 'docker compose'
    legacy = which('docker-compose')
    if legacy:
        return [legacy], 'docker-compose'
    return None, None


def validate_text(path, text, command, runner):
    """Run ``COMMAND -f TMP config --quiet`` on ``text`` written to a temporary file next to ``path`` (so .env and relative
    paths resolve as for the real file); returns (rc, message). The temporary file is always removed."""
    directory = os.path.dirname(path) or '.'
    base = os.path.basename(path)
    fd, tmp_path = tempfile.mkstemp(prefix='.%s.' % base, suffix=os.path.splitext(base)[1] or '.yml', dir=directory)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
        rc, out, err = runner(command + ['-f', tmp_path, 'config', '--quiet'], environ_update=C_LOCALE)
        return rc, tail(rc, out, err).replace(tmp_path, path)
    finally:
        os.unlink(tmp_path)


# ---------------------------------------------------------------- recreate and verify

def check_params(recreate, expected):
    """(recreate list, expected dict) after checking their shape; raises EngineError listing every problem."""
    problems = []
    recreate = list(recreate or [])
    expected = dict(expected or {})
    for name in recreate:
        if not isinstance(name, str) or not name or name.startswith('-'):
            problems.append('recreate: %r is not a service name' % (name,))
    for name, values in expected.items():
        if not isinstance(values, dict):
            problems.append('expected.%s must be a dict of docker inspect keys to values, got %r' % (name, values))
            continue
        unknown = sorted(set(values) - set(INSPECT_KEYS))
        if unknown:
            problems.append('expected.%s: unknown key(s) %s (allowed: %s)' % (name, ', '.join(unknown), ', '.join(INSPECT_KEYS)))
    if len(set(recreate)) != len(recreate):
        problems.append('recreate names a service twice: %s' % ', '.join(recreate))
    if problems:
        raise EngineError('; '.join(problems))
    return recreate, expected


def container_ids(runner, command, path, service):
    """IDs of the running containers of ``service`` (``compose -f PATH ps -q SERVICE``)."""
    rc, out, err = runner(command + ['-f', path, 'ps', '-q', service], environ_update=C_LOCALE)
    if rc != 0:
        raise EngineError('cannot list the containers of %s: %s' % (service, tail(None, out, err)))
    return [line.strip() for line in out.splitlines() if line.strip()]


def inspect(runner, docker, ids):
    """``docker inspect`` of the containers, as a list of dicts in the same order."""
    rc, out, err = runner([docker, 'inspect'] + list(ids), environ_update=C_LOCALE)
    if rc != 0:
        raise EngineError('docker inspect failed: %s' % tail(None, out, err))
    try:
        data = json.loads(out)
    except ValueError:
        raise EngineError('docker inspect printed no JSON: %s' % tail(None, out, ''))
    if not isinstance(data, list) or len(data) != len(ids):
        raise EngineError('docker inspect returned %s entries for %d containers' % (
            len(data) if isinstance(data, list) else 'no', len(ids)))
    return data


def swap_limit_support(runner, docker):
    """True or False from ``docker info`` (``SwapLimit``), None when the engine does not say."""
    rc, out, _err = runner([docker, 'info', '--format', '{{json .SwapLimit}}'], environ_update=C_LOCALE)
    value = out.strip() if rc == 0 else ''
    return {'true': True, 'false': False}.get(value)


def summarise(container):
    """The parts of one ``docker inspect`` entry the result shows."""
    host = container.get('HostConfig') or {}
    return dict(id=(container.get('Id') or '')[:12], name=(container.get('Name') or '').lstrip('/'),
                memory=host.get('Memory'), memory_swap=host.get('MemorySwap'), pids_limit=host.get('PidsLimit'),
                oom_score_adj=host.get('OomScoreAdj'))


def verify(expected, inspected, swap_supported, require_swap_limit):
    """(errors, warnings) from comparing every container with its service's expected values.

    ``inspected`` maps service -> list of ``docker inspect`` dicts. A MemorySwap of -1 where a limit was wanted, on an
    engine that reports no swap limit support, is a warning unless ``require_swap_limit``."""
    errors, warnings = [], []
    for service in sorted(expected):
        for container in inspected.get(service, []):
            name = (container.get('Name') or container.get('Id', '?')[:12]).lstrip('/')
            for miss in compare_inspect(expected[service], container):
                dropped_swap = (miss['key'] == 'HostConfig.MemorySwap' and miss['actual'] == -1
                                and swap_supported is not True)
                if dropped_swap and not require_swap_limit:
                    warnings.append(NO_SWAP_ACCOUNTING % name)
                else:
                    errors.append('%s: %s' % (name, miss['msg']))
    return errors, warnings


def _diff(path, recreate, before_ids):
    before = ''.join('%s: %s\n' % (service, ' '.join(before_ids.get(service) or ['(no running container)']))
                     for service in recreate)
    after = ''.join('%s: (recreated)\n' % service for service in recreate)
    return dict(before=before, after=after, before_header='%s (containers)' % path,
                after_header='%s (containers)' % path)


def run(module, runner=None, which=None, params=None):
    """Recreate, then verify; return the module result. EngineError before anything changed, EngineFailure after."""
    runner, which = commands(module, runner, which)
    params = dict(DEFAULTS, **dict((key, value) for key, value in (params or module.params).items() if value is not None))
    path = params['path']
    recreate, expected = check_params(params['recreate'], params['expected'])
    if not os.path.isfile(path):
        raise EngineError('%s does not exist or is not a file' % path)
    result = dict(changed=False, recreated=[], containers={}, not_running=[], swap_limit_support=None,
                  compose_command=None, warnings=[], diff={})
    if not recreate and not expected:
        return result
    command, label = compose_command(runner, which)
    docker = which('docker')
    if command is None or docker is None:
        raise EngineError('the docker CLI and docker compose (the v2 plugin) or docker-compose are needed to recreate '
                          'and inspect the services of %s' % path)
    result['compose_command'] = label
    before_ids = dict((service, container_ids(runner, command, path, service)) for service in recreate)
    if recreate:
        result['changed'] = True
        result['recreated'] = recreate
        result['diff'] = _diff(path, recreate, before_ids)
        if not module.check_mode:
            rc, out, err = runner(command + ['-f', path, 'up', '--detach', '--no-deps', '--force-recreate'] + recreate,
                                  environ_update=C_LOCALE)
            if rc != 0:
                raise EngineFailure('%s up --force-recreate %s failed: %s' % (label, ' '.join(recreate), tail(None, out, err)),
                                    dict(result, recreated=[]))
    inspected = {}
    for service in sorted(expected):
        if module.check_mode and service in recreate:
            continue  # its container is not the one that will run
        ids = container_ids(runner, command, path, service)
        if not ids:
            result['not_running'].append(service)
            continue
        inspected[service] = inspect(runner, docker, ids)
        result['containers'][service] = [summarise(item) for item in inspected[service]]
    if inspected and any('HostConfig.MemorySwap' in expected[service] for service in inspected):
        result['swap_limit_support'] = swap_limit_support(runner, docker)
    errors, warnings = verify(expected, inspected, result['swap_limit_support'], params['require_swap_limit'])
    result['warnings'] = sorted(set(warnings))
    if result['not_running']:
        result['warnings'].append('not running, so not checked with docker inspect: %s (start them with %s -f %s up -d)'
                                  % (', '.join(result['not_running']), label, path))
    if errors:
        raise EngineFailure('the engine does not show the limits of the compose file: %s' % '; '.join(errors), result)
    return result
