# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tarball `ansible-galaxy collection build` makes holds what users run, and nothing of the development harness.

galaxy.yml's build_ignore decides; its patterns match the path from the top of the collection, so a cache below the
top (molecule/default/.cache/) needs a pattern of its own. Both tests build with the venv's ansible-galaxy and list
the tarball: one builds this checkout as it is, the other a copy with caches and editor files planted at depth.
The last test keeps galaxy.yml's dependencies to the collections the content uses at run time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
GALAXY = os.path.join(os.path.dirname(sys.executable), 'ansible-galaxy')

# Whole trees users get.
ALLOWED_TREES = ('plugins', 'roles', 'playbooks', 'meta', 'docs', 'LICENSES', 'inventories/example')
# Single files users get (the changelog's fragments are the developers' input to it, not part of it).
ALLOWED_FILES = frozenset((
    'MANIFEST.json', 'FILES.json', 'README.md', 'LICENSE', 'bindep.txt', 'execution-environment.yml',
    'CHANGELOG.rst', 'CHANGELOG.md', 'changelogs/changelog.yaml', 'changelogs/config.yaml',
))
# Must be there: the licence the file headers point at, the packages the modules need on a host, and the changelog
# (the release notes users read and the data antsibull-changelog and Galaxy read them from).
REQUIRED = ('LICENSE', 'LICENSES/GPL-3.0-or-later.txt', 'bindep.txt', 'README.md', 'meta/runtime.yml',
            'playbooks/harden.yml', 'inventories/example/hosts.yml', 'CHANGELOG.rst', 'changelogs/changelog.yaml')
JUNK_NAMES = frozenset(('.cache', '__pycache__', '.git', '.pytest_cache', '.mypy_cache', '.ruff_cache', '.tox',
                        '.venv', '.ansible', '.build', '.DS_Store'))
JUNK_SUFFIXES = ('.pyc', '.pyo', '.swp', '~', '.orig', '.rej', '.retry', '.tar.gz')


