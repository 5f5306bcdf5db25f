# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Old kernel packages: which installed kernels to keep, which packages to purge (dpkg's version order is
dpkg.py's, the kernel GRUB boots by default grub.py's).

The parsers and the planner are pure functions over text or plain values, with the system paths as
default arguments. :func:`run` carries a plan out through a module-like object (``check_mode``) and two
callables, ``runner(args, environ_update=...)`` returning ``(rc, stdout, stderr)`` (``module.run_command``
by default) and ``which(name)`` (``module.get_bin_path``), so tests drive it with a real AnsibleModule and
a fake runner that records the commands.

A kernel is a release (``uname -r``: ``6.12.57+deb13-amd64``, ``6.17.8-x64v3-xanmod1``) with an image package
``linux-image-<release>`` (also ``linux-image-unsigned-<release>``, ``linux-image-<release>-unsigned``) and the
packages that follow it: ``linux-headers-<release>``, ``linux-modules[-extra]-<release>``, ``linux-image-<release>-dbg``,
and the per-version ``linux-headers-<base>-common[-rt]`` and ``linux-kbuild-<base>`` once no kept kernel shares that
base version. Meta packages (``linux-image-amd64``, ``linux-image-cloud-amd64``, ``linux-xanmod-x64v3``) name no
release and are never planned. Packages of a release without any image package are left alone.

Safety rules, in one place:

- Nothing is removed unless the running kernel's image package is installed (KernelError otherwise).
- The running kernel and the newest installed kernel are always kept, then the newest others until ``keep``
  kernels are kept; the kernel GRUB boots by default (``GRUB_DEFAULT``/``saved_entry``) is kept too, and at least
  one kernel of its flavour when it names a kernel that is not installed.
- A kernel on hold, or with a package in a half-installed dpkg state, is kept (and does not count).
- apt-get is first asked (``-s``) what it would remove; any package outside the plan (a meta package that
  depends on a kernel to purge) refuses the run before anything is changed.
