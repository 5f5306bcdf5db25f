# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Docker's daemon.json merged key by key: parse, merge, render, validate with dockerd, write, restart when allowed.

The parsers, the merge and the renderer are pure functions. :func:`run` carries a plan out through a module-like
object (``check_mode``, ``params``, ``atomic_move``) and two callables, ``runner(args, environ_update=...)`` returning
``(rc, stdout, stderr)`` (``module.run_command`` by default) and ``which(name)`` (``module.get_bin_path``), so tests
drive it with a real AnsibleModule and a fake systemctl and dockerd.

What shapes the rules:

- dockerd refuses to start when daemon.json is not valid JSON or when a ``log-opts`` value is not a string
  (``"max-file": 2``). A file that cannot be parsed is never rewritten; values the user gives are made strings.
- Restarting dockerd without ``live-restore`` stops every container. Log options apply only to containers created
  afterwards, so a restart alone does not cap the logs of running containers.
- ``dockerd --validate`` exists from Docker 23 on; Debian 12's docker.io (20.10) lacks it, then the check is skipped.
"""

from __future__ import annotations

import json
import os
import re
import tempfile

from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.files import apply_file, plan_file, read_text
from ansible_collections.lowmem.vps.plugins.module_utils.sizes import SizeError, parse_size
from ansible_collections.lowmem.vps.plugins.module_utils.runner import C_LOCALE, commands, tail

DAEMON_JSON = '/etc/docker/daemon.json'
RESTART_POLICIES = ('never', 'if_live_restore', 'always')
DEFAULTS = dict(path=DAEMON_JSON, settings=None, restart='if_live_restore', validate=True)
LOG_KEYS = ('log-driver', 'log-opts')
SCALARS = (str, int, float, bool)
DOCKER_UNIT = 'docker'

NOTE_RECREATE = ('log-driver/log-opts apply only to containers created afterwards: recreate running containers '
                 '(docker compose up -d --force-recreate) for them to take effect')
NOTE_NO_LIVE_RESTORE = ('dockerd was not restarted: without live-restore, restarting dockerd stops every running container; '
                        'restart docker in a maintenance window (systemctl restart docker) for the new settings to apply')
NOTE_LIVE_RESTORE_NEW = ('dockerd was not restarted: live-restore is enabled by this change, but the running dockerd started '
                         'without it, so a restart now would still stop every container; run systemctl reload docker '
                         '(live-restore is reloadable), then restart docker')
NOTE_NEVER = 'dockerd was not restarted (restart=never): the new settings apply at its next start'
NOTE_NO_VALIDATE = 'dockerd %s has no --validate (it came with Docker 23): the merged file was not checked by dockerd'
NOTE_NO_DOCKERD = 'dockerd is not installed: the merged file was not checked by dockerd'


class DaemonJsonError(RefusedError):
    """Bad input or a file the module refuses to act on; raised before anything was changed."""


class DaemonJsonFailure(PartialFailure):
    """A step failed after daemon.json was written; the message says what state the host was left in."""


# ---------------------------------------------------------------- daemon.json

def parse_daemon_json(text, path=DAEMON_JSON):
    """The object in daemon.json ``text`` as a dict in file order; ``{}`` for None (absent) or a blank file.

    Raises DaemonJsonError for text that is not JSON (with line and column) or JSON that is not an object.
    """
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise DaemonJsonError('%s is not valid JSON (line %d col %d): %s' % (path, exc.lineno, exc.colno, exc.msg))
        raise DaemonJsonError('%s is not valid JSON: %s' % (path, exc))
    if not isinstance(data, dict):
        raise DaemonJsonError('%s holds a JSON %s, not an object ({...}): dockerd would not start with it'
                              % (path, _json_type(data)))
    return data


def _json_type(value):
    for kind, name in ((bool, 'boolean'), (dict, 'object'), (list, 'array'), (str, 'string'), (int, 'number'),
                       (float, 'number')):
        if isinstance(value, kind):
            return name
    return 'null'


def log_opt_string(value):
    """A log-opts value as dockerd wants it: ``2`` -> ``'2'``, ``True`` -> ``'true'``; strings stay."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_value(label, value, problems):
    if value is None:
        problems.append('%s is null: give a value (daemon.json keys are not removed by this module)' % label)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_value('%s[%d]' % (label, index), item, problems)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append('%s: key %r is not a string' % (label, key))
            else:
                _check_value('%s.%s' % (label, key), item, problems)
    elif not isinstance(value, SCALARS):
        problems.append('%s: %r is not a JSON value' % (label, value))


