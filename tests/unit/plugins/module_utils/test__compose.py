# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""compose: docker sizes, the limit checks, the line editor on real compose files (comments, anchors, quoting kept),
the refusals, the read-back check, expected_inspect/compare_inspect, and run() with a fake runner."""
from __future__ import annotations

import difflib
import json
import os

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.compose import (
    ComposeError, check_result, compare_inspect, expected_inspect, normalise_services, parse_size, plan_limits, run,
)

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'compose')
MIB = 1024 * 1024
# The runbook's limits for the 512 MB VPS.
RUNBOOK = {
    'hysteria': {'mem_limit': '96m', 'memswap_limit': '160m', 'pids_limit': 128, 'oom_score_adj': 500},
    'tuic-server': {'mem_limit': '64m', 'memswap_limit': '128m'},
}


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


def plan(text, services):
    return plan_limits(text, normalise_services(services))


def changes(before, after):
    """The changed lines only: (removed, added)."""
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [line[2:] for line in diff if line.startswith('- ')], [line[2:] for line in diff if line.startswith('+ ')]


# ---------------------------------------------------------------- sizes

@pytest.mark.parametrize('text, expected', [
    ('96m', 96 * MIB), ('96M', 96 * MIB), ('1g', 1024 * MIB), ('1G', 1024 * MIB), ('512k', 512 * 1024),
    ('100b', 100), ('4096', 4096), (4096, 4096), ('1gb', 1024 * MIB), ('96MB', 96 * MIB), ('64kb', 64 * 1024),
    ('2gib', 2048 * MIB), ('1.5g', 1536 * MIB), ('96 m', 96 * MIB), ('0', 0), ('0m', 0),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize('text', ['96x', '-1g', '+1g', 'm', '', '96 mb b', '1.0000001k', True, None, 1.5])
def test_parse_size_refuses(text):
    with pytest.raises(ComposeError):
        parse_size(text)


# ---------------------------------------------------------------- input checks

def test_normalise_services_writes_lower_case_and_ints():
    assert normalise_services({'hysteria': {'mem_limit': '96M', 'memswap_limit': -1, 'pids_limit': '128',
                                            'oom_score_adj': 500}}) == {
        'hysteria': {'mem_limit': ('96m', 96 * MIB), 'memswap_limit': ('-1', -1), 'pids_limit': ('128', 128),
                     'oom_score_adj': ('500', 500)}}
    assert normalise_services({'hysteria': {'mem_limit': 100663296}})['hysteria']['mem_limit'] == ('100663296', 96 * MIB)


@pytest.mark.parametrize('services, message', [
    ({'hysteria': {'mem_limits': '96m'}}, 'hysteria: unknown limit mem_limits (did you mean mem_limit?) (allowed: mem_limit, '
                                          'memswap_limit, pids_limit, oom_score_adj)'),
    ({'hysteria': {'mem_limit': '96x'}}, "hysteria: '96x' is not a size docker reads"),
    ({'hysteria': {'mem_limit': '0m'}}, "hysteria: mem_limit '0m' is zero: leave mem_limit out for no memory limit"),
    ({'hysteria': {'mem_limit': '4m'}}, "mem_limit '4m' is below 6m, the smallest memory limit docker accepts"),
    ({'hysteria': {'mem_limit': -1}}, 'hysteria: mem_limit -1 is negative'),
    ({'hysteria': {'memswap_limit': '-2g'}}, "'-2g' is not a size docker reads"),
    ({'hysteria': {'memswap_limit': -5}}, 'memswap_limit -5 is negative (only -1, unlimited swap, is allowed)'),
    ({'hysteria': {'memswap_limit': 0}}, 'memswap_limit 0 is zero: leave memswap_limit out for swap equal to mem_limit'),
    ({'hysteria': {'pids_limit': 0}}, 'hysteria: pids_limit 0: use a number of processes of at least 1, or -1 for no limit'),
    ({'hysteria': {'pids_limit': 'many'}}, "pids_limit 'many' is not a whole number"),
    ({'hysteria': {'oom_score_adj': 1001}}, 'hysteria: oom_score_adj 1001 is outside -1000..1000'),
    ({'hysteria': {'oom_score_adj': -1001}}, 'oom_score_adj -1001 is outside -1000..1000'),
    ({'hysteria': '96m'}, "hysteria: limits must be a dict"),
    (['hysteria'], 'services must be a dict'),
])
def test_normalise_services_refuses(services, message):
    with pytest.raises(ComposeError) as raised:
        normalise_services(services)
    assert message in str(raised.value)


def test_normalise_services_lists_every_problem():
    with pytest.raises(ComposeError) as raised:
        normalise_services({'hysteria': {'pids_limit': 0, 'oom_score_adj': 2000}, 'tuic-server': {'mem_limit': '1x'}})
    assert str(raised.value).count('; ') == 2


# ---------------------------------------------------------------- editing

def test_runbook_limits_replace_in_place_and_insert_keeping_everything_else():
    before = fixture('compose.yml')
    result = plan(before, RUNBOOK)
    removed, added = changes(before, result['after'])
    assert removed == ['    mem_limit: 128M   # first guess, too big', '    pids_limit: 64']
    assert added == ['    mem_limit: 96m    # first guess, too big', '    pids_limit: 128', '    memswap_limit: 160m',
                     '    oom_score_adj: 500']
    # inserted after the last limit key present (pids_limit), before the blank line that ends the service
    assert '    pids_limit: 128\n    memswap_limit: 160m\n    oom_score_adj: 500\n\n  hysteria2:' in result['after']
    assert result['changed_services'] == ['hysteria']  # tuic-server already has 64m/128m, quoted
    assert result['services'] == {
        'hysteria': {'mem_limit': '96m', 'memswap_limit': '160m', 'pids_limit': 128, 'oom_score_adj': 500},
        'tuic-server': {'mem_limit': '64m', 'memswap_limit': '128m'}}
    assert result['warnings'] == []
    check_result(before, result['after'], result['written'])
    again = plan(result['after'], RUNBOOK)
    assert again['after'] == result['after'] and again['changed_services'] == []


def test_insert_at_end_of_service_mapping_before_its_trailing_comment():
    before = fixture('compose.yml')
    result = plan(before, {'hysteria2': {'mem_limit': '96M', 'pids_limit': -1}})
    assert ('    logging: *default-logging\n    mem_limit: 96m\n    pids_limit: -1\n    # no limits yet\n'
            in result['after'])
    assert changes(before, result['after'])[0] == []
    check_result(before, result['after'], result['written'])


def test_replacement_keeps_quoting_and_comment():
    before = fixture('compose.yml')
    result = plan(before, {'tuic-server': {'mem_limit': '80m', 'memswap_limit': '80m'}})
    assert changes(before, result['after']) == (['    mem_limit: "64m"', '    memswap_limit: "128m"  # swap = 64m'],
                                                ['    mem_limit: "80m"', '    memswap_limit: "80m"   # swap = 64m'])
    assert result['changed_services'] == ['tuic-server']


def test_changed_services_lists_only_the_one_whose_limit_changed():
    before = fixture('compose.yml')
    result = plan(before, {'hysteria': {'mem_limit': '128m', 'pids_limit': 64},  # same values, spelled differently
                           'tuic-server': {'mem_limit': '64m', 'memswap_limit': '192m'}})
    assert result['changed_services'] == ['tuic-server']
    assert changes(before, result['after'])[1] == ['    memswap_limit: "192m"  # swap = 64m']


def test_deploy_limits_too_warns():
    result = plan(fixture('compose.yml'), {'filebrowser': {'mem_limit': '64m'}})
    assert result['warnings'] == [
        'filebrowser: both mem_limit and deploy.resources.limits.memory exist in the file; docker compose prefers '
        'deploy.resources.limits, so the value set here may not be the one applied: keep only one']
    assert '    logging: *default-logging\n    mem_limit: 64m\n\nvolumes:' in result['after']


def test_merge_key_without_the_limit_is_fine():
    before = fixture('merge.yml')
    result = plan(before, {'tuic-server': {'mem_limit': '64m'}})
    assert changes(before, result['after']) == ([], ['    mem_limit: 64m'])
    check_result(before, result['after'], result['written'])


def test_crlf_and_missing_final_newline():
    before = 'services:\r\n  hysteria:\r\n    image: x\r\n    pids_limit: 64'
    result = plan(before, {'hysteria': {'pids_limit': 128, 'mem_limit': '96m'}})
    assert result['after'] == 'services:\r\n  hysteria:\r\n    image: x\r\n    pids_limit: 128\n    mem_limit: 96m\n'
    text = 'services:\n  hysteria:\n    image: x'
    assert plan(text, {'hysteria': {'mem_limit': '1G'}})['after'] == text + '\n    mem_limit: 1g\n'


def test_sequences_at_key_indent_block_scalars_and_other_indentation():
    before = ('services:\n'
              '    web:\n'
              '        command: |\n'
              '            mem_limit: 1g\n'
              '        ports:\n'
              '        - "80:80"\n'
              'networks: {}\n')
    result = plan(before, {'web': {'mem_limit': '96m'}})
    assert result['after'] == before.replace('        - "80:80"\n', '        - "80:80"\n        mem_limit: 96m\n')


def test_interpolated_value_is_replaced_with_a_warning():
    before = 'services:\n  hysteria:\n    mem_limit: ${HY_MEM:-96m}  # from .env\n'
    result = plan(before, {'hysteria': {'mem_limit': '96m'}})
    assert result['after'] == 'services:\n  hysteria:\n    mem_limit: 96m             # from .env\n'  # comment column kept
    assert result['warnings'] == ['hysteria: mem_limit was ${HY_MEM:-96m} (interpolated by compose), now 96m']


@pytest.mark.parametrize('text, services, message', [
    (fixture('compose.yml'), {'nginx': {'mem_limit': '64m'}},
     'service nginx not in the file (it has: filebrowser, hysteria, hysteria2, tuic-server)'),
    ('version: "3"\n', {'a': {'mem_limit': '64m'}}, 'the file has no top-level services: key'),
    ('services: {a: {image: x}}\n', {'a': {'mem_limit': '64m'}}, 'top-level services: is'),
    (fixture('merge.yml'), {'filebrowser': {'mem_limit': '96m'}}, 'service filebrowser is written in flow style'),
    (fixture('merge.yml'), {'hysteria2': {'mem_limit': '96m'}}, 'service hysteria2 carries the anchor &h2'),
    (fixture('merge.yml'), {'hysteria': {'mem_limit': '96m'}},
     'service hysteria takes mem_limit from the merge key <<: *small: change the value in the anchored mapping &small'),
    ('services:\n  a: *b\n', {'a': {'mem_limit': '64m'}}, 'service a is an alias (*b) of another mapping'),
    ('x: &m 64m\nservices:\n  a:\n    mem_limit: *m\n', {'a': {'mem_limit': '96m'}}, 'mem_limit is *m (an anchor or alias'),
    ('services:\n  a:\n    mem_limit: &m 64m\n', {'a': {'mem_limit': '96m'}}, 'mem_limit is &m 64m'),
    ('services:\n  a:\n    mem_limit:\n      64m\n', {'a': {'mem_limit': '96m'}}, 'mem_limit has its value on following lines'),
    ('services:\n  a:\n    mem_limit: 64m\n    mem_limit: 65m\n', {'a': {'mem_limit': '96m'}}, 'service a sets mem_limit twice'),
    ('services:\n  a:\n    image: x\n  a:\n    image: y\n', {'a': {'mem_limit': '96m'}}, 'service a defined twice'),
    ('services:\n  a:\n    <<: *nowhere\n', {'a': {'mem_limit': '96m'}}, 'service a merges *nowhere, whose anchor was not found'),
    (fixture('compose.yml'), {'tuic-server': {'mem_limit': '256m'}},
     'tuic-server: memswap_limit 128m (already in the file) is below mem_limit 256m. In compose memswap_limit is memory plus '
     'swap, so it cannot be less than mem_limit (docker refuses the container): equal to mem_limit means no swap, larger '
     'gives memswap_limit - mem_limit of swap, -1 unlimited swap, and unset gives swap equal to mem_limit (a total of '
     'twice mem_limit)'),
    (fixture('compose.yml'), {'hysteria': {'mem_limit': '160m', 'memswap_limit': '96m'}},
     'hysteria: memswap_limit 96m is below mem_limit 160m.'),
    (fixture('compose.yml'), {'hysteria2': {'memswap_limit': '96m'}},
     'hysteria2: memswap_limit 96m without mem_limit: docker refuses a swap limit without a memory limit'),
])
def test_refusals(text, services, message):
    with pytest.raises(ComposeError) as raised:
        plan(text, services)
    assert message in str(raised.value)


def test_memswap_unlimited_without_mem_limit_is_fine():
    result = plan(fixture('compose.yml'), {'hysteria2': {'memswap_limit': -1}})
    assert result['services'] == {'hysteria2': {'memswap_limit': -1}}


# ---------------------------------------------------------------- the read-back check

def test_check_result_catches_an_edit_that_changes_something_else():
    before = fixture('compose.yml')
    result = plan(before, RUNBOOK)
    broken = result['after'].replace('max-file: "3"', 'max-file: "4"')
    with pytest.raises(ComposeError, match='loads differently'):
        check_result(before, broken, result['written'])
    with pytest.raises(ComposeError, match='reads back as'):
        check_result(before, result['after'].replace('pids_limit: 128', 'pids_limit: 12'), result['written'])


def test_check_result_without_pyyaml_uses_the_scanner_only():
    before = fixture('compose.yml')
    result = plan(before, RUNBOOK)
    broken = result['after'].replace('max-file: "3"', 'max-file: "4"')
    check_result(before, broken, result['written'], load=False)  # nothing to compare the whole document with


def test_check_result_reads_compose_tags():
    before = 'services:\n  a:\n    ports: !reset []\n'
    result = plan(before, {'a': {'mem_limit': '64m'}})
    check_result(before, result['after'], result['written'])


# ---------------------------------------------------------------- docker inspect

@pytest.mark.parametrize('limits, expected', [
    ({'mem_limit': '96m', 'memswap_limit': '160m', 'pids_limit': 128, 'oom_score_adj': 500},
     {'HostConfig.Memory': 96 * MIB, 'HostConfig.MemorySwap': 160 * MIB, 'HostConfig.PidsLimit': 128,
      'HostConfig.OomScoreAdj': 500}),
    ({'mem_limit': '64m'}, {'HostConfig.Memory': 64 * MIB, 'HostConfig.MemorySwap': 128 * MIB}),
    ({'mem_limit': 64 * MIB, 'memswap_limit': -1}, {'HostConfig.Memory': 64 * MIB, 'HostConfig.MemorySwap': -1}),
    ({'mem_limit': '64m', 'memswap_limit': '64m'}, {'HostConfig.Memory': 64 * MIB, 'HostConfig.MemorySwap': 64 * MIB}),
    ({'pids_limit': -1}, {'HostConfig.PidsLimit': None}),
    ({}, {}),
])
def test_expected_inspect(limits, expected):
    assert expected_inspect(limits) == expected


def inspect(**host_config):
    return json.dumps([{'Id': 'abc', 'Name': '/hysteria', 'HostConfig': host_config}])


def test_compare_inspect_matches():
    expected = expected_inspect(RUNBOOK['hysteria'])
    assert compare_inspect(expected, inspect(Memory=96 * MIB, MemorySwap=160 * MIB, PidsLimit=128, OomScoreAdj=500)) == []
    assert compare_inspect({'HostConfig.PidsLimit': None}, {'HostConfig': {'PidsLimit': 0}}) == []
    assert compare_inspect({'HostConfig.PidsLimit': None}, [{'HostConfig': {}}]) == []


def test_compare_inspect_reports_dropped_values_and_missing_swap_support():
    expected = expected_inspect(RUNBOOK['hysteria'])
    found = compare_inspect(expected, inspect(Memory=96 * MIB, MemorySwap=-1, PidsLimit=None, OomScoreAdj=500))
    assert [item['key'] for item in found] == ['HostConfig.MemorySwap', 'HostConfig.PidsLimit']
    assert found[0]['expected'] == 160 * MIB and found[0]['actual'] == -1
    assert 'no swap limit support' in found[0]['msg'] and 'Your kernel does not support swap limit capabilities' in found[0]['msg']
    assert found[1]['msg'].startswith('HostConfig.PidsLimit: expected 128, the engine has None (the engine dropped')
    with pytest.raises(ComposeError, match='holds 2 containers'):
        compare_inspect(expected, '[{}, {}]')


# ---------------------------------------------------------------- run

class FakeModule(object):
    def __init__(self, params, check_mode=False):
        self.params = params
        self.check_mode = check_mode
        self.moved = []

    def atomic_move(self, src, dest):
        self.moved.append(dest)
        os.rename(src, dest)

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs)


class Recorder(object):
    """runner(): records each command with the candidate file's text; ``refuse`` makes config fail on text containing it."""

    def __init__(self, plugin=True, refuse=None):
        self.calls, self.seen, self.plugin, self.refuse = [], [], plugin, refuse

    def __call__(self, args, environ_update=None):
        assert environ_update == {'LC_ALL': 'C', 'LANG': 'C'}
        self.calls.append(args)
        if args[-1] == 'version':
            return (0, 'Docker Compose version v2.29.7\n', '') if self.plugin else (1, '', "docker: 'compose' is not a docker command.\n")
        path = args[args.index('-f') + 1]
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
        self.seen.append((os.path.dirname(path), text))
        if self.refuse and self.refuse in text:
            return 15, '', 'services.hysteria.mem_limit must be a valid size (%s)\n' % path
        return 0, '', ''


