"""Per-element gradients shown on the shape, for the representations other than meshes.

A mesh paints |dL/dV| on its vertices with the GL reference (the GUI's "|dL/dV|" mode). A splat
cloud paints |dL/d(splat)| on its splats, a voxel grid shows a slice of dL/dx, an SDF a table of
dL/dtheta per primitive parameter. Each representation registers a painter returning an
``ElementView``; ``element_view`` dispatches on the scene's kind and falls back to a list of the
elements pulled hardest.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..scene import Scene


@dataclass
class ElementView:
    """values: (H, W) float, what hovering reads (NaN where there is no element; H, W need not be
    the render's size: a voxel slice is D x D); label: the colour bar's text; rgb: (H, W, 3) an
    image to show instead of colour-mapping ``values``; arrows: (K, 2, 2) tail/head pixel
    coordinates (x = column, y = row, centres at +0.5) of -dL/d(position) of the elements
    pulled hardest; lines: what the view shows, in words."""

    values: np.ndarray
    label: str
    rgb: Optional[np.ndarray] = None
    arrows: Optional[np.ndarray] = None
    lines: list[str] = field(default_factory=list)


# painter(scene, grad (N, ...) the element group's gradient, magnitude (N,)) -> ElementView
ElementPainter = Callable[[Scene, np.ndarray, np.ndarray], ElementView]
ELEMENT_PAINTERS: dict[str, ElementPainter] = {}


def register_element_painter(kind: str, painter: ElementPainter) -> None:
    """``painter(scene, grad, magnitude)`` shows representation ``kind``'s per-element gradient."""
    ELEMENT_PAINTERS[kind] = painter


def element_view(scene: Scene, grad: np.ndarray, magnitude: np.ndarray, top: int = 10) -> ElementView:
    """The registered painter's view of ``magnitude`` (N,) (and ``grad`` (N, ...)), or, where
    none is registered, an empty image and the ``top`` elements pulled hardest in words."""
    from ..registry import load_plugins

    load_plugins()
    painter = ELEMENT_PAINTERS.get(scene.kind)
    if painter is not None:
        return painter(scene, grad, magnitude)
    name = scene.shape.element_name
    order = np.argsort(-magnitude)[:top]
    lines = [f"{name}s pulled hardest: " + ", ".join(f"{i} ({magnitude[i]:.3g})" for i in order
                                                     if magnitude[i] > 0)]
    size = scene.settings.image_size
    return ElementView(np.full((size, size), np.nan, np.float32), f"|dL/d{name}|", lines=lines)
