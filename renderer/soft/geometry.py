"""Differentiable per-pair screen geometry: squared distance to a triangle, inside test,
barycentrics and perspective-correct depth (DESIGN.md §3).

Per-pair quantities are kept as contiguous rows, ``(K, P)``, not ``(P, K)``: elementwise torch
ops on long contiguous rows are several times faster on the CPU than small trailing dimensions.
"""
from __future__ import annotations

import torch
import torch.autograd.forward_ad as fwad

from ..camera import pixel_centre_ndc

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
    corners = tri.reshape(-1, 6).T
    return torch.cat([corners, derived_rows(corners)]).contiguous()


def derived_rows(corners: torch.Tensor) -> torch.Tensor:
    """(6, *) corner rows ax ay bx by cx cy -> (12, *) rows of ``face_table``'s edges and scaled
    edges."""
    ax, ay, bx, by, cx, cy = corners
    ex = torch.stack([bx - ax, cx - bx, ax - cx])
    ey = torch.stack([by - ay, cy - by, ay - cy])
    inv_len2 = 1.0 / (ex * ex + ey * ey).clamp_min(1e-30)
    sx, sy = ex * inv_len2, ey * inv_len2
    return torch.stack([ex[0], ey[0], ex[1], ey[1], ex[2], ey[2], sx[0], sy[0], sx[1], sy[1], sx[2], sy[2]])


def _edge_terms(px: torch.Tensor, py: torch.Tensor, g: torch.Tensor):
    """Per edge k = (v_k, v_k+1): closest-point parameter t, offset (dx, dy) = p - closest point,
    squared distance, and the edge function (twice the signed area of (v_k, v_k+1, p))."""
    ax, ay, bx, by, cx, cy, e0x, e0y, e1x, e1y, e2x, e2y, s0x, s0y, s1x, s1y, s2x, s2y = g
    terms = []
    for vx, vy, ex, ey, sx, sy in ((ax, ay, e0x, e0y, s0x, s0y), (bx, by, e1x, e1y, s1x, s1y),
                                   (cx, cy, e2x, e2y, s2x, s2y)):
        rx, ry = px - vx, py - vy
        t = (rx * sx + ry * sy).clamp(0.0, 1.0)
        dx, dy = rx - t * ex, ry - t * ey
        terms.append((t, dx, dy, dx * dx + dy * dy, ex * ry - ey * rx))
    return terms


def _inside_and_bary(cross: list[torch.Tensor], with_bary: bool = True):
    # cross[k] belongs to edge (v_k, v_k+1): it is twice the signed area opposite v_k+2
    area2 = cross[0] + cross[1] + cross[2]
    with torch.no_grad():
        pos = (cross[0] >= 0) & (cross[1] >= 0) & (cross[2] >= 0)
        neg = (cross[0] <= 0) & (cross[1] <= 0) & (cross[2] <= 0)
        proper = area2.abs() > MIN_AREA2
        inside = (pos | neg) & proper
    if not with_bary:
        return inside, None
    inv_area = 1.0 / torch.where(proper, area2, torch.full_like(area2, MIN_AREA2))
    return inside, torch.stack([cross[1], cross[2], cross[0]]) * inv_area


def pair_geometry(px: torch.Tensor, py: torch.Tensor, g: torch.Tensor, with_bary: bool = True):
    """Squared distance, inside test and screen barycentrics of pixel centres w.r.t. triangles,
    differentiated by autograd (the reference for ``tile_pair_geometry``).

    px, py: NDC, broadcastable to the pair shape B, e.g. (P,); g: (18, *) ``face_table`` rows
    broadcastable likewise -> d2 (B) (0 on the boundary), inside (B) bool (either winding;
    edge-on triangles never), bary (3, *B) signed weights of corners a, b, c summing to 1 (None
    without ``with_bary``).
    """
    terms = _edge_terms(px, py, g)
    d2 = torch.minimum(torch.minimum(terms[0][3], terms[1][3]), terms[2][3])
    inside, bary = _inside_and_bary([term[4] for term in terms], with_bary)
    return d2, inside, bary


