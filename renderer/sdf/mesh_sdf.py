"""A grid SDF sampled from a watertight triangle mesh (for a mesh dropped on an SDF view).

Distance: the exact point-to-triangle distance, minimised over the faces; sign: the generalised
winding number (van Oosterom and Strackee's solid angle summed over the faces, / 4 pi), inside
where it exceeds 1/2. Both run in torch in chunks (no spatial index: meant for small grids,
32^3 nodes against a few thousand faces take a few seconds).
"""
from __future__ import annotations

import math

import torch

from ..errors import UserError
from ..mesh import Mesh
from .shapes import SDF

PAIRS_PER_CHUNK = 2_000_000


class MeshNotWatertightError(UserError, ValueError):
    """The mesh has boundary edges: inside and outside are not defined."""


def _segment_distance2(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared distance from points p (N, 1, 3) to segments ab (1, F, 3) -> (N, F)."""
    ab = b - a
    t = ((p - a) * ab).sum(-1) / (ab * ab).sum(-1).clamp_min(1e-30)
    closest = a + t.clamp(0, 1)[..., None] * ab
    return ((p - closest) ** 2).sum(-1)


def point_triangle_distance(points: torch.Tensor, tris: torch.Tensor) -> torch.Tensor:
    """Unsigned distance from each point to the nearest triangle.

    points: (N, 3); tris: (F, 3, 3) corners -> (N,)."""
    v0, v1, v2 = tris[:, 0][None], tris[:, 1][None], tris[:, 2][None]
    p = points[:, None]
    n = torch.cross(v1 - v0, v2 - v0, dim=-1)
    n = n / n.norm(dim=-1, keepdim=True).clamp_min(1e-30)
    plane = ((p - v0) * n).sum(-1)                                       # (N, F)
    q = p - plane[..., None] * n
    # the projection is inside when it lies on the inner side of all three edges
    inside = torch.ones_like(plane, dtype=torch.bool)
    for a, b in ((v0, v1), (v1, v2), (v2, v0)):
        inside &= (torch.cross(b - a, q - a, dim=-1) * n).sum(-1) >= 0
    edge2 = torch.minimum(torch.minimum(_segment_distance2(p, v0, v1), _segment_distance2(p, v1, v2)),
                          _segment_distance2(p, v2, v0))
    d2 = torch.where(inside, plane ** 2, edge2)
    return d2.min(dim=1).values.sqrt()


def winding_number(points: torch.Tensor, tris: torch.Tensor) -> torch.Tensor:
    """Generalised winding number of a closed, outward-oriented mesh at each point (1 inside,
    0 outside). points: (N, 3); tris: (F, 3, 3) -> (N,)."""
    a = tris[:, 0][None] - points[:, None]
    b = tris[:, 1][None] - points[:, None]
    c = tris[:, 2][None] - points[:, None]
    la, lb, lc = a.norm(dim=-1), b.norm(dim=-1), c.norm(dim=-1)
    det = (a * torch.cross(b, c, dim=-1)).sum(-1)
    den = la * lb * lc + (a * b).sum(-1) * lc + (b * c).sum(-1) * la + (c * a).sum(-1) * lb
    return (2 * torch.atan2(det, den)).sum(-1) / (4 * math.pi)


def _check_watertight(mesh: Mesh) -> None:
    faces = mesh.faces if mesh.weld is None else mesh.weld[mesh.faces]
    edges = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = torch.sort(edges, dim=1).values
    _, counts = torch.unique(edges, dim=0, return_counts=True)
    open_edges = int((counts == 1).sum())
    if open_edges:
        raise MeshNotWatertightError(f"Cannot make an SDF of '{mesh.name}': the mesh is not watertight "
                                     f"({open_edges} boundary edges), so inside and outside are undefined")


def sdf_from_mesh(mesh: Mesh, resolution: int = 32, padding: float = 0.1) -> SDF:
    """A (resolution,)^3 grid SDF of a watertight mesh over its bounding box grown by
    ``padding`` (world units) on each side; float32 on the CPU.

    Raises MeshNotWatertightError for a mesh with boundary edges, ValueError for a resolution
    outside 4..128."""
    if not isinstance(resolution, int) or not 4 <= resolution <= 128:
        raise ValueError(f"the SDF grid resolution must be a whole number from 4 to 128, got {resolution!r}")
    _check_watertight(mesh)
    verts = mesh.verts.detach().double().cpu()
    tris = verts[mesh.faces.cpu()]
    lo, hi = verts.min(0).values - padding, verts.max(0).values + padding
    axes = [torch.linspace(float(lo[i]), float(hi[i]), resolution, dtype=torch.float64) for i in range(3)]
    points = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)
    chunk = max(1, PAIRS_PER_CHUNK // max(1, len(tris)))
    values = []
    for start in range(0, len(points), chunk):
        p = points[start:start + chunk]
        dist = point_triangle_distance(p, tris)
        inside = winding_number(p, tris) > 0.5
        values.append(torch.where(inside, -dist, dist))
    grid = torch.cat(values).reshape(resolution, resolution, resolution).float()
    return SDF(grid=grid, bounds=torch.stack([lo, hi]).float(), name=mesh.name)
