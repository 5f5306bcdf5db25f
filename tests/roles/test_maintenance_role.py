# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""maintenance: nothing reaches the host when no step is asked for; a bad vacuum age is refused before any step.

The steps themselves (journalctl, apt-get, docker prune) run in Molecule, never on this machine.
"""

from __future__ import annotations

import re

OFF = {'maintenance_journal_vacuum_time': '', 'maintenance_apt_clean': False, 'maintenance_apt_autoremove': False,
       'maintenance_docker_prune': False}
HEADER = re.compile(r'^TASK \[lowmem\.vps\.maintenance : ([^\]]+)\]', re.M)
RESULT = re.compile(r'^(ok|changed|skipping|fatal|failed):', re.M)


def ran(output):
    """The role's tasks that did something on the host: every task with a result but a skip (the argument check runs
    on the controller and is left out)."""
    names = []
    blocks = HEADER.split(output)[1:]
    for name, body in zip(blocks[::2], blocks[1::2]):
        result = RESULT.search(body)
        if result and result.group(1) != 'skipping' and not name.startswith('Validating'):
            names.append(name)
    return names


def test_no_step_asked_for_runs_nothing(run_role):
    run = run_role('lowmem.vps.maintenance', OFF)
    assert run.rc == 0, run.output
    assert ran(run.output) == [], run.output
    # The steps are imported (--list-tasks shows them): here every one of them is skipped.
    assert 'Look for docker' in run.output and 'Measure before' not in run.output


def test_a_bad_vacuum_age_is_refused_before_any_step(run_role):
    run = run_role('lowmem.vps.maintenance', dict(OFF, maintenance_journal_vacuum_time='7 days'))
    assert run.rc != 0, run.output
    assert 'maintenance_journal_vacuum_time must look like 7d, 12h or 2w (got 7 days)' in run.flat, run.output
    assert 'nothing was changed' in run.flat
    assert ran(run.output) == ['Check the vacuum age'], run.output
    assert 'Measure before' not in run.output
