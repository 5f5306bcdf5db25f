# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Swap files: read /proc/swaps, /proc/mounts and fstab, size ``auto``, choose how to create and how to resize.

The readers, parsers and planners here are pure functions over text or plain values, with the system
paths as default arguments (:class:`Paths`). :func:`plan_present` and :func:`plan_absent` read the
system and return a :class:`Plan`; :mod:`swap_resize` carries a plan out (``run()``, the module's
entry point, and :class:`~swap_resize.SwapExecutor`, which records every host change as it makes it).

Safety rules, in one place:

- Nothing is written before every input and the free space have been checked (SwapError).
- A file being created is removed again when creation fails (disk full), and fstab is written
  only after the swap file is in place.
- An active swap file is only swapped off when what it holds fits in MemAvailable with
  :data:`SWAPOFF_MARGIN` to spare; otherwise a resize goes through a second file
  (``<path>.new``) that is active before the old one is swapped off and until the old one is
  back with its new size (the kernel refuses to rename or unlink an active swap file).
"""

from __future__ import annotations

import os
import re

from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.files import plan_file, read_text
from ansible_collections.lowmem.vps.plugins.module_utils.meminfo import MEMINFO_PATH, MeminfoError, read_meminfo
from ansible_collections.lowmem.vps.plugins.module_utils.sizes import GIB, MIB, SizeError, format_size, parse_size

SWAPS_PATH = '/proc/swaps'
MOUNTS_PATH = '/proc/mounts'
FSTAB_PATH = '/etc/fstab'
# Files a container runtime or systemd leaves behind: used only to predict, in check mode, that swapon will be refused.
CONTAINER_MARKERS = ('/.dockerenv', '/run/.containerenv', '/run/systemd/container')

# Swapping a file off moves what it holds back into RAM: keep this much MemAvailable to spare.
SWAPOFF_MARGIN = 64 * MIB
# A new swap file must leave this much free space on its filesystem.
DISK_RESERVE = 64 * MIB
AUTO_SMALL_RAM = 2 * GIB
AUTO_MAX = 4 * GIB
AUTO_MIN = 256 * MIB
AUTO_STEP = 256 * MIB
AUTO_MAX_DISK_PERCENT = 50

# Filesystems where fallocate gives a file swapon accepts; elsewhere the file is written with dd.
FALLOCATE_FS = frozenset(['ext4', 'xfs'])
# Filesystems whose block maps are meaningful for the "file has holes" check.
HOLES_CHECK_FS = frozenset(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs'])
# Filesystems that cannot hold a swap file (or where one would only swap RAM to RAM).
NO_SWAP_FS = frozenset(['tmpfs', 'ramfs', 'proc', 'sysfs', 'devtmpfs', 'squashfs', 'iso9660', 'cgroup', 'cgroup2'])
SWAP_SIGNATURES = (b'SWAPSPACE2', b'SWAP-SPACE')
SWAPFILE_MODE = 0o600
NEW_SUFFIX = '.new'

_OCTAL_ESCAPE_RE = re.compile(r'\\([0-7]{3})')


class SwapError(RefusedError):
    """Bad input or a state the module refuses to touch; raised before anything was changed."""


class SwapFailure(PartialFailure):
    """A step failed after changes began; the message says what state the host was left in."""


class SwapEntry(object):
    """One line of /proc/swaps, sizes in bytes."""

    def __init__(self, path, kind, size, used, priority):
        self.path = path
        self.kind = kind
        self.size = size
        self.used = used
        self.priority = priority

    def __repr__(self):
        return 'SwapEntry(%r, %r, size=%d, used=%d, priority=%d)' % (self.path, self.kind, self.size, self.used, self.priority)


class Mount(object):
    """One line of /proc/mounts."""

    def __init__(self, device, mountpoint, fstype, options):
        self.device = device
        self.mountpoint = mountpoint
        self.fstype = fstype
        self.options = options

    @property
    def read_only(self):
        return 'ro' in self.options


class FileState(object):
    """What is at a path: exists, size, allocated bytes, mode, owner, swap signature."""

    def __init__(self, path, exists=False, regular=False, symlink=False, size=0, allocated=0, mode=None, uid=None, gid=None,
                 signature=False):
        self.path = path
        self.exists = exists
        self.regular = regular
        self.symlink = symlink
        self.size = size
        self.allocated = allocated
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.signature = signature

    @property
    def owned_right(self):
        return self.mode == SWAPFILE_MODE and self.uid == 0 and self.gid == 0


class Paths(object):
    """Where the system is read and written: the real paths by default, files under a temporary tree in tests."""

    def __init__(self, swaps=SWAPS_PATH, meminfo=MEMINFO_PATH, mounts=MOUNTS_PATH, fstab=FSTAB_PATH,
                 container_markers=CONTAINER_MARKERS):
        self.swaps = swaps
        self.meminfo = meminfo
        self.mounts = mounts
        self.fstab = fstab
        self.container_markers = container_markers


# The name before the collection-wide ``Paths`` convention.
SystemPaths = Paths
SYSTEM = Paths()


# ---------------------------------------------------------------- parsing


def unescape(text):
    r"""Undo the octal escapes the kernel and fstab use for blanks and backslashes (``\040``)."""
    return _OCTAL_ESCAPE_RE.sub(lambda match: chr(int(match.group(1), 8)), text)


def escape(path):
    r"""Write a path as an fstab field: space, tab, newline and backslash as octal escapes."""
    return ''.join('\\%03o' % ord(char) if char in ' \t\n\\' else char for char in path)


def parse_swaps(text):
    """SwapEntry list from the text of /proc/swaps (header line skipped, sizes in kB turned to bytes)."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] == 'Filename':
            continue
        try:
            size, used, priority = int(fields[2]), int(fields[3]), int(fields[4])
        except ValueError:
            continue
        entries.append(SwapEntry(unescape(fields[0]), fields[1], size * 1024, used * 1024, priority))
    return entries


