"""DRC over voxels against closed forms and against DRC's own hand-derived gradient
(next_wave.md §3.4): the uniform slab, one solid cell, the reverse-sum gradient, the EA weights,
and the exact traversal against dense sampling along the ray."""
from __future__ import annotations

import math

import pytest
import torch

import renderer as dr
from renderer.camera import OrbitCamera
from renderer.voxel import (VoxelGrid, drc_depth_loss, drc_mask_loss, emission_absorption, event_cost,
                            pixel_rays, termination, traverse)

# image size 1: the one pixel's ray is the camera's optical axis (NDC 0, 0)
AXIS_CAMERA = OrbitCamera(azimuth=0.0, elevation=0.0, distance=3.0)     # eye (0, 0, 3), looking down -z


def column(n: int, x: torch.Tensor) -> VoxelGrid:
    """A (1, 1, n) column of cells over [-0.5, 0.5]^3 with occupancies x (n,)."""
    return VoxelGrid(occupancy=x.reshape(1, 1, n), name="column")


@pytest.mark.parametrize("n,x", [(1, 0.4), (7, 0.3), (32, 0.05)])
def test_uniform_slab_mask_cost_and_gradient(n, x):
    occ = torch.full((n,), x, dtype=torch.float64, requires_grad=True)
    term = termination(column(n, occ), AXIS_CAMERA, 1)
    assert term.valid.sum() == n                                  # the axis crosses every cell once
    energy = drc_mask_loss(term, torch.zeros(1, 1), bg_weight=1.0)   # a background ray: s = 1
    assert float(energy.detach()) == pytest.approx(1 - (1 - x) ** n, abs=1e-14)
    energy.backward()
    assert torch.allclose(occ.grad, torch.full_like(occ, (1 - x) ** (n - 1)), atol=1e-14)


def test_single_solid_cell_depth_cost_is_exact_with_no_gradient_behind():
    n, k, d_r = 9, 4, 2.95
    occ = torch.zeros(n, dtype=torch.float64)
    # the column's cell k along -z from the eye at z = 3: cells are listed front to back, cell
    # index n - 1 - k in z order is the k-th crossed; its entry face is at z = 0.5 - k / n
    occ[n - 1 - k] = 1.0
    occ.requires_grad_()
    term = termination(column(n, occ), AXIS_CAMERA, 1)
    d_k = 3.0 - (0.5 - k / n)
    energy = drc_depth_loss(term, torch.full((1, 1), d_r, dtype=torch.float64))   # view depth = distance here
    assert float(energy.detach()) == pytest.approx(abs(d_k - d_r), abs=1e-12)
    energy.backward()
    behind = occ.grad[: n - 1 - k]                                # z below the solid cell: farther away
    assert torch.equal(behind, torch.zeros_like(behind))
    in_front = occ.grad[n - k:]
    # stopping earlier at cell i instead: dE/dx_i = psi_i - psi_k = |d_i - d_r| - |d_k - d_r|
    d_front = 3.0 - (0.5 - torch.arange(k, dtype=torch.float64) / n)
    assert torch.allclose(in_front.flip(0), (d_front - d_r).abs() - abs(d_k - d_r), atol=1e-12)


