# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""journald caps in one step: a ``journald.conf.d`` drop-in, and when it changed, journald restarted, its files rotated
and vacuumed down to the cap, the footprint read before and after.

On a 512 MB TCG VM every Ansible task costs 7-35 s; the log_caps role used seven for this, the module does it in one.
Commands run through :func:`runner.commands` (list argv, C locale). A rerun with the drop-in in place runs no command.
"""

from __future__ import annotations

import os
import re

from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.files import apply_file, comment_lines, plan_file
from ansible_collections.lowmem.vps.plugins.module_utils.runner import commands, tail

DEFAULT_PATH = '/etc/systemd/journald.conf.d/50-lowmem-log-caps.conf'
DEFAULT_HEADER = 'Ansible managed: lowmem.vps.journald_caps'
DEFAULT_VACUUM_SIZE = '128M'
# The line the log_caps role's template wrote under the header: kept, so hosts capped by the role see no change.
INTRO = '# Caps from lowmem.vps (log_caps role): journald may not take the disk or the RAM of a small box.'
SECTION = '[Journal]'
UNIT = 'systemd-journald'
_KEY_RE = re.compile(r'[A-Za-z]+')
_BAD_VALUE_RE = re.compile(r'[\s=]')
# journalctl's sizes (systemd's parse_size): a number, optionally with a fraction, and a 1024-based suffix.
_SIZE_RE = re.compile(r'[0-9]+(?:\.[0-9]+)?[BKMGTPE]?')
# systemd 252 (Debian 12): "Archived and active journals take up 24.0M in the file system."
_USAGE_RE = re.compile(r'take up (\S+)')


class JournaldCapsError(RefusedError):
    """Bad settings, or a command the module needs is missing: nothing was written."""


class JournaldCapsFailure(PartialFailure):
    """The drop-in was written, then restarting journald or rotating and vacuuming failed."""


def render_value(value):
    """A setting's value as journald reads it: YAML booleans as yes/no, None as empty (journald's default)."""
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    return '' if value is None else str(value)


def check_settings(settings):
    """[(key, value text)] in the given order; raises JournaldCapsError naming every bad key and value."""
    if not isinstance(settings, dict):
        raise JournaldCapsError('settings must map journald.conf keys to values, got %r' % (settings,))
    problems, pairs = [], []
    for key, value in settings.items():
        if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
            problems.append('key %r is not a journald.conf key (letters only)' % (key,))
            continue
        if isinstance(value, (dict, list, tuple)):
            problems.append('%s: %r is not a single value' % (key, value))
            continue
        text = render_value(value)
        if _BAD_VALUE_RE.search(text):
            problems.append("%s: %r contains whitespace or '='" % (key, text))
            continue
        pairs.append((key, text))
    if problems:
        raise JournaldCapsError('; '.join(problems))
    return pairs


def render_dropin(pairs, header=DEFAULT_HEADER):
    """The drop-in's text: the header as comment lines, the role's intro line, ``[Journal]``, ``KEY=VALUE`` lines."""
    lines = comment_lines(header) + [INTRO, SECTION] + ['%s=%s' % pair for pair in pairs]
    return '\n'.join(lines) + '\n'


def check_vacuum_size(vacuum_size, settings):
    """The size to vacuum to: ``vacuum_size``, else the settings' SystemMaxUse, else 128M; refused unless journalctl
    takes it (so a bad size cannot fail after the drop-in was written)."""
    size = vacuum_size or render_value(settings.get('SystemMaxUse')) or DEFAULT_VACUUM_SIZE
    if not _SIZE_RE.fullmatch(size):
        raise JournaldCapsError('vacuum size %r is not a size journalctl takes (such as 128M or 1.5G); give vacuum_size'
                                % (size,))
    return size


def parse_usage(text):
    """The size in ``journalctl --disk-usage`` output (``24.0M``), or None when there is none."""
    match = _USAGE_RE.search(text or '')
    return match.group(1) if match else None


class Steps(object):
    """The commands of one run, each recorded (``actions``, ``module.wrote``) as it changes the host."""

    def __init__(self, module, runner, path, plan):
        self.module, self.runner, self.path, self.plan = module, runner, path, plan
        self.actions = []

    def fail(self, text):
        done = ', '.join(self.actions) if self.actions else 'nothing'
        return JournaldCapsFailure('%s; done so far: %s' % (text, done),
                                   dict(path=self.path, actions=list(self.actions), diff=self.plan.diff()))

    def run(self, argv, change):
        """Run ``argv``; its stdout. A failure raises JournaldCapsError before any write, JournaldCapsFailure after."""
        rc, out, err = self.runner(argv)
        command = ' '.join([os.path.basename(argv[0])] + list(argv[1:]))
        if rc != 0:
            text = '`%s` failed (rc=%s): %s' % (command, rc, tail(rc, out, err))
            if not self.actions:
                raise JournaldCapsError(text)
            raise self.fail(text)
        if change:
            self.actions.append(command)
            self.module.wrote()
        return out

    def write(self):
        """apply_file of the plan (which records its own diff); ``actions`` names it once it is written."""
        if apply_file(self.module, self.plan):
            self.actions.append('write %s' % self.path)


def run(module, runner=None, which=None, paths=None):
    """Everything the journald_caps module does; ``module`` is a result.Context. Tests replace the commands (``runner``,
    ``which``); the drop-in's path is an option, so ``paths`` is accepted for the one signature of every run() and not
    used."""
    runner, which = commands(module, runner, which)
    params = module.params
    pairs = check_settings(params['settings'])
    size = check_vacuum_size(params.get('vacuum_size'), params['settings'])
    path = params['path']
    plan = plan_file(path, render_dropin(pairs, params['header']), 0o644)
    steps = Steps(module, runner, path, plan)
    result = dict(changed=plan.changed, path=path, vacuum_size=size, usage_before=None, usage_after=None,
                  actions=steps.actions, diff=plan.diff())
    # Only new caps need journald's attention: a rerun (or a mode fix) runs no command at all.
    live = plan.before != plan.after and params['apply']
    if live:
        journalctl, systemctl = which('journalctl'), which('systemctl')
        missing = [name for name, found in (('journalctl', journalctl), ('systemctl', systemctl)) if not found]
        if missing:
            raise JournaldCapsError('%s %s not installed to apply the caps (or use apply=false)'
                                    % (' and '.join(missing), 'is' if len(missing) == 1 else 'are'))
        # journald still runs with the old caps: this is the footprint "before" (read-only, so in check mode too).
        result['usage_before'] = parse_usage(steps.run([journalctl, '--disk-usage'], change=False))
    steps.write()
    if live and not module.check_mode:
        steps.run([systemctl, 'restart', UNIT], change=True)
        # journald only shrinks an existing footprint when it rotates and vacuums; one journalctl does both, in order.
        steps.run([journalctl, '--rotate', '--vacuum-size=%s' % size], change=True)
        result['usage_after'] = parse_usage(steps.run([journalctl, '--disk-usage'], change=False))
    return result
