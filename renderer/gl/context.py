"""Standalone OpenGL contexts for the reference renderer (headless, no window, no Qt)."""
from __future__ import annotations

from typing import Optional

import moderngl

# gl_PrimitiveID in fragment shaders, float colour attachments and multiple render targets.
MIN_GL_VERSION = 330


def create_context(backend: Optional[str] = "egl") -> moderngl.Context:
    """A standalone (offscreen) moderngl context of OpenGL 3.3 core or newer.

    backend: "egl" (headless; works with Mesa's llvmpipe on machines without a GPU or display),
    or None for moderngl's platform default (GLX/WGL/CGL, needs a display).
    Raises RuntimeError with a hint when no context can be made.
    """
    kwargs = {"require": MIN_GL_VERSION}
    if backend is not None:
        kwargs["backend"] = backend
    try:
        ctx = moderngl.create_standalone_context(**kwargs)
    except Exception as exc:  # moderngl raises plain Exception subclasses from several layers
        hint = ("a headless EGL context needs libEGL and Mesa (e.g. the Debian/Ubuntu packages "
                "libegl1 and libgl1-mesa-dri, which provide the llvmpipe software renderer)"
                if backend == "egl" else
                "try backend='egl' for a headless context (needs libEGL and Mesa)")
        raise RuntimeError(f"could not create a standalone OpenGL {MIN_GL_VERSION // 100}."
                           f"{MIN_GL_VERSION // 10 % 10} context (backend={backend!r}): {exc}; "
                           f"{hint}") from exc
    return ctx
