#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: earlyoom
short_description: Write earlyoom's arguments to /etc/default/earlyoom, restart it and check what it echoed
version_added: 1.0.0
description:
  - Builds earlyoom's argument list from structured options and writes it as C(EARLYOOM_ARGS="...") into
    C(/etc/default/earlyoom) (the whole file, with a header, atomically, with C(--diff) support).
  - Process names in O(prefer), O(avoid) and O(ignore) become one anchored POSIX extended regex each (the names sshd and
    nginx give V(^(sshd|nginx\)$)). earlyoom matches C(/proc/PID/comm), which the kernel cuts to 15 bytes, so longer
    names are cut to their first 15 bytes with a warning. Regex metacharacters are escaped with bracket expressions (C(.) becomes
    C([.])), duplicates are dropped.
  - Debian's unit runs C(/usr/bin/earlyoom $EARLYOOM_ARGS); systemd splits that at whitespace and passes quotes and
    backslashes on literally. So no argument may contain whitespace, quotes or backslashes, and names containing
    C(^), C([), C(]) are refused (use the C(*_regex) options for those).
  - Before anything is written every option is checked (thresholds, regexes compiled with the C library's C(regcomp) as
    earlyoom does, options the installed earlyoom lacks); any problem fails the task with one message listing all.
  - Debian 12 ships earlyoom 1.7, Debian 13 ships 1.8. O(ignore), O(ignore_regex) and O(sort_by_rss) need 1.8; the
    version is read from C(earlyoom -v) unless O(version) is given.
  - When the file changed, earlyoom is restarted (O(restart)) and, with O(verify), the task reads earlyoom's startup lines
    from the journal (C(journalctl -u earlyoom -b -o cat)) and fails unless the thresholds and regexes it echoed are the
    ones written.
author:
  - lowmem.vps contributors (@lowmem)
options:
  mem_min_percent:
    description:
      - C(-m) makes earlyoom send SIGTERM when available memory is at or below the first value (percent) and free swap is at or below
        its own threshold; send SIGKILL below the second value.
      - One or two whole numbers, C([TERM]) or C([TERM, KILL]); 0 < KILL <= TERM <= 99 (earlyoom refuses C(-m 100)).
        Without KILL earlyoom uses TERM/2. Unset, earlyoom's default C(10,5) applies.
      - From earlyoom 1.8 on, the percentage is of the memory available to user space (MemAvailable plus AnonPages).
    type: list
    elements: int
  swap_min_percent:
    description:
      - C(-s) sets the free swap thresholds, like O(mem_min_percent); 0 < KILL <= TERM <= 100. C([100]) makes earlyoom
        act on memory alone.
    type: list
    elements: int
  report_interval:
    description:
      - C(-r) sets the seconds between memory reports in the journal; V(0) turns them off.
      - Unset, earlyoom reports every second; Debian's own file sets 3600.
    type: int
  prefer:
    description:
      - C(--prefer) takes the process names (as in C(/proc/PID/comm)) earlyoom kills first.
    type: list
    elements: str
  avoid:
    description:
      - C(--avoid) takes the process names earlyoom kills last.
    type: list
    elements: str
  ignore:
    description:
      - C(--ignore) takes the process names earlyoom never kills (earlyoom 1.8 or later).
    type: list
    elements: str
  prefer_regex:
    description:
      - C(--prefer) as a POSIX extended regex written by hand, instead of O(prefer). No whitespace, quotes or
        backslashes (write C([.]) for a literal dot).
    type: str
  avoid_regex:
    description:
      - C(--avoid) as a regex written by hand, instead of O(avoid).
    type: str
  ignore_regex:
    description:
      - C(--ignore) as a regex written by hand, instead of O(ignore) (earlyoom 1.8 or later).
    type: str
  sort_by_rss:
    description:
      - C(--sort-by-rss) makes earlyoom pick the process with the largest RSS instead of the largest oom_score (earlyoom 1.8 or later).
    type: bool
    default: false
  extra_args:
    description:
      - More arguments, one per list item (for example V([-n]) or V([-N, /usr/local/bin/notify])).
      - Options this module manages (C(-m), C(-s), C(-r), C(--prefer), C(--avoid), C(--ignore), C(--sort-by-rss)) and
        C(-v)/C(-h) are refused.
    type: list
    elements: str
    default: []
  header:
    description:
      - Text put at the top of the file, each line as a C(#) comment (lines already starting with C(#) are kept as they are).
    type: str
    default: 'Ansible managed: lowmem.vps.earlyoom'
  path:
    description:
      - The file Debian's unit reads with C(EnvironmentFile=).
    type: path
    default: /etc/default/earlyoom
  version:
    description:
      - The installed earlyoom version (V(1.7), V(1.8.1)); read from C(earlyoom -v) when not given.
    type: str
  restart:
    description:
      - Run C(systemctl restart earlyoom) when the file changed (never in check mode).
    type: bool
    default: true
  if_missing:
    description:
      - What to do when earlyoom is not installed and O(version) is not given.
      - V(fail) fails the task (in check mode it warns and checks the options without the version checks).
      - V(skip) checks the options (all but the version checks), writes nothing and returns RV(installed=false), so
        a play installs earlyoom only then and calls the module again; on a host that has it, one call does everything
        and the package manager is never loaded.
    type: str
    choices: [fail, skip]
    default: fail
  keep_running:
    description:
      - Also enable earlyoom's unit and start it, each only when it is not so already (C(systemctl is-enabled),
        C(systemctl is-active) first; check mode only reads).
    type: bool
    default: false
  verify:
    description:
      - After a restart by this task, read earlyoom's startup lines from the journal of this boot (several tries, half a
        second apart) and fail unless it echoed the thresholds and regexes written.
    type: bool
    default: true