def _check_log_opts(opts, problems):
    if 'max-size' in opts:
        try:
            parse_size(opts['max-size'])
        except SizeError as exc:
            problems.append('log-opts.max-size: %s' % exc)
    if 'max-file' in opts and not (opts['max-file'].isdigit() and int(opts['max-file']) >= 1):
        problems.append('log-opts.max-file: %r is not a whole number of files (1 or more)' % opts['max-file'])


def normalise_settings(settings):
    """A copy of ``settings`` ready to merge: log-opts values made strings. Raises DaemonJsonError listing every problem."""
    if not isinstance(settings, dict):
        raise DaemonJsonError('settings must be a dict of daemon.json keys, got %r' % (settings,))
    if not settings:
        raise DaemonJsonError('settings is empty: give at least one daemon.json key')
    problems = []
    result = {}
    for key, value in settings.items():
        if not isinstance(key, str) or not key:
            problems.append('settings key %r is not a non-empty string' % (key,))
            continue
        _check_value(key, value, problems)
        if key == 'log-opts' and value is not None:
            if not isinstance(value, dict):
                problems.append('log-opts must be a dict of strings (max-size, max-file, ...), got %r' % (value,))
                continue
            bad = ['%s=%r' % (name, item) for name, item in value.items() if isinstance(item, (dict, list)) or item is None]
            if bad:
                problems.append('log-opts values must be strings, numbers or booleans: %s' % ', '.join(bad))
                continue
            value = dict((name, log_opt_string(item)) for name, item in value.items())
            _check_log_opts(value, problems)
        elif key == 'log-driver' and value is not None and not isinstance(value, str):
            problems.append('log-driver must be a string (json-file, local, journald, ...), got %r' % (value,))
        result[key] = value
    if problems:
        raise DaemonJsonError('; '.join(problems))
    return result


def merge_settings(current, settings):
    """``current`` with ``settings`` merged in: existing keys keep their place, new keys are appended.

    A dict value merges key-wise into an existing dict (one level deep: ``log-opts``); any other value replaces.
    Neither argument is changed.
    """
    merged = dict(current)
    for key, value in settings.items():
        old = merged.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            inner = dict(old)
            inner.update(value)
            merged[key] = inner
        else:
            merged[key] = value
    return merged


