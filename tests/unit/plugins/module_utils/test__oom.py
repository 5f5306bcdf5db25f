# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""oom: parsing systemctl show, input checks, drop-ins, live values on a fake /proc and /sys/fs/cgroup under tmp_path,
the audit, and run() with a real AnsibleModule and a fake systemctl runner that records every command."""
from __future__ import annotations

import errno
import os

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.oom import (
    C_LOCALE, OomError, OomFailure, apply_live, audit, audit_line, cgroup_pids, check_dropin_name, check_units,
    has_capability, lowering_allowed, normalise_units, parse_show, plan_live, read_adj, render_dropin, run, show_command, unit_pids, write_adj,
    Paths,
)

# `systemctl show -p Id -p LoadState -p MainPID -p ControlGroup -p OOMScoreAdjust -- sshd nginx hysteria` on Debian 13:
# systemd prints the Service properties before the Unit ones, one block per unit in the order asked; sshd is an
# alias of ssh.service, hysteria is not installed.
SHOW = '''\
MainPID=612
ControlGroup=/system.slice/ssh.service
OOMScoreAdjust=0
Id=ssh.service
LoadState=loaded

MainPID=701
ControlGroup=/system.slice/nginx.service
OOMScoreAdjust=0
Id=nginx.service
LoadState=loaded

MainPID=0
ControlGroup=
OOMScoreAdjust=0
Id=hysteria.service
LoadState=not-found
'''
UNITS = ['sshd', 'nginx', {'name': 'hysteria', 'score': 500}]
DROPIN = '# Ansible managed: lowmem.vps.oom_protect\n[Service]\nOOMScoreAdjust=-700\n'
LISTENER = 'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups'
# pid: (unit cgroup, comm, oom_score_adj, oom_score, cmdline as the kernel stores it)
PROCESSES = {
    612: ('ssh.service', 'sshd', -1000, 0, LISTENER + '\0'),
    1400: ('ssh.service', 'sshd-session', 0, 667, 'sshd-session: admin [priv]\0'),
    701: ('nginx.service', 'nginx', 0, 667, 'nginx: master process /usr/sbin/nginx -g daemon on; master_process on;\0'),
    702: ('nginx.service', 'nginx', 0, 668, 'nginx: worker process\0\0'),
    703: ('nginx.service', 'nginx', -800, 0, 'nginx: worker process\0\0'),
}
GONE = 704  # listed in nginx's cgroup.procs, no /proc entry: exited meanwhile


REFUSES_WRITES = '/proc/sys/kernel/ngroups_max'
FAILS_WRITES = '/proc/self/oom_score'


class Box(object):
    """A fake host under tmp_path: /proc, /sys/fs/cgroup (v1, v2 or hybrid) and /etc/systemd/system."""

    def __init__(self, root, layout='/systemd'):
        self.proc = root / 'proc'
        self.cgroup = root / 'cgroup'
        self.systemd = root / 'etc' / 'systemd' / 'system'
        self.systemd.mkdir(parents=True)
        self.paths = Paths(proc_root=str(self.proc), cgroup_root=str(self.cgroup))
        procs = {}
        for pid, (unit, comm, adj, score, cmdline) in PROCESSES.items():
            self.add(pid, comm, adj, score, cmdline)
            procs.setdefault(unit, []).append(pid)
        procs['nginx.service'].append(GONE)
        for unit, pids in procs.items():
            self.cgroup_procs(layout, unit, pids)

    def add(self, pid, comm, adj, score, cmdline):
        directory = self.proc / str(pid)
        directory.mkdir(parents=True)
        for name, text in (('comm', comm + '\n'), ('oom_score_adj', '%d\n' % adj), ('oom_score', '%d\n' % score),
                           ('cmdline', cmdline)):
            (directory / name).write_text(text)

    def cgroup_procs(self, layout, unit, pids):
        directory = self.cgroup / (layout.lstrip('/') or '.') / 'system.slice' / unit
        directory.mkdir(parents=True, exist_ok=True)
        (directory / 'cgroup.procs').write_text(''.join('%d\n' % pid for pid in pids))

    def kernel_file(self, pid, target):
        """/proc/PID/oom_score_adj as a real kernel file that takes no write, root included."""
        path = self.proc / str(pid) / 'oom_score_adj'
        path.unlink()
        os.symlink(target, str(path))

    def deny(self, *pids):
        """The kernel refusing to lower oom_score_adj of ``pids`` (EACCES, as without CAP_SYS_RESOURCE): a read-only
        sysctl reads a number (65536) and refuses every write with EACCES, here and in tools/sandbox alike."""
        for pid in pids:
            self.kernel_file(pid, REFUSES_WRITES)

    def break_write(self, pid):
        """An unexpected error writing oom_score_adj of ``pid``: /proc/self/oom_score reads a number and fails every
        write (EINVAL, or EROFS under tools/sandbox), neither a refusal nor a process gone."""
        self.kernel_file(pid, FAILS_WRITES)

    def adj(self, pid):
        return int((self.proc / str(pid) / 'oom_score_adj').read_text())

    def files(self):
        return sorted(str(path.relative_to(self.systemd)) for path in self.systemd.rglob('*'))

    def params(self, **extra):
        base = {'units': list(UNITS), 'systemd_dir': str(self.systemd)}
        base.update(extra)
        return base


class FakeSystemctl(object):
    """A runner answering `systemctl show` with fixed text and recording every command with its environment."""

    def __init__(self, show=SHOW, rc=0, reload_rc=0):
        self.show, self.rc, self.reload_rc = show, rc, reload_rc
        self.calls = []

    def __call__(self, args, environ_update=None):
        self.calls.append((list(args), dict(environ_update or {})))
        if args[1] == 'show':
            return self.rc, self.show if self.rc == 0 else '', '' if self.rc == 0 else 'Failed to connect to bus'
        if args[1] == 'daemon-reload':
            return self.reload_rc, '', 'Failed to reload daemon' if self.reload_rc else ''
        raise AssertionError('unexpected systemctl call %r' % (args,))

    def verbs(self):
        return [args[1] for args, env in self.calls]


def which(name):
    return '/usr/bin/' + name


@pytest.fixture
def box(tmp_path):
    return Box(tmp_path)


# ---------------------------------------------------------------- systemctl show

def test_parse_show_reads_every_block_in_order():
    assert parse_show(SHOW) == [
        {'id': 'ssh.service', 'load_state': 'loaded', 'main_pid': 612, 'control_group': '/system.slice/ssh.service',
         'oom_score_adjust': 0},
        {'id': 'nginx.service', 'load_state': 'loaded', 'main_pid': 701, 'control_group': '/system.slice/nginx.service',
         'oom_score_adjust': 0},
        {'id': 'hysteria.service', 'load_state': 'not-found', 'main_pid': 0, 'control_group': '', 'oom_score_adjust': 0},
    ]


def test_parse_show_tolerates_blank_edges_and_missing_properties():
    assert parse_show('\n\nId=a.service\nMainPID=\n\n\nId=b.service\nOOMScoreAdjust=-900\n\n') == [
        {'id': 'a.service', 'load_state': '', 'main_pid': 0, 'control_group': '', 'oom_score_adjust': None},
        {'id': 'b.service', 'load_state': '', 'main_pid': 0, 'control_group': '', 'oom_score_adjust': -900},
    ]
    assert parse_show('') == []


def test_show_command_is_one_call_with_list_args():
    assert show_command('/usr/bin/systemctl', ['ssh.service', 'nginx.service']) == [
        '/usr/bin/systemctl', 'show', '-p', 'Id', '-p', 'LoadState', '-p', 'MainPID', '-p', 'ControlGroup',
        '-p', 'OOMScoreAdjust', '--', 'ssh.service', 'nginx.service']


# ---------------------------------------------------------------- input

def test_normalise_units_accepts_names_and_dicts():
    assert normalise_units(['ssh', 'sshd.service', {'name': 'nginx', 'score': '-800'}, 'php8.2-fpm',
                            {'name': 'supervisor', 'live_scope': 'main'}], -700) == [
        {'name': 'ssh.service', 'score': -700, 'live_scope': 'main'},
        {'name': 'sshd.service', 'score': -700, 'live_scope': 'main'},
        {'name': 'nginx.service', 'score': -800, 'live_scope': 'all'},
        {'name': 'php8.2-fpm.service', 'score': -700, 'live_scope': 'all'},
        {'name': 'supervisor.service', 'score': -700, 'live_scope': 'main'},
    ]
    assert normalise_units([{'name': 'getty@tty1', 'score': None}], 10) == [
        {'name': 'getty@tty1.service', 'score': 10, 'live_scope': 'all'}]
    assert normalise_units(None) == []


@pytest.mark.parametrize('units, message', [
    ('ssh', "units must be a list of unit names or dicts, got 'ssh'"),
    ([{'name': 'ssh', 'nice': 5}], 'units[0]: unknown key nice (allowed: name, score, live_scope)'),
    ([{'score': -700}], 'units[0]: name is required'),
    ([42], 'units[0]: 42 is neither a unit name nor a dict'),
    ([{'name': ''}], "units[0]: '' is not a unit name"),
    (['ssh', '/lib/systemd/system/nginx.service'], "units[1]: unit name '/lib/systemd/system/nginx.service' contains /"),
    (['ng inx'], "units[0]: unit name 'ng inx' is not a valid systemd unit name"),
    (['.service'], "units[0]: unit name '.service' is not a valid systemd unit name"),
    (['nginx.socket'], 'units[0]: unit nginx.socket is not a service'),
    ([{'name': 'nginx', 'score': 'low'}], "units[0] (nginx.service): score 'low' is not a whole number"),
    ([{'name': 'nginx', 'score': True}], 'units[0] (nginx.service): score True is not a whole number'),
    ([{'name': 'nginx', 'live_scope': 'tree'}], "units[0] (nginx.service): live_scope 'tree' must be one of main, all"),
])
def test_normalise_units_refuses_bad_input(units, message):
    with pytest.raises(OomError) as failed:
        normalise_units(units)
    assert message in str(failed.value)


def test_normalise_units_lists_every_problem():
    with pytest.raises(OomError) as failed:
        normalise_units(['a/b', 'ok', {'name': 'x', 'live_scope': 'y'}])
    assert str(failed.value).count(';') == 1


SSH_MESSAGE = ("ssh.service: score -1000 is refused: OpenSSH's listener already sets itself to -1000, and the unit's value "
               "is what every session (and so every shell) gets back, so -1000 there makes every login shell unkillable")


def test_check_units_refuses_unkillable_ssh_sessions():
    for name in ('ssh', 'sshd', 'ssh.service', 'sshd.service'):
        with pytest.raises(OomError) as failed:
            check_units(normalise_units([{'name': name, 'score': -1000}]))
        assert "score -1000 is refused: OpenSSH's listener" in str(failed.value)
    with pytest.raises(OomError) as failed:
        check_units(normalise_units(['ssh', 'nginx'], -1000), score=-1000)
    assert str(failed.value).startswith(SSH_MESSAGE) and 'allow_unkillable_sessions=true' in str(failed.value)
    check_units(normalise_units(['ssh', 'nginx'], -1000), allow_unkillable_sessions=True, score=-1000)
    check_units(normalise_units([{'name': 'nginx', 'score': -1000}, {'name': 'ssh', 'score': -999}]))


@pytest.mark.parametrize('units, score, message', [
    ([{'name': 'nginx', 'score': -1001}], None, 'nginx.service: score -1001 is outside -1000..1000'),
    (['nginx'], 1001, 'score: score 1001 is outside -1000..1000'),
    (['ssh', 'ssh.service'], None, 'ssh.service is listed more than once'),
])
def test_check_units_refuses_ranges_and_duplicates(units, score, message):
    with pytest.raises(OomError) as failed:
        check_units(normalise_units(units, -700 if score is None else score), score=score)
    assert message in str(failed.value)


@pytest.mark.parametrize('name', ['50-x', '../50-x.conf', 'a b.conf', '.conf', '50/x.conf', None])
def test_check_dropin_name_refuses_bad_names(name):
    with pytest.raises(OomError, match='must be a file name ending in .conf'):
        check_dropin_name(name)


def test_render_dropin():
    assert render_dropin(-700) == DROPIN
    assert render_dropin(500, 'line one\n# kept\n\nline two\n') == (
        '# line one\n# kept\n#\n# line two\n[Service]\nOOMScoreAdjust=500\n')
    assert render_dropin(-1000, '') == '[Service]\nOOMScoreAdjust=-1000\n'


# ---------------------------------------------------------------- cgroups and /proc

@pytest.mark.parametrize('layout', ['/systemd', '', '/unified'])
def test_cgroup_pids_finds_v1_v2_and_hybrid(tmp_path, layout):
    fake = Box(tmp_path, layout)
    assert cgroup_pids('/system.slice/nginx.service', str(fake.cgroup)) == [701, 702, 703, GONE]
    assert cgroup_pids('/system.slice/missing.service', str(fake.cgroup)) is None
    assert cgroup_pids('', str(fake.cgroup)) is None


def test_cgroup_pids_prefers_unified_then_v2_then_v1_and_walks_sub_cgroups(box):
    box.cgroup_procs('/unified', 'nginx.service', [701])
    box.cgroup_procs('/unified', 'nginx.service/workers', [702, 702, 703])
    assert cgroup_pids('/system.slice/nginx.service', str(box.cgroup)) == [701, 702, 703]
    box.cgroup_procs('', 'ssh.service', [612])
    assert cgroup_pids('/system.slice/ssh.service', str(box.cgroup)) == [612]  # v2 before the v1 one (612, 1400)


def test_unit_pids_by_scope_with_main_pid_fallback(box):
    ssh, nginx, gone = parse_show(SHOW)
    root = str(box.cgroup)
    assert unit_pids(ssh, 'main', root) == [612]
    assert unit_pids(ssh, 'all', root) == [612, 1400]
    assert unit_pids(gone, 'all', root) == [] and unit_pids(gone, 'main', root) == []
    warnings = []
    moved = dict(nginx, control_group='/system.slice/elsewhere.service')
    assert unit_pids(moved, 'all', root, warnings) == [701]
    assert warnings == ['nginx.service: no cgroup.procs for /system.slice/elsewhere.service under %s (looked in unified/, '
                        'the v2 root and systemd/): only its main process 701 is handled' % root]


def test_read_and_write_adj(box):
    proc = str(box.proc)
    assert read_adj(612, proc) == -1000 and read_adj(GONE, proc) is None
    write_adj(701, -700, proc)
    assert box.adj(701) == -700
    with pytest.raises(OSError) as failed:
        write_adj(GONE, -700, proc)
    assert failed.value.errno == errno.ENOENT and not (box.proc / str(GONE)).exists()


def test_plan_live_never_raises_a_value(box):
    proc = str(box.proc)
    assert plan_live([612, 1400, 701, 702, 703, GONE], -700, proc) == [
        {'pid': 612, 'before': -1000, 'after': -1000, 'written': False},
        {'pid': 1400, 'before': 0, 'after': -700, 'written': True},
        {'pid': 701, 'before': 0, 'after': -700, 'written': True},
        {'pid': 702, 'before': 0, 'after': -700, 'written': True},
        {'pid': 703, 'before': -800, 'after': -800, 'written': False},
    ]
    assert plan_live([701], 0, proc) == [{'pid': 701, 'before': 0, 'after': 0, 'written': False}]


def test_apply_live_writes_only_planned_values(box):
    proc = str(box.proc)
    entries, refused = apply_live(plan_live([701, 702, 703], -700, proc), -700, proc)
    assert refused == [] and [entry['written'] for entry in entries] == [True, True, False]
    assert [box.adj(pid) for pid in (701, 702, 703)] == [-700, -700, -800]


def test_apply_live_check_mode_writes_nothing(box):
    proc = str(box.proc)
    entries, refused = apply_live(plan_live([701], -700, proc), -700, proc, check_mode=True)
    assert entries == [{'pid': 701, 'before': 0, 'after': -700, 'written': True}] and refused == []
    assert box.adj(701) == 0


# CapEff lines as /proc/self/status prints them (kernel 6.1, Debian 12): root on this project's CI host, whose bounding
# set lacks CAP_SYS_RESOURCE (bit 24); root in a Docker container with the default set plus SYS_ADMIN (the Molecule
# instances here: 0xa80425fb is Docker's default set); root on a host with every capability of kernel 6.1.
STATUS_CI_HOST = 'Name:\tcat\nUmask:\t0022\nState:\tR (running)\nCapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\n' \
                 'CapEff:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000000\n'
STATUS_CONTAINER = 'Name:\tpython3\nCapInh:\t0000000000000000\nCapPrm:\t00000000a82425fb\nCapEff:\t00000000a82425fb\n'
STATUS_FULL = 'Name:\tpython3\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n'


@pytest.mark.parametrize('text, expected', [
    (STATUS_CI_HOST, False), (STATUS_CONTAINER, False), (STATUS_FULL, True),
    ('Name:\tx\n', None), ('CapEff:\tzz\n', None),
])
def test_has_capability_reads_cap_eff(text, expected):
    assert has_capability(text, 24) is expected
    assert has_capability(STATUS_CONTAINER, 21) is True   # SYS_ADMIN, which the instances are given


def self_status(box, text):
    (box.proc / 'self').mkdir()
    (box.proc / 'self' / 'status').write_text(text)


@pytest.mark.parametrize('status, score, before, allowed', [
    (None, -700, 0, True),                 # capabilities unknown: as a real run would try
    (STATUS_FULL, -700, 0, True),
    (STATUS_CONTAINER, -700, 0, False),    # below 0 needs the capability
    (STATUS_CONTAINER, -700, -500, False),
    (STATUS_CONTAINER, 0, 300, True),      # down to 0 does not
    (STATUS_CONTAINER, 100, 300, True),
])
def test_lowering_allowed_predicts_the_kernel(box, status, score, before, allowed):
    if status is not None:
        self_status(box, status)
    assert lowering_allowed(score, before, str(box.proc)) is allowed


def test_apply_live_check_mode_predicts_a_refused_write(box):
    proc = str(box.proc)
    self_status(box, STATUS_CONTAINER)
    entries, refused = apply_live(plan_live([701], -700, proc), -700, proc, check_mode=True)
    assert entries == [{'pid': 701, 'before': 0, 'after': 0, 'written': False}] and refused == [701]


def test_run_check_mode_reports_what_the_real_run_does_without_the_capability(box, ansible_module):
    """After a converge where the kernel refused the live writes, --check reports no change (the molecule check)."""
    self_status(box, STATUS_CONTAINER)
    box.deny(701, 702)
    run(ansible_module(), runner=FakeSystemctl(), which=which, paths=box.paths, params=box.params())
    checked = run(ansible_module(check_mode=True), runner=FakeSystemctl(), which=which, paths=box.paths, params=box.params())
    again = run(ansible_module(), runner=FakeSystemctl(), which=which, paths=box.paths, params=box.params())
    assert not again['changed'] and not checked['changed'] and checked['diff'] == again['diff']
    assert checked['warnings'][-1].startswith('nginx.service: the kernel would refuse to lower oom_score_adj of pid 701, 702')


def test_apply_live_reports_a_refused_write_and_skips_a_vanished_process(box):
    proc = str(box.proc)
    box.deny(701)
    planned = plan_live([701, 702], -700, proc)
    (box.proc / '702' / 'oom_score_adj').unlink()  # exited between the read and the write
    entries, refused = apply_live(planned, -700, proc)
    assert entries == [{'pid': 701, 'before': 65536, 'after': 65536, 'written': False}] and refused == [701]
    assert box.adj(701) == 65536

    box.break_write(701)
    with pytest.raises(OSError):
        apply_live(plan_live([701], -700, proc), -700, proc)


def test_apply_live_records_each_write_as_it_happens(box):
    """An unexpected error at the third pid: the two written before it were each recorded when written."""
    proc = str(box.proc)
    box.break_write(703)
    recorded = []
    planned = plan_live([701, 702, 703], -900, proc)
    with pytest.raises(OSError):
        apply_live(planned, -900, proc, wrote=lambda entry: recorded.append((entry['pid'], box.adj(entry['pid']))))
    assert recorded == [(701, -900), (702, -900)]


def test_audit_reads_each_process_and_prints_the_runbook_line(box):
    records = audit('ssh.service', [612, 1400, GONE], str(box.proc))
    assert records[0] == {'unit': 'ssh.service', 'pid': 612, 'comm': 'sshd', 'oom_score': 0, 'oom_score_adj': -1000,
                          'cmdline': LISTENER}
    assert [audit_line(record) for record in records] == [
        'ssh.service pid=612 oom_score=0 oom_score_adj=-1000 cmdline=' + LISTENER,
        'ssh.service pid=1400 oom_score=667 oom_score_adj=0 cmdline=sshd-session: admin [priv]']
    assert audit('nginx.service', [702], str(box.proc))[0]['cmdline'] == 'nginx: worker process'


# ---------------------------------------------------------------- run()

def test_run_writes_dropins_reloads_once_and_lowers_running_values(box, ansible_module):
    systemctl = FakeSystemctl()
    result = run(ansible_module(), runner=systemctl, which=which, paths=box.paths, params=box.params())
    assert systemctl.calls == [(show_command('/usr/bin/systemctl', ['sshd.service', 'nginx.service', 'hysteria.service']),
                                C_LOCALE), (['/usr/bin/systemctl', 'daemon-reload'], C_LOCALE)]
    assert box.files() == ['nginx.service.d', 'nginx.service.d/50-lowmem-oom-protect.conf', 'ssh.service.d',
                           'ssh.service.d/50-lowmem-oom-protect.conf']
    path = box.systemd / 'ssh.service.d' / '50-lowmem-oom-protect.conf'
    assert path.read_text() == DROPIN and oct(path.stat().st_mode & 0o777) == '0o644'
    assert oct((box.systemd / 'ssh.service.d').stat().st_mode & 0o777) == '0o755'
    assert result['changed'] and result['daemon_reloaded']
    assert result['skipped'] == [{'name': 'hysteria.service', 'reason': 'not installed (LoadState=not-found)'}]
    assert result['warnings'] == ['hysteria.service is not installed (LoadState=not-found): skipped, no drop-in written']
    ssh, nginx = result['units']
    assert ssh == {'name': 'sshd.service', 'id': 'ssh.service', 'score': -700, 'live_scope': 'main', 'dropin': str(path),
                   'dropin_changed': True, 'live': [{'pid': 612, 'before': -1000, 'after': -1000, 'written': False}],
                   'live_applied': True}
    assert nginx['live'] == [{'pid': 701, 'before': 0, 'after': -700, 'written': True},
                             {'pid': 702, 'before': 0, 'after': -700, 'written': True},
                             {'pid': 703, 'before': -800, 'after': -800, 'written': False}]
    assert [box.adj(pid) for pid in (612, 1400, 701, 702, 703)] == [-1000, 0, -700, -700, -800]
    assert [entry['after_header'] for entry in result['diff']] == [
        str(path), str(box.systemd / 'nginx.service.d' / '50-lowmem-oom-protect.conf'), 'nginx.service processes (oom_score_adj)']
    assert result['diff'][2]['before'] == 'pid 701: 0\npid 702: 0\npid 703: -800\n'
    assert result['diff'][2]['after'] == 'pid 701: -700\npid 702: -700\npid 703: -800\n'
    assert [(record['unit'], record['pid'], record['oom_score_adj']) for record in result['audit']] == [
        ('ssh.service', 612, -1000), ('ssh.service', 1400, 0), ('nginx.service', 701, -700), ('nginx.service', 702, -700),
        ('nginx.service', 703, -800)]
    assert result['audit_lines'][0] == 'ssh.service pid=612 oom_score=0 oom_score_adj=-1000 cmdline=' + LISTENER

    again = FakeSystemctl(show=SHOW.replace('OOMScoreAdjust=0', 'OOMScoreAdjust=-700'))
    second = run(ansible_module(), runner=again, which=which, paths=box.paths, params=box.params())
    assert not second['changed'] and not second['daemon_reloaded'] and again.verbs() == ['show']
    assert not any(unit['dropin_changed'] for unit in second['units'])
    assert not any(entry['written'] for unit in second['units'] for entry in unit['live'])
    assert second['warnings'] == result['warnings']


def test_run_check_mode_writes_nothing(box, ansible_module):
    systemctl = FakeSystemctl()
    result = run(ansible_module(check_mode=True), runner=systemctl, which=which, paths=box.paths, params=box.params())
    assert result['changed'] and result['daemon_reloaded'] and systemctl.verbs() == ['show']
    assert box.files() == [] and box.adj(701) == 0
    assert result['units'][1]['live'][0] == {'pid': 701, 'before': 0, 'after': -700, 'written': True}
    assert result['diff'][0]['before'] == '' and result['diff'][0]['after'] == DROPIN
    assert result['audit'][2]['oom_score_adj'] == 0  # the audit reads what runs now


def test_run_warns_when_the_kernel_refuses_the_write(box, ansible_module):
    box.deny(701, 702)
    result = run(ansible_module(), runner=FakeSystemctl(), which=which, paths=box.paths, params=box.params())
    nginx = result['units'][1]
    assert not nginx['live_applied'] and result['units'][0]['live_applied']
    assert not any(entry['written'] for entry in nginx['live']) and box.adj(701) == 65536
    assert result['changed'] and nginx['dropin_changed']
    assert result['warnings'][-1] == ("nginx.service: the kernel refused to lower oom_score_adj of pid 701, 702 (no "
                                      "CAP_SYS_RESOURCE here, a container?): the value applies at the unit's next start")


def test_run_live_false_and_no_daemon_reload(box, ansible_module):
    systemctl = FakeSystemctl()
    result = run(ansible_module(), runner=systemctl, which=which, paths=box.paths, params=box.params(live=False, daemon_reload=False))
    assert result['changed'] and not result['daemon_reloaded'] and systemctl.verbs() == ['show']
    assert all(unit['live'] == [] and not unit['live_applied'] for unit in result['units'])
    assert box.adj(701) == 0 and len(result['audit']) == 5


def test_run_scope_all_for_ssh_lowers_sessions_but_never_the_listener(box, ansible_module):
    params = box.params(units=[{'name': 'ssh', 'live_scope': 'all'}])
    show = SHOW.split('\n\n', maxsplit=1)[0] + '\n'
    result = run(ansible_module(), runner=FakeSystemctl(show), which=which, paths=box.paths, params=params)
    assert [(entry['pid'], entry['written']) for entry in result['units'][0]['live']] == [(612, False), (1400, True)]
    assert box.adj(612) == -1000 and box.adj(1400) == -700


def test_run_counts_an_alias_once_and_refuses_conflicting_aliases(box, ansible_module):
    ssh = SHOW.split('\n\n', maxsplit=1)[0] + '\n'
    result = run(ansible_module(), runner=FakeSystemctl(ssh + '\n' + ssh), which=which, paths=box.paths, params=box.params(units=['ssh', 'sshd']))
    assert [unit['id'] for unit in result['units']] == ['ssh.service']
    assert result['skipped'] == [{'name': 'sshd.service', 'reason': 'same unit as ssh.service (ssh.service)'}]
    with pytest.raises(OomError, match='ssh.service and sshd.service are the same unit ssh.service with different score'):
        run(ansible_module(), runner=FakeSystemctl(ssh + '\n' + ssh), which=which,
            paths=box.paths, params=box.params(units=['ssh', {'name': 'sshd', 'score': -500}]))


def test_run_warns_when_systemd_loaded_another_value(box, ansible_module):
    run(ansible_module(), runner=FakeSystemctl(), which=which, paths=box.paths, params=box.params())
    result = run(ansible_module(), runner=FakeSystemctl(), which=which, paths=box.paths, params=box.params())
    assert result['warnings'][1].startswith('ssh.service: systemd has OOMScoreAdjust=0 loaded, not -700 from %s' % box.systemd)


@pytest.mark.parametrize('params, show, message', [
    ({'score': -1001}, SHOW, 'score: score -1001 is outside -1000..1000'),
    ({'units': ['ssh', {'name': 'nginx', 'score': 1001}]}, SHOW, 'nginx.service: score 1001 is outside -1000..1000'),
    ({'units': ['ssh', 'nginx/x']}, SHOW, "unit name 'nginx/x' contains /"),
    ({'units': ['ssh', 'nginx', 'ssh.service']}, SHOW, 'ssh.service is listed more than once'),
    ({'units': [{'name': 'sshd', 'score': -1000}]}, SHOW, "sshd.service: score -1000 is refused: OpenSSH's listener"),
    ({'units': [{'name': 'opensshd', 'score': -1000}]}, SHOW.split('\n\n', maxsplit=1)[0], "ssh.service: score -1000 is refused"),
    ({'units': [{'name': 'nginx', 'live_scope': 'tree'}]}, SHOW, "live_scope 'tree' must be one of main, all"),
    ({'dropin_name': '../evil.conf'}, SHOW, "dropin_name '../evil.conf' must be a file name ending in .conf"),
    ({}, SHOW.split('\n\n', maxsplit=1)[0], 'systemctl show returned 1 unit blocks for 3 units'),
])
def test_run_refuses_bad_input_and_touches_nothing(box, ansible_module, params, show, message):
    (box.systemd / 'ssh.service.d').mkdir()
    before = box.files()
    systemctl = FakeSystemctl(show)
    with pytest.raises(OomError) as failed:
        run(ansible_module(), runner=systemctl, which=which, paths=box.paths, params=box.params(**params))
    assert message in str(failed.value)
    assert box.files() == before and 'daemon-reload' not in systemctl.verbs()
    assert [box.adj(pid) for pid in sorted(PROCESSES)] == [-1000, 0, 0, -800, 0]


def test_run_fails_when_systemctl_is_missing_or_fails(box, ansible_module):
    with pytest.raises(OomError, match='systemctl is not installed'):
        run(ansible_module(), runner=FakeSystemctl(), which=lambda name: None, paths=box.paths, params=box.params())
    with pytest.raises(OomError, match='systemctl show failed: Failed to connect to bus'):
        run(ansible_module(), runner=FakeSystemctl(rc=1), which=which, paths=box.paths, params=box.params())
    with pytest.raises(OomFailure, match='drop-ins written, but systemctl daemon-reload failed: Failed to reload daemon'):
        run(ansible_module(), runner=FakeSystemctl(reload_rc=1), which=which, paths=box.paths, params=box.params())
    assert box.files() != [] and box.adj(701) == 0


def test_run_without_units_calls_nothing(box, ansible_module):
    systemctl = FakeSystemctl()
    result = run(ansible_module(), runner=systemctl, which=which, paths=box.paths, params=box.params(units=[]))
    assert not result['changed'] and systemctl.calls == [] and result['units'] == []
