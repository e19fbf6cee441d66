"""The exact edge-derivative renderer's entry in the registry (``renderer.registry``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..registry import RendererSpec, register_renderer
from ..soft.common import planned_elements
from .render import DEFAULT_SAMPLES, render_edge, samples_per_axis

EDGE = "edge"


@dataclass(frozen=True)
class _BoxFilteredSpec(RendererSpec):
    """A spec whose rgb is already the colour a viewer sees (box-filtered over the background at
    partly covered pixels, like the supersampled GL reference), so analyses must not composite it
    over the background again with alpha."""

    rgb_composited: bool = True


def _cost(scene) -> int:
    k = samples_per_axis(scene)
    return planned_elements(scene.with_settings(image_size=k * scene.settings.image_size), 0.0)


register_renderer(_BoxFilteredSpec(
    name=EDGE, render=render_edge, cost=_cost, wrt=("geometry", "appearance", "lighting", "material"),
    buffers=("rgb", "alpha", "depth", "face_id", "num_pairs", "tile_elements"), uses=(),
    analysis_modes=("difference", "alpha", "dl_di", "di_soft", "di_ref", "agreement", "vertex_grad", "diagnostics"),
    derivative_method="jvp", bench_lightings=("phong",), antialiased=True,
    reference_supersample=DEFAULT_SAMPLES,
    description="the exact derivative of the box-filtered image (edge integrals, after redner; 4x4 samples per pixel, or --supersample K): the reference"))
