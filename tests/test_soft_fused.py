"""SoftRas's fused nodes (``soft_pairs._CoverageTile``, ``common.gather_sorted``) against plain
autograd: the same values and, in float64, the same gradients to 1e-10, and gradcheck."""
from __future__ import annotations

import pytest
import torch

import renderer.soft.soft_pairs as soft_pairs
from renderer import Mesh
from renderer.rendering import render
from renderer.soft.common import gather_sorted
from renderer.soft.geometry import derived_rows
from renderer.soft.tiles import TileChunk
from tests.scenes import small_scene, textured as with_texture


def _chunk_and_geo(seed: int = 5, faces: int = 4, size: int = 9, image: int = 12):
    """A chunk of random faces of both windings over one (size x size) tile, and its geo rows
    (21, Fg) with random positive corner depths."""
    g = torch.Generator().manual_seed(seed)
    corners = (torch.rand(6, faces, generator=g, dtype=torch.float64) * 1.6 - 0.8)
    zc = torch.rand(3, faces, generator=g, dtype=torch.float64) + 1.0
    chunk = TileChunk(faces=torch.arange(faces), c0=torch.tensor([0, 2, 3, 1][:faces]),
                      r0=torch.tensor([1, 0, 3, 2][:faces]), w=torch.full((faces,), size - 1),
                      h=torch.full((faces,), size), size=size)
    return chunk, corners, zc, image


def _geo(corners, zc):
    return torch.cat([corners, derived_rows(corners), zc])


@pytest.mark.parametrize("sigma", [1e-3, 3e-2])
def test_coverage_tile_equals_autograd_path(sigma):
    """Values equal; dL/dcorners from the hand-written backward equals autograd's to 1e-10 for
    random upstream gradients on both outputs (log(1 - D) per pixel and the logit x)."""
    chunk, corners, zc, image = _chunk_and_geo()
    corners = corners.requires_grad_()
    g = torch.Generator().manual_seed(7)
    fused = soft_pairs.soft_tile(chunk, _geo(corners, zc), image, sigma, fused=True)
    plain = soft_pairs.soft_tile(chunk, _geo(corners, zc), image, sigma, fused=False)
    n = image * image + 1
    assert torch.equal(fused.keep, plain.keep) and fused.keep.any() and not fused.keep.all()
    assert torch.allclose(fused.x, plain.x, rtol=0, atol=1e-12)
    assert torch.allclose(fused.log_uncovered(n), plain.log_uncovered(n), rtol=0, atol=1e-12)
    assert torch.allclose(fused.bary, plain.bary.detach(), rtol=0, atol=1e-12)
    u_log = torch.rand(n, generator=g, dtype=torch.float64)
    u_x = torch.rand(fused.x.shape, generator=g, dtype=torch.float64) * fused.keep
    for which in ("log", "x", "both"):
        upstream = {"log": [u_log], "x": [u_x], "both": [u_log, u_x]}[which]

        def outs(tile):
            return {"log": [tile.log_uncovered(n)], "x": [tile.x], "both": [tile.log_uncovered(n), tile.x]}[which]

        fused = soft_pairs.soft_tile(chunk, _geo(corners, zc), image, sigma, fused=True)
        plain = soft_pairs.soft_tile(chunk, _geo(corners, zc), image, sigma, fused=False)
        (ga,) = torch.autograd.grad(outs(fused), corners, upstream)
        (gb,) = torch.autograd.grad(outs(plain), corners, upstream)
        assert ga.abs().max() > 0
        assert torch.allclose(ga, gb, rtol=0, atol=1e-10 * max(1.0, gb.abs().max().item())), (ga - gb).abs().max()


def test_coverage_tile_gradcheck_and_double_backward():
    chunk, corners, zc, image = _chunk_and_geo(seed=11, faces=3, size=6, image=10)
    corners = corners.requires_grad_()
    n = image * image + 1

    def fn(c):
        tile = soft_pairs.soft_tile(chunk, _geo(c, zc), image, 5e-2, fused=True)
        return tile.log_uncovered(n), tile.x * tile.keep

    assert torch.autograd.gradcheck(fn, (corners,))
    assert torch.autograd.gradgradcheck(fn, (corners,))


def test_gather_sorted_gradcheck_and_forward_mode():
    g = torch.Generator().manual_seed(2)
    table = torch.rand(4, 6, generator=g, dtype=torch.float64).requires_grad_()
    index = torch.tensor([0, 0, 1, 3, 3, 3, 5])
    assert torch.equal(gather_sorted(table, index), table[:, index])
    u = torch.rand(4, 7, generator=g, dtype=torch.float64)
    (ga,) = torch.autograd.grad(gather_sorted(table, index), table, u)
    (gb,) = torch.autograd.grad(table[:, index], table, u)
    assert torch.allclose(ga, gb, rtol=0, atol=1e-14)
    assert torch.autograd.gradcheck(lambda t: gather_sorted(t, index), (table,), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(lambda t: gather_sorted(t, index), (table,))


@pytest.mark.parametrize("lighting,double_sided,textured", [
    ("phong", False, False), ("phong", True, True), ("sh", True, False), ("none", False, True)])
def test_softras_render_fused_backward_equals_autograd(monkeypatch, lighting, double_sided, textured):
    """The whole render in float64: dL/dV, dL/dcolours and dL/dazimuth with the fused node equal
    those with plain autograd (``soft_pairs.FUSED = False``) to 1e-10, and the images agree."""
    monkeypatch.setenv("DRD_NATIVE", "0")    # the torch tile path (test_soft_native.py compares the C one)
    base = small_scene("softras", lighting, size=16, sigma=5e-3, gamma=3e-2, double_sided=double_sided)
    if textured:
        base = with_texture(base)
    weights = torch.rand(16, 16, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def grads():
        verts = base.mesh.verts.clone().requires_grad_()
        azim = base.camera.azimuth.clone().requires_grad_()
        leaves = [verts, azim]
        mesh = base.mesh.with_verts(verts)
        if not textured:
            colors = base.mesh.colors.clone().requires_grad_()
            mesh = Mesh(verts=verts, faces=base.mesh.faces, colors=colors)
            leaves.append(colors)
        scene = base.replace(shape=mesh, camera=base.camera.replace(azimuth=azim))
        out = render(scene)
        loss = (out["rgb"] * weights[..., :3]).sum() + (out["alpha"] * weights[..., 3]).sum()
        return out, torch.autograd.grad(loss, leaves)

    out_fused, g_fused = grads()
    monkeypatch.setattr(soft_pairs, "FUSED", False)
    out_plain, g_plain = grads()
    assert torch.allclose(out_fused["rgb"], out_plain["rgb"], rtol=0, atol=1e-12)
    assert torch.allclose(out_fused["alpha"], out_plain["alpha"], rtol=0, atol=1e-12)
    assert 0.05 < out_fused["alpha"].mean() < 0.95
    for a, b in zip(g_fused, g_plain):
        assert a.abs().max() > 0
        assert torch.allclose(a, b, rtol=0, atol=1e-10 * max(1.0, b.abs().max().item())), (a - b).abs().max()
