"""The splat representation's entries: the GaussianCloud shape (registered on import of
``cloud``), the PLY loader (by contents: 3DGS properties, or vertices only), the torch renderers
``splat`` and ``splat_disk`` and the GL reference ``gl_splat``."""
from __future__ import annotations

import torch

from ..fragments import RenderOutput
from ..io import register_loader
from ..registry import RendererSpec, register_renderer
from .cloud import GaussianCloud  # noqa: F401 - registers the shape
from .ply import is_splat_ply, load_splat_ply
from .render import estimated_pairs, render_splat, render_splat_disk


def render_reference_splat(scene) -> RenderOutput:
    """The GL splat render of ``scene`` as a RenderOutput of CPU tensors."""
    from .gl_splat import render_gl_splat   # moderngl loads only when a GL render is asked for

    return RenderOutput(**{k: torch.from_numpy(v) for k, v in render_gl_splat(scene).items()})


register_loader((".ply",), load_splat_ply, accepts=is_splat_ply)

SPLAT_MODES = ("difference", "alpha", "dl_di", "di_soft", "di_ref", "agreement", "vertex_grad", "diagnostics")

register_renderer(RendererSpec(
    name="splat", render=render_splat, representations=("splats",),
    wrt=("geometry", "appearance"), buffers=("rgb", "alpha", "depth", "num_pairs", "tile_elements"),
    reference="gl_splat", cost=estimated_pairs, bench_lightings=("none",), analysis_modes=SPLAT_MODES,
    description="3D Gaussian splatting (gsplat semantics: EWA + 0.3 px^2, alpha cap 0.99, 1/255 cut-off)"))
register_renderer(RendererSpec(
    name="splat_disk", render=render_splat_disk, representations=("splats",),
    wrt=("geometry", "appearance"), buffers=("rgb", "alpha", "depth", "num_pairs", "tile_elements"),
    reference="gl_splat", bench_lightings=("none",), analysis_modes=SPLAT_MODES,
    description="PyTorch3D-style disks (weights 1 - d^2/r^2, r = 2 sigma, 8 per pixel, alpha compositing)"))
register_renderer(RendererSpec(
    name="gl_splat", render=render_reference_splat, representations=("splats",), reference=None,
    is_reference=True, buffers=("rgb", "alpha", "depth"), analysis_modes=("difference", "alpha"),
    bench_lightings=(),
    description="the OpenGL splat reference: instanced quads with the same conics, sorted, blended"))

# The parameter groups, the pixel inspector and the gradient painter live in a module that
# imports renderer.analysis (its registries); the fit task in one that imports renderer.optimize.
from . import hooks as _hooks  # noqa: E402,F401
from . import task as _task  # noqa: E402,F401 - registers the "splats" optimization task
from ..bench import register_bench_scene  # noqa: E402
from .bench import bench_scene  # noqa: E402

register_bench_scene("spot_splats", "splats", bench_scene)
