"""The voxel package's entries: the VoxelGrid shape, its loaders and the drc, drc_ea and
gl_voxel renderers."""
from __future__ import annotations

import torch

from ..bench import register_bench_scene
from ..fragments import RenderOutput
from ..io import register_loader
from ..registry import RendererSpec, register_renderer
from .bench import bench_scene
from .drc import render_drc
from .ea import render_drc_ea
from .files import npz_has_occupancy, read_binvox, read_npy, read_npz
from .grid import VoxelGrid  # noqa: F401 - registers the shape
from . import hooks, params, tasks  # noqa: F401,E402 - parameter groups, inspector and painter, carve task


def render_gl_voxel(scene, with_pairs: bool = False) -> RenderOutput:
    """The GL ray-marched render of a voxel scene as CPU tensors (see ``gl.VoxelGLRenderer``)."""
    from .gl import render_gl_voxels   # moderngl loads only when a GL render is asked for

    out = render_gl_voxels(scene)
    return RenderOutput(**{k: torch.from_numpy(out[k]) for k in GL_BUFFERS})


GL_BUFFERS = ("rgb", "alpha", "depth", "face_id", "normal", "position")


def _segments_cost(scene) -> int:
    """About how many (pixel, cell) segments a traversal forms, without traversing (the registry
    asks this on the GUI thread before every render; a new camera's traversal takes 50 ms at
    256 px): the pixels inside the screen box of the grid's projected corners, 3/4 of it for the
    box's hexagonal outline, times the mean side D (a chord through a cube averages 2D/3 cells of
    length, about D cells crossed)."""
    from ..camera import project_points

    grid = scene.shape
    size = scene.settings.image_size
    lo, hi = grid.lo, grid.hi
    corners = torch.stack([torch.where(torch.tensor([(c >> a) & 1 for a in range(3)], dtype=torch.bool), hi, lo)
                           for c in range(8)])
    camera = scene.camera.detached()
    view = camera.view_matrix().to(torch.float64)
    depth = -(corners @ view[:3, :3].T + view[:3, 3])[:, 2]
    if bool((depth <= float(camera.near)).any()):
        box_px = float(size * size)                     # the camera is inside or beside the box
    else:
        px = project_points(corners.to(torch.float32), camera, size).clamp(0, size)
        extent = px.max(dim=0).values - px.min(dim=0).values
        box_px = 0.75 * float(extent[0] * extent[1])
    return int(box_px * sum(grid.shape) / 3)


register_loader((".binvox",), read_binvox)
register_loader((".npy",), read_npy)
register_loader((".npz",), read_npz, accepts=npz_has_occupancy)

register_renderer(RendererSpec(
    name="drc", render=render_drc, representations=("voxels",),
    wrt=("geometry", "appearance", "lighting", "material"),
    buffers=("rgb", "alpha", "depth", "num_pairs"), reference="gl_voxel", cost=_segments_cost,
    analysis_modes=("difference", "alpha", "dl_di", "di_soft", "agreement", "vertex_grad"),
    bench_lightings=("none", "phong"),
    description="DRC ray termination over voxels: exact cell traversal, expected images "
                "(Tulsiani et al. 2017)"))
register_renderer(RendererSpec(
    name="drc_ea", render=render_drc_ea, representations=("voxels",),
    wrt=("geometry", "appearance"),
    buffers=("rgb", "alpha", "depth", "num_pairs"), reference="gl_voxel",
    analysis_modes=("difference", "alpha", "dl_di", "di_soft", "agreement", "vertex_grad"),
    bench_lightings=("none",),
    description="emission-absorption raymarching of the trilinear grid (PyTorch3D semantics)"))
register_renderer(RendererSpec(
    name="gl_voxel", render=render_gl_voxel, representations=("voxels",), reference=None,
    is_reference=True, buffers=GL_BUFFERS,
    analysis_modes=("difference", "alpha"), bench_lightings=(),
    description="OpenGL fragment-shader ray marching of the voxel grid (expected termination; "
                "hard surface at occupancy 0.5 in face_id, normal, position)"))
register_bench_scene("torus_voxels", "voxels", bench_scene)
