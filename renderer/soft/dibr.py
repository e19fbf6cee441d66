"""DIB-R (Chen et al. 2019): hard z-buffer foreground with barycentric gradients, and a soft
background silhouette A = 1 - prod_j (1 - exp(-d2/delta)) (DESIGN.md §3)."""
from __future__ import annotations

import math

import torch
from torch.utils.checkpoint import checkpoint

from ..fragments import RenderOutput
from ..scene import Scene
from .common import plan, prepare, tile_geometry
from .hard import shade_visible, visible_faces
from .softras import CHECKPOINT_ABOVE
from .tiles import TileChunk

# Faces farther than this (squared NDC, over delta) contribute exp(-d2/delta) < 1e-4 and are dropped.
DIBR_CUTOFF_FACTOR = math.log(1e4)


def render_dibr(scene: Scene) -> RenderOutput:
    """DIB-R render: rgb (S, S, 3), alpha (S, S) (1 on covered pixels, soft outside), depth
    (S, S), face_id (S, S) int64, num_pairs and tile_elements.
    Gradients reach vertices through the foreground barycentrics and the background silhouette."""
    st = scene.settings
    s, delta = st.image_size, float(st.dibr_delta)
    n = s * s + 1
    prep = prepare(scene)
    dtype, device = prep.verts.dtype, prep.verts.device
    cutoff = delta * DIBR_CUTOFF_FACTOR
    chunks = plan(prep, scene, cutoff, None if st.double_sided else prep.screen.front)
    elements = sum(c.elements for c, _ in chunks)
    use_ckpt = torch.is_grad_enabled() and elements > CHECKPOINT_ABOVE

    def soft_silhouette(chunk: TileChunk, geo: torch.Tensor):
        """Per pixel, the sum over the chunk's faces that do not cover it of
        log(1 - exp(-d2/delta)), and the number of such (pixel, face) pairs."""
        px, py, pix, in_box = chunk.pixel_grid(s, dtype)
        d2, inside, _, _ = tile_geometry(geo, px, py)
        near = in_box & ~inside & (d2 < cutoff)
        # log(1 - exp(-t)) = log(-expm1(-t)); t is kept off 0, where the log's slope is infinite
        t = torch.where(near, d2 / delta, torch.ones_like(d2)).clamp_min(1e-12)
        term = torch.where(near, torch.log(-torch.expm1(-t)), torch.zeros_like(d2))
        acc = torch.zeros(n, dtype=dtype, device=device).index_add_(0, pix.reshape(-1), term.reshape(-1))
        return acc, near.sum()

    vis = visible_faces(prep, chunks, s)
    log_unc = torch.zeros(n, dtype=dtype, device=device)
    num_pairs = vis.num_pairs
    for chunk, _ in chunks:
        geo = prep.geo.index_select(1, chunk.faces)
        acc, near = (checkpoint(soft_silhouette, chunk, geo, use_reentrant=False)
                     if use_ckpt else soft_silhouette(chunk, geo))
        log_unc = log_unc + acc
        num_pairs += int(near)
    alpha = torch.where(vis.covered, torch.ones_like(log_unc), -torch.expm1(log_unc))[:-1]
    return shade_visible(scene, prep, vis, alpha, elements, num_pairs)
