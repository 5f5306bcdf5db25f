# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.report import (
    ReportError, build_report, composition, events, growth, render_html, render_markdown, swap_composition,
)
from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.memory_history import trend

T0 = 1796205600.0  # 2026-12-02T10:00:00Z
BOOT = 'b1d4c0c5f0e94a3c9a1f6e2d7c8b9a01'


def memory(**values):
    base = dict(mem_total_kb=464896, mem_available_kb=187720, mem_free_kb=21340, swap_total_kb=2097148, swap_used_kb=96128,
                anon_pages_kb=201000, shmem_kb=6100, sreclaimable_kb=14000, sunreclaim_kb=41232, slab_kb=55232,
                unaccounted_kb=9000, process_kb=207100)
    base.update(values)
    return base


def facts(at=T0, boot_id=BOOT, flags=(), slab_top=None, **mem):
    return dict(collected_at=at, hostname='vm', kernel='6.12.57+deb13-amd64', boot_id=boot_id, uptime_s=7200,
                memory=memory(**mem), slab_top=slab_top if slab_top is not None else [dict(name='kmalloc-1k', bytes=3145728)],
                flags=[dict(name=name, severity=severity, reason='%s because' % name) for name, severity in flags],
                events=dict(page_alloc_failures=[], oom_kills=[], earlyoom_kills=[], unit_oom_kills=[]), notes=[])


def names(report):
    return [entry['host'] for entry in report['hosts']]


def entry(report, host):
    return [item for item in report['hosts'] if item['host'] == host][0]


# ---------------------------------------------------------------- ordering, summary

def test_worst_first_then_flag_count_then_name():
    hosts = {
        'ok-b': facts(),
        'ok-a': facts(),
        'warn-one': facts(flags=[('no_swap', 'warning')]),
        'warn-two': facts(flags=[('no_swap', 'warning'), ('earlyoom_inactive', 'warning')]),
        'crit-one': facts(flags=[('oom_kills', 'critical')]),
        'crit-three': facts(flags=[('no_swap', 'warning'), ('oom_kills', 'critical'), ('page_alloc_failures', 'critical')]),
        'down': dict(unreachable=True, msg='ssh: connect timed out'),
        'info-only': facts(flags=[('note', 'info')]),
    }
    report = build_report(hosts, now=T0)
    assert names(report) == ['crit-three', 'crit-one', 'down', 'warn-two', 'warn-one', 'info-only', 'ok-a', 'ok-b']
    assert [item['worst'] for item in report['hosts']] == ['critical'] * 3 + ['warning'] * 2 + ['ok'] * 3
    summary = report['summary']
    assert (summary['hosts'], summary['critical'], summary['warning'], summary['ok']) == (8, 3, 2, 3)
    assert summary['flags_by_name'] == dict(no_swap=3, oom_kills=2, page_alloc_failures=1, earlyoom_inactive=1, unreachable=1,
                                            note=1)
    # flags within a host worst first
    assert [flag['severity'] for flag in entry(report, 'crit-three')['flags']] == ['critical', 'critical', 'warning']


def test_report_shape_and_json_round_trip():
    report = build_report({'vm': facts()}, now=T0)
    assert report['format'] == 1
    assert report['generated_at'] == '2026-12-02T10:00:00Z'
    assert report['generated_epoch'] == T0
    assert report['previous_generated_at'] is None
    assert report['growth_threshold_kb_per_hour'] == 4096
    item = report['hosts'][0]
    assert item['worst'] == 'ok' and item['flags'] == [] and item['facts']['memory']['sunreclaim_kb'] == 41232
    assert item['growth'] is None and item['growth_note'] == 'no previous report to compare with'
    assert json.loads(json.dumps(report)) == report


def test_unreachable_and_failed_hosts_are_critical():
    report = build_report({'a': dict(unreachable=True, msg='Connection timed out'),
                           'b': dict(failed=True, msg='cannot read /proc/meminfo'), 'c': facts()}, now=T0)
    assert names(report) == ['a', 'b', 'c']
    down, failed = report['hosts'][:2]
    assert down['facts'] is None and down['growth'] is None
    assert down['flags'] == [dict(name='unreachable', severity='critical',
                                  reason='the host could not be reached, so nothing was read: Connection timed out')]
    assert failed['flags'][0]['name'] == 'audit_failed' and failed['worst'] == 'critical'
    assert 'cannot read /proc/meminfo' in failed['flags'][0]['reason']
    assert report['summary']['critical'] == 2


# ---------------------------------------------------------------- growth

