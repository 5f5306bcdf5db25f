# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""memory_facts' readers on real files under tmp_path (a fake /proc, /sys, journald.conf), its flags, its bad input."""
from __future__ import annotations

import os

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.memory_facts import (
    MemoryFactsError, Paths, check_params, collect, journal_command, journal_storage, memory_summary, parse_boots,
    parse_earlyoom_args, parse_psi, parse_slabinfo, parse_vmstat, read_containers, read_earlyoom, read_events,
    read_units, read_zswap, risk_flags, since_argument, sizing, slab_top,
)
from ansible_collections.lowmem.vps.plugins.module_utils.meminfo import parse_meminfo
from ansible_collections.lowmem.vps.plugins.module_utils.runner import StreamError

# /proc/meminfo of the 512 MB lab VM (Debian 13, 6.12.57+deb13-amd64) after harden.yml, captured 2026-12-01.
VM_MEMINFO = """MemTotal:         472260 kB
MemFree:           52116 kB
MemAvailable:     283472 kB
Buffers:            6460 kB
Cached:           231404 kB
SwapCached:          356 kB
Active:           146404 kB
Inactive:         160560 kB
AnonPages:         68748 kB
Mapped:            78924 kB
Shmem:              1624 kB
KReclaimable:      28448 kB
Slab:              66796 kB
SReclaimable:      28448 kB
SUnreclaim:        38348 kB
KernelStack:        2544 kB
PageTables:         2904 kB
SecPageTables:         0 kB
SwapTotal:       2097148 kB
SwapFree:        2094076 kB
Zswap:               208 kB
Zswapped:           1028 kB
VmallocTotal:   34359738367 kB
VmallocUsed:       12748 kB
Percpu:              680 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
Hugetlb:               0 kB
"""

# /proc/slabinfo lines of the same VM (abridged: header plus four caches).
SLABINFO = """slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> \
<sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
shmem_inode_cache   3150   3150    768   21    4 : tunables    0    0    0 : slabdata    150    150      0
dentry             21378  21378    192   21    1 : tunables    0    0    0 : slabdata   1018   1018      0
kmalloc-1k          1024   1024   1024   16    4 : tunables    0    0    0 : slabdata     64     64      0
vmap_area           1344   1344     64   64    1 : tunables    0    0    0 : slabdata     21     21      0
"""

VMSTAT = """nr_free_pages 13029
pswpin 12
pswpout 803
pgmajfault 2210
workingset_refault_anon 40
workingset_refault_file 1877
allocstall_dma 0
allocstall_dma32 3
allocstall_normal 1
compact_stall 0
oom_kill 2
"""

PSI = """some avg10=0.00 avg60=0.12 avg300=0.40 total=1234567
full avg10=0.00 avg60=0.05 avg300=0.10 total=234567
"""

# `journalctl --list-boots` of systemd 257 (Debian 13) and of systemd 252 (Debian 12, no header line).
LIST_BOOTS_257 = """IDX BOOT ID                          FIRST ENTRY                 LAST ENTRY
 -1 5b1e2d0c8f4a4a3e9d6c7b8a9f0e1d2c Mon 2026-11-30 20:01:02 UTC Mon 2026-11-30 21:11:40 UTC
  0 0f7c2a1b3d4e4f5a8b9c0d1e2f3a4b5c Mon 2026-11-30 21:12:09 UTC Tue 2026-12-01 09:30:00 UTC
"""
LIST_BOOTS_252 = """-2 11111111111111111111111111111111 Sat 2026-11-28 10:00:00 UTC—Sat 2026-11-28 11:00:00 UTC
-1 22222222222222222222222222222222 Sun 2026-11-29 10:00:00 UTC—Sun 2026-11-29 11:00:00 UTC
 0 33333333333333333333333333333333 Mon 2026-11-30 10:00:00 UTC—Mon 2026-11-30 11:00:00 UTC
"""

