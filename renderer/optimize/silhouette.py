"""The SoftRas silhouette alone, for silhouette losses: the same formula and cut-off as
``renderer.soft.softras`` (A = 1 - prod_j (1 - sigmoid(delta d2 / sigma)), pairs with D < 1e-4
dropped), built from the same per-face tiles, but without the colour aggregation that a silhouette
loss never reads (about half the time of a full render on the CPU). tests/test_optimize_tasks.py
checks that it matches ``render_softras``'s alpha and its gradients.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..scene import Scene
from ..soft.common import plan, prepare, tile_geometry
from ..soft.softras import CUTOFF_FACTOR


def render_silhouette(scene: Scene) -> dict[str, torch.Tensor]:
    """SoftRas silhouette of ``scene`` (its sigma): {"alpha": (S, S)}, differentiable in the
    vertices and the camera."""
    st = scene.settings
    sigma, s = float(st.sigma), st.image_size
    n = s * s + 1                                   # a spare slot absorbs tile padding
    prep = prepare(scene)
    dtype, device = prep.verts.dtype, prep.verts.device
    cutoff = sigma * CUTOFF_FACTOR
    # every face in a silhouette-only chunk: the silhouette counts all faces, back faces included
    chunks = plan(prep, scene, cutoff, torch.zeros_like(prep.screen.valid))
    log_uncovered = torch.zeros(n, dtype=dtype, device=device)
    for chunk, _ in chunks:
        geo = prep.geo.index_select(1, chunk.faces)
        px, py, pix, in_box = chunk.pixel_grid(s, dtype)
        d2, inside, _, _ = tile_geometry(geo, px, py)
        with torch.no_grad():
            drop = ~(in_box & (inside | (d2 < cutoff)))
            signed_rate = torch.where(inside, 1.0 / sigma, -1.0 / sigma).to(dtype)
        # log(1 - sigmoid(x)) = -softplus(x)
        terms = F.softplus(d2 * signed_rate).neg().masked_fill(drop, 0.0)
        log_uncovered = log_uncovered.index_add(0, pix.reshape(-1), terms.reshape(-1))
    return {"alpha": -torch.expm1(log_uncovered[:-1]).reshape(s, s)}


def render_for_loss(scene: Scene, channel: str) -> dict[str, torch.Tensor]:
    """The buffers a loss on ``channel`` ("alpha" or "rgb") needs: the silhouette-only path for
    SoftRas silhouettes, ``renderer.render.render`` otherwise."""
    if channel == "alpha" and scene.settings.renderer == "softras":
        return render_silhouette(scene)
    from ..render import render

    return render(scene)
