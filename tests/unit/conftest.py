# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make ``ansible_collections.lowmem.vps`` importable from this checkout, and share test helpers."""

from __future__ import annotations

import contextlib
import json
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
LINK = os.path.join(COLLECTIONS, 'ansible_collections', 'lowmem', 'vps')

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(os.path.join('..', '..', '..', '..'), LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


def run_module(main, args, capsys):
    """Run a module's main() with ``args``; return (exit code, parsed JSON result)."""
    from ansible.module_utils.testing import patch_module_args

    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            main()
    out = capsys.readouterr().out
    return exited.value.code, json.loads(out)


@pytest.fixture
def module_runner(capsys):
    return lambda main, args: run_module(main, args, capsys)


@pytest.fixture
def ansible_module():
    """A real AnsibleModule (real atomic_move, fail_json) built with check mode on or off.

    The module arguments stay patched until the test ends, so fail_json works as on a host.
    """
    from ansible.module_utils.basic import AnsibleModule
    from ansible.module_utils.testing import patch_module_args

    with contextlib.ExitStack() as stack:
        def build(check_mode=False):
            stack.enter_context(patch_module_args({'_ansible_check_mode': check_mode}))
            return AnsibleModule(argument_spec={}, supports_check_mode=True)
        yield build


@pytest.fixture
def commands_in_path(tmp_path, monkeypatch):
    """commands_in_path(name=script_text, ...) -> the directory (tmp_path/bin) holding each fake command as an
    executable script, put first in PATH for the test; ``env`` variables (FAKE_LOG...) are set too."""
    from ansible_collections.lowmem.vps.tests.unit.plugins.modules import fakes

    def install(env=None, **scripts):
        directory = fakes.install(tmp_path, monkeypatch, scripts.items())
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, str(value))
        return directory
    return install


@pytest.fixture(autouse=True)
def module_side_of_ansible(monkeypatch):
    """Run every test as a module runs on a host.

    Importing controller code (ansible.errors, for the filter plugin tests) flips a process-wide switch that sends
    module warnings to the controller's display instead of the module result; and module warnings live in
    process-wide dicts. Both are reset for each test.
    """
    from ansible.module_utils import _internal
    from ansible.module_utils.common import warnings

    monkeypatch.setattr(_internal, 'is_controller', False)
    warnings._global_warnings.clear()
    warnings._global_deprecations.clear()
    yield
