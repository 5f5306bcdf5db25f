# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""kernel_log's event parser on real kernel/earlyoom/systemd lines (fixtures/kernel_log, each file says where it came from).

Constructed lines (prefix forms no captured sample shows: short-iso, short-unix, kmsg ``<4>``, ``dmesg -x``, printk
caller ids) are only used in the split_prefix and interleaving tests below and are built from real message text.
"""
from __future__ import annotations

import os
import re

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.kernel_log import (
    EVENT_KINDS, NETWORK_RX_FRAMES, NETWORK_RX_MODULES, clean_frame, empty_events, is_generic_frame, iter_events,
    network_rx, parse_events, split_prefix,
)

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'kernel_log')
# What a mail quote adds in front of a log line: "> " (LTP list), "> : " (LKML).
_MAIL_QUOTE = re.compile(r'^> (?:: )?')


def lines_of(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read().splitlines(True)


def events_of(name, unquote=False):
    lines = lines_of(name)
    if unquote:
        lines = [_MAIL_QUOTE.sub('', line) for line in lines]
    return parse_events(lines)


def counts(events):
    return {kind: len(found) for kind, found in events.items() if found}


# Every fixture and the events it holds: (file, unquote mail quoting, {kind: count}).
EXPECTED_COUNTS = [
    ('earlyoom-1.3-rc1-no-uid-foreground.txt', False, {'earlyoom_kills': 1}),
    ('earlyoom-1.6-badness-no-host-prefix.txt', False, {'earlyoom_kills': 2}),
    ('earlyoom-1.6-badness-uid-journal.txt', False, {'earlyoom_kills': 2}),
    ('earlyoom-1.7-41-cmdline-line-journal.txt', False, {'earlyoom_kills': 1}),
    ('earlyoom-1.8-oom-score-no-hostname-java.txt', False, {'earlyoom_kills': 2}),
    ('earlyoom-1.8-oom-score-web-content-journal.txt', False, {'earlyoom_kills': 1}),
    # retyped as a markdown list ("- sending SIGTERM ..."): not a log prefix, deliberately not read
    ('earlyoom-1.9-oom-score-adj-systemctl-status.txt', False, {}),
    ('earlyoom-old-killing-process-with-signal-and-oom-old-cyrillic.txt', False, {'earlyoom_kills': 1, 'oom_kills': 1}),
    # the capture ends at the constraint line: no "Killed process" line, so no kill is counted
    ('oom-new-5.14-memcg-syslog-masked-host-harvester.txt', False, {}),
    ('oom-new-5.3-memcg-kvm-thread-dmesg-T-harvester.txt', False, {'oom_kills': 1}),
    ('oom-new-5.4-memcg-killed-then-invoked-dmesg-reportportal.txt', False, {'oom_kills': 1}),
    ('oom-new-5.8-memcg-quoted-ltp.txt', True, {'oom_kills': 1}),
    ('oom-new-6.16-global-dmesg-T-relate.txt', False, {'oom_kills': 1}),
    ('oom-new-6.12-global-journal-short-iso-labvm.txt', False, {'oom_kills': 1}),
    ('oom-new-6.12-global-kmsg-dmesg-r-labvm.txt', False, {'oom_kills': 1}),
    ('oom-new-memcg-and-global-resolved-syslog-stamp-docker.txt', False, {'oom_kills': 4}),
    ('oom-old-memcg-sacrifice-child-uid-syslog-doris.txt', False, {'oom_kills': 1}),
    ('oom-old-sacrifice-child-journal-pandora.txt', False, {'oom_kills': 1}),
    ('page-alloc-2.6.34-virtio-net-quoted-lkml.txt', True, {'page_alloc_failures': 1}),
    ('page-alloc-3.10-two-reports-napi-journal-seagate.txt', False, {'page_alloc_failures': 2}),
    ('page-alloc-4.19-exfat-kmalloc-order5-cpuset-line-dmesg.txt', False, {'page_alloc_failures': 1}),
    ('page-alloc-5.13-lkrg-gfp-atomic-syslog-with-stamp.txt', False, {'page_alloc_failures': 1}),
    ('page-alloc-5.4-nvme-kmalloc-order4-dmesg-T-spdk.txt', False, {'page_alloc_failures': 1}),
    ('page-alloc-5.7-kmalloc-order7-bcachefs-dmesg.txt', False, {'page_alloc_failures': 1}),
    ('page-alloc-6.6-bnxt-napi-cloudflare.txt', False, {'page_alloc_failures': 1}),
    ('systemd-oomd-killed-scope-journal-systemd.txt', False, {'unit_oom_kills': 1}),
    ('systemd-unit-oom-killer-journal-copr.txt', False, {'unit_oom_kills': 1}),
]


def test_every_fixture_is_listed_and_says_where_it_came_from():
    names = sorted(name for name in os.listdir(FIXTURES) if name.endswith('.txt'))
    assert names == sorted(entry[0] for entry in EXPECTED_COUNTS)
    for name in names:
        head = lines_of(name)[:3]
        assert head[0].startswith('# source: ') and len(head[0].strip()) > len('# source: '), name
        assert head[1].startswith('# what: '), name
        assert head[2].strip() == '# captured: 2026-12-03 (copied as posted; cuts marked ...)', name


@pytest.mark.parametrize('name, unquote, expected', EXPECTED_COUNTS, ids=[entry[0] for entry in EXPECTED_COUNTS])
def test_event_counts_per_fixture(name, unquote, expected):
    assert counts(events_of(name, unquote)) == expected


def test_header_lines_yield_nothing_even_when_they_quote_a_log_line():
    header = [
        '# source: https://example.invalid/thread "kworker/0:1: page allocation failure: order:0, mode:0x20"\n',
        '# what: Out of memory: Killed process 1 (x) total-vm:1kB, anon-rss:1kB\n',
        '  # sending SIGTERM to process 5 uid 0 "x": oom_score 9\n',
        '# postgresql.service: A process of this unit has been killed by the OOM killer.\n',
    ]
    assert counts(parse_events(header)) == {}
    # a fixture's header before a report changes nothing of the report
    body = lines_of('page-alloc-6.6-bnxt-napi-cloudflare.txt')[3:]
    assert parse_events(header + body) == parse_events(body)


# --- page allocation failures -------------------------------------------------------------------------------------

def test_page_alloc_6_6_bnxt_napi_exact_frames():
    failure, = events_of('page-alloc-6.6-bnxt-napi-cloudflare.txt')['page_alloc_failures']
    assert (failure['comm'], failure['pid'], failure['order'], failure['mode']) == ('kswapd1', 696, 0, 'GFP_ATOMIC')
    # dump_stack_lvl, warn_alloc, __alloc_pages_slowpath.constprop.0, __alloc_pages dropped; [bnxt_en] and offsets dropped
    assert failure['frames'] == [
        '__napi_alloc_skb', 'bnxt_rx_page_skb', 'bnxt_rx_pkt', '__bnxt_poll_work', 'bnxt_poll', '__napi_poll',
        'bpf_trampoline_6442524138', '__napi_poll', 'net_rx_action', 'handle_softirqs', 'irq_exit_rcu',
        'sysvec_apic_timer_interrupt']
    assert failure['modules'] == ['bnxt_en'] and failure['network_rx'] is True and failure['time'] is None


def test_page_alloc_5_7_kmalloc_exact_frames_not_network():
    failure, = events_of('page-alloc-5.7-kmalloc-order7-bcachefs-dmesg.txt')['page_alloc_failures']
    assert (failure['comm'], failure['pid'], failure['order']) == ('updater', 319221, 7)
    assert failure['mode'] == 'GFP_KERNEL|__GFP_COMP' and failure['time'] == '3100.423368'
    # warn_alloc.cold, alloc_pages_current dropped; kmalloc_array.constprop.0 loses its suffix; "? " frames dropped
    assert failure['frames'] == ['kmalloc_order', 'kmalloc_order_trace', '__kmalloc', 'kmalloc_array',
                                 'generic_file_buffered_read', 'generic_file_read_iter', 'bch2_read_iter']
    assert failure['modules'] == ['bcachefs'] and failure['network_rx'] is False


def test_page_alloc_4_19_exfat_exact_frames_with_cpuset_line():
    failure, = events_of('page-alloc-4.19-exfat-kmalloc-order5-cpuset-line-dmesg.txt')['page_alloc_failures']
    assert (failure['comm'], failure['pid'], failure['order']) == ('mount', 3256, 5)
    assert failure['mode'] == 'GFP_KERNEL|__GFP_COMP|__GFP_ZERO'
    assert failure['frames'] == ['kmalloc_order', 'kmalloc_order_trace', 'exfat_create_upcase_table', 'exfat_fill_super',
                                 'mount_bdev', 'mount_fs', 'vfs_kern_mount', 'do_mount', 'ksys_mount', '__x64_sys_mount']
    assert failure['modules'] == ['exfat'] and failure['network_rx'] is False


def test_page_alloc_5_4_dmesg_T_workqueue_and_unsure_frame_module():
    failure, = events_of('page-alloc-5.4-nvme-kmalloc-order4-dmesg-T-spdk.txt')['page_alloc_failures']
    assert (failure['comm'], failure['pid'], failure['order']) == ('kworker/u16:3', 1333536, 4)
    assert failure['time'] == 'Mon Apr 20 15:08:07 2020'
    assert failure['frames'] == ['kmalloc_order', 'kmalloc_order_trace', 'nvme_validate_ns']
    assert failure['modules'] == ['nvme_core'] and failure['network_rx'] is False


def test_page_alloc_5_13_syslog_with_dmesg_stamp_inside():
    failure, = events_of('page-alloc-5.13-lkrg-gfp-atomic-syslog-with-stamp.txt')['page_alloc_failures']
    assert (failure['comm'], failure['pid'], failure['order']) == ('sh', 27605, 7)
    assert failure['mode'] == 'GFP_ATOMIC|__GFP_COMP' and failure['time'] == 'Sep  6 00:40:01'
    assert failure['frames'] == ['cache_alloc_refill', 'kmem_cache_alloc', 'p_dump_task_f', 'p_wake_up_new_task_entry',
                                 'pre_handler_kretprobe']
    assert failure['modules'] == ['p_lkrg'] and failure['network_rx'] is False


def test_page_alloc_2_6_34_virtio_net_quoted_mail_old_pid_line():
    failure, = events_of('page-alloc-2.6.34-virtio-net-quoted-lkml.txt', unquote=True)['page_alloc_failures']
    assert (failure['comm'], failure['pid'], failure['order'], failure['mode']) == ('users', 7992, 0, '0x20')
    assert failure['frames'] == [
        'try_fill_recv', 'virtnet_poll', 'net_rx_action', '__do_softirq', 'call_softirq', 'do_softirq', 'irq_exit',
        'do_IRQ', 'ret_from_intr', 'kvm_mmu_write', 'kvm_set_pte_at', '__do_fault', 'handle_mm_fault', 'do_page_fault',
        'page_fault']
    assert failure['network_rx'] is True and failure['time'] == '454.006706'


def test_page_alloc_second_report_starting_inside_a_trace_is_its_own_event():
    first, second = events_of('page-alloc-3.10-two-reports-napi-journal-seagate.txt')['page_alloc_failures']
    assert (first['comm'], first['pid'], first['frames']) == ('swapper/21', 0, ['page_frag_alloc', '__napi_alloc_skb'])
    assert first['network_rx'] is True and first['time'] == 'Apr 01 16:27:01'
    assert (second['comm'], second['pid'], second['frames'], second['network_rx']) == ('swapper/44', 0, [], False)


def _caller(line, caller):
    """A real dmesg line as CONFIG_PRINTK_CALLER prints it: the caller id after the timestamp."""
    stamp, rest = line.split(']', 1)
    return '%s] [%s]%s' % (stamp, caller, rest)


def test_interleaved_traces_of_two_callers_are_told_apart_by_caller_id():
    # Two real reports (bcachefs 5.7 and exfat 4.19 fixtures) given caller ids and printed line by line in turn.
    one = [line for line in lines_of('page-alloc-5.7-kmalloc-order7-bcachefs-dmesg.txt')[3:] if line.startswith('[')]
    two = [line for line in lines_of('page-alloc-4.19-exfat-kmalloc-order5-cpuset-line-dmesg.txt')[3:] if line.startswith('[')]
    one = [_caller(line, ' T2438') for line in one]
    two = [_caller(line, '    C1') for line in two]
    mixed = []
    for index in range(max(len(one), len(two))):
        mixed.extend(one[index:index + 1] + two[index:index + 1])
    failures = parse_events(mixed)['page_alloc_failures']
    by_comm = {failure['comm']: failure for failure in failures}
    assert sorted(by_comm) == ['mount', 'updater']
    assert by_comm['updater']['frames'] == events_of('page-alloc-5.7-kmalloc-order7-bcachefs-dmesg.txt')[
        'page_alloc_failures'][0]['frames']
    assert by_comm['mount']['frames'] == events_of('page-alloc-4.19-exfat-kmalloc-order5-cpuset-line-dmesg.txt')[
        'page_alloc_failures'][0]['frames']
    assert (by_comm['updater']['pid'], by_comm['mount']['pid']) == (319221, 3256)


# --- OOM kills ----------------------------------------------------------------------------------------------------

def test_oom_memcg_5_3_dmesg_T_constraint_and_killed_line_are_one_kill():
    kill, = events_of('oom-new-5.3-memcg-kvm-thread-dmesg-T-harvester.txt')['oom_kills']
    assert kill == dict(
        victim_pid=70870, victim_comm='qemu-system-x86', invoker_comm='CPU 11/KVM', constraint='memcg',
        memcg='/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podef91e487_dec5_4613_800b_eb23e1a1617d.slice',
        anon_rss_kb=66852088, time='Thu May  9 14:52:38 2024', epoch=None)


def test_oom_memcg_5_8_quoted_ltp():
    kill, = events_of('oom-new-5.8-memcg-quoted-ltp.txt', unquote=True)['oom_kills']
    assert (kill['victim_pid'], kill['victim_comm'], kill['invoker_comm']) == (19289, 'memcg_process', 'memcg_process')
    assert (kill['constraint'], kill['memcg'], kill['anon_rss_kb']) == ('memcg', '/ltp_19257', 84)


def test_oom_global_6_16_invoker_and_victim_differ():
    kill, = events_of('oom-new-6.16-global-dmesg-T-relate.txt')['oom_kills']
    assert (kill['victim_pid'], kill['victim_comm'], kill['invoker_comm']) == (3581527, 'uwsgi', 'postgres')
    assert (kill['constraint'], kill['memcg'], kill['anon_rss_kb']) == ('global', None, 263092)
    assert kill['time'] == 'Fri Nov 21 14:22:56 2025'


def test_oom_memcg_and_global_kills_with_a_parenthesised_comm():
    kills = events_of('oom-new-memcg-and-global-resolved-syslog-stamp-docker.txt')['oom_kills']
    assert [(k['victim_pid'], k['victim_comm'], k['constraint'], k['anon_rss_kb']) for k in kills] == [
        (15617, 'python3', 'memcg', 4292), (15674, 'python3', 'memcg', 4292),
        (15784, 'python3', 'global', 4288), (15925, '(resolved)', 'global', 4064)]
    assert {k['time'] for k in kills} == {'May 15 23:09:27', 'May 15 23:09:30'}


def test_oom_memcg_killed_line_without_report_then_an_invoked_line_without_kill():
    kill, = events_of('oom-new-5.4-memcg-killed-then-invoked-dmesg-reportportal.txt')['oom_kills']
    assert (kill['victim_pid'], kill['victim_comm'], kill['invoker_comm']) == (63214, 'uwsgi', None)
    assert (kill['constraint'], kill['anon_rss_kb']) == ('memcg', 164992)


def test_oom_pre_4_19_global_kill_process_then_killed_process():
    kill, = events_of('oom-old-sacrifice-child-journal-pandora.txt')['oom_kills']
    assert (kill['victim_pid'], kill['victim_comm'], kill['constraint'], kill['anon_rss_kb']) == (27438, 'R', 'global', 1041924)
    assert kill['time'] == 'May 07 21:43:54'


def test_oom_pre_4_19_memcg_sacrifice_child_rhel7_uid_form():
    kill, = events_of('oom-old-memcg-sacrifice-child-uid-syslog-doris.txt')['oom_kills']
    # the selected process (24984) sacrificed a child (18177): the child is the victim
    assert (kill['victim_pid'], kill['victim_comm'], kill['constraint'], kill['anon_rss_kb']) == (18177, 'palo_be', 'memcg', 45563572)


def test_oom_pre_4_19_in_a_localised_journal_and_earlyoom_1_2_wording():
    events = events_of('earlyoom-old-killing-process-with-signal-and-oom-old-cyrillic.txt')
    kill, = events['oom_kills']
    assert (kill['victim_pid'], kill['victim_comm'], kill['constraint'], kill['anon_rss_kb']) == (27541, 'bash', 'global', 8098448)
    assert kill['time'] == u'апр 28 01:23:30'
    early, = events['earlyoom_kills']
    assert (early['pid'], early['comm'], early['signal'], early['score']) == (27541, 'bash', 'SIGTERM', 550)


def test_oom_old_memcg_task_in_line_gives_the_limit_cgroup():
    # 4.x memcg report lines (wording of mm/memcontrol.c before 4.19), on the pandora/doris kill lines above
    lines = ['java invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=0\n',
             'Task in /docker/5929cf05 killed as a result of limit of /docker/5929cf05\n',
             'Memory cgroup out of memory: Kill process 24984 (palo_be) score 968 or sacrifice child\n',
             'Killed process 18177 (palo_be), UID 0, total-vm:70347780kB, anon-rss:45563572kB, file-rss:0kB, shmem-rss:0kB\n']
    kill, = parse_events(lines)['oom_kills']
    assert (kill['invoker_comm'], kill['constraint'], kill['memcg'], kill['victim_pid']) == ('java', 'memcg', '/docker/5929cf05', 18177)


# --- earlyoom and systemd -----------------------------------------------------------------------------------------

def test_earlyoom_1_6_badness_wording():
    kills = events_of('earlyoom-1.6-badness-uid-journal.txt')['earlyoom_kills']
    assert [(k['pid'], k['comm'], k['signal'], k['uid'], k['score']) for k in kills] == [
        (29410, 'cluster', 'SIGTERM', 1000, 1264), (11567, 'electron', 'SIGTERM', 1000, 869)]
    kills = events_of('earlyoom-1.6-badness-no-host-prefix.txt')['earlyoom_kills']
    assert [(k['pid'], k['comm'], k['score'], k['time']) for k in kills] == [
        (696, 'ipfs', 757, 'Jun 12 06:39:16'), (696, 'ipfs', 799, 'Jun 12 06:39:26')]
    kill, = events_of('earlyoom-1.3-rc1-no-uid-foreground.txt')['earlyoom_kills']
    assert (kill['pid'], kill['comm'], kill['signal'], kill['uid'], kill['score']) == (12006, 'python3', 'SIGTERM', None, 209)


def test_earlyoom_1_8_oom_score_wording_and_comm_with_space():
    kill, = events_of('earlyoom-1.8-oom-score-web-content-journal.txt')['earlyoom_kills']
    assert (kill['pid'], kill['comm'], kill['signal'], kill['uid'], kill['score']) == (1024668, 'Web Content', 'SIGTERM', 1000, 823)
    kills = events_of('earlyoom-1.8-oom-score-no-hostname-java.txt')['earlyoom_kills']
    assert [(k['pid'], k['comm'], k['score'], k['time']) for k in kills] == [
        (906175, 'java', 1170, 'Nov 12 17:08:27'), (906175, 'java', 1170, 'Nov 12 17:08:37')]


def test_earlyoom_1_7_cmdline_line_and_systemd_lines_are_no_events():
    kill, = events_of('earlyoom-1.7-41-cmdline-line-journal.txt')['earlyoom_kills']
    assert (kill['pid'], kill['comm'], kill['uid'], kill['score']) == (2595764, 'cellxgene', 0, 711)


def test_earlyoom_lines_from_another_identifier_are_not_earlyoom_kills():
    line = 'Aug 04 23:41:26 qaa notearlyoom[1308]: sending SIGTERM to process 1024668 uid 1000 "Web Content": oom_score 823\n'
    assert counts(parse_events([line])) == {}


def test_systemd_unit_killed_by_the_kernel_oom_killer():
    event, = events_of('systemd-unit-oom-killer-journal-copr.txt')['unit_oom_kills']
    assert (event['unit'], event['by'], event['time']) == ('postgresql.service', 'kernel', 'Aug 26 10:49:58')


def test_systemd_oomd_kill_of_a_scope():
    event, = events_of('systemd-oomd-killed-scope-journal-systemd.txt')['unit_oom_kills']
    assert (event['unit'], event['by']) == ('vte-spawn-dbb4a75e-031f-480d-924b-5de5af7579d2.scope', 'systemd-oomd')


# --- split_prefix: every prefix kind --------------------------------------------------------------------------------

KILLED = 'Out of memory: Killed process 15925 ((resolved)) total-vm:168424kB, anon-rss:4064kB, file-rss:3584kB, shmem-rss:0kB'


@pytest.mark.parametrize('line, expected', [
    ('[  518.061172] ' + KILLED, (KILLED, '518.061172', None, None, None)),
    ('[Fri Nov 21 14:22:56 2025] ' + KILLED, (KILLED, 'Fri Nov 21 14:22:56 2025', None, None, None)),
    ('May 15 23:09:30 ubuntu-s-1vcpu-2gb-ams3-01 kernel: [  518.061172] ' + KILLED,
     (KILLED, 'May 15 23:09:30', None, 'kernel', None)),
    ('May 15 23:09:30.061172 ubuntu-s-1vcpu-2gb-ams3-01 kernel: ' + KILLED,
     (KILLED, 'May 15 23:09:30.061172', None, 'kernel', None)),
    ('2025-05-15T23:09:30+0000 ubuntu-s-1vcpu-2gb-ams3-01 kernel: ' + KILLED,
     (KILLED, '2025-05-15T23:09:30+0000', None, 'kernel', None)),
    ('1747350570.061172 ubuntu-s-1vcpu-2gb-ams3-01 kernel: ' + KILLED,
     (KILLED, '2025-05-15T23:09:30.061172Z', 1747350570.061172, 'kernel', None)),
    ('<3>[  518.061172] ' + KILLED, (KILLED, '518.061172', None, None, None)),
    ('<4>' + KILLED, (KILLED, None, None, None, None)),
    ('kern  :err   : [  518.061172] ' + KILLED, (KILLED, '518.061172', None, None, None)),
    ('kern  :warn  : [Fri Nov 21 14:22:56 2025] ' + KILLED, (KILLED, 'Fri Nov 21 14:22:56 2025', None, None, None)),
    ('[  518.061172] [ T2438] ' + KILLED, (KILLED, '518.061172', None, None, 'T2438')),
    ('[  518.061172] [    C1] ' + KILLED, (KILLED, '518.061172', None, None, 'C1')),
    ('    [  518.061172] ' + KILLED, (KILLED, '518.061172', None, None, None)),
    (u'апр 28 01:23:30 PC kernel: ' + KILLED, (KILLED, u'апр 28 01:23:30', None, 'kernel', None)),
    ('Nov 12 17:08:27 earlyoom[1295]: kill_release: pid=906175',
     ('kill_release: pid=906175', 'Nov 12 17:08:27', None, 'earlyoom', None)),
    ('Jun 12 06:39:16: mem avail:    19 of   950 MiB', ('mem avail:    19 of   950 MiB', 'Jun 12 06:39:16', None, None, None)),
    ('   dump_stack_lvl+0x3c/0x50\n', ('dump_stack_lvl+0x3c/0x50', None, None, None, None)),
], ids=['dmesg', 'dmesg-T', 'syslog', 'short-precise', 'short-iso', 'short-unix', 'kmsg-stamp', 'kmsg', 'dmesg-x',
        'dmesg-x-T', 'caller-T', 'caller-C', 'indented', 'localised-month', 'no-host', 'bare-time', 'indented-frame'])
def test_split_prefix(line, expected):
    assert split_prefix(line) == expected


@pytest.mark.parametrize('line', [
    '2025-05-15T23:09:30+0000 ubuntu-s-1vcpu-2gb-ams3-01 kernel: ' + KILLED,
    '1747350570.061172 ubuntu-s-1vcpu-2gb-ams3-01 kernel: ' + KILLED,
    '<4>[  518.061172] ' + KILLED,
    'kern  :err   : [  518.061172] [ T2438] ' + KILLED,
])
def test_every_prefix_gives_the_same_kill(line):
    kill, = parse_events([line])['oom_kills']
    assert (kill['victim_pid'], kill['victim_comm'], kill['constraint'], kill['anon_rss_kb']) == (15925, '(resolved)', 'global', 4064)


# --- helpers and the public surface ---------------------------------------------------------------------------------

def test_helpers():
    assert clean_frame('__alloc_pages_slowpath.constprop.0') == '__alloc_pages_slowpath'
    assert clean_frame('warn_alloc.cold.120') == 'warn_alloc' and clean_frame('vfs_kern_mount.part.36') == 'vfs_kern_mount'
    assert all(is_generic_frame(name) for name in ('dump_stack', 'dump_stack_lvl', 'warn_alloc', '__alloc_pages_nodemask',
                                                   'alloc_pages_current', '__alloc_frozen_pages_noprof'))
    assert not any(is_generic_frame(name) for name in ('kmalloc_order', 'net_rx_action', 'page_frag_alloc'))
    assert network_rx(['kmalloc_order', 'net_rx_action']) and network_rx([], ['virtio_net'])
    assert not network_rx(['kmalloc_order'], ['exfat'])
    assert 'tcp_gro_receive' in NETWORK_RX_FRAMES and 'skb_page_frag_refill' in NETWORK_RX_FRAMES
    assert {'virtio_net', 'e1000', 'igb'} <= NETWORK_RX_MODULES
    assert empty_events() == {kind: [] for kind in EVENT_KINDS}


def test_iter_events_order_boot_and_into():
    lines = lines_of('oom-new-memcg-and-global-resolved-syslog-stamp-docker.txt') + lines_of(
        'systemd-unit-oom-killer-journal-copr.txt')
    kinds = [event[0] for event in iter_events(lines, boot='b1')]
    assert kinds == ['oom_kills'] * 4 + ['unit_oom_kills']
    into = empty_events()
    assert parse_events(lines, boot='b1', into=into) is into
    assert all(event['boot'] == 'b1' for found in into.values() for event in found)


@pytest.mark.parametrize('name, time', [
    ('oom-new-6.12-global-journal-short-iso-labvm.txt', '2026-12-03T13:02:05+00:00'),
    ('oom-new-6.12-global-kmsg-dmesg-r-labvm.txt', '926.023701'),
])
def test_the_lab_vms_oom_kill_in_short_iso_and_kmsg_form(name, time):
    # The kill molecule/vm/memory_facts.yml induces on Debian 13's 6.12 kernel, as journalctl -o short-iso and
    # dmesg -r print it: one event, whatever the prefix.
    kill, = events_of(name)['oom_kills']
    assert kill == dict(victim_pid=2001, victim_comm='lowmem-hog', invoker_comm='lowmem-hog', constraint='global',
                        memcg=None, anon_rss_kb=344952, time=time, epoch=None)
