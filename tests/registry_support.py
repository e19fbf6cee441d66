"""Registering the toy renderer for one test and removing it afterwards."""
from __future__ import annotations

import importlib
import sys

import pytest

TOY_MODULE = "tests.toy_renderer"


@pytest.fixture
def toy_renderer():
    """Import tests/toy_renderer.py (its import registers "toy_flat"); unregister it after the
    test and forget the module, so that the next import registers it again."""
    from renderer.registry import unregister_renderer

    module = importlib.import_module(TOY_MODULE)
    from renderer.registry import register_renderer

    register_renderer(module.SPEC)          # again, in case an earlier test unregistered it
    yield module.SPEC
    unregister_renderer(module.SPEC.name)
    sys.modules.pop(TOY_MODULE, None)
