"""The torch mesh renderers' entries in the registry (``renderer.registry``)."""
from __future__ import annotations

import math

from ..registry import RendererSpec, register_renderer
from ..scene import RenderSettings, softras_edge_width_px
from .common import planned_elements
from .dibr import DIBR_CUTOFF_FACTOR, render_dibr
from .hard import render_hard
from .silhouette import render_silhouette
from .soft_pairs import softras_cutoff
from .softras import render_softras


def _dibr_edge_width_px(settings: RenderSettings) -> float:
    """Width of DIB-R's soft halo, where exp(-d2/delta) >= 1e-4: sqrt(ln(1e4) delta) S / 2."""
    return math.sqrt(DIBR_CUTOFF_FACTOR * settings.dibr_delta) * settings.image_size / 2


register_renderer(RendererSpec(
    name="softras", cost=lambda scene: planned_elements(scene, softras_cutoff(scene.settings.sigma)), render=render_softras, wrt=("geometry", "appearance", "lighting", "material"),
    buffers=("rgb", "alpha", "depth", "bg_weight", "num_pairs", "tile_elements"), uses=("sigma", "gamma"),
    edge_width_px=softras_edge_width_px, silhouette=render_silhouette, pairs=True,
    bench_lightings=("none", "phong"),
    description="soft silhouettes and depth-blended colour (SoftRas, Liu et al. 2019)"))
register_renderer(RendererSpec(
    name="dibr", cost=lambda scene: planned_elements(scene, DIBR_CUTOFF_FACTOR * scene.settings.dibr_delta), render=render_dibr, wrt=("geometry", "appearance", "lighting", "material"),
    buffers=("rgb", "alpha", "depth", "face_id", "num_pairs", "tile_elements"), uses=("dibr_delta",),
    edge_width_px=_dibr_edge_width_px,
    description="sharp interior with a soft halo outside (DIB-R, Chen et al. 2019)"))
register_renderer(RendererSpec(
    name="hard", cost=lambda scene: planned_elements(scene, 0.0), render=render_hard, wrt=("appearance", "lighting", "material"),
    buffers=("rgb", "alpha", "depth", "face_id", "num_pairs", "tile_elements"),
    analysis_modes=("difference", "alpha", "dl_di", "di_soft", "di_ref", "agreement", "vertex_grad", "diagnostics"),
    derivative_method="double_backward",
    description="a plain z-buffer: no gradient for moving edges (the baseline)"))