def test_run_validates_then_writes(tmp_path):
    path = tmp_path / 'compose.yml'
    path.write_text(fixture('compose.yml'))
    module, runner = FakeModule({'path': str(path), 'services': RUNBOOK, 'validate': True}), Recorder()
    result = run(module, runner=runner, which=lambda name: '/usr/bin/' + name)
    assert result['changed'] and result['changed_services'] == ['hysteria'] and result['validated_with'] == 'docker compose'
    assert runner.calls[0] == ['/usr/bin/docker', 'compose', 'version']
    assert runner.calls[1][:2] == ['/usr/bin/docker', 'compose'] and runner.calls[1][-2:] == ['config', '--quiet']
    assert runner.seen == [(str(tmp_path), path.read_text())]
    assert sorted(os.listdir(str(tmp_path))) == ['compose.yml']  # the candidate is gone
    assert result['expected_inspect']['tuic-server'] == {'HostConfig.Memory': 64 * MIB, 'HostConfig.MemorySwap': 128 * MIB}


def test_run_refused_by_compose_writes_nothing(tmp_path):
    path = tmp_path / 'compose.yml'
    path.write_text(fixture('compose.yml'))
    runner = Recorder(refuse='96m')
    with pytest.raises(ComposeError) as raised:
        run(FakeModule({'path': str(path), 'services': RUNBOOK}), runner=runner, which=lambda name: '/usr/bin/' + name)
    assert str(raised.value) == ('docker compose config refuses the file with the new limits: services.hysteria.mem_limit '
                                 'must be a valid size (%s)' % path)
    assert path.read_text() == fixture('compose.yml') and os.listdir(str(tmp_path)) == ['compose.yml']