class _TileGeometry(torch.autograd.Function):
    """``pair_geometry`` with hand-written derivatives w.r.t. the triangle corners: about a third
    of the operations of autograd's backward, and nothing element-sized kept but the closest
    edge, its parameter t and the offset to it.

    d2 = |p - q|^2, q = (1 - t) v_k + t v_k+1 on the closest edge k; t is optimal (or clamped at a
    vertex), so d(d2)/dv_k = -2 (1 - t)(p - q) and d(d2)/dv_k+1 = -2 t (p - q).
    Barycentrics: p = sum_j l_j v_j and sum_j l_j = 1 give dl_i/dv_j = -l_j grad_p(l_i), with
    grad_p(l_i) = perp(edge opposite i) / (2 area), constant per face.
    """

    @staticmethod
    def forward(ctx, px, py, corners, derived):
        d2, inside, bary, edge, t, dx, dy = _TileGeometry.closest_point_forward(px, py, corners, derived)
        ctx.mark_non_differentiable(inside)
        ctx.save_for_backward(corners, derived, edge, t, dx, dy, bary)
        ctx.save_for_forward(corners, derived, edge, t, dx, dy, bary)
        ctx.pixel_centres = (px, py)
        ctx.set_materialize_grads(False)
        return d2, inside, bary

    @staticmethod
    def _lambda_gradients(corners: torch.Tensor, derived: torch.Tensor):
        """grad_p(l_a), grad_p(l_b), grad_p(l_c) as (x, y) pairs, per face."""
        ax, ay, bx, by, cx, cy = corners
        e0x, e0y, e1x, e1y, e2x, e2y = derived[:6]
        area2 = e0x * (cy - ay) - e0y * (cx - ax)
        inv = 1.0 / torch.where(area2.abs() > MIN_AREA2, area2, torch.full_like(area2, MIN_AREA2))
        return ((-e1y * inv, e1x * inv), (-e2y * inv, e2x * inv), (-e0y * inv, e0x * inv))

    @staticmethod
    def _corner_weights(edge: torch.Tensor, t: torch.Tensor) -> list[torch.Tensor]:
        """c_j: weight of corner j in the closest point q = sum_j c_j v_j (corner j starts edge
        j, weight 1 - t, and ends edge j - 1, weight t)."""
        on_edge = [edge == k for k in range(3)]
        start = 1 - t
        return [torch.where(on_edge[j], start, torch.where(on_edge[(j + 2) % 3], t, 0.0))
                for j in range(3)]

    @staticmethod
    def closest_point_forward(px, py, corners, derived, with_bary: bool = True):
        """The forward pass's values: d2, inside, bary (None without ``with_bary``) and the
        closest-point data (closest edge, its parameter t, offset dx, dy) that
        ``d2_corner_grads`` and ``jvp`` read."""
        g = torch.cat([corners, derived])
        terms = _edge_terms(px, py, g)
        d01 = terms[1][3] < terms[0][3]
        best = torch.where(d01, terms[1][3], terms[0][3])
        d12 = terms[2][3] < best
        d2 = torch.where(d12, terms[2][3], best)

        def pick(i: int) -> torch.Tensor:
            return torch.where(d12, terms[2][i], torch.where(d01, terms[1][i], terms[0][i]))

        edge = torch.where(d12, 2, d01.to(torch.uint8))       # index of the closest edge
        inside, bary = _inside_and_bary([term[4] for term in terms], with_bary)
        return d2, inside, bary, edge, pick(0), pick(1), pick(2)

    @staticmethod
    def d2_corner_grads(edge, t, dx, dy, g_d2, shape) -> list[torch.Tensor]:
        """dL/d(ax, ay, bx, by, cx, cy), each summed to ``shape``, for dL/dd2 ``g_d2``."""
        gx, gy = -2 * g_d2 * dx, -2 * g_d2 * dy
        grads = []
        for c in _TileGeometry._corner_weights(edge, t):
            grads += [(c * gx).sum_to_size(shape), (c * gy).sum_to_size(shape)]
        return grads

    @staticmethod
    def backward(ctx, g_d2, g_inside, g_bary):
        corners, derived, edge, t, dx, dy, bary = ctx.saved_tensors
        if torch.is_grad_enabled():
            # create_graph (double backward): the saved closest-point data would be taken as
            # constants, so recompute through autograd instead, exact to second order
            return _TileGeometry._autograd_backward(ctx, corners, g_d2, g_bary)
        shape = corners.shape[1:]
        grads = [torch.zeros(shape, dtype=t.dtype, device=t.device) for _ in range(6)]
        if g_d2 is not None:
            grads = _TileGeometry.d2_corner_grads(edge, t, dx, dy, g_d2, shape)
        if g_bary is not None:
            lam = _TileGeometry._lambda_gradients(corners, derived)
            big_x = g_bary[0] * lam[0][0] + g_bary[1] * lam[1][0] + g_bary[2] * lam[2][0]
            big_y = g_bary[0] * lam[0][1] + g_bary[1] * lam[1][1] + g_bary[2] * lam[2][1]
            for j in range(3):
                grads[2 * j] = grads[2 * j] - (bary[j] * big_x).sum_to_size(shape)
                grads[2 * j + 1] = grads[2 * j + 1] - (bary[j] * big_y).sum_to_size(shape)
        return None, None, torch.stack(grads), None

    @staticmethod
    def _autograd_backward(ctx, corners, g_d2, g_bary):
        px, py = ctx.pixel_centres
        d2, _, bary = pair_geometry(px, py, torch.cat([corners, derived_rows(corners)]))
        outs = [(o, g) for o, g in ((d2, g_d2), (bary, g_bary)) if g is not None]
        (grad,) = torch.autograd.grad([o for o, _ in outs], corners, [g for _, g in outs],
                                      create_graph=True)
        return None, None, grad, None

    @staticmethod
    def jvp(ctx, d_px, d_py, d_corners, d_derived):
        corners, derived, edge, t, dx, dy, bary = ctx.saved_tensors
        if d_corners is None:
            zero = torch.zeros_like(t)
            return zero, None, torch.zeros_like(bary)
        c = _TileGeometry._corner_weights(edge, t)
        dv = d_corners
        d_d2 = -2 * sum(c[j] * (dx * dv[2 * j] + dy * dv[2 * j + 1]) for j in range(3))
        wx = sum(bary[j] * dv[2 * j] for j in range(3))
        wy = sum(bary[j] * dv[2 * j + 1] for j in range(3))
        lam = _TileGeometry._lambda_gradients(corners, derived)
        d_bary = torch.stack([-(lam[i][0] * wx + lam[i][1] * wy) for i in range(3)])
        return d_d2, None, d_bary