# Kernel lines as journalctl -o short-unix prints them (from the lab VM's induced OOM kill, see fixtures/kernel_log).
OOM_LINES = [
    '1764670000.100000 lab kernel: hog invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|'
    '__GFP_ZERO), order=0, oom_score_adj=0\n',
    '1764670000.200000 lab kernel: oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,'
    'global_oom,task_memcg=/user.slice/user-0.slice/session-3.scope,task=hog,pid=4242,uid=0\n',
    '1764670000.300000 lab kernel: Out of memory: Killed process 4242 (hog) total-vm:402164kB, anon-rss:389120kB, '
    'file-rss:1024kB, shmem-rss:0kB, UID:0 pgtables:812kB oom_score_adj:0\n',
]


def write(path, text):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), 'w') as handle:
        handle.write(text)


def proc_tree(tmp_path, meminfo=VM_MEMINFO, processes=None):
    """A fake /proc (and /sys) under tmp_path; processes: {pid: (comm, cmdline list, oom_score_adj)}."""
    proc = tmp_path / 'proc'
    sys_root = tmp_path / 'sys'
    write(proc / 'meminfo', meminfo)
    write(proc / 'slabinfo', SLABINFO)
    write(proc / 'vmstat', VMSTAT)
    write(proc / 'pressure' / 'memory', PSI)
    write(proc / 'uptime', '3723.45 6000.00\n')
    write(proc / 'sys' / 'kernel' / 'hostname', 'lab\n')
    write(proc / 'sys' / 'kernel' / 'osrelease', '6.12.57+deb13-amd64\n')
    write(proc / 'sys' / 'kernel' / 'random' / 'boot_id', '0f7c2a1b-3d4e-4f5a-8b9c-0d1e2f3a4b5c\n')
    for name, reclaim in (('shmem_inode_cache', '0'), ('dentry', '1'), ('kmalloc-1k', '0'), ('vmap_area', '0')):
        write(sys_root / 'kernel' / 'slab' / name / 'reclaim_account', reclaim + '\n')
    for name, value in (('enabled', 'Y'), ('compressor', 'zstd'), ('zpool', 'zsmalloc'), ('max_pool_percent', '20')):
        write(sys_root / 'module' / 'zswap' / 'parameters' / name, value + '\n')
    for pid, (comm, argv, adj) in (processes or {}).items():
        write(proc / str(pid) / 'comm', comm + '\n')
        write(proc / str(pid) / 'cmdline', '\0'.join(argv) + '\0')
        write(proc / str(pid) / 'oom_score_adj', '%d\n' % adj)
        write(proc / str(pid) / 'oom_score', '0\n')
    return str(proc), str(sys_root)


PARAMS = dict(boots=1, since=None, kernel_log_file=None, units=['ssh', 'nginx'], slab_top=10, sunreclaim_percent=10.0,
              swap_full_percent=90.0, docker_socket='/nonexistent/docker.sock', history_file='/nonexistent/memory-history',
              history_growth_kb_per_hour=4096.0)


def params(**changes):
    result = dict(PARAMS)
    result.update(changes)
    return result


# ---------------------------------------------------------------- parameters

@pytest.mark.parametrize('changes, message', [
    (dict(boots=-1), 'boots must be an integer >= 0'),
    (dict(sunreclaim_percent=0), 'sunreclaim_percent must be a number above 0 and at most 100'),
    (dict(sunreclaim_percent=101), 'sunreclaim_percent must be a number above 0'),
    (dict(swap_full_percent=-5), 'swap_full_percent must be a number above 0'),
    (dict(slab_top=101), 'slab_top must be an integer from 0 to 100'),
    (dict(since='last tuesday; rm -rf /'), 'since must be epoch seconds'),
    (dict(kernel_log_file='/nonexistent/kern.log'), 'kernel_log_file /nonexistent/kern.log is not a readable file'),
    (dict(units=['ssh', '']), 'units must be a list of unit names'),
])
def test_bad_parameters_are_refused_with_a_clear_message(changes, message):
    with pytest.raises(MemoryFactsError) as raised:
        check_params(params(**changes))
    assert message in str(raised.value) and str(raised.value).endswith('(nothing was read)')