def test_one_mb_a_minute_sunreclaim_leak_is_60_mb_per_hour_and_flagged():
    before = build_report({'vm': facts(at=T0, sunreclaim_kb=40000)}, now=T0 + 5)
    now = build_report({'vm': facts(at=T0 + 3600, sunreclaim_kb=40000 + 60 * 1024, unaccounted_kb=9100)}, previous=before,
                       now=T0 + 3605)
    item = now['hosts'][0]
    assert item['growth'] == dict(sunreclaim_kb_per_hour=61440.0, unaccounted_kb_per_hour=100.0, hours=1.0,
                                  since='2026-12-02T10:00:00Z')
    assert item['growth_note'] is None
    assert item['worst'] == 'warning'
    assert [flag['name'] for flag in item['flags']] == ['sunreclaim_growing']
    assert item['flags'][0]['severity'] == 'warning'
    assert item['flags'][0]['reason'].startswith('SUnreclaim grew 60.0 MB/h since 2026-12-02T10:00Z')
    assert now['previous_generated_at'] == '2026-12-02T10:00:05Z'
    assert now['summary']['flags_by_name'] == dict(sunreclaim_growing=1)


def test_growth_over_half_an_hour_and_unaccounted_flag():
    before = build_report({'vm': facts(at=T0)}, now=T0)
    now = build_report({'vm': facts(at=T0 + 1800, unaccounted_kb=9000 + 10240)}, previous=before, now=T0 + 1800)
    item = now['hosts'][0]
    assert item['growth']['hours'] == 0.5
    assert item['growth']['unaccounted_kb_per_hour'] == 20480.0
    assert item['growth']['sunreclaim_kb_per_hour'] == 0.0
    assert [flag['name'] for flag in item['flags']] == ['unaccounted_growing']
    assert 'unaccounted memory grew 20.0 MB/h' in item['flags'][0]['reason']


def test_growth_below_threshold_and_shrinking_is_not_flagged():
    before = build_report({'vm': facts(at=T0, sunreclaim_kb=40000)}, now=T0)
    now = build_report({'vm': facts(at=T0 + 7200, sunreclaim_kb=40000 + 4000, unaccounted_kb=1000)}, previous=before, now=T0 + 7200)
    item = now['hosts'][0]
    assert item['growth']['sunreclaim_kb_per_hour'] == 2000.0
    assert item['growth']['unaccounted_kb_per_hour'] == -4000.0
    assert item['flags'] == [] and item['worst'] == 'ok'
    # a lower threshold flags the same figures
    low = build_report({'vm': facts(at=T0 + 7200, sunreclaim_kb=44000)}, previous=before, now=T0 + 7200,
                       growth_threshold_kb_per_hour=1024)
    assert [flag['name'] for flag in low['hosts'][0]['flags']] == ['sunreclaim_growing']


def test_reboot_skips_growth():
    before = build_report({'vm': facts(at=T0, sunreclaim_kb=10000)}, now=T0)
    now = build_report({'vm': facts(at=T0 + 3600, boot_id='0' * 32, sunreclaim_kb=500000)}, previous=before, now=T0 + 3600)
    item = now['hosts'][0]
    assert item['growth'] is None
    assert 'boot_id changed' in item['growth_note']
    assert item['flags'] == []


def test_less_than_a_second_skips_growth():
    before = build_report({'vm': facts(at=T0, sunreclaim_kb=10000)}, now=T0)
    now = build_report({'vm': facts(at=T0 + 0.5, sunreclaim_kb=90000)}, previous=before, now=T0 + 1)
    assert now['hosts'][0]['growth'] is None
    assert 'less than a second' in now['hosts'][0]['growth_note']
    backwards = build_report({'vm': facts(at=T0 - 600, sunreclaim_kb=90000)}, previous=before, now=T0 + 1)
    assert backwards['hosts'][0]['growth'] is None and backwards['hosts'][0]['flags'] == []


def test_growth_notes_for_hosts_missing_from_the_previous_report():
    before = build_report({'down': dict(unreachable=True, msg='timeout')}, now=T0)
    now = build_report({'down': facts(at=T0 + 3600), 'new': facts(at=T0 + 3600)}, previous=before, now=T0 + 3600)
    assert 'unreachable or failed then' in entry(now, 'down')['growth_note']
    assert entry(now, 'new')['growth_note'] == 'the host is not in the previous report'
    assert growth(facts(), None)[0] is None