def read_swaps(path=SWAPS_PATH):
    """Active swap areas; an absent /proc/swaps (kernel without swap) means none."""
    try:
        with open(path, 'r', encoding='utf-8', errors='replace') as handle:
            return parse_swaps(handle.read())
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SwapError('cannot read %s: %s' % (path, exc.strerror or exc)) from exc


def find_entry(entries, path):
    """The active entry of ``path`` (compared as given and with symlinks resolved), or None."""
    names = set([os.path.abspath(path), os.path.realpath(path)])
    for entry in entries:
        if entry.path in names:
            return entry
    return None


def parse_mounts(text):
    """Mount list from the text of /proc/mounts, in mount order."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mounts.append(Mount(unescape(fields[0]), unescape(fields[1]), fields[2], fields[3].split(',')))
    return mounts


def mount_of(path, mounts):
    """The mount holding ``path`` (an absolute, resolved path): the longest mount point that prefixes it.

    Of several mounts on the same mount point the last one is visible, as in the kernel.
    """
    best = None
    for mount in mounts:
        point = mount.mountpoint.rstrip('/') or '/'
        if point == '/' or path == point or path.startswith(point + '/'):
            if best is None or len(point) >= len(best.mountpoint.rstrip('/') or '/'):
                best = mount
    return best


def read_mount(path, mounts_path=MOUNTS_PATH):
    """The mount holding ``path`` according to ``mounts_path``; None when it cannot be read."""
    try:
        with open(mounts_path, 'r', encoding='utf-8', errors='replace') as handle:
            mounts = parse_mounts(handle.read())
    except OSError:
        return None
    return mount_of(os.path.realpath(path), mounts)


# ---------------------------------------------------------------- fstab


def fstab_line(path, priority=None):
    """Our fstab line: ``/swapfile none swap sw,pri=10 0 0``, or ``sw`` alone without a priority (or -1)."""
    options = 'sw' if priority is None or priority == -1 else 'sw,pri=%d' % priority
    return '%s none swap %s 0 0' % (escape(path), options)


def is_line_for(line, path):
    """Whether an fstab line (not a comment) names ``path`` in its first field."""
    fields = line.split()
    return bool(fields) and not fields[0].startswith('#') and unescape(fields[0]) == path


def render_fstab(text, path, line):
    """fstab text with exactly one ``line`` for ``path`` (``line`` None: none).

    Every other line stays byte for byte. The first line for ``path`` is replaced in place (kept as
    it is when its fields already equal ours, whatever the spacing); later duplicates are dropped.
    Without a line for ``path`` ours is appended. ``text`` None (no fstab) gives None when no line is
    wanted, else a file holding only our line.
    """
    if text is None:
        return None if line is None else line + '\n'
    out = []
    placed = False
    for raw in text.splitlines(True):
        if is_line_for(raw, path):
            if line is not None and not placed:
                out.append(raw if raw.split() == line.split() and raw.endswith('\n') else line + '\n')
                placed = True
            continue
        out.append(raw)
    if line is not None and not placed:
        if out and not out[-1].endswith('\n'):
            out[-1] += '\n'
        out.append(line + '\n')
    return ''.join(out)


def plan_fstab(path, priority=None, present=True, fstab_path=FSTAB_PATH):
    """FilePlan for fstab: one line for ``path`` when ``present``, none otherwise."""
    before = read_text(fstab_path)
    after = render_fstab(before, path, fstab_line(path, priority) if present else None)
    return plan_file(fstab_path, after)


# ---------------------------------------------------------------- sizes and disk


def parse_swap_size(value):
    """Bytes for an explicit swap size: positive, a whole number of MiB."""
    try:
        number = parse_size(value)
    except SizeError as exc:
        raise SwapError('size=%s: %s' % (value, exc)) from exc
    if number % MIB:
        raise SwapError('size=%s is not a whole number of MiB (bare digits are bytes: write 512M for 512 MiB)' % value)
    return number


def _round_up(number, step):
    return -(-number // step) * step


def auto_size(mem_total, free, reclaimable=0, max_disk_percent=AUTO_MAX_DISK_PERCENT):
    """Swap size for ``size=auto``, in bytes. All arguments in bytes except the percentage.

    The rule:

    - RAM (MemTotal) up to 2 GiB: 2 GiB of swap.
    - More RAM: as much swap as RAM, rounded up to 256 MiB, at most 4 GiB.
    - Never more than ``max_disk_percent`` (50) percent of the free space of the swap file's
      filesystem, counting the current swap file (``reclaimable``) as free, rounded down to
      256 MiB; the rounding keeps the size stable while free space drifts between runs.
    - Below 256 MiB the module fails: such a swap file would not help.
    """
    if mem_total <= AUTO_SMALL_RAM:
        target = AUTO_SMALL_RAM
    else:
        target = min(_round_up(mem_total, AUTO_STEP), AUTO_MAX)
    cap = (free + reclaimable) * max_disk_percent // 100 // AUTO_STEP * AUTO_STEP
    size = min(target, cap)
    if size < AUTO_MIN:
        raise SwapError('size=auto: %d%% of the free space (%s, counting the current swap file) is below the minimum of %s; '
                        'free disk space or give an explicit size' % (max_disk_percent, format_size(free + reclaimable), format_size(AUTO_MIN)))
    return size


def free_bytes(directory, statvfs=os.statvfs):
    """Bytes an unprivileged writer could still use on the filesystem of ``directory``."""
    info = statvfs(directory)
    return info.f_bavail * info.f_frsize


def check_fits(size, free, reclaimable, directory, two_files=False):
    """Refuse a file that would not fit with :data:`DISK_RESERVE` to spare (SwapError)."""
    room = free + (0 if two_files else reclaimable)
    if size + DISK_RESERVE > room:
        if two_files:
            where = '%s free (the current file stays until the new one is active)' % format_size(free)
        else:
            where = '%s free plus %s of the current file' % (format_size(free), format_size(reclaimable))
        raise SwapError('size=%s does not fit on the filesystem of %s: %s, and %s must stay free'
                        % (format_size(size), directory, where, format_size(DISK_RESERVE)))


# ---------------------------------------------------------------- files and strategy


def page_size():
    return os.sysconf('SC_PAGE_SIZE')


def has_swap_signature(path, page=None):
    """Whether ``path`` carries mkswap's signature at the end of its first page."""
    page = page or page_size()
    try:
        with open(path, 'rb') as handle:
            handle.seek(page - 10)
            return handle.read(10) in SWAP_SIGNATURES
    except OSError:
        return False


