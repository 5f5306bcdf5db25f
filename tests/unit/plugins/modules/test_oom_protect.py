# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module end to end on a fake /proc, /sys/fs/cgroup and /etc/systemd/system under tmp_path, with a fake systemctl
(a real executable) first in PATH that logs every call with its locale and answers `show` from a file.

main() would read the host's /proc and /sys/fs/cgroup, so the tests run what main() does (its argument spec,
report() and run()) with the Host's oom.Paths."""
from __future__ import annotations

import json
import os
import textwrap

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lowmem.vps.plugins.module_utils.oom import run
from ansible_collections.lowmem.vps.plugins.module_utils.result import report
from ansible_collections.lowmem.vps.plugins.modules.oom_protect import ARGUMENT_SPEC, main
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__oom import DROPIN, LISTENER, PROCESSES, SHOW, Box

FAKE_SYSTEMCTL = textwrap.dedent('''\
    #!/bin/sh
    echo "$*" >> "$FAKE_LOG"
    echo "LANG=$LANG LC_ALL=$LC_ALL" >> "$FAKE_ENV_LOG"
    case "$1" in
        show) [ "$FAKE_SHOW_RC" = 0 ] || { echo "Failed to connect to bus: No such file or directory" >&2; exit 1; }
              cat "$FAKE_SHOW"; exit 0 ;;
        daemon-reload) exit 0 ;;
    esac
    echo "fake systemctl: unexpected $1" >&2
    exit 3
    ''')
SHOW_CALL = ('show -p Id -p LoadState -p MainPID -p ControlGroup -p OOMScoreAdjust -- '
             'sshd.service nginx.service hysteria.service')


def warnings(result):
    """The warning texts of a result (ansible-core 2.19 returns them as structured summaries)."""
    return [item['event']['msg'] if isinstance(item, dict) else item for item in result.get('warnings', [])]


class Host(Box):
    """Box plus a fake systemctl first in PATH."""

    def __init__(self, root, monkeypatch):
        super(Host, self).__init__(root)
        self.log = root / 'calls.log'
        self.env_log = root / 'env.log'
        self.show = root / 'show.txt'
        self.show.write_text(SHOW)
        bin_dir = root / 'bin'
        bin_dir.mkdir()
        (bin_dir / 'systemctl').write_text(FAKE_SYSTEMCTL)
        (bin_dir / 'systemctl').chmod(0o755)
        monkeypatch.setenv('PATH', '%s:%s' % (bin_dir, os.environ.get('PATH', '')))
        monkeypatch.setenv('FAKE_LOG', str(self.log))
        monkeypatch.setenv('FAKE_ENV_LOG', str(self.env_log))
        monkeypatch.setenv('FAKE_SHOW', str(self.show))
        monkeypatch.setenv('FAKE_SHOW_RC', '0')

    def calls(self):
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


def protect(host, capsys, params):
    """What main() does on ``host``: (exit code, result)."""
    with patch_module_args(params):
        module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
        with pytest.raises(SystemExit) as exited:
            report(module, 'oom_protect', lambda context: run(context, paths=host.paths))
    return exited.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def module_runner(host, capsys):
    """(main, params) -> (exit code, result), as conftest's, with run() on the Host's paths."""
    assert main  # main() is report(AnsibleModule(ARGUMENT_SPEC), 'oom_protect', run) with the real paths
    return lambda _main, params: protect(host, capsys, params)


def test_a_failure_at_one_pid_still_reports_the_values_lowered_before_it(host, module_runner):
    """Drop-ins in place, nginx's first process lowered, then an unexpected error at the second: changed, with both
    the message and the diff saying which process was lowered."""
    for unit in ('ssh.service', 'nginx.service'):
        (host.systemd / (unit + '.d')).mkdir()
        (host.systemd / (unit + '.d') / '50-lowmem-oom-protect.conf').write_text(DROPIN)
    host.show.write_text(SHOW.replace('OOMScoreAdjust=0', 'OOMScoreAdjust=-700'))
    host.break_write(702)
    code, result = module_runner(main, host.params())
    assert code == 1 and result['changed'] is True, result
    assert result['msg'].startswith('oom_protect: nginx.service: oom_score_adj could not be set live: ')
    assert result['msg'].endswith('; already lowered: nginx.service pid 701') and 'nothing was' not in result['msg']
    assert host.adj(701) == -700 and host.calls() == [SHOW_CALL]
    assert result['diff'] == [{'before_header': 'nginx.service processes (oom_score_adj)',
                               'after_header': 'nginx.service processes (oom_score_adj)',
                               'before': 'pid 701: 0\n', 'after': 'pid 701: -700\n'}]