def test_every_bad_parameter_is_named_at_once():
    with pytest.raises(MemoryFactsError) as raised:
        check_params(params(boots=-2, slab_top=-1, sunreclaim_percent=200))
    assert 'boots' in str(raised.value) and 'slab_top' in str(raised.value) and 'sunreclaim_percent' in str(raised.value)


def test_since_with_kernel_log_file_is_refused(tmp_path):
    log = tmp_path / 'kern.log'
    log.write_text('')
    with pytest.raises(MemoryFactsError, match='cannot be combined with kernel_log_file'):
        check_params(params(since='-1h', kernel_log_file=str(log)))


@pytest.mark.parametrize('since, argument', [
    ('1764670000', '@1764670000'), ('1764670000.75', '@1764670000'), ('-2h', '-2h'), ('2026-12-01 09:00', '2026-12-01 09:00'),
    ('today', 'today'),
])
def test_since_accepts_epoch_dates_and_relative_times(since, argument):
    check_params(params(since=since))
    assert since_argument(since) == argument


# ---------------------------------------------------------------- /proc and /sys readers

def test_memory_summary_and_the_unaccounted_method():
    memory = memory_summary(parse_meminfo(VM_MEMINFO))
    assert memory['mem_total_kb'] == 472260 and memory['mem_available_kb'] == 283472
    assert memory['swap_used_kb'] == 2097148 - 2094076
    assert memory['sunreclaim_kb'] == 38348 and memory['sreclaimable_kb'] == 28448 and memory['slab_kb'] == 66796
    known = 52116 + 6460 + 231404 + 356 + 68748 + 66796 + 2544 + 2904 + 0 + 680 + 12748 + 208 + 0
    assert memory['unaccounted_kb'] == 472260 - known
    assert memory['process_kb'] == 68748 + 1624


def test_unaccounted_grows_with_pages_no_counter_shows_and_never_goes_negative():
    base = memory_summary(parse_meminfo(VM_MEMINFO))['unaccounted_kb']
    leaked = VM_MEMINFO.replace('MemFree:           52116 kB', 'MemFree:           42116 kB')
    assert memory_summary(parse_meminfo(leaked))['unaccounted_kb'] == base + 10000
    assert memory_summary(dict(MemTotal=100, MemFree=200))['unaccounted_kb'] == 0


def test_slabinfo_bytes_are_slabs_times_pages():
    caches = dict((cache['name'], cache) for cache in parse_slabinfo(SLABINFO))
    assert caches['shmem_inode_cache']['bytes'] == 150 * 4 * 4096
    assert caches['dentry']['objects'] == 21378 and caches['vmap_area']['object_size'] == 64
    assert len(caches) == 4


def test_slab_top_lists_only_unreclaimable_caches_largest_first(tmp_path):
    proc, sys_root = proc_tree(tmp_path)
    top, note = slab_top(2, proc, sys_root)
    assert [cache['name'] for cache in top] == ['shmem_inode_cache', 'kmalloc-1k'] and note is None
    assert top[0]['bytes'] == 150 * 4 * os.sysconf('SC_PAGE_SIZE')


def test_slab_top_without_sysfs_says_the_list_has_every_cache(tmp_path):
    proc, _sys_root = proc_tree(tmp_path)
    top, note = slab_top(10, proc, str(tmp_path / 'nosys'))
    assert 'dentry' in [cache['name'] for cache in top] and 'does not say which slab caches are reclaimable' in note


def test_slab_top_unreadable_slabinfo_is_a_note_not_an_error(tmp_path):
    proc, sys_root = proc_tree(tmp_path)
    os.remove(os.path.join(proc, 'slabinfo'))
    assert slab_top(10, proc, sys_root) == ([], '%s/slabinfo is not readable (it needs root): slab_top is empty' % proc)
    assert slab_top(0, proc, sys_root) == ([], None)


