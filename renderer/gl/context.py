"""Standalone OpenGL contexts for the reference renderers (headless, no window, no Qt), the one
readback that flips GL's bottom-up rows, and the per-context renderer cache they share."""
from __future__ import annotations

import threading
from typing import Any, Callable, Optional

import moderngl
import numpy as np

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


def read_attachment(fbo: moderngl.Framebuffer, attachment: int, components: int, size: int) -> np.ndarray:
    """One float attachment as (size, size, components), row 0 at the TOP.

    GL's row 0 is the bottom of the window; every GL reference reads through here, so this is the
    one place images are flipped.
    """
    raw = fbo.read(attachment=attachment, components=components, dtype="f4")
    plane = np.frombuffer(raw, dtype=np.float32).reshape(size, size, components)
    return np.ascontiguousarray(plane[::-1])


class PerContext:
    """One renderer per GL context, made on first use by ``factory(ctx)`` (ctx None: the
    renderer makes and owns a standalone EGL context, one per thread: a context can be current
    in one thread only, and the GUI renders references from several worker threads); a released
    one is made again."""

    def __init__(self, factory: Callable[[Optional[moderngl.Context]], Any]) -> None:
        self._factory = factory
        self._renderers: dict[tuple, Any] = {}

    def get(self, ctx: Optional[moderngl.Context] = None):
        key = ("thread", threading.get_ident()) if ctx is None else ("context", id(ctx))
        renderer = self._renderers.get(key)
        if renderer is None or getattr(renderer, "_released", False):
            renderer = self._renderers[key] = self._factory(ctx)
        return renderer
