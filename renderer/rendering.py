"""One entry point for every renderer: ``render(scene)`` draws the scene with the renderer its
settings name (or the one passed), as registered in ``renderer.registry``."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .fragments import RenderOutput
from .registry import RendererSpec, get_renderer
from .scene import Scene


def renderer_for(scene: Scene, name: Optional[str] = None) -> RendererSpec:
    """The spec that draws ``scene``: ``name``, else ``scene.settings.renderer``; a ValueError
    when it cannot draw the scene's representation (naming those that can)."""
    from .registry import renderer_names

    spec = get_renderer(name or scene.settings.renderer)
    if not spec.accepts(scene.kind):
        raise ValueError(f"renderer {spec.name!r} cannot draw a {scene.kind}; renderers for "
                         f"a {scene.kind}: {', '.join(renderer_names(scene.kind)) or 'none'}")
    return spec


def render(scene: Scene, renderer: Optional[str] = None, with_pairs: bool = False) -> RenderOutput:
    """Render ``scene`` with ``renderer`` (default ``scene.settings.renderer``).

    Returns a ``RenderOutput`` (rgb (S, S, 3), alpha (S, S), depth (S, S) and the renderer's own
    extras, see ``RendererSpec.buffers``), row 0 at the top. Torch renderers keep the autograd
    graph; the GL reference returns CPU tensors made from its numpy arrays. ``with_pairs``: also
    the ``SoftPairs`` record, for renderers that have one (``spec.pairs``).
    """
    spec = renderer_for(scene, renderer)
    if renderer is not None and renderer != scene.settings.renderer:
        scene = scene.with_settings(renderer=renderer)
    if spec.pairs:
        return spec.render(scene, with_pairs=with_pairs)
    return spec.render(scene)


def render_numpy(scene: Scene, renderer: Optional[str] = None) -> dict[str, np.ndarray]:
    """``render`` detached to float32/int numpy arrays (for files and display)."""
    return render(scene, renderer).numpy()


def render_for_loss(scene: Scene, channel: str) -> RenderOutput:
    """The buffers a loss on ``channel`` ("alpha" or "rgb") needs: the renderer's silhouette-only
    path for alpha when it has one (``RendererSpec.silhouette``), the full render otherwise."""
    spec = renderer_for(scene)
    if channel == "alpha" and spec.silhouette is not None:
        return spec.silhouette(scene)
    return render(scene)


def estimate_pairs(scene: Scene, renderer: Optional[str] = None) -> Optional[int]:
    """The (pixel, element) pairs a render of ``scene`` would form (``RendererSpec.cost``),
    known in milliseconds before the render: a render's time and memory grow with it. None when
    the renderer does not say."""
    spec = renderer_for(scene, renderer)
    if spec.cost is None:
        return None
    return int(spec.cost(scene if renderer is None else scene.with_settings(renderer=renderer)))