def test_vmstat_psi_and_zswap(tmp_path):
    vmstat = parse_vmstat(VMSTAT)
    assert vmstat['oom_kill'] == 2 and vmstat['pswpout'] == 803 and vmstat['allocstall'] == 4
    assert vmstat['allocstall_dma32'] == 3 and 'nr_free_pages' not in vmstat
    psi = parse_psi(PSI)
    assert psi['some']['avg60'] == 0.12 and psi['full']['total'] == 234567
    assert parse_psi('') is None and parse_psi(None) is None
    _proc, sys_root = proc_tree(tmp_path)
    zswap = read_zswap(parse_meminfo(VM_MEMINFO), sys_root)
    assert zswap['enabled'] is True and zswap['compressor'] == 'zstd' and zswap['max_pool_percent'] == 20
    assert zswap['pool_kb'] == 208 and zswap['stored_kb'] == 1028
    assert read_zswap({}, str(tmp_path / 'nosys')) is None


@pytest.mark.parametrize('argv, expected', [
    (['-m', '10,5', '-s', '20,10', '-r', '300', '--prefer', '^(hog)$', '--avoid', '^(sshd)$'],
     dict(mem_term_percent=10, mem_kill_percent=5, swap_term_percent=20, swap_kill_percent=10, report_interval_s=300,
          prefer='^(hog)$', avoid='^(sshd)$')),
    (['-m15', '-s', '30'], dict(mem_term_percent=15, mem_kill_percent=7.5, swap_term_percent=30, swap_kill_percent=15)),
    ([], dict(mem_term_percent=10, mem_kill_percent=5, swap_term_percent=10, swap_kill_percent=5, prefer=None)),
])
def test_earlyoom_thresholds_from_its_command_line(argv, expected):
    parsed = parse_earlyoom_args(argv)
    for key, value in expected.items():
        assert parsed[key] == value, key


def test_read_earlyoom_finds_the_process_by_comm(tmp_path):
    proc, _sys_root = proc_tree(tmp_path, processes={
        321: ('earlyoom-watch', ['/usr/local/bin/earlyoom-watch'], 0),
        612: ('earlyoom', ['/usr/bin/earlyoom', '-m', '10,5', '-s', '20,10'], -100),
    })
    found = read_earlyoom(proc)
    assert found['active'] is True and found['pid'] == 612 and found['swap_term_percent'] == 20
    proc2, _sys2 = proc_tree(tmp_path / 'other', processes={321: ('earlyoom-watch', ['x'], 0)})
    assert read_earlyoom(proc2) == dict(active=False, pid=None)


def systemctl_fake(blocks):
    """A runner answering `systemctl show` with the given blocks; records the calls."""
    calls = []

    def runner(args, environ_update=None):
        calls.append(list(args))
        return 0, '\n\n'.join('\n'.join('%s=%s' % item for item in block.items()) for block in blocks) + '\n', ''
    runner.calls = calls
    return runner


def test_read_units_reads_state_and_every_process_score(tmp_path):
    proc, _sys_root = proc_tree(tmp_path, processes={700: ('sshd', ['sshd: /usr/sbin/sshd -D [listener]'], -700),
                                                     800: ('nginx', ['nginx: master process'], 0)})
    runner = systemctl_fake([
        dict(Id='ssh.service', LoadState='loaded', ActiveState='active', MainPID='700', ControlGroup='', OOMScoreAdjust='-700'),
        dict(Id='nginx.service', LoadState='loaded', ActiveState='active', MainPID='800', ControlGroup='', OOMScoreAdjust='0'),
    ])
    units, note = read_units(runner, lambda name: '/usr/bin/' + name, ['ssh', 'nginx'], proc, str(tmp_path / 'cg'))
    assert note is None and runner.calls[0][:2] == ['/usr/bin/systemctl', 'show']
    assert 'ActiveState' in runner.calls[0] and runner.calls[0][-2:] == ['ssh.service', 'nginx.service']
    assert units[0] == dict(unit='ssh.service', found=True, active=True, main_pid=700,
                            processes=[dict(pid=700, comm='sshd', oom_score_adj=-700)])
    assert units[1]['processes'][0]['oom_score_adj'] == 0


def test_read_units_without_systemctl_or_with_a_failing_one(tmp_path):
    units, note = read_units(None, lambda name: None, ['ssh'], str(tmp_path))
    assert units[0]['found'] is False and 'systemctl is not installed' in note
    units, note = read_units(lambda args, environ_update=None: (1, '', 'Failed to connect to bus'), lambda name: '/bin/' + name,
                             ['ssh'], str(tmp_path))
    assert units == [] and 'Failed to connect to bus' in note