def test_run_says_when_compose_refuses_the_file_as_it_is(tmp_path):
    path = tmp_path / 'compose.yml'
    path.write_text(fixture('compose.yml'))
    with pytest.raises(ComposeError, match='refuses the file as it is already'):
        run(FakeModule({'path': str(path), 'services': RUNBOOK}), runner=Recorder(refuse='hysteria'),
            which=lambda name: '/usr/bin/' + name)


def test_run_falls_back_to_docker_compose_v1_and_warns_without_either(tmp_path):
    path = tmp_path / 'compose.yml'
    path.write_text(fixture('compose.yml'))
    runner = Recorder(plugin=False)
    result = run(FakeModule({'path': str(path), 'services': RUNBOOK}, check_mode=True), runner=runner,
                 which=lambda name: '/usr/bin/' + name)
    assert result['validated_with'] == 'docker-compose' and runner.calls[1][0] == '/usr/bin/docker-compose'
    assert path.read_text() == fixture('compose.yml')
    result = run(FakeModule({'path': str(path), 'services': RUNBOOK}), runner=runner, which=lambda name: None)
    assert result['validated_with'] is None and result['changed']
    assert result['warnings'] == ['neither docker compose (the v2 plugin) nor docker-compose is installed: the new file was '
                                  'not checked with compose config']


def test_run_missing_file_and_directory(tmp_path):
    for path, message in ((tmp_path / 'nope.yml', 'does not exist'), (tmp_path, 'is a directory')):
        with pytest.raises(ComposeError, match=message):
            run(FakeModule({'path': str(path), 'services': RUNBOOK}), runner=Recorder(), which=lambda name: None)