def render_daemon_json(data):
    """daemon.json text: indent 2, keys in the given order, non-ASCII kept, a trailing newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + '\n'


def non_string_log_opts(data):
    """Sorted ``[(name, value)]`` of log-opts values that are not strings (dockerd refuses to start with them)."""
    opts = data.get('log-opts')
    if not isinstance(opts, dict):
        return []
    return sorted((name, value) for name, value in opts.items() if not isinstance(value, str))


def live_restore(data):
    """Whether ``live-restore`` is on in the daemon.json object (only JSON ``true`` counts, as for dockerd)."""
    return data.get('live-restore') is True


def restart_decision(policy, changed, before, after):
    """(restart now, note or None) for a restart ``policy`` once the file changed from ``before`` to ``after`` (dicts).

    ``if_live_restore`` restarts only when live-restore is on in both: a daemon started without it stops every
    container when it stops, even if the new file enables it.
    """
    if policy not in RESTART_POLICIES:
        raise DaemonJsonError('restart %r must be one of %s' % (policy, ', '.join(RESTART_POLICIES)))
    if not changed:
        return False, None
    if policy == 'always':
        return True, None
    if policy == 'never':
        return False, NOTE_NEVER
    if not live_restore(after):
        return False, NOTE_NO_LIVE_RESTORE
    if not live_restore(before):
        return False, NOTE_LIVE_RESTORE_NEW
    return True, None


def logging_changed(before, after):
    return any(before.get(key) != after.get(key) for key in LOG_KEYS)


# ---------------------------------------------------------------- dockerd / systemctl


def dockerd_validates(runner, dockerd):
    """(supports --validate, version such as ``20.10.24+dfsg1``) from ``dockerd --version`` and ``dockerd --help``."""
    rc, out, _err = runner([dockerd, '--version'], environ_update=C_LOCALE)
    match = re.search(r'version\s+([^\s,]+)', out or '') if rc == 0 else None
    version = match.group(1) if match else '(version unknown)'
    rc, out, err = runner([dockerd, '--help'], environ_update=C_LOCALE)
    return bool(re.search(r'(^|\s)--validate\b', (out or '') + '\n' + (err or ''))), version


def validate_text(runner, dockerd, text, directory=None):
    """Run ``dockerd --validate --config-file TEMP`` on ``text``; None when dockerd accepts it, else its complaint."""
    fd, tmp_path = tempfile.mkstemp(prefix='daemon.json.', suffix='.check', dir=directory)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
        rc, out, err = runner([dockerd, '--validate', '--config-file', tmp_path], environ_update=C_LOCALE)
    finally:
        os.unlink(tmp_path)
    if rc == 0:
        return None
    return tail(rc, out, err).replace(tmp_path, '<merged daemon.json>')


def _read(path):
    try:
        return read_text(path)
    except UnicodeDecodeError as exc:
        raise DaemonJsonError('%s is not valid JSON (not UTF-8 text: %s)' % (path, exc))
    except OSError as exc:
        raise DaemonJsonError('%s cannot be read: %s' % (path, exc.strerror or exc))


def run(module, runner=None, which=None, params=None):
    """Merge the settings into daemon.json, check them with dockerd, write, restart by policy; return the module result.

    Raises DaemonJsonError (nothing changed) for bad input, an unreadable file and a refused validation, and
    DaemonJsonFailure when the restart fails after the file was written.
    """
    runner, which = commands(module, runner, which)
    params = dict(DEFAULTS, **dict((key, value) for key, value in (params or module.params).items() if value is not None))
    path, policy = params['path'], params['restart']
    if policy not in RESTART_POLICIES:
        raise DaemonJsonError('restart %r must be one of %s' % (policy, ', '.join(RESTART_POLICIES)))
    settings = normalise_settings(params['settings'])

    before_text = _read(path)
    before = parse_daemon_json(before_text, path)
    after = merge_settings(before, settings)
    unchanged = before_text is not None and render_daemon_json(before) == render_daemon_json(after)
    # Same content: keep the file as it is written (formatting included) instead of re-rendering it.
    plan = plan_file(path, before_text if unchanged else render_daemon_json(after))
    changed = plan.changed

    warnings, notes = [], []
    leftover = non_string_log_opts(after)
    if leftover:
        warnings.append('%s: log-opts %s %s not a string: dockerd refuses to start with non-string log-opts values; give '
                        'them in settings (they are written as strings) or quote them in the file'
                        % (path, ', '.join('%s=%s' % (name, json.dumps(value)) for name, value in leftover),
                           'is' if len(leftover) == 1 else 'are'))

    validated = False
    if changed and params['validate']:
        dockerd = which('dockerd')
        if not dockerd:
            notes.append(NOTE_NO_DOCKERD)
        else:
            supported, version = dockerd_validates(runner, dockerd)
            if not supported:
                notes.append(NOTE_NO_VALIDATE % version)
            else:
                complaint = validate_text(runner, dockerd, plan.after)
                if complaint:
                    raise DaemonJsonError('dockerd --validate refused the merged %s: %s' % (path, complaint))
                validated = True

    restart, note = restart_decision(policy, changed, before, after)
    if note:
        notes.append(note)
    systemctl = None
    if restart and not module.check_mode:
        systemctl = which('systemctl')
        if not systemctl:
            raise DaemonJsonError('systemctl is not installed, so docker cannot be restarted (restart=%s); use restart=never '
                                  'and restart dockerd yourself' % policy)

    recreate = changed and logging_changed(before, after)
    if recreate:
        notes.append(NOTE_RECREATE)
    result = dict(changed=changed, path=path, settings=after, restarted=False, restart_needed=changed and not restart,
                  recreate_needed=recreate, live_restore=live_restore(after), validated=validated, diff=plan.diff(),
                  notes=notes, warnings=warnings)

    apply_file(module, plan)
    if restart:
        if not module.check_mode:
            rc, out, err = runner([systemctl, 'restart', DOCKER_UNIT], environ_update=C_LOCALE)
            if rc != 0:
                raise DaemonJsonFailure('%s written, but systemctl restart docker failed: %s; dockerd may be stopped, '
                                        'check journalctl -u docker' % (path, tail(rc, out, err)),
                                        result=dict(changed=True, settings=after, restarted=False, restart_needed=True,
                                                    recreate_needed=recreate))
        result['restarted'] = True
    return result
