"""SoftRas (Liu et al. 2019) with the DESIGN.md §3 formulas, over sparse per-face tiles.

Per pixel i and face j: D = sigmoid(delta d2 / sigma); A = 1 - prod_j (1 - D);
I = (sum_j w_j C_j + w_bg C_bg) / (sum_j w_j + w_bg), w_j = D exp(zbar/gamma), w_bg = exp(eps/gamma).

Two passes over the tile chunks. The first forms every pair: the silhouette (with gradients) and,
without gradients, the colour softmax's per-pixel maximum and denominator, merged across chunks as
an online softmax. The second shades only the pairs whose normalised colour weight w_j / sum is at
least ``settings.weight_floor`` and aggregates them (with gradients) renormalised over the shaded
pairs. At small gamma only the front few faces of a pixel carry weight, so most pairs in a wide
soft band are never shaded: shading (lighting, texture lookups) is the costly part per pair. The
result differs from the exact sum by at most dropped_weight * max|C_j - I| per pixel, where
dropped_weight (a returned buffer) is the summed normalised weight of the unshaded pairs; a
weight_floor of 0 shades every pair and is exact. Renders with many pairs recompute each chunk
in backward (checkpointing), so memory stays near one chunk's worth.

Where the gradients come from. Over every pair only the coverage is differentiable, and it is one
autograd node per chunk with a hand-written backward (``soft_pairs._CoverageTile``: geometry,
logit, log(1 - D) and its per-pixel sum); the depths and softmax statistics of pass 1 carry no
graph. Pass 2 recomputes the colour geometry (barycentrics, perspective weights, depth) of the
shaded pairs alone, from one gather of the per-face rows (``common.gather_sorted``), and autograd
records the shading of those pairs only. Forward mode (derivative images, ``jvp``) takes the
plain autograd path of ``soft_tile`` (``_TileGeometry.jvp``); double backward recomputes through
autograd inside the fused node. The values are the same, and tests/test_soft_fused.py checks the
two gradients agree to 1e-10 in float64.

On the CPU (``softras_native``) pass 1, the shaded pairs' colour geometry and the softmax's sums
run as C kernels with the same formulas; the shading between them stays torch. That path and this
one agree to 1e-10 in float64 (tests/test_soft_native.py).
"""
from __future__ import annotations

import math

import torch
from torch.utils.checkpoint import checkpoint

from .. import native
from ..fragments import RenderOutput
from ..scene import Scene
from .common import background, color_table, gather_sorted, plan, prepare, shade_at, shade_attributes
from .geometry import TABLE_ROWS, perspective_weights, shaded_barycentrics
from .soft_pairs import soft_tile, softras_cutoff
from .softras_native import (MAX_RECORDED_PAIRS, aggregate_native, colour_native, face_list, kernels,
                             soft_pairs_native)
from .tiles import TileChunk

BACKGROUND_DEPTH = 1e-3                               # eps in the colour aggregation
# Renders with more tile elements than this recompute each chunk in backward instead of keeping
# its graph (memory stays near one chunk's worth).
CHECKPOINT_ABOVE = 3_000_000
# Shaded pairs per block on the native path (checkpointed in backward when there are more)
SHADE_BLOCK = 1 << 19


