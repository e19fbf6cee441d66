"""The Gaussian compositing of ``raster`` as one autograd Function with a hand-written backward
(the 3DGS / gsplat backward, over the same sorted pairs): 3-5x fewer passes over the pairs than
autograd's graph of a dozen elementwise ops, which is what a 100k-splat render on a CPU costs.

Forward, per pair i of a pixel (front to back): d = p - mu, sigma = (a dx^2 + c dy^2)/2 + b dx dy,
G = exp(-sigma), alpha = min(o G, 0.99), T_i = prod_{j<i}(1 - alpha_j), w_i = alpha_i T_i, and per
pixel F = sum_i w_i f_i with f_i = (r, g, b, 1, z): colour, coverage and depth sums.

Backward, with u = dL/dF at the pixel and h_i = u . f_i:
    dL/dalpha_i = T_i h_i - (sum_{j>i} w_j h_j) / (1 - alpha_i)
    dL/df_i = w_i u;   alpha capped at 0.99: no gradient to o or sigma;
    dL/do = dL/dalpha G; dL/dsigma = -dL/dalpha o G;
    dL/dmu = -dL/dsigma (a dx + b dy, b dx + c dy); dL/d(a, b, c) = dL/dsigma (dx^2/2, dx dy, dy^2/2).
The per-pixel suffix sums are one float64 cumulative sum. ``raster.composite`` (plain autograd)
is the same function; the tests check the two agree and gradcheck this one in float64. Forward-
mode AD (derivative images) takes the autograd path (see ``render.composite_images``).
"""
from __future__ import annotations

import torch

from .project import MAX_ALPHA


def _segments(pix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For pairs sorted by pixel: start flags, segment index per pair, last index per segment."""
    start = torch.ones_like(pix, dtype=torch.bool)
    start[1:] = pix[1:] != pix[:-1]
    segment = torch.cumsum(start.to(torch.int64), 0) - 1
    end = torch.ones_like(start)
    end[:-1] = start[1:]
    return start, segment, torch.nonzero(end).squeeze(1)


def _pair_terms(mean2d, conic, opacity, splat, pix, image_size: int):
    """Per pair: dx, dy (P,), conic (P, 3), G = exp(-sigma), o G and alpha = min(o G, 0.99)."""
    col = (pix % image_size).to(mean2d.dtype)
    row = torch.div(pix, image_size, rounding_mode="floor").to(mean2d.dtype)
    mu = mean2d[splat]
    dx, dy = col - mu[:, 0], row - mu[:, 1]
    q = conic[splat]
    gauss = torch.exp(-(0.5 * (q[:, 0] * dx * dx + q[:, 2] * dy * dy) + q[:, 1] * dx * dy))
    raw = opacity[splat] * gauss
    return dx, dy, q, gauss, raw, raw.clamp_max(MAX_ALPHA)


class GaussianComposite(torch.autograd.Function):
    """F (S*S, 5) = per pixel sum_i w_i (r, g, b, 1, z) from projected splats and sorted pairs."""

    @staticmethod
    def forward(ctx, mean2d, conic, opacity, color, depth, splat, pix, image_size: int, alpha=None):
        if alpha is None:
            alpha = _pair_terms(mean2d, conic, opacity, splat, pix, image_size)[-1]
        if alpha.numel():
            log_keep = torch.log1p(-alpha).to(torch.float64)
            inclusive = torch.cumsum(log_keep, 0)
            exclusive = inclusive - log_keep
            start, segment, last = _segments(pix)
            trans = torch.exp(exclusive - exclusive[start][segment]).to(alpha.dtype)
        else:
            trans, segment, last = alpha, pix, pix
        w = alpha * trans
        table = torch.cat([color, torch.ones_like(depth)[:, None], depth[:, None]], dim=1)    # (N, 5)
        feats = table[splat]
        out = torch.zeros(image_size * image_size, 5, dtype=mean2d.dtype, device=mean2d.device).index_add_(
            0, pix, w[:, None] * feats)
        ctx.save_for_backward(mean2d, conic, opacity, splat, pix, alpha, trans, feats, segment, last)
        ctx.image_size = image_size
        return out

    @staticmethod
    def backward(ctx, grad_out):
        mean2d, conic, opacity, splat, pix, alpha, trans, feats, segment, last = ctx.saved_tensors
        n = mean2d.shape[0]
        # the Gaussians are evaluated again here rather than kept from the forward pass: a
        # render that is only displayed (the GUI's preview) never pays for them twice
        dx, dy, q, gauss, raw, _ = _pair_terms(mean2d, conic, opacity, splat, pix, ctx.image_size)
        dtype, device = alpha.dtype, alpha.device
        zeros = lambda *shape: torch.zeros(*shape, dtype=dtype, device=device)  # noqa: E731
        if alpha.numel() == 0:
            return zeros(n, 2), zeros(n, 3), zeros(n), zeros(n, 3), zeros(n), None, None, None, None
        u = grad_out[pix]                                           # (P, 5)
        w = alpha * trans
        h = (u * feats).sum(1)
        wh = (w * h).to(torch.float64)
        inclusive = torch.cumsum(wh, 0)
        behind = (inclusive[last][segment] - inclusive).to(dtype)   # sum_{j > i} w_j h_j
        d_alpha = trans * h - behind / (1 - alpha)
        d_raw = torch.where(raw < MAX_ALPHA, d_alpha, torch.zeros_like(d_alpha))
        d_sigma = -d_raw * raw
        # per-pair gradients written straight into the rows of one (10, P) buffer, then one
        # index_add onto the splats: (mu_x, mu_y, a, b, c, o, r, g, b, z)
        rows = torch.empty(10, alpha.numel(), dtype=dtype, device=device)
        neg = -d_sigma
        torch.mul(neg, q[:, 0] * dx + q[:, 1] * dy, out=rows[0])
        torch.mul(neg, q[:, 1] * dx + q[:, 2] * dy, out=rows[1])
        half = 0.5 * d_sigma
        torch.mul(half * dx, dx, out=rows[2])
        torch.mul(d_sigma * dx, dy, out=rows[3])
        torch.mul(half * dy, dy, out=rows[4])
        torch.mul(d_raw, gauss, out=rows[5])
        torch.mul(u[:, :3].T, w[None], out=rows[6:9])
        torch.mul(u[:, 4], w, out=rows[9])
        per_splat = zeros(10, n).index_add_(1, splat, rows).T
        return (per_splat[:, 0:2], per_splat[:, 2:5], per_splat[:, 5], per_splat[:, 6:9], per_splat[:, 9],
                None, None, None, None)

def fused_composite(mean2d, conic, opacity, color, depth, splat, pix, image_size: int,
                    alpha=None) -> torch.Tensor:
    """(S*S, 5) colour, coverage and depth sums (see the module docstring); ``alpha`` (P,) the
    pairs' alpha when the caller has it already (its values only: no gradient flows through it)."""
    return GaussianComposite.apply(mean2d, conic, opacity, color, depth, splat, pix, image_size,
                                   None if alpha is None else alpha.detach())