- After apt-get, dpkg is asked again: a planned package still there, or a kept one gone, fails the task.
"""

from __future__ import annotations

import re

from ansible_collections.lowmem.vps.plugins.module_utils.dpkg import version_key
from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.files import read_kernel_text, read_text
from ansible_collections.lowmem.vps.plugins.module_utils.grub import GRUB_DEFAULT, GRUBENV_PATH, default_boot_release
from ansible_collections.lowmem.vps.plugins.module_utils.runner import C_LOCALE, commands, tail

OSRELEASE_PATH = '/proc/sys/kernel/osrelease'
DEFAULTS = dict(keep=2, update_grub=True, purge=True)
# dpkg-query expands \t and \n itself; the list argument reaches it unquoted.
DPKG_FORMAT = '${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'
APT_ENV = dict(C_LOCALE, DEBIAN_FRONTEND='noninteractive')

# Name prefixes of the packages that belong to one kernel release, longest first.
_PREFIXES = (
    ('linux-image-unsigned-', 'image'),
    ('linux-image-', 'image'),
    ('linux-headers-', 'headers'),
    ('linux-modules-extra-', 'modules'),
    ('linux-modules-', 'modules'),
    ('linux-kbuild-', 'common'),
)
# A kernel release: the version (6.1.0-27, 6.12.57+deb13, 6.1.0-0.deb11.17, 6.12.12+bpo), then the flavour.
_RELEASE_RE = re.compile(r'^(?P<base>\d+\.\d+(?:\.\d+)*(?:-\d+(?:\.[0-9A-Za-z]+)*)?(?:[+~][0-9A-Za-z.+~]*)?)'
                         r'(?:-(?P<flavour>[0-9A-Za-z][0-9A-Za-z.+~_-]*))?$')
_XANMOD_RE = re.compile(r'^xanmod\d*$')
_RT_RE = re.compile(r'^rt\d*$')
_SIMULATED_RE = re.compile(r'^(?:Purg|Remv) (\S+)')


class Paths(object):
    """The system files kernel_cleanup reads; tests point them under a temporary tree."""

    def __init__(self, osrelease=OSRELEASE_PATH, grub_default=GRUB_DEFAULT, grubenv=GRUBENV_PATH):
        self.osrelease = osrelease
        self.grub_default = grub_default
        self.grubenv = grubenv


class KernelError(RefusedError):
    """Bad input or a state the module refuses to touch; raised before anything was changed."""


class KernelFailure(PartialFailure):
    """A step failed after changes began; the message says what state the host was left in."""


# ---------------------------------------------------------------- parsing


def parse_release(release):
    """(base version, raw flavour) of a kernel release (``6.1.0-27-amd64`` -> ``('6.1.0-27', 'amd64')``), or None."""
    match = _RELEASE_RE.match(release or '')
    if not match:
        return None
    return match.group('base'), match.group('flavour') or ''


def base_version(release):
    """The version part of a release (``6.12.57+deb13`` of ``6.12.57+deb13-cloud-amd64``); the release itself when unparsable."""
    parsed = parse_release(release)
    return parsed[0] if parsed else release


def flavour(release):
    """The release without its version: ``amd64``, ``cloud-amd64``, ``generic``; XanMod builds as ``xanmod-x64v3``.

    ``6.17.8-x64v3-xanmod1`` -> ``xanmod-x64v3`` (the build number dropped), ``6.6.58-rt45-x64v3-xanmod1`` ->
    ``xanmod-rt-x64v3``. '' for a release without a flavour or that cannot be parsed.
    """
    parsed = parse_release(release)
    if parsed is None:
        return ''
    raw = parsed[1]
    tokens = raw.split('-')
    if any(_XANMOD_RE.match(token) for token in tokens):
        rest = ['rt' if _RT_RE.match(token) else token for token in tokens if not _XANMOD_RE.match(token)]
        return '-'.join(['xanmod'] + rest)
    return raw


def classify(name):
    """(kind, key) of a package name: kind ``image``, ``dbg``, ``headers``, ``modules`` (key: the release) or ``common``
    (key: the base version); (None, None) for anything else, meta packages included."""
    for prefix, kind in _PREFIXES:
        if name.startswith(prefix):
            rest = name[len(prefix):]
            break
    else:
        return None, None
    if kind == 'image':
        if rest.endswith('-dbg'):
            kind, rest = 'dbg', rest[:-len('-dbg')]
        elif rest.endswith('-unsigned'):
            rest = rest[:-len('-unsigned')]
    elif kind == 'headers':
        for suffix in ('-common', '-common-rt'):
            if rest.endswith(suffix):
                kind, rest = 'common', rest[:-len(suffix)]
                break
    parsed = parse_release(rest)
    if parsed is None:
        return None, None
    if kind == 'headers' and not parsed[1]:
        # Ubuntu's per-version headers (linux-headers-6.8.0-45) are what Debian calls -common.
        kind = 'common'
    if kind == 'common' and parsed[1]:
        return None, None
    return kind, rest


class KernelPackage(object):
    """One line of dpkg-query: a package of a kernel release (or of a base version, for ``common``)."""

    def __init__(self, name, version, status, kind, key):
        self.name = name
        self.version = version
        self.status = status
        self.kind = kind
        self.key = key

    @property
    def installed(self):
        """``ii`` or ``hi``: unpacked and configured."""
        return self.status[1:3].strip() == 'i'

    @property
    def config_files(self):
        """``rc``: removed, configuration files left."""
        return self.status[1:3].strip() == 'c'

    @property
    def held(self):
        return self.status[:1] == 'h'

    @property
    def settled(self):
        return self.installed or self.config_files

    def line(self, status=None):
        return '%-3s %s %s\n' % (status or self.status, self.name, self.version)

    def __repr__(self):
        return 'KernelPackage(%r, %r, %r)' % (self.name, self.version, self.status)


def list_installed(text):
    """KernelPackage list from ``dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'`` output.

    Only kernel release packages are kept (see :func:`classify`); packages dpkg knows as not installed
    (``un``, ``pn``) are dropped. The status keeps its dpkg letters (``ii``, ``rc``, ``hi``, ``iU``, ``iHR``).
    """
    packages = []
    for line in text.splitlines():
        fields = line.split('\t')
        if len(fields) < 3:
            continue
        name, version, status = fields[0].strip(), fields[1].strip(), fields[2].strip()
        kind, key = classify(name)
        if kind is None or len(status) < 2 or status[1] == 'n':
            continue
        packages.append(KernelPackage(name, version, status, kind, key))
    return packages


class Kernel(object):
    """One kernel release and its packages (image, headers, modules, dbg)."""

    def __init__(self, release, packages):
        self.release = release
        self.packages = packages
        images = [package for package in packages if package.kind == 'image']
        self.installed = any(package.installed for package in images)
        versions = [package.version for package in images if package.installed] or [package.version for package in images]
        self.version = max(versions, key=version_key) if versions else '0'
        self.held = any(package.held for package in packages)
        self.unsettled = [package for package in packages if not package.settled]
        self.flavour = flavour(release)

    @property
    def order_key(self):
        return version_key(self.version), version_key(self.release)


def kernels_of(packages):
    """{release: Kernel} for every release with an image package."""
    by_release = {}
    for package in packages:
        if package.kind != 'common':
            by_release.setdefault(package.key, []).append(package)
    return dict((release, Kernel(release, members)) for release, members in by_release.items()
                if any(package.kind == 'image' for package in members))


# ---------------------------------------------------------------- the plan


def check_keep(keep):
    if isinstance(keep, bool) or not isinstance(keep, int):
        raise KernelError('keep must be a whole number, got %r' % (keep,))
    if keep < 1:
        raise KernelError('keep must be at least 1: the running kernel is always kept (got keep=%d)' % keep)


def plan(packages, running_release, keep=2, default_boot_release=None, purge=True):
    """(kept, purge_list, reasons) for the KernelPackage list ``packages``.

    ``kept``: releases kept, newest first. ``purge_list``: sorted package names to purge (with ``purge=False``,
    to remove: packages with only configuration files left are then not listed). ``reasons``: {release: why
    it is kept or goes}. ``keep`` counts the running kernel and the newest one; the newest is kept even when
    that makes more than ``keep``. Raises KernelError when ``keep`` is below 1 or the running kernel's image
    package is not installed.
    """
    check_keep(keep)
    kernels = kernels_of(packages)
    installed = sorted((kernel for kernel in kernels.values() if kernel.installed), key=lambda kernel: kernel.order_key, reverse=True)
    running = kernels.get(running_release)
    if running is None or not running.installed:
        known = ', '.join(kernel.release for kernel in installed) or 'none'
        raise KernelError("cannot identify the running kernel's package: no installed linux-image package for the running "
                          "release %s (installed kernels: %s); refusing to remove anything" % (running_release, known))
    kept = [running.release]
    reasons = {running.release: 'running kernel'}
    newest = installed[0]
    if newest is not running:
        kept.append(newest.release)
        reasons[newest.release] = 'newest installed kernel'
    for kernel in installed:
        if len(kept) >= keep:
            break
        if kernel.release not in kept:
            kept.append(kernel.release)
            reasons[kernel.release] = 'fallback (keep=%d)' % keep

    if default_boot_release and default_boot_release not in kept:
        default = kernels.get(default_boot_release)
        if default is not None and default.installed:
            kept.append(default.release)
            reasons[default.release] = 'GRUB boots it by default'
        else:
            wanted = flavour(default_boot_release)
            same = [kernel for kernel in installed if kernel.flavour == wanted]
            if same and not any(kernels[release].flavour == wanted for release in kept):
                kept.append(same[0].release)
                reasons[same[0].release] = ('last kernel of the %s flavour GRUB boots by default (it names %s, which is not installed)'
                                            % (wanted, default_boot_release))

    for kernel in kernels.values():
        if kernel.release in kept:
            continue
        if kernel.held:
            kept.append(kernel.release)
            reasons[kernel.release] = 'on hold in dpkg'
        elif kernel.unsettled:
            package = kernel.unsettled[0]
            kept.append(kernel.release)
            reasons[kernel.release] = ('%s is half-installed (dpkg status %s): left for apt-get -f install or dpkg --configure -a'
                                       % (package.name, package.status))

    purge_list = []
    gone_bases = set()
    for kernel in kernels.values():
        if kernel.release in kept:
            continue
        members = [package for package in kernel.packages if package.installed or (purge and package.config_files)]
        if not members:
            continue
        purge_list.extend(package.name for package in members)
        gone_bases.add(base_version(kernel.release))
        if kernel.installed:
            reasons[kernel.release] = 'older than the kept kernels (keep=%d)' % keep
        else:
            reasons[kernel.release] = 'removed earlier, configuration files left'
    kept_bases = set(base_version(release) for release in kept)
    for package in packages:
        if package.kind == 'common' and package.key in gone_bases - kept_bases and not package.held:
            if package.installed or (purge and package.config_files):
                purge_list.append(package.name)
    kept.sort(key=lambda release: kernels[release].order_key, reverse=True)
    return kept, sorted(set(purge_list)), reasons


def describe(packages, purge_list=(), purge=True):
    """Text for ``diff``: one ``status name version`` line per kernel package, as it is or would be after the plan."""
    gone = set(purge_list)
    lines = []
    for package in sorted(packages, key=lambda item: item.name):
        if package.name not in gone:
            lines.append(package.line())
        elif not purge and package.installed:
            lines.append(package.line('rc'))
    return ''.join(lines)


def simulated_removals(text):
    """Package names apt-get -s would remove or purge (``Remv name [version]``, ``Purg name:arch [version]``)."""
    names = []
    for line in text.splitlines():
        match = _SIMULATED_RE.match(line)
        if match:
            names.append(match.group(1).split(':')[0])
    return names


# ---------------------------------------------------------------- carrying it out


def running_release(path=OSRELEASE_PATH):
    """The running kernel's release, as ``uname -r`` prints it (from /proc/sys/kernel/osrelease)."""
    release = read_kernel_text(path).strip()
    if not release:
        raise KernelError('cannot read the running kernel release from %s' % path)
    return release


