#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: leak_probe
short_description: Tell whether a command leaks unreclaimable kernel memory on each run, and which init script causes it
version_added: 1.0.0
description:
  - Runs a command O(runs) times and samples C(SUnreclaim), C(Slab) and C(MemAvailable) from C(/proc/meminfo) before
    and after each run, and C(/proc/slabinfo) (when readable, as root) before the first and after the last run.
    Returns the mean C(SUnreclaim) growth per run (RV(per_run_kb)), one row per run (RV(samples)), the slab caches that
    grew most (RV(growing_caches)) and a verdict, RV(leaking).
  - How RV(leaking) is decided - it is true only for consistent growth across the runs, not for one noisy jump. The
    mean growth per run must be at least O(threshold_kb) B(and) the median run's growth at least half of O(threshold_kb).
    One jump among flat runs (a per-CPU slab refill, a first run filling a cache) gives a high mean but a median near 0;
    growth that is given back on a later run (objects freed after a delay) gives a mean near 0. Shrinking is never a
    leak. Use 5 runs or more; with 1 or 2 runs a jump cannot be told from a leak.
  - Memory that ps cannot show is often kernel slab a command leaves behind on each run (files on a tmpfs, System V
    IPC objects, a driver's allocations). This is how a monitoring script that ran C(service --status-all > file)
    every minute made a box grow 1 MB a minute.
  - With O(bisect_dir), finds the script of that directory (for example C(/etc/init.d)) whose presence makes the
    command leak. Each trial copies the trial's scripts into a temporary copy of the directory and runs the command in
    a private mount namespace (C(unshare --mount --propagation private)) where the copy is bind-mounted over the
    directory. The host's directory is only read, never moved or edited, and other processes never see the copy. The
    namespace ends with the command's processes; the temporary copy is removed when the bisect ends, fails or is
    interrupted. Needs root (C(CAP_SYS_ADMIN)) and C(unshare) (util-linux).
  - The bisect measures the command with all scripts present and refuses when it does not leak; then with none
    (when that leaks too, no script is to blame); then it halves the suspects (the first half, and the second only when
    the first does not leak) until one is left, and confirms that one alone leaks. RV(steps) lists every trial.
  - The module changes nothing itself, but the command runs as given; in check mode nothing is run and C(msg) says
    what would be.
author:
  - lowmem.vps contributors (@lowmem)
options:
  argv:
    description:
      - The command as a list of arguments, run without a shell. Give O(argv) or O(cmd), not both.
    type: list
    elements: str
  cmd:
    description:
      - The command as a string, run through C(/bin/sh -c). Needs O(shell=true), for redirections and pipes such as
        C(service --status-all > /tmp/status).
    type: str
  shell:
    description:
      - Run O(cmd) through C(/bin/sh -c). Must be true with O(cmd) and false with O(argv).
    type: bool
    default: false
  runs:
    description:
      - How many times the command is run and measured (1 to 1000). More runs tell a small leak from noise.
    type: int
    default: 10
  threshold_kb:
    description:
      - The C(SUnreclaim) growth per run, in kB, from which the command counts as leaking (see how RV(leaking) is
        decided). The seed's leak was about 1 MB per run; per-CPU slab caches make a few kB of noise.
    type: float
    default: 64
  settle:
    description:
      - Seconds to wait after each run before sampling (0 to 60). C(SUnreclaim) is not reclaimable, so nothing is
        dropped or reclaimed to let it settle (dropping caches would change the host); the wait lets the kernel free
        what it frees after an RCU grace period or from deferred work (a finished process's files, its task and
        credentials), so those do not count as growth.
    type: float
    default: 0.5
  bisect_dir:
    description:
      - A directory of scripts (such as C(/etc/init.d)) to bisect over. Candidates are its executable files (or links
        to them) not starting with a dot; other entries (README, C(.depend.*), directories) are present in every trial.
    type: path
extends_documentation_fragment:
  - lowmem.vps.attributes
attributes:
  check_mode:
    support: partial
    details:
      - In check mode the command is not run and nothing is measured; the task returns RV(command) and what it would
        run in C(msg).
  diff_mode:
    support: N/A
    details:
      - The module changes nothing of its own and returns no diff.
  idempotent:
    support: partial
    details:
      - The task always reports C(changed=false) and the module itself writes nothing outside its temporary copy, but
        the probed command runs O(runs) times (more with O(bisect_dir)) with whatever effect it has; a leaking command
        leaves more kernel memory behind on every run.
notes:
  - The figures are the whole host's, so other activity during the probe is measured too; on a busy host use more
    O(runs) or a higher O(threshold_kb).
  - Objects the command leaks stay leaked after the probe (files on a tmpfs until removed, for example); the probe
    does not clean up after the command.
seealso:
  - module: lowmem.vps.memory_facts
'''

EXAMPLES = r'''
- name: Does the monitoring script's `service --status-all > file` leak kernel memory? (the seed's case)
  lowmem.vps.leak_probe:
    cmd: service --status-all > /tmp/service-status
    shell: true
  register: probe

