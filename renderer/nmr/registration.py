"""NMR's entry in the registry (``renderer.registry``)."""
from __future__ import annotations

from ..registry import RendererSpec, register_renderer
from ..soft.common import planned_elements
from .render import SUPERSAMPLE, render_nmr

register_renderer(RendererSpec(
    name="nmr", render=render_nmr, wrt=("geometry", "appearance", "lighting", "material"),
    buffers=("rgb", "alpha", "depth", "num_pairs", "tile_elements"),
    analysis_modes=("difference", "alpha", "dl_di", "di_ref", "vertex_grad", "diagnostics"),
    cost=lambda scene: planned_elements(
        scene.with_settings(image_size=SUPERSAMPLE * scene.settings.image_size), 0.0),
    image_derivative=False,
    antialiased=True, rgb_composited=True, reference_supersample=SUPERSAMPLE,
    description="hard z-buffer at 2x, averaged; hand-made edge-sweep backward gated by the loss's "
                "sign (NMR, Kato et al. 2018): dL/dtheta only, no dI/dtheta"))
