"""Shared pytest fixtures."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def gl_renderer():
    """One GLRenderer on a headless EGL context for the whole test session."""
    from renderer.gl import GLRenderer, create_context

    try:
        ctx = create_context(backend="egl")
    except RuntimeError as exc:  # no libEGL / Mesa on this machine: GL tests cannot run here
        pytest.skip(str(exc))
    renderer = GLRenderer(ctx)
    yield renderer
    renderer.release()
    ctx.release()
