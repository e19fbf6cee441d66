"""DIB-R (Chen et al. 2019): hard z-buffer foreground with barycentric gradients, and a soft
background silhouette A = 1 - prod_j (1 - exp(-d2/delta)) (DESIGN.md §3)."""
from __future__ import annotations

import math

import torch

from ..scene import Scene
from torch.utils.checkpoint import checkpoint

from .common import plan, prepare, tile_geometry
from .hard import chunk_coverage, nearest_per_pixel, shade_visible
from .softras import CHECKPOINT_ABOVE
from .tiles import TileChunk

# Faces farther than this (squared NDC) contribute exp(-d2/delta) < 1e-4 and are dropped.
CUTOFF_FACTOR = math.log(1e4)


def render_dibr(scene: Scene) -> dict[str, torch.Tensor]:
    """DIB-R render: rgb (S, S, 3), alpha (S, S) (1 on covered pixels, soft outside), depth
    (S, S), face_id (S, S) int64, num_pairs and tile_elements (0-d int tensors).
    Gradients reach vertices through the foreground barycentrics and the background silhouette."""
    st = scene.settings
    s, delta = st.image_size, float(st.dibr_delta)
    n = s * s + 1
    prep = prepare(scene)
    dtype, device = prep.verts.dtype, prep.verts.device
    cutoff = delta * CUTOFF_FACTOR
    chunks = plan(prep, scene, cutoff, None if st.double_sided else prep.screen.front)
    use_ckpt = torch.is_grad_enabled() and sum(c.elements for c, _ in chunks) > CHECKPOINT_ABOVE

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

    covered = torch.zeros(n, dtype=torch.bool, device=device)
    log_unc = torch.zeros(n, dtype=dtype, device=device)
    num_pairs = 0
    hits = []
    for chunk, is_color in chunks:
        geo = prep.geo.index_select(1, chunk.faces)
        pix, face, z = chunk_coverage(chunk, geo.detach(), s, dtype)
        covered[pix] = True
        num_pairs += pix.numel()
        if is_color:
            hits.append((pix, face, z))
        acc, near = (checkpoint(soft_silhouette, chunk, geo, use_reentrant=False)
                     if use_ckpt else soft_silhouette(chunk, geo))
        log_unc = log_unc + acc
        num_pairs += int(near)
    alpha = torch.where(covered, torch.ones_like(log_unc), -torch.expm1(log_unc))[:-1]
    if hits:
        pix, face, z = (torch.cat(t) for t in zip(*hits))
    else:
        pix = face = torch.zeros(0, dtype=torch.long, device=device)
        z = torch.zeros(0, dtype=dtype, device=device)
    win = nearest_per_pixel(pix, z, face, s * s)
    out = shade_visible(scene, prep, pix[win], face[win])
    out["alpha"] = alpha.reshape(s, s)
    out["num_pairs"] = torch.tensor(num_pairs)
    out["tile_elements"] = torch.tensor(sum(c.elements for c, _ in chunks))
    return out
