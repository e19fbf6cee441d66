"""Voxel carving from views of a mesh, DRC's setup (Tulsiani et al. 2017, next_wave.md §3.1):
a 32^3 grid over [-0.5, 0.5]^3, 64^2 silhouettes or depth maps, the expected-event-cost losses.

The mesh (normalised to radius 1 when loaded) is scaled by 0.5 into the grid's box; its targets
are drawn by the GL mesh reference. The grid's occupancies are sigmoid(logits), logits start at
0 (x = 0.5 everywhere) and are fitted by Adam over every view at each step (the library loop
``carve``; the registered task ``carve`` runs the same fit in the optimisation runner).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

from ..camera import OrbitCamera
from ..mesh import Mesh
from ..scene import Scene
from .drc import drc_depth_loss, drc_mask_loss, termination
from .grid import DEFAULT_BOUNDS, VoxelGrid

DRC_RESOLUTION = 32
DRC_IMAGE_SIZE = 64
DRC_VIEWS = 20
CARVE_DISTANCE = 2.0          # the whole [-0.5, 0.5]^3 box is in view at fov 60
MESH_SCALE = 0.5              # radius-1 meshes into the radius-0.5 sphere inside the box


def spiral_cameras(count: int, distance: float = CARVE_DISTANCE, offset: float = 0.0,
                   elevation_range: tuple[float, float] = (-60.0, 75.0)) -> list[OrbitCamera]:
    """``count`` cameras on a golden-angle spiral (azimuths spread evenly, elevations from
    ``elevation_range``), at ``distance`` from the origin; ``offset`` (0..1) shifts the spiral, so
    offset 0.5 gives views between those of offset 0 (held-out views)."""
    golden = 180.0 * (3.0 - math.sqrt(5.0))
    lo, hi = elevation_range
    cams = []
    for k in range(count):
        u = (k + 0.5 + offset) / count
        el = math.degrees(math.asin(math.sin(math.radians(lo)) + u * (math.sin(math.radians(hi))
                                                                      - math.sin(math.radians(lo)))))
        az = ((k + offset) * golden) % 360.0 - 180.0
        cams.append(OrbitCamera(azimuth=az, elevation=el, distance=distance))
    return cams


@dataclass
class MeshViews:
    """Target images of a mesh: cameras, alpha (V, S, S) in {0, 1} and depth (V, S, S) view
    depth (0 on background), drawn by the GL mesh reference."""

    cameras: list[OrbitCamera]
    alpha: torch.Tensor
    depth: torch.Tensor


def scaled_mesh(mesh: Mesh, scale: float = MESH_SCALE) -> Mesh:
    return mesh.with_verts(mesh.verts * scale)


def mesh_views(mesh: Mesh, cameras: list[OrbitCamera], size: int = DRC_IMAGE_SIZE) -> MeshViews:
    """Silhouettes and depth maps of ``mesh`` (already in the grid's box) from ``cameras``."""
    from ..gl import render_gl

    alphas, depths = [], []
    for cam in cameras:
        scene = Scene.default(mesh, image_size=size, renderer="gl").replace(camera=cam)
        out = render_gl(scene)
        alphas.append(torch.from_numpy(out["alpha"]))
        depths.append(torch.from_numpy(out["depth"]))
    return MeshViews(cameras, torch.stack(alphas), torch.stack(depths))


def voxel_silhouettes(grid: VoxelGrid, cameras: list[OrbitCamera], size: int) -> torch.Tensor:
    """(V, S, S) DRC alpha = 1 - escape of ``grid`` from each camera (no gradient)."""
    with torch.no_grad():
        return torch.stack([1 - termination(grid, cam, size).escape_image() for cam in cameras])


def mask_iou(a: torch.Tensor, b: torch.Tensor, threshold: float = 0.5) -> float:
    """IoU of the masks a > threshold and b > threshold (over every image given)."""
    ma, mb = a > threshold, b > threshold
    union = int((ma | mb).sum())
    return float((ma & mb).sum()) / union if union else 1.0


@dataclass
class CarveResult:
    """The carved grid and its history: per recorded step (step, loss, held-out IoU, seconds of
    CPU time of the process so far)."""

    grid: VoxelGrid
    history: list[tuple[int, float, float, float]] = field(default_factory=list)

    @property
    def final_iou(self) -> float:
        return self.history[-1][2] if self.history else float("nan")


def carve(views: MeshViews, mode: str = "mask", resolution: int = DRC_RESOLUTION, steps: int = 300,
          lr: float = 0.1, heldout: Optional[MeshViews] = None, record_every: int = 10,
          stop_iou: Optional[float] = None, bg_weight: float = 0.2, init_logit: float = 0.0,
          on_record: Optional[Callable[[int, float, float, float], None]] = None) -> CarveResult:
    """Fit a grid's occupancies to ``views`` with DRC's mask ("mask") or depth ("depth")
    event-cost loss (or their sum, "both"), mean over views, Adam at ``lr`` on the logits. Every ``record_every``
    steps the held-out silhouette IoU (alpha > 0.5 against the mesh's) is recorded; the fit stops
    early once it reaches ``stop_iou``. ``init_logit``: the logits' start (0: x = 0.5 everywhere;
    negative starts nearly empty, so cells no training ray crosses stay empty)."""
    if mode not in ("mask", "depth", "both"):
        raise ValueError(f"carve mode must be mask, depth or both, got {mode!r}")
    size = int(views.alpha.shape[-1])
    logits = torch.full((resolution,) * 3, float(init_logit), dtype=torch.float32, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=lr)
    lo, hi = DEFAULT_BOUNDS
    result = CarveResult(grid=VoxelGrid(torch.sigmoid(logits.detach()), lo, hi, name="carved"))
    cpu0 = time.process_time()
    for step in range(steps + 1):
        grid = VoxelGrid(torch.sigmoid(logits), lo, hi, name="carved")
        recording = step % record_every == 0 or step == steps
        if step == steps and not recording:
            break
        losses = []
        for v, cam in enumerate(views.cameras):
            term = termination(grid, cam, size)
            cost = 0.0
            if mode in ("mask", "both"):
                cost = cost + drc_mask_loss(term, views.alpha[v], bg_weight=bg_weight)
            if mode in ("depth", "both"):
                cost = cost + drc_depth_loss(term, views.depth[v], bg_weight=bg_weight)
            losses.append(cost)
        loss = torch.stack(losses).mean()
        if recording:
            carved = VoxelGrid(torch.sigmoid(logits.detach()), lo, hi, name="carved")
            iou = (mask_iou(voxel_silhouettes(carved, heldout.cameras, size), heldout.alpha)
                   if heldout is not None else float("nan"))
            record = (step, float(loss.detach()), iou, time.process_time() - cpu0)
            result.history.append(record)
            if on_record is not None:
                on_record(*record)
            if step == steps or (stop_iou is not None and iou >= stop_iou):
                break
        opt.zero_grad()
        loss.backward()
        opt.step()
    result.grid = VoxelGrid(torch.sigmoid(logits.detach()), lo, hi, name="carved")
    return result
