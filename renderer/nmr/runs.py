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


def line_planes(image: torch.Tensor, fill: float) -> torch.Tensor:
    """(S, S) or (S, S, C) image -> its line layout with RUN_PAD pixels of ``fill`` at both ends of
    every line, flattened: (2 S (S + 2 RUN_PAD),) or (C, 2 S (S + 2 RUN_PAD))."""
    s, pad = image.shape[0], RUN_PAD
    up = torch.flip(image, dims=[0])                                  # raster rows, y up
    channels = up[..., None] if up.dim() == 2 else up
    planes = image.new_empty(channels.shape[-1], 2, s, s + 2 * pad)
    planes[..., :pad] = fill
    planes[..., pad + s:] = fill
    planes[:, 0, :, pad:pad + s] = channels.permute(2, 1, 0)          # columns
    planes[:, 1, :, pad:pad + s] = channels.permute(2, 0, 1)          # rows
    planes = planes.reshape(planes.shape[0], -1)
    return planes[0] if image.dim() == 2 else planes


def _buckets(key: torch.Tensor, chunk: int, flag_bits: int = 0):
    """Runs sorted by key (padded length << flag_bits | flags) and cut into groups of about
    ``chunk`` pixels sharing one: -> (order (K,), [(key, first, stop) of each group, in positions
    of ``order``])."""
    order = torch.argsort(key)
    keys, counts = torch.unique_consecutive(key[order], return_counts=True)
    groups, at = [], 0
    for j, n in zip(keys.tolist(), counts.tolist()):
        per = max(1, chunk // (j >> flag_bits))
        groups += [(j, k0, min(k0 + per, at + n)) for k0 in range(at, at + n, per)]
        at += n
    return order, groups


def _weights(views, rows, ref):
    """A_P - g_P . ref for the slices starting at ``rows``: (K, J)."""
    w = views[0].index_select(0, rows)
    for c, view in enumerate(views[1:]):
        w.addcmul_(view.index_select(0, rows), ref[:, c, None], value=-1.0)
    return w


def _slices(planes, j: int) -> list[torch.Tensor]:
    """Overlapping (N - j + 1, j) views of each plane: row i is pixels i..i + j - 1."""
    return [plane.as_strided((plane.numel() - j + 1, j), (1, 1)) for plane in planes]


def run_sums(lo, hi, line, direction, cross, ref, m0, m1, planes, s, eps, chunk):
    """Dense out-run sums. lo, hi, line, direction: (K,) long; cross, m0, m1: (K,); ref: (K, C);
    planes: 1 + C ``line_planes`` (N,) of A_P (-inf on the pads and where no run can count: runs
    are cut at their line's first and last pixel that can) and of g_P's channels (0 on the pads);
    s: image size. -> (sum0, sum1), (K,) each, unsigned.

    Each run is read as one contiguous slice of the planes, starting at the pixel next to its
    crossing: forward for runs going up the line, right-aligned for runs going down. Runs are
    bucketed by length, so a slice overshoots its run by less than RUN_PAD pixels; what it
    overshoots is the pad or a pixel that cannot count (A = -inf: weight 0)."""
    device, dtype = ref.device, ref.dtype
    width = s + 2 * RUN_PAD
    span = _bucket_width(hi - lo + 1)
    up = direction > 0
    # runs going down (read right-aligned) sort after those going up of the same length
    order, groups = _buckets(2 * span + (~up).long(), chunk, flag_bits=1)
    pick = lambda t: t.index_select(0, order)                                 # noqa: E731
    lo, hi, span, cross, ref, up = pick(lo), pick(hi), pick(span), pick(cross), pick(ref), pick(up)
    origin = pick(line) * width + RUN_PAD + torch.where(up, lo, hi - span + 1)   # first pixel read
    # distance from the crossing to the run's pixel nearest to it (small: exact in float)
    near = torch.where(up, lo.to(dtype) - cross, cross - hi.to(dtype))
    lever = torch.stack([pick(m0), pick(m1)], 1)                              # (K, 2)
    base = (lever * near[:, None]).add_(eps).reshape(-1, 1)                   # (2K, 1)
    lever = lever.reshape(-1, 1)
    sums = torch.empty(order.numel(), 2, 1, dtype=dtype, device=device)
    cache = {}
    for key, k0, k1 in groups:
        j, down = key // 2, key % 2
        if j not in cache:
            cache[j] = _slices(planes, j)
        dist = torch.arange(j, dtype=dtype, device=device)                    # pixels from the nearest
        dist = dist.flip(0) if down else dist
        w = _weights(cache[j], origin[k0:k1], ref[k0:k1]).clamp_(min=0)
        r = (lever[2 * k0:2 * k1] * dist).add_(base[2 * k0:2 * k1]).reciprocal_()   # (addcmul: 4x slower)
        torch.bmm(r.view(k1 - k0, 2, j), w[:, :, None], out=sums[k0:k1])
    out = torch.empty_like(sums)
    out[order] = sums
    return out[:, 0, 0], out[:, 1, 0]


def in_run_sums(start, length, line, face, cross, ref, lever0, lever1, planes, fmap_planes, s, eps, chunk):
    """The in runs' lever sums (NMR's formula verbatim, as ``sweep.ragged_runs``), densely: run k
    is pixels start..start + length - 1 of its line, those of face ``face`` only. start, length,
    line, face: (K,) long; cross, lever0, lever1: (K,); ref: (K, C); planes: 1 + C (N,)
    ``line_planes`` of A_P and g_P; fmap_planes: (N,) of the face map (-1 on the pads).
    -> (sum0, sum1), (K,) each."""
    device, dtype = ref.device, ref.dtype
    width = s + 2 * RUN_PAD
    order, groups = _buckets(_bucket_width(length), chunk)
    pick = lambda t: t.index_select(0, order)                                 # noqa: E731
    start, length, face, ref = pick(start), pick(length), pick(face), pick(ref)
    origin = pick(line) * width + RUN_PAD + start
    near = start.to(dtype) - pick(cross)                                      # offset of the first pixel
    levers = (pick(lever0), pick(lever1))
    sums = torch.empty(2, order.numel(), dtype=dtype, device=device)
    for j, k0, k1 in groups:
        steps = torch.arange(j, device=device)
        rows = origin[k0:k1]
        w = _weights(_slices(planes, j), rows, ref[k0:k1])
        faces = fmap_planes.as_strided((fmap_planes.numel() - j + 1, j), (1, 1)).index_select(0, rows)
        use = (w > 0) & (faces == face[k0:k1, None]) & (steps < length[k0:k1, None])
        w = torch.where(use, w, torch.zeros_like(w))
        offset = near[k0:k1, None] + steps.to(dtype)
        for lever, acc in zip(levers, sums):
            dist = lever[k0:k1, None] * offset
            dist = torch.where(dist > 0, dist + eps, dist - eps)              # NMR: away from 0
            acc[k0:k1] = (w / dist).sum(1).neg_()
    out = torch.empty_like(sums)
    out[:, order] = sums
    return out[0], out[1]


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
