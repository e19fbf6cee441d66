"""Sparse splat rasterization: (pixel, splat) pairs inside each footprint box, sorted by pixel
then depth, composited front to back with a segmented cumulative sum. No N x S^2 tensor is ever
formed: the work and memory grow with the number of pairs.

Steps (``gaussian_fragments`` / ``composite``):
1. splats in depth order (stable argsort of z); each one's box of pixel centres
   |col - mu_x| <= r_x, |row - mu_y| <= r_y, clipped to the image;
2. the pairs of every box (``repeat_interleave``), alpha computed without a graph, pairs with
   alpha < 1/255 dropped (they take no part in the forward or the backward pass);
3. a stable sort by pixel keeps the depth order inside each pixel;
4. alpha again for the kept pairs, with its graph; log T_i = sum_{j<i} log(1 - alpha_j) per pixel
   by one cumulative sum in float64 (a float32 sum over millions of pairs would lose T);
5. w_i = alpha_i T_i; C = sum_i w_i c_i + (1 - sum_i w_i) bg, with index_add per pixel.
Steps 4-5 also exist as one autograd Function with a hand-written backward (``fused``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from .project import ALPHA_CUTOFF, MAX_ALPHA, ProjectedSplats


@dataclass
class Fragments:
    """The kept (pixel, splat) pairs of a render, sorted by pixel then front to back.

    pix: (P,) int64 flat pixel (row * S + col); splat: (P,) int64 splat index; alpha: (P,)
    float (with graph); transmittance: (P,) float T before this fragment; weight: (P,) alpha T;
    formed: the pairs formed before the cut-off (a cost figure)."""

    pix: torch.Tensor
    splat: torch.Tensor
    alpha: torch.Tensor
    transmittance: torch.Tensor
    weight: torch.Tensor
    formed: int


def box_extents(proj: ProjectedSplats, image_size: int, radius: Optional[torch.Tensor] = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The splats that show, nearest first, and their boxes clipped to the image.

    radius: (N, 2) int64 box half-widths (default ``proj.radius``; 0 skips a splat) ->
    order (M,) int64 splat indices, lo (M, 2) int64 first (col, row), extent (M, 2) int64 size."""
    radius = proj.radius if radius is None else radius
    with torch.no_grad():
        live = torch.nonzero(proj.valid & (radius > 0).all(1)).squeeze(1)
        order = live[torch.sort(proj.depth.detach()[live], stable=True).indices]
        center = proj.mean2d.detach()[order]
        r = radius[order].to(center.dtype)
        lo = torch.ceil(center - r).clamp_min(0).to(torch.int64)
        hi = torch.floor(center + r).clamp_max(image_size - 1).to(torch.int64)
        return order, lo, (hi - lo + 1).clamp_min(0)