def query(runner, dpkg_query):
    """KernelPackage list of the system, from dpkg-query in the C locale."""
    rc, out, err = runner([dpkg_query, '-W', '--showformat=' + DPKG_FORMAT], environ_update=C_LOCALE)
    if rc != 0:
        raise KernelError('dpkg-query -W failed: %s' % tail(rc, out, err))
    return list_installed(out)


def verify(packages, purge_list, unplanned, purge):
    """(problems, gone) after apt-get: problems name a planned package still there or one of ``unplanned`` (names)
    no longer installed; ``gone`` is how many planned packages are gone."""
    now = dict((package.name, package) for package in packages)
    problems = []
    for name in purge_list:
        package = now.get(name)
        if package is not None and (package.installed or (purge and package.config_files)):
            problems.append('%s is still %s' % (name, 'installed' if package.installed else 'listed with its configuration files'))
    gone = len(purge_list) - len(problems)
    for name in unplanned:
        if not (name in now and now[name].installed):
            problems.append('%s was to stay but is no longer installed' % name)
    return problems, gone


def _check_after(runner, dpkg_query, purge_list, unplanned, purge):
    try:
        return verify(query(runner, dpkg_query), purge_list, unplanned, purge)
    except KernelError as exc:
        return ['the package state could not be read back (%s)' % exc], None


