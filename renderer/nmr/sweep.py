"""NMR's hand-designed backward pass (Kato et al. 2018, ``backward_pixel_map``): the edge sweep.

For every visible face, each of its three edges and each image axis, the columns (rows) the edge
spans are scanned. Where the edge crosses column d0 at d1_cross, two runs of pixels are visited:

- "out" pixels, from the pixel just outside the edge to the image border, visited only when the
  pixel just inside belongs to the face (the edge is visible). Sweeping the edge over such a
  pixel P would give it the inside colour: dI = I_in - I_P;
- "in" pixels, from the edge to the opposite side of the face, those of this face only: the edge
  sweeping back past them would give them the outside colour, dI = I_out - I_P.

The vertex (p0 or p1 of the edge) would have to move by dx = lever (d1 - d1_cross) 2/S in NDC,
lever = (p1 - p0)/(p1 - d0) for p0 and (p1 - p0)/(d0 - p0) for p1, pushed away from 0 by eps.
The pixel contributes g_P dI/dx to dL/dx_v only when dI g_P < 0 (the move would lower the loss),
with g_P = dL/dI_P summed over the channels given: a loss derivative, not an image Jacobian.

Differences from NMR's kernel, both off-image corner cases: the last column an edge spans is
floor(max) (NMR truncates toward zero, so an edge just left of the image still visits column 0),
and an edge whose two ends share a column (NMR divides by zero there) visits none.

Everything is in NMR's raster frame: p = 0.5 (ndc S + S - 1) on both axes (pixel centres at whole
numbers, y up), i.e. the project's images flipped vertically (row r is raster y = S - 1 - r).
The runs are ragged (lengths up to S); they are laid out as one flat element list (segments of
consecutive pixels along a line) and processed in chunks, so memory stays bounded.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

SILHOUETTE_EPS = 1e-4      # NMR's DEFAULT_EPS (rasterize_silhouettes)
COLOR_EPS = 1e-3           # NMR's Renderer.rasterizer_eps (render, RGB)
SPARSE_GAIN = 4            # visit live pixels one by one when they are 4x fewer
CHUNK_ELEMENTS = 1 << 18   # pixels of runs processed at once (small: temporaries stay in cache)
RUN_PAD = 16               # zero pixels at both ends of a line: how far a padded run may overshoot


def to_raster(tri: torch.Tensor, image_size: int) -> torch.Tensor:
    """NDC corners (F, 3, 2) -> NMR raster coordinates 0.5 (ndc S + S - 1), (F, 3, 2)."""
    return 0.5 * (tri * image_size + image_size - 1)


def _ccw_order(tri: torch.Tensor) -> torch.Tensor:
    """(F, 3) corner order that makes each face counter-clockwise on screen: NMR culls faces
    with a negative signed area, and with fill_back (its default) draws every face in the
    orientation that is counter-clockwise."""
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    cw = (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) < 0
    order = torch.tensor([0, 1, 2], device=tri.device).repeat(tri.shape[0], 1)
    order[cw] = torch.tensor([0, 2, 1], device=tri.device)
    return order


def _segments(r: torch.Tensor, faces: torch.Tensor, fmap_lines: torch.Tensor, s: int):
    """Enumerate the edge crossings and their two runs.

    r: (F', 3, 2) raster corners (counter-clockwise) of the swept faces; faces: (F',) their ids.
    fmap_lines: (2 S S,) face map in line layout (axis 0: lines are columns, axis 1: rows).
    Returns a dict of per-segment tensors (one segment = one run of one crossing)."""
    device, dtype = r.device, r.dtype
    fn = faces.shape[0]
    edge = torch.arange(3, device=device)
    # (F', edge, axis) triples; corners pi0 = e, pi1 = e + 1, pi2 = e + 2
    i0, i1, i2 = edge, (edge + 1) % 3, (edge + 2) % 3
    scan = [r[:, :, 0], r[:, :, 1]]          # axis 0 scans x (columns), axis 1 scans y (rows)
    other = [r[:, :, 1], r[:, :, 0]]
    p0s = torch.stack([scan[a][:, i0] for a in (0, 1)], -1)            # (F', 3, 2)
    p1s = torch.stack([scan[a][:, i1] for a in (0, 1)], -1)
    p2s = torch.stack([scan[a][:, i2] for a in (0, 1)], -1)
    p0o = torch.stack([other[a][:, i0] for a in (0, 1)], -1)
    p1o = torch.stack([other[a][:, i1] for a in (0, 1)], -1)
    p2o = torch.stack([other[a][:, i2] for a in (0, 1)], -1)
    axis = torch.tensor([0, 1], device=device).expand(fn, 3, 2)
    increasing = p0s < p1s
    direction = torch.where((axis == 0) == increasing, -1, 1)        # NMR: out = in + direction
    lo = torch.ceil(torch.minimum(p0s, p1s)).clamp_min(0)
    hi = torch.floor(torch.maximum(p0s, p1s)).clamp_max(s - 1)
    count = torch.where(p0s != p1s, (hi - lo + 1).clamp_min(0), torch.zeros_like(lo)).long()
    count = count.reshape(-1)
    n = int(count.sum())
    if n == 0:
        return None
    trip = torch.repeat_interleave(torch.arange(count.numel(), device=device), count)
    first = torch.cumsum(count, 0) - count
    d0 = (lo.reshape(-1)[trip] + (torch.arange(n, device=device) - first[trip]).to(dtype))

    def per(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(-1)[trip]

    a, dirn = per(axis), per(direction)
    q0s, q1s, q2s, q0o, q1o, q2o = (per(t) for t in (p0s, p1s, p2s, p0o, p1o, p2o))
    cross = (q1o - q0o) / (q1s - q0s) * (d0 - q0s) + q0o
    d1_in = torch.where(dirn > 0, torch.floor(cross), torch.ceil(cross))
    d1_out = d1_in + dirn
    shown = (d1_in >= 0) & (d1_in < s) & (d1_out >= 0) & (d1_out < s)
    # opposite side of the face along this line (in-run limit)
    on_02 = (d0 - q0s) * (d0 - q2s) < 0
    c02 = (q2o - q0o) / torch.where(q2s != q0s, q2s - q0s, torch.ones_like(q2s)) * (d0 - q0s) + q0o
    c12 = (q1o - q2o) / torch.where(q1s != q2s, q1s - q2s, torch.ones_like(q1s)) * (d0 - q2s) + q2o
    cross2 = torch.where(on_02, c02, c12)
    limit = torch.where(dirn > 0, torch.ceil(cross2), torch.floor(cross2))
    face = faces[torch.div(trip, 6, rounding_mode="floor")]
    e_idx = torch.div(trip % 6, 2, rounding_mode="floor")
    line = a.long() * s + d0.long()                                    # index of the line
    keep = shown
    line, a, dirn, cross, d0, d1_in, d1_out, limit, face, e_idx, q0s, q1s = (
        t[keep] for t in (line, a, dirn, cross, d0, d1_in, d1_out, limit, face, e_idx, q0s, q1s))
    d1_in_l, d1_out_l = d1_in.long(), d1_out.long()
    visible = fmap_lines[line * s + d1_in_l] == face
    # out runs: from d1_out to the border in the direction; only where the edge is visible
    out_len = torch.where(dirn > 0, s - d1_out_l, d1_out_l + 1)
    out_start = torch.where(dirn > 0, d1_out_l, torch.zeros_like(d1_out_l))
    # in runs: d1_in .. limit (clamped), pixels of this face only
    lim = limit.long()
    in_start = torch.minimum(d1_in_l, lim).clamp_min(0)
    in_stop = torch.maximum(d1_in_l, lim).clamp_max(s - 1)
    in_len = (in_stop - in_start + 1).clamp_min(0)
    nk = line.numel()
    cat = lambda x, y: torch.cat([x, y])                               # noqa: E731
    seg = dict(line=cat(line, line), start=cat(out_start, in_start),
               length=cat(torch.where(visible, out_len, torch.zeros_like(out_len)), in_len),
               ref=cat(line * s + d1_in_l, line * s + d1_out_l),      # I_in for out, I_out for in
               check_face=cat(torch.zeros(nk, dtype=torch.bool, device=device),
                              torch.ones(nk, dtype=torch.bool, device=device)),
               face=cat(face, face), edge=cat(e_idx, e_idx), axis=cat(a, a), cross=cat(cross, cross),
               d0=cat(d0, d0), p0s=cat(q0s, q0s), p1s=cat(q1s, q1s), direction=cat(dirn, dirn))
    live = seg["length"] > 0
    return {k: v[live] for k, v in seg.items()}


@dataclass
class SweepSetup:
    """Everything the run sums read, in NMR's raster frame and the line layout (2 S lines of S
    pixels: axis 0 lines are columns, axis 1 lines are rows). seg: per-segment tensors (see
    ``_segments``); dot: (2 S S,) sum_ch I_P g_P; img, grad: (2 S S, C); fmap: (2 S S,);
    ref: (K, C) the reference colour of each segment; lever0, lever1: (K,) NDC displacement per
    pixel of offset for the edge's p0 and p1; slot0, slot1: (K,) flat (face, corner, coordinate)
    index each lever's sum goes to; has0, has1: (K,) whether that lever exists (NMR skips a
    vertex lying on the scanned line)."""

    s: int
    seg: dict
    dot: torch.Tensor
    img: torch.Tensor
    grad: torch.Tensor
    fmap: torch.Tensor
    ref: torch.Tensor
    lever0: torch.Tensor
    lever1: torch.Tensor
    slot0: torch.Tensor
    slot1: torch.Tensor
    has0: torch.Tensor
    has1: torch.Tensor


def sweep_setup(tri: torch.Tensor, face_map: torch.Tensor, image: torch.Tensor, grad: torch.Tensor,
                faces: Optional[torch.Tensor] = None) -> Optional[SweepSetup]:
    """The crossings and runs of the sweep (arguments as ``sweep_gradient``); None when there
    are none."""
    s = face_map.shape[0]
    faces = torch.unique(face_map[face_map >= 0] if faces is None else faces)     # sorted
    if faces.numel() == 0:
        return None
    sub = tri.detach().to(image.dtype).index_select(0, faces)
    order = _ccw_order(sub)
    r = to_raster(torch.gather(sub, 1, order[:, :, None].expand(-1, -1, 2)), s)
    # raster frame: rows flipped (y up); lines: axis 0 = columns (transpose), axis 1 = rows
    flip = lambda t: torch.flip(t, dims=[0])                           # noqa: E731
    lines = lambda t: torch.stack([t.transpose(0, 1), t]).reshape(2 * s * s, *t.shape[2:])  # noqa: E731
    fmap_l, img_l, grad_l = lines(flip(face_map)), lines(flip(image)), lines(flip(grad))
    seg = _segments(r, faces, fmap_l, s)
    if seg is None:
        return None
    # the corner index (in the face's original order) each segment's p0 and p1 belong to
    corner0 = torch.gather(order.index_select(0, torch.searchsorted(faces, seg["face"])), 1,
                           torch.stack([seg["edge"], (seg["edge"] + 1) % 3], 1))
    comp = 1 - seg["axis"].long()                                      # axis 0 moves y, axis 1 x
    p0s, p1s, d0 = seg["p0s"], seg["p1s"], seg["d0"]
    one = torch.ones_like(d0)
    return SweepSetup(
        s=s, seg=seg, dot=(img_l * grad_l).sum(-1), img=img_l, grad=grad_l, fmap=fmap_l,
        ref=img_l[seg["ref"]],
        lever0=(p1s - p0s) / torch.where(p1s != d0, p1s - d0, one) * (2.0 / s),
        lever1=(p1s - p0s) / torch.where(p0s != d0, d0 - p0s, one) * (2.0 / s),
        slot0=seg["face"] * 6 + corner0[:, 0] * 2 + comp, slot1=seg["face"] * 6 + corner0[:, 1] * 2 + comp,
        has0=p1s != d0, has1=p0s != d0)


def sweep_gradient(tri: torch.Tensor, face_map: torch.Tensor, image: torch.Tensor, grad: torch.Tensor,
                   eps: float, faces: Optional[torch.Tensor] = None,
                   chunk: int = CHUNK_ELEMENTS) -> torch.Tensor:
    """NMR's dL/d(face corners) from the edge sweep.

    tri: (F, 3, 2) NDC corners (x right, y up); face_map: (S, S) int64 visible face per pixel
    (-1 background), row 0 at the top; image: (S, S, C) the rendered channels (rgb and/or alpha);
    grad: (S, S, C) dL/dimage; eps: SILHOUETTE_EPS or COLOR_EPS; faces: (F',) ids of the faces to
    sweep (default: those visible in face_map; the others cannot contribute).
    -> (F, 3, 2) dL/dtri (NDC).
    """
    out = torch.zeros(tri.shape[0] * 6, dtype=image.dtype, device=tri.device)
    sw = sweep_setup(tri, face_map, image, grad, faces)
    if sw is None:
        return out.reshape(-1, 3, 2)
    s, seg = sw.s, sw.seg
    acc0 = torch.zeros(seg["length"].numel(), dtype=image.dtype, device=tri.device)
    acc1 = torch.zeros_like(acc0)
    outer = torch.nonzero(~seg["check_face"], as_tuple=True)[0]
    if outer.numel():
        a0, a1 = _out_runs(seg, outer, sw.ref, sw.lever0, sw.lever1, sw.dot.reshape(2 * s, s),
                           sw.grad.reshape(2 * s, s, -1), sw.img.reshape(2 * s, s, -1), eps, chunk)
        acc0[outer], acc1[outer] = a0, a1
    inner = torch.nonzero(seg["check_face"], as_tuple=True)[0]
    if inner.numel():
        acc0[inner], acc1[inner] = ragged_runs(sw, inner, eps, chunk)
    out.index_add_(0, sw.slot0[sw.has0], acc0[sw.has0])
    out.index_add_(0, sw.slot1[sw.has1], acc1[sw.has1])
    return out.reshape(-1, 3, 2)


def _chunks(lengths: torch.Tensor, chunk: int) -> list[tuple[int, int]]:
    """Consecutive ranges of segments holding about ``chunk`` pixels each (at least one)."""
    ends = torch.cumsum(lengths, 0)
    bounds = [0]
    while bounds[-1] < lengths.numel():
        stop = int(torch.searchsorted(ends, ends[bounds[-1]] - lengths[bounds[-1]] + chunk, right=True))
        bounds.append(max(stop, bounds[-1] + 1))
    return list(zip(bounds[:-1], bounds[1:]))


def _out_runs(seg, idx, ref_img, lever0, lever1, dot2, grad3, img3, eps, chunk):
    """The out runs (to the border, no face test), clipped to the pixels that can count: one by
    one when those are few (``_live_pixel_runs``), else as padded slices of their lines
    (``_run_sums``).
    dot2: (2S, S) A_P per line; grad3, img3: (2S, S, C). -> the two lever sums per run."""
    s = dot2.shape[1]
    device, dtype = dot2.device, dot2.dtype
    start, length, direction = seg["start"][idx], seg["length"][idx], seg["direction"][idx]
    ref = ref_img[idx]
    # Pixels that no run can count: (I_P - r) . g_P <= 0 for every reference colour r in the box
    # of the runs' ones (a silhouette loss's zero gradient; the background under a loss that
    # wants it darker). Each run is clipped to its line's first..last pixel that can.
    low, high = ref.amin(0), ref.amax(0)
    bound = dot2 - torch.minimum(grad3 * low, grad3 * high).sum(-1)
    live = bound > 0                                                   # (2S, S)
    pos = torch.arange(s, device=device)
    first = torch.where(live, pos, s).amin(1)
    last = torch.where(live, pos, -1).amax(1)
    line = seg["line"][idx]
    lo = torch.maximum(start, first[line])
    hi = torch.minimum(start + length - 1, last[line])
    a0 = torch.zeros(idx.numel(), dtype=dtype, device=device)
    a1 = torch.zeros_like(a0)
    keep = torch.nonzero(lo <= hi, as_tuple=True)[0]
    if keep.numel() == 0:
        return a0, a1
    sign0 = -torch.sign(lever0[idx]) * direction[idx].to(dtype)       # off has the run's direction
    sign1 = -torch.sign(lever1[idx]) * direction[idx].to(dtype)
    cross = seg["cross"][idx]
    m0, m1 = lever0[idx].abs(), lever1[idx].abs()
    # few pixels can count (a silhouette loss): visit only those, as a ragged list
    live_pix = torch.nonzero(live.reshape(-1), as_tuple=True)[0]      # sorted by line, position
    first_live = torch.searchsorted(live_pix, line[keep] * s + lo[keep])
    count = torch.searchsorted(live_pix, line[keep] * s + hi[keep], right=True) - first_live
    if SPARSE_GAIN * int(count.sum()) < int((hi - lo + 1)[keep].sum()):
        sums = _live_pixel_runs(live_pix, first_live, count, cross[keep], ref[keep], m0[keep], m1[keep],
                                dot2.reshape(-1), grad3.reshape(s * dot2.shape[0], -1), eps, s, chunk)
        a0[keep], a1[keep] = sums
        return a0 * sign0, a1 * sign1
    sums = _run_sums(lo[keep], hi[keep], line[keep], direction[keep], cross[keep], ref[keep], m0[keep],
                     m1[keep], torch.where(live, dot2, -torch.inf), grad3, eps, chunk)
    a0[keep], a1[keep] = sums
    return a0 * sign0, a1 * sign1


def _bucket_width(length: torch.Tensor) -> torch.Tensor:
    """The padded length a run of ``length`` pixels is summed at: a multiple of 4 up to 16, of 8 up
    to 64, of 16 beyond, so that a run never reads more than RUN_PAD pixels past its end."""
    step = torch.where(length <= 16, 4, torch.where(length <= 64, 8, 16))
    return torch.div(length + step - 1, step, rounding_mode="floor") * step


def _run_sums(lo, hi, line, direction, cross, ref, m0, m1, dot2, grad3, eps, chunk):
    """Dense sums of out runs over pixels lo..hi of their line: sum_P max(0, A_P - g_P . ref) /
    (m (distance from the crossing) + eps) for m = m0, m1. -> (sum0, sum1), unsigned.
    dot2: (L, S) A_P, -inf where no run can count (past a line's last such pixel, runs are cut);
    grad3: (L, S, C).

    Each run is read as one contiguous slice of a padded copy of the line planes (A, then each
    channel of g), starting at the pixel next to the crossing: forward for runs going up the
    line, backward (right-aligned) for runs going down. Runs are bucketed by length so a slice
    overshoots its run by less than RUN_PAD pixels; what it overshoots is either the pad (zero)
    or a pixel that cannot count (A_P = -inf: weight 0)."""
    lines, s = dot2.shape
    device, dtype = dot2.device, dot2.dtype
    pad, width = RUN_PAD, s + 2 * RUN_PAD
    planes = torch.zeros(1 + grad3.shape[-1], lines, width, dtype=dtype, device=device)
    planes[0] = -torch.inf
    planes[0, :, pad:pad + s] = dot2
    planes[1:, :, pad:pad + s] = grad3.permute(2, 0, 1)
    planes = planes.reshape(planes.shape[0], -1)
    length = hi - lo + 1
    span = _bucket_width(length)
    up = direction > 0
    origin = line * width + pad + torch.where(up, lo, hi - span + 1)          # first pixel read
    # distance from the crossing to the slice's nearest-to-crossing pixel (exact small numbers)
    near = torch.where(up, lo.to(dtype) - cross, cross - hi.to(dtype))
    base0, base1 = m0 * near + eps, m1 * near + eps
    order = torch.argsort(span)
    span_sorted = span[order]
    widths, counts = torch.unique_consecutive(span_sorted, return_counts=True)
    a0 = torch.zeros(lo.numel(), dtype=dtype, device=device)
    a1 = torch.zeros_like(a0)
    at = 0
    for j, n in zip(widths.tolist(), counts.tolist()):
        steps = torch.arange(j, dtype=dtype, device=device)
        offsets = torch.stack([steps, steps.flip(0)])                          # up, down
        views = [pl.as_strided((pl.numel() - j + 1, j), (1, 1)) for pl in planes]
        per = max(1, chunk // j)
        for k0 in range(at, at + n, per):
            part = order[k0:min(k0 + per, at + n)]
            rows = origin[part]
            w = views[0].index_select(0, rows)
            for c, view in enumerate(views[1:]):
                w.addcmul_(view.index_select(0, rows), ref[part, c, None], value=-1.0)
            w.clamp_(min=0)
            dist = offsets.index_select(0, (~up[part]).long())                 # pixels from the nearest
            r = torch.empty(part.numel(), 2, j, dtype=dtype, device=device)
            torch.addcmul(base0[part, None], dist, m0[part, None], out=r[:, 0])
            torch.addcmul(base1[part, None], dist, m1[part, None], out=r[:, 1])
            both = torch.bmm(r.reciprocal_(), w[:, :, None])
            a0[part], a1[part] = both[:, 0, 0], both[:, 1, 0]
        at += n
    return a0, a1


def _live_pixel_runs(live_pix, first, count, cross, ref, m0, m1, dot, grad, eps, s, chunk):
    """The out-run sums visiting only the pixels that can count: run k covers live_pix[first[k]:
    first[k] + count[k]] (flat line-layout indices). -> (sum0, sum1) per run, unsigned."""
    device, dtype = dot.device, dot.dtype
    a0 = torch.zeros(count.numel(), dtype=dtype, device=device)
    a1 = torch.zeros_like(a0)
    for k0, k1 in _chunks(count, chunk):
        ln = count[k0:k1]
        m = int(ln.sum())
        if m == 0:
            continue
        sid = torch.repeat_interleave(torch.arange(k0, k1, device=device), ln)
        local = torch.arange(m, device=device) - (torch.cumsum(ln, 0) - ln).repeat_interleave(ln)
        pix = live_pix[first[sid] + local]
        w = (dot[pix] - (ref[sid] * grad[pix]).sum(-1)).clamp_(min=0)
        u = ((pix % s).to(dtype) - cross[sid]).abs_()
        a0.index_add_(0, sid, w / (u * m0[sid] + eps))
        a1.index_add_(0, sid, w / (u * m1[sid] + eps))
    return a0, a1


def ragged_runs(sw: SweepSetup, idx: torch.Tensor, eps: float, chunk: int = CHUNK_ELEMENTS,
                sink: Optional[Callable] = None):
    """Segments ``idx`` pixel by pixel (the in runs: short, across the face; with the face test
    where the segment asks for it), NMR's formula verbatim. -> the two lever sums per segment
    (len(idx),). sink(pix, k, term0, term1), when given, also receives every pixel's terms: pix
    its line-layout index, k its segment's position in idx."""
    seg, s, dtype = sw.seg, sw.s, sw.dot.dtype
    device = sw.dot.device
    lengths = seg["length"][idx]
    a0 = torch.zeros(idx.numel(), dtype=dtype, device=device)
    a1 = torch.zeros_like(a0)
    for k0, k1 in _chunks(lengths, chunk):
        ln = lengths[k0:k1]
        m = int(ln.sum())
        local_seg = torch.repeat_interleave(torch.arange(k0, k1, device=device), ln)
        sid = idx[local_seg]
        local = torch.arange(m, device=device) - (torch.cumsum(ln, 0) - ln).repeat_interleave(ln)
        d1 = seg["start"][sid] + local
        pix = seg["line"][sid] * s + d1
        diff = sw.dot[pix] - (sw.ref[sid] * sw.grad[pix]).sum(-1)
        use = (diff > 0) & (~seg["check_face"][sid] | (sw.fmap[pix] == seg["face"][sid]))
        w = torch.where(use, diff, torch.zeros_like(diff))
        offset = d1.to(dtype) - seg["cross"][sid]
        terms = []
        for lever, acc in ((sw.lever0, a0), (sw.lever1, a1)):
            dist = lever[sid] * offset
            dist = torch.where(dist > 0, dist + eps, dist - eps)       # NMR: away from 0
            terms.append(-w / dist)
            acc.index_add_(0, local_seg, terms[-1])
        if sink is not None:
            sink(pix, local_seg, *terms)
    return a0, a1