def test_previous_read_back_from_json_works():
    before = json.loads(json.dumps(build_report({'vm': facts(at=T0, sunreclaim_kb=40000)}, now=T0)))
    now = build_report({'vm': facts(at=T0 + 3600, sunreclaim_kb=40000 + 61440)}, previous=before, now=T0 + 3600)
    assert now['hosts'][0]['growth']['sunreclaim_kb_per_hour'] == 61440.0


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize('hosts, previous, kwargs, message', [
    (['vm'], None, {}, 'hosts must be a mapping of host name to its memory_facts result, got list'),
    ({'vm': 'oops'}, None, {}, 'host vm: expected its memory_facts result (a dict), got str'),
    ({'vm': dict(changed=False)}, None, {}, 'host vm: the memory_facts result has no memory dict (got NoneType)'),
    ({'vm': dict(memory=dict(sunreclaim_kb='41 MB'))}, None, {}, "host vm: memory.sunreclaim_kb must be a number of kB, got '41 MB'"),
    ({'vm': dict(memory={}, collected_at='yesterday')}, None, {}, "host vm: collected_at must be epoch seconds, got 'yesterday'"),
    ({'vm': dict(memory={}, flags='no_swap')}, None, {}, 'host vm: flags must be a list, got str'),
    ({'vm': dict(memory={}, flags=[dict(name='x', severity='fatal')])}, None, {}, 'each flag must be a dict with a name and a severity'),
    ({'': facts()}, None, {}, "host names must be non-empty strings, got ''"),
    ({'vm': facts()}, [], {}, 'previous must be a report dict (as build_report returns it), got list'),
    ({'vm': facts()}, dict(format=2, hosts=[]), {}, 'the previous report has format 2; this version reads format 1 only'),
    ({'vm': facts()}, dict(hosts=[]), {}, 'the previous report has format None'),
    ({'vm': facts()}, dict(format=1, hosts={}), {}, 'the previous report has no hosts list (got dict)'),
    ({'vm': facts()}, dict(format=1, hosts=[dict(worst='ok')]), {}, 'the previous report has a host entry without a host name'),
    ({'vm': facts()}, None, dict(growth_threshold_kb_per_hour=0), 'growth_threshold_kb_per_hour must be a number above 0, got 0'),
    ({'vm': facts()}, None, dict(growth_threshold_kb_per_hour=True), 'growth_threshold_kb_per_hour must be a number above 0'),
    ({'vm': facts()}, None, dict(now='now'), "now must be epoch seconds, got 'now'"),
])
def test_bad_input_is_refused_with_a_clear_message(hosts, previous, kwargs, message):
    with pytest.raises(ReportError) as raised:
        build_report(hosts, previous=previous, **kwargs)
    assert message in str(raised.value)
    assert isinstance(raised.value, RefusedError)


# ---------------------------------------------------------------- composition

def test_composition_adds_up_to_mem_total():
    parts = composition(memory())
    assert [part[0] for part in parts] == ['anon', 'shmem', 'cache', 'sreclaimable', 'sunreclaim', 'unaccounted', 'free']
    assert sum(part[3] for part in parts) == 464896
    assert dict((part[0], part[3]) for part in parts)['cache'] == 464896 - (201000 + 6100 + 14000 + 41232 + 9000 + 21340)
    # without mem_free_kb, MemAvailable stands in; parts never go negative
    odd = composition(dict(mem_total_kb=1000, mem_available_kb=900, anon_pages_kb=600))
    assert min(part[3] for part in odd) == 0 and dict((part[0], part[3]) for part in odd)['free'] == 900


# ---------------------------------------------------------------- HTML

class Collect(HTMLParser):
    def __init__(self):
        HTMLParser.__init__(self)
        self.sections, self.flags, self.tags, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == 'section' and 'host' in (attrs.get('class') or '').split():
            self.sections.append((attrs['data-host'], attrs['data-worst']))
        if tag == 'li' and 'flag' in (attrs.get('class') or '').split():
            self.flags.append((self.sections[-1][0], attrs['data-flag'], attrs['class']))

    def handle_data(self, data):
        self.text.append(data)


def sample_report():
    before = build_report({'leaky': facts(at=T0, sunreclaim_kb=40000)}, now=T0)
    return build_report({
        'healthy': facts(at=T0 + 3600),
        'leaky': facts(at=T0 + 3600, sunreclaim_kb=40000 + 61440, flags=[('sunreclaim_high', 'warning')]),
        'box512': facts(at=T0 + 3600, flags=[('oom_kills', 'critical'), ('page_alloc_failures', 'critical'), ('no_swap', 'warning')]),
        'gone': dict(unreachable=True, msg='timeout'),
    }, previous=before, now=T0 + 3600)


def test_html_sections_worst_first_with_flags_coloured_by_severity():
    report = sample_report()
    page = render_html(report)
    parsed = Collect()
    parsed.feed(page)
    assert parsed.sections == [('box512', 'critical'), ('gone', 'critical'), ('leaky', 'warning'), ('healthy', 'ok')]
    assert parsed.flags == [('box512', 'oom_kills', 'flag sev-critical'), ('box512', 'page_alloc_failures', 'flag sev-critical'),
                            ('box512', 'no_swap', 'flag sev-warning'), ('gone', 'unreachable', 'flag sev-critical'),
                            ('leaky', 'sunreclaim_high', 'flag sev-warning'), ('leaky', 'sunreclaim_growing', 'flag sev-warning')]
    assert page.startswith('<!DOCTYPE html>')
    assert parsed.tags.count('svg') == 3  # one chart per host with figures
    text = ''.join(parsed.text)
    assert '4 host(s): 2 critical, 1 warning, 1 ok' in text
    assert 'SUnreclaim +60.0 MB/h' in text
    assert 'MemAvailable' in text and 'SUnreclaim' in text and 'unaccounted' in text
    for label in ('apps (anon)', 'shmem', 'swap used', 'swap free', 'page cache / other', 'SReclaimable', 'free'):
        assert label in text


