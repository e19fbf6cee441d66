"""Differentiable per-pair screen geometry: squared distance to a triangle, inside test,
barycentrics and perspective-correct depth (DESIGN.md §3).

Per-pair quantities are kept as contiguous rows, ``(K, P)``, not ``(P, K)``: elementwise torch
ops on long contiguous rows are several times faster on the CPU than small trailing dimensions.
"""
from __future__ import annotations

import torch

# Triangles whose doubled signed screen area is below this (in NDC^2) are treated as edge-on:
# they never count as covering a pixel, but their edges still give a distance.
MIN_AREA2 = 1e-12
TABLE_ROWS = 18


def face_table(tri: torch.Tensor) -> torch.Tensor:
    """Per-face constants of the distance and barycentric computations.

    tri: (F, 3, 2) NDC corners a, b, c -> (18, F) rows: ax ay bx by cx cy (corners),
    e0x e0y e1x e1y e2x e2y (edges b-a, c-b, a-c), then the edges divided by their squared
    length, e/|e|^2, x and y interleaved likewise (the projection parameter along an edge is
    r . e/|e|^2).
    """
    edges = tri.roll(-1, dims=1) - tri                                     # (F, 3, 2)
    scaled = edges / (edges * edges).sum(-1, keepdim=True).clamp_min(1e-30)
    return torch.cat([tri.reshape(-1, 6), edges.reshape(-1, 6), scaled.reshape(-1, 6)], dim=1).T.contiguous()


def pair_geometry(px: torch.Tensor, py: torch.Tensor, g: torch.Tensor):
    """Squared distance, inside test and screen barycentrics of pixel centres w.r.t. triangles.

    px, py: (P,) NDC; g: (18, P), ``face_table`` rows per pair -> d2 (P,) (0 on the
    boundary), inside (P,) bool (either winding; edge-on triangles never), bary (3, P) signed
    weights of corners a, b, c summing to 1.
    """
    ax, ay, bx, by, cx, cy, e0x, e0y, e1x, e1y, e2x, e2y, s0x, s0y, s1x, s1y, s2x, s2y = g
    d2 = None
    cross = []
    for vx, vy, ex, ey, sx, sy in ((ax, ay, e0x, e0y, s0x, s0y), (bx, by, e1x, e1y, s1x, s1y),
                                   (cx, cy, e2x, e2y, s2x, s2y)):
        rx, ry = px - vx, py - vy
        t = (rx * sx + ry * sy).clamp(0.0, 1.0)
        dx, dy = rx - t * ex, ry - t * ey
        d = dx * dx + dy * dy
        d2 = d if d2 is None else torch.minimum(d2, d)
        cross.append(ex * ry - ey * rx)
    # cross[k] belongs to edge (v_k, v_k+1): it is twice the signed area opposite v_k+2
    area2 = cross[0] + cross[1] + cross[2]
    with torch.no_grad():
        pos = (cross[0] >= 0) & (cross[1] >= 0) & (cross[2] >= 0)
        neg = (cross[0] <= 0) & (cross[1] <= 0) & (cross[2] <= 0)
        proper = area2.abs() > MIN_AREA2
        inside = (pos | neg) & proper
    inv_area = 1.0 / torch.where(proper, area2, torch.full_like(area2, MIN_AREA2))
    bary = torch.stack([cross[1], cross[2], cross[0]]) * inv_area
    return d2, inside, bary


def perspective_weights(bary: torch.Tensor, z: torch.Tensor, clip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Screen barycentrics -> perspective-correct ones and the view depth at the pixel.

    bary: (3, P) screen-space; z: (3, P) positive view depth of the corners. With ``clip``,
    barycentrics are first clipped to the triangle and renormalised (SoftRas, for pixels in the
    band outside it). -> weights (3, P) summing to 1, depth (P,) = 1 / sum_k(b_k / z_k).
    """
    if clip:
        bary = bary.clamp_min(0.0)
        bary = bary / bary.sum(0).clamp_min(1e-12)
    over_z = bary / z
    inv_z = over_z.sum(0)
    return over_z / inv_z, 1.0 / inv_z
