"""The exact edge-derivative renderer's entry in the registry (``renderer.registry``)."""
from __future__ import annotations

from ..registry import RendererSpec, register_renderer
from ..soft.common import planned_elements
from .render import DEFAULT_SAMPLES, render_edge, samples_per_axis

EDGE = "edge"


def _cost(scene) -> int:
    k = samples_per_axis(scene)
    return planned_elements(scene.with_settings(image_size=k * scene.settings.image_size), 0.0)


register_renderer(RendererSpec(
    name=EDGE, render=render_edge, cost=_cost, wrt=("geometry", "appearance", "lighting", "material"),
    buffers=("rgb", "alpha", "depth", "face_id", "num_pairs", "tile_elements"), uses=(),
    analysis_modes=("difference", "alpha", "dl_di", "di_soft", "di_ref", "agreement", "vertex_grad", "diagnostics"),
    derivative_method="jvp", bench_lightings=("phong",), antialiased=True,
    reference_supersample=DEFAULT_SAMPLES, rgb_composited=True,
    description="the exact derivative of the box-filtered image (edge integrals, after redner; 4x4 samples per pixel, or --supersample K): the reference"))
