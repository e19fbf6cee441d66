"""Losses and regularizers against their stated formulas; the parameter registry."""
from __future__ import annotations

import math

import pytest
import torch

from renderer import Mesh
from renderer.analysis import losses as L
from renderer.analysis.params import (FIXED_PARAMS, group_value, light_angles, param_value,
                                      parse_param, with_param, with_params)
from tests.scenes import small_scene


def grid_mesh(n: int = 4, bump: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """An n x n vertex grid in the z = 0 plane (centre vertex raised by ``bump``)."""
    ys, xs = torch.meshgrid(torch.arange(n, dtype=torch.float64), torch.arange(n, dtype=torch.float64), indexing="ij")
    verts = torch.stack([xs.reshape(-1), ys.reshape(-1), torch.zeros(n * n, dtype=torch.float64)], 1)
    verts[(n // 2) * n + n // 2, 2] = bump
    faces = []
    for r in range(n - 1):
        for c in range(n - 1):
            a, b, d, e = r * n + c, r * n + c + 1, (r + 1) * n + c, (r + 1) * n + c + 1
            faces += [[a, b, e], [a, e, d]]
    return verts, torch.tensor(faces)


def test_silhouette_losses_formulas():
    a = torch.tensor([[1.0, 0.5], [0.0, 0.25]], dtype=torch.float64)
    t = torch.tensor([[1.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    inter, union = 1.0 + 0.5, (1 + 1 - 1) + (0.5 + 1 - 0.5) + 0 + 0.25
    assert float(L.silhouette_iou_loss(a, t)) == pytest.approx(1 - inter / (union + L.IOU_EPS))
    assert float(L.silhouette_iou_loss(t, t)) == pytest.approx(0.0, abs=1e-6)
    assert float(L.silhouette_iou_loss(t, 1 - t)) == pytest.approx(1.0)
    assert float(L.silhouette_mse_loss(a, t)) == pytest.approx((0 + 0.25 + 0 + 0.0625) / 4)


def test_photometric_losses_formulas():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(4, 4, 3, generator=g), torch.rand(4, 4, 3, generator=g)
    assert float(L.photometric_l1_loss(x, y)) == pytest.approx(float((x - y).abs().mean()))
    assert float(L.photometric_l2_loss(x, y)) == pytest.approx(float(((x - y) ** 2).mean()))
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[0, 0] = True
    assert float(L.photometric_l1_loss(x, y, mask)) == pytest.approx(float((x[0, 0] - y[0, 0]).abs().mean()))
    with pytest.raises(ValueError, match="unknown loss"):
        L.get_loss("l3")


def test_regularizers_zero_on_flat_grid_and_positive_on_bump():
    verts, faces = grid_mesh(5)
    assert float(L.flatten_loss(verts, faces)) == pytest.approx(0.0, abs=1e-12)
    assert float(L.normal_consistency_loss(verts, faces)) == pytest.approx(0.0, abs=1e-12)
    bumped, _ = grid_mesh(5, bump=0.7)
    for fn in (L.flatten_loss, L.normal_consistency_loss, L.uniform_laplacian_loss):
        value = fn(bumped, faces)
        assert float(value) > float(fn(verts, faces)) + 1e-4
    # gradients exist and are finite
    v = bumped.clone().requires_grad_()
    total = sum(fn(v, faces) for fn in L.REGULARIZERS.values())
    (g,) = torch.autograd.grad(total, v)
    assert torch.isfinite(g).all() and g.abs().max() > 0


def test_laplacian_and_edge_formulas_by_hand():
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 2, 0]], dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2]])
    # each vertex's neighbours are the other two
    lap = [verts[i] - (verts.sum(0) - verts[i]) / 2 for i in range(3)]
    assert float(L.uniform_laplacian_loss(verts, faces)) == pytest.approx(float(sum((d * d).sum() for d in lap) / 3))
    assert float(L.edge_length_loss(verts, faces)) == pytest.approx((1 + 4 + 5) / 3)
    assert float(L.edge_length_loss(verts, faces, 1.0)) == pytest.approx(
        ((1 - 1) ** 2 + (2 - 1) ** 2 + (math.sqrt(5) - 1) ** 2) / 3)


def test_flatten_loss_folded_pair():
    # two triangles sharing edge (0, 1): coplanar -> 0; folded onto each other -> (1 + 1)^2 = 4
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0.5, 1, 0], [0.5, -1, 0]], dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2], [1, 0, 3]])
    assert float(L.flatten_loss(verts, faces)) == pytest.approx(0.0, abs=1e-12)
    folded = verts.clone()
    folded[3] = torch.tensor([0.5, 1.0, 0.0], dtype=torch.float64)
    assert float(L.flatten_loss(folded, faces)) == pytest.approx(4.0)
    right = verts.clone()
    right[3] = torch.tensor([0.5, 0.0, 1.0], dtype=torch.float64)   # 90 degree hinge: cos 0 -> 1
    assert float(L.flatten_loss(right, faces)) == pytest.approx(1.0)


