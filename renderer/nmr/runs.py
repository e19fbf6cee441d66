"""The sums over the sweep's out runs (``sweep.py``): for run k along a line, pixels P = lo..hi,

    sum_P max(0, A_P - g_P . ref_k) / (m (distance from P to the crossing) + eps),  m = m0, m1

(A_P = I_P . g_P; the two levers of the edge's ends), computed densely over padded slices of the
lines (``run_sums``) or pixel by pixel over those that can count (``live_pixel_runs``).

Line layout: 2 S lines of S pixels; lines 0..S-1 are the image's columns (raster x, pixels by
raster y, i.e. from the bottom row up), lines S..2S-1 its rows from the bottom (pixels by x).
"""
from __future__ import annotations

import torch

RUN_PAD = 16               # zero pixels at both ends of a line: how far a padded run may overshoot


def image_index(pix: torch.Tensor, s: int) -> torch.Tensor:
    """Line-layout pixel indices (line * S + position) -> flat image indices r * S + c (row 0 at
    the top)."""
    line, d1 = torch.div(pix, s, rounding_mode="floor"), pix % s
    column = line < s
    d0 = torch.where(column, line, line - s)
    raster_x = torch.where(column, d0, d1)
    raster_y = torch.where(column, d1, d0)
    return (s - 1 - raster_y) * s + raster_x


def to_lines(image: torch.Tensor) -> torch.Tensor:
    """(S, S, *C) image (row 0 at the top) -> (2 S, S, *C) line layout."""
    up = torch.flip(image, dims=[0])                                  # raster rows, y up
    return torch.cat([up.transpose(0, 1), up])


def chunks(lengths: torch.Tensor, chunk: int) -> list[tuple[int, int]]:
    """Consecutive ranges of runs holding about ``chunk`` pixels each (at least one run)."""
    ends = torch.cumsum(lengths, 0)
    bounds = [0]
    while bounds[-1] < lengths.numel():
        stop = int(torch.searchsorted(ends, ends[bounds[-1]] - lengths[bounds[-1]] + chunk, right=True))
        bounds.append(max(stop, bounds[-1] + 1))
    return list(zip(bounds[:-1], bounds[1:]))


def _bucket_width(length: torch.Tensor) -> torch.Tensor:
    """The padded length a run of ``length`` pixels is summed at: a multiple of 4 up to 16, of 8 up
    to 64, of 16 beyond, so that a run never reads RUN_PAD pixels or more past its end."""
    step = torch.where(length <= 16, 4, torch.where(length <= 64, 8, 16))
    return torch.div(length + step - 1, step, rounding_mode="floor") * step


def _planes(dot_live: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Padded line planes (1 + C, 2 S (S + 2 RUN_PAD)) flattened: A (-inf on the pads and where
    ``dot_live`` is), then each channel of g (0 on the pads). dot_live: (S, S); grad: (S, S, C)."""
    s = dot_live.shape[0]
    pad = RUN_PAD
    planes = torch.zeros(1 + grad.shape[-1], 2 * s, s + 2 * pad, dtype=grad.dtype, device=grad.device)
    planes[0] = -torch.inf
    planes[0, :, pad:pad + s] = to_lines(dot_live)
    planes[1:, :, pad:pad + s] = to_lines(grad).permute(2, 0, 1)
    return planes.reshape(planes.shape[0], -1)


def run_sums(lo, hi, line, direction, cross, ref, m0, m1, dot_live, grad, eps, chunk):
    """Dense out-run sums. lo, hi, line, direction: (K,) long; cross, m0, m1: (K,); ref: (K, C);
    dot_live: (S, S) A_P in the image layout, -inf where no run can count (runs are cut at their
    line's first and last pixel that can); grad: (S, S, C). -> (sum0, sum1), (K,) each, unsigned.

    Each run is read as one contiguous slice of the padded line planes (``_planes``), starting at
    the pixel next to its crossing: forward for runs going up the line, right-aligned for runs
    going down. Runs are bucketed by length, so a slice overshoots its run by less than RUN_PAD
    pixels; what it overshoots is the pad or a pixel that cannot count (A = -inf: weight 0)."""
    s = dot_live.shape[0]
    device, dtype = grad.device, grad.dtype
    width = s + 2 * RUN_PAD
    planes = _planes(dot_live, grad)
    span = _bucket_width(hi - lo + 1)
    up = direction > 0
    origin = line * width + RUN_PAD + torch.where(up, lo, hi - span + 1)     # first pixel read
    # distance from the crossing to the run's pixel nearest to it (small: exact in float)
    near = torch.where(up, lo.to(dtype) - cross, cross - hi.to(dtype))
    base0, base1 = m0 * near + eps, m1 * near + eps
    down = (~up).long()
    order = torch.argsort(span)
    widths, counts = torch.unique_consecutive(span[order], return_counts=True)
    a0 = torch.zeros(lo.numel(), dtype=dtype, device=device)
    a1 = torch.zeros_like(a0)
    at = 0
    for j, n in zip(widths.tolist(), counts.tolist()):
        steps = torch.arange(j, dtype=dtype, device=device)
        offsets = torch.stack([steps, steps.flip(0)])                         # pixels from the nearest
        views = [plane.as_strided((plane.numel() - j + 1, j), (1, 1)) for plane in planes]
        per = max(1, chunk // j)
        for k0 in range(at, at + n, per):
            part = order[k0:min(k0 + per, at + n)]
            rows = origin[part]
            w = views[0].index_select(0, rows)
            for c, view in enumerate(views[1:]):
                w.addcmul_(view.index_select(0, rows), ref[part, c, None], value=-1.0)
            w.clamp_(min=0)
            dist = offsets.index_select(0, down[part])
            r = torch.empty(part.numel(), 2, j, dtype=dtype, device=device)
            torch.addcmul(base0[part, None], dist, m0[part, None], out=r[:, 0])
            torch.addcmul(base1[part, None], dist, m1[part, None], out=r[:, 1])
            both = torch.bmm(r.reciprocal_(), w[:, :, None])
            a0[part], a1[part] = both[:, 0, 0], both[:, 1, 0]
        at += n
    return a0, a1


def live_pixel_runs(live_pix, first, count, cross, ref, m0, m1, dot, grad, eps, s, chunk):
    """The out-run sums visiting only the pixels that can count: run k covers live_pix[first[k]:
    first[k] + count[k]] (flat line-layout indices). dot: (2 S S,) A_P in the line layout;
    grad: (S S, C) in the image layout. -> (sum0, sum1) per run, unsigned."""
    device, dtype = dot.device, dot.dtype
    a0 = torch.zeros(count.numel(), dtype=dtype, device=device)
    a1 = torch.zeros_like(a0)
    for k0, k1 in chunks(count, chunk):
        ln = count[k0:k1]
        m = int(ln.sum())
        if m == 0:
            continue
        sid = torch.repeat_interleave(torch.arange(k0, k1, device=device), ln)
        local = torch.arange(m, device=device) - (torch.cumsum(ln, 0) - ln).repeat_interleave(ln)
        pix = live_pix[first[sid] + local]
        w = (dot[pix] - (ref[sid] * grad[image_index(pix, s)]).sum(-1)).clamp_(min=0)
        u = ((pix % s).to(dtype) - cross[sid]).abs_()
        a0.index_add_(0, sid, w / (u * m0[sid] + eps))
        a1.index_add_(0, sid, w / (u * m1[sid] + eps))
    return a0, a1