def test_html_has_no_external_references():
    page = render_html(sample_report())
    for pattern in (r'https?://', r'\bsrc\s*=', r'<link\b', r'<script\b', r'@import', r'url\(', r'@font-face', r'//[a-z0-9.-]+\.[a-z]{2,}/'):
        assert not re.search(pattern, page, re.I), pattern
    assert '<style>' in page


def test_html_escapes_everything_that_comes_from_a_host():
    evil = '<script>alert(1)</script>'
    item = facts(flags=[('oom_kills', 'critical')], slab_top=[dict(name='<img onerror=x>', bytes=4096)])
    item['flags'][0]['reason'] = 'the kernel OOM killer killed 1 process(es): <b>"x"</b> & \'y\''
    item['hostname'] = '"><svg onload=1>'
    item['notes'] = ['<iframe>']
    report = build_report({evil: item, 'x" data-worst="ok': dict(failed=True, msg='<marquee>')}, now=T0)
    page = render_html(report)
    for raw in ('<script', '<img', '<b>"x"', '<svg onload', '<iframe', '<marquee', 'x" data-worst="ok"'):
        assert raw not in page, raw
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in page
    assert 'data-host="&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    assert '&lt;b&gt;&quot;x&quot;&lt;/b&gt; &amp; &#x27;y&#x27;' in page
    parsed = Collect()
    parsed.feed(page)
    assert [host for host, worst in parsed.sections] == [evil, 'x" data-worst="ok']
    assert set(parsed.tags) <= {'html', 'head', 'meta', 'title', 'style', 'body', 'main', 'h1', 'h2', 'p', 'div', 'b', 'ul', 'li',
                                'table', 'tr', 'th', 'td', 'a', 'span', 'section', 'header', 'footer', 'svg', 'rect', 'text', 'path',
                                'i'}


# ---------------------------------------------------------------- Markdown

def test_markdown_summary_table_and_details():
    text = render_markdown(sample_report())
    lines = text.splitlines()
    assert lines[0] == '# Fleet memory report'
    assert '**4 host(s): 2 critical, 1 warning, 1 ok**' in text
    header = lines.index('| host | worst | flags | MemAvailable | swap used | SUnreclaim | unaccounted | growth |')
    rows = lines[header + 2:header + 6]
    assert [row.split(' | ')[0] for row in rows] == ['| box512', '| gone', '| leaky', '| healthy']
    assert rows[0].startswith('| box512 | CRITICAL | oom\\_kills, page\\_alloc\\_failures, no\\_swap | 183 MiB | 94 MiB / 2048 MiB | 40 MiB | 8.8 MiB |')
    assert rows[1] == '| gone | CRITICAL | unreachable | – | – | – | – | – |'
    assert 'SUnreclaim +60.0 MB/h, unaccounted +0.0 MB/h over 1.0 h' in rows[2]
    assert '## box512 — critical' in text
    assert '- **critical** oom\\_kills: oom\\_kills because' in text
    assert '- **warning** sunreclaim\\_growing: SUnreclaim grew 60.0 MB/h since 2026-12-02T10:00Z' in text
    assert 'Top unreclaimable slab caches: kmalloc-1k 3.0 MiB.' in text
    assert 'Memory: apps (anon) 196 MiB, shmem 6.0 MiB,' in text and 'swap used 94 MiB, swap free 1954 MiB.' in text
    assert 'No flags.' in text


def test_markdown_cells_cannot_break_the_table():
    item = facts(flags=[('oom_kills', 'critical')])
    item['flags'][0]['reason'] = 'a | b\nc <script>'
    text = render_markdown(build_report({'a|b': item}, now=T0))
    assert '| a\\|b | CRITICAL |' in text
    assert 'a \\| b c &lt;script&gt;' in text
    assert '<script>' not in text


def test_markdown_escapes_code_spans_links_and_emphasis_from_a_host():
    item = facts(flags=[('oom_kills', 'critical')], slab_top=[dict(name='`x`', bytes=4096)])
    item['flags'][0]['reason'] = 'killed [click](javascript:alert(1)) *now* ![i](http://e/x.png) <img src=x onerror=alert(1)> &amp;'
    item['events']['oom_kills'] = [dict(victim_comm='<script>|`rm`', victim_pid=7, time='2026-12-02T09:58:01Z', boot=0)]
    text = render_markdown(build_report({'h`|[x]': item}, now=T0))
    assert '| h\\`\\|\\[x\\] | CRITICAL |' in text
    assert 'killed \\[click\\](javascript:alert(1)) \\*now\\* !\\[i\\](http://e/x.png) &lt;img src=x onerror=alert(1)&gt; &amp;amp;' in text
    assert '| 2026-12-02T09:58:01Z | OOM kill | victim\\_comm &lt;script&gt;\\|\\`rm\\`, victim\\_pid 7 |' in text
    assert 'caches: \\`x\\` 0.0 MiB' in text
    assert not re.search(r'(?<!\\)[\[\]`]', text.split('## ')[1].split('Growth')[0]), text
    for raw in ('<script', '<img', '`rm`', '`x`'):
        assert raw not in text, raw


