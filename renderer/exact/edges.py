"""The discontinuity edges of a projected mesh, cut at pixel boundaries, with Gauss-Legendre nodes.

Which edges: every unique edge of the valid faces (vertices welded at seams, ``Mesh.weld``) except
those across which the image is continuous: shared by exactly two faces that face the same way
(both front or both back), that share the edge's vertices (no uv/colour seam) and, unless the
lighting is "none", are smooth-shaded. What is left are the silhouette edges (a front and a back
face), boundary edges, seams, non-manifold edges and, with flat shading, every crease. Occluded
edges are kept: their f_in - f_out is 0 at the point queries, which is cheaper than deciding
visibility per edge.

Each kept edge is evaluated once, from a representative face whose outward normal n orients it;
its boundary term goes back to the corners of every incident face-edge with weight 1/count (a
welded edge moved as one: its copies share it).

All geometry here is float64 and without autograd (the boundary term's values, not its graph).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# Gauss-Legendre nodes and weights on [-1, 1], by order
_GL_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def gauss_legendre(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (order,) and weights (order,) of Gauss-Legendre quadrature on [-1, 1]."""
    if order not in _GL_CACHE:
        _GL_CACHE[order] = np.polynomial.legendre.leggauss(order)
    return _GL_CACHE[order]


@dataclass
class EdgeSet:
    """Unique discontinuity edges. a, b: (E, 2) float64 NDC endpoints; normal: (E, 2) unit outward
    normal of the representative face; inc_edge, inc_face, inc_corner_a, inc_corner_b, inc_weight:
    (M,) the incident face-edges (edge index, face, its corner at a, its corner at b, 1/count)."""

    a: torch.Tensor
    b: torch.Tensor
    normal: torch.Tensor
    inc_edge: torch.Tensor
    inc_face: torch.Tensor
    inc_corner_a: torch.Tensor
    inc_corner_b: torch.Tensor
    inc_weight: torch.Tensor

    @property
    def count(self) -> int:
        return int(self.a.shape[0])


@torch.no_grad()
def discontinuity_edges(tri: torch.Tensor, faces: torch.Tensor, valid: torch.Tensor, front: torch.Tensor,
                        weld: torch.Tensor | None, smooth: bool) -> EdgeSet:
    """The edges across which the image may jump (module docstring).

    tri: (F, 3, 2) NDC corners; faces: (F, 3) int64 vertex ids; valid, front: (F,) bool; weld:
    optional (V,) int64 seam welding; smooth: shading is continuous across a shared edge of two
    faces that share its vertices (smooth normals, or no lighting)."""
    device = tri.device
    tri = tri.to(torch.float64)
    fids = torch.nonzero(valid, as_tuple=True)[0]
    empty_i = torch.zeros(0, dtype=torch.long, device=device)
    if fids.numel() == 0:
        z2 = torch.zeros(0, 2, dtype=torch.float64, device=device)
        return EdgeSet(z2, z2, z2, empty_i, empty_i, empty_i, empty_i, torch.zeros(0, dtype=torch.float64, device=device))
    corner_a = torch.tensor([0, 1, 2], device=device).repeat(fids.numel())          # (3Fv,)
    corner_b = (corner_a + 1) % 3
    face = fids.repeat_interleave(3)
    raw_a, raw_b = faces[face, corner_a], faces[face, corner_b]
    wa, wb = (raw_a, raw_b) if weld is None else (weld[raw_a], weld[raw_b])
    lo, hi = torch.minimum(wa, wb), torch.maximum(wa, wb)
    nv = int(torch.maximum(hi.max(), lo.max())) + 1
    keys, inverse, counts = torch.unique(lo * nv + hi, return_inverse=True, return_counts=True)
    num = keys.numel()
    # the representative of each unique edge: its first face-edge
    order = torch.arange(inverse.numel(), device=device)
    first = torch.full((num,), inverse.numel(), dtype=torch.long, device=device).scatter_reduce(
        0, inverse, order, reduce="amin")
    keep = counts != 2
    pair = counts == 2
    if pair.any():
        last = torch.full((num,), -1, dtype=torch.long, device=device).scatter_reduce(0, inverse, order, reduce="amax")
        i, j = first[pair], last[pair]
        same_facing = front[face[i]] == front[face[j]]
        # the two face-edges traverse the edge in opposite directions when consistently wound
        shared = ((raw_a[i] == raw_b[j]) & (raw_b[i] == raw_a[j])) | ((raw_a[i] == raw_a[j]) & (raw_b[i] == raw_b[j]))
        continuous = same_facing & shared & smooth
        keep[pair] = ~continuous
    kept = torch.nonzero(keep, as_tuple=True)[0]
    rep = first[kept]
    a = tri[face[rep], corner_a[rep]]
    b = tri[face[rep], corner_b[rep]]
    opposite = tri[face[rep], (corner_b[rep] + 1) % 3]
    d = b - a
    length = d.norm(dim=1).clamp_min(1e-300)
    normal = torch.stack([d[:, 1], -d[:, 0]], dim=1) / length[:, None]
    # outward: away from the opposite corner
    flip = ((opposite - a) * normal).sum(1) > 0
    normal = torch.where(flip[:, None], -normal, normal)
    # incidences of the kept edges
    new_index = torch.full((num,), -1, dtype=torch.long, device=device)
    new_index[kept] = torch.arange(kept.numel(), device=device)
    inc = torch.nonzero(keep[inverse], as_tuple=True)[0]
    inc_edge = new_index[inverse[inc]]
    # orient each incident face-edge like its representative (a matches a by welded vertex)
    rep_wa = wa[first][inverse[inc]]
    same_dir = wa[inc] == rep_wa
    inc_ca = torch.where(same_dir, corner_a[inc], corner_b[inc])
    inc_cb = torch.where(same_dir, corner_b[inc], corner_a[inc])
    weight = 1.0 / counts[inverse[inc]].to(torch.float64)
    return EdgeSet(a, b, normal, inc_edge, face[inc], inc_ca, inc_cb, weight)


