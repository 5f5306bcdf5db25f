# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every module's documented attributes (check_mode, diff_mode, idempotent) are there and say the truth, as far as a
text check can tell: a module documented with a diff has one in its code path, an info module claims none."""
from __future__ import annotations

import ast
import glob
import os
import re

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
MODULES = sorted(os.path.splitext(os.path.basename(path))[0]
                 for path in glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py')) if not path.endswith('__init__.py'))
FRAGMENT = os.path.join(ROOT, 'plugins', 'doc_fragments', 'attributes.py')
SUPPORT = ('full', 'partial', 'none', 'N/A')
ATTRIBUTES = ('check_mode', 'diff_mode', 'idempotent')
INFO = 'lowmem.vps.attributes.info_module'
IMPORT_RE = re.compile(r'^from ansible_collections\.lowmem\.vps\.plugins\.module_utils\.(\w+) import', re.MULTILINE)
DIFF_RE = re.compile(r'''\bdiff\s*=|['"]diff['"]|\.diff\(\)''')


def constants(path, kind):
    """The string constants assigned at the top of ``path`` (a module: DOCUMENTATION; the fragment class: its own)."""
    with open(path) as handle:
        tree = ast.parse(handle.read())
    nodes = tree.body
    if kind == 'fragment':
        nodes = next(node for node in tree.body if isinstance(node, ast.ClassDef)).body
    return dict((node.targets[0].id, node.value.value) for node in nodes
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str))


def source(name):
    with open(os.path.join(ROOT, 'plugins', 'modules', '%s.py' % name)) as handle:
        return handle.read()


def code_path(name, skip=(), deep=True):
    """The module's source and the module_utils it imports (with ``deep``, theirs too), but those in ``skip``."""
    texts, seen, todo = [source(name)], set(skip), IMPORT_RE.findall(source(name))
    while todo:
        util = todo.pop()
        if util in seen:
            continue
        seen.add(util)
        with open(os.path.join(ROOT, 'plugins', 'module_utils', '%s.py' % util)) as handle:
            text = handle.read()
        texts.append(text)
        if deep:
            todo.extend(IMPORT_RE.findall(text))
    return '\n'.join(texts)


def documentation(name):
    """The module's DOCUMENTATION with the lowmem.vps.attributes fragments merged as ansible-doc merges them."""
    doc = yaml.safe_load(constants(os.path.join(ROOT, 'plugins', 'modules', '%s.py' % name), 'module')['DOCUMENTATION'])
    fragments = constants(FRAGMENT, 'fragment')
    attributes = {}
    for fragment in doc.get('extends_documentation_fragment') or []:
        if not fragment.startswith('lowmem.vps.attributes'):
            continue
        variant = fragment[len('lowmem.vps.attributes'):].lstrip('.').upper() or 'DOCUMENTATION'
        for key, value in yaml.safe_load(fragments[variant])['attributes'].items():
            attributes.setdefault(key, {}).update(value)
    for key, value in (doc.get('attributes') or {}).items():
        attributes.setdefault(key, {}).update(value)
    return doc, attributes


def test_every_module_is_checked():
    assert len(MODULES) >= 15


@pytest.mark.parametrize('name', MODULES)
def test_attributes_documented_with_valid_support(name):
    doc, attributes = documentation(name)
    assert 'lowmem.vps.attributes' in doc['extends_documentation_fragment']
    for key in ATTRIBUTES:
        assert key in attributes, '%s: no %s attribute' % (name, key)
        assert attributes[key].get('description'), '%s: %s has no description' % (name, key)
        assert attributes[key].get('support') in SUPPORT, '%s: %s support %r' % (name, key, attributes[key].get('support'))
        if attributes[key]['support'] == 'partial':
            assert attributes[key].get('details'), '%s: %s is partial but does not say why' % (name, key)


@pytest.mark.parametrize('name', MODULES)
def test_diff_claimed_only_where_the_code_returns_one(name):
    doc, attributes = documentation(name)
    claimed = attributes['diff_mode']['support'] in ('full', 'partial')
    if claimed:
        assert DIFF_RE.search(code_path(name)), '%s: diff_mode is %s but its code path returns no diff' % (
            name, attributes['diff_mode']['support'])
    if INFO in doc['extends_documentation_fragment'] or name.endswith(('_facts', '_info')):
        assert not claimed, '%s: an info/facts module claims to return a diff' % name
        assert attributes['check_mode']['support'] == 'full'


@pytest.mark.parametrize('name', MODULES)
def test_check_mode_claimed_only_where_the_module_supports_it(name):
    _doc, attributes = documentation(name)
    if attributes['check_mode']['support'] in ('full', 'partial'):
        assert 'supports_check_mode=True' in source(name)


def test_info_modules_never_report_changed():
    # The module and the module_utils it imports itself (a helper it borrows from another module's code path, such as
    # oom.show_blocks, can sit next to that module's writes); result.py and errors.py are the shared failure path,
    # where changed=True only follows a recorded write.
    for name in MODULES:
        doc, _attributes = documentation(name)
        if INFO in doc['extends_documentation_fragment']:
            assert not re.search(r'changed\s*=\s*True', code_path(name, skip=('result', 'errors'), deep=False)), name
