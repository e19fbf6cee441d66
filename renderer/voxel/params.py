"""The voxel grid's parameter groups (``renderer.analysis.params.register_param_group``):

=============  =========  ==========================================================
group          shape      scalar names
=============  =========  ==========================================================
occupancy      (N,)       cell:I:J:K (x, y, z indices; the element group, N = Dx Dy Dz)
cell_colors    (N, 3)     cell_color:I:J:K:r|g|b (read as the albedo where the grid has none)
=============  =========  ==========================================================

Flat index n = (I * Dy + J) * Dz + K, as ``VoxelGrid.cell_index``.
"""
from __future__ import annotations

import re
from typing import Optional

import torch

from ..analysis.params import ParamGroup, register_param_group
from ..scene import Scene
from .grid import VoxelGrid

_CELL = re.compile(r"^cell:(\d+):(\d+):(\d+)$")
_CELL_COLOR = re.compile(r"^cell_color:(\d+):(\d+):(\d+):([rgb])$")


def _grid(scene: Scene) -> VoxelGrid:
    return scene.shape


def _flat_index(name: str, ijk: tuple[int, int, int], scene: Optional[Scene]) -> int:
    if scene is None or scene.kind != "voxels":
        raise ValueError(f"parameter {name!r} names a voxel cell: it needs a scene holding a voxel grid "
                         "(its flat index depends on the grid's shape)")
    shape = _grid(scene).shape
    if any(v >= n for v, n in zip(ijk, shape)):
        raise ValueError(f"parameter {name!r}: the grid has {shape[0]}x{shape[1]}x{shape[2]} cells "
                         f"(indices 0..{shape[0] - 1}, 0..{shape[1] - 1}, 0..{shape[2] - 1})")
    return _grid(scene).cell_index(*ijk)


def parse_cell(name: str, scene: Optional[Scene]) -> Optional[tuple[int, ...]]:
    """"cell:I:J:K" -> (flat,) (checked against the scene's grid); None for other names; a
    ValueError without a voxel scene (the flat index depends on the grid's shape)."""
    m = _CELL.match(name)
    if not m:
        return None
    return (_flat_index(name, tuple(int(g) for g in m.groups()), scene),)


def parse_cell_color(name: str, scene: Optional[Scene]) -> Optional[tuple[int, ...]]:
    m = _CELL_COLOR.match(name)
    if not m:
        return None
    ijk = tuple(int(g) for g in m.groups()[:3])
    return (_flat_index(name, ijk, scene), "rgb".index(m.group(4)))


def read_occupancy(scene: Scene) -> torch.Tensor:
    return _grid(scene).occupancy.reshape(-1)


def write_occupancy(scene: Scene, value: torch.Tensor) -> Scene:
    grid = _grid(scene)
    return scene.replace(shape=grid.with_occupancy(value.reshape(grid.shape)))


def read_colors(scene: Scene) -> torch.Tensor:
    grid = _grid(scene)
    if grid.colors is not None:
        return grid.colors.reshape(-1, 3)
    return scene.material.albedo.to(grid.occupancy.dtype).expand(grid.num_elements, 3)


def write_colors(scene: Scene, value: torch.Tensor) -> Scene:
    grid = _grid(scene)
    return scene.replace(shape=grid.with_colors(value.reshape(*grid.shape, 3)))


OCCUPANCY_GROUP = register_param_group(ParamGroup(
    "occupancy", ("voxels",), read_occupancy, write_occupancy, parse=parse_cell, unit="coefficient",
    geometric=True, element=True, help="cell:I:J:K",
    name_of=lambda scene, index: "cell:{}:{}:{}".format(*_grid(scene).cell_ijk(index[0]))))
COLOR_GROUP = register_param_group(ParamGroup(
    "cell_colors", ("voxels",), read_colors, write_colors, parse=parse_cell_color, unit="coefficient",
    help="cell_color:I:J:K:r|g|b"))