@dataclass
class Nodes:
    """Quadrature nodes on the edges, one pixel each. edge: (N,) edge index; s: (N,) parameter
    along a -> b; point: (N, 2) NDC position; pix: (N,) flat pixel index r*S + c; weight: (N,)
    Gauss-Legendre weight times the NDC length it stands for, divided by the pixel area."""

    edge: torch.Tensor
    s: torch.Tensor
    point: torch.Tensor
    pix: torch.Tensor
    weight: torch.Tensor


def _pixel_coords(p: torch.Tensor, size: int) -> torch.Tensor:
    """NDC (.., 2) -> continuous pixel coordinates (col, row), pixel (r, c) = [c, c+1) x [r, r+1)."""
    return torch.stack([(p[..., 0] + 1) * size / 2, (1 - p[..., 1]) * size / 2], dim=-1)


@torch.no_grad()
def edge_nodes(edges: EdgeSet, size: int, order: int) -> Nodes:
    """Clip each edge to the image, cut it at every pixel row and column boundary (so each piece
    lies in one pixel) and place ``order`` Gauss-Legendre nodes on every piece."""
    device = edges.a.device
    pa, pb = _pixel_coords(edges.a, size), _pixel_coords(edges.b, size)
    d = pb - pa
    # Liang-Barsky clip of the segment to [0, S]^2
    t_lo = torch.zeros(edges.count, dtype=torch.float64, device=device)
    t_hi = torch.ones_like(t_lo)
    for axis in range(2):
        inv = 1.0 / d[:, axis]                    # inf on an axis-parallel edge: not used
        t0 = (0 - pa[:, axis]) * inv
        t1 = (size - pa[:, axis]) * inv
        moving = d[:, axis] != 0
        t_lo = torch.where(moving, torch.maximum(t_lo, torch.minimum(t0, t1)), t_lo)
        t_hi = torch.where(moving, torch.minimum(t_hi, torch.maximum(t0, t1)), t_hi)
        inside = (pa[:, axis] >= 0) & (pa[:, axis] <= size)
        t_hi = torch.where(~moving & ~inside, torch.zeros_like(t_hi) - 1, t_hi)
    alive = t_hi > t_lo
    # crossings with whole-number pixel boundaries strictly inside (t_lo, t_hi)
    ts, ids = [t_lo[alive], t_hi[alive]], [torch.nonzero(alive, as_tuple=True)[0]] * 2
    for axis in range(2):
        x0 = pa[:, axis] + t_lo * d[:, axis]
        x1 = pa[:, axis] + t_hi * d[:, axis]
        k_lo = torch.floor(torch.minimum(x0, x1)) + 1
        k_hi = torch.ceil(torch.maximum(x0, x1)) - 1
        n = (k_hi - k_lo + 1).clamp_min(0).to(torch.long)
        n = torch.where(alive & (d[:, axis] != 0), n, torch.zeros_like(n))
        if int(n.sum()) == 0:
            continue
        e = torch.repeat_interleave(torch.arange(edges.count, device=device), n)
        start = torch.cumsum(n, 0) - n
        k = k_lo[e] + (torch.arange(e.numel(), device=device) - start[e]).to(torch.float64)
        ts.append((k - pa[e, axis]) / d[e, axis])
        ids.append(e)
    t, eid = torch.cat(ts), torch.cat(ids)
    t0, t1, seg_edge, pix = _pieces(t, eid, pa, d, size)
    # visibility along an edge changes where it passes under another discontinuity edge: cut
    # there too, so the integrand is smooth on every piece and Gauss-Legendre converges fast
    ct, ce = _crossings(t0, t1, seg_edge, pix, pa, d)
    if ct.numel():
        t0, t1, seg_edge, pix = _pieces(torch.cat([t, ct]), torch.cat([eid, ce]), pa, d, size)
    x, w = gauss_legendre(order)
    x = torch.as_tensor(x, dtype=torch.float64, device=device)
    w = torch.as_tensor(w, dtype=torch.float64, device=device)
    half = (t1 - t0) / 2
    s = ((t0 + t1) / 2)[:, None] + half[:, None] * x[None, :]                    # (P, order)
    ndc_len = (edges.b - edges.a).norm(dim=1)[seg_edge]
    pixel_area = (2.0 / size) ** 2
    weight = (half * ndc_len)[:, None] * w[None, :] / pixel_area
    edge = seg_edge[:, None].expand_as(s).reshape(-1)
    s = s.reshape(-1)
    point = edges.a[edge] + s[:, None] * (edges.b[edge] - edges.a[edge])
    pix = pix[:, None].expand(-1, order).reshape(-1)
    return Nodes(edge=edge, s=s, point=point, pix=pix, weight=weight.reshape(-1))


