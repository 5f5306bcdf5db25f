#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: swapfile
short_description: One swap file, sized for a small machine, created, resized and removed without losing swap
version_added: 1.0.0
description:
  - Creates a swap file with mode C(0600) owned by root, formats it with C(mkswap), enables it with C(swapon) and keeps
    exactly one line for it in C(/etc/fstab) (C(/swapfile none swap sw,pri=N 0 0)); other fstab lines stay byte for byte,
    duplicate lines for the same path are removed. fstab is written atomically and only after the swap file is in place.
  - The file is created with C(fallocate) on ext4 and xfs, with C(btrfs filesystem mkswapfile) on btrfs when the installed
    btrfs-progs has it (else an empty NOCOW file written with C(dd)), and with C(dd) from C(/dev/zero) on other filesystems
    or when C(fallocate) fails. When C(swapon) refuses a file made by C(fallocate) with C(Invalid argument) (holes), the file
    is written again in full with C(dd) and activated once more.
  - Resizing an active swap file never leaves less swap than before on failure. When what the file holds fits in
    C(MemAvailable) with 64 MiB to spare, it is swapped off, recreated and swapped on (RV(resize=in_place); a failure
    recreates the old size). Otherwise a second file C(<path>.new) of the new size is created and swapped on first, then
    the old file is swapped off (its pages move to C(<path>.new)), recreated with the new size and swapped on, and last
    C(<path>.new) is swapped off and deleted (RV(resize=two_file)). The kernel refuses to rename or delete an active swap
    file, hence the second copy. A failure before the old file is swapped off removes C(<path>.new) and leaves the old file
    active. An active C(<path>.new) left by an interrupted run is finished on the next run; an inactive one is removed.
  - Inside a container the kernel refuses C(swapon) (C(Operation not permitted)); the module then still writes the file and
    the fstab line and returns RV(active=false) with RV(inactive_reason) instead of failing.
  - Bad input (a size of zero, negative or unreadable, larger than the free space, a missing or read-only directory) fails
    before anything is changed. A full disk while the file is written removes the partial file and leaves fstab untouched.
author:
  - lowmem.vps contributors (@lowmem)
options:
  path:
    description:
      - Absolute path of the swap file. Its directory must exist. A symlink is refused.
    type: path
    default: /swapfile
  size:
    description:
      - Size of the swap file with a binary unit, for example V(512M), V(2G), V(2GiB); a whole number of MiB.
        Bare digits are bytes.
      - V(auto) sizes from RAM and free disk space by this rule.
        With MemTotal up to 2 GiB, 2 GiB of swap; with more RAM, as much swap as RAM rounded up to 256 MiB, at most 4 GiB;
        never more than O(auto_max_disk_percent) percent of the free space of the file's filesystem (counting the current
        swap file as free), rounded down to 256 MiB so the size stays put while free space drifts;
        below 256 MiB the task fails.
      - Ignored with O(state=absent).
    type: str
    default: auto
  priority:
    description:
      - Swap priority (C(swapon -p), C(pri=) in fstab), from -1 to 32767; higher is used first. Unset or V(-1) leaves it
        to the kernel.
      - Changing the priority of an active file swaps it off and on again, only when what it holds fits in MemAvailable;
        otherwise the new priority is written to fstab and applies at the next boot (with a warning).
    type: int
  fstab:
    description:
      - Keep exactly one line for O(path) in C(/etc/fstab) (V(true)), or never read or write C(/etc/fstab) (V(false)).
      - With O(state=absent) and V(true), every line for O(path) is removed.
    type: bool
    default: true
  auto_max_disk_percent:
    description:
      - With O(size=auto), the largest share of the filesystem's free space (in percent, 1 to 100) the swap file may take.
    type: int
    default: 50
  state:
    description:
      - V(present) makes the swap file exist, active, with the wanted size.
      - V(absent) swaps it off, removes its fstab line(s) and deletes it (and a leftover C(<path>.new)). Swapping off is
        refused when the swap in use plus 64 MiB does not fit in MemAvailable, because the OOM killer would pick a process
        to make room.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - lowmem.vps.attributes
  - lowmem.vps.attributes.planned_writes
