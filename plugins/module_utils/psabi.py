# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The x86-64 psABI level (v1..v4) of a CPU from /proc/cpuinfo, and the XanMod package built for it.

The levels are the ones of the x86-64 psABI, checked on the flag names Linux prints in /proc/cpuinfo,
with the same flag lists as XanMod's ``check_x86-64_psabi.sh`` (https://dl.xanmod.org/check_x86-64_psabi.sh).
That awk script prints ``CPU supports x86-64-vN`` and exits with N + 1 (exit 1 means "not even x86-64"),
so a shell caller reads ``$? - 1``; :func:`psabi_level` returns N itself. Two differences, both on purpose:

- flags are compared as whole words (the awk script matches substrings, so its ``/avx/`` is also satisfied
  by ``avx2`` and its ``/lm/`` by ``lahf_lm``);
- x86-64-v2 also requires ``pni`` (SSE3, part of the psABI's v2 list), which the script does not test.

No AnsibleModule here; the system path is a default argument.
"""

from __future__ import annotations

from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError

CPUINFO_PATH = '/proc/cpuinfo'

# Flags each level adds to the one below, as Linux names them in /proc/cpuinfo:
# lahf_lm is LAHF/SAHF in long mode, pni is SSE3, abm is LZCNT, xsave stands for OSXSAVE.
LEVEL_FLAGS = {
    1: ('cmov', 'cx8', 'fpu', 'fxsr', 'lm', 'mmx', 'sse2', 'syscall'),
    2: ('cx16', 'lahf_lm', 'pni', 'popcnt', 'sse4_1', 'sse4_2', 'ssse3'),
    3: ('abm', 'avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'movbe', 'xsave'),
    4: ('avx512bw', 'avx512cd', 'avx512dq', 'avx512f', 'avx512vl'),
}
LEVELS = (1, 2, 3, 4)

# XanMod flavours and their package name patterns (%d: the x64vN level of the build).
FLAVOURS = {
    'main': 'linux-xanmod-x64v%d',
    'lts': 'linux-xanmod-lts-x64v%d',
    'edge': 'linux-xanmod-edge-x64v%d',
    'rt': 'linux-xanmod-rt-x64v%d',
}
# The highest level XanMod publishes builds for (x64v4 packages are no longer made).
XANMOD_MAX_LEVEL = 3
# The only flavour with an x64v1 build.
XANMOD_V1_FLAVOUR = 'lts'


class PsabiError(RefusedError):
    """Text that is not an x86-64 /proc/cpuinfo, or an unknown level or flavour; the message is for the operator."""


def cpu_flags(cpuinfo_text):
    """The set of flags of the first processor in the text of /proc/cpuinfo (its ``flags\\t\\t: fpu vme ...`` line).

    Only the line named exactly ``flags`` counts (Intel CPUs also have a ``vmx flags`` line).
    Raises PsabiError when there is none, as on arm64, whose /proc/cpuinfo has ``Features`` instead.
    """
    for line in (cpuinfo_text or '').splitlines():
        name, sep, value = line.partition(':')
        if sep and name.strip() == 'flags':
            return set(value.split())
    raise PsabiError('no "flags" line in the cpuinfo text: this is not an x86 CPU (or not a /proc/cpuinfo)')


def missing_for_level(flags, level):
    """Sorted flags that ``flags`` lacks for x86-64-v``level`` (the flags of every level up to it)."""
    check_level(level)
    flags = set(flags)
    needed = set()
    for step in LEVELS[:level]:
        needed.update(LEVEL_FLAGS[step])
    return sorted(needed - flags)


def psabi_level(flags):
    """The highest x86-64 psABI level (1..4) whose flags, and those of every level below, are all in ``flags``.

    Raises PsabiError (a ValueError) when even the x86-64 baseline (v1) is incomplete, naming the missing flags.
    """
    missing = missing_for_level(flags, 1)
    if missing:
        raise PsabiError('the CPU lacks %s of the x86-64 baseline (x86-64-v1): this is not an x86-64 CPU' % ' '.join(missing))
    level = 1
    while level < LEVELS[-1] and not missing_for_level(flags, level + 1):
        level += 1
    return level


def read_cpuinfo(path=CPUINFO_PATH):
    """The text of ``path`` (/proc/cpuinfo); PsabiError when it cannot be read."""
    try:
        with open(path, 'r', encoding='utf-8', errors='replace') as handle:
            return handle.read()
    except OSError as exc:
        raise PsabiError('cannot read %s: %s' % (path, exc.strerror or exc)) from exc


def check_level(level):
    if isinstance(level, bool) or not isinstance(level, int) or level not in LEVELS:
        raise PsabiError('psABI level %r is not one of %s' % (level, ', '.join(str(item) for item in LEVELS)))


def xanmod_package(level, flavour='main'):
    """(package, note) of the XanMod kernel meta package for a CPU of x86-64-v``level`` in ``flavour``.

    ``flavour`` is ``main`` (linux-xanmod-x64vN), ``lts``, ``edge`` or ``rt``. A v4 CPU gets the x64v3 build
    (XanMod no longer publishes x64v4); a v1 CPU gets ``linux-xanmod-lts-x64v1`` whatever the flavour, because
    only the LTS flavour is built for v1. ``note`` says so (None when the package is exactly what was asked for).
    """
    if flavour not in FLAVOURS:
        raise PsabiError('unknown XanMod flavour %r: known flavours are %s' % (flavour, ', '.join(sorted(FLAVOURS))))
    check_level(level)
    if level == 1:
        package = FLAVOURS[XANMOD_V1_FLAVOUR] % 1
        if flavour == XANMOD_V1_FLAVOUR:
            return package, None
        return package, ('the CPU is x86-64-v1 and XanMod builds x64v1 kernels only in the LTS flavour: %s instead of the %s flavour'
                         % (package, flavour))
    if level > XANMOD_MAX_LEVEL:
        package = FLAVOURS[flavour] % XANMOD_MAX_LEVEL
        return package, ('the CPU is x86-64-v%d but XanMod no longer publishes x64v%d builds: %s is the one for it'
                         % (level, level, package))
    return FLAVOURS[flavour] % level, None