extends_documentation_fragment:
  - lowmem.vps.attributes
  - lowmem.vps.attributes.planned_writes
notes:
  - The module owns the whole file; Debian's commented examples in it are replaced.
  - In check mode on a host where earlyoom is not installed yet (and O(version) is not given), the version checks are
    skipped with a warning.
seealso:
  - name: earlyoom manual
    description: earlyoom's options and regex matching.
    link: https://github.com/rfjakob/earlyoom/blob/master/MANPAGE.md
'''

EXAMPLES = r'''
- name: earlyoom for a 512 MB VPS
  lowmem.vps.earlyoom:
    mem_min_percent: [10, 5]
    swap_min_percent: [20, 10]
    report_interval: 300
    prefer: [hysteria, tuic-server, filebrowser]
    avoid: [sshd, sshd-session, nginx, supervisord, dockerd, containerd]

- name: Never kill sshd on Debian 13 (earlyoom 1.8)
  lowmem.vps.earlyoom:
    ignore: [sshd]
    sort_by_rss: true

- name: Hand-written regex, file only
  lowmem.vps.earlyoom:
    avoid_regex: '^(sshd|nginx|php-fpm[0-9.]+)$'
    restart: false

- name: One task on a rerun - configure, keep running; install only where earlyoom is missing
  lowmem.vps.earlyoom:
    mem_min_percent: [10, 5]
    if_missing: skip
    keep_running: true
  register: earlyoom_result

- name: Install earlyoom where it is missing
  ansible.builtin.apt:
    name: earlyoom
  when: not earlyoom_result.installed
'''

RETURN = r'''
path:
  description: The file written.
  returned: always
  type: str
  sample: /etc/default/earlyoom
args:
  description: earlyoom's arguments as written to C(EARLYOOM_ARGS).
  returned: always
  type: list
  elements: str
  sample: ["-m", "10,5", "-s", "20,10", "-r", "300", "--prefer", "^(hysteria|tuic-server)$", "--avoid", "^(sshd|nginx)$"]
previous_args:
  description: The arguments the file held before (as systemd would split them), V([]) when it did not exist.
  returned: always
  type: list
  elements: str
version:
  description: The earlyoom version the options were checked against, or null when it could not be read (check mode only).
  returned: always
  type: str
  sample: 1.8.2
installed:
  description: Whether earlyoom is installed (false only with O(if_missing=skip), when nothing was written).
  returned: always
  type: bool
service_actions:
  description: What O(keep_running) did to the unit (or would do, in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [enable, start]
restarted:
  description: Whether earlyoom was restarted.
  returned: always
  type: bool
echoed:
  description: What earlyoom echoed at its start after the restart (empty when not verified).
  returned: always
  type: dict
  sample: {"version": "1.8.2", "prefer": "^(hysteria)$", "avoid": "^(sshd|nginx)$", "ignore": null,
           "mem_term_percent": 10.0, "mem_kill_percent": 5.0, "swap_term_percent": 20.0, "swap_kill_percent": 10.0,
           "errors": []}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lowmem.vps.plugins.module_utils.earlyoom import DEFAULT_HEADER, DEFAULT_PATH, run
from ansible_collections.lowmem.vps.plugins.module_utils.result import report

ARGUMENT_SPEC = dict(
    mem_min_percent=dict(type='list', elements='int'),
    swap_min_percent=dict(type='list', elements='int'),
    report_interval=dict(type='int'),
    prefer=dict(type='list', elements='str'),
    avoid=dict(type='list', elements='str'),
    ignore=dict(type='list', elements='str'),
    prefer_regex=dict(type='str'),
    avoid_regex=dict(type='str'),
    ignore_regex=dict(type='str'),
    sort_by_rss=dict(type='bool', default=False),
    extra_args=dict(type='list', elements='str', default=[]),
    header=dict(type='str', default=DEFAULT_HEADER),
    path=dict(type='path', default=DEFAULT_PATH),
    version=dict(type='str'),
    restart=dict(type='bool', default=True),
    verify=dict(type='bool', default=True),
    if_missing=dict(type='str', choices=['fail', 'skip'], default='fail'),
    keep_running=dict(type='bool', default=False),
)


def main():
    report(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), 'earlyoom', run)


if __name__ == '__main__':
    main()