def drc_reverse_sum_gradient(p: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
    """DRC's rayPotGeom.c gradient for one ray: p (N,) empty probabilities, psi (N + 1,) costs
    -> dE/dp_k = [sum_{i>=k} (psi_{i+1} - psi_i) P_i] / p_k, written as loops (no autograd)."""
    n = len(p)
    passed = torch.cumprod(p, 0)
    terms = [(psi[i + 1] - psi[i]) * passed[i] for i in range(n)]
    grad = torch.zeros(n, dtype=p.dtype)
    running = 0.0
    for k in range(n - 1, -1, -1):
        running = running + terms[k]
        grad[k] = running / p[k] if p[k] != 0 else 0.0
    return grad


def test_autograd_equals_drc_reverse_sum_on_a_random_grid():
    gen = torch.Generator().manual_seed(3)
    occ = (0.05 + 0.9 * torch.rand(6, 7, 5, generator=gen, dtype=torch.float64)).requires_grad_()
    camera = OrbitCamera(azimuth=37.0, elevation=24.0, distance=2.2)
    term = termination(VoxelGrid(occupancy=occ), camera, 24)
    psi = torch.rand(term.q.shape, generator=gen, dtype=torch.float64)
    psi_escape = torch.rand(term.escape.shape, generator=gen, dtype=torch.float64)
    event_cost(term, psi, psi_escape).sum().backward()
    expected = torch.zeros(occ.numel(), dtype=torch.float64)
    segs = term.segments
    counts = term.valid.sum(1)
    assert int(counts.min()) >= 1 and len(counts) > 150
    for r in range(len(counts)):
        n = int(counts[r])
        cells = segs.cell[segs.slot[r, :n]]
        p = 1 - occ.detach().reshape(-1)[cells]
        costs = torch.cat([psi[r, :n], psi_escape[r:r + 1]])
        expected.index_add_(0, cells, -drc_reverse_sum_gradient(p, costs))   # dx = -dp
    assert torch.allclose(occ.grad.reshape(-1), expected, atol=1e-13, rtol=0)


def test_q_equals_the_emission_absorption_weights():
    gen = torch.Generator().manual_seed(5)
    occ = torch.rand(8, 8, 8, generator=gen, dtype=torch.float64)
    term = termination(VoxelGrid(occupancy=occ), OrbitCamera(azimuth=-50.0, elevation=35.0, distance=2.0), 16)
    weights, _, opacity = emission_absorption(term.x)
    assert (weights - term.q).abs().max() < 1e-9
    assert torch.allclose(opacity, 1 - term.escape, atol=1e-12)
    assert torch.allclose(term.q.sum(1) + term.escape, torch.ones_like(term.escape), atol=1e-12)


def test_traversal_matches_dense_sampling_along_the_rays():
    """Each ray's cell list equals the distinct cells met by 20000 points along its chord, and
    the entry and exit t of each cell bracket the samples in it."""
    grid = VoxelGrid(occupancy=torch.zeros(5, 4, 6, dtype=torch.float64), lo=(-0.6, -0.4, -0.5), hi=(0.4, 0.5, 0.7))
    eye, dirs = pixel_rays(OrbitCamera(azimuth=23.0, elevation=-31.0, distance=2.0), 9)
    segs = traverse(eye, dirs, grid.lo, grid.hi, grid.shape, 9)
    h = grid.cell_size
    for r in range(0, len(segs.ray), 3):
        lanes = segs.slot[r][segs.slot[r] < segs.num_segments]
        t_in, t_out = segs.t_in[lanes], segs.t_out[lanes]
        t = torch.linspace(float(t_in[0]), float(t_out[-1]), 20000, dtype=torch.float64)[1:-1]
        pts = eye + t[:, None] * segs.ray_dir[r]
        ijk = torch.floor((pts - grid.lo) / h).long()
        flat = (ijk[:, 0] * 4 + ijk[:, 1]) * 6 + ijk[:, 2]
        order = torch.unique_consecutive(flat)
        assert order.tolist() == segs.cell[lanes].tolist()
        assert torch.all(t_out[:-1] == t_in[1:])


def test_images_have_gradients_for_every_cell_and_colour():
    """float64 gradcheck of rgb, alpha and depth w.r.t. occupancies and colours (tiny grid)."""
    gen = torch.Generator().manual_seed(1)
    occ = (0.1 + 0.8 * torch.rand(3, 3, 3, generator=gen, dtype=torch.float64)).requires_grad_()
    colors = torch.rand(3, 3, 3, 3, generator=gen, dtype=torch.float64).requires_grad_()
    scene = dr.Scene.default(VoxelGrid(occupancy=occ.detach(), colors=colors.detach()), image_size=5,
                             lighting="phong").with_camera(azimuth=20.0, elevation=30.0, distance=2.0)

    def images(o, c):
        out = dr.render(scene.replace(shape=VoxelGrid(occupancy=o, colors=c)), "drc")
        return out["rgb"], out["alpha"], out["depth"]

    assert torch.autograd.gradcheck(images, (occ, colors), eps=1e-6, atol=1e-7)
    _, alpha, _ = images(occ, colors)
    alpha.sum().backward()
    # d alpha / d x_k = prod_{j != k} (1 - x_j) > 0 on every ray crossing k: positive exactly on
    # the crossed cells
    crossed = torch.zeros(27, dtype=torch.bool)
    crossed[termination(scene.shape, scene.camera, 5).segments.cell] = True
    assert crossed.sum() > 15
    assert torch.equal(occ.grad.reshape(-1) > 0, crossed)


def test_drc_mask_loss_reads_alpha_of_a_render():
    scene = dr.Scene.default(VoxelGrid(occupancy=torch.full((4, 4, 4), 0.3)), image_size=8)
    out = dr.render(scene)
    target = torch.zeros(8, 8)
    target[2:6, 2:6] = 1
    s = (target < 0.5).float()
    alpha = out["alpha"]
    expected = ((0.2 * s + (1 - s)) * (s * alpha + (1 - s) * (1 - alpha))).mean()
    assert math.isclose(float(drc_mask_loss(out, target)), float(expected), rel_tol=1e-6)
    assert math.isclose(float(drc_mask_loss(termination(scene.shape, scene.camera, 8), target)),
                        float(expected), rel_tol=1e-6)
