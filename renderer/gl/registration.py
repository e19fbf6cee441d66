"""The OpenGL reference's entry in the registry: exact, hard, not differentiable."""
from __future__ import annotations

import torch

from ..fragments import RenderOutput
from ..registry import RendererSpec, register_renderer


def render_reference(scene, with_pairs: bool = False) -> RenderOutput:
    """The GL render of ``scene`` as a RenderOutput of CPU tensors (see ``GLRenderer.render``)."""
    from .reference import render_gl   # moderngl loads only when a GL render is asked for

    out = {k: torch.from_numpy(v) for k, v in render_gl(scene).items()}
    return RenderOutput(**out)


register_renderer(RendererSpec(
    name="gl", render=render_reference, reference=None, is_reference=True,
    buffers=("rgb", "alpha", "depth", "face_id", "normal", "position"), uses=("supersample",),
    analysis_modes=("difference", "alpha"), bench_lightings=(),
    description="the OpenGL (moderngl) reference: hard rasterization, exact floats"))
