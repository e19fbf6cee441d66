"""The OpenGL (moderngl) reference renderer: hard rasterization of the same Scene, exact floats.

``GLRenderer(ctx).render(scene)`` and ``render_gl(scene)`` return float32 numpy buffers with row 0
at the top (rgb, alpha, depth, face_id, normal, position); see ``GLRenderer.render``.
"""
from .context import create_context
from .reference import GLRenderer, render_gl

__all__ = ["GLRenderer", "create_context", "render_gl"]