def render_softras(scene: Scene, with_pairs: bool = False) -> RenderOutput:
    """SoftRas render: a RenderOutput with rgb (S, S, 3), alpha (S, S), depth (S, S)
    (softmax-weighted view depth of the faces, 0 where there are none), bg_weight (S, S),
    dropped_weight (S, S) (normalised colour weight of the pairs left unshaded, see the module
    docstring), num_pairs (pairs within the cut-off), num_shaded (pairs shaded) and
    tile_elements (pairs formed, padding included); with ``with_pairs``, the ``SoftPairs``
    record for the pixel inspector. Only rgb and alpha carry gradients.
    """
    st = scene.settings
    sigma, gamma, s, floor = float(st.sigma), float(st.gamma), st.image_size, float(st.weight_floor)
    n = s * s + 1                                     # one spare slot absorbs tile padding
    prep = prepare(scene)
    dtype, device = prep.verts.dtype, prep.verts.device
    ct = color_table(scene, prep.verts, prep.faces)
    chunks = plan(prep, scene, softras_cutoff(sigma), None if st.double_sided else prep.screen.front)
    cam = scene.camera
    num_attrs = ct.table.shape[1]
    lib = kernels(prep.geo, chunks, num_attrs) if native.usable(ct.table) else None
    if lib is not None:
        faces = face_list(chunks)
        if faces.elements <= MAX_RECORDED_PAIRS:
            sp = soft_pairs_native(lib, prep.geo, faces, s, sigma, softras_cutoff(sigma), gamma, floor,
                                   cam.far, cam.far - cam.near, BACKGROUND_DEPTH)
            numer, denom = shade_in_blocks(scene, prep, ct, lib, sp, n)
            return _images(scene, prep, chunks, with_pairs, sp.log_uncovered, numer, denom, sp.denom, sp.zsum,
                           sp.shift, sp.total, sp.dropped, torch.tensor(sp.num_kept), sp.face.numel())
    # the torch tile path: per face, corners and edges (12 rows), corner depths (3) and the colour
    # table per corner, gathered by pass 2
    use_ckpt = torch.is_grad_enabled() and sum(c.elements for c, _ in chunks) > CHECKPOINT_ABOVE
    z_scale = (cam.far, cam.far - cam.near)
    face_rows = torch.cat([prep.geo[:12], prep.geo[TABLE_ROWS:TABLE_ROWS + 3],
                           ct.table.reshape(3 * num_attrs, ct.table.shape[2])])      # (K, F)
    row_split = (12, 3, num_attrs, num_attrs, num_attrs)

    @torch.no_grad()
    def pair_depths(tile):
        """View depth z and normalised depth zbar of every pair (Fg, T, T), without gradients:
        pass 1's softmax statistics and pass 2's shading mask need their values only.
        ``perspective_weights``'s depth in fewer passes: with b the clipped barycentrics,
        z = sum(b) / sum(b_k / z_k)."""
        b = tile.bary.detach().clamp_min(0.0)
        inv = 1.0 / tile.zc.detach()
        q = torch.addcmul(torch.addcmul(b[0] * inv[0], b[1], inv[1]), b[2], inv[2])
        z = (b[0] + b[1]).add_(b[2]).clamp_min_(1e-12).div_(q)
        return z, (z_scale[0] - z).div_(z_scale[1])

    @torch.no_grad()
    def softmax_stats(tile, z, zbar):
        """The chunk's per-pixel softmax maximum, denominator and weighted depth (no gradient)."""
        flat_pix, drop = tile.pix.reshape(-1), ~tile.keep
        shift = torch.full((n,), BACKGROUND_DEPTH, dtype=dtype, device=device).scatter_reduce(
            0, flat_pix, zbar.detach().masked_fill(drop, -math.inf).reshape(-1), reduce="amax")
        e = (torch.sigmoid(tile.x) * torch.exp((zbar - shift[tile.pix]) / gamma)).masked_fill(drop, 0.0)
        denom = torch.zeros(n, dtype=dtype, device=device).index_add_(0, flat_pix, e.reshape(-1))
        zsum = torch.zeros(n, dtype=dtype, device=device).index_add_(0, flat_pix, (e * z).reshape(-1))
        return shift, denom, zsum, e

    def coverage_pass(chunk: TileChunk, is_color: bool, geo: torch.Tensor):
        """Pass 1 for one chunk: log(1 - D) summed per pixel (differentiable) and the kept-pair
        count; for a colour chunk also its softmax statistics and, kept for pass 2, its tile and
        colour geometry. (With checkpointing, colour chunks take their coverage in pass 2.)"""
        tile = soft_tile(chunk, geo, s, sigma, with_bary=is_color)
        if not is_color:
            return tile.log_uncovered(n), tile.keep.sum(), None, None
        stats = softmax_stats(tile, *pair_depths(tile))
        # pass 2 reads the chunk's weights relative to its own maximum, stats[0], and rescales
        return tile.log_uncovered(n), tile.keep.sum(), stats[:3], (tile, stats[3], stats[0])

    def shading_pass(chunk: TileChunk, geo: torch.Tensor, table: torch.Tensor, eye: torch.Tensor,
                     shift: torch.Tensor, total: torch.Tensor, kept=None):
        """Pass 2 for one colour chunk: w_j relative to the final per-pixel maximum, the pairs at
        or above the weight floor shaded and summed -> numerator (3, n), denominator (n,),
        dropped normalised weight (n,), pairs shaded, and (when pass 1 kept nothing: the
        checkpointed path) the chunk's log(1 - D) per pixel and its kept-pair count."""
        coverage = None
        if kept is None:
            tile = soft_tile(chunk, geo, s, sigma)
            with torch.no_grad():
                stats = softmax_stats(tile, *pair_depths(tile))
            e, c_shift = stats[3], stats[0]
            coverage = (tile.log_uncovered(n), tile.keep.sum())
        else:
            tile, e, c_shift = kept
        with torch.no_grad():
            # the mask on all pairs without a graph; the differentiable weights on shaded ones only.
            # w_j = D exp((zbar - shift) / gamma) / total = e_j exp((c_shift - shift) / gamma) / total
            w = e * (torch.exp((c_shift - shift) / gamma) / total)[tile.pix]
            shade = tile.keep & (w >= floor)
            dropped = torch.zeros(n, dtype=dtype, device=device).index_add_(
                0, tile.pix.reshape(-1), w.masked_fill(shade | ~tile.keep, 0.0).reshape(-1))
            idx = torch.nonzero(shade.reshape(-1), as_tuple=True)[0]
            pix = tile.pix.reshape(-1)[idx]
            local_face = torch.div(idx, chunk.size * chunk.size, rounding_mode="floor")
        face = chunk.faces[local_face]
        numer, denom = shade_pairs(scene, prep, ct, table, row_split, local_face, face, pix,
                                   tile.x.reshape(-1)[idx], shift, n)
        return numer, denom, dropped, idx.numel(), coverage

    # pass 1: every pair's coverage, and the colour softmax's maximum and denominator
    log_unc = torch.zeros(n, dtype=dtype, device=device)
    shift = torch.full((n,), BACKGROUND_DEPTH, dtype=dtype, device=device)
    denom_all = torch.zeros(n, dtype=dtype, device=device)
    zsum = torch.zeros(n, dtype=dtype, device=device)
    num_pairs = torch.zeros((), dtype=torch.int64, device=device)
    kept: list = []
    for chunk, is_color in chunks:
        geo = prep.geo.index_select(1, chunk.faces)
        if use_ckpt and is_color:
            # statistics only (no graph); coverage and colour are recomputed in pass 2's checkpoint
            with torch.no_grad():
                tile = soft_tile(chunk, geo, s, sigma)
                stats, saved = softmax_stats(tile, *pair_depths(tile))[:3], None
        else:
            out = checkpoint(coverage_pass, chunk, is_color, geo, use_reentrant=False) if use_ckpt \
                else coverage_pass(chunk, is_color, geo)
            log_unc, num_pairs = log_unc + out[0], num_pairs + out[1]
            stats, saved = out[2], out[3]
        if stats is None:
            continue
        kept.append(saved)
        # online softmax: rescale both sides to the new per-pixel maximum
        c_shift, c_denom, c_zsum = stats
        new_shift = torch.maximum(shift, c_shift)
        old_scale, new_scale = torch.exp((shift - new_shift) / gamma), torch.exp((c_shift - new_shift) / gamma)
        denom_all = denom_all * old_scale + c_denom * new_scale
        zsum = zsum * old_scale + c_zsum * new_scale
        shift = new_shift
    e_bg = torch.exp((BACKGROUND_DEPTH - shift) / gamma)
    total = denom_all + e_bg

    # pass 2: shade the pairs that carry colour weight, relative to the final maximum
    numer = torch.zeros(3, n, dtype=dtype, device=device)
    denom = torch.zeros(n, dtype=dtype, device=device)
    dropped = torch.zeros(n, dtype=dtype, device=device)
    num_shaded = 0
    colour_chunks = [c for c, is_color in chunks if is_color]
    for chunk, saved in zip(colour_chunks, kept):
        geo = prep.geo.index_select(1, chunk.faces)
        args = (chunk, geo, face_rows.index_select(1, chunk.faces), prep.eye, shift, total, saved)
        out = checkpoint(shading_pass, *args, use_reentrant=False) if use_ckpt else shading_pass(*args)
        numer, denom, dropped = numer + out[0], denom + out[1], dropped + out[2]
        num_shaded += out[3]
        if out[4] is not None:
            log_unc, num_pairs = log_unc + out[4][0], num_pairs + out[4][1]

    return _images(scene, prep, chunks, with_pairs, log_unc, numer, denom, denom_all, zsum, shift, total,
                   dropped, num_pairs, num_shaded)


