"""SoftRas's (pixel, face) pair record, formed in one place for the renderer, the silhouette fast
path and the pixel inspector, so the three can never disagree on the cut-off or the coverage.

Per pixel i and face j: D = sigmoid(x) with x = delta d2 / sigma (delta = +1 inside, -1
outside); pairs with D < COVERAGE_FLOOR (d2 >= SOFTRAS_CUTOFF_FACTOR sigma outside) are dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.autograd.forward_ad as fwad
import torch.nn.functional as F

from ..registry import SOFTRAS_CUTOFF_FACTOR
from .common import tile_geometry
from .geometry import TABLE_ROWS, _TileGeometry, derived_rows, pair_geometry
from .tiles import TileChunk


def softras_cutoff(sigma: float) -> float:
    """Squared NDC distance outside a face beyond which D < COVERAGE_FLOOR."""
    return sigma * SOFTRAS_CUTOFF_FACTOR


# Whether ``soft_tile`` may use the fused node (``_CoverageTile``) when a backward is wanted.
# False records the plain autograd graph everywhere (the tests compare the two).
FUSED = True
SOFTPLUS_THRESHOLD = 20.0                  # F.softplus's default: softplus(x) = x above it


class _CoverageTile(torch.autograd.Function):
    """One chunk's pair record and its per-pixel sum of log(1 - D) as ONE autograd node, with a
    hand-written backward: autograd would record and replay a dozen elementwise ops over every
    pair (the logit, softplus, mask, scatter), which is most of a render's backward.

    Forward: ``_TileGeometry``'s d2, inside and barycentrics; keep = in_box & (inside | d2 <
    cut-off); x = d2 (2 inside - 1) / sigma; U_i = sum over kept pairs of pixel i of -softplus(x).
    Backward, for dL/dU (num_slots,) and dL/dx (Fg, T, T): dL/dx_total = dL/dx - keep sigmoid(x)
    dL/dU[pix], dL/dd2 = dL/dx_total (2 inside - 1) / sigma, then the closest-point rule of
    ``_TileGeometry`` to the corners. Outputs: U (differentiable), x (differentiable), keep,
    inside, bary (values only). Forward mode is not implemented here: ``soft_tile`` takes the
    autograd path when a tangent is present; double backward recomputes through autograd.
    """

    @staticmethod
    def forward(ctx, corners, derived, px, py, pix, in_box, sigma: float, num_slots: int, with_bary: bool):
        d2, inside, bary, edge, t, dx, dy = _TileGeometry.closest_point_forward(px, py, corners, derived,
                                                                                with_bary)
        keep = in_box & (inside | (d2 < softras_cutoff(sigma)))
        rate = (inside.to(d2.dtype) * 2 - 1) / sigma
        x = d2 * rate
        flat_pix = pix.reshape(-1)
        log_unc = torch.zeros(num_slots, dtype=x.dtype, device=x.device).index_add_(
            0, flat_pix, F.softplus(x).neg_().masked_fill_(~keep, 0.0).reshape(-1))
        ctx.mark_non_differentiable(keep, inside, *([] if bary is None else [bary]))
        ctx.save_for_backward(corners, derived, px, py, pix, keep, rate, x, edge, t, dx, dy)
        ctx.sigma = sigma
        ctx.set_materialize_grads(False)
        return log_unc, x, keep, inside, bary

    @staticmethod
    def backward(ctx, g_log, g_x, g_keep, g_inside, g_bary):
        corners, derived, px, py, pix, keep, rate, x, edge, t, dx, dy = ctx.saved_tensors
        if torch.is_grad_enabled():
            return _CoverageTile._autograd_backward(corners, px, py, pix, keep, rate, g_log, g_x)
        if g_log is None and g_x is None:
            return (None,) * 9
        g = torch.zeros_like(x) if g_x is None else g_x
        if g_log is not None:
            # dL/dx += -softplus'(x) dL/dU[pix] on kept pairs; softplus'(x) = sigmoid(x), and 1
            # above softplus's threshold, where F.softplus returns x itself
            slope = torch.sigmoid(x).masked_fill_(x > SOFTPLUS_THRESHOLD, 1.0)
            g = g - slope.mul_(g_log[pix]).masked_fill_(~keep, 0.0)
        grads = _TileGeometry.d2_corner_grads(edge, t, dx, dy, g * rate, corners.shape[1:])
        return torch.stack(grads), None, None, None, None, None, None, None, None

    @staticmethod
    def _autograd_backward(corners, px, py, pix, keep, rate, g_log, g_x):
        """The same derivative recomputed through autograd (create_graph: double backward)."""
        d2, _, _ = pair_geometry(px, py, torch.cat([corners, derived_rows(corners)]))
        x = d2 * rate
        outs, grads = [], []
        if g_log is not None:
            terms = F.softplus(x).neg().masked_fill(~keep, 0.0).reshape(-1)
            outs.append(torch.zeros_like(g_log).index_add(0, pix.reshape(-1), terms))
            grads.append(g_log)
        if g_x is not None:
            outs.append(x)
            grads.append(g_x)
        (grad,) = torch.autograd.grad(outs, corners, grads, create_graph=True)
        return grad, None, None, None, None, None, None, None, None


@dataclass
class SoftTile:
    """One tile chunk's pairs. pix: (Fg, T, T) flat pixel index (padding -> S*S); keep: (Fg, T, T)
    bool, the pairs within the cut-off; x: (Fg, T, T) the coverage logit, differentiable in the
    geometry; bary: (3, Fg, T, T) screen barycentrics (None when not asked for, see ``soft_tile``);
    zc: (3, Fg, 1, 1) corner view depths."""

    pix: torch.Tensor
    keep: torch.Tensor
    x: torch.Tensor
    bary: Optional[torch.Tensor]
    zc: torch.Tensor

    summed: Optional[torch.Tensor] = None      # log_uncovered, when the fused node formed it

    def log_uncovered(self, num_slots: int) -> torch.Tensor:
        """(num_slots,) per pixel sum over kept pairs of log(1 - D) = -softplus(x) (stable for
        any sigma)."""
        if self.summed is not None and self.summed.numel() == num_slots:
            return self.summed
        terms = F.softplus(self.x).neg().masked_fill(~self.keep, 0.0)
        return torch.zeros(num_slots, dtype=self.x.dtype, device=self.x.device).index_add_(
            0, self.pix.reshape(-1), terms.reshape(-1))


def soft_tile(chunk: TileChunk, geo: torch.Tensor, image_size: int, sigma: float,
              fused: Optional[bool] = None, with_bary: bool = True) -> SoftTile:
    """The pair record of one chunk; geo: (21, Fg) the chunk's rows of ``FaceTables.geo``.

    ``fused`` (default: ``FUSED``, when a backward pass is wanted and no forward-mode tangent is present)
    forms the record and its ``log_uncovered(S*S + 1)`` in ``_CoverageTile``, one autograd
    node with a hand-written backward; otherwise autograd records the elementwise ops (forward
    mode, through ``_TileGeometry.jvp``, works on that path). Both give the same values.
    Without ``with_bary`` (silhouette-only chunks) ``bary`` may be None (the fused node and
    renders without derivatives skip it)."""
    px, py, pix, in_box = chunk.pixel_grid(image_size, geo.dtype)
    if fused is None:
        fused = FUSED and torch.is_grad_enabled() and geo.requires_grad and \
            fwad.unpack_dual(geo).tangent is None
    if fused:
        rows = geo[:, :, None, None]
        log_unc, x, keep, _, bary = _CoverageTile.apply(
            rows[:6], rows[6:TABLE_ROWS], px, py, pix, in_box, sigma, image_size * image_size + 1, with_bary)
        return SoftTile(pix=pix, keep=keep, x=x, bary=bary, zc=rows[TABLE_ROWS:TABLE_ROWS + 3], summed=log_unc)
    d2, inside, bary, zc = tile_geometry(geo, px, py, with_bary)
    with torch.no_grad():
        keep = in_box & (inside | (d2 < softras_cutoff(sigma)))
        signed_rate = (inside.to(geo.dtype) * 2 - 1) / sigma
    return SoftTile(pix=pix, keep=keep, x=d2 * signed_rate, bary=bary, zc=zc)
