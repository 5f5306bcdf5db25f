# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTML report as a real browser sees it: Debian's chromium loads the file and dumps the DOM it built (after any
script would have run). Every host, every flag, each host's chart and the sparklines of a host's memory history must be
in it, and the script planted in a process name, a host name and a flag reason must show as text and have run nowhere
(it would retitle the page and add an element with id "pwned")."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.memory_history import trend
from ansible_collections.lowmem.vps.plugins.module_utils.report import build_report, composition, render_html, swap_composition

CHROMIUM = '/usr/bin/chromium'
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync']
PAYLOAD = ("document.title='PWNED';var p=document.createElement('p');p.id='pwned';document.body.appendChild(p);")
EVIL_COMM = '<script>%s</script>' % PAYLOAD
EVIL_HOST = '<img src=x onerror="%s">' % PAYLOAD
T0 = 1796205600.0  # 2026-12-02T10:00:00Z


def facts(at, sunreclaim_kb, flags=(), boot_id='7e2a90d4b3c14c0f8e5d1a2b3c4d5e6f'):
    return dict(collected_at=at, hostname='h', kernel='6.12.57+deb13-amd64', boot_id=boot_id, uptime_s=86400,
                memory=dict(mem_total_kb=464896, mem_available_kb=21840, mem_free_kb=8920, swap_total_kb=0, swap_used_kb=0,
                            anon_pages_kb=331200, shmem_kb=6400, sreclaimable_kb=9800, sunreclaim_kb=sunreclaim_kb,
                            unaccounted_kb=51600),
                slab_top=[dict(name='skbuff_head_cache', bytes=6291456)],
                flags=[dict(name=name, severity=severity, reason=reason) for name, severity, reason in flags],
                events=dict(page_alloc_failures=[], oom_kills=[], earlyoom_kills=[], unit_oom_kills=[]), notes=[])


def hostile(at):
    item = facts(at, 38200, flags=[('oom_kills', 'critical', 'the kernel OOM killer killed 1 process(es): %s' % EVIL_COMM)])
    item['hostname'] = EVIL_HOST
    item['events']['oom_kills'] = [dict(victim_comm=EVIL_COMM, victim_pid=666, time='2026-12-02T09:40:00Z', epoch=at - 1200, boot=0)]
    item['slab_top'] = [dict(name='<svg onload="%s">' % PAYLOAD, bytes=4096)]
    return item


def leaking(at, sunreclaim_kb):
    """Facts with a day of memory history (once a minute) in which SUnreclaim leaked 1 MB a minute."""
    item = facts(at, sunreclaim_kb)
    start = int(at) - 1439 * 60
    item['history'] = trend([dict(epoch=start + minute * 60, mem_available_kb=1600000 - minute * 1024, sunreclaim_kb=30000 + minute * 1024,
                                  slab_kb=60000 + minute * 1024, swap_used_kb=20480, oom_kill=0, warned=0) for minute in range(1440)],
                            path='/var/lib/lowmem-vps/memory-history <&>')
    return item


def three_hosts():
    before = build_report({'api-ams2': facts(T0 - 7200, 45000)}, now=T0 - 7200)
    return build_report({
        'db-par1': facts(T0, 30000),
        'api-ams2': leaking(T0, 45000 + 2 * 61440),
        'edge-fra1 <&>': facts(T0, 38200, flags=[
            ('oom_kills', 'critical', 'the kernel OOM killer killed 2 process(es): php-fpm8.2 (CONSTRAINT_NONE), mysqld'),
            ('page_alloc_failures', 'critical', '4 page allocation failure(s), 4 in the network receive path <virtnet_poll>'),
            ('entry_service_unprotected', 'critical', 'ssh.service (pid 612, sshd) runs at oom_score_adj 0'),
            ('no_swap', 'warning', 'no swap'), ('journal_not_persistent', 'warning', 'Storage=auto & no /var/log/journal')]),
        EVIL_HOST: hostile(T0),
        'gone': dict(unreachable=True, msg='ssh: connect to host gone port 22: Connection timed out'),
    }, previous=before, now=T0)


