"""nvdiffrast's analytic antialiasing (Laine et al. 2020, ``antialias``), in torch.

Every horizontally or vertically adjacent pixel pair whose visible faces differ is a candidate.
The nearer of the two faces (or the one that is not background) is taken; among its edges that
cross the line through the two pixel centres, the one with the largest signed intercept towards
the other pixel is used if it is a silhouette edge (its "wing", the neighbouring face across it,
folds behind, or it has none) and is steeper than 45 degrees across the pair. dc is where it
crosses, as a fraction of the way from the face's pixel centre to the other one, accepted in
(-1/16, 1 + 1/16) and clamped to [0, 1]; alpha = ds (1/2 - dc), ds = +1 when the face is the first
pixel's, and the pixel the edge lies in takes alpha (c1 - c0): a 1-D coverage estimate between
pixel centres.

Its derivative: dalpha/d(edge corners) by autograd through the intercept, zeroed where the blend
is saturated (|alpha| = 1/2), as nvdiffrast does; colours get alpha-weighted gradients. Only the
candidate pairs are computed on (work grows with the edge pixels, not with S^2 x F).
"""
from __future__ import annotations

from typing import Optional

import torch

ACCEPT_MARGIN = 1.0 / 16          # nvdiffrast: expect no more than 1/16 pixel inaccuracy


