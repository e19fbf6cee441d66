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
Runs are summed densely (``runs.py``): every line (column or row) is laid out once, padded, as
planes of A_P = I_P . g_P and of g_P's channels; a run is one contiguous slice of them, and runs
of about the same length are summed together as a (runs, length) block, so the cost is a few
passes over the runs' pixels with no per-pixel index lists. Only the per-pixel view of one face's
terms (``contributions``) walks the runs pixel by pixel (``ragged_runs``). On the CPU,
``sweep_gradient`` is one C kernel instead (``sweep_native``: the same crossings and sums); this
torch path is its reference and the path on other devices.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from .runs import chunks, image_index, in_run_sums, line_planes, live_pixel_runs, run_sums, to_lines
from .sweep_native import native_sweep_gradient, native_sweep_parts

SILHOUETTE_EPS = 1e-4      # NMR's DEFAULT_EPS (rasterize_silhouettes)
COLOR_EPS = 1e-3           # NMR's Renderer.rasterizer_eps (render, RGB)
SPARSE_GAIN = 4            # visit live pixels one by one when they are 4x fewer
CHUNK_ELEMENTS = 1 << 18   # pixels of runs processed at once (small: temporaries stay in cache)
OUT_CHUNK = 1 << 16        # pixels of dense out runs processed at once


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


def _crossings(r: torch.Tensor, faces: torch.Tensor, order: torch.Tensor, fmap: torch.Tensor, s: int):
    """Enumerate the edge crossings of the swept faces and their two runs.

    r: (F', 3, 2) raster corners (counter-clockwise) of the swept faces; faces: (F',) their ids;
    order: (F', 3) their corners' original indices; fmap: (S S,) face map, image layout.
    -> dict of per-crossing tensors (K,), or None when there are none."""
    device, dtype = r.device, r.dtype
    e = torch.arange(3, device=device)
    # per (face, edge, axis): corners e, e + 1, e + 2 along the scanned axis, then the other one
    along = r[:, torch.stack([e, (e + 1) % 3, (e + 2) % 3], 1)]             # (F', edge, corner, xy)
    along = along.permute(0, 1, 3, 2)                                      # (F', edge, axis, corner)
    fn = r.shape[0]
    # columns: p0s p1s p2s p0o p1o p2o, then the face's position, the axis and the original indices
    # of the edge's two corners (exact floats)
    ids = torch.stack(torch.meshgrid(torch.arange(fn, device=device), e, torch.arange(2, device=device),
                                     indexing="ij"), -1)[..., [0, 2]]
    ends = order[:, torch.stack([e, (e + 1) % 3], 1)][:, :, None, :].expand(-1, -1, 2, -1)
    table = torch.cat([along, along.flip(2), ids.to(dtype), ends.to(dtype)], -1).reshape(-1, 10)
    p0s, p1s = table[:, 0], table[:, 1]
    lo = torch.ceil(torch.minimum(p0s, p1s)).clamp_min(0)
    hi = torch.floor(torch.maximum(p0s, p1s)).clamp_max(s - 1)
    count = torch.where(p0s != p1s, (hi - lo + 1).clamp_min(0), torch.zeros_like(lo)).long()
    n = int(count.sum())
    if n == 0:
        return None
    trip = torch.repeat_interleave(torch.arange(count.numel(), device=device), count)
    # the column (row) each crossing scans: lo of its edge plus its rank among the edge's ones
    skip = (lo - (torch.cumsum(count, 0) - count).to(dtype)).index_select(0, trip)
    d0 = skip + torch.arange(n, device=device, dtype=dtype)
    q = table.index_select(0, trip)
    cross = (q[:, 4] - q[:, 3]) / (q[:, 1] - q[:, 0]) * (d0 - q[:, 0]) + q[:, 3]
    columns = q[:, 7] == 0
    # NMR: out = in + direction; axis 0 (columns) steps toward lower y where x increases
    direction = torch.where(columns == (q[:, 0] < q[:, 1]), -1, 1)
    d1_in = torch.where(direction > 0, torch.floor(cross), torch.ceil(cross))
    d1_out = d1_in + direction
    keep = torch.nonzero((d1_in >= 0) & (d1_in < s) & (d1_out >= 0) & (d1_out < s), as_tuple=True)[0]
    d0, q, cross, direction, d1_in, d1_out = (t.index_select(0, keep) for t in (d0, q, cross, direction, d1_in,
                                                                                d1_out))
    d1_in, d1_out = d1_in.long(), d1_out.long()
    q0s, q1s, q2s, q0o, q1o, q2o = q[:, :6].unbind(1)
    # opposite side of the face along this line (in-run limit)
    on_02 = (d0 - q0s) * (d0 - q2s) < 0
    c02 = (q2o - q0o) / torch.where(q2s != q0s, q2s - q0s, torch.ones_like(q2s)) * (d0 - q0s) + q0o
    c12 = (q1o - q2o) / torch.where(q1s != q2s, q1s - q2s, torch.ones_like(q1s)) * (d0 - q2s) + q2o
    cross2 = torch.where(on_02, c02, c12)
    limit = torch.where(direction > 0, torch.ceil(cross2), torch.floor(cross2)).long()
    slot, axis, corner0, corner1 = q[:, 6:].long().unbind(1)
    d0l = d0.long()
    line = axis * s + d0l
    column = axis == 0
    # face map at the inside pixel (raster x = d0 on columns, d1 on rows), image layout
    at_in = torch.where(column, (s - 1 - d1_in) * s + d0l, (s - 1 - d0l) * s + d1_in)
    at_out = torch.where(column, (s - 1 - d1_out) * s + d0l, (s - 1 - d0l) * s + d1_out)
    comp = 1 - axis                                                        # axis 0 moves y, axis 1 x
    face = faces.index_select(0, slot)
    one = torch.ones_like(d0)
    return dict(
        line=line, direction=direction, cross=cross, face=face,
        visible=fmap.index_select(0, at_in) == face, at_in=at_in, at_out=at_out,
        out_start=torch.where(direction > 0, d1_out, torch.zeros_like(d1_out)),
        out_length=torch.where(direction > 0, s - d1_out, d1_out + 1),
        in_start=torch.minimum(d1_in, limit).clamp_min(0),
        in_length=(torch.maximum(d1_in, limit).clamp_max(s - 1) - torch.minimum(d1_in, limit).clamp_min(0) + 1
                   ).clamp_min(0),
        lever0=(q1s - q0s) / torch.where(q1s != d0, q1s - d0, one) * (2.0 / s),
        lever1=(q1s - q0s) / torch.where(q0s != d0, d0 - q0s, one) * (2.0 / s),
        slot0=face * 6 + corner0 * 2 + comp, slot1=face * 6 + corner1 * 2 + comp,
        has0=q1s != d0, has1=q0s != d0)


