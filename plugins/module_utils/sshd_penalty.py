# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sshd's per-source penalties (OpenSSH 9.8+) spare a list of addresses: one drop-in, checked with ``sshd -t``.

Behind a local proxy every SSH client reaches sshd from the proxy's address; a few clients that gave up during a memory
storm get that address refused for everyone. :func:`run` does in one module call what took up to five tasks (each costs
7-25 s on a 512 MB TCG guest):

- an empty list: the drop-in is removed when it exists, then ssh is reloaded; no command runs when there is none;
- else ``sshd -V`` gives OpenSSH's version (printed to stderr; some versions exit non-zero for ``-V``, so the version is
  read whatever the exit code). Before 9.8 there are no penalties: nothing is written, RV(supported) is false and the
  message says why. Without sshd nothing is written either;
- from 9.8 the drop-in is planned (:func:`files.plan_file`); a new text is written to a temporary file in the same
  directory, checked with ``sshd -t -f TEMP`` (as ``copy``'s ``validate``), then moved into place, and ssh is reloaded
  (``systemctl reload ssh``: a reload keeps every session and the listener, a restart is never used).

Every address is checked with :mod:`ipaddress` before anything runs (:class:`SshdPenaltyError`); a reload that fails
after the write raises :class:`SshdPenaltyFailure`, with the write recorded on the result.Context, so the task still
reports ``changed`` and the diff.
"""

from __future__ import annotations

import ipaddress
import os
import re

from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.files import apply_file, comment_lines, plan_file
from ansible_collections.lowmem.vps.plugins.module_utils.runner import commands, tail

DEFAULT_PATH = '/etc/ssh/sshd_config.d/50-lowmem-penalty-exempt.conf'
DEFAULT_SSHD = '/usr/sbin/sshd'
MODE = 0o644
FIRST_WITH_PENALTIES = (9, 8)
SERVICE = 'ssh'
EXPLANATION = "# SSH reached through a local proxy: sshd's per-source penalties must not refuse the proxy's address."
NOT_SUPPORTED = 'OpenSSH before 9.8 has no per-source penalties, nothing to exempt'
_VERSION_RE = re.compile(r'OpenSSH_(\d+)\.(\d+)')


class SshdPenaltyError(RefusedError):
    """Bad input, or sshd refused the new drop-in: nothing was written."""


class SshdPenaltyFailure(PartialFailure):
    """The drop-in was written or removed, then reloading ssh failed."""


def check_addresses(exempt):
    """``exempt`` as a list of address strings; raises SshdPenaltyError naming every entry that is no IPv4/IPv6
    address or CIDR range (host bits may be set, as sshd accepts them)."""
    if isinstance(exempt, str) or not isinstance(exempt, (list, tuple)):
        raise SshdPenaltyError('exempt must be a list of IPv4/IPv6 addresses or CIDR ranges, got %r' % (exempt,))
    bad = []
    for entry in exempt:
        try:
            if not isinstance(entry, str) or entry != entry.strip():
                raise ValueError(entry)
            if '/' in entry:
                ipaddress.ip_network(entry, strict=False)
            else:
                ipaddress.ip_address(entry)
        except ValueError:
            bad.append(entry)
    if bad:
        raise SshdPenaltyError('exempt must be a list of IPv4/IPv6 addresses or CIDR ranges (e.g. [127.0.0.1, "::1"]); '
                               'not addresses: %s' % ', '.join(repr(entry) for entry in bad))
    return list(exempt)


def render(exempt, header=None):
    """The drop-in's text: the header as comment lines, why, and ``PerSourcePenaltyExemptList a,b``."""
    lines = comment_lines(header)
    lines.append(EXPLANATION)
    lines.append('PerSourcePenaltyExemptList %s' % ','.join(exempt))
    return '\n'.join(lines) + '\n'


def parse_version(text):
    """((major, minor), the line that names it) from ``sshd -V`` output, or (None, None) when it names no OpenSSH."""
    for line in (text or '').splitlines():
        match = _VERSION_RE.search(line)
        if match:
            return (int(match.group(1)), int(match.group(2))), line.strip()
    return None, None


def read_version(runner, sshd):
    """((major, minor) or None, the version line or what sshd printed instead) from one ``sshd -V`` run."""
    rc, out, err = runner([sshd, '-V'])
    version, line = parse_version('%s\n%s' % (out or '', err or ''))
    return version, line or '`%s -V` printed no OpenSSH version (%s)' % (sshd, tail(rc, out, err))


def sshd_check(runner, sshd):
    """A files.apply_file validate hook: ``sshd -t -f TEMP``; raises SshdPenaltyError with sshd's complaint."""
    def check(tmp_path):
        rc, out, err = runner([sshd, '-t', '-f', tmp_path])
        if rc != 0:
            raise SshdPenaltyError('`%s -t` refused the new drop-in (rc=%d): %s' % (sshd, rc, tail(rc, out, err)))
    return check


def reload_ssh(module, runner, which, plan):
    """``systemctl reload ssh`` after ``plan`` was carried out; recorded as it happens, SshdPenaltyFailure on failure."""
    done = '%s %s' % (plan.path, 'removed' if plan.after is None else 'written')
    systemctl = which('systemctl')
    if not systemctl:
        raise SshdPenaltyFailure('%s, but systemctl is not installed to reload ssh' % done, dict(path=plan.path))
    rc, out, err = runner([systemctl, 'reload', SERVICE])
    if rc != 0:
        raise SshdPenaltyFailure('%s, but `systemctl reload %s` failed (rc=%d): %s' % (done, SERVICE, rc, tail(rc, out, err)),
                                 dict(path=plan.path, reloaded=False))
    module.wrote()
    return True


def _version_text(version):
    return '%d.%d' % version if version else None


def run(module, runner=None, which=None):
    """Everything the sshd_penalty_exempt module does; ``module`` is a result.Context. Tests replace the commands
    (``runner``, ``which``); the drop-in's ``path`` and ``sshd`` are parameters."""
    runner, which = commands(module, runner, which)
    params = module.params
    exempt = check_addresses(params['exempt'] or [])
    path = params['path']
    result = dict(changed=False, path=path, version=None, supported=None, reloaded=False)
    if exempt:
        sshd = params['sshd']
        if not os.access(sshd, os.X_OK):
            result.update(supported=False, msg='no sshd found at %s: nothing written' % sshd)
            return result
        version, line = read_version(runner, sshd)
        result['version'] = _version_text(version)
        result['supported'] = bool(version and version >= FIRST_WITH_PENALTIES)
        if not result['supported']:
            result['msg'] = '%s: %s' % (line, NOT_SUPPORTED)
            return result
        plan = plan_file(path, render(exempt, params['header']), MODE)
        apply_file(module, plan, validate=sshd_check(runner, sshd))
    else:
        plan = plan_file(path, None)
        apply_file(module, plan)
    result.update(changed=plan.changed, diff=plan.diff())
    if plan.before != plan.after and params['reload'] and not module.check_mode:
        result['reloaded'] = reload_ssh(module, runner, which, plan)
    result['msg'] = summary(plan, module.check_mode, result['reloaded'])
    return result


def summary(plan, check_mode, reloaded):
    """One line on what was done: '... is as wanted', '... written; ssh reloaded', '... would be removed'."""
    if not plan.changed:
        return '%s is as wanted' % plan.path if plan.after is not None else '%s is absent' % plan.path
    done = 'removed' if plan.after is None else 'written'
    if check_mode:
        return '%s would be %s' % (plan.path, done)
    return '%s %s%s' % (plan.path, done, '; ssh reloaded (every session kept)' if reloaded else '')