# ---------------------------------------------------------------- events and swap

def test_events_newest_first_with_their_time_and_boot():
    item = facts()
    item['events'] = dict(
        oom_kills=[dict(victim_comm='php-fpm8.2', victim_pid=4242, invoker_comm='nginx', constraint='CONSTRAINT_NONE',
                        time='2026-12-01T23:10:04Z', epoch=T0 - 39596, boot=-1)],
        page_alloc_failures=[dict(comm='swapper/0', pid=0, order=2, mode='GFP_ATOMIC', network_rx=True,
                                  time='2026-12-02T09:12:00Z', epoch=T0 - 2880, boot=0)],
        earlyoom_kills=[], unit_oom_kills=[dict(unit='app.service', by='systemd', time='2026-12-02T09:30:00Z', epoch=T0 - 1800)])
    found = events(item)
    assert [(label, when) for label, when, shown in found] == [
        ('unit OOM kill', '2026-12-02T09:30:00Z'), ('page allocation failure', '2026-12-02T09:12:00Z'),
        ('OOM kill', '2026-12-01T23:10:04Z (boot -1)')]
    page = render_html(build_report({'vm': item}, now=T0))
    parsed = Collect()
    parsed.feed(page)
    text = ''.join(parsed.text)
    assert '2026-12-01T23:10:04Z (boot -1)OOM killvictim_comm php-fpm8.2, victim_pid 4242, invoker_comm nginx' in text
    assert 'page allocation failurecomm swapper/0, pid 0, order 2, mode GFP_ATOMIC, network_rx True' in text
    assert '| 2026-12-02T09:30:00Z | unit OOM kill | unit app.service, by systemd |' in render_markdown(build_report({'vm': item}, now=T0))
    assert 'No memory events' in render_html(build_report({'vm': facts()}, now=T0))


def test_swap_bar_shows_used_and_free_and_none_without_swap():
    assert swap_composition(memory()) == [('swap_used', 'swap used', '#76448a', 96128),
                                          ('swap_free', 'swap free', '#d5dbe3', 2097148 - 96128)]
    assert swap_composition(memory(swap_total_kb=0, swap_used_kb=0)) == []
    page = render_html(build_report({'vm': facts(), 'noswap': facts(swap_total_kb=0, swap_used_kb=0)}, now=T0))
    assert page.count('class="part-swap_used"') == 1 and 'swap: none' in page and 'swap: 94 MiB used of 2048 MiB' in page


def test_sizing_advice_is_shown_in_html_and_markdown():
    item = facts(flags=[('ram_outgrown', 'warning')])
    item['sizing'] = dict(outgrown=True, unreclaimable_kb=425000, unreclaimable_percent=91.4, swap_used_kb=3072, oom_kills=2,
                          ram_class_mb=512, needed_ram_class_mb=1024, reason='what cannot be reclaimed is 91 % of RAM (at least 85 %)')
    fits = facts()
    fits['sizing'] = dict(outgrown=False, unreclaimable_kb=114168, unreclaimable_percent=24.2, swap_used_kb=0, oom_kills=0,
                          ram_class_mb=1024, needed_ram_class_mb=1024, reason='what cannot be reclaimed is 24 % of RAM')
    report = build_report({'small': item, 'big': fits}, now=T0)
    page = render_html(report)
    assert ('<p class="sizing up">Sizing: outgrown its 512 MB: needs the 1024 MB class (what cannot be reclaimed is 91 % of RAM '
            '(at least 85 %); cannot be reclaimed 415 MiB (91.4 % of RAM), swap in use 3.0 MiB, OOM kills 2)</p>') in page
    assert '<p class="sizing">Sizing: fits its 1024 MB (cannot be reclaimed 111 MiB (24.2 % of RAM)' in page
    text = render_markdown(report)
    assert 'Sizing: outgrown its 512 MB: needs the 1024 MB class (what cannot be reclaimed' in text
    assert 'Sizing' not in render_markdown(build_report({'old': facts()}, now=T0))  # facts of a version without sizing


# ---------------------------------------------------------------- memory history (sparklines)

