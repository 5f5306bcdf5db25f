# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""compose_recreate end to end with a fake engine: a `docker` (and `docker-compose`) first in PATH that keeps its
containers in a JSON state file, logs every call, and on ``up`` parses the compose file given with ``-f`` (PyYAML) to
create each recreated container with the HostConfig that file's mem_limit, memswap_limit, pids_limit and
oom_score_adj give, as the engine would; ps, inspect and info answer as the real CLIs do. So what docker inspect
shows comes from the file the recreate really used: a file written wrong, or the wrong service recreated, shows."""
from __future__ import annotations

import json
import sys
import textwrap

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.compose_engine import EngineError, check_params, verify
from ansible_collections.lowmem.vps.plugins.modules.compose_recreate import main

MIB = 1024 * 1024

FAKE = textwrap.dedent('''\
    #!%s
    import json, os, sys
    state_path, log = os.environ['FAKE_STATE'], os.environ['FAKE_LOG']
    with open(state_path) as handle:
        state = json.load(handle)
    prog = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    with open(log, 'a') as handle:
        handle.write(' '.join([prog] + args) + '\\n')
    if prog == 'docker' and args[:1] == ['compose']:
        if not state.get('plugin', True):
            sys.stderr.write("docker: 'compose' is not a docker command.\\n"); sys.exit(1)
        args = args[1:]
        if args == ['version']:
            print('Docker Compose version v2.26.1'); sys.exit(0)
    if prog == 'docker-compose' or sys.argv[1:2] == ['compose']:
        assert args[0] == '-f' and args[1] == state['path'], args
        verb, rest = args[2], args[3:]
        if verb == 'ps':
            assert rest[0] == '-q'
            for cid in state['containers'].get(rest[1], []):
                print(cid)
            sys.exit(0)
        if verb == 'up':
            assert rest[:3] == ['--detach', '--no-deps', '--force-recreate'], rest
            if state.get('up_fails'):
                sys.stderr.write('Error response from daemon: Conflict\\n'); sys.exit(1)
            import re, yaml
            with open(args[1]) as handle:
                services = (yaml.safe_load(handle) or {}).get('services') or {}

            def size(value):
                if value is None:
                    return 0
                number, unit = re.match(r'^([0-9]+)([bkmg]?)b?$', str(value).lower()).groups()
                return int(number) * 1024 ** 'bkmg'.index(unit or 'b')

            for service in rest[3:]:
                if service not in services:
                    sys.stderr.write('no such service: %%s\\n' %% service); sys.exit(1)
                spec = services[service] or {}
                state['serial'] = state.get('serial', 0) + 1
                cid = '%%064x' %% (0xabc000 + state['serial'])
                state['containers'][service] = [cid]
                swap = size(spec.get('memswap_limit'))
                if swap and not state.get('swap_limit', True):
                    swap = -1   # what dockerd reports when the kernel does not account swap
                state['hostconfig'][cid] = {'Memory': size(spec.get('mem_limit')), 'MemorySwap': swap,
                                            'PidsLimit': spec.get('pids_limit'),
                                            'OomScoreAdj': spec.get('oom_score_adj', 0)}
                state['names'][cid] = '/proj-%%s-1' %% service
        with open(state_path, 'w') as handle:
            json.dump(state, handle)
        sys.exit(0)
    if args[:1] == ['inspect']:
        print(json.dumps([{'Id': cid, 'Name': state['names'][cid], 'HostConfig': state['hostconfig'][cid]}
                          for cid in args[1:]]))
        sys.exit(0)
    if args[:1] == ['info']:
        print(json.dumps(state.get('swap_limit', True))); sys.exit(0)
    sys.stderr.write('fake docker: unexpected %%s\\n' %% args); sys.exit(3)
    ''' % sys.executable)

LIMITS = {
    'hysteria': {'Memory': 96 * MIB, 'MemorySwap': 160 * MIB, 'PidsLimit': 128, 'OomScoreAdj': 500},
    'tuic-server': {'Memory': 64 * MIB, 'MemorySwap': 128 * MIB, 'PidsLimit': 128, 'OomScoreAdj': 500},
    'filebrowser': {'Memory': 128 * MIB, 'MemorySwap': 192 * MIB, 'PidsLimit': None, 'OomScoreAdj': 0},
}
UNLIMITED = {'Memory': 0, 'MemorySwap': 0, 'PidsLimit': None, 'OomScoreAdj': 0}
# The compose file asking for LIMITS, as compose_limits writes it (comments and other keys kept).
COMPOSE = """\
# proxy stack
services:
  hysteria:
    image: tobyxdd/hysteria:v2
    restart: unless-stopped
    mem_limit: 96m
    memswap_limit: 160m
    pids_limit: 128
    oom_score_adj: 500
  tuic-server:
    image: ghcr.io/itsusinn/tuic-server:1.0.0
    mem_limit: 64m
    memswap_limit: 128m
    pids_limit: 128
    oom_score_adj: 500
  filebrowser:
    image: filebrowser/filebrowser:v2
    mem_limit: 128m
    memswap_limit: 192m