notes:
  - Reads C(/proc/swaps), C(/proc/meminfo), C(/proc/mounts) and C(/etc/fstab); runs C(fallocate), C(dd), C(chattr),
    C(btrfs), C(mkswap), C(swapon) and C(swapoff) as needed.
  - A new file must leave 64 MiB free on its filesystem; a two-file resize needs room for two files of the new size.
  - In check mode the module cannot try C(swapon); it predicts RV(active=false) where a container marker exists
    (C(/.dockerenv), C(/run/.containerenv), C(/run/systemd/container)).
  - Inside a container C(/proc/swaps) and C(/proc/meminfo) describe the host, so O(size=auto) sizes from the host's RAM
    there; give an explicit size in containers.
'''

EXAMPLES = r'''
- name: A swap file sized from RAM and disk (2 GiB on a 512 MB VPS with enough disk)
  lowmem.vps.swapfile:
    path: /swapfile

- name: 1 GiB of swap with a priority, used before other swap areas
  lowmem.vps.swapfile:
    path: /swapfile
    size: 1G
    priority: 10

- name: Remove the swap file and its fstab line
  lowmem.vps.swapfile:
    path: /swapfile
    state: absent
'''

RETURN = r'''
swapfile:
  description:
    - The swap file. Not named C(path), so Ansible does not add the file's stat (its size before a change, C(state=file))
      to the result.
  returned: always
  type: str
  sample: /swapfile
size:
  description: Size of the swap file after the task, in bytes (null with O(state=absent)).
  returned: always
  type: int
  sample: 2147483648
size_human:
  description: RV(size) written with a binary unit.
  returned: always
  type: str
  sample: 2G
size_before:
  description: Size of the file before the task, in bytes; null when it did not exist.
  returned: always
  type: int
  sample: 1073741824
active:
  description: Whether the file is an active swap area after the task (predicted in check mode).
  returned: always
  type: bool
inactive_reason:
  description: Why the file is not active (for example C(swapon) refused inside a container); empty when active.
  returned: always
  type: str
  sample: "swapon was refused (swapon: /swapfile: swapon failed: Operation not permitted): this looks like a container ..."
priority:
  description: The priority of the swap area as the kernel reports it (or as requested); null when unknown or absent.
  returned: always
  type: int
  sample: 10
method:
  description:
    - How the file was created in this run, V(fallocate), V(dd) (also the NOCOW file on btrfs), V(btrfs)
      (C(btrfs filesystem mkswapfile)), or V(none) when no file was created.
  returned: always
  type: str
  sample: fallocate
resize:
  description:
    - V(none), V(in_place) (swapped off, recreated, swapped on; also a wrong-size inactive file recreated) or V(two_file)
      (C(<path>.new) held the swap while the file was recreated).
  returned: always
  type: str
  sample: none
steps:
  description:
    - The steps of this run in the order they ran (in check mode, would run), for example V(recreate), V(fstab);
      empty when nothing changed. One of V(remove_leftover), V(drop_new), V(rebuild), V(two_file), V(recreate),
      V(fix_owner), V(swapon), V(reprioritize), V(fstab).
  returned: always
  type: list
  elements: str
  sample: [recreate, fstab]
fstab_changed:
  description: Whether C(/etc/fstab) was (or in check mode would be) changed.
  returned: always
  type: bool
actions:
  description:
    - The changes made to the host in this run, in the order they were made, one text each
      (V(swapoff /swapfile), V(remove /swapfile), V(create /swapfile), V(mkswap /swapfile), V(swapon -p 10 /swapfile),
      V(chmod /swapfile), V(write /etc/fstab)); empty in check mode and when nothing changed.
    - Also returned when the task fails after a change, for example a resize whose C(swapon) fails after the file was
      swapped off. The task then reports C(changed=true), and its C(diff) holds one entry per change made, headed
      C(step N) and the action, with the state of the file before and after (for a swapoff, C(active) then
      C(inactive)), plus the fstab diff once fstab was written.
  returned: always, and on a failure after a change
  type: list
  elements: str
  sample: [swapoff /swapfile, remove /swapfile, create /swapfile, mkswap /swapfile, swapon /swapfile]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.module_utils.swap_resize import run

ARGUMENT_SPEC = dict(
    path=dict(type='path', default='/swapfile'),
    size=dict(type='str', default='auto'),
    priority=dict(type='int'),
    fstab=dict(type='bool', default=True),
    auto_max_disk_percent=dict(type='int', default=50),
    state=dict(type='str', default='present', choices=['present', 'absent']),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    report(module, 'swapfile', run)


if __name__ == '__main__':
    main()
