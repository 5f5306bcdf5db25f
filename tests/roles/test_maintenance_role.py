# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""maintenance: nothing reaches the host when no step is asked for; a bad vacuum age is refused before any step.

The steps themselves (journalctl, apt-get, docker prune) run in Molecule, never on this machine.
"""

from __future__ import annotations

OFF = {'maintenance_journal_vacuum_time': '', 'maintenance_apt_clean': False, 'maintenance_apt_autoremove': False,
       'maintenance_docker_prune': False}


def test_no_step_asked_for_runs_nothing(run_role):
    run = run_role('lowmem.vps.maintenance', OFF)
    assert run.rc == 0, run.output
    assert 'Check the vacuum age' not in run.output and 'Look for docker' not in run.output, run.output
    assert 'Measure before' not in run.output


def test_a_bad_vacuum_age_is_refused_before_any_step(run_role):
    run = run_role('lowmem.vps.maintenance', dict(OFF, maintenance_journal_vacuum_time='7 days'))
    assert run.rc != 0, run.output
    assert 'maintenance_journal_vacuum_time must look like 7d, 12h or 2w (got 7 days)' in run.flat, run.output
    assert 'nothing was changed' in run.flat
    assert 'Look for docker' not in run.output and 'Measure before' not in run.output
