# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""log_caps' journald part: bad caps are refused before the module runs; in check mode the one journald_caps task
only reads the footprint (journalctl --disk-usage is read-only) and the report says what would be capped.

The restart, rotation and vacuum run in Molecule, never on this machine: only check mode runs here, with the drop-in
under tmp_path and the Docker and UFW parts off.
"""

from __future__ import annotations

import re

OFF = {'log_caps_docker': False, 'log_caps_ufw_logging_off': False}
TASK = re.compile(r'^TASK \[lowmem\.vps\.log_caps : ([^\]]+)\]', re.M)


def test_bad_caps_are_refused_before_the_module_runs(run_role, tmp_path):
    dropin = tmp_path / 'journald.conf.d' / '50-lowmem-log-caps.conf'
    run = run_role('lowmem.vps.log_caps', dict(OFF, log_caps_journald_dropin=str(dropin),
                                               log_caps_journald_settings={'SystemMaxUse': '128 M'}))
    assert run.rc != 0, run.output
    assert "log_caps_journald_settings must map journald.conf keys to values without spaces or '='" in run.flat
    assert 'nothing was changed' in run.flat
    assert 'Write the journald caps' not in run.output and not dropin.parent.exists()


def test_check_mode_runs_one_task_and_reports_what_would_be_capped(run_role, tmp_path):
    (tmp_path / 'systemd').mkdir()
    dropin = tmp_path / 'systemd' / 'journald.conf.d' / '50-lowmem-log-caps.conf'
    run = run_role('lowmem.vps.log_caps', dict(OFF, log_caps_journald_dropin=str(dropin)), check=True)
    assert run.rc == 0, run.output
    names = TASK.findall(run.output)
    start = names.index('Check the journald caps')
    assert names[start:start + 3] == [
        'Check the journald caps', 'Write the journald caps as a drop-in, restart journald, rotate and vacuum to the new cap',
        "Report the journal's footprint"], run.output
    # the old tasks (directory, template, footprint, restart, rotate, vacuum, footprint) are gone
    assert len([name for name in names if 'journal' in name.lower() and not name.startswith('Validating')]) == 3, run.output
    assert re.search(r'journal: \S+ before, \S+ would be capped \(cap SystemMaxUse=128M\)', run.flat), run.output
    assert not dropin.parent.exists()
