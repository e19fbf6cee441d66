"""Exact cell traversal of pixel rays through a voxel grid, vectorised over rays.

For each ray, the t of every x, y and z grid-plane crossing inside the grid's box is computed
(at most Dx + Dy + Dz + 3 values), sorted, and each stretch between consecutive crossings is one
crossed cell (its midpoint gives the cell; empty stretches, where a ray crosses an edge or a
corner, are dropped). This visits exactly the cells an Amanatides-Woo walk visits, with the
entry and exit t of each. Sparse: only rays that hit the box are traced, and the result is the
per-ray list of crossed cells (never an S^2 x D^3 tensor). Geometry runs in float64 without
gradients: cell occupancies and colours carry the gradient, the camera does not.

Ray parametrisation: the ray of pixel (r, c) is eye + t * d with d = x tan(fov/2) right +
y tan(fov/2) up - back (x, y the pixel-centre NDC of ``renderer.camera.pixel_centre_ndc``), so
t is the view depth (-z_view) of the point and t |d| its Euclidean distance from the eye.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch

from ..camera import OrbitCamera, pixel_centre_ndc

# Rays per chunk x crossings per ray kept below this many entries (bounds the sort's memory).
CHUNK_ENTRIES = 4_000_000
TRAVERSAL_CACHE_SIZE = 48
TRAVERSAL_CACHE_BYTES = 300 << 20     # an orbiting GUI at 256^2 makes ~45 MB per view
# A stretch shorter than this fraction of the smallest cell edge is a crossing of two planes at
# once (an edge or a corner), not a cell.
MIN_STRETCH = 1e-9


@dataclass
class CellSegments:
    """The cells crossed by the pixel rays, ray by ray, in order along each ray.

    ray: (R,) int64 flat pixel ids (row * S + col) of the rays that cross the box;
    slot: (R, L) int64 index into the per-segment arrays of the l-th cell of ray r, or M (one
    past the end: padding) where the ray has fewer than l + 1 cells;
    cell: (M,) int64 flat cell ids; t_in, t_out: (M,) float64 view depth of the entry and exit
    point; axis: (M,) int64 the axis (0 x, 1 y, 2 z) of the face the ray enters the cell through
    (-1: the ray starts inside the cell); normal: (M, 3) float64 that face's outward normal;
    ray_dir: (R, 3) float64 unnormalised directions (view-z -1); eye: (3,) float64;
    image_size: S.
    """

    ray: torch.Tensor
    slot: torch.Tensor
    cell: torch.Tensor
    t_in: torch.Tensor
    t_out: torch.Tensor
    axis: torch.Tensor
    normal: torch.Tensor
    ray_dir: torch.Tensor
    eye: torch.Tensor
    image_size: int
    ray_of_segment: torch.Tensor
    all_ray_norms: torch.Tensor

    @property
    def num_segments(self) -> int:
        return int(self.cell.numel())

    @property
    def nbytes(self) -> int:
        return sum(t.element_size() * t.numel() for t in (self.ray, self.slot, self.cell, self.t_in, self.t_out,
                                                            self.axis, self.normal, self.ray_dir,
                                                            self.ray_of_segment, self.all_ray_norms))

    def distance_in(self) -> torch.Tensor:
        """(M,) float64 Euclidean distance from the eye to each cell's entry point (DRC's d_i)."""
        return self.t_in * self.ray_dir.norm(dim=1)[self.ray_of_segment]


def pixel_rays(camera: OrbitCamera, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(eye (3,), directions (S*S, 3)) float64, pixel-centre rays of DESIGN.md §2, row-major,
    each direction with view-space z = -1 (so t is the view depth)."""
    s = image_size
    rows, cols = torch.meshgrid(torch.arange(s, dtype=torch.float64),
                                torch.arange(s, dtype=torch.float64), indexing="ij")
    x, y = pixel_centre_ndc(cols.reshape(-1), rows.reshape(-1), s)
    with torch.no_grad():
        basis = camera.basis().detach().double()            # rows: right, up, back
        tan = torch.tan(torch.deg2rad(camera.fov.detach().double()) / 2)
        eye = camera.eye.detach().double()
    dirs = (x * tan)[:, None] * basis[0] + (y * tan)[:, None] * basis[1] - basis[2]
    return eye, dirs