def tile_pair_geometry(px: torch.Tensor, py: torch.Tensor, g: torch.Tensor, with_bary: bool = True):
    """``pair_geometry`` for the per-face tiles, with hand-written backward and forward-mode
    derivatives (w.r.t. the corner rows of ``g``; the derived edge rows are functions of them).
    px (Fg, 1, T), py (Fg, T, 1), g (18, Fg, 1, 1) -> d2 (Fg, T, T), inside, bary (3, Fg, T, T);
    bary is None without ``with_bary`` when no derivative is wanted (it is not computed)."""
    if not torch.is_grad_enabled() and fwad.unpack_dual(g).tangent is None:
        return pair_geometry(px, py, g, with_bary)   # no derivative wanted: skip the bookkeeping
    return _TileGeometry.apply(px, py, g[:6], g[6:TABLE_ROWS])


def shaded_barycentrics(pix: torch.Tensor, rows, image_size: int) -> torch.Tensor:
    """Screen barycentrics (3, M) of pairs given by their flat pixel index ``pix`` (M,) and their
    face's ``face_table`` rows ``rows`` (>= 12 rows of (M,)), differentiable by autograd: the same values,
    from the same operations, as ``pair_geometry``'s, for a few pairs picked out of a tile."""
    col = torch.remainder(pix, image_size).to(rows[0].dtype)
    row = torch.div(pix, image_size, rounding_mode="floor").to(rows[0].dtype)
    px, py = pixel_centre_ndc(col, row, image_size)
    ax, ay, bx, by, cx, cy, e0x, e0y, e1x, e1y, e2x, e2y = rows[:12]
    cross = [ex * (py - vy) - ey * (px - vx)
             for vx, vy, ex, ey in ((ax, ay, e0x, e0y), (bx, by, e1x, e1y), (cx, cy, e2x, e2y))]
    return _inside_and_bary(cross)[1]


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
