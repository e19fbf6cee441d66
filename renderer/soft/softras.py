"""SoftRas (Liu et al. 2019) with the DESIGN.md §3 formulas, over sparse per-face tiles.

Per pixel i and face j: D = sigmoid(delta d2 / sigma); A = 1 - prod_j (1 - D);
I = (sum_j D exp(zbar/gamma) C + exp(eps/gamma) C_bg) / (sum_j D exp(zbar/gamma) + exp(eps/gamma)).
Chunks of tiles are merged with an online softmax (running per-pixel maximum), so a large render
can be split into chunks, each recomputed in backward (checkpointing) to bound memory.
"""
from __future__ import annotations

import math

import torch
from torch.utils.checkpoint import checkpoint

from ..fragments import RenderOutput
from ..scene import Scene
from .common import background, color_table, plan, prepare, shade_at
from .geometry import perspective_weights
from .soft_pairs import soft_tile, softras_cutoff
from .tiles import TileChunk

BACKGROUND_DEPTH = 1e-3                               # eps in the colour aggregation
# Renders with more tile elements than this recompute each chunk in backward instead of keeping
# its graph (memory stays near one chunk's worth).
CHECKPOINT_ABOVE = 3_000_000


def render_softras(scene: Scene, with_pairs: bool = False) -> RenderOutput:
    """SoftRas render: a RenderOutput with rgb (S, S, 3), alpha (S, S), depth (S, S)
    (softmax-weighted view depth of the faces, 0 where there are none), bg_weight (S, S),
    num_pairs (pairs within the cut-off) and tile_elements (pairs formed, padding included); with
    ``with_pairs``, the ``SoftPairs`` record for the pixel inspector. Only rgb and alpha carry
    gradients.
    """
    st = scene.settings
    sigma, gamma, s = float(st.sigma), float(st.gamma), st.image_size
    n = s * s + 1                                     # one spare slot absorbs tile padding
    prep = prepare(scene)
    dtype, device = prep.verts.dtype, prep.verts.device
    ct = color_table(scene, prep.verts, prep.faces)
    chunks = plan(prep, scene, softras_cutoff(sigma), None if st.double_sided else prep.screen.front)
    use_ckpt = torch.is_grad_enabled() and sum(c.elements for c, _ in chunks) > CHECKPOINT_ABOVE
    cam = scene.camera
    z_scale = (cam.far, cam.far - cam.near)

    def run_chunk(chunk: TileChunk, is_color: bool, geo: torch.Tensor, table: torch.Tensor,
                  eye: torch.Tensor):
        tile = soft_tile(chunk, geo, s, sigma)
        pix, x, drop = tile.pix, tile.x, ~tile.keep
        log_unc = tile.log_uncovered(n)
        count = tile.keep.sum()
        if not is_color:
            return log_unc, None, None, None, None, count
        weights, z = perspective_weights(tile.bary, tile.zc, clip=True)
        zbar = (z_scale[0] - z) / z_scale[1]
        flat_pix = pix.reshape(-1)
        with torch.no_grad():
            shift = torch.full((n,), BACKGROUND_DEPTH, dtype=dtype, device=device).scatter_reduce(
                0, flat_pix, zbar.detach().masked_fill(drop, -math.inf).reshape(-1), reduce="amax")
        expo = ((zbar - shift[pix]) / gamma).masked_fill(drop, -math.inf)
        e = torch.sigmoid(x) * torch.exp(expo)
        back = (~prep.screen.front[chunk.faces])[:, None, None] if st.double_sided else None
        color = shade_at(scene, ct, table[..., None, None], weights, eye, back)   # (3, Fg, T, T)
        denom = torch.zeros(n, dtype=dtype, device=device).index_add_(0, flat_pix, e.reshape(-1))
        numer = torch.zeros(3, n, dtype=dtype, device=device).index_add_(
            1, flat_pix, (e * color).reshape(3, -1))
        zsum = torch.zeros(n, dtype=dtype, device=device).index_add_(0, flat_pix, (e * z).detach().reshape(-1))
        return log_unc, numer, denom, shift, zsum, count

    log_unc = torch.zeros(n, dtype=dtype, device=device)
    numer = torch.zeros(3, n, dtype=dtype, device=device)
    denom = torch.zeros(n, dtype=dtype, device=device)
    zsum = torch.zeros(n, dtype=dtype, device=device)
    shift = torch.full((n,), BACKGROUND_DEPTH, dtype=dtype, device=device)
    num_pairs = torch.zeros((), dtype=torch.int64, device=device)
    for chunk, is_color in chunks:
        geo = prep.geo.index_select(1, chunk.faces)
        args = (chunk, is_color, geo, ct.table.index_select(2, chunk.faces), prep.eye)
        if use_ckpt:
            out = checkpoint(run_chunk, *args, use_reentrant=False)
        else:
            out = run_chunk(*args)
        log_unc = log_unc + out[0]
        num_pairs = num_pairs + out[5]
        if out[1] is None:
            continue
        # online softmax: rescale both sides to the new per-pixel maximum (constants for autograd)
        new_shift = torch.maximum(shift, out[3])
        old_scale = torch.exp((shift - new_shift) / gamma)
        new_scale = torch.exp((out[3] - new_shift) / gamma)
        numer = numer * old_scale + out[1] * new_scale
        denom = denom * old_scale + out[2] * new_scale
        zsum = zsum * old_scale + out[4] * new_scale
        shift = new_shift

    alpha = -torch.expm1(log_unc[:-1])
    e_bg = torch.exp((BACKGROUND_DEPTH - shift[:-1]) / gamma)
    total = denom[:-1] + e_bg
    rgb = (numer[:, :-1] + e_bg * background(scene, dtype, device)[:, None]) / total
    with torch.no_grad():
        fg = denom[:-1].detach()
        depth = torch.where(fg > 0, zsum[:-1] / fg.clamp_min(1e-30), torch.zeros_like(fg))
    pairs = None
    if with_pairs:
        from .inspect_pairs import softras_pairs

        pairs = softras_pairs(scene, prep, chunks, shift.detach(), total.detach())
    return RenderOutput(rgb=rgb.T.reshape(s, s, 3), alpha=alpha.reshape(s, s), depth=depth.reshape(s, s),
                        bg_weight=(e_bg / total).detach().reshape(s, s), num_pairs=num_pairs,
                        tile_elements=torch.tensor(sum(c.elements for c, _ in chunks)), pairs=pairs)