def build_tarball(tmp_path, source):
    out = tmp_path / 'out'
    proc = subprocess.run([GALAXY, 'collection', 'build', str(source), '--output-path', str(out)],
                          capture_output=True, text=True, cwd=str(tmp_path), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarballs = list(out.glob('lowmem-vps-*.tar.gz'))
    assert len(tarballs) == 1, tarballs
    return tarballs[0]


def build(tmp_path, source):
    with tarfile.open(str(build_tarball(tmp_path, source))) as tar:
        return [(member.name.rstrip('/'), member.isdir()) for member in tar.getmembers()]


def allowed(name, is_dir):
    if name in ALLOWED_FILES:
        return True
    if any(name == tree or name.startswith(tree + '/') for tree in ALLOWED_TREES):
        return True
    # the directories that lead to an allowed file or tree
    return is_dir and any(path.startswith(name + '/') for path in ALLOWED_TREES + tuple(ALLOWED_FILES))


def junk(name):
    return any(part in JUNK_NAMES for part in name.split('/')) or name.endswith(JUNK_SUFFIXES)


def problems(members):
    found = []
    for name, is_dir in members:
        if junk(name):
            found.append('junk: ' + name)
        elif not allowed(name, is_dir):
            found.append('not for users: ' + name)
    names = {name for name, _is_dir in members}
    found.extend('missing: ' + name for name in REQUIRED if name not in names)
    return found


def test_the_checkout_builds_to_what_users_run(tmp_path):
    members = build(tmp_path, ROOT)
    assert problems(members) == []
    # the harness stays out, by name as well as by the allow-list
    tops = {name.split('/')[0] for name, _is_dir in members}
    assert not tops & {'tests', 'tools', 'molecule', 'bench', 'requirements', 'Makefile', 'ansible.cfg',
                       '.ansible-lint', '.ci'}, tops


PLANTED = (
    'molecule/default/.cache/roles/x.yml',
    'roles/swap/.cache/facts.json',
    'plugins/modules/__pycache__/swapfile.cpython-311.pyc',
    'plugins/module_utils/sizes.pyc',
    'roles/swap/tasks/.main.yml.swp',
    'docs/.pytest_cache/v/cache/lastfailed',
    'inventories/example/.git',
    'playbooks/.ansible/tmp/x',
    'roles/earlyoom/defaults/main.yml~',
    'inventories/lab/hosts.yml',
    'changelogs/fragments/x.yml',
    'plugins/.mypy_cache/x.json',
)


def test_caches_and_editor_files_at_any_depth_stay_out(tmp_path):
    source = tmp_path / 'src' / 'ansible_collections' / 'lowmem' / 'vps'
    shutil.copytree(ROOT, str(source), symlinks=True,
                    ignore=shutil.ignore_patterns('.venv', '.build', '.git', '.ansible', '.cache', '__pycache__',
                                                  'output', 'tests', 'molecule', 'bench', 'tools'))
    for planted in PLANTED:
        path = source / planted
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('planted\n')
    members = build(tmp_path, source)
    assert problems(members) == []
    assert not set(PLANTED) & {name for name, _is_dir in members}


def test_the_declared_dependencies_are_the_collections_the_content_uses():
    # a task keyword (`community.general.ufw:`), a `collections:` entry or a Python import of another collection
    used = set()
    keyword = re.compile(r'^\s*(?:-\s+)?([a-z0-9_]+\.[a-z0-9_]+)\.[a-z0-9_]+:', re.M)
    imported = re.compile(r'ansible_collections\.([a-z0-9_]+\.[a-z0-9_]+)\.')
    for top in ('plugins', 'roles', 'playbooks'):
        for dirpath, _dirs, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if name.endswith(('.yml', '.yaml')):
                    used.update(keyword.findall(open(os.path.join(dirpath, name)).read()))
                elif name.endswith('.py'):
                    used.update(imported.findall(open(os.path.join(dirpath, name)).read()))
    used -= {'ansible.builtin', 'ansible.legacy', 'lowmem.vps'}
    with open(os.path.join(ROOT, 'galaxy.yml')) as f:
        declared = set(yaml.safe_load(f)['dependencies'])
    assert used == declared


def test_the_installed_tarballs_role_docs_agree_with_the_role_readmes(tmp_path):
    """What `ansible-doc -t role` shows a user of the installed collection is what roles/*/README.md says."""
    tarball = build_tarball(tmp_path, ROOT)
    installed = tmp_path / 'collections'
    proc = subprocess.run([GALAXY, 'collection', 'install', '--no-deps', '-p', str(installed), str(tarball)],
                          capture_output=True, text=True, cwd=str(tmp_path), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    roles = sorted(os.listdir(os.path.join(ROOT, 'roles')))
    config = tmp_path / 'ansible.cfg'  # not the checkout's (it points at .build/collections)
    config.write_text('[defaults]\n')
    environ = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false',
                   ANSIBLE_CONFIG=str(config))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-doc'), '-t', 'role', '--json']
                          + ['lowmem.vps.' + role for role in roles],
                          capture_output=True, text=True, cwd=str(tmp_path), env=environ, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    docs = json.loads(proc.stdout)
    assert sorted(docs) == ['lowmem.vps.' + role for role in roles]
    row = re.compile(r'^\| `([a-z0-9_]+)` \|', re.M)
    for role in roles:
        with open(os.path.join(ROOT, 'roles', role, 'README.md')) as handle:
            readme = handle.read()
        entry_points = docs['lowmem.vps.' + role]['entry_points']
        options = set()
        for entry in entry_points.values():
            options.update(entry.get('options') or {})
            assert ' '.join(entry['short_description'].split()) in ' '.join(readme.split()), (role, entry['short_description'])
        assert set(row.findall(readme)) == options, role
