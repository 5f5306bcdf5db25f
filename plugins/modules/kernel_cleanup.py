#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: kernel_cleanup
short_description: Purge old kernel packages, never the running one, the newest one or the default boot entry
version_added: 1.0.0
description:
  - Lists the kernel packages with C(dpkg-query) and purges the ones of old kernels with C(apt-get purge), so C(/boot)
    and the disk of a small VPS do not fill up with kernels (each Debian or XanMod kernel takes 60 to 100 MB installed).
  - A kernel is a release as C(uname -r) prints it (C(6.12.57+deb13-amd64), C(6.17.8-x64v3-xanmod1)). Its packages
    are C(linux-image-<release>) (also the C(-unsigned) variants), C(linux-headers-<release>), C(linux-modules-<release>),
    C(linux-modules-extra-<release>) and C(linux-image-<release>-dbg); C(linux-headers-<version>-common) and
    C(linux-kbuild-<version>) go with the last kernel of their version. Meta packages (C(linux-image-amd64),
    C(linux-image-cloud-amd64), C(linux-xanmod-x64v3)) are never touched.
  - Always kept, whatever O(keep) says, the running kernel and the newest installed kernel (by the Version of its image
    package, in dpkg's order). Then the newest other kernels are kept until O(keep) kernels are kept. The kernel
    C(GRUB_DEFAULT) (or C(saved_entry) of C(/boot/grub/grubenv) with C(GRUB_DEFAULT=saved)) names is kept too; when it
    names a kernel that is not installed, at least one kernel of that flavour stays. Kernels on hold and kernels with a
    package half-installed are kept. Kernels removed earlier whose configuration files are left (dpkg status C(rc)) are
    purged.
  - The module refuses to remove anything when the running kernel's image package is not installed (a kernel from
    elsewhere, a container running the host's kernel), and when C(apt-get) would remove any package outside the plan
    (a meta package that depends on one of the kernels); both before anything is changed.
  - After C(apt-get) the module runs C(update-grub) (when installed) and reads the package state back; a planned package
    still installed, or another kernel package gone, fails the task.
author:
  - lowmem.vps contributors (@lowmem)
options:
  keep:
    description:
      - How many kernels to keep, counting the running one and the newest one. The default V(2) keeps the running kernel
        and one fallback (the newest one when the running kernel is older, else the newest older one).
      - The running and the newest kernels are kept even when that makes more than O(keep). At least V(1).
    type: int
    default: 2
  update_grub:
    description:
      - Run C(update-grub) after the packages were purged, when it is installed. The kernel packages' own hooks usually
        do it already; this makes sure the boot menu lists only kernels that exist.
    type: bool
    default: true
  purge:
    description:
      - V(true) purges (C(apt-get purge)), removing the packages' configuration files too, and also purges kernels left
        with only their configuration files. V(false) only removes (C(apt-get remove)).
    type: bool
    default: true
extends_documentation_fragment:
  - lowmem.vps.attributes
attributes:
  check_mode:
    support: full
    details:
      - C(apt-get -s) (a simulation) still runs in check mode, so a plan that would remove other packages fails there
        too.
  diff_mode:
    support: full
  idempotent:
    support: full
notes:
  - Reads C(/proc/sys/kernel/osrelease) (what C(uname -r) prints), C(/etc/default/grub) and C(/boot/grub/grubenv); runs
    C(dpkg-query), C(apt-get) and C(update-grub).
  - In check mode C(apt-get -s) still runs, so a plan that would remove other packages fails in check mode too.
  - A numeric C(GRUB_DEFAULT) (V(0), the default) boots the first menu entry, the newest kernel, which is always kept.
'''

EXAMPLES = r'''
- name: Keep the running kernel and one fallback, purge the others
  lowmem.vps.kernel_cleanup:
  register: cleanup

- name: After a reboot into a verified kernel, keep only it (and the newest, if that is another one)
  lowmem.vps.kernel_cleanup:
    keep: 1

- name: Remove without purging configuration files, without regenerating the boot menu
  lowmem.vps.kernel_cleanup:
    purge: false
    update_grub: false
'''

RETURN = r'''
running:
  description: The running kernel release.
  returned: always
  type: str
  sample: 6.17.8-x64v3-xanmod1
kept:
  description: The kernel releases kept, newest first.
  returned: always
  type: list
  elements: str
  sample: [6.17.8-x64v3-xanmod1, 6.12.57+deb13-amd64]
purged:
  description: The packages purged (removed with O(purge=false)), or that would be in check mode.
  returned: always
  type: list
  elements: str
  sample: [linux-headers-6.12.48+deb13-amd64, linux-headers-6.12.48+deb13-common, linux-image-6.12.48+deb13-amd64]
purged_releases:
  description: The kernel releases whose packages are in RV(purged), newest first.
  returned: always
  type: list
  elements: str
  sample: [6.12.48+deb13-amd64]
reasons:
  description: Why each kernel release is kept or goes.
  returned: always
  type: dict
  sample: {"6.17.8-x64v3-xanmod1": "running kernel", "6.12.57+deb13-amd64": "GRUB boots it by default",
           "6.12.48+deb13-amd64": "older than the kept kernels (keep=2)"}
default_boot:
  description: The kernel release GRUB boots by default when its configuration names one; null otherwise.
  returned: always
  type: str
  sample: 6.12.57+deb13-amd64
grub_updated:
  description: Whether C(update-grub) ran (or would run, in check mode).
  returned: always
  type: bool
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.kernels import run
from ansible_collections.lowmem.vps.plugins.module_utils.result import report


ARGUMENT_SPEC = dict(
    keep=dict(type='int', default=2),
    update_grub=dict(type='bool', default=True),
    purge=dict(type='bool', default=True),
)


def main():
    report(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), 'kernel_cleanup', run)


if __name__ == '__main__':
    main()