def test_interior_edges_and_weld():
    _, faces = grid_mesh(3)
    edge, opposite, adjacent = L.interior_edges(faces)
    assert edge.shape[0] == 8 and (adjacent[:, 0] != adjacent[:, 1]).all()
    mesh = Mesh(verts=torch.zeros(4, 3), faces=torch.tensor([[0, 1, 2], [3, 2, 1]]), weld=torch.tensor([0, 1, 2, 0]))
    assert L.topology_faces(mesh).tolist() == [[0, 1, 2], [0, 2, 1]]


def test_param_registry_roundtrip():
    scene = small_scene("softras", "phong", size=8)
    assert set(FIXED_PARAMS) >= {"azimuth", "elevation", "distance", "fov", "light_azimuth",
                                 "light_elevation", "ka", "kd", "ks", "shininess", "sh0_r", "sh8_b"}
    az, el = light_angles(scene.lights.directions[0])
    assert (float(az), float(el)) == pytest.approx((40.0, 30.0))
    assert param_value(scene, "light_azimuth") == pytest.approx(40.0)
    moved = with_params(scene, {"azimuth": 33.0, "light_elevation": 10.0, "ks": 0.7, "vertex:3:y": 0.25})
    assert param_value(moved, "azimuth") == pytest.approx(33.0)
    assert param_value(moved, "light_elevation") == pytest.approx(10.0)
    assert param_value(moved, "light_azimuth") == pytest.approx(40.0)
    assert float(moved.material.ks) == pytest.approx(0.7)
    assert float(moved.mesh.verts[3, 1]) == pytest.approx(0.25)
    assert float(scene.mesh.verts[3, 1]) != pytest.approx(0.25)          # the original is untouched
    assert group_value(with_param(scene, "sh4_g", 2.0), "sh")[4, 1] == pytest.approx(2.0)
    for bad in ("azimut", "vertex:99:x", "vertex:1:w"):
        with pytest.raises(ValueError):
            parse_param(bad, scene)


def test_l1_ssim_is_3dgs_loss():
    from renderer.analysis.losses import Target, get_loss, ssim

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(24, 24, 3, generator=gen, dtype=torch.float64)
    y = (x + 0.2 * torch.rand(24, 24, 3, generator=gen, dtype=torch.float64)).clamp(0, 1)
    assert float(ssim(x, x)) == pytest.approx(1.0, abs=1e-12)          # identical images
    assert float(ssim(x, y)) == pytest.approx(float(ssim(y, x)), abs=1e-12) and float(ssim(x, y)) < 0.99
    # away from the zero-padded border, two constant images have SSIM (2ab + C1) / (a^2 + b^2 + C1)
    a, b, c1 = 0.3, 0.7, 0.01 ** 2
    big_a, big_b = torch.full((200, 200, 3), a, dtype=torch.float64), torch.full((200, 200, 3), b, dtype=torch.float64)
    assert float(ssim(big_a, big_b)) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=0.03)
    alpha = torch.ones(24, 24, dtype=torch.float64)
    value = float(get_loss("l1-ssim")(x, alpha, Target(y, alpha)))
    assert value == pytest.approx(0.8 * float((x - y).abs().mean()) + 0.2 * (1 - float(ssim(x, y))), rel=1e-12)
