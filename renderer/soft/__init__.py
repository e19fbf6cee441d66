"""The differentiable torch renderers: SoftRas, DIB-R and hard rasterization (DESIGN.md §3)."""
from __future__ import annotations

import torch

from ..scene import Scene
from .softras import render_softras
from .tiles import TooManyPairsError

RENDERERS = ("softras", "dibr", "hard")


def render_soft(scene: Scene, with_pairs: bool = False) -> dict[str, torch.Tensor]:
    """Render with the torch renderer ``scene.settings.renderer`` names."""
    kind = scene.settings.renderer
    if kind == "softras":
        return render_softras(scene, with_pairs=with_pairs)
    if kind == "dibr":
        from .dibr import render_dibr
        return render_dibr(scene)
    if kind == "hard":
        from .hard import render_hard
        return render_hard(scene)
    raise ValueError(f"{kind!r} is not a torch renderer; expected one of {', '.join(RENDERERS)}")


__all__ = ["render_soft", "render_softras", "TooManyPairsError", "RENDERERS"]
