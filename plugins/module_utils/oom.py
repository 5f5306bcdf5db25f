# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Who dies first: OOMScoreAdjust= drop-ins for entry services, the same value set live, and a read-only audit.

The parsers, checks and planners are pure functions over text or plain values, with the system paths
(``/proc``, ``/sys/fs/cgroup``, ``/etc/systemd/system``) as default arguments. :func:`run` carries a plan out
through a module-like object (``check_mode``, ``params``, ``atomic_move``) and two callables,
``runner(args, environ_update=...)`` returning ``(rc, stdout, stderr)`` (``module.run_command`` by default) and
``which(name)`` (``module.get_bin_path``), so tests drive it with a real AnsibleModule and a fake systemctl.

What shapes the rules:

- systemd sets a unit's ``OOMScoreAdjust=`` on the processes it starts; children inherit it. Changing the
  drop-in changes nothing running until the unit's next start, and restarting an entry service (nginx carries
  SSH sessions through its stream listener) cuts people off. So the value is also written to
  ``/proc/PID/oom_score_adj`` of the running processes, and only where that lowers it: a process that set itself
  lower (OpenSSH's listener sets itself to -1000) keeps its own value.
- OpenSSH's listener remembers the value it started with and gives it back to every session it forks, so the
  ssh unit's value is what every login shell gets: -1000 there makes every shell (and what it runs) unkillable.
- Lowering oom_score_adj needs CAP_SYS_RESOURCE; inside a container the write is refused (EACCES): the drop-in
  still applies at the unit's next start. Check mode predicts that refusal from the module's own CapEff
  (:func:`lowering_allowed`), so ``--check`` reports the same changes a real run makes.
"""

from __future__ import annotations

import errno
import os
import re

from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.files import apply_file, comment_lines, plan_file
from ansible_collections.lowmem.vps.plugins.module_utils.runner import C_LOCALE, commands, tail

PROC_ROOT = '/proc'
CGROUP_ROOT = '/sys/fs/cgroup'
SYSTEMD_DIR = '/etc/systemd/system'
DEFAULT_SCORE = -700
DEFAULT_DROPIN = '50-lowmem-oom-protect.conf'
DEFAULT_HEADER = 'Ansible managed: lowmem.vps.oom_protect'
DEFAULTS = dict(units=None, score=DEFAULT_SCORE, dropin_name=DEFAULT_DROPIN, header=DEFAULT_HEADER,
                allow_unkillable_sessions=False, live=True, daemon_reload=True, systemd_dir=SYSTEMD_DIR)
SHOW_PROPERTIES = ('Id', 'LoadState', 'MainPID', 'ControlGroup', 'OOMScoreAdjust')
SCORE_MIN, SCORE_MAX = -1000, 1000
SCOPES = ('main', 'all')
UNIT_KEYS = ('name', 'score', 'live_scope')
SSH_UNITS = ('ssh.service', 'sshd.service')
# systemd's unit types: a name ending in one of these has its suffix already.
UNIT_TYPES = ('service', 'socket', 'device', 'mount', 'automount', 'swap', 'target', 'path', 'timer', 'slice', 'scope')
UNIT_NAME_MAX = 255
# Where a unit's cgroup.procs is, in this order: hybrid (v2 tree under unified/), pure v2, v1 (name=systemd).
CGROUP_LAYOUTS = ('/unified', '', '/systemd')
WRITE_REFUSED = (errno.EACCES, errno.EPERM)
CAP_SYS_RESOURCE = 24   # linux/capability.h
VANISHED = (errno.ENOENT, errno.ESRCH)

_UNIT_CHARS_RE = re.compile(r'^[A-Za-z0-9:_.@\\-]+$')
_DROPIN_RE = re.compile(r'^[A-Za-z0-9_.@-]+\.conf$')
_INT_RE = re.compile(r'^\s*[-+]?[0-9]+\s*$')


class Paths(object):
    """The kernel's trees oom_protect reads and writes (``/proc``, ``/sys/fs/cgroup``); tests point them under a
    temporary tree."""

    def __init__(self, proc_root=PROC_ROOT, cgroup_root=CGROUP_ROOT):
        self.proc_root = proc_root
        self.cgroup_root = cgroup_root


class OomError(RefusedError):
    """Bad input or a state the module refuses to act on; raised before anything was changed."""


class OomFailure(PartialFailure):
    """A step failed after drop-ins may have been written; the message says what state the host was left in."""


# ---------------------------------------------------------------- input

def is_ssh(name):
    """Whether ``name`` (``ssh``, ``sshd.service``) is OpenSSH's server unit."""
    return unit_name(name) in SSH_UNITS


def unit_name(name):
    """``ssh`` -> ``ssh.service``; a name that ends in a unit type keeps it (``php8.2-fpm`` has none)."""
    return name if name.rsplit('.', 1)[-1] in UNIT_TYPES and '.' in name else name + '.service'


def _as_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_RE.match(value):
        return int(value)
    return None


def _name_problem(name):
    if not isinstance(name, str) or not name:
        return '%r is not a unit name (expected a non-empty string)' % (name,)
    if '/' in name:
        return 'unit name %r contains /: give the unit name (ssh, nginx.service), not a path' % name
    if not _UNIT_CHARS_RE.match(name) or name[0] in '.@':
        return ('unit name %r is not a valid systemd unit name (letters, digits and :_.@\\- only, not starting with . or @)'
                % name)
    full = unit_name(name)
    if len(full) > UNIT_NAME_MAX:
        return 'unit name %r is longer than %d characters' % (name, UNIT_NAME_MAX)
    if not full.endswith('.service'):
        return 'unit %s is not a service: OOMScoreAdjust= is written to a [Service] section' % name
    return None


def normalise_units(units, score=DEFAULT_SCORE):
    """[{name, score, live_scope}] from a list of unit names or dicts; raises OomError listing every problem.

    ``.service`` is added to names without a unit type; ``score`` fills a missing score; ``live_scope`` defaults to
    ``main`` for ssh/sshd (the listener only: sessions keep what the listener gave them) and ``all`` otherwise.
    """
    if units is None:
        units = []
    if isinstance(units, (str, dict)) or not isinstance(units, (list, tuple)):
        raise OomError('units must be a list of unit names or dicts, got %r' % (units,))
    problems = []
    result = []
    for index, item in enumerate(units):
        label = 'units[%d]' % index
        if isinstance(item, str):
            item = {'name': item}
        if not isinstance(item, dict):
            problems.append('%s: %r is neither a unit name nor a dict' % (label, item))
            continue
        unknown = sorted(str(key) for key in item if key not in UNIT_KEYS)
        if unknown:
            problems.append('%s: unknown key%s %s (allowed: %s)'
                            % (label, 's' if len(unknown) > 1 else '', ', '.join(unknown), ', '.join(UNIT_KEYS)))
            continue
        if 'name' not in item:
            problems.append('%s: name is required' % label)
            continue
        problem = _name_problem(item['name'])
        if problem:
            problems.append('%s: %s' % (label, problem))
            continue
        name = unit_name(item['name'])
        value = item.get('score')
        unit_score = score if value is None else _as_int(value)
        if unit_score is None:
            problems.append('%s (%s): score %r is not a whole number' % (label, name, value))
            continue
        scope = item.get('live_scope')
        if scope is None:
            scope = 'main' if name in SSH_UNITS else 'all'
        elif scope not in SCOPES:
            problems.append('%s (%s): live_scope %r must be one of %s' % (label, name, scope, ', '.join(SCOPES)))
            continue
        result.append({'name': name, 'score': unit_score, 'live_scope': scope})
    if problems:
        raise OomError('; '.join(problems))
    return result


def ssh_problem(name, score):
    """Why ``score`` is refused for the ssh unit ``name`` (None when it is not -1000 or not ssh)."""
    if score != SCORE_MIN or not is_ssh(name):
        return None
    return ('%s: score -1000 is refused: OpenSSH\'s listener already sets itself to -1000, and the unit\'s value is what '
            'every session (and so every shell) gets back, so -1000 there makes every login shell unkillable; use a value '
            'above -1000 such as %d, or set allow_unkillable_sessions=true if that is really wanted' % (name, DEFAULT_SCORE))


def _range_problem(label, score):
    if not SCORE_MIN <= score <= SCORE_MAX:
        return '%s: score %d is outside %d..%d' % (label, score, SCORE_MIN, SCORE_MAX)
    return None


def check_units(units, allow_unkillable_sessions=False, score=None):
    """Raise OomError listing every problem of normalised ``units`` (and the top-level ``score`` when given):
    scores outside -1000..1000, a unit given twice, -1000 for ssh/sshd unless ``allow_unkillable_sessions``."""
    problems = []
    if score is not None:
        problems.append(_range_problem('score', score))
    seen = set()
    for unit in units:
        name = unit['name']
        if name in seen:
            problems.append('%s is listed more than once' % name)
            continue
        seen.add(name)
        problems.append(_range_problem(name, unit['score']))
        if not allow_unkillable_sessions:
            problems.append(ssh_problem(name, unit['score']))
    problems = [problem for problem in problems if problem]
    if problems:
        raise OomError('; '.join(problems))


def check_dropin_name(name):
    if not isinstance(name, str) or not _DROPIN_RE.match(name) or name.startswith('.'):
        raise OomError('dropin_name %r must be a file name ending in .conf (letters, digits and _.@- only)' % (name,))
    return name


# ---------------------------------------------------------------- systemd

def show_command(systemctl, names):
    """``systemctl show -p Id ... -- UNIT...``: one call for every unit."""
    args = [systemctl, 'show']
    for prop in SHOW_PROPERTIES:
        args.extend(['-p', prop])
    return args + ['--'] + list(names)


def show_blocks(text):
    """The raw ``Key=value`` dicts of ``systemctl show`` output, one per unit (blocks separated by blank lines, in the
    order asked)."""
    blocks = []
    current = None
    for line in (text or '').splitlines():
        if not line.strip():
            current = None
            continue
        if current is None:
            current = {}
            blocks.append(current)
        key, sep, value = line.partition('=')
        if sep:
            current[key.strip()] = value.strip()
    return blocks


def parse_show(text):
    """One dict per unit block of ``systemctl show`` output (blocks separated by blank lines, in the order asked):
    id, load_state, main_pid (int, 0 = not running), control_group ('' = not running), oom_score_adjust (int or None)."""
    blocks = show_blocks(text)
    return [{'id': block.get('Id', ''), 'load_state': block.get('LoadState', ''),
             'main_pid': max(_as_int(block.get('MainPID', '')) or 0, 0),
             'control_group': block.get('ControlGroup', ''),
             'oom_score_adjust': _as_int(block.get('OOMScoreAdjust', ''))} for block in blocks]


def render_dropin(score, header=DEFAULT_HEADER):
    """The drop-in text: the header as ``#`` lines (lines already starting with ``#`` kept), then the [Service] value."""
    lines = comment_lines(header)
    lines.extend(['[Service]', 'OOMScoreAdjust=%d' % score])
    return '\n'.join(lines) + '\n'


def dropin_path(unit_id, dropin_name=DEFAULT_DROPIN, systemd_dir=SYSTEMD_DIR):
    return os.path.join(systemd_dir, unit_id + '.d', dropin_name)


# ---------------------------------------------------------------- processes

def cgroup_dir(control_group, cgroup_root=CGROUP_ROOT):
    """The directory of the unit's cgroup that holds cgroup.procs (v2 hybrid, v2, v1), or None."""
    if not control_group or not control_group.startswith('/'):
        return None
    for layout in CGROUP_LAYOUTS:
        directory = cgroup_root.rstrip('/') + layout + control_group.rstrip('/')
        if os.path.isfile(os.path.join(directory, 'cgroup.procs')):
            return directory
    return None


def cgroup_pids(control_group, cgroup_root=CGROUP_ROOT):
    """Sorted pids of the unit's cgroup and its sub-cgroups, or None when no cgroup directory is found."""
    directory = cgroup_dir(control_group, cgroup_root)
    if directory is None:
        return None
    pids = set()
    for current, _dirs, files in os.walk(directory):
        if 'cgroup.procs' not in files:
            continue
        try:
            with open(os.path.join(current, 'cgroup.procs'), 'r') as handle:
                pids.update(int(line) for line in handle.read().split() if line.isdigit())
        except OSError:
            continue  # the sub-cgroup went away while walking
    return sorted(pids)


def unit_pids(shown, scope, cgroup_root=CGROUP_ROOT, warnings=None):
    """The pids to act on for a parsed ``systemctl show`` block: MainPID for ``main``, the cgroup for ``all``
    (MainPID with a warning when the cgroup cannot be found). [] when the unit is not running."""
    main = [shown['main_pid']] if shown['main_pid'] > 0 else []
    if scope == 'main' or not shown['control_group']:
        return main
    pids = cgroup_pids(shown['control_group'], cgroup_root)
    if pids is None:
        if warnings is not None:
            warnings.append('%s: no cgroup.procs for %s under %s (looked in unified/, the v2 root and systemd/): only its '
                            'main process %s is handled' % (shown['id'], shown['control_group'], cgroup_root,
                                                            main[0] if main else '(none)'))
        return main
    return pids


def _proc_path(pid, name, proc_root):
    return os.path.join(proc_root, str(pid), name)


def _read_proc(pid, name, proc_root):
    """Bytes of /proc/PID/<name>, or None when the process is gone."""
    try:
        with open(_proc_path(pid, name, proc_root), 'rb') as handle:
            return handle.read()
    except OSError as exc:
        if exc.errno in VANISHED:
            return None
        raise


def read_adj(pid, proc_root=PROC_ROOT):
    """oom_score_adj of ``pid``, or None when the process is gone."""
    data = _read_proc(pid, 'oom_score_adj', proc_root)
    return None if data is None else _as_int(data.decode('ascii', 'replace'))


def write_adj(pid, value, proc_root=PROC_ROOT):
    """Write ``value`` to /proc/PID/oom_score_adj (never creates the file); raises OSError (EACCES without
    CAP_SYS_RESOURCE, ENOENT/ESRCH when the process is gone)."""
    fd = os.open(_proc_path(pid, 'oom_score_adj', proc_root), os.O_WRONLY)
    try:
        os.write(fd, ('%d\n' % value).encode('ascii'))
    finally:
        os.close(fd)


def has_capability(status_text, cap):
    """Whether the CapEff line of a /proc/PID/status text holds capability number ``cap``; None without a CapEff
    line."""
    for line in status_text.splitlines():
        if line.startswith('CapEff:'):
            try:
                return bool(int(line.split(':', 1)[1].strip(), 16) >> cap & 1)
            except ValueError:
                return None
    return None


def lowering_allowed(score, before, proc_root=PROC_ROOT):
    """Whether the kernel would let this process lower a value from ``before`` to ``score``.

    Without CAP_SYS_RESOURCE the kernel refuses a value below the process's oom_score_adj_min, which /proc does not
    show; it is taken as the lower of 0 (a process nobody lowered with the capability) and ``before``. Unknown
    capabilities (no readable /proc/self/status) count as allowed, as before this prediction existed.
    """
    capable = None
    path = os.path.join(proc_root, 'self', 'status')
    try:
        with open(path) as handle:
            capable = has_capability(handle.read(), CAP_SYS_RESOURCE)
    except (IOError, OSError):
        pass
    return capable is not False or score >= min(0, before)


def plan_live(pids, score, proc_root=PROC_ROOT):
    """[{pid, before, after, written}]: ``written`` where the running value is above ``score`` (less protected);
    a lower value stays (never raised). Processes that are gone are left out."""
    plan = []
    for pid in pids:
        before = read_adj(pid, proc_root)
        if before is None:
            continue
        lower = before > score
        plan.append({'pid': pid, 'before': before, 'after': score if lower else before, 'written': lower})
    return plan


def apply_live(plan, score, proc_root=PROC_ROOT, check_mode=False, wrote=None):
    """Carry out ``plan`` from :func:`plan_live` (nothing in check mode). Returns (entries, refused pids).

    A process gone meanwhile is dropped; a refused write (EACCES/EPERM) stays with ``written`` false; any other
    error raises OSError. ``wrote(entry)`` is called after each value written, as it happens, so an error at a
    later pid still leaves a record of the earlier writes. In check mode a write the kernel would refuse
    (:func:`lowering_allowed`) is reported as refused, as the real run would.
    """
    entries = []
    refused = []
    for entry in plan:
        entry = dict(entry)
        if entry['written'] and check_mode and not lowering_allowed(score, entry['before'], proc_root):
            refused.append(entry['pid'])
            entry.update(written=False, after=entry['before'])
        elif entry['written'] and not check_mode:
            try:
                write_adj(entry['pid'], score, proc_root)
            except OSError as exc:
                if exc.errno in VANISHED:
                    continue
                if exc.errno not in WRITE_REFUSED:
                    raise
                refused.append(entry['pid'])
                entry.update(written=False, after=entry['before'])
            else:
                now = read_adj(entry['pid'], proc_root)
                entry['after'] = score if now is None else now
                if wrote is not None:
                    wrote(entry)
        entries.append(entry)
    return entries, refused


def audit(unit_id, pids, proc_root=PROC_ROOT):
    """What the OOM killer sees for each pid: [{unit, pid, comm, oom_score, oom_score_adj, cmdline}] (gone ones left out)."""
    records = []
    for pid in pids:
        values = dict((name, _read_proc(pid, name, proc_root)) for name in ('comm', 'oom_score', 'oom_score_adj', 'cmdline'))
        if any(value is None for value in values.values()):
            continue
        text = dict((name, value.decode('utf-8', 'replace')) for name, value in values.items())
        records.append({'unit': unit_id, 'pid': pid, 'comm': text['comm'].strip(), 'oom_score': _as_int(text['oom_score']),
                        'oom_score_adj': _as_int(text['oom_score_adj']),
                        'cmdline': ' '.join(text['cmdline'].replace('\0', ' ').split())})
    return records


def audit_line(record):
    """``ssh.service pid=612 oom_score=0 oom_score_adj=-1000 cmdline=sshd: /usr/sbin/sshd -D [listener] ...``"""
    return '%(unit)s pid=%(pid)d oom_score=%(oom_score)s oom_score_adj=%(oom_score_adj)s cmdline=%(cmdline)s' % record


def live_diff(unit_id, entries):
    def text(key):
        return ''.join('pid %d: %d\n' % (entry['pid'], entry[key]) for entry in entries)
    header = '%s processes (oom_score_adj)' % unit_id
    return {'before_header': header, 'after_header': header, 'before': text('before'), 'after': text('after')}


# ---------------------------------------------------------------- run


def resolve(units, shown, warnings):
    """Pair normalised units with their ``systemctl show`` blocks: (kept [(unit, shown)], skipped [{name, reason}]).

    A unit systemd does not know is skipped with a warning; a second name for the same unit (``ssh`` and its alias
    ``sshd``) is skipped when it asks for the same, refused otherwise.
    """
    if len(shown) != len(units):
        raise OomError('systemctl show returned %d unit blocks for %d units' % (len(shown), len(units)))
    kept, skipped, by_id = [], [], {}
    for unit, block in zip(units, shown):
        unit_id = block['id']
        if not unit_id or block['load_state'] == 'not-found':
            reason = 'not installed (LoadState=%s)' % (block['load_state'] or 'unknown')
            skipped.append({'name': unit['name'], 'reason': reason})
            warnings.append('%s is %s: skipped, no drop-in written' % (unit['name'], reason))
            continue
        if '/' in unit_id or _name_problem(unit_id):
            raise OomError('systemctl show gave %r as the Id of %s' % (unit_id, unit['name']))
        first = by_id.get(unit_id)
        if first is not None:
            if (first['score'], first['live_scope']) != (unit['score'], unit['live_scope']):
                raise OomError('%s and %s are the same unit %s with different score or live_scope'
                               % (first['name'], unit['name'], unit_id))
            skipped.append({'name': unit['name'], 'reason': 'same unit as %s (%s)' % (first['name'], unit_id)})
            continue
        by_id[unit_id] = unit
        kept.append((unit, block))
    return kept, skipped


def run(module, runner=None, which=None, paths=None, params=None):
    """Validate, write the drop-ins, daemon-reload once, lower running values, audit; return the module result.

    ``module`` is a result.Context (a plain AnsibleModule works too: nothing is then recorded as it happens); tests
    replace the commands (``runner``, ``which``) and the kernel's trees (``paths``, a :class:`Paths`).
    Raises OomError (nothing changed) for bad input and refusals, OomFailure when a step fails after writing began:
    every drop-in and every live value written before it is recorded on ``module``, so the task still reports
    changed and the diff of what was done.
    """
    runner, which = commands(module, runner, which)
    paths = paths or Paths()
    record = getattr(module, 'wrote', None)
    params = dict(DEFAULTS, **dict((key, value) for key, value in (params or module.params).items() if value is not None))
    score = _as_int(params['score'])
    if score is None:
        raise OomError('score %r is not a whole number' % (params['score'],))
    check_dropin_name(params['dropin_name'])
    units = normalise_units(params['units'], score)
    check_units(units, params['allow_unkillable_sessions'], score)
    warnings = []
    result = dict(changed=False, units=[], skipped=[], daemon_reloaded=False, audit=[], audit_lines=[], diff=[],
                  warnings=warnings)
    if not units:
        return result

    systemctl = which('systemctl')
    if not systemctl:
        raise OomError('systemctl is not installed: oom_protect manages systemd units')
    rc, out, err = runner(show_command(systemctl, [unit['name'] for unit in units]), environ_update=C_LOCALE)
    if rc != 0:
        raise OomError('systemctl show failed: %s' % tail(rc, out, err))
    kept, result['skipped'] = resolve(units, parse_show(out), warnings)
    if not params['allow_unkillable_sessions']:
        problems = [ssh_problem(block['id'], unit['score']) for unit, block in kept]
        if any(problems):
            raise OomError('; '.join(problem for problem in problems if problem))

    plans = []
    for unit, block in kept:
        path = dropin_path(block['id'], params['dropin_name'], params['systemd_dir'])
        plan = plan_file(path, render_dropin(unit['score'], params['header']), 0o644)
        plans.append(plan)
        if not plan.changed and block['oom_score_adjust'] is not None and block['oom_score_adjust'] != unit['score']:
            warnings.append('%s: systemd has OOMScoreAdjust=%d loaded, not %d from %s: a later drop-in or unit file sets it, '
                            'or a daemon-reload is pending' % (block['id'], block['oom_score_adjust'], unit['score'], path))
    for plan in plans:
        apply_file(module, plan)
    dropins_changed = any(plan.changed for plan in plans)
    result['diff'] = [plan.diff() for plan in plans]
    result['changed'] = dropins_changed
    if dropins_changed and params['daemon_reload']:
        if not module.check_mode:
            rc, out, err = runner([systemctl, 'daemon-reload'], environ_update=C_LOCALE)
            if rc != 0:
                raise OomFailure('drop-ins written, but systemctl daemon-reload failed: %s; they apply after a daemon-reload '
                                 'and the unit\'s next start' % tail(rc, out, err), result=dict(changed=True))
        result['daemon_reloaded'] = True

    proc_root, cgroup_root = paths.proc_root, paths.cgroup_root
    lowered = []  # '<unit> pid N' for every live value written so far, in every unit

    def wrote(unit_id):
        def one(entry):
            lowered.append('%s pid %d' % (unit_id, entry['pid']))
            if record is not None:
                record(live_diff(unit_id, [entry]))
        return one

    for (unit, block), plan in zip(kept, plans):
        entries, applied = [], bool(params['live'])
        if params['live']:
            planned = plan_live(unit_pids(block, unit['live_scope'], cgroup_root, warnings), unit['score'], proc_root)
            try:
                entries, refused = apply_live(planned, unit['score'], proc_root, module.check_mode, wrote(block['id']))
            except OSError as exc:
                raise OomFailure('%s: oom_score_adj could not be set live: %s%s'
                                 % (block['id'], exc, '; already lowered: %s' % ', '.join(lowered) if lowered else ''),
                                 result=dict(changed=result['changed'] or bool(lowered)))
            if refused:
                applied = False
                warnings.append('%s: the kernel %s to lower oom_score_adj of pid %s (no CAP_SYS_RESOURCE here, a '
                                'container?): the value applies at the unit\'s next start'
                                % (block['id'], 'would refuse' if module.check_mode else 'refused',
                                   ', '.join(str(pid) for pid in refused)))
            if any(entry['written'] for entry in entries):
                result['changed'] = True
                result['diff'].append(live_diff(block['id'], entries))
        result['units'].append({'name': unit['name'], 'id': block['id'], 'score': unit['score'], 'live_scope': unit['live_scope'],
                                'dropin': plan.path, 'dropin_changed': plan.changed, 'live': entries, 'live_applied': applied})
        result['audit'].extend(audit(block['id'], unit_pids(block, 'all', cgroup_root), proc_root))
    result['audit_lines'] = [audit_line(record) for record in result['audit']]
    return result
