# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A systemd service, its timer and the files it runs, installed or removed in one module call.

Each Ansible task costs 7-12 s on a 512 MB TCG guest; a role that copied a script, templated two units, reloaded
systemd and enabled the timer in separate tasks paid that five times. :func:`run` does it all in one:

- present: every file is planned (:func:`files.plan_file`) and written atomically only when it differs; when a unit
  file changed, ``systemctl daemon-reload``; then the timer is enabled when ``is-enabled`` says it is not, and
  restarted when the units changed, else started when ``is-active`` says it is not running;
- absent: ``systemctl disable --now NAME.timer`` when the timer's unit file exists, then every file that exists is
  removed, and ``daemon-reload`` runs when a unit file went.

All input is checked before anything is written (:class:`TimerUnitsError`); a systemctl step that fails after a write
raises :class:`TimerUnitsFailure`, and every write and live step is recorded on the result.Context as it happens, so
such a failure still reports ``changed`` and the diff. Commands go through :func:`runner.commands` (list argv, C
locale); the unit directory is a parameter, so tests run on files under a temporary directory with a fake runner.
"""

from __future__ import annotations

import os
import re

from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.files import apply_file, plan_file, values_diff
from ansible_collections.lowmem.vps.plugins.module_utils.runner import commands, tail

UNIT_DIR = '/etc/systemd/system'
UNIT_MODE = 0o644
# What systemd accepts in a unit name (the suffix .service/.timer is added here).
NAME_RE = re.compile(r'^[A-Za-z0-9:_.@-]+$')
MODE_RE = re.compile(r'^[0-7]{3,4}$')
STATE_NAMES = ('enabled', 'active')


class TimerUnitsError(RefusedError):
    """Bad input, or systemctl missing where it is needed: nothing was written."""


class TimerUnitsFailure(PartialFailure):
    """A systemctl step failed; what was written before it is in the result."""


def check_name(name):
    """``name`` when it can be a unit's base name; raises TimerUnitsError otherwise."""
    if not isinstance(name, str) or not NAME_RE.match(name) or name in ('.', '..'):
        raise TimerUnitsError('name %r is not a unit base name: use only letters, digits and : _ . @ - (no /, no spaces)'
                              % (name,))
    if name.endswith(('.service', '.timer')):
        raise TimerUnitsError('name %r ends in its unit type: give the base name (%s)' % (name, name.rsplit('.', 1)[0]))
    return name


def check_path(path, label):
    if not isinstance(path, str) or not os.path.isabs(path):
        raise TimerUnitsError('%s must be an absolute path, got %r' % (label, path))
    return os.path.normpath(path)


def parse_mode(mode, label):
    """``'0755'`` (or ``'755'``) as an int; raises TimerUnitsError for anything else, a number too: YAML reads an
    unquoted 0644 as the decimal 420."""
    if not isinstance(mode, str) or not MODE_RE.match(mode):
        raise TimerUnitsError("%s: mode must be a quoted string of octal digits such as '0755' or '0644', got %r"
                              % (label, mode))
    return int(mode, 8)


def wanted_files(params):
    """[(path, content, mode)] for the service, the timer and every entry of O(files), checked; content and mode are
    None for state=absent. Raises TimerUnitsError naming the first problem."""
    name = check_name(params['name'])
    unit_dir = check_path(params.get('unit_dir') or UNIT_DIR, 'unit_dir')
    present = params.get('state', 'present') == 'present'
    wanted = []
    for suffix in ('service', 'timer'):
        content = params.get(suffix)
        if present and content is None:
            raise TimerUnitsError('%s: the content of %s.%s is required for state=present' % (suffix, name, suffix))
        wanted.append((os.path.join(unit_dir, '%s.%s' % (name, suffix)), content, UNIT_MODE if present else None))
    for index, entry in enumerate(params.get('files') or []):
        label = 'files[%d]' % index
        path = check_path((entry or {}).get('path'), '%s.path' % label)
        if not present:
            wanted.append((path, None, None))
            continue
        if entry.get('content') is None:
            raise TimerUnitsError('%s: content is required for state=present (%s)' % (label, path))
        wanted.append((path, entry['content'], parse_mode('0644' if entry.get('mode') is None else entry['mode'], '%s (%s)' % (label, path))))
    seen = set()
    for path, _content, _mode in wanted:
        if path in seen:
            raise TimerUnitsError('%s is given twice (a unit file and files, or twice in files)' % path)
        seen.add(path)
    return wanted


