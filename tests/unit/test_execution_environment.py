# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""execution-environment.yml: `ansible-builder create` accepts it and the build context holds what the EE needs.

Building the image needs podman or docker and a registry (or mirror) serving the base image, which this machine lacks;
`create` validates the file against schema 3 and writes the Containerfile and requirement files the build would use.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BUILDER = os.path.join(os.path.dirname(sys.executable), 'ansible-builder')


def create(tmp_path, definition=os.path.join(ROOT, 'execution-environment.yml')):
    context = tmp_path / 'context'
    proc = subprocess.run([BUILDER, 'create', '-f', str(definition), '-c', str(context), '--output-filename',
                           'Containerfile'], capture_output=True, text=True, cwd=str(tmp_path), check=False)
    return proc, context


def test_the_context_installs_the_tested_core_the_collection_and_its_dependencies(tmp_path):
    proc, context = create(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (context / 'Containerfile').read_text()
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', containerfile, re.M).group(1)
    pinned = re.search(r'^ansible-core==(\d+)\.(\d+)\.', open(os.path.join(ROOT, 'requirements', 'test.txt')).read(),
                       re.M).groups()
    # the EE's ansible-core range holds the ansible-core the tests run on
    assert 'ansible-core>=%s.%s,<%s.%d' % (pinned[0], pinned[1], pinned[0], int(pinned[1]) + 1) in refs.split()
    assert 'ansible-galaxy collection install' in containerfile
    collections = yaml.safe_load((context / '_build' / 'requirements.yml').read_text())['collections']
    names = [entry['name'] for entry in collections]
    assert any(name.endswith('/vps.git') or name == 'lowmem.vps' for name in names), names
    # every collection the roles use at run time, with the range galaxy.yml declares
    galaxy = yaml.safe_load(open(os.path.join(ROOT, 'galaxy.yml')).read())
    general = [entry for entry in collections if entry['name'] == 'community.general']
    assert general and general[0]['version'] == galaxy['dependencies']['community.general']
    assert 'sshpass' in (context / '_build' / 'bindep.txt').read_text()


def test_a_broken_definition_is_refused(tmp_path):
    broken = tmp_path / 'ee.yml'
    definition = yaml.safe_load(open(os.path.join(ROOT, 'execution-environment.yml')).read())
    definition['dependencies']['galaxy_requirements'] = definition['dependencies'].pop('galaxy')
    broken.write_text(yaml.safe_dump(definition))
    proc, context = create(tmp_path, broken)
    assert proc.returncode != 0
    assert 'galaxy_requirements' in proc.stdout + proc.stderr
    assert not (context / 'Containerfile').exists()