@dataclass
class SweepSetup:
    """Everything the run sums read, in NMR's raster frame. Segments (one run each): the out runs
    of the visible crossings, then the in runs, as per-segment tensors in ``seg``: line, start,
    length (pixels along the line; line layout: 2 S lines of S pixels, see ``runs``), check_face
    (in runs: count only pixels of this face), face, cross, direction. dot_image: (S, S) sum_ch
    I_P g_P (``dot``: the same in the line layout); img, grad: (S S, C) and fmap: (S S,), image
    layout (``runs.image_index``);
    ref: (K, C) the reference colour of each segment; lever0, lever1: (K,) NDC displacement per
    pixel of offset for the edge's p0 and p1; slot0, slot1: (K,) flat (face, corner, coordinate)
    index each lever's sum goes to; has0, has1: (K,) whether that lever exists (NMR skips a
    vertex lying on the scanned line); outer: number of out-run segments (they come first)."""

    s: int
    seg: dict
    dot_image: torch.Tensor
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
    outer: int
    _planes: Optional[torch.Tensor] = None
    _dot: Optional[torch.Tensor] = None

    @property
    def dot(self) -> torch.Tensor:
        """(2 S S,) A_P in the line layout, made once."""
        if self._dot is None:
            self._dot = to_lines(self.dot_image).reshape(-1)
        return self._dot

    def planes(self) -> torch.Tensor:
        """(1 + C, N) ``runs.line_planes`` of A_P and of g_P's channels (0 on the pads), made once."""
        if self._planes is None:
            s = self.s
            self._planes = line_planes(torch.cat([self.dot_image[..., None], self.grad.reshape(s, s, -1)], -1), 0.0)
        return self._planes


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
    fmap = face_map.reshape(-1)
    cr = _crossings(r, faces, order, fmap, s)
    if cr is None:
        return None
    outer = torch.nonzero(cr["visible"], as_tuple=True)[0]
    inner = torch.nonzero(cr["in_length"] > 0, as_tuple=True)[0]
    rows = torch.cat([outer, inner])
    pick = lambda name: cr[name].index_select(0, rows)                     # noqa: E731
    both = lambda a, b: torch.cat([cr[a].index_select(0, outer), cr[b].index_select(0, inner)])  # noqa: E731
    img, grd = image.reshape(s * s, -1), grad.reshape(s * s, -1)
    check = torch.zeros(rows.numel(), dtype=torch.bool, device=rows.device)
    check[outer.numel():] = True
    seg = dict(line=pick("line"), start=both("out_start", "in_start"), length=both("out_length", "in_length"),
               check_face=check, face=pick("face"), cross=pick("cross"), direction=pick("direction"))
    return SweepSetup(
        s=s, seg=seg, dot_image=(image * grad).sum(-1), img=img, grad=grd, fmap=fmap,
        ref=img.index_select(0, both("at_in", "at_out")),                  # I_in for out, I_out for in
        lever0=pick("lever0"), lever1=pick("lever1"), slot0=pick("slot0"), slot1=pick("slot1"),
        has0=pick("has0"), has1=pick("has1"), outer=outer.numel())