class Dom(HTMLParser):
    def __init__(self):
        HTMLParser.__init__(self)
        self.sections, self.flags, self.charts, self.ids, self.tags, self.title, self.text = [], [], [], [], [], [], []
        self.sparks, self.series = [], None
        self.in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get('class') or '').split()
        self.tags.append(tag)
        self.in_title = tag == 'title' and not self.sections
        if attrs.get('id'):
            self.ids.append(attrs['id'])
        if tag == 'section' and 'host' in classes:
            self.sections.append((attrs.get('data-host'), attrs.get('data-worst')))
        elif tag == 'svg' and 'bar' in classes:
            self.charts.append(self.sections[-1][0])
        elif tag == 'div' and 'spark-row' in classes:
            self.series = attrs.get('data-series')
        elif tag == 'svg' and 'spark' in classes:
            self.sparks.append([self.sections[-1][0], self.series, None])
        elif tag == 'polyline' and self.sparks:
            self.sparks[-1][2] = len(attrs['points'].split())
        elif tag == 'rect' and self.sections and (attrs.get('class') or '').startswith('part-'):
            self.charts.append((self.sections[-1][0], attrs['class']))
        elif tag == 'li' and 'flag' in classes:
            self.flags.append((self.sections[-1][0] if self.sections else None, attrs.get('data-flag'),
                               [name for name in classes if name.startswith('sev-')]))

    def handle_endtag(self, tag):
        if tag == 'title':
            self.in_title = False

    def handle_data(self, data):
        self.text.append(data)
        if self.in_title:
            self.title.append(data)


@pytest.fixture
def short_tmp():
    """A temporary directory with a short path under TMPDIR (the only writable place in tools/sandbox besides .build):
    chromium aborts when its SingletonSocket path exceeds a unix socket's 108 characters, which pytest's tmp_path
    easily does."""
    path = tempfile.mkdtemp(prefix='chr.')
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


def test_chromium_renders_every_host_and_flag_worst_first(short_tmp):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: tools/setup installs it")
    tmp_path = short_tmp
    report = three_hosts()
    page = tmp_path / 'report.html'
    page.write_text(render_html(report), encoding='utf-8')
    for name in ('home', 'tmp', 'profile'):
        (tmp_path / name).mkdir()
    env = dict(os.environ, HOME=str(tmp_path / 'home'), TMPDIR=str(tmp_path / 'tmp'))
    done = subprocess.run([CHROMIUM] + FLAGS + ['--user-data-dir=%s' % (tmp_path / 'profile'), '--dump-dom', page.as_uri()],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    dom = Dom()
    dom.feed(done.stdout)
    # the planted script ran nowhere and shows as text
    assert 'pwned' not in dom.ids
    assert ''.join(dom.title).startswith('Fleet memory report') and 'PWNED' not in ''.join(dom.title)
    assert not set(dom.tags) & {'script', 'img', 'iframe', 'object', 'embed'}
    text = ''.join(dom.text)
    assert EVIL_COMM in text and EVIL_HOST in text
    # every host, worst first, the unreachable one listed too
    assert dom.sections == [('edge-fra1 <&>', 'critical'), (EVIL_HOST, 'critical'), ('gone', 'critical'), ('api-ams2', 'warning'),
                            ('db-par1', 'ok')], done.stdout[:2000]
    assert dom.sections == [(entry['host'], entry['worst']) for entry in report['hosts']]
    # every flag, coloured by its severity
    expected = [(entry['host'], flag['name'], ['sev-' + flag['severity']]) for entry in report['hosts'] for flag in entry['flags']]
    assert dom.flags == expected
    assert [name for host, name, sev in dom.flags] == ['oom_kills', 'page_alloc_failures', 'entry_service_unprotected', 'no_swap',
                                                       'journal_not_persistent', 'oom_kills', 'unreachable', 'sunreclaim_growing']
    # a chart for each host that was read, with the parts of its memory
    read = [entry['host'] for entry in report['hosts'] if entry['facts']]
    assert [item for item in dom.charts if isinstance(item, str)] == read
    for entry in report['hosts']:
        if entry['facts']:
            memory = entry['facts']['memory']
            parts = [item[1] for item in dom.charts if isinstance(item, tuple) and item[0] == entry['host']]
            assert parts == ['part-' + key for key, label, colour, kb in composition(memory) + swap_composition(memory) if kb > 0]
            assert {'part-anon', 'part-sunreclaim', 'part-unaccounted', 'part-free'} <= set(parts)
    assert '2026-12-02T09:40:00Z' in text
    # the memory history of the one host that keeps it: a sparkline of 60 points per series, the summary beside it
    assert dom.sparks == [['api-ams2', 'sunreclaim_kb', 60], ['api-ams2', 'mem_available_kb', 60], ['api-ams2', 'swap_used_kb', 60]]
    assert ('1440 samples over 24.0 h in /var/lib/lowmem-vps/memory-history <&>; SUnreclaim +60.0 MB/h, MemAvailable -60.0 MB/h '
            'over the last 60 min (SUnreclaim growing)') in text
    assert 'api-ams2: SUnreclaim over 24.0 h, 60 points (min 41 MiB · max 1457 MiB · last 1457 MiB)' in text