def traverse(eye: torch.Tensor, dirs: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
             shape: tuple[int, int, int], image_size: int) -> CellSegments:
    """The cells each ray eye + t dirs (t >= 0) crosses in the grid of ``shape`` cells over the
    box [lo, hi]. eye: (3,), dirs: (N, 3), lo, hi: (3,) float64 -> CellSegments (``ray`` are
    row indices of ``dirs``)."""
    eye, dirs = eye.double(), dirs.double()
    lo, hi = lo.double().cpu(), hi.double().cpu()
    eye, dirs = eye.cpu(), dirs.cpu()
    dims = torch.tensor(shape, dtype=torch.float64)
    h = (hi - lo) / dims
    with torch.no_grad():
        inv = 1.0 / dirs                                           # +-inf on axis-parallel rays
        t0, t1 = (lo - eye) * inv, (hi - eye) * inv
        t_lo = torch.minimum(t0, t1).nan_to_num(nan=-float("inf"))
        t_hi = torch.maximum(t0, t1).nan_to_num(nan=float("inf"))
        t_near, entry_axis = t_lo.max(dim=1)
        t_far = t_hi.min(dim=1).values
        inside_start = t_near <= 0
        entry_axis = torch.where(inside_start, torch.full_like(entry_axis, -1), entry_axis)
        t_near = t_near.clamp_min(0.0)
        hit = torch.nonzero(t_far > t_near).reshape(-1)
        width = sum(shape) + 3
        chunk = max(1, CHUNK_ENTRIES // width)
        parts = [_trace_chunk(eye, dirs[ids], inv[ids], t_near[ids], t_far[ids], entry_axis[ids],
                              lo, h, shape) for ids in hit.split(chunk)] if len(hit) else []
    return _assemble(hit, parts, dirs[hit], eye, image_size, dirs.norm(dim=1))


def _trace_chunk(eye, dirs, inv, t_near, t_far, entry_axis, lo, h, shape):
    """One chunk of rays that hit the box -> (counts (n,), cell, t_in, t_out, axis) flat."""
    n = len(dirs)
    values, labels = [], []
    for a, cells in enumerate(shape):
        planes = lo[a] + h[a] * torch.arange(cells + 1, dtype=torch.float64)
        t = (planes[None, :] - eye[a]) * inv[:, a:a + 1]               # (n, cells + 1)
        t = torch.where(torch.isfinite(t), t, torch.full_like(t, float("inf")))
        values.append(t)
        labels.append(torch.full((1, cells + 1), a, dtype=torch.int64).expand(n, -1))
    values = torch.cat(values + [t_near[:, None], t_far[:, None]], dim=1)
    labels = torch.cat(labels + [torch.full((n, 2), -1, dtype=torch.int64)], dim=1)
    values = torch.maximum(torch.minimum(values, t_far[:, None]), t_near[:, None])
    values, order = values.sort(dim=1)
    labels = labels.gather(1, order)
    start, end = values[:, :-1], values[:, 1:]
    keep = (end - start) > MIN_STRETCH * float(h.min())
    # The first cell is entered through the box face of the slab test (or the ray starts inside).
    first = keep & (keep.cumsum(1) == 1)
    axis = torch.where(first, entry_axis[:, None].expand(n, start.shape[1]), labels[:, :-1])
    counts = keep.sum(1)
    # only the kept stretches from here on (about a third of the sorted list)
    rows, lanes = torch.nonzero(keep, as_tuple=True)
    t_in, t_out = start[rows, lanes], end[rows, lanes]
    pos = eye + ((t_in + t_out) / 2)[:, None] * dirs[rows]
    ijk = torch.floor((pos - lo) / h).long()
    for a, cells in enumerate(shape):
        ijk[:, a].clamp_(0, cells - 1)
    cell = (ijk[:, 0] * shape[1] + ijk[:, 1]) * shape[2] + ijk[:, 2]
    return counts, cell, t_in, t_out, axis[rows, lanes]


def _assemble(hit: torch.Tensor, parts: list, dirs: torch.Tensor, eye: torch.Tensor,
              image_size: int, all_norms: torch.Tensor) -> CellSegments:
    if parts:
        counts, cell, t_in, t_out, axis = (torch.cat(x) for x in zip(*parts))
    else:
        counts = torch.zeros(0, dtype=torch.int64)
        cell = axis = torch.zeros(0, dtype=torch.int64)
        t_in = t_out = torch.zeros(0, dtype=torch.float64)
    total = int(counts.sum())
    width = int(counts.max()) if len(counts) else 0
    offsets = torch.cumsum(counts, 0) - counts
    lanes = torch.arange(width)
    slot = offsets[:, None] + lanes[None, :]
    slot = torch.where(lanes[None, :] < counts[:, None], slot, torch.full_like(slot, total))
    ray_of = torch.repeat_interleave(torch.arange(len(counts)), counts)
    normal = torch.zeros(total, 3, dtype=torch.float64)
    has_face = axis >= 0
    seg_dir = dirs[ray_of]
    face_axis = axis.clamp_min(0)
    # The face the ray enters through faces against the ray: normal = -sign(d_axis) e_axis.
    sign = -torch.sign(seg_dir.gather(1, face_axis[:, None])).squeeze(1)
    normal[has_face, face_axis[has_face]] = sign[has_face]
    inside = ~has_face
    if inside.any():
        normal[inside] = -seg_dir[inside] / seg_dir[inside].norm(dim=1, keepdim=True)
    return CellSegments(ray=hit, slot=slot, cell=cell, t_in=t_in, t_out=t_out, axis=axis,
                        normal=normal, ray_dir=dirs, eye=eye, image_size=image_size,
                        ray_of_segment=ray_of, all_ray_norms=all_norms)


_CACHE: OrderedDict = OrderedDict()


def camera_key(camera: OrbitCamera) -> tuple:
    """The camera's values (detached: the traversal has no camera gradient, as in DRC)."""
    def value(x) -> float:
        return float(x.detach()) if hasattr(x, "detach") else float(x)

    return (value(camera.azimuth), value(camera.elevation), value(camera.distance),
            value(camera.fov), tuple(value(v) for v in camera.target))


def grid_segments(grid, camera: OrbitCamera, image_size: int) -> CellSegments:
    """The traversal of ``grid`` (a VoxelGrid) seen by ``camera`` at ``image_size``, cached on the
    camera values, the grid's shape and bounds (an optimisation of occupancies re-renders the
    same views: the rays' cell lists do not change)."""
    key = (camera_key(camera), grid.shape, tuple(grid.lo.tolist()), tuple(grid.hi.tolist()), image_size)
    found = _CACHE.get(key)
    if found is not None:
        _CACHE.move_to_end(key)
        return found
    eye, dirs = pixel_rays(camera, image_size)
    segs = traverse(eye, dirs, grid.lo, grid.hi, grid.shape, image_size)
    _CACHE[key] = segs
    while len(_CACHE) > 1 and (len(_CACHE) > TRAVERSAL_CACHE_SIZE
                               or sum(v.nbytes for v in _CACHE.values()) > TRAVERSAL_CACHE_BYTES):
        _CACHE.popitem(last=False)
    return segs