def _images(scene: Scene, prep, chunks, with_pairs: bool, log_unc, numer, denom, denom_all, zsum, shift,
            total, dropped, num_pairs, num_shaded) -> RenderOutput:
    """The render's images from the per-pixel sums (S*S + 1 slots, the last one spare)."""
    s, gamma = scene.settings.image_size, float(scene.settings.gamma)
    dtype, device = log_unc.dtype, log_unc.device
    e_bg = torch.exp((BACKGROUND_DEPTH - shift) / gamma)
    alpha = -torch.expm1(log_unc[:-1])
    rgb = (numer[:, :-1] + e_bg[:-1] * background(scene, dtype, device)[:, None]) / (denom[:-1] + e_bg[:-1])
    fg = denom_all[:-1]
    depth = torch.where(fg > 0, zsum[:-1] / fg.clamp_min(1e-30), torch.zeros_like(fg))
    pairs = None
    if with_pairs:
        from .inspect_pairs import softras_pairs

        pairs = softras_pairs(scene, prep, chunks, shift, total[:-1])
    return RenderOutput(rgb=rgb.T.reshape(s, s, 3), alpha=alpha.reshape(s, s), depth=depth.reshape(s, s),
                        bg_weight=(e_bg[:-1] / total[:-1]).reshape(s, s),
                        dropped_weight=dropped[:-1].reshape(s, s), num_pairs=num_pairs,
                        num_shaded=torch.tensor(num_shaded),
                        tile_elements=torch.tensor(sum(c.elements for c, _ in chunks)), pairs=pairs)