def history_samples(minutes=1440, leak_kb_per_minute=1024, swap_kb=0, oom_at=(), warned_at=()):
    """A day of once-a-minute samples ending at T0: SUnreclaim leaking ``leak_kb_per_minute``, MemAvailable falling."""
    start = int(T0) - (minutes - 1) * 60
    return [dict(epoch=start + minute * 60, mem_available_kb=1800000 - minute * leak_kb_per_minute,
                 sunreclaim_kb=30000 + minute * leak_kb_per_minute, slab_kb=50000 + minute * leak_kb_per_minute,
                 swap_used_kb=swap_kb, oom_kill=sum(1 for at in oom_at if at <= minute), warned=int(minute in warned_at))
            for minute in range(minutes)]


def with_history(value, **mem):
    item = facts(**mem)
    item['history'] = value
    return item


class Sparks(HTMLParser):
    """Each sparkline of the page: (host, series, number of polyline points, its title), and the history texts."""

    def __init__(self):
        HTMLParser.__init__(self)
        self.host, self.series, self.sparks, self.texts, self.text = None, None, [], [], []
        self.in_spark_title = self.in_history_text = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get('class') or '').split()
        if tag == 'section':
            self.host = attrs['data-host']
        elif tag == 'div' and 'spark-row' in classes:
            self.series = attrs['data-series']
        elif tag == 'svg' and 'spark' in classes:
            self.sparks.append([self.host, self.series, None, ''])
        elif tag == 'polyline' and self.sparks:
            self.sparks[-1][2] = len(attrs['points'].split())
        elif tag == 'title' and self.sparks and self.sparks[-1][2] is None:
            self.in_spark_title = True
        elif tag == 'p' and 'history-text' in classes:
            self.in_history_text = True
            self.texts.append([self.host, ''])

    def handle_endtag(self, tag):
        if tag == 'title':
            self.in_spark_title = False
        elif tag == 'p':
            self.in_history_text = False

    def handle_data(self, data):
        self.text.append(data)
        if self.in_spark_title:
            self.sparks[-1][3] += data
        if self.in_history_text:
            self.texts[-1][1] += data


def sparks(page):
    parsed = Sparks()
    parsed.feed(page)
    return parsed


def test_history_is_drawn_as_sparklines_for_the_host_that_has_one():
    leak = trend(history_samples(swap_kb=51200, oom_at=(600,), warned_at=(700, 1300)))
    assert len(leak['series']['sunreclaim_kb']) == 60
    report = build_report({'leaky': with_history(leak), 'plain': facts(), 'none': with_history(None)}, now=T0)
    page = render_html(report)
    parsed = sparks(page)
    assert [(host, series, count) for host, series, count, title in parsed.sparks] == [
        ('leaky', 'sunreclaim_kb', 60), ('leaky', 'mem_available_kb', 60), ('leaky', 'swap_used_kb', 60)]
    assert parsed.sparks[0][3] == 'leaky: SUnreclaim over 24.0 h, 60 points (min 41 MiB · max 1457 MiB · last 1457 MiB)'
    assert [host for host, text in parsed.texts] == ['leaky']
    assert parsed.texts[0][1] == (
        'Memory history 1440 samples over 24.0 h in /var/lib/lowmem-vps/memory-history; SUnreclaim +60.0 MB/h, MemAvailable '
        '-60.0 MB/h over the last 60 min (SUnreclaim growing); lowest MemAvailable 319 MiB, highest SUnreclaim 1468 MiB; '
        'swap kept in use: 50 MiB; OOM kills in the history: 1; journal warnings: 2 (last at 2026-12-02T07:41:00Z)')
    assert '<div class="history up">' in page
    assert 'min 41 MiB · max 1457 MiB · last 1457 MiB' in ''.join(parsed.text)
    # the sparkline rises left to right: SUnreclaim's newest point is at the top (the smallest y)
    points = re.search(r'<polyline points="([^"]+)"', page).group(1).split()
    assert points[0] == '3.00,29.00' and points[-1] == '237.00,3.00'
    for pattern in (r'https?://', r'\bsrc\s*=', r'<script\b', r'url\(', r'\son[a-z]+\s*='):
        assert not re.search(pattern, page, re.I), pattern
    # no swap in use: no swap sparkline
    quiet = trend(history_samples(leak_kb_per_minute=0))
    parsed = sparks(render_html(build_report({'quiet': with_history(quiet)}, now=T0)))
    assert [series for host, series, count, title in parsed.sparks] == ['sunreclaim_kb', 'mem_available_kb']
    assert 'SUnreclaim +0.0 MB/h, MemAvailable +0.0 MB/h over the last 60 min; ' in parsed.texts[0][1]
    assert 'swap kept in use: none; OOM kills in the history: 0; journal warnings: 0' in parsed.texts[0][1]