def run(module, runner=None, which=None, paths=None, params=None):
    """Plan and (outside check mode) purge old kernels; return the module result.

    ``module`` is a result.Context; ``params`` (default: the module's) gives keep, update_grub and purge. Tests
    replace the commands (``runner``, ``which``) and the system files (``paths``, a :class:`Paths`).
    Raises KernelError (nothing changed) for bad input and refusals, KernelFailure when a step fails once apt-get ran.
    """
    runner, which = commands(module, runner, which)
    paths = paths or Paths()
    params = dict(DEFAULTS, **dict((key, value) for key, value in (params or module.params).items()
                                   if key in DEFAULTS and value is not None))
    keep, update_grub, purge = params['keep'], params['update_grub'], params['purge']
    check_keep(keep)
    running = running_release(paths.osrelease)
    dpkg_query = which('dpkg-query')
    if not dpkg_query:
        raise KernelError('dpkg-query is not installed: kernel_cleanup manages the kernel packages of Debian and its derivatives')
    packages = query(runner, dpkg_query)
    default = default_boot_release(read_text(paths.grub_default), read_text(paths.grubenv), list(kernels_of(packages)))
    kept, purge_list, reasons = plan(packages, running, keep, default, purge)
    kernels = sorted(kernels_of(packages).values(), key=lambda kernel: kernel.order_key, reverse=True)
    gone = set(purge_list)
    purged_releases = [kernel.release for kernel in kernels
                       if kernel.release not in kept and any(package.name in gone for package in kernel.packages)]
    warnings = []
    result = dict(changed=bool(purge_list), running=running, kept=kept, purged=purge_list, purged_releases=purged_releases,
                  reasons=reasons, default_boot=default, grub_updated=False,
                  diff={'before_header': 'kernel packages', 'after_header': 'kernel packages',
                        'before': describe(packages), 'after': describe(packages, purge_list, purge)},
                  warnings=warnings)
    if not purge_list:
        return result

    apt_get = which('apt-get')
    if not apt_get:
        raise KernelError('apt-get is not installed')
    action = 'purge' if purge else 'remove'
    rc, out, err = runner([apt_get, '-s', action] + purge_list, environ_update=APT_ENV)
    if rc != 0:
        raise KernelError('apt-get -s %s failed: %s' % (action, tail(rc, out, err)))
    extra = sorted(set(simulated_removals(out)) - gone)
    if extra:
        raise KernelError('apt-get %s would also remove %s, which depend on the kernels to %s (a meta package such as '
                          'linux-image-amd64 or linux-xanmod-x64v3 follows one kernel); keep more kernels or remove them yourself'
                          % (action, ', '.join(extra), action))
    update_grub_bin = which('update-grub') if update_grub else None
    if update_grub and not update_grub_bin:
        warnings.append('update-grub is not installed: the boot menu was not regenerated')
    if module.check_mode:
        result['grub_updated'] = bool(update_grub_bin)
        return result

    unplanned = [package.name for package in packages if package.installed and package.name not in gone]
    partial = dict(running=running, kept=kept, purged=purge_list, purged_releases=purged_releases, changed=True,
                   diff=result['diff'])
    rc, out, err = runner([apt_get, '-y', action] + purge_list, environ_update=APT_ENV)
    if rc != 0:
        problems, removed = _check_after(runner, dpkg_query, purge_list, unplanned, purge)
        partial['changed'] = removed != 0
        raise KernelFailure('apt-get -y %s failed: %s; %s' % (action, tail(rc, out, err), '; '.join(problems) if problems
                                                              else 'dpkg lists every planned package as gone'), result=partial)
    if update_grub_bin:
        rc, out, err = runner([update_grub_bin], environ_update=C_LOCALE)
        if rc != 0:
            raise KernelFailure('the old kernels were %sd, but update-grub failed: %s; run update-grub before rebooting'
                                % (action, tail(rc, out, err)), result=partial)
        result['grub_updated'] = True
    problems = _check_after(runner, dpkg_query, purge_list, unplanned, purge)[0]
    if problems:
        raise KernelFailure('after apt-get -y %s: %s' % (action, '; '.join(problems)), result=partial)
    return result