@pytest.mark.parametrize('conf, dropins, has_dir, persistent, storage', [
    ('', {}, True, True, 'auto'),
    ('', {}, False, False, 'auto'),
    ('[Journal]\nStorage=persistent\n', {}, False, True, 'persistent'),
    ('[Journal]\nStorage=persistent\n', {'etc/90-lowmem.conf': '[Journal]\nStorage=volatile\n'}, True, False, 'volatile'),
    ('[Journal]\nStorage=volatile\n',
     {'usr/10-x.conf': '[Journal]\nStorage=persistent\n', 'etc/10-x.conf': '[Journal]\n#Storage=persistent\n'},
     True, False, 'volatile'),
    ('[Other]\nStorage=none\n', {'run/50-y.conf': '[Journal]\nStorage=none\n'}, True, False, 'none'),
])
def test_journal_storage_follows_journalds_reading_order(tmp_path, conf, dropins, has_dir, persistent, storage):
    write(tmp_path / 'journald.conf', conf)
    dirs = dict((key, tmp_path / key / 'journald.conf.d') for key in ('usr', 'run', 'etc'))
    for name, text in dropins.items():
        where, _sep, base = name.partition('/')
        write(dirs[where] / base, text)
    journal_dir = tmp_path / 'var-log-journal'
    if has_dir:
        journal_dir.mkdir()
    found = journal_storage(str(tmp_path / 'journald.conf'), [str(dirs[key]) for key in ('usr', 'run', 'etc')], str(journal_dir))
    # The /etc drop-in with the same name hides the /usr one, and its commented line sets nothing: volatile remains.
    assert (found['persistent'], found['storage']) == (persistent, storage), found


