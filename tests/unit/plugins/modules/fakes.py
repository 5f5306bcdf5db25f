# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fake commands for the module tests: real executables (shell scripts) first in PATH."""
from __future__ import annotations

import os


def install(root, monkeypatch, scripts):
    """Write each (name, script) of ``scripts`` as an executable in ``root/bin`` and put that directory first in PATH;
    returns it."""
    bin_dir = root / 'bin'
    bin_dir.mkdir(exist_ok=True)
    for name, script in scripts:
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv('PATH', '%s:%s' % (bin_dir, os.environ.get('PATH', '')))
    return bin_dir
