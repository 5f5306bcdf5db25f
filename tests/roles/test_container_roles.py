# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""container_limits: bad input anywhere fails before any compose file is written (or any container recreated).

The compose files live under tmp_path; every case here fails in the first task (every project checked in check mode),
so no Docker engine is needed. Recreating and docker inspect are proven in Molecule against a real engine.
"""

from __future__ import annotations

import pytest

COMPOSE = '''\
# the proxies
services:
  hysteria:
    image: example/hysteria   # pinned elsewhere
    restart: unless-stopped
  tuic-server:
    image: example/tuic
'''


@pytest.fixture
def projects(tmp_path):
    first, second = tmp_path / 'one', tmp_path / 'two'
    for directory in (first, second):
        directory.mkdir()
        (directory / 'compose.yml').write_text(COMPOSE)
    return first / 'compose.yml', second / 'compose.yml'


@pytest.mark.parametrize('services, message', [
    ({'hysteria': {'mem_limit': '96x'}}, 'is not a size docker reads'),
    ({'hysteria': {'mem_limit': '128m', 'memswap_limit': '96m'}}, 'memswap_limit 96m is below mem_limit 128m'),
    ({'hysteria': {'pids_limit': 0}}, 'hysteria: pids_limit 0: use a number of processes of at least 1'),
    ({'hysteria': {'oom_score_adj': 2000}}, 'hysteria: oom_score_adj 2000 is outside -1000..1000'),
    ({'filebrowser': None}, 'service filebrowser not in the file (it has: hysteria, tuic-server)'),
])
def test_bad_limits_in_the_second_project_leave_both_files_alone(run_role, projects, services, message):
    first, second = projects
    result = run_role('lowmem.vps.container_limits', {'container_limits_projects': [
        {'path': str(first), 'services': {'hysteria': None}},          # valid, and would change
        {'path': str(second), 'services': services},
    ]})
    assert result.rc != 0, result.output
    assert message in result.flat and 'nothing was changed' in result.flat, result.output
    assert 'Check the limits of every project before changing any' in result.output
    assert 'Write the limits into the compose files' not in result.output
    assert first.read_text() == COMPOSE and second.read_text() == COMPOSE


def test_a_missing_compose_file_is_refused(run_role, projects, tmp_path):
    result = run_role('lowmem.vps.container_limits', {'container_limits_projects': [
        {'path': str(projects[0]), 'services': {'hysteria': None}},
        {'path': str(tmp_path / 'gone' / 'compose.yml'), 'services': {'hysteria': None}},
    ]})
    assert result.rc != 0 and '%s does not exist' % (tmp_path / 'gone' / 'compose.yml') in result.flat, result.output
    assert projects[0].read_text() == COMPOSE


def test_a_project_without_services_is_refused_by_the_argument_spec(run_role, projects):
    result = run_role('lowmem.vps.container_limits', {'container_limits_projects': [{'path': str(projects[0])}]})
    assert result.rc != 0 and 'services' in result.output and 'required' in result.output, result.output
    assert projects[0].read_text() == COMPOSE


def test_a_preset_that_is_not_a_dict_is_refused(run_role, projects):
    result = run_role('lowmem.vps.container_limits', {
        'container_limits_presets': {'hysteria': '64m'},
        'container_limits_projects': [{'path': str(projects[0]), 'services': {'hysteria': None}}]})
    assert result.rc != 0 and 'the preset for hysteria must be a dict' in result.flat, result.output
    assert projects[0].read_text() == COMPOSE