class FakeEngine(object):
    def __init__(self, containers):
        self.containers = containers

    def get(self, url):
        if url == '/containers/json':
            return [dict(Id=name * 8) for name in self.containers]
        name = url.split('/')[2][:len(url.split('/')[2]) // 8]
        return dict(Name='/' + name, HostConfig=dict(Memory=self.containers[name]))


def test_containers_limits_add_up_from_the_engine():
    found = read_containers(client=FakeEngine({'hysteria': 96 << 20, 'tuic': 160 << 20, 'free': 0}))
    assert found['engine'] is True and found['count'] == 3 and found['limited'] == 2 and found['unlimited'] == 1
    assert found['limits_total_kb'] == (96 + 160) * 1024


def test_no_engine_or_a_broken_one_is_not_an_error(tmp_path):
    assert read_containers(str(tmp_path / 'docker.sock'))['engine'] is False

    class Broken(object):
        def get(self, url):
            raise OSError('connection refused')
    found = read_containers(client=Broken())
    assert found['engine'] is False and 'connection refused' in found['note']


# ---------------------------------------------------------------- events

def test_parse_boots_of_systemd_252_and_257():
    assert parse_boots(LIST_BOOTS_257) == [(0, '0f7c2a1b3d4e4f5a8b9c0d1e2f3a4b5c'), (-1, '5b1e2d0c8f4a4a3e9d6c7b8a9f0e1d2c')]
    assert [offset for offset, _boot in parse_boots(LIST_BOOTS_252)] == [0, -1, -2]


def journal_fakes(list_boots, lines_by_boot, fail=False):
    streamed = []

    def stream(args):
        streamed.append(list(args))
        if fail:
            raise StreamError('journalctl failed: No journal files were found.')
        boot = args[args.index('-b') + 1] if '-b' in args else 'since'
        return iter(lines_by_boot.get(boot, []))

    def runner(args, environ_update=None):
        return 0, list_boots, ''
    return stream, runner, streamed


def test_events_come_from_the_current_and_previous_boots():
    stream, runner, streamed = journal_fakes(LIST_BOOTS_257, {'5b1e2d0c8f4a4a3e9d6c7b8a9f0e1d2c': OOM_LINES})
    events, source = read_events(stream, runner, lambda name: '/usr/bin/' + name, boots=1)
    assert [args[args.index('-b') + 1] for args in streamed] == [
        '0f7c2a1b3d4e4f5a8b9c0d1e2f3a4b5c', '5b1e2d0c8f4a4a3e9d6c7b8a9f0e1d2c']
    assert streamed[0][:5] == ['/usr/bin/journalctl', '--no-pager', '-q', '-o', 'short-unix']
    assert '_TRANSPORT=kernel' in streamed[0] and 'SYSLOG_IDENTIFIER=earlyoom' in streamed[0]
    kill = events['oom_kills'][0]
    assert (kill['victim_pid'], kill['victim_comm'], kill['invoker_comm'], kill['constraint']) == (4242, 'hog', 'hog', 'global')
    assert kill['anon_rss_kb'] == 389120 and kill['boot'] == -1
    assert source['kind'] == 'journal' and len(source['boots']) == 2 and source['note'] is None


def test_boots_zero_reads_only_the_current_boot_and_a_short_journal_is_noted():
    stream, runner, streamed = journal_fakes(LIST_BOOTS_257, {})
    read_events(stream, runner, lambda name: '/usr/bin/' + name, boots=0)
    assert len(streamed) == 1
    stream, runner, streamed = journal_fakes(LIST_BOOTS_257, {})
    _events, source = read_events(stream, runner, lambda name: '/usr/bin/' + name, boots=5)
    assert len(streamed) == 2 and 'keeps 1 earlier boot(s) of the 5 asked for' in source['note']


def test_since_reads_the_journal_from_that_time():
    stream, runner, streamed = journal_fakes('', {'since': OOM_LINES})
    events, source = read_events(stream, runner, lambda name: '/usr/bin/' + name, since='1764669000')
    assert '--since=@1764669000' in streamed[0] and '-b' not in streamed[0]
    assert len(events['oom_kills']) == 1 and source['since'] == '@1764669000'
    assert journal_command('/bin/journalctl', since='-1h')[5] == '--since=-1h'


def test_a_saved_kernel_log_reads_nothing_of_the_host(tmp_path):
    log = tmp_path / 'kern.log'
    log.write_text(''.join(line.split(' ', 3)[3] for line in OOM_LINES))  # as `dmesg -t` saves them
    events, source = read_events(None, None, None, kernel_log_file=str(log))
    assert source == dict(kind='file', path=str(log), boots=[], since=None, note=None)
    assert events['oom_kills'][0]['victim_comm'] == 'hog'


def test_a_failing_journal_is_a_clear_error():
    stream, runner, _streamed = journal_fakes(LIST_BOOTS_257, {}, fail=True)
    with pytest.raises(MemoryFactsError, match='No journal files were found'):
        read_events(stream, runner, lambda name: '/usr/bin/' + name)


def test_no_journalctl_is_a_note():
    events, source = read_events(None, None, lambda name: None)
    assert source['kind'] == 'none' and 'journalctl is not installed' in source['note'] and not events['oom_kills']


# ---------------------------------------------------------------- flags

def healthy_facts():
    return dict(memory=memory_summary(parse_meminfo(VM_MEMINFO)), slab_top=[],
                events=dict(page_alloc_failures=[], oom_kills=[], earlyoom_kills=[], unit_oom_kills=[]),
                protected_units=[dict(unit='ssh.service', found=True, active=True, main_pid=700,
                                      processes=[dict(pid=700, comm='sshd', oom_score_adj=-700)]),
                                 dict(unit='supervisor.service', found=False, active=False, main_pid=None, processes=[])],
                earlyoom=dict(active=True), journal=dict(persistent=True, reason='Storage=persistent'),
                containers=dict(engine=True, limited=2, limits_total_kb=256 * 1024))


def names(flags):
    return [flag['name'] for flag in flags]


def test_a_hardened_healthy_host_has_no_flag():
    assert risk_flags(healthy_facts()) == []


def test_each_signature_raises_its_flag_worst_first():
    facts = healthy_facts()
    facts['events']['oom_kills'].append(dict(victim_comm='hog', constraint='global'))
    facts['events']['page_alloc_failures'].append(dict(comm='containerd-shim', order=0, network_rx=True,
                                                       frames=['skb_page_frag_refill', 'tcp_gro_receive'], modules=['virtio_net']))
    facts['protected_units'][0]['processes'][0]['oom_score_adj'] = 0
    facts['earlyoom'] = dict(active=False)
    facts['memory'] = dict(facts['memory'], swap_total_kb=0, swap_used_kb=0, sunreclaim_kb=60000)
    facts['journal'] = dict(persistent=False, reason='Storage=volatile')
    facts['containers'] = dict(engine=True, limited=3, limits_total_kb=3 << 20)
    flags = risk_flags(facts)
    assert names(flags) == ['oom_kills', 'page_alloc_failures', 'entry_service_unprotected', 'earlyoom_inactive', 'no_swap',
                            'sunreclaim_high', 'journal_not_persistent', 'limits_exceed_memory']
    assert [flag['severity'] for flag in flags[:3]] == ['critical'] * 3 and set(f['severity'] for f in flags[3:]) == {'warning'}
    reasons = dict((flag['name'], flag['reason']) for flag in flags)
    assert 'network receive path (skb_page_frag_refill, tcp_gro_receive, virtio_net)' in reasons['page_alloc_failures']
    assert 'ssh.service (pid 700, sshd) runs at oom_score_adj 0' in reasons['entry_service_unprotected']
    assert '12.7 %' in reasons['sunreclaim_high'] and 'Storage=volatile' in reasons['journal_not_persistent']


def test_flag_thresholds_and_their_edges():
    facts = healthy_facts()
    facts['memory'] = dict(facts['memory'], swap_used_kb=int(facts['memory']['swap_total_kb'] * 0.9) + 1)
    assert names(risk_flags(facts)) == ['swap_nearly_full']
    assert risk_flags(facts, swap_full_percent=95) == []
    facts = healthy_facts()
    assert names(risk_flags(facts, sunreclaim_percent=8)) == ['sunreclaim_high']   # 38348 of 472260 kB = 8.1 %
    assert risk_flags(facts, sunreclaim_percent=8.2) == []
    facts['events']['page_alloc_failures'].append(dict(comm='kworker/0:1', order=3, network_rx=False, frames=['kmalloc_large']))
    flag = risk_flags(facts)[0]
    assert (flag['name'], flag['severity']) == ('page_alloc_failures', 'warning') and 'orders 3' in flag['reason']
    facts = healthy_facts()
    facts['protected_units'][0]['active'] = False
    assert names(risk_flags(facts)) == ['entry_service_inactive']
    facts = healthy_facts()
    facts['events']['earlyoom_kills'].append(dict(pid=1, comm='hog', signal='SIGTERM'))
    assert risk_flags(facts) == []  # earlyoom doing its job is not a risk


def test_collect_reads_a_whole_fake_host(tmp_path):
    proc, sys_root = proc_tree(tmp_path, processes={
        612: ('earlyoom', ['/usr/bin/earlyoom', '-m', '10,5', '-s', '20,10', '-r', '300'], -100),
        700: ('sshd', ['sshd: /usr/sbin/sshd'], -700), 800: ('nginx', ['nginx: master'], -700)})
    runner_show = systemctl_fake([
        dict(Id='ssh.service', LoadState='loaded', ActiveState='active', MainPID='700', ControlGroup='', OOMScoreAdjust='-700'),
        dict(Id='nginx.service', LoadState='loaded', ActiveState='active', MainPID='800', ControlGroup='', OOMScoreAdjust='-700'),
    ])

    def runner(args, environ_update=None):
        if '--list-boots' in args:
            return 0, LIST_BOOTS_257, ''
        return runner_show(args)
    stream, _r, _streamed = journal_fakes(LIST_BOOTS_257, {})
    write(tmp_path / 'journald.conf', '[Journal]\nStorage=persistent\n')
    paths = Paths(proc_root=proc, sys_root=sys_root, journald_conf=str(tmp_path / 'journald.conf'), journald_dropins=[],
                  journal_dir=str(tmp_path / 'nojournal'))
    facts = collect(params(), runner, lambda name: '/usr/bin/' + name, stream, paths, clock=lambda: 1764670000.5)
    assert facts['hostname'] == 'lab' and facts['kernel'] == '6.12.57+deb13-amd64' and facts['uptime_s'] == 3723
    assert facts['boot_id'] == '0f7c2a1b-3d4e-4f5a-8b9c-0d1e2f3a4b5c' and facts['collected_at'] == 1764670000.5
    assert facts['earlyoom']['active'] and facts['earlyoom']['report_interval_s'] == 300
    assert facts['slab_top'][0]['name'] == 'shmem_inode_cache' and facts['psi']['some']['avg300'] == 0.4
    assert facts['flags'] == [] and facts['notes'] == [] and facts['containers']['engine'] is False
    os.remove(os.path.join(proc, 'meminfo'))
    with pytest.raises(MemoryFactsError):
        collect(params(), runner, lambda name: '/usr/bin/' + name, stream, Paths(proc_root=proc, sys_root=sys_root))


# ---------------------------------------------------------------- sizing (ram_outgrown)

def pinned_to(facts, percent):
    """Set anonymous memory so that what cannot be reclaimed is ``percent`` of MemTotal."""
    memory = facts['memory']
    other = memory['shmem_kb'] + memory['sunreclaim_kb'] + memory['kernel_stack_kb'] + memory['page_tables_kb']
    memory['anon_pages_kb'] = int(memory['mem_total_kb'] * percent / 100.0) - other
    return facts


def test_a_healthy_512_mb_host_has_not_outgrown_its_ram():
    advice = sizing(healthy_facts())
    assert advice == dict(outgrown=False, unreclaimable_kb=68748 + 1624 + 38348 + 2544 + 2904, unreclaimable_percent=24.2,
                          swap_used_kb=3072, swap_kept_kb=None, history_minutes=None, basis='snapshot',
                          oom_kills=0, ram_class_mb=512, needed_ram_class_mb=512,
                          reason='what cannot be reclaimed is 24 % of RAM')


def test_the_seeds_box_has_outgrown_512_mb_and_needs_the_1_gb_class():
    facts = pinned_to(healthy_facts(), 90)
    advice = sizing(facts)
    assert advice['outgrown'] is True and advice['unreclaimable_percent'] == 90.0
    assert (advice['ram_class_mb'], advice['needed_ram_class_mb']) == (512, 1024)
    flag = [flag for flag in risk_flags(facts) if flag['name'] == 'ram_outgrown'][0]
    assert flag['severity'] == 'warning'
    assert flag['reason'].startswith('what cannot be reclaimed is 90 % of RAM (at least 85 %): anonymous memory, shmem, '
                                     'unreclaimable slab, kernel stacks and page tables hold 415 MiB of 461 MiB; swap in use 3.0 MiB;'
                                     ' OOM kills 0.')
    assert flag['reason'].endswith('it needs the 1024 MB class (now 512 MB)')


def test_outgrown_edges_kills_and_swap():
    assert sizing(pinned_to(healthy_facts(), 84.9))['outgrown'] is False
    assert sizing(pinned_to(healthy_facts(), 85))['outgrown'] is True
    facts = pinned_to(healthy_facts(), 72)
    assert sizing(facts)['outgrown'] is False
    facts['events']['oom_kills'].append(dict(victim_comm='hog', constraint='global'))
    advice = sizing(facts)
    assert advice['outgrown'] is True and advice['oom_kills'] == 1 and 'killed 1 process(es)' in advice['reason']
    assert sizing(dict(pinned_to(healthy_facts(), 69), events=facts['events']))['outgrown'] is False
    # swap in use alone is no verdict, but it counts in the class advised
    facts = healthy_facts()
    facts['memory']['swap_used_kb'] = 500000  # 114168 + 500000 kB, at most 60 % of MemTotal: more than 1 GB holds
    advice = sizing(facts)
    assert advice['outgrown'] is False and advice['needed_ram_class_mb'] == 2048
    assert 'ram_outgrown' not in names(risk_flags(facts))
