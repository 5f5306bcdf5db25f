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
    assert lines == ['[Journal]', 'SystemMaxUse=128M', 'SystemKeepFree=512M', 'RuntimeMaxUse=16M', 'MaxRetentionSec=7day',
                     'RateLimitIntervalSec=30s', 'RateLimitBurst=1000']


def test_journald_runs_with_it_and_stays_under_the_cap(host):
    assert host.service('systemd-journald').is_running
    # systemd-analyze cat-config shows what journald reads, drop-ins included.
    assert 'SystemMaxUse=128M' in host.check_output('systemd-analyze cat-config systemd/journald.conf')
    usage = host.check_output('journalctl --disk-usage')
    number, unit = re.search(r'take up ([0-9.]+)([KMG]?)', usage).groups()
    assert float(number) * UNITS.get(unit, 1) <= 128 * 1024 ** 2


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