"""


def expected(service):
    return dict(('HostConfig.' + key, value) for key, value in LIMITS[service].items())


class Engine(object):
    """Three running services created before the limits (unlimited), the file asking for LIMITS."""

    def __init__(self, root, monkeypatch):
        self.compose = root / 'compose.yml'
        self.compose.write_text(COMPOSE)
        self.bin = root / 'bin'
        self.bin.mkdir()
        self.log = root / 'calls.log'
        self.state_path = root / 'state.json'
        for name in ('docker', 'docker-compose'):
            (self.bin / name).write_text(FAKE)
            (self.bin / name).chmod(0o755)
        ids = dict((service, '%064x' % (0x111 * (index + 1))) for index, service in enumerate(sorted(LIMITS)))
        self.save(dict(path=str(self.compose), containers=dict((s, [i]) for s, i in ids.items()),
                       hostconfig=dict((i, dict(UNLIMITED)) for i in ids.values()),
                       names=dict((i, '/proj-%s-1' % s) for s, i in ids.items())))
        monkeypatch.setenv('PATH', '%s:/usr/bin:/bin' % self.bin)
        monkeypatch.setenv('FAKE_STATE', str(self.state_path))
        monkeypatch.setenv('FAKE_LOG', str(self.log))

    def state(self):
        return json.loads(self.state_path.read_text())

    def save(self, state):
        self.state_path.write_text(json.dumps(state))

    def set(self, **values):
        state = self.state()
        state.update(values)
        self.save(state)

    def ids(self):
        return dict((service, ids[0]) for service, ids in self.state()['containers'].items())

    def calls(self, verb=None):
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [line for line in lines if verb is None or (' %s ' % verb) in (line + ' ')]

    def params(self, **extra):
        params = dict(path=str(self.compose))
        params.update(extra)
        return params


@pytest.fixture
def engine(tmp_path, monkeypatch):
    return Engine(tmp_path, monkeypatch)


def warnings(result):
    return [item['event']['msg'] if isinstance(item, dict) else item for item in result.get('warnings', [])]


def test_recreates_only_the_given_service_and_checks_every_one(engine, module_runner):
    before = engine.ids()
    # tuic-server and filebrowser already run with their limits; hysteria's changed in the file.
    state = engine.state()
    state['hostconfig'][before['tuic-server']] = dict(LIMITS['tuic-server'])
    state['hostconfig'][before['filebrowser']] = dict(LIMITS['filebrowser'])
    engine.save(state)
    code, result = module_runner(main, engine.params(recreate=['hysteria'],
                                                     expected=dict((s, expected(s)) for s in LIMITS)))
    assert code == 0 and result['changed'] and result['recreated'] == ['hysteria'], result
    assert engine.calls('up') == ['docker compose -f %s up --detach --no-deps --force-recreate hysteria' % engine.compose]
    after = engine.ids()
    assert after['hysteria'] != before['hysteria']
    assert dict((s, after[s]) for s in ('tuic-server', 'filebrowser')) == \
        dict((s, before[s]) for s in ('tuic-server', 'filebrowser'))
    assert result['containers']['hysteria'] == [{'id': after['hysteria'][:12], 'name': 'proj-hysteria-1',
                                                 'memory': 96 * MIB, 'memory_swap': 160 * MIB, 'pids_limit': 128,
                                                 'oom_score_adj': 500}]
    assert sorted(result['containers']) == sorted(LIMITS) and result['swap_limit_support'] is True
    assert result['compose_command'] == 'docker compose' and result['not_running'] == []
    assert result['diff']['before'] == 'hysteria: %s\n' % before['hysteria']
    assert result['diff']['after'] == 'hysteria: (recreated)\n'


def test_nothing_to_recreate_only_checks_and_reports_no_change(engine, module_runner):
    engine.set(hostconfig=dict((engine.ids()[s], dict(LIMITS[s])) for s in LIMITS))
    code, result = module_runner(main, engine.params(expected={'hysteria': expected('hysteria')}))
    assert code == 0 and not result['changed'] and result['recreated'] == [] and engine.calls('up') == []
    assert list(result['containers']) == ['hysteria']


def test_nothing_at_all_calls_nothing(engine, module_runner):
    code, result = module_runner(main, engine.params())
    assert code == 0 and not result['changed'] and engine.calls() == []


def test_a_value_the_engine_dropped_fails(engine, module_runner):
    # The container runs as created before the file changed: nothing was recreated.
    code, result = module_runner(main, engine.params(expected={'hysteria': expected('hysteria')}))
    assert code == 1
    assert result['msg'].startswith('compose_recreate: the engine does not show the limits of the compose file: '
                                    'proj-hysteria-1: HostConfig.Memory: expected 100663296, the engine has 0')
    assert 'was the container recreated after the file changed?' in result['msg']
    assert 'HostConfig.OomScoreAdj: expected 500, the engine has 0' in result['msg']


def test_no_swap_accounting_is_a_warning_unless_required(engine, module_runner):
    engine.set(swap_limit=False)   # the fake engine then shows MemorySwap -1, as dockerd does
    code, result = module_runner(main, engine.params(recreate=['hysteria'], expected={'hysteria': expected('hysteria')}))
    assert code == 0 and result['swap_limit_support'] is False
    assert warnings(result) == ['this host cannot enforce swap limits: docker info reports no swap limit support (the '
                                'kernel does not account swap for cgroups; on cgroup v1 boot with swapaccount=1), so '
                                'proj-hysteria-1 may use swap beyond memswap_limit']
    code, result = module_runner(main, engine.params(expected={'hysteria': expected('hysteria')},
                                                     require_swap_limit=True))
    assert code == 1 and 'HostConfig.MemorySwap: expected 167772160, the engine has -1' in result['msg']
    assert 'no swap limit support' in result['msg']


def test_check_mode_recreates_nothing_and_checks_only_the_others(engine, module_runner):
    before = engine.ids()
    engine.set(hostconfig={before['hysteria']: UNLIMITED, before['tuic-server']: LIMITS['tuic-server'],
                           before['filebrowser']: UNLIMITED})
    code, result = module_runner(main, engine.params(_ansible_check_mode=True, recreate=['hysteria'],
                                                     expected={'hysteria': expected('hysteria'),
                                                               'tuic-server': expected('tuic-server')}))
    assert code == 0 and result['changed'] and result['recreated'] == ['hysteria'], result
    assert engine.calls('up') == [] and engine.ids() == before
    assert list(result['containers']) == ['tuic-server']


def test_a_service_without_a_running_container_is_reported(engine, module_runner):
    state = engine.state()
    state['containers']['filebrowser'] = []
    engine.save(state)
    code, result = module_runner(main, engine.params(expected={'filebrowser': expected('filebrowser')}))
    assert code == 0 and result['not_running'] == ['filebrowser'] and result['containers'] == {}
    assert warnings(result) == ['not running, so not checked with docker inspect: filebrowser (start them with docker '
                                'compose -f %s up -d)' % engine.compose]


def test_falls_back_to_docker_compose_v1(engine, module_runner):
    engine.set(plugin=False)
    code, result = module_runner(main, engine.params(recreate=['tuic-server'],
                                                     expected={'tuic-server': expected('tuic-server')}))
    assert code == 0 and result['compose_command'] == 'docker-compose'
    assert engine.calls('up') == ['docker-compose -f %s up --detach --no-deps --force-recreate tuic-server'
                                  % engine.compose]


def test_a_failing_up_is_reported(engine, module_runner):
    engine.set(up_fails=True)
    before = engine.ids()
    code, result = module_runner(main, engine.params(recreate=['hysteria', 'tuic-server']))
    assert code == 1 and result['msg'] == ('compose_recreate: docker compose up --force-recreate hysteria tuic-server '
                                           'failed: Error response from daemon: Conflict')
    assert result['recreated'] == [] and engine.ids() == before


@pytest.mark.parametrize('params, message', [
    (dict(recreate=['--all']), "recreate: '--all' is not a service name"),
    (dict(recreate=['hysteria', 'hysteria']), 'recreate names a service twice'),
    (dict(expected={'hysteria': {'HostConfig.Memroy': 1}}), 'expected.hysteria: unknown key(s) HostConfig.Memroy'),
    (dict(expected={'hysteria': 96}), 'expected.hysteria must be a dict'),
])
def test_bad_input_recreates_nothing(engine, module_runner, params, message):
    before = engine.ids()
    code, result = module_runner(main, engine.params(**params))
    assert code == 1 and message in result['msg'] and result['msg'].endswith('; nothing was recreated')
    assert engine.calls() == [] and engine.ids() == before


def test_a_missing_compose_file_is_refused(engine, module_runner):
    code, result = module_runner(main, dict(path=str(engine.compose) + '.nope', recreate=['hysteria']))
    assert code == 1 and 'compose.yml.nope does not exist or is not a file' in result['msg'] and engine.calls() == []


def test_without_docker_it_says_what_is_missing(engine, module_runner, monkeypatch, tmp_path):
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    code, result = module_runner(main, engine.params(recreate=['hysteria']))
    assert code == 1 and 'the docker CLI and docker compose (the v2 plugin) or docker-compose are needed' in result['msg']


def test_check_params_and_verify_directly():
    assert check_params(None, None) == ([], {})
    with pytest.raises(EngineError, match="recreate: '' is not a service name"):
        check_params([''], {})
    container = {'Name': '/p-a-1', 'HostConfig': {'Memory': 1, 'MemorySwap': -1, 'PidsLimit': 0, 'OomScoreAdj': 0}}
    want = {'HostConfig.Memory': 1, 'HostConfig.MemorySwap': 4, 'HostConfig.PidsLimit': None}
    # swap support unknown (None) counts as missing for a dropped swap limit
    errors, notes = verify({'a': want}, {'a': [container]}, None, False)
    assert errors == [] and len(notes) == 1 and 'p-a-1 may use swap' in notes[0]
    errors, notes = verify({'a': want}, {'a': [container]}, True, False)
    assert len(errors) == 1 and errors[0].startswith('p-a-1: HostConfig.MemorySwap: expected 4, the engine has -1')


UNLIMITED_COMPOSE = '\n'.join(line for line in COMPOSE.splitlines()
                              if not line.strip().startswith(('mem_limit', 'memswap_limit', 'pids_limit',
                                                              'oom_score_adj'))) + '\n'


def test_compose_limits_then_recreate_shows_what_the_written_file_asks_for(engine, module_runner):
    """The role's two steps: compose_limits writes the limits, compose_recreate recreates the services it changed
    and the (fake) engine builds them from the file on disk: a wrong value written, or a service recreated other
    than the one whose limits changed, shows in docker inspect."""
    from ansible_collections.lowmem.vps.plugins.modules.compose_limits import main as limits_main

    engine.compose.write_text(UNLIMITED_COMPOSE)
    before = engine.ids()
    code, written = module_runner(limits_main, {'path': str(engine.compose), 'validate': False, 'services': {
        'hysteria': {'mem_limit': '96m', 'memswap_limit': '160m', 'pids_limit': 128, 'oom_score_adj': 500},
        'tuic-server': {'mem_limit': '64m', 'memswap_limit': '128m', 'pids_limit': 128, 'oom_score_adj': 500}}})
    assert code == 0 and written['changed'] and sorted(written['changed_services']) == ['hysteria', 'tuic-server']
    code, result = module_runner(main, engine.params(recreate=written['changed_services'],
                                                     expected={s: expected(s) for s in ('hysteria', 'tuic-server')}))
    assert code == 0 and sorted(result['recreated']) == ['hysteria', 'tuic-server'], result
    after = engine.ids()
    assert after['filebrowser'] == before['filebrowser'], 'a service whose limits did not change was recreated'
    assert [c['memory'] for c in result['containers']['tuic-server']] == [64 * MIB]
    assert [c['memory_swap'] for c in result['containers']['hysteria']] == [160 * MIB]


def test_recreating_the_wrong_service_is_caught(engine, module_runner):
    """The file asks hysteria for limits its running container lacks; recreating tuic-server does not help."""
    engine.set(hostconfig=dict((cid, dict(UNLIMITED)) for cid in engine.ids().values()))
    code, result = module_runner(main, engine.params(recreate=['tuic-server'], expected={'hysteria': expected('hysteria')}))
    assert code == 1 and 'proj-hysteria-1: HostConfig.Memory: expected 100663296, the engine has 0' in result['msg']
