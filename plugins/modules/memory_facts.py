#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: memory_facts
short_description: A small-memory host's memory health, its kernel-log memory events and its risk flags
version_added: 1.0.0
description:
  - Reads, and changes nothing; runs the same in check mode. Made to be cheap on a 512 MB host (standard library only;
    the journal is read line by line).
  - C(memory) is /proc/meminfo in kB, with C(unaccounted_kb) - memory that neither a process nor a
    /proc/meminfo counter accounts for (MemTotal minus MemFree, Buffers, Cached, SwapCached, AnonPages, Slab,
    KernelStack, PageTables, SecPageTables, Percpu, VmallocUsed, Zswap and huge pages, never below 0).
  - C(slab_top) is the largest unreclaimable slab caches (from /proc/slabinfo and SLUB's reclaim_account), the answer to
    "where did SUnreclaim go".
  - C(events) are the memory events of the kernel log (page allocation failures with their call trace, OOM kills,
    earlyoom's kills, systemd's unit OOM lines) of the current boot and O(boots) earlier ones, or since O(since), or of
    a saved log O(kernel_log_file) (then nothing of the host is read for events).
  - C(flags) are the risks found, worst first; a hardened, healthy host has none.
author:
  - lowmem.vps contributors (@lowmem)
options:
  boots:
    description:
      - How many earlier boots to read events from, besides the current one (the evidence of a crash is in the
        previous boot's log, when the journal is persistent).
    type: int
    default: 1
  since:
    description:
      - Read events since this time instead of by boot (epoch seconds, C(YYYY-MM-DD HH:MM:SS), C(today), or a relative
        time such as C(-2h)), across boots.
    type: str
  kernel_log_file:
    description:
      - Read events from this saved log (dmesg, C(dmesg -T), syslog, C(journalctl) output) instead of the journal.
    type: path
  units:
    description:
      - The entry services whose processes and oom_score_adj are reported (units that do not exist are reported as not
        found, not flagged).
    type: list
    elements: str
    default: [ssh, nginx, supervisor]
  slab_top:
    description:
      - How many unreclaimable slab caches to list (0 to 100).
    type: int
    default: 10
  sunreclaim_percent:
    description:
      - Flag C(sunreclaim_high) when SUnreclaim is at least this share of MemTotal (percent, above 0, at most 100).
    type: float
    default: 10
  swap_full_percent:
    description:
      - Flag C(swap_nearly_full) when at least this share of swap is used (percent, above 0, at most 100).
    type: float
    default: 90
  docker_socket:
    description:
      - The container engine's API socket, for the running containers' memory limits (C(limits_exceed_memory)).
    type: path
    default: /var/run/docker.sock
  history_file:
    description:
      - The memory history the opt-in C(lowmem.vps.memory_history) role's timer appends a sample to every minute. When it
        exists, C(history) is its trend and the sizing advice counts the swap kept in use and the kills across it.
    type: path
    default: /var/lib/lowmem-vps/memory-history
  history_growth_kb_per_hour:
    description:
      - Flag C(sunreclaim_rising) when the history's last hour (at least 30 minutes of samples) shows SUnreclaim growing
        at least this fast (kB per hour, above 0).
    type: float
    default: 4096
notes:
  - "Flags and severities: C(oom_kills) (critical), C(page_alloc_failures) (critical when the call trace runs through
    the network receive path, else warning), C(entry_service_unprotected) (critical: an active entry unit's main
    process has oom_score_adj 0 or more), C(entry_service_inactive) (critical), C(earlyoom_inactive), C(no_swap),
    C(swap_nearly_full), C(sunreclaim_high), C(sunreclaim_rising), C(ram_outgrown), C(journal_not_persistent), C(limits_exceed_memory)
    (warnings)."
  - "earlyoom's kills are reported in C(events) but not flagged: they are the protection at work."
extends_documentation_fragment:
  - lowmem.vps.attributes
  - lowmem.vps.attributes.info_module
seealso:
  - name: Flags and what to do about them
    description: The README's section on memory_facts lists every flag, why it matters and what fixes it.
    link: https://github.com/lowmem/vps/blob/main/README.md#see-memory-trouble-lowmemvpsmemory_facts
'''

EXAMPLES = r'''
- name: Read the host's memory health (current and previous boot)
  lowmem.vps.memory_facts:
  register: health

- name: Show its risk flags
  ansible.builtin.debug:
    msg: "{{ health.flags | map(attribute='name') | list }}"

- name: Events in a kernel log an operator was sent
  lowmem.vps.memory_facts:
    kernel_log_file: /tmp/dmesg-from-vps7.txt

- name: OOM kills since a run started
  lowmem.vps.memory_facts:
    since: "{{ ansible_facts.date_time.epoch }}"
'''

RETURN = r'''
memory:
  description: Memory in kB (mem_total_kb, mem_available_kb, swap_total_kb, swap_used_kb, anon_pages_kb, shmem_kb,
    slab_kb, sreclaimable_kb, sunreclaim_kb, page_tables_kb, kernel_stack_kb, process_kb, unaccounted_kb, ...).
  returned: always
  type: dict
  sample: {mem_total_kb: 470000, mem_available_kb: 210000, sunreclaim_kb: 20000, unaccounted_kb: 9000}
slab_top:
  description: The largest unreclaimable slab caches, largest first.
  returned: always
  type: list
  elements: dict
  sample: [{name: shmem_inode_cache, bytes: 2359296, reclaimable: false}]
vmstat:
  description: /proc/vmstat counters that matter (oom_kill, allocstall*, pswpin, pswpout, workingset_refault*).
  returned: always
  type: dict
psi:
  description: /proc/pressure/memory (some and full, avg10/avg60/avg300/total); null where the kernel has no PSI.
  returned: always
  type: dict
zswap:
  description: zswap's parameters and pool size (pool_kb, stored_kb from /proc/meminfo; debugfs values when mounted);
    null without zswap.
  returned: always
  type: dict
earlyoom:
  description: Whether earlyoom runs, and its thresholds as read from its command line.
  returned: always
  type: dict
  sample: {active: true, pid: 512, mem_term_percent: 10, mem_kill_percent: 5, swap_term_percent: 20, swap_kill_percent: 10}
protected_units:
  description: Each unit of O(units) with its processes and their oom_score_adj.
  returned: always
  type: list
  elements: dict
  sample: [{unit: ssh.service, found: true, active: true, main_pid: 612,
            processes: [{pid: 612, comm: sshd, oom_score_adj: -1000}]}]
journal:
  description: Whether the journal outlives a reboot (persistent), the effective Storage= and why.
  returned: always
  type: dict
  sample: {persistent: true, storage: auto, reason: Storage=auto and /var/log/journal exists}
containers:
  description: The running containers' memory limits, from the engine (engine false when none answers).
  returned: always
  type: dict
events:
  description:
    - page_alloc_failures (comm, pid, order, mode, frames, modules, network_rx, time, epoch, boot), oom_kills
      (victim_pid, victim_comm, invoker_comm, constraint, memcg, anon_rss_kb, time), earlyoom_kills (pid, comm, signal,
      uid, score, time), unit_oom_kills (unit, by, time). C(boot) is 0 for the current boot, -1 for the previous one.
  returned: always
  type: dict
events_source:
  description: Where the events came from (kind journal/file/none, the boots read, since, path, note).
  returned: always
  type: dict
sizing:
  description:
    - Whether the host has outgrown its RAM (C(ram_outgrown)) - what cannot be reclaimed (anonymous memory, shmem,
      unreclaimable slab, kernel stacks, page tables) is at least 85 % of MemTotal, or at least 70 % with OOM kills in
      the events read - with the figures behind the verdict, the RAM class (MB) of the host and the class it would need
      (what cannot be reclaimed plus swap in use at most 60 % of its MemTotal). Swap in use alone is no verdict; with a
      memory history, swap kept in use through all of it (at least 25 % of MemTotal) with at least 70 % unreclaimable
      is, and the history's kills count too (C(basis) says which figures were used).
  returned: always
  type: dict
  sample: {outgrown: true, unreclaimable_kb: 425000, unreclaimable_percent: 90.0, swap_used_kb: 3072, oom_kills: 0,
           swap_kept_kb: 0, history_minutes: 1439.0, ram_class_mb: 512, needed_ram_class_mb: 1024,
           reason: "what cannot be reclaimed is 90 % of RAM (at least 85 %)"}
history:
  description:
    - The memory history's trend (null when O(history_file) does not exist) - samples, first_at, last_at, span_minutes,
      trend_minutes, sunreclaim_kb_per_hour and mem_available_kb_per_hour (least squares over the last hour),
      sunreclaim_growing, mem_available_min_kb, sunreclaim_max_kb, swap_kept_kb (the least swap in use at any sample),
      oom_kills (the kills the history saw, across reboots), warnings and last_warning_at (the sampler's journal
      warnings), and series (at most 60 points each of epoch, mem_available_kb, sunreclaim_kb, swap_used_kb) for the
      report's sparklines.
  returned: always
  type: dict
  sample: {samples: 1440, span_minutes: 1439.0, sunreclaim_kb_per_hour: 61440.0, sunreclaim_growing: true,
           swap_kept_kb: 0, oom_kills: 0, warnings: 2}
flags:
  description: The risk flags, worst first, each with name, severity (critical, warning, info) and reason.
  returned: always
  type: list
  elements: dict
  sample: [{name: no_swap, severity: warning, reason: "no swap: ..."}]
notes:
  description: What could not be read, and why (slabinfo needs root, no journalctl...).
  returned: always
  type: list
  elements: str
collected_at:
  description: When the facts were read (epoch seconds, the host's clock).
  returned: always
  type: float
boot_id:
  description: The current boot's id (a report tells a reboot from growth by it).
  returned: always
  type: str
hostname:
  description: The kernel's host name.
  returned: always
  type: str
kernel:
  description: The running kernel release.
  returned: always
  type: str
uptime_s:
  description: Seconds since boot.
  returned: always
  type: int
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.memory_facts import DEFAULT_UNITS, DOCKER_SOCKET, run
from ansible_collections.lowmem.vps.plugins.module_utils.memory_history import DEFAULT_GROWTH_KB_PER_HOUR, HISTORY_FILE
from ansible_collections.lowmem.vps.plugins.module_utils.result import report


def main():
    module = AnsibleModule(
        argument_spec=dict(
            boots=dict(type='int', default=1),
            since=dict(type='str'),
            kernel_log_file=dict(type='path'),
            units=dict(type='list', elements='str', default=list(DEFAULT_UNITS)),
            slab_top=dict(type='int', default=10),
            sunreclaim_percent=dict(type='float', default=10),
            swap_full_percent=dict(type='float', default=90),
            docker_socket=dict(type='path', default=DOCKER_SOCKET),
            history_file=dict(type='path', default=HISTORY_FILE),
            history_growth_kb_per_hour=dict(type='float', default=DEFAULT_GROWTH_KB_PER_HOUR),
        ),
        mutually_exclusive=[('since', 'kernel_log_file')],
        supports_check_mode=True,
    )
    report(module, 'memory_facts', run, nothing=None)


if __name__ == '__main__':
    main()