def sweep_gradient(tri: torch.Tensor, face_map: torch.Tensor, image: torch.Tensor, grad: torch.Tensor,
                   eps: float, faces: Optional[torch.Tensor] = None,
                   chunk: int = CHUNK_ELEMENTS) -> torch.Tensor:
    """NMR's dL/d(face corners) from the edge sweep.

    tri: (F, 3, 2) NDC corners (x right, y up); face_map: (S, S) int64 visible face per pixel
    (-1 background), row 0 at the top; image: (S, S, C) the rendered channels (rgb and/or alpha);
    grad: (S, S, C) dL/dimage; eps: SILHOUETTE_EPS or COLOR_EPS; faces: (F',) ids of the faces to
    sweep (default: those visible in face_map; the others cannot contribute).
    -> (F, 3, 2) dL/dtri (NDC).

    On the CPU this is one C kernel (``sweep_native``, the same sums); the torch path below runs
    on other devices, with DRD_NATIVE=0, or where the kernel cannot be built.
    """
    native = native_sweep_gradient(tri, face_map, image, grad, eps, faces)
    if native is not None:
        return native
    return torch_sweep_gradient(tri, face_map, image, grad, eps, faces, chunk)


def sweep_gradient_parts(tri: torch.Tensor, face_map: torch.Tensor, images: list[torch.Tensor],
                         grads: list[torch.Tensor], eps: float) -> torch.Tensor:
    """``sweep_gradient`` of ``torch.cat(images, -1)`` under ``torch.cat(grads, -1)`` ((S, S, C_k)
    parts, e.g. rgb and alpha), without making them where the C kernel runs."""
    native = native_sweep_parts(tri, face_map, images, grads, eps)
    if native is not None:
        return native
    return torch_sweep_gradient(tri, face_map, torch.cat(images, -1), torch.cat(grads, -1), eps)


def torch_sweep_gradient(tri: torch.Tensor, face_map: torch.Tensor, image: torch.Tensor, grad: torch.Tensor,
                         eps: float, faces: Optional[torch.Tensor] = None,
                         chunk: int = CHUNK_ELEMENTS) -> torch.Tensor:
    """``sweep_gradient`` in torch (any device): dense run sums over padded line slices."""
    out = torch.zeros(tri.shape[0] * 6, dtype=image.dtype, device=tri.device)
    sw = sweep_setup(tri, face_map, image, grad, faces)
    if sw is None:
        return out.reshape(-1, 3, 2)
    k = sw.seg["length"].numel()
    acc0 = torch.zeros(k, dtype=image.dtype, device=tri.device)
    acc1 = torch.zeros_like(acc0)
    if sw.outer:
        acc0[:sw.outer], acc1[:sw.outer] = _out_runs(sw, eps, chunk)
    if k > sw.outer:
        acc0[sw.outer:], acc1[sw.outer:] = _in_runs(sw, eps)
    out.index_add_(0, sw.slot0[sw.has0], acc0[sw.has0])
    out.index_add_(0, sw.slot1[sw.has1], acc1[sw.has1])
    return out.reshape(-1, 3, 2)


