# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""compose_yaml: the line editor on real compose files (comments, anchors, quoting kept), the refusals and the read-back
check."""
from __future__ import annotations

import difflib
import os

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.compose_rules import ComposeError, normalise_services
from ansible_collections.lowmem.vps.plugins.module_utils.compose_yaml import check_result, plan_limits
from ansible_collections.lowmem.vps.tests.unit.plugins.module_utils.test__compose_rules import RUNBOOK

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'compose')


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


def plan(text, services):
    return plan_limits(text, normalise_services(services))


def changes(before, after):
    """The changed lines only: (removed, added)."""
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [line[2:] for line in diff if line.startswith('- ')], [line[2:] for line in diff if line.startswith('+ ')]


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