def _pieces(t: torch.Tensor, eid: torch.Tensor, pa: torch.Tensor, d: torch.Tensor, size: int):
    """Cut points (t, edge id) -> the pieces between consecutive cuts of each edge: t0, t1, edge,
    pixel (of the piece's midpoint), all (P,)."""
    o = torch.argsort(t, stable=True)                      # sort by (edge, t): t, then edge
    t, eid = t[o], eid[o]
    o = torch.argsort(eid, stable=True)
    t, eid = t[o], eid[o]
    same = eid[1:] == eid[:-1]
    t0, t1, seg_edge = t[:-1][same], t[1:][same], eid[:-1][same]
    positive = t1 > t0
    t0, t1, seg_edge = t0[positive], t1[positive], seg_edge[positive]
    mid = pa[seg_edge] + ((t0 + t1) / 2)[:, None] * d[seg_edge]
    col = torch.floor(mid[:, 0]).clamp(0, size - 1).to(torch.long)
    row = torch.floor(mid[:, 1]).clamp(0, size - 1).to(torch.long)
    return t0, t1, seg_edge, row * size + col


def _crossings(t0, t1, edge, pix, pa, d):
    """Where a piece crosses another piece of the same pixel, strictly inside both: the cut
    parameters on the first piece's edge, (K,) t and (K,) edge id."""
    device = t0.device
    o = torch.argsort(pix, stable=True)
    t0, t1, edge, pix = t0[o], t1[o], edge[o], pix[o]
    _, counts = torch.unique_consecutive(pix, return_counts=True)
    start = torch.cumsum(counts, 0) - counts
    group = torch.repeat_interleave(torch.arange(counts.numel(), device=device), counts)
    n = counts[group]                                      # pieces in my pixel
    i = torch.repeat_interleave(torch.arange(pix.numel(), device=device), n)
    local = torch.arange(i.numel(), device=device) - torch.repeat_interleave(torch.cumsum(n, 0) - n, n)
    j = start[group[i]] + local
    keep = edge[i] != edge[j]
    i, j = i[keep], j[keep]
    if i.numel() == 0:
        return t0[:0], edge[:0]
    # p_i + u d_i = p_j + v d_j
    ei, ej = edge[i], edge[j]
    di, dj = d[ei], d[ej]
    r = pa[ej] - pa[ei]
    den = di[:, 0] * dj[:, 1] - di[:, 1] * dj[:, 0]
    ok = den.abs() > 1e-300
    den = torch.where(ok, den, torch.ones_like(den))
    u = (r[:, 0] * dj[:, 1] - r[:, 1] * dj[:, 0]) / den
    v = (r[:, 0] * di[:, 1] - r[:, 1] * di[:, 0]) / den
    hit = ok & (u > t0[i]) & (u < t1[i]) & (v > t0[j]) & (v < t1[j])
    return u[hit], ei[hit]