def _out_runs(sw: SweepSetup, eps: float, chunk: int = CHUNK_ELEMENTS):
    """The out runs (to the border, no face test; segments 0..outer-1), clipped to the pixels that
    can count: one by one when those are few (``runs.live_pixel_runs``), else as padded slices of
    their lines (``runs.run_sums``). -> the two lever sums per run."""
    s, n = sw.s, sw.outer
    device, dtype = sw.dot_image.device, sw.dot_image.dtype
    seg = {k: v[:n] for k, v in sw.seg.items()}
    ref, lever0, lever1 = sw.ref[:n], sw.lever0[:n], sw.lever1[:n]
    start, length, direction, line = seg["start"], seg["length"], seg["direction"], seg["line"]
    # Pixels that no run can count: (I_P - r) . g_P <= 0 for every reference colour r in the box
    # of the runs' ones (a silhouette loss's zero gradient; the background under a loss that
    # wants it darker). Each run is clipped to its line's first..last pixel that can.
    low, high = ref.amin(0), ref.amax(0)
    # min over the box of g_P . r, channel by channel: g . mid - |g| . half-width
    lowest = sw.grad @ ((low + high) / 2) - sw.grad.abs() @ ((high - low) / 2)
    lowest = lowest.reshape(s, s)
    live_image = sw.dot_image - lowest > -1e-6 * (sw.dot_image.abs() + lowest.abs())   # rounding: keep
    live = to_lines(live_image)                                            # (2S, S)
    pos = torch.arange(s, device=device, dtype=torch.int32)
    first = torch.where(live, pos, s).amin(1)
    last = torch.where(live, pos, -1).amax(1)
    lo = torch.maximum(start, first.index_select(0, line))
    hi = torch.minimum(start + length - 1, last.index_select(0, line))
    a0 = torch.zeros(n, dtype=dtype, device=device)
    a1 = torch.zeros_like(a0)
    keep = torch.nonzero(lo <= hi, as_tuple=True)[0]
    if keep.numel() == 0:
        return a0, a1
    sign0 = -torch.sign(lever0) * direction.to(dtype)                      # off has the run's direction
    sign1 = -torch.sign(lever1) * direction.to(dtype)
    pick = lambda t: t.index_select(0, keep)                               # noqa: E731
    cross, m0, m1 = pick(seg["cross"]), pick(lever0).abs_(), pick(lever1).abs_()
    lo, hi, line, ref = pick(lo), pick(hi), pick(line), pick(ref)
    # few pixels can count (a silhouette loss): visit only those, as a ragged list
    flat = live.reshape(-1)
    cum = torch.cumsum(flat, 0, dtype=torch.int32)
    at_lo, at_hi = line * s + lo, line * s + hi
    first_live = (cum.index_select(0, at_lo) - flat.index_select(0, at_lo).int()).long()   # live before lo
    count = cum.index_select(0, at_hi).long() - first_live
    if SPARSE_GAIN * int(count.sum()) < int((hi - lo + 1).sum()):
        live_pix = torch.nonzero(flat, as_tuple=True)[0]                  # sorted by line, position
        sums = live_pixel_runs(live_pix, first_live, count, cross, ref, m0, m1, sw.dot, sw.grad, eps, s, chunk)
    else:
        planes = [line_planes(torch.where(live_image, sw.dot_image, -torch.inf), -torch.inf), *sw.planes()[1:]]
        sums = run_sums(lo, hi, line, pick(direction), cross, ref, m0, m1, planes, s, eps, OUT_CHUNK)
    a0[keep], a1[keep] = sums
    return a0 * sign0, a1 * sign1


def _in_runs(sw: SweepSetup, eps: float):
    """The in runs (segments outer..K-1): dense slices of their lines (``runs.in_run_sums``).
    -> the two lever sums per run."""
    s, n = sw.s, sw.outer
    seg = {k: v[n:] for k, v in sw.seg.items()}
    planes = sw.planes()
    fmap = line_planes(sw.fmap.reshape(s, s).to(torch.int32), -1)
    return in_run_sums(seg["start"], seg["length"], seg["line"], seg["face"].to(torch.int32), seg["cross"],
                       sw.ref[n:], sw.lever0[n:], sw.lever1[n:], planes, fmap, s, eps, OUT_CHUNK)


def ragged_runs(sw: SweepSetup, idx: torch.Tensor, eps: float, chunk: int = CHUNK_ELEMENTS,
                sink: Optional[Callable] = None):
    """Segments ``idx`` pixel by pixel (the in runs: short, across the face; with the face test
    where the segment asks for it), NMR's formula verbatim. -> the two lever sums per segment
    (len(idx),). sink(pix, k, term0, term1), when given, also receives every pixel's terms: pix
    its line-layout index, k its segment's position in idx."""
    seg, s, dtype = sw.seg, sw.s, sw.dot_image.dtype
    device = sw.dot_image.device
    lengths = seg["length"][idx]
    a0 = torch.zeros(idx.numel(), dtype=dtype, device=device)
    a1 = torch.zeros_like(a0)
    for k0, k1 in chunks(lengths, chunk):
        ln = lengths[k0:k1]
        m = int(ln.sum())
        local_seg = torch.repeat_interleave(torch.arange(k0, k1, device=device), ln)
        sid = idx[local_seg]
        local = torch.arange(m, device=device) - (torch.cumsum(ln, 0) - ln).repeat_interleave(ln)
        d1 = seg["start"][sid] + local
        pix = seg["line"][sid] * s + d1
        at = image_index(pix, s)
        diff = sw.dot[pix] - (sw.ref[sid] * sw.grad[at]).sum(-1)
        use = (diff > 0) & (~seg["check_face"][sid] | (sw.fmap[at] == seg["face"][sid]))
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