def file_state(path):
    """FileState of ``path`` (lstat: a symlink is reported, not followed)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return FileState(path)
    regular = (info.st_mode & 0o170000) == 0o100000
    return FileState(path, exists=True, regular=regular, symlink=(info.st_mode & 0o170000) == 0o120000, size=info.st_size,
                     allocated=info.st_blocks * 512, mode=info.st_mode & 0o7777, uid=info.st_uid, gid=info.st_gid,
                     signature=regular and has_swap_signature(path))


def recreate_reason(state, wanted, active, fstype=None):
    """Why the file must be (re)created, or None: missing, other size, or (inactive) unformatted or with holes."""
    if not state.exists:
        return 'missing'
    if state.size != wanted:
        return 'size %s, wanted %s' % (format_size(state.size), format_size(wanted))
    if active:
        return None
    if not state.signature:
        return 'no swap signature (an earlier run was interrupted?)'
    if fstype in HOLES_CHECK_FS and state.allocated < state.size:
        return 'the file has holes'
    return None


def choose_method(fstype, btrfs_mkswapfile=False):
    """How to create the file on ``fstype``: fallocate, dd, btrfs (mkswapfile) or btrfs_nocow (chattr +C, dd)."""
    if fstype == 'btrfs':
        return 'btrfs' if btrfs_mkswapfile else 'btrfs_nocow'
    if fstype in FALLOCATE_FS:
        return 'fallocate'
    return 'dd'


def fallback_method(fstype):
    """What to use when swapon refuses a file as having holes: a file written in full."""
    return 'btrfs_nocow' if fstype == 'btrfs' else 'dd'


def reported_method(method):
    """The method as returned to the user: the NOCOW file on btrfs is written by dd."""
    return 'dd' if method == 'btrfs_nocow' else method


def resize_strategy(used, mem_available, margin=SWAPOFF_MARGIN):
    """``in_place`` when what the file holds fits in MemAvailable with ``margin`` to spare, else ``two_file``."""
    return 'in_place' if used + margin <= mem_available else 'two_file'


def classify_swapon_error(text):
    """``eperm`` (containers), ``einval`` (holes, or a file the filesystem cannot swap to), or ``error``.

    swapon(8) itself refuses a file whose allocated blocks are fewer than its size ("appears to
    have holes"); the kernel answers EINVAL for extents it cannot swap to. Both are cured the same
    way: a file written in full.
    """
    if 'Operation not permitted' in text:
        return 'eperm'
    if 'Invalid argument' in text or 'appears to have holes' in text:
        return 'einval'
    return 'error'


def is_enospc(text):
    return 'No space left on device' in text or 'Disk quota exceeded' in text


def in_container(markers=CONTAINER_MARKERS):
    """The first container marker that exists, or None."""
    for marker in markers:
        if os.path.exists(marker):
            return marker
    return None


def memory(meminfo_path=MEMINFO_PATH):
    """(MemTotal, MemAvailable) in bytes."""
    try:
        info = read_meminfo(meminfo_path)
    except MeminfoError as exc:
        raise SwapError(str(exc)) from exc
    missing = [name for name in ('MemTotal', 'MemAvailable') if name not in info]
    if missing:
        raise SwapError('%s has no %s line' % (meminfo_path, ' or '.join(missing)))
    return info['MemTotal'] * 1024, info['MemAvailable'] * 1024


def check_path(path):
    """Problems with the swap file path as such (SwapError)."""
    if not path or not os.path.isabs(path):
        raise SwapError('path=%s must be an absolute path' % path)
    if path.endswith('/') or not os.path.basename(path):
        raise SwapError('path=%s names a directory, not a file' % path)


def check_directory(path, mounts_path=MOUNTS_PATH):
    """Refuse a path whose directory is missing, read-only or on a filesystem that cannot hold swap; return its Mount."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise SwapError('directory %s does not exist' % directory)
    mount = read_mount(directory, mounts_path)
    if mount is not None and mount.fstype in NO_SWAP_FS:
        raise SwapError('%s is on %s (%s), which cannot hold a swap file' % (path, mount.fstype, mount.mountpoint))
    if (mount is not None and mount.read_only) or not os.access(directory, os.W_OK):
        where = ' (mounted read-only on %s)' % mount.mountpoint if mount is not None and mount.read_only else ''
        raise SwapError('directory %s is not writable%s' % (directory, where))
    return mount


def check_target(state):
    if state.symlink:
        raise SwapError('%s is a symlink: give the real path' % state.path)
    if state.exists and not state.regular:
        raise SwapError('%s exists and is not a regular file' % state.path)


def describe(size, active, priority):
    """The text of the size entry of ``diff``."""
    if size is None:
        return 'absent\n'
    text = 'size: %s\nactive: %s\n' % (format_size(size), 'true' if active else 'false')
    if priority is not None:
        text += 'priority: %d\n' % priority
    return text


# ---------------------------------------------------------------- planning


class Plan(object):
    """What one swapfile task found and will do: the values read, the sizes, the steps (:func:`plan_steps`) and the fstab
    FilePlan. :mod:`swap_resize` carries it out; check mode reports it as it is."""

    def __init__(self, **values):
        self.__dict__.update(values)


def plan_steps(drop_leftover, finish, reason, resize, fix_owner, needs_swapon, reprioritize, fstab_changed):
    """The steps of one converge, in the order they run; check mode reports them, a real run carries them out.

    ``remove_leftover`` (an inactive <path>.new), ``drop_new`` / ``rebuild`` (finish an interrupted two-file resize),
    ``two_file`` / ``recreate`` (make the file anew, swapping on), else ``fix_owner``, ``swapon``, ``reprioritize`` on
    the existing file; ``fstab`` last.
    """
    steps = []
    if drop_leftover:
        steps.append('remove_leftover')
    if finish:
        steps.append(finish)
    if reason:
        steps.append('two_file' if resize == 'two_file' else 'recreate')
    else:
        steps.extend(name for name, wanted in (('fix_owner', fix_owner), ('swapon', needs_swapon),
                                               ('reprioritize', reprioritize)) if wanted)
    if fstab_changed:
        steps.append('fstab')
    return steps


def _check_two_file(path, wanted, free, current, entry, available):
    """Refuse a two-file resize that would not fit on disk or in memory (SwapError)."""
    directory = os.path.dirname(path)
    # First <path>.new is created next to the old file, then <path> is recreated next to <path>.new.
    check_fits(wanted, free, current.allocated, directory, two_files=True)
    if 2 * wanted + DISK_RESERVE > free + current.allocated:
        raise SwapError('size=%s does not fit on the filesystem of %s: the swap in use does not fit in RAM, so the resize '
                        'needs two files of %s at once (%s free plus %s of the current file), and %s must stay free'
                        % (format_size(wanted), directory, format_size(wanted), format_size(free),
                           format_size(current.allocated), format_size(DISK_RESERVE)))
    if entry.used + SWAPOFF_MARGIN > available + wanted:
        raise SwapError('cannot resize %s to %s: %s of swap in use would fit neither in the new file nor in '
                        'MemAvailable (%s)' % (path, format_size(wanted), format_size(entry.used), format_size(available)))


def _plan_finish(path, wanted, current, entry, new_entry, free, available):
    """What to do with an active <path>.new: ``drop_new`` when <path> is active with the wanted size, else ``rebuild``.

    Refuses (SwapError) when a swapoff on the way would not fit in memory or <path> would not fit on disk.
    """
    new_path = path + NEW_SUFFIX
    if entry is not None and current.size == wanted:
        if new_entry.used + SWAPOFF_MARGIN > available + max(entry.size - entry.used, 0):
            raise SwapError('%s from an interrupted resize is active with %s in use, which would fit neither in %s nor in '
                            'MemAvailable (%s)' % (new_path, format_size(new_entry.used), path, format_size(available)))
        return 'drop_new'
    if entry is not None and entry.used + SWAPOFF_MARGIN > available + max(new_entry.size - new_entry.used, 0):
        raise SwapError('%s from an interrupted resize is active, but swapping off %s (%s in use) needs more than '
                        'MemAvailable (%s) plus the free space of %s'
                        % (new_path, path, format_size(entry.used), format_size(available), new_path))
    if new_entry.used + SWAPOFF_MARGIN > available + wanted:
        raise SwapError('%s from an interrupted resize holds %s, which would fit neither in a %s %s nor in MemAvailable (%s)'
                        % (new_path, format_size(new_entry.used), format_size(wanted), path, format_size(available)))
    check_fits(wanted, free, current.allocated, os.path.dirname(path))
    return 'rebuild'


def plan_present(path, size='auto', priority=None, fstab=True, auto_max_disk_percent=AUTO_MAX_DISK_PERCENT, paths=SYSTEM,
                 btrfs_mkswapfile=lambda: False):
    """Read the system and plan ``state=present``: a :class:`Plan`, or SwapError (bad input, a refusal).

    ``btrfs_mkswapfile`` answers whether ``btrfs filesystem mkswapfile`` exists (asked only on btrfs).
    """
    new_path = path + NEW_SUFFIX
    warnings = []
    check_path(path)
    if priority is not None and not -1 <= priority <= 32767:
        raise SwapError('priority=%d is outside -1..32767' % priority)
    if not 1 <= auto_max_disk_percent <= 100:
        raise SwapError('auto_max_disk_percent=%d is outside 1..100' % auto_max_disk_percent)
    explicit = None if str(size).strip().lower() == 'auto' else parse_swap_size(size)
    mount = check_directory(path, paths.mounts)
    fstype = mount.fstype if mount is not None else None
    directory = os.path.dirname(path)
    current = file_state(path)
    leftover = file_state(new_path)
    check_target(current)
    check_target(leftover)
    mem_total, available = memory(paths.meminfo)
    entries = read_swaps(paths.swaps)
    entry = find_entry(entries, path)
    new_entry = find_entry(entries, new_path) if leftover.exists else None
    free = free_bytes(directory)
    size_before = current.size if current.exists else None
    active_before = entry is not None
    priority_before = entry.priority if entry is not None else None
    wanted = explicit if explicit is not None else auto_size(mem_total, free, current.allocated + leftover.allocated,
                                                             auto_max_disk_percent)

    # <path>.new is active only in the middle of a two-file resize (this run's or an interrupted one's):
    # it holds swap while <path> is recreated. Inactive, it is a leftover and goes.
    finish = None
    if new_entry is not None:
        finish = _plan_finish(path, wanted, current, entry, new_entry, free, available)
        if finish == 'rebuild':
            # What <path> will be once rebuilt: the steps below then find nothing left to do.
            current = FileState(path, exists=True, regular=True, size=wanted, allocated=wanted, mode=SWAPFILE_MODE, uid=0,
                                gid=0, signature=True)
            entry = SwapEntry(path, 'file', wanted, 0, priority if priority is not None and priority >= 0 else new_entry.priority)
    drop_leftover = leftover.exists and new_entry is None
    if drop_leftover:
        free += leftover.allocated

    reason = recreate_reason(current, wanted, entry is not None, fstype)
    resize = 'two_file' if finish == 'rebuild' else 'none'
    if reason:
        if entry is not None:
            resize = resize_strategy(entry.used, available)
            if resize == 'two_file':
                _check_two_file(path, wanted, free, current, entry, available)
            else:
                check_fits(wanted, free, current.allocated, directory)
        else:
            check_fits(wanted, free, current.allocated, directory)
            if current.exists and current.size != wanted:
                resize = 'in_place'
    fix_owner = not reason and not current.owned_right
    reprioritize = False
    if not reason and entry is not None and priority is not None and priority != -1 and entry.priority != priority:
        if entry.used + SWAPOFF_MARGIN <= available:
            reprioritize = True
        else:
            warnings.append('%s is active with priority %d; %d applies at the next boot (swapping it off now to change '
                            'the priority would need more than MemAvailable)' % (path, entry.priority, priority))
    needs_swapon = reason is not None or entry is None
    fstab_plan = plan_fstab(path, priority, True, paths.fstab) if fstab else None

    method = 'none'
    if reason or finish == 'rebuild':
        method = choose_method(fstype, fstype == 'btrfs' and btrfs_mkswapfile())
    steps = plan_steps(drop_leftover, finish, reason, resize, fix_owner, needs_swapon, reprioritize,
                       fstab_plan is not None and fstab_plan.changed)
    return Plan(path=path, new_path=new_path, wanted=wanted, priority=priority, fstype=fstype, current=current, entry=entry,
                size_before=size_before, active_before=active_before, priority_before=priority_before, reason=reason,
                resize=resize, needs_swapon=needs_swapon, fstab_plan=fstab_plan, method=method, steps=steps,
                warnings=warnings)


def plan_absent(path, fstab=True, paths=SYSTEM):
    """Read the system and plan ``state=absent``: a :class:`Plan` (``active``: the entries to swap off, ``existing``:
    the files to delete), or SwapError when swapping off would not fit in memory or the files cannot be deleted."""
    new_path = path + NEW_SUFFIX
    check_path(path)
    targets = [file_state(path), file_state(new_path)]
    for state in targets:
        check_target(state)
    entries = read_swaps(paths.swaps)
    active = [entry for entry in (find_entry(entries, path), find_entry(entries, new_path)) if entry is not None]
    existing = [state.path for state in targets if state.exists]
    if active:
        available = memory(paths.meminfo)[1]
        used = sum(entry.used for entry in active)
        if used + SWAPOFF_MARGIN > available:
            raise SwapError('refusing to swap off %s: %s of swap in use would not fit in MemAvailable (%s) with %s to spare, '
                            'and the OOM killer would pick a process to make room'
                            % (path, format_size(used), format_size(available), format_size(SWAPOFF_MARGIN)))
    if existing:
        directory = os.path.dirname(path)
        mount = read_mount(directory, paths.mounts)
        if (mount is not None and mount.read_only) or not os.access(directory, os.W_OK):
            raise SwapError('directory %s is not writable: %s cannot be removed' % (directory, path))
    fstab_plan = plan_fstab(path, None, False, paths.fstab) if fstab else None
    return Plan(path=path, new_path=new_path, active=active, existing=existing, fstab_plan=fstab_plan,
                size_before=targets[0].size if targets[0].exists else None, active_before=find_entry(entries, path))