def test_history_in_markdown_one_sparkline_per_series():
    leak = trend(history_samples(swap_kb=51200))
    text = render_markdown(build_report({'leaky': with_history(leak), 'plain': facts()}, now=T0))
    lines = text.splitlines()
    summary = [line for line in lines if line.startswith('Memory history: ')]
    assert summary == ['Memory history: 1440 samples over 24.0 h in /var/lib/lowmem-vps/memory-history; SUnreclaim +60.0 MB/h, '
                       'MemAvailable -60.0 MB/h over the last 60 min (SUnreclaim growing); lowest MemAvailable 319 MiB, highest '
                       'SUnreclaim 1468 MiB; swap kept in use: 50 MiB; OOM kills in the history: 0; journal warnings: 0.']
    rows = [line for line in lines if re.match('- (SUnreclaim|MemAvailable|swap used) [▁▂▃▄▅▆▇█]', line)]
    assert [re.match('- ([a-zA-Z ]+) ', row).group(1) for row in rows] == ['SUnreclaim', 'MemAvailable', 'swap used']
    blocks = [re.search('[▁▂▃▄▅▆▇█]+', row).group(0) for row in rows]
    assert [len(spark) for spark in blocks] == [60, 60, 60]
    assert blocks[0][0] == '▁' and blocks[0][-1] == '█' and blocks[1][0] == '█' and blocks[1][-1] == '▁'
    assert blocks[2] == '▄' * 60  # flat
    assert rows[0].endswith(' min 41 MiB · max 1457 MiB · last 1457 MiB')
    assert text.index('Memory history: ') > text.index('## leaky') and text.count('Memory history') == 1


@pytest.mark.parametrize('series, drawn, markdown', [
    ([41232], 1, '▄'),
    ([41232] * 7, 7, '▄' * 7),
    ([0, 8, 4], 3, '▁█▅'),
    ([], 0, None),
])
def test_history_series_of_one_point_flat_or_empty(series, drawn, markdown):
    history = dict(path='/var/lib/lowmem-vps/memory-history', samples=len(series) or 1, first_at=T0, last_at=T0, span_minutes=0.0,
                   trend_minutes=0.0, sunreclaim_kb_per_hour=None, mem_available_kb_per_hour=None, sunreclaim_growing=False,
                   growth_threshold_kb_per_hour=4096, mem_available_min_kb=1000, sunreclaim_max_kb=41232, swap_kept_kb=0,
                   oom_kills=0, warnings=0, last_warning_at=None,
                   series=dict(epoch=[T0] * len(series), mem_available_kb=list(series), sunreclaim_kb=list(series),
                               swap_used_kb=[0] * len(series)))
    report = build_report({'vm': with_history(history)}, now=T0)
    page = render_html(report)
    parsed = sparks(page)
    assert [(series_key, count) for host, series_key, count, title in parsed.sparks] == (
        [('sunreclaim_kb', drawn), ('mem_available_kb', drawn)] if drawn else [])
    assert 'growth per hour not measured yet (too few samples)' in parsed.texts[0][1]
    assert 'nan' not in page.lower() and 'inf' not in re.sub(r'info|<title>.*?</title>', '', page.lower())
    if drawn == 1:
        assert '<polyline points="120.00,16.00"' in page and '<circle cx="120.00" cy="16.00"' in page
    if len(series) > 1 and len(set(series)) == 1:
        assert re.search(r'<polyline points="3.00,16.00 [^"]*237.00,16.00"', page)
    text = render_markdown(report)
    if markdown:
        assert '- SUnreclaim %s min ' % markdown in text and '- MemAvailable %s min ' % markdown in text
    else:
        assert '- SUnreclaim' not in text
    assert '- swap used' not in text


def valid_history():
    return trend(history_samples(minutes=120))


def broken(**changes):
    item = valid_history()
    item.update(changes)
    return item


def broken_series(**changes):
    item = valid_history()
    item['series'] = dict(item['series'], **changes)
    return item


