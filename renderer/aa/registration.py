"""The antialiased hard renderer's entry in the registry (``renderer.registry``)."""
from __future__ import annotations

from ..registry import RendererSpec, register_renderer
from ..soft.common import planned_elements
from .render import render_aa

register_renderer(RendererSpec(
    name="aa", render=render_aa, wrt=("geometry", "appearance", "lighting", "material"),
    buffers=("rgb", "alpha", "depth", "face_id", "num_pairs", "tile_elements"),
    analysis_modes=("difference", "alpha", "dl_di", "di_soft", "di_ref", "agreement", "vertex_grad",
                    "diagnostics"),
    cost=lambda scene: planned_elements(scene, 0.0),
    edge_width_px=lambda settings: 1.0,
    antialiased=True, rgb_composited=True,
    description="hard z-buffer with nvdiffrast's analytic antialias of silhouette edges (Laine et "
                "al. 2020): edge gradients from a 1-pixel blend between pixel centres"))