def box_pairs(proj: ProjectedSplats, image_size: int, radius: Optional[torch.Tensor] = None,
              ellipse: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (splat, pixel) pair inside the splats' boxes (pixel centres with
    |col - mu_x| <= r_x and |row - mu_y| <= r_y), grouped by splat, nearest splat first.
    ellipse: keep, in each row of a box, only the columns inside the footprint ellipse
    d^T Sigma_2D^-1 d <= k^2 (k = ``footprint_sigmas``; widened by 1e-3 px, so no pixel whose
    alpha reaches 1/255 is lost): the pairs a render forms shrink to about the ones it keeps.
    -> (splat (P,) int64, pix (P,) int64 = row * S + col)."""
    device = proj.depth.device
    order, seg_splat, seg_row, col0, width = row_spans(proj, image_size, radius, ellipse)
    with torch.no_grad():
        total = int(width.sum())
        if total == 0:
            empty = torch.zeros(0, dtype=torch.int64, device=device)
            return empty, empty
        seg = torch.repeat_interleave(torch.arange(len(width), device=device), width)
        start = torch.cumsum(width, 0) - width
        base = seg_row * image_size + col0 - start                  # pix = base[seg] + pair index
        pix = base[seg] + torch.arange(total, device=device)
        return order[seg_splat[seg]], pix


def row_spans(proj: ProjectedSplats, image_size: int, radius: Optional[torch.Tensor] = None,
              ellipse: bool = False) -> tuple[torch.Tensor, ...]:
    """The boxes (or ellipses) as row segments, without forming the pairs: order (M,) splats
    nearest first; per segment (R,): index into ``order``, row, first column, width (0: empty)."""
    device = proj.depth.device
    order, lo, extent = box_extents(proj, image_size, radius)
    with torch.no_grad():
        # one segment per (splat, box row), then the pixels of each segment: no per-pair division
        rows_per = extent[:, 1] * (extent[:, 0] > 0)
        seg_splat = torch.repeat_interleave(torch.arange(len(order), device=device), rows_per)
        seg_first = torch.cumsum(rows_per, 0) - rows_per
        seg_row = lo[seg_splat, 1] + torch.arange(len(seg_splat), device=device) - seg_first[seg_splat]
        col0 = lo[seg_splat, 0]
        col1 = col0 + extent[seg_splat, 0] - 1
        if ellipse and len(seg_splat):
            col0, col1 = _ellipse_span(proj, order[seg_splat], seg_row, col0, col1)
        return order, seg_splat, seg_row, col0, (col1 - col0 + 1).clamp_min(0)


def _ellipse_span(proj: ProjectedSplats, splat: torch.Tensor, row: torch.Tensor, col0: torch.Tensor,
                  col1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Columns of row ``row`` inside splat's k-sigma ellipse, within [col0, col1] (per segment)."""
    from .project import footprint_sigmas

    q = proj.conic.detach()[splat].double()
    mean = proj.mean2d.detach()[splat].double()
    k2 = footprint_sigmas(proj.opacity[splat]).double() ** 2
    a, b, c = q[:, 0], q[:, 1], q[:, 2]
    dy = row.double() - mean[:, 1]
    disc = (b * dy) ** 2 - a * (c * dy * dy - k2)
    half = torch.sqrt(disc.clamp_min(0)) / a
    centre = mean[:, 0] - b * dy / a
    lo = torch.ceil(centre - half - 1e-3)
    hi = torch.floor(centre + half + 1e-3)
    empty = (disc < 0) | ~torch.isfinite(lo) | ~torch.isfinite(hi)
    lo = torch.where(empty, col1.double() + 1, lo)
    hi = torch.where(empty, col1.double(), hi)
    return torch.maximum(lo.long(), col0), torch.minimum(hi.long(), col1)


def gaussian_alpha(proj: ProjectedSplats, splat: torch.Tensor, pix: torch.Tensor,
                   image_size: int) -> torch.Tensor:
    """alpha = min(o exp(-sigma), 0.99), sigma = (a dx^2 + c dy^2)/2 + b dx dy, d = pixel - mu.
    splat, pix: (P,) int64 -> (P,) float (differentiable in the projection)."""
    col = (pix % image_size).to(proj.mean2d.dtype)
    row = torch.div(pix, image_size, rounding_mode="floor").to(proj.mean2d.dtype)
    mean = proj.mean2d[splat]
    dx, dy = col - mean[:, 0], row - mean[:, 1]
    conic = proj.conic[splat]
    sigma = 0.5 * (conic[:, 0] * dx * dx + conic[:, 2] * dy * dy) + conic[:, 1] * dx * dy
    return torch.clamp_max(proj.opacity[splat] * torch.exp(-sigma), MAX_ALPHA)


