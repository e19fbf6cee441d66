"""Shared pytest fixtures."""
from __future__ import annotations

import os

import pytest

# No screen in CI: Qt draws offscreen. Set before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The app's thread policy (renderer/thread_policy.py) for the tests too: importing the library
# before any test module imports torch applies it.
import renderer  # noqa: E402,F401  (isort: skip)


@pytest.fixture(scope="session")
def gl_renderer():
    """One GLRenderer on a headless EGL context for the whole test session."""
    from renderer.gl import GLRenderer, create_context

    # no skip on failure: a missing EGL/Mesa install must turn CI red, not hide the GL tests
    ctx = create_context(backend="egl")
    renderer = GLRenderer(ctx)
    yield renderer
    renderer.release()
    ctx.release()
