# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.compose_engine import EngineError, EngineFailure
from ansible_collections.lowmem.vps.plugins.module_utils.daemon_json import DaemonJsonError, DaemonJsonFailure
from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.kernels import KernelError, KernelFailure
from ansible_collections.lowmem.vps.plugins.module_utils.oom import OomError, OomFailure
from ansible_collections.lowmem.vps.plugins.module_utils.swap import SwapError, SwapFailure

REFUSED = (EngineError, DaemonJsonError, KernelError, OomError, SwapError)
PARTIAL = (EngineFailure, DaemonJsonFailure, KernelFailure, OomFailure, SwapFailure)


@pytest.mark.parametrize('cls', REFUSED)
def test_refusals_are_value_errors_of_the_shared_kind(cls):
    assert issubclass(cls, RefusedError) and issubclass(cls, ValueError) and not issubclass(cls, PartialFailure)
    assert str(cls('no')) == 'no'


@pytest.mark.parametrize('cls', PARTIAL)
def test_partial_failures_carry_what_was_done(cls):
    assert issubclass(cls, PartialFailure) and not issubclass(cls, ValueError)
    assert cls('broke').result == {} and cls('broke', {'changed': True}).result == {'changed': True}
    assert str(cls('broke', {})) == 'broke'


def test_each_module_catches_only_its_own():
    with pytest.raises(SwapError):
        try:
            raise SwapError('bad size')
        except OomError:  # another module's refusal must not catch it
            pytest.fail('OomError caught a SwapError')