@torch.no_grad()
def wing_corners(faces: torch.Tensor, weld: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """For each face and edge i (the edge opposite corner i), the face across that edge and the
    corner of it opposite the edge: (F, 3) face and (F, 3) corner indices. An edge with no
    neighbour, or shared by more than two faces, points at the face's own corner i (always a
    silhouette, as nvdiffrast's boundary rule). weld: (V,) vertex -> representative, so that
    vertices split at UV seams still join their faces."""
    ids = faces if weld is None else weld[faces]
    f = faces.shape[0]
    device = faces.device
    corner = torch.arange(3, device=device)
    a, b = ids[:, (corner + 1) % 3], ids[:, (corner + 2) % 3]              # (F, 3)
    n = int(ids.max()) + 1 if f else 1
    key = (torch.minimum(a, b) * n + torch.maximum(a, b)).reshape(-1)
    order = torch.argsort(key, stable=True)
    sk = key[order]
    _, counts = torch.unique_consecutive(sk, return_counts=True)
    pair = torch.repeat_interleave(counts == 2, counts)                    # in sorted order
    start = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    partner_sorted = torch.where(torch.arange(sk.numel(), device=device) == start, start + 1, start)
    own = torch.arange(3 * f, device=device)
    partner = own.clone()
    partner[order] = torch.where(pair, order[partner_sorted.clamp_max(sk.numel() - 1)], order)
    return torch.div(partner, 3, rounding_mode="floor").reshape(f, 3), (partner % 3).reshape(f, 3)


def _orient(ax, ay, bx, by, cx, cy):
    """Twice the signed area of (a, b, c)."""
    return (bx - ax) * (cy - ay) - (cx - ax) * (by - ay)


def antialias(color: torch.Tensor, face_id: torch.Tensor, depth: torch.Tensor, tri: torch.Tensor,
              wing_face: torch.Tensor, wing_corner: torch.Tensor) -> torch.Tensor:
    """Antialias silhouette edges of a hard render.

    color: (S, S, C) the point-sampled image (any channels, e.g. rgb and alpha); face_id: (S, S)
    int64 visible face (-1 background); depth: (S, S) view depth (nearer is smaller); tri: (F, 3, 2)
    NDC corners, differentiable; wing_face, wing_corner: (F, 3) from ``wing_corners``.
    -> (S, S, C), differentiable in color and tri (backward and forward mode).
    """
    s = face_id.shape[0]
    flat_c = color.reshape(s * s, -1)
    with torch.no_grad():
        sel = _candidates(face_id, depth, tri.detach(), wing_face, wing_corner)
    if sel is None:
        return color
    p0, p1, face, down, ds, edge, centre_c, centre_r = sel
    # the chosen edge's corners, in pixels relative to the face's pixel centre (xy swapped for
    # vertical pairs, so that the pair always lies along +x)
    ca, cb = (edge + 1) % 3, (edge + 2) % 3
    va, vb = tri[face, ca], tri[face, cb]                                  # (K, 2)
    xa, ya = _pixel_frame(va, centre_c, centre_r, s, down)
    xb, yb = _pixel_frame(vb, centre_c, centre_r, s, down)
    dx, dy = xb - xa, yb - ya
    dc = ds * (xa * dy - ya * dx) / dy
    alpha = ds * (0.5 - dc.clamp(0.0, 1.0))
    # nvdiffrast kills the position gradient where the blend is saturated
    alpha = torch.where(alpha.detach().abs() < 0.5, alpha, alpha.detach())
    target = torch.where(alpha.detach() > 0, p0, p1)
    delta = alpha[:, None] * (flat_c[p1] - flat_c[p0])
    return flat_c.index_add(0, target, delta.to(flat_c.dtype)).reshape(color.shape)


def _pixel_frame(v: torch.Tensor, col: torch.Tensor, row: torch.Tensor, s: int, down: torch.Tensor):
    """NDC points (K, 2) -> pixel offsets (x, y) from the centre of pixel (row, col), x right and
    y down; swapped where ``down`` (vertical pairs)."""
    x = (v[:, 0] + 1) * (s / 2) - (col.to(v.dtype) + 0.5)
    y = (1 - v[:, 1]) * (s / 2) - (row.to(v.dtype) + 0.5)
    return torch.where(down, y, x), torch.where(down, x, y)


def _candidates(face_id, depth, tri, wing_face, wing_corner):
    """The pixel pairs that get a blend: p0, p1 (K,) flat indices, face (K,) the chosen face,
    down (K,) bool vertical pair, ds (K,) +-1, edge (K,) index of the chosen edge (opposite
    corner), centre column and row (K,) of the chosen face's pixel. None when there are none."""
    s = face_id.shape[0]
    device = face_id.device
    idx = torch.arange(s * s, device=device).reshape(s, s)
    p0 = torch.cat([idx[:, :-1].reshape(-1), idx[:-1, :].reshape(-1)])
    p1 = torch.cat([idx[:, 1:].reshape(-1), idx[1:, :].reshape(-1)])
    down = torch.cat([torch.zeros(s * (s - 1), dtype=torch.bool, device=device),
                      torch.ones(s * (s - 1), dtype=torch.bool, device=device)])
    fid, dep = face_id.reshape(-1), depth.reshape(-1)
    t0, t1 = fid[p0], fid[p1]
    cand = t0 != t1
    p0, p1, down, t0, t1 = p0[cand], p1[cand], down[cand], t0[cand], t1[cand]
    if p0.numel() == 0:
        return None
    first = (t0 >= 0) & ((t1 < 0) | (dep[p0] < dep[p1]))
    face = torch.where(first, t0, t1)
    ds = torch.where(first, 1.0, -1.0).to(tri.dtype)
    centre = torch.where(first, p0, p1)
    row, col = torch.div(centre, s, rounding_mode="floor"), centre % s
    corners = tri[face]                                                    # (K, 3, 2)
    wings = tri[wing_face[face], wing_corner[face]]                        # (K, 3, 2) opposite
    xs, ys = [], []
    for i in range(3):
        x, y = _pixel_frame(corners[:, i], col, row, s, torch.zeros_like(down))
        xs.append(x)
        ys.append(y)
    ox, oy = [], []
    for i in range(3):
        x, y = _pixel_frame(wings[:, i], col, row, s, torch.zeros_like(down))
        ox.append(x)
        oy.append(y)
    bb = _orient(xs[0], ys[0], xs[1], ys[1], xs[2], ys[2])
    silhouette = [torch.signbit(_orient(ox[i], oy[i], xs[(i + 1) % 3], ys[(i + 1) % 3],
                                        xs[(i + 2) % 3], ys[(i + 2) % 3])) == torch.signbit(bb)
                  for i in range(3)]
    # along the pair: swap for vertical pairs
    x = [torch.where(down, ys[i], xs[i]) for i in range(3)]
    y = [torch.where(down, xs[i], ys[i]) for i in range(3)]
    ratio, steep = [], []
    for i in range(3):
        a, b = (i + 1) % 3, (i + 2) % 3
        ddx, ddy = x[b] - x[a], y[b] - y[a]
        crosses = (torch.signbit(y[a]) != torch.signbit(y[b])) & (ddy != 0)
        r = ds * (x[a] * ddy - y[a] * ddx) / torch.where(crosses, ddy, torch.ones_like(ddy))
        ratio.append(torch.where(crosses, r, torch.full_like(r, -float("inf"))))
        steep.append(ddy.abs() >= ddx.abs())
    ratio_t = torch.stack(ratio)
    edge = torch.argmax(ratio_t, 0)
    dc = ratio_t.gather(0, edge[None])[0]
    usable = torch.stack(silhouette).gather(0, edge[None])[0] & torch.stack(steep).gather(0, edge[None])[0]
    keep = usable & (dc > -ACCEPT_MARGIN) & (dc < 1 + ACCEPT_MARGIN)
    if not bool(keep.any()):
        return None
    return tuple(t[keep] for t in (p0, p1, face, down, ds, edge, col, row))
