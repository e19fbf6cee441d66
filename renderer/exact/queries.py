"""Point queries of the hard image: the shaded colour f(x) and the coverage at arbitrary screen
points, with an exact depth test, as the z-buffer would give them there.

The candidate faces of a point are those whose screen bounding box covers its pixel (a per-pixel
list, CSR layout, built once per render), so a query costs a few inside tests, never F.
Colour: the nearest front face (any face when double-sided) whose triangle contains the point,
ties to the smaller face id, as ``renderer.soft.hard``; the background where there is none.
Coverage (alpha): 1 where any valid face, back faces included, contains the point (DESIGN.md §3).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..scene import Scene
from ..soft.common import background, color_table, shade_at


@dataclass
class QueryContext:
    """What point queries need, float64 and detached. tri: (F, 3, 2) NDC corners; z: (F, 3) view
    depths; valid, front, colour: (F,) bool (colour: may be seen in rgb); start, count: (S*S,) CSR
    offsets into ``faces``, the candidate faces of each pixel."""

    scene: Scene
    tri: torch.Tensor
    z: torch.Tensor
    valid: torch.Tensor
    front: torch.Tensor
    colour: torch.Tensor
    start: torch.Tensor
    count: torch.Tensor
    faces: torch.Tensor
    verts: torch.Tensor
    eye: torch.Tensor


def pixel_of(points: torch.Tensor, size: int) -> torch.Tensor:
    """(Q, 2) NDC -> (Q,) flat pixel index r*S + c (clamped to the image)."""
    col = torch.floor((points[:, 0] + 1) * size / 2).clamp(0, size - 1).to(torch.long)
    row = torch.floor((1 - points[:, 1]) * size / 2).clamp(0, size - 1).to(torch.long)
    return row * size + col


@torch.no_grad()
def build_queries(scene: Scene, tri: torch.Tensor, z: torch.Tensor, valid: torch.Tensor,
                  front: torch.Tensor, verts: torch.Tensor, eye: torch.Tensor) -> QueryContext:
    """Bin the valid faces by the pixels their screen bounding boxes touch."""
    s = scene.settings.image_size
    device = tri.device
    tri, z = tri.detach().to(torch.float64), z.detach().to(torch.float64)
    colour = valid & (front | scene.settings.double_sided)
    ids = torch.nonzero(valid, as_tuple=True)[0]
    lo, hi = tri[ids].amin(1), tri[ids].amax(1)
    c0 = torch.floor((lo[:, 0] + 1) * s / 2).clamp(0, s - 1)
    c1 = torch.floor((hi[:, 0] + 1) * s / 2).clamp(0, s - 1)
    r0 = torch.floor((1 - hi[:, 1]) * s / 2).clamp(0, s - 1)
    r1 = torch.floor((1 - lo[:, 1]) * s / 2).clamp(0, s - 1)
    onscreen = (hi[:, 0] >= -1) & (lo[:, 0] <= 1) & (hi[:, 1] >= -1) & (lo[:, 1] <= 1)
    ids, c0, c1, r0, r1 = ids[onscreen], c0[onscreen], c1[onscreen], r0[onscreen], r1[onscreen]
    w = (c1 - c0 + 1).to(torch.long)
    h = (r1 - r0 + 1).to(torch.long)
    n = w * h
    face = torch.repeat_interleave(ids, n)
    local = torch.arange(face.numel(), device=device) - torch.repeat_interleave(torch.cumsum(n, 0) - n, n)
    ww = torch.repeat_interleave(w, n)
    col = torch.repeat_interleave(c0.to(torch.long), n) + local % ww
    row = torch.repeat_interleave(r0.to(torch.long), n) + torch.div(local, ww, rounding_mode="floor")
    pix = row * s + col
    order = torch.argsort(pix, stable=True)
    count = torch.bincount(pix, minlength=s * s)
    start = torch.cumsum(count, 0) - count
    return QueryContext(scene, tri, z, valid, front, colour, start, count, face[order],
                        verts.detach().to(torch.float64), eye.detach().to(torch.float64))


def _screen_bary(p: torch.Tensor, t: torch.Tensor):
    """Signed screen barycentrics of points p (K, 2) in triangles t (K, 3, 2) and whether each
    point is inside (either winding, closed edges, degenerate triangles never)."""
    a, b, c = t[:, 0], t[:, 1], t[:, 2]

    def cross(u, v, q):
        return (v[:, 0] - u[:, 0]) * (q[:, 1] - u[:, 1]) - (v[:, 1] - u[:, 1]) * (q[:, 0] - u[:, 0])

    ea, eb, ec = cross(b, c, p), cross(c, a, p), cross(a, b, p)            # opposite a, b, c
    area2 = ea + eb + ec
    inside = (((ea >= 0) & (eb >= 0) & (ec >= 0)) | ((ea <= 0) & (eb <= 0) & (ec <= 0))) & (area2.abs() > 1e-300)
    safe = torch.where(area2.abs() > 1e-300, area2, torch.ones_like(area2))
    return torch.stack([ea, eb, ec]) / safe, inside


@torch.no_grad()
def query_points(q: QueryContext, points: torch.Tensor) -> torch.Tensor:
    """The hard image at NDC ``points`` (Q, 2) float64 -> (Q, 4): shaded rgb (background where no
    colour face) and coverage in {0, 1}."""
    s = q.scene.settings.image_size
    device = points.device
    num = points.shape[0]
    pix = pixel_of(points, s)
    cnt = q.count[pix]
    qi = torch.repeat_interleave(torch.arange(num, device=device), cnt)
    local = torch.arange(qi.numel(), device=device) - torch.repeat_interleave(torch.cumsum(cnt, 0) - cnt, cnt)
    face = q.faces[q.start[pix][qi] + local]
    bary, inside = _screen_bary(points[qi], q.tri[face])
    alpha = torch.zeros(num, dtype=torch.float64, device=device).index_fill_(0, qi[inside], 1.0)
    hit = inside & q.colour[face]
    qi, face, bary = qi[hit], face[hit], bary[:, hit]
    inv_z = (bary / q.z[face].T).sum(0)
    depth = 1.0 / inv_z
    zmin = torch.full((num,), float("inf"), dtype=torch.float64, device=device).scatter_reduce(
        0, qi, depth, reduce="amin")
    nearest = depth <= zmin[qi]
    fmin = torch.full((num,), torch.iinfo(torch.int64).max, dtype=torch.long, device=device).scatter_reduce(
        0, qi[nearest], face[nearest], reduce="amin")
    win = nearest & (face == fmin[qi])
    qi, face, bary = qi[win], face[win], bary[:, win]
    weights = bary / q.z[face].T
    weights = weights / weights.sum(0)
    rgb = background(q.scene, torch.float64, device)[:, None].repeat(1, num)
    if qi.numel():
        ct = color_table(q.scene, q.verts, q.scene.mesh.faces.to(device))
        back = ~q.front[face] if q.scene.settings.double_sided else None
        color = shade_at(q.scene, ct, ct.table.index_select(2, face), weights, q.eye, back)
        rgb[:, qi] = color
    return torch.cat([rgb.T, alpha[:, None]], dim=1)