@pytest.mark.parametrize('value, drawn, note', [
    ('1440 samples', [], 'is not a dict (got str)'),
    ([1, 2, 3], [], 'is not a dict (got list)'),
    (42, [], 'is not a dict (got int)'),
    ({}, [], 'has no number of samples or no series'),
    (broken(series=None), [], 'has no number of samples or no series'),
    (broken(series=[[1, 2]]), [], 'has no number of samples or no series'),
    (broken(samples='1440'), [], 'has no number of samples or no series'),
    (broken(samples=0), [], 'has no number of samples or no series'),
    (broken(samples=True), [], 'has no number of samples or no series'),
    (broken(samples=float('nan')), [], 'has no number of samples or no series'),
    (broken_series(sunreclaim_kb='1,2,3'), ['mem_available_kb'], None),
    (broken_series(sunreclaim_kb=['1', 2]), ['mem_available_kb'], None),
    (broken_series(sunreclaim_kb=[1, None, 3]), ['mem_available_kb'], None),
    (broken_series(sunreclaim_kb=[1, True, 3]), ['mem_available_kb'], None),
    (broken_series(sunreclaim_kb=[1, float('inf')]), ['mem_available_kb'], None),
    (broken_series(sunreclaim_kb=[1, float('nan')]), ['mem_available_kb'], None),
    (broken_series(sunreclaim_kb=[10 ** 400, 1]), ['mem_available_kb'], None),
    (broken_series(sunreclaim_kb=[1e308, -1e308]), ['mem_available_kb'], None),
    (broken_series(sunreclaim_kb=list(range(100000))), ['mem_available_kb'], None),
    (broken_series(sunreclaim_kb=dict(a=1), mem_available_kb=None, swap_used_kb='x'), [], None),
    (broken(span_minutes='a day', trend_minutes=None, sunreclaim_kb_per_hour='fast', oom_kills=[1], warnings=dict(n=2),
            last_warning_at=1e300, swap_kept_kb=float('-inf'), path=['/etc/shadow'], sunreclaim_growing='yes'),
     ['sunreclaim_kb', 'mem_available_kb'], None),
    (broken(warnings=1, last_warning_at=1e300), ['sunreclaim_kb', 'mem_available_kb'], None),
])
def test_malformed_history_does_not_crash_and_is_not_drawn(value, drawn, note):
    report = build_report({'vm': with_history(value)}, now=T0)
    assert report['hosts'][0]['worst'] == 'ok' and report['hosts'][0]['facts']['history'] is value
    page = render_html(report)
    parsed = sparks(page)
    assert [series for host, series, count, title in parsed.sparks] == drawn
    text = render_markdown(report)
    if note:
        assert 'Memory history: the history in the facts %s' % note in ''.join(parsed.text)
        assert 'Memory history: the history in the facts %s' % note in text
        assert parsed.texts == [] and '▁' not in text and '▄' not in text
    else:
        assert len(parsed.texts) == 1 and parsed.texts[0][1].startswith('Memory history 120 samples over ')
        assert [line.split()[1] for line in text.splitlines() if re.match('- [A-Za-z]+ [▁▂▃▄▅▆▇█]+ min ', line)] == [
            dict(sunreclaim_kb='SUnreclaim', mem_available_kb='MemAvailable')[key] for key in drawn]
    assert '/etc/shadow' not in page and 'nan' not in page.lower()


def test_odd_history_figures_read_as_unknown():
    value = broken(span_minutes='a day', trend_minutes=None, sunreclaim_kb_per_hour='fast', mem_available_kb_per_hour=None,
                   oom_kills=[1], warnings=dict(n=2), swap_kept_kb=float('-inf'), mem_available_min_kb=None, sunreclaim_max_kb='x',
                   path=7, sunreclaim_growing='yes')
    page = render_html(build_report({'vm': with_history(value)}, now=T0))
    assert sparks(page).texts[0][1] == (
        'Memory history 120 samples over ?; growth per hour not measured yet (too few samples); lowest MemAvailable ?, '
        'highest SUnreclaim ?; swap kept in use: ?; OOM kills in the history: ?; journal warnings: ?')
    assert '<div class="history">' in page  # 'yes' is not True: not marked as growing
    late = broken(warnings=3, last_warning_at=1e300)
    assert 'journal warnings: 3 (last at ?)' in sparks(render_html(build_report({'vm': with_history(late)}, now=T0))).texts[0][1]


def test_history_text_from_a_host_is_escaped():
    evil = '<script>alert(1)</script>'
    value = broken(path='/var/lib/x"><img src=x onerror=alert(1)>|`*_[y](javascript:z)')
    report = build_report({evil: with_history(value), 'h" onload="x': with_history(valid_history())}, now=T0)
    page = render_html(report)
    for raw in ('<script', '<img', 'x"><', 'onload="x"', 'onerror=alert(1)>'):
        assert raw not in page, raw
    assert 'in /var/lib/x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;|`*_[y](javascript:z);' in page
    assert '<title>&lt;script&gt;alert(1)&lt;/script&gt;: SUnreclaim over 2.0 h, 60 points' in page
    assert 'aria-label="&lt;script&gt;alert(1)&lt;/script&gt;: SUnreclaim over 2.0 h' in page
    assert '<title>h&quot; onload=&quot;x: MemAvailable over 2.0 h' in page
    parsed = sparks(page)
    assert parsed.sparks[0][3].startswith(evil + ': SUnreclaim over 2.0 h, 60 points')
    assert 'in /var/lib/x"><img src=x onerror=alert(1)>|`*_[y](javascript:z);' in parsed.texts[0][1]
    text = render_markdown(report)
    assert 'in /var/lib/x"&gt;&lt;img src=x onerror=alert(1)&gt;\\|\\`\\*\\_\\[y\\](javascript:z);' in text
    assert '<img' not in text and '<script' not in text


def test_history_does_not_change_the_json_entry():
    value = valid_history()
    report = build_report({'vm': with_history(value)}, now=T0)
    assert report['hosts'][0]['facts']['history'] == value
    assert json.loads(json.dumps(report)) == report
