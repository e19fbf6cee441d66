"""One entry point for every renderer: ``render(scene)`` picks the one ``scene.settings`` names."""
from __future__ import annotations

import numpy as np
import torch

from .scene import Scene


def render(scene: Scene, with_pairs: bool = False) -> dict[str, torch.Tensor]:
    """Render ``scene`` with ``scene.settings.renderer`` (softras, dibr, hard or gl).

    Returns a dict of named buffers, row 0 at the top: rgb (S, S, 3), alpha (S, S), depth (S, S),
    and renderer-specific extras (face_id for hard, dibr and gl; normal and position for gl;
    with ``with_pairs``, softras's per (pixel, face) pair lists for the pixel inspector). The
    torch renderers keep the autograd graph; gl returns tensors made from its numpy arrays.
    """
    kind = scene.settings.renderer
    if kind == "gl":
        from .gl import render_gl

        return {k: torch.from_numpy(v) for k, v in render_gl(scene).items()}
    from .soft import render_soft

    return render_soft(scene, with_pairs=with_pairs)


def render_numpy(scene: Scene) -> dict[str, np.ndarray]:
    """``render`` detached to float32/int numpy arrays (for files and display)."""
    return {k: v.detach().cpu().numpy() for k, v in render(scene).items()}