def test_protects_units_reloads_once_never_restarts_then_is_idempotent(host, module_runner):
    code, result = module_runner(main, host.params())
    assert code == 0 and result['changed'], result
    assert host.calls() == [SHOW_CALL, 'daemon-reload']
    assert set(host.env_log.read_text().splitlines()) == {'LANG=C LC_ALL=C'}
    assert (host.systemd / 'ssh.service.d' / '50-lowmem-oom-protect.conf').read_text() == DROPIN
    assert (host.systemd / 'nginx.service.d' / '50-lowmem-oom-protect.conf').read_text() == DROPIN
    assert not (host.systemd / 'sshd.service.d').exists() and not (host.systemd / 'hysteria.service.d').exists()
    assert result['daemon_reloaded'] and [unit['id'] for unit in result['units']] == ['ssh.service', 'nginx.service']
    assert result['skipped'] == [{'name': 'hysteria.service', 'reason': 'not installed (LoadState=not-found)'}]
    assert warnings(result) == ['hysteria.service is not installed (LoadState=not-found): skipped, no drop-in written']
    assert [host.adj(pid) for pid in (612, 1400, 701, 702, 703)] == [-1000, 0, -700, -700, -800]
    assert isinstance(result['diff'], list) and len(result['diff']) == 3
    assert result['audit_lines'] == [
        'ssh.service pid=612 oom_score=0 oom_score_adj=-1000 cmdline=' + LISTENER,
        'ssh.service pid=1400 oom_score=667 oom_score_adj=0 cmdline=sshd-session: admin [priv]',
        'nginx.service pid=701 oom_score=667 oom_score_adj=-700 cmdline=nginx: master process /usr/sbin/nginx -g daemon on; '
        'master_process on;',
        'nginx.service pid=702 oom_score=668 oom_score_adj=-700 cmdline=nginx: worker process',
        'nginx.service pid=703 oom_score=0 oom_score_adj=-800 cmdline=nginx: worker process',
    ]
    assert result['audit'][0] == {'unit': 'ssh.service', 'pid': 612, 'comm': 'sshd', 'oom_score': 0, 'oom_score_adj': -1000,
                                  'cmdline': LISTENER}

    host.show.write_text(SHOW.replace('OOMScoreAdjust=0', 'OOMScoreAdjust=-700'))
    code, again = module_runner(main, host.params())
    assert code == 0 and not again['changed'] and not again['daemon_reloaded'], again
    assert host.calls() == [SHOW_CALL, 'daemon-reload', SHOW_CALL]
    assert not any('restart' in call for call in host.calls())


def test_check_mode_writes_nothing(host, module_runner):
    code, result = module_runner(main, host.params(_ansible_check_mode=True))
    assert code == 0 and result['changed'] and result['daemon_reloaded']
    assert host.calls() == [SHOW_CALL]
    assert host.files() == [] and [host.adj(pid) for pid in sorted(PROCESSES)] == [-1000, 0, 0, -800, 0]
    assert [entry['written'] for entry in result['units'][1]['live']] == [True, True, False]


def test_per_unit_scores_and_options(host, module_runner):
    params = host.params(units=['sshd', {'name': 'nginx.service', 'score': -900, 'live_scope': 'main'}, 'hysteria'],
                         dropin_name='10-oom.conf', header='', daemon_reload=False)
    code, result = module_runner(main, params)
    assert code == 0 and result['changed'] and not result['daemon_reloaded']
    assert host.calls() == [SHOW_CALL]
    assert (host.systemd / 'nginx.service.d' / '10-oom.conf').read_text() == '[Service]\nOOMScoreAdjust=-900\n'
    assert [host.adj(pid) for pid in (701, 702, 703)] == [-900, 0, -800]


def test_live_false_writes_drop_ins_only(host, module_runner):
    code, result = module_runner(main, host.params(live=False))
    assert code == 0 and result['changed'] and host.calls() == [SHOW_CALL, 'daemon-reload']
    assert [host.adj(pid) for pid in sorted(PROCESSES)] == [-1000, 0, 0, -800, 0]
    assert [unit['live_applied'] for unit in result['units']] == [False, False]


@pytest.mark.parametrize('extra, message', [
    ({'units': [{'name': 'ssh', 'score': -1000}]},
     "ssh.service: score -1000 is refused: OpenSSH's listener already sets itself to -1000, and the unit's value is what "
     "every session (and so every shell) gets back, so -1000 there makes every login shell unkillable"),
    ({'score': 2000}, 'score: score 2000 is outside -1000..1000'),
    ({'units': ['ssh', 'ssh.service']}, 'ssh.service is listed more than once'),
    ({'units': ['nginx;reboot']}, "unit name 'nginx;reboot' is not a valid systemd unit name"),
    ({'units': [{'name': 'nginx', 'live_scope': 'every'}]}, "live_scope 'every' must be one of main, all"),
    ({'dropin_name': 'oom.txt'}, "dropin_name 'oom.txt' must be a file name ending in .conf"),
])
def test_bad_input_fails_clearly_and_changes_nothing(host, module_runner, extra, message):
    code, result = module_runner(main, host.params(**extra))
    assert code == 1 and result['failed']
    assert message in result['msg'] and result['msg'].startswith('oom_protect: '), result['msg']
    assert result['msg'].endswith('; nothing was changed')
    assert host.calls() == [] and host.files() == []


def test_unkillable_sessions_when_asked_for(host, module_runner):
    host.show.write_text(SHOW.split('\n\n', maxsplit=1)[0] + '\n')
    code, result = module_runner(main, host.params(units=[{'name': 'sshd', 'score': -1000}], allow_unkillable_sessions=True))
    assert code == 0 and result['changed']
    assert 'OOMScoreAdjust=-1000' in (host.systemd / 'ssh.service.d' / '50-lowmem-oom-protect.conf').read_text()


def test_systemctl_show_failing_fails_the_task(host, module_runner, monkeypatch):
    monkeypatch.setenv('FAKE_SHOW_RC', '1')
    code, result = module_runner(main, host.params())
    assert code == 1 and result['msg'] == ('oom_protect: systemctl show failed: Failed to connect to bus: No such file or '
                                           'directory; nothing was changed')
    assert host.files() == []
