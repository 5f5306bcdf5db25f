# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""tools/role-readmes: every committed roles/<role>/README.md is what the generator writes from the role's
meta/argument_specs.yml (this test fails when one is out of date), and the generator on a small role under tmp_path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
TOOL = os.path.join(ROOT, 'tools', 'role-readmes')


def run(*args):
    return subprocess.run([sys.executable, TOOL] + list(args), capture_output=True, text=True, timeout=120,
                          check=False)


def test_every_role_readme_is_up_to_date():
    done = run('--check', '--root', ROOT)
    assert done.returncode == 0, 'role READMEs are stale - run .venv/bin/python tools/role-readmes:\n' + done.stderr
    roles = sorted(n for n in os.listdir(os.path.join(ROOT, 'roles'))
                   if os.path.isfile(os.path.join(ROOT, 'roles', n, 'meta', 'argument_specs.yml')))
    assert roles
    for role in roles:
        assert os.path.isfile(os.path.join(ROOT, 'roles', role, 'README.md')), role


SPEC = """---
argument_specs:
  main:
    short_description: A small role
    description:
      - Writes C(/etc/thing) when O(demo_enabled) is true.
      - Second paragraph | with a pipe.
    options:
      demo_enabled:
        type: bool
        default: true
        description: Run the role's tasks.
      demo_mode:
        type: str
        choices: [fast, slow]
        description: The mode.
      demo_items:
        type: list
        elements: dict
        required: true
        description: Items.
        options:
          name:
            type: str
            required: true
            description: Item name.
"""

TASKS = """---
- name: Include
  ansible.builtin.include_tasks:
    file: other.yml
    apply:
      tags: [demo]
  tags: [demo, always]
- name: One more
  ansible.builtin.debug:
    msg: "{{ demo_mode }}"
  tags: extra
"""


def make_role(tmp_path):
    role = tmp_path / 'roles' / 'demo'
    (role / 'meta').mkdir(parents=True)
    (role / 'defaults').mkdir()
    (role / 'tasks').mkdir()
    (role / 'meta' / 'argument_specs.yml').write_text(SPEC)
    (role / 'defaults' / 'main.yml').write_text('---\ndemo_enabled: true\ndemo_mode: slow\n')
    (role / 'tasks' / 'main.yml').write_text(TASKS)
    return role


def test_generator_on_a_small_spec(tmp_path):
    role = make_role(tmp_path)
    readme = role / 'README.md'
    done = run('--check', '--root', str(tmp_path))
    assert done.returncode == 1 and 'roles/demo/README.md' in done.stderr
    assert not readme.exists()

    done = run('--root', str(tmp_path))
    assert done.returncode == 0, done.stderr
    text = readme.read_text()
    assert '# lowmem.vps.demo' in text
    assert 'A small role' in text
    assert 'Writes `/etc/thing` when `demo_enabled` is true.' in text
    assert 'Second paragraph | with a pipe.' in text
    # spec default; defaults/main.yml where the spec has none; choices; required; suboptions
    assert '| `demo_enabled` | bool | `true` | no |  | Run the role\'s tasks. |' in text
    assert '| `demo_mode` | str | `slow` | no | `fast`, `slow` | The mode. |' in text
    assert '| `demo_items` | list of dict |  | yes |  | Items. |' in text
    assert '| `demo_items[].name` | str |  | yes |  | Item name. |' in text
    assert '`always`, `demo`, `extra`' in text
    assert '    - role: lowmem.vps.demo\n      vars:\n        demo_items: ...  # required' in text
    # rows sorted by name
    assert text.index('`demo_enabled`') < text.index('`demo_items`') < text.index('`demo_mode`')

    # deterministic: a rerun writes nothing, --check passes
    assert run('--root', str(tmp_path)).stdout == ''
    assert run('--check', '--root', str(tmp_path)).returncode == 0

    # a hand edit, or a spec change, makes it stale
    readme.write_text(text.replace('The mode.', 'Edited by hand.'))
    done = run('--check', '--root', str(tmp_path))
    assert done.returncode == 1 and 'roles/demo/README.md' in done.stderr
    run('--root', str(tmp_path))
    (role / 'meta' / 'argument_specs.yml').write_text(SPEC.replace('The mode.', 'The new mode.'))
    assert run('--check', '--root', str(tmp_path)).returncode == 1
    assert readme.read_text() == text  # --check wrote nothing


def test_copy_of_the_checkout_with_an_edited_readme_fails(tmp_path):
    roles = tmp_path / 'roles'
    shutil.copytree(os.path.join(ROOT, 'roles'), str(roles))
    readme = roles / 'swap' / 'README.md'
    readme.write_text(readme.read_text() + '\nA hand-written line.\n')
    done = run('--check', '--root', str(tmp_path))
    assert done.returncode == 1
    assert 'roles/swap/README.md' in done.stderr and 'roles/zswap/README.md' not in done.stderr