- name: Which init script makes it leak? (a private mount namespace over a copy; /etc/init.d is not touched)
  lowmem.vps.leak_probe:
    cmd: service --status-all > /tmp/service-status
    shell: true
    runs: 5
    bisect_dir: /etc/init.d
  register: found
  when: probe.leaking

- name: Say it
  ansible.builtin.debug:
    msg: "{{ found.culprit }} leaks {{ found.per_run_kb }} kB of SUnreclaim per run, in {{ found.growing_caches | map(attribute='name') | join(', ') }}"
  when: probe.leaking

- name: A command without a shell
  lowmem.vps.leak_probe:
    argv: [/usr/local/bin/vendor-health, --all]
    runs: 20
    threshold_kb: 16
'''

RETURN = r'''
per_run_kb:
  description: Mean growth of SUnreclaim per run, in kB (in bisect mode, with all the scripts present).
  returned: when run (not in check mode)
  type: float
  sample: 1146.4
leaking:
  description: Whether the growth is consistent and at least O(threshold_kb) per run (the mean at least the threshold,
    the median at least half of it).
  returned: when run (not in check mode)
  type: bool
samples:
  description: One row per run - C(run), the exit code C(rc), C(sunreclaim_before_kb) and C(sunreclaim_after_kb), and the
    changes in kB over the run of C(sunreclaim_kb), C(slab_kb) and C(mem_available_kb) (negative when memory is lost).
  returned: when run (not in check mode)
  type: list
  elements: dict
growing_caches:
  description: The slab caches that grew most between before the first run and after the last, largest first -
    C(name), C(kb), C(objects). Empty when C(/proc/slabinfo) is not readable (it needs root).
  returned: when run (not in check mode)
  type: list
  elements: dict
  sample: [{name: shmem_inode_cache, kb: 11408, objects: 15000}]
culprit:
  description: The full path, under O(bisect_dir), of the script whose presence makes the command leak; null when
    none was found (C(msg) says why).
  returned: in bisect mode
  type: str
  sample: /etc/init.d/vendor-agent
steps:
  description: Each bisect trial in order - C(step) (C(all), C(none), C(half), C(confirm)), C(scripts) (the paths
    present), C(per_run_kb) and C(leaking).
  returned: in bisect mode
  type: list
  elements: dict
command:
  description: The argv that is run (in bisect mode, inside the private namespace).
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.leak_probe import probe
from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.module_utils.runner import commands


def body(context):
    runner, which = commands(context)
    return probe(context.params, runner, which, check_mode=context.check_mode)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            argv=dict(type='list', elements='str'),
            cmd=dict(type='str'),
            shell=dict(type='bool', default=False),
            runs=dict(type='int', default=10),
            threshold_kb=dict(type='float', default=64),
            settle=dict(type='float', default=0.5),
            bisect_dir=dict(type='path'),
        ),
        supports_check_mode=True,
    )
    report(module, 'leak_probe', body, nothing='nothing was run')


if __name__ == '__main__':
    main()