class Systemctl(object):
    """The timer's systemctl calls: each live step is recorded on the context (and in ``actions``) as it happens; in
    check mode the steps are only listed."""

    def __init__(self, module, runner, which, name, needed):
        self.module = module
        self.runner = runner
        self.binary = which('systemctl') if needed else None
        self.timer = '%s.timer' % name
        self.written = []
        self.actions = []
        if needed and not self.binary:
            if not module.check_mode:
                raise TimerUnitsError('systemctl is not installed: %s needs systemd' % self.timer)
            module.warn('systemctl is not installed: the actions are predicted for a timer neither enabled nor running')

    def query(self, verb):
        """True when ``systemctl VERB --quiet NAME.timer`` succeeds (is-enabled, is-active); False without systemctl."""
        return bool(self.binary) and self.runner([self.binary, verb, '--quiet', self.timer])[0] == 0

    def step(self, *args, **diff):
        """Run ``systemctl ARGS`` (the timer named last, but for daemon-reload), or only list it in check mode."""
        action = ' '.join(args)
        self.actions.append(action)
        if self.module.check_mode:
            return
        argv = [self.binary] + list(args) + ([] if args == ('daemon-reload',) else [self.timer])
        rc, out, err = self.runner(argv)
        if rc != 0:
            done = self.actions[:-1]
            raise TimerUnitsFailure('`systemctl %s` failed (rc=%d): %s; %s' % (
                ' '.join(argv[1:]), rc, tail(rc, out, err),
                'written before it: %s' % ', '.join(self.written) if self.written else 'no file was changed'),
                dict(actions=done, failed_action=action, files_changed=list(self.written)))
        self.module.wrote(state_diff(self.timer, **diff) if diff else None)


def state_diff(timer, before=None, after=None):
    return values_diff('%s (systemd)' % timer, [key for key in STATE_NAMES if key in (before or {})], before or {},
                       after or {})


def yes_no(flag):
    return 'yes' if flag else 'no'


def present(module, systemctl, plans):
    units_changed = any(plan.changed for plan in plans[:2])
    for plan in plans:
        if apply_file(module, plan):
            systemctl.written.append(plan.path)
    if units_changed:
        systemctl.step('daemon-reload')
    enabled, active = systemctl.query('is-enabled'), systemctl.query('is-active')
    if not enabled:
        systemctl.step('enable', before={'enabled': 'no'}, after={'enabled': 'yes'})
    if units_changed or not active:
        systemctl.step('restart' if units_changed else 'start', before={'active': yes_no(active)}, after={'active': 'yes'})
    before = {'enabled': yes_no(enabled), 'active': yes_no(active)}
    return before, {'enabled': 'yes', 'active': 'yes'}


def absent(module, systemctl, plans):
    timer_exists = os.path.exists(plans[1].path)
    before = {}
    if timer_exists:
        before = {'enabled': yes_no(systemctl.query('is-enabled')), 'active': yes_no(systemctl.query('is-active'))}
        systemctl.step('disable', '--now', before=before, after={'enabled': 'no', 'active': 'no'})
    for plan in plans:
        if apply_file(module, plan):
            systemctl.written.append(plan.path)
    if any(plan.changed for plan in plans[:2]):
        systemctl.step('daemon-reload')
    return before, dict((key, 'no') for key in before)


def run(module, runner=None, which=None):
    """Everything the timer_units module does; ``module`` is a result.Context. Tests replace the commands (``runner``,
    ``which``) and point O(unit_dir) and the file paths under a temporary directory."""
    runner, which = commands(module, runner, which)
    params = module.params
    state = params.get('state') or 'present'
    wanted = wanted_files(params)
    if state == 'absent':
        removed = [check_path(path, 'remove[%d]' % index) for index, path in enumerate(params.get('remove') or [])]
        wanted.extend((path, None, None) for path in removed if path not in [item[0] for item in wanted])
    for path, _content, _mode in wanted:
        if os.path.isdir(path):
            raise TimerUnitsError('%s is a directory, not a file' % path)
    plans = [plan_file(path, content, mode) for path, content, mode in wanted]
    # Present always asks systemctl about the timer; absent only when there are units to stop or reload for.
    needed = state == 'present' or any(plan.changed for plan in plans[:2])
    systemctl = Systemctl(module, runner, which, params['name'], needed)
    before, after = (present if state == 'present' else absent)(module, systemctl, plans)
    diff = [plan.diff() for plan in plans if plan.changed]
    if before != after:
        diff.append(state_diff(systemctl.timer, before, after))
    files_changed = [plan.path for plan in plans if plan.changed]
    return dict(changed=bool(files_changed or systemctl.actions), name=params['name'], state=state,
                actions=systemctl.actions, files_changed=files_changed, diff=diff)