def shade_pairs(scene: Scene, prep, ct, table: torch.Tensor, row_split, index: torch.Tensor,
                face: torch.Tensor, pix: torch.Tensor, x: torch.Tensor, shift: torch.Tensor, n: int):
    """Colour geometry, softmax weight and shading of M pairs, with gradients: -> numerator
    (3, n) and denominator (n,) of the colour softmax. table: (K, *) face rows (``row_split``:
    corners and edges, corner depths, the colour table per corner) indexed by ``index`` (M,)
    ascending; face: (M,) the pairs' face ids; pix: (M,) flat pixel; x: (M,) coverage logits."""
    st = scene.settings
    dtype, device = x.dtype, x.device
    cam = scene.camera
    # all the per-pair face data is one gather of the (K, F) face table, split and unbound into
    # views: its backward is one stack and one index_add (slicing a stacked gather, or gathering
    # each row, fills or scatters a gradient per row)
    parts = gather_sorted(table, index).split(row_split)
    bary = shaded_barycentrics(pix, parts[0].unbind(0), st.image_size)
    weights, z = perspective_weights(bary, parts[1], clip=True)
    zbar = (cam.far - z) / (cam.far - cam.near)
    e = torch.sigmoid(x) * torch.exp((zbar - shift[pix]) / float(st.gamma))
    back = ~prep.screen.front[face] if st.double_sided else None
    color = shade_at(scene, ct, parts[2:], weights, prep.eye, back)
    numer = torch.zeros(3, n, dtype=dtype, device=device).index_add_(1, pix, e * color)
    denom = torch.zeros(n, dtype=dtype, device=device).index_add_(0, pix, e)
    return numer, denom


def shade_native(scene: Scene, prep, ct, lib, face: torch.Tensor, pix: torch.Tensor, x: torch.Tensor,
                 shift: torch.Tensor, n: int):
    """``shade_pairs`` with the colour geometry, softmax weights, attribute interpolation and the
    softmax's sums in C (``softras_native.colour_native``, ``aggregate_native``); the shading
    itself stays torch (renderer/shading.py, one source of truth with the GLSL): face, pix, x (M,)
    -> numerator (3, n), denominator (n,)."""
    st, cam = scene.settings, scene.camera
    names = sorted(ct.rows, key=lambda name: ct.rows[name].start)
    e, groups = colour_native(lib, prep.geo, ct.table, x, face, pix, shift, st.image_size, cam.far,
                              cam.far - cam.near, float(st.gamma),
                              [ct.rows[name].stop - ct.rows[name].start for name in names])
    back = ~prep.screen.front[face] if st.double_sided else None
    color = shade_attributes(scene, ct, dict(zip(names, groups)), prep.eye, back, (3, face.numel()))
    if native.usable(e, color):          # not under forward mode (a light's or material's tangent)
        return aggregate_native(lib, e, color, pix, n)
    numer = torch.zeros(3, n, dtype=e.dtype, device=e.device).index_add(1, pix, e * color)
    return numer, torch.zeros(n, dtype=e.dtype, device=e.device).index_add(0, pix, e)


def shade_in_blocks(scene: Scene, prep, ct, lib, sp, n: int):
    """``shade_native`` over the native pass's shaded pairs, in blocks of SHADE_BLOCK pairs,
    recomputed in backward (checkpointing) when there are many."""
    m = sp.face.numel()
    use_ckpt = torch.is_grad_enabled() and m > SHADE_BLOCK
    numer = torch.zeros(3, n, dtype=sp.x.dtype, device=sp.x.device)
    denom = torch.zeros(n, dtype=sp.x.dtype, device=sp.x.device)
    for start in range(0, max(m, 1), SHADE_BLOCK):
        part = slice(start, start + SHADE_BLOCK)
        args = (scene, prep, ct, lib, sp.face[part], sp.pix[part], sp.x[part], sp.shift, n)
        out = checkpoint(shade_native, *args, use_reentrant=False) if use_ckpt else shade_native(*args)
        numer, denom = numer + out[0], denom + out[1]
    return numer, denom