def sort_by_pixel(splat: torch.Tensor, pix: torch.Tensor, *more: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Pairs grouped by pixel, keeping their order (front to back) inside each pixel; ``more``
    per-pair tensors are permuted alike. (The stable sort runs on int32 keys: twice as fast as
    int64 on a CPU, and S^2 < 2^31 for every allowed image size; the sorted keys are the pixels.)"""
    keys, order = torch.sort(pix.to(torch.int32), stable=True)
    return (splat[order], keys.to(pix.dtype), *(t[order] for t in more))


def transmittance(alpha: torch.Tensor, pix: torch.Tensor) -> torch.Tensor:
    """T_i = prod_{j < i, same pixel} (1 - alpha_j) for pairs sorted by pixel (front to back).
    alpha, pix: (P,) -> (P,), differentiable in alpha (alpha <= 0.99, so log(1 - alpha) is finite)."""
    if alpha.numel() == 0:
        return alpha
    log_keep = torch.log1p(-alpha).to(torch.float64)
    inclusive = torch.cumsum(log_keep, 0)
    exclusive = inclusive - log_keep
    start = torch.ones_like(pix, dtype=torch.bool)
    start[1:] = pix[1:] != pix[:-1]
    segment = torch.cumsum(start.to(torch.int64), 0) - 1
    base = exclusive[start][segment]
    return torch.exp(exclusive - base).to(alpha.dtype)


def rank_in_pixel(pix: torch.Tensor) -> torch.Tensor:
    """For pairs sorted by pixel: 0 for the front pair of each pixel, 1 for the next, ..."""
    start = torch.ones_like(pix, dtype=torch.bool)
    start[1:] = pix[1:] != pix[:-1]
    index = torch.arange(len(pix), device=pix.device)
    segment = torch.cumsum(start.to(torch.int64), 0) - 1
    return index - index[start][segment]


def gaussian_pairs(proj: ProjectedSplats, image_size: int
                   ) -> tuple[torch.Tensor, torch.Tensor, int, torch.Tensor]:
    """Steps 1-3: the pairs with alpha >= 1/255, sorted by pixel then front to back ->
    (splat (P,) int64, pix (P,) int64, pairs formed before the cut-off, alpha (P,) without a
    graph: the fused compositing reuses it instead of evaluating the Gaussians again).

    The pairs come per row segment of each footprint ellipse (``row_spans``): the splat's
    terms are gathered per segment, and c dy^2 computed once per row; the arithmetic is that of
    ``gaussian_alpha`` operation for operation, so the cut-off decides exactly as there (and as
    the GL reference's shader does)."""
    device = proj.depth.device
    order, seg_splat, seg_row, col0, width = row_spans(proj, image_size, ellipse=True)
    with torch.no_grad():
        total = int(width.sum())
        if total == 0:
            empty = torch.zeros(0, dtype=torch.int64, device=device)
            return empty, empty, 0, torch.zeros(0, dtype=proj.mean2d.dtype, device=device)
        sid = order[seg_splat]
        mean, q = proj.mean2d.detach()[sid], proj.conic.detach()[sid]
        dy = seg_row.to(mean.dtype) - mean[:, 1]
        cdy2 = q[:, 2] * dy * dy
        start = torch.cumsum(width, 0) - width
        seg = torch.repeat_interleave(torch.arange(len(width), device=device), width)
        step = torch.arange(total, device=device)
        col = ((col0 - start)[seg] + step).to(mean.dtype)
        dx = col - mean[:, 0][seg]
        sigma = 0.5 * (q[:, 0][seg] * dx * dx + cdy2[seg]) + q[:, 1][seg] * dx * dy[seg]
        alpha = torch.clamp_max(proj.opacity.detach()[sid][seg] * torch.exp(-sigma), MAX_ALPHA)
        keep = torch.nonzero(alpha >= ALPHA_CUTOFF).squeeze(1)
        seg, alpha = seg[keep], alpha[keep]
        pix = (seg_row * image_size + col0 - start)[seg] + step[keep]
        splat, pix, alpha = sort_by_pixel(sid[seg], pix, alpha)
    return splat, pix, total, alpha


def gaussian_fragments(proj: ProjectedSplats, image_size: int) -> Fragments:
    """The kept fragments of a Gaussian render with alpha, T and w (steps 1-4), in plain autograd."""
    splat, pix, formed, _ = gaussian_pairs(proj, image_size)
    alpha = gaussian_alpha(proj, splat, pix, image_size)
    trans = transmittance(alpha, pix)
    return Fragments(pix, splat, alpha, trans, alpha * trans, formed)


def composite(frags: Fragments, proj: ProjectedSplats, image_size: int) -> torch.Tensor:
    """(S*S, 5) per-pixel sums of w_i (r, g, b, 1, z): colour, coverage and depth (autograd)."""
    feats = torch.cat([proj.color[frags.splat], torch.ones_like(frags.weight)[:, None],
                       proj.depth[frags.splat][:, None]], dim=1)
    npix = image_size * image_size
    return torch.zeros(npix, 5, dtype=proj.mean2d.dtype, device=proj.mean2d.device).index_add(
        0, frags.pix, frags.weight[:, None] * feats)


def images_from_sums(sums: torch.Tensor, image_size: int, background: torch.Tensor) -> dict[str, torch.Tensor]:
    """(S*S, 5) sums -> rgb (S, S, 3) = sum w c + (1 - sum w) bg; alpha (S, S) = sum w;
    depth (S, S) = sum w z / alpha (expected depth, 0 where alpha = 0)."""
    s = image_size
    alpha = sums[:, 3]
    rgb = sums[:, :3] + (1 - alpha)[:, None] * background.to(dtype=sums.dtype, device=sums.device)
    covered = alpha > 1e-12
    depth = torch.where(covered, sums[:, 4] / torch.where(covered, alpha, torch.ones_like(alpha)),
                        torch.zeros_like(alpha))
    return {"rgb": rgb.reshape(s, s, 3), "alpha": alpha.reshape(s, s), "depth": depth.reshape(s, s)}
