"""The drc renderer against the GL ray-marched reference (gl_voxel) on a soft, coloured grid from
three cameras, and the reference's hard surface against the torch traversal."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import renderer as dr
from renderer.voxel import VoxelGrid, termination
from renderer.voxel.bench import bench_scene
from renderer.voxel.gl import VoxelGLRenderer

CAMERAS = [dict(azimuth=30.0, elevation=20.0, distance=2.0),
           dict(azimuth=-113.0, elevation=52.0, distance=1.7),
           dict(azimuth=171.0, elevation=-35.0, distance=2.6, fov=45.0)]


@pytest.fixture(scope="module")
def gl_voxels():
    renderer = VoxelGLRenderer()
    yield renderer
    renderer.release()


def hidden_style_grid() -> VoxelGrid:
    """A 24 x 20 x 28 grid over an off-centre box: a solid ball, a soft shell, scattered soft
    cells and per-cell colours."""
    gen = torch.Generator().manual_seed(12)
    shape = (24, 20, 28)
    axes = [torch.linspace(-1, 1, n) for n in shape]
    x, y, z = torch.meshgrid(*axes, indexing="ij")
    r = (x * x + y * y + z * z).sqrt()
    occ = torch.where(r < 0.55, torch.ones_like(r), torch.zeros_like(r))
    occ = torch.where((r >= 0.55) & (r < 0.8), 0.35 * torch.ones_like(r), occ)
    speckle = torch.rand(shape, generator=gen) < 0.03
    occ = torch.where(speckle, torch.rand(shape, generator=gen), occ)
    colors = torch.rand(*shape, 3, generator=gen)
    return VoxelGrid(occupancy=occ, lo=(-0.45, -0.35, -0.5), hi=(0.5, 0.4, 0.55), colors=colors, name="hidden")


@pytest.mark.parametrize("camera", CAMERAS)
@pytest.mark.parametrize("lighting", ["phong", "sh"])
def test_drc_matches_the_gl_reference(camera, lighting, gl_voxels):
    scene = dr.Scene.default(hidden_style_grid(), image_size=64, lighting=lighting,
                             background=(0.2, 0.3, 0.4)).with_camera(**camera)
    with torch.no_grad():
        mine = dr.render(scene)
    ref = gl_voxels.render(scene)
    a, b = mine["alpha"].numpy() > 0.5, ref["alpha"] > 0.5
    assert a.sum() > 300
    assert (a & b).sum() / (a | b).sum() >= 0.99
    both = (mine["alpha"].numpy() > 0) & (ref["alpha"] > 0)
    assert np.abs(mine["rgb"].numpy() - ref["rgb"])[both].mean() <= 2e-3
    assert np.abs(mine["depth"].numpy() - ref["depth"])[both].max() <= 1e-4
    # the registered entry returns the same reference
    assert np.array_equal(dr.render(scene, "gl_voxel")["alpha"].numpy() > 0.5, b)


def test_the_reference_hard_surface_is_the_first_cell_at_half_occupancy(gl_voxels):
    scene = dr.Scene.default(hidden_style_grid(), image_size=48).with_camera(**CAMERAS[1])
    ref = gl_voxels.render(scene)
    with torch.no_grad():
        term = termination(scene.shape, scene.camera, 48)
    x = term.x.masked_fill(~term.valid, 0)
    solid = x >= 0.5
    has = solid.any(1)
    first = solid.float().argmax(1)
    cells = torch.full((48 * 48,), -1, dtype=torch.int64)
    lane_cell = term.segments.slot.gather(1, first[:, None]).squeeze(1)
    hit_cells = torch.where(has, term.segments.cell[lane_cell.clamp_max(term.segments.num_segments - 1)],
                            torch.full_like(lane_cell, -1))
    cells[term.segments.ray] = hit_cells
    assert (cells >= 0).sum() > 200
    assert (cells.reshape(48, 48).numpy() == ref["face_id"]).mean() >= 0.995
    hard = ref["face_id"] >= 0
    # the hard depth is the entry point's view depth, as in the position buffer
    view = scene.camera.view_matrix().double().numpy()
    pos = np.concatenate([ref["position"][hard], np.ones((int(hard.sum()), 1))], 1) @ view.T
    assert np.allclose(-pos[:, 2], ref["hard_depth"][hard], atol=1e-4)


def test_the_bench_scene_renders_in_both(gl_voxels):
    scene = bench_scene(32)
    mine = dr.render(scene)
    ref = gl_voxels.render(scene)
    assert np.abs(mine["rgb"].detach().numpy() - ref["rgb"]).max() < 1e-4
