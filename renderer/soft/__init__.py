"""The differentiable torch mesh renderers: SoftRas, DIB-R and hard rasterization (DESIGN.md §3).
Each is registered in ``renderer.registry`` by ``registration``; render through
``renderer.render(scene)``."""
from __future__ import annotations

from .dibr import render_dibr
from .hard import render_hard
from .silhouette import render_silhouette
from .softras import render_softras
from .tiles import TooManyPairsError

__all__ = ["render_dibr", "render_hard", "render_silhouette", "render_softras", "TooManyPairsError"]
