"""Bundled voxel scenes: the torus (a closed trimesh torus, tilted, voxelised at 32^3 into DRC's
[-0.5, 0.5]^3 box; assets/torus.binvox is this grid) and the bench's scene."""
from __future__ import annotations

from pathlib import Path

import torch

from ..mesh import Mesh
from ..scene import Scene
from .grid import DEFAULT_BOUNDS, VoxelGrid

TORUS_BINVOX = Path(__file__).resolve().parent.parent.parent / "assets" / "torus.binvox"
TORUS_RADII = (0.7, 0.3)        # major, minor, before normalising the outer radius to 1
TORUS_TILT = 0.6                # radians about x


def torus_mesh() -> Mesh:
    """A closed torus (64 x 32 sections, 4096 faces) tilted by 0.6 rad about x, scaled to
    radius 1 like a loaded mesh."""
    import trimesh

    tm = trimesh.creation.torus(major_radius=TORUS_RADII[0], minor_radius=TORUS_RADII[1],
                                major_sections=64, minor_sections=32)
    tm.apply_transform(trimesh.transformations.rotation_matrix(TORUS_TILT, [1, 0, 0]))
    verts = torch.tensor(tm.vertices, dtype=torch.float32)
    verts = verts / verts.norm(dim=1).max()
    return Mesh(verts=verts, faces=torch.tensor(tm.faces, dtype=torch.int64), name="torus")


def torus_grid(resolution: int = 32) -> VoxelGrid:
    """``torus_mesh`` scaled by 0.5 and voxelised (cell centres inside) over [-0.5, 0.5]^3."""
    from .files import voxelize

    mesh = torus_mesh()
    return voxelize(mesh.with_verts(mesh.verts * 0.5), resolution, bounds=DEFAULT_BOUNDS, name="torus")


def bench_scene(size: int) -> Scene:
    """The bench's voxel case: the bundled 32^3 torus with soft occupancies (0.9 inside, 0.05 in
    the cells around it, so rays cross many partly occupied cells), phong, S = ``size``."""
    from .files import read_binvox

    grid = read_binvox(TORUS_BINVOX) if TORUS_BINVOX.exists() else torus_grid(32)
    occ = grid.occupancy
    near = torch.nn.functional.max_pool3d(occ[None, None], 3, stride=1, padding=1)[0, 0]
    soft = torch.where(occ > 0.5, torch.full_like(occ, 0.9), 0.05 * near)
    scene = Scene.default(grid.with_occupancy(soft), image_size=size, renderer="drc")
    return scene.with_camera(azimuth=30.0, elevation=20.0, distance=2.0)
