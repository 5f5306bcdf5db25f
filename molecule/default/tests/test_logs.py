# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Log caps and maintenance in Debian 12/13 containers: journald drop-in and footprint, daemon.json merge."""
from __future__ import annotations

import json
import os
import re

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('all')

UNITS = {'K': 1024, 'M': 1024 ** 2, 'G': 1024 ** 3}


def test_journald_dropin_holds_the_runbook_caps(host):
    dropin = host.file('/etc/systemd/journald.conf.d/50-lowmem-log-caps.conf')
    assert dropin.mode == 0o644
    lines = [line for line in dropin.content_string.splitlines() if line and not line.startswith('#')]
    assert lines == ['[Journal]', 'Storage=persistent', 'SystemMaxUse=128M', 'SystemKeepFree=512M', 'RuntimeMaxUse=16M', 'MaxRetentionSec=7day',
                     'RateLimitIntervalSec=30s', 'RateLimitBurst=1000']


JOURNAL_LINE = re.compile(r'(System|Runtime) Journal \((/[^)]*)\) is [0-9.]+[BKMGT]?, max ([0-9.]+)([BKMGT]?)')
CAPS = {'System': 128 * 1024 ** 2, 'Runtime': 16 * 1024 ** 2}   # SystemMaxUse, RuntimeMaxUse of the drop-in


def test_journald_runs_with_it_and_stays_under_the_cap(host):
    assert host.service('systemd-journald').is_running
    # systemd-analyze cat-config shows what journald reads, drop-ins included.
    assert 'SystemMaxUse=128M' in host.check_output('systemd-analyze cat-config systemd/journald.conf')
    usage = host.check_output('journalctl --disk-usage')
    number, unit = re.search(r'take up ([0-9.]+)([KMG]?)', usage).groups()
    assert float(number) * UNITS.get(unit, 1) <= 128 * 1024 ** 2


def test_the_running_journald_enforces_the_caps(host):
    """The cap is in effect, not only written: each time journald opens a journal it logs
    "System Journal (/var/log/journal/ID) is 8.0M, max 128.0M, 119.9M free." (or "Runtime Journal (/run/log/...)"),
    the max being the limit it enforces. Without the drop-in the max is journald's default, 10 % of the
    filesystem (capped at 4G): on the test host's disk and the container's /run tmpfs, far from 128M and 16M. Only
    the lines of the journald running now count (its MainPID), so a drop-in journald was never restarted for fails."""
    pid = host.check_output('systemctl show --property=MainPID --value systemd-journald')
    assert pid.isdigit() and int(pid) > 0
    lines = host.check_output('journalctl --boot --no-pager --output=cat _PID=%s SYSLOG_IDENTIFIER=systemd-journald' % pid)
    limits = [(kind, float(number) * UNITS.get(unit, 1)) for kind, _path, number, unit in JOURNAL_LINE.findall(lines)]
    assert limits, 'journald (pid %s) logged no "... Journal ... max ..." line:\n%s' % (pid, lines)
    for kind, enforced in limits:
        assert enforced == CAPS[kind], '%s journal: journald enforces max %d bytes, the drop-in says %d' % (
            kind, enforced, CAPS[kind])


def test_daemon_json_gains_log_rotation_and_keeps_the_other_keys(host):
    daemon = json.loads(host.file('/etc/docker/daemon.json').content_string)
    assert daemon['data-root'] == '/var/lib/docker' and daemon['debug'] is False   # from prepare.yml, kept
    assert daemon['log-driver'] == 'json-file'
    assert daemon['log-opts'] == {'max-size': '5m', 'max-file': '2'}             # strings, as dockerd wants


def test_ufw_logging_is_off_where_ufw_is_installed(host):
    if host.backend.host == 'lowmem-debian13':   # prepare.yml installed ufw (not enabled) here only
        conf = host.file('/etc/ufw/ufw.conf').content_string
        assert 'LOGLEVEL=off' in conf.splitlines() and 'LOGLEVEL=low' not in conf
        assert 'ENABLED=no' in conf.splitlines()   # the role turns logging off, never the firewall on
    else:
        assert not host.file('/usr/sbin/ufw').exists
