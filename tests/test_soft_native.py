"""SoftRas's C kernels (renderer/native/softras_impl.h, ``soft.softras_native``) against the torch
tile path (``DRD_NATIVE=0``): the same images and, in float64, the same gradients to 1e-10, for
every lighting model, double-sided rendering, vertex colours and textures; double backward; the
fallback when the pair record would be too large; and finite differences (gradcheck)."""
from __future__ import annotations

import shutil

import pytest
import torch

import renderer.soft.softras as softras
import renderer.soft.softras_native as softras_native
from renderer import Mesh, native
from renderer.rendering import render
from tests.scenes import small_scene, textured as with_texture

pytestmark = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                                reason="no C compiler: the renderer runs its torch path")

IMAGES = ("rgb", "alpha", "depth", "bg_weight", "dropped_weight")


def test_kernels_compile_here():
    """With a compiler present the kernels must build (else every test below compares torch to
    itself)."""
    assert native.library("softras") is not None, native.unavailable.get("softras")


def _render_and_grads(base, weights, create_graph=False):
    """Images and dL/d(verts, azimuth, light colours[, vertex colours]) of a weighted-sum loss."""
    verts = base.mesh.verts.clone().requires_grad_()
    azim = base.camera.azimuth.clone().requires_grad_()
    lights = base.lights.replace(colors=base.lights.colors.to(verts.dtype).clone().requires_grad_())
    leaves = [verts, azim, lights.colors]
    if base.mesh.colors is not None:
        colors = base.mesh.colors.clone().requires_grad_()
        mesh = Mesh(verts=verts, faces=base.mesh.faces, colors=colors)
        leaves.append(colors)
    else:
        mesh = base.mesh.with_verts(verts)
    scene = base.replace(shape=mesh, camera=base.camera.replace(azimuth=azim), lights=lights)
    out = render(scene)
    loss = (out["rgb"] * weights[..., :3]).sum() + (out["alpha"] * weights[..., 3]).sum()
    grads = torch.autograd.grad(loss, leaves, create_graph=create_graph, allow_unused=True)
    # the sh model reads no light colours
    return out, [torch.zeros_like(leaf) if g is None else g for g, leaf in zip(grads, leaves)], leaves


@pytest.mark.parametrize("lighting,double_sided,textured,floor", [
    ("phong", False, False, 1e-5), ("phong", True, True, 0.0), ("sh", True, False, 1e-3),
    ("none", False, True, 1e-5), ("lambertian", False, False, 0.2)])
def test_native_equals_torch_path(monkeypatch, lighting, double_sided, textured, floor):
    base = small_scene("softras", lighting, size=16, sigma=5e-3, gamma=3e-2, double_sided=double_sided,
                       weight_floor=floor)
    if textured:
        base = with_texture(base)
    weights = torch.rand(16, 16, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    calls = []
    real = softras_native._SoftPairsFunction.forward
    monkeypatch.setattr(softras_native._SoftPairsFunction, "forward",
                        staticmethod(lambda *a: calls.append(1) or real(*a)))
    out_native, g_native, _ = _render_and_grads(base, weights)
    assert calls, "the native path was not taken"
    monkeypatch.setenv("DRD_NATIVE", "0")
    out_torch, g_torch, _ = _render_and_grads(base, weights)
    assert len(calls) == 1
    for name in IMAGES:
        assert torch.allclose(out_native[name], out_torch[name], rtol=0, atol=1e-12), name
    assert int(out_native["num_pairs"]) == int(out_torch["num_pairs"])
    assert int(out_native["num_shaded"]) == int(out_torch["num_shaded"])
    assert 0.05 < out_native["alpha"].mean() < 0.95
    for a, b in zip(g_native, g_torch):
        assert a.abs().max() > 0 or lighting in ("sh", "none")   # light colours unused there
        assert torch.allclose(a, b, rtol=0, atol=1e-10 * max(1.0, b.abs().max().item())), (a - b).abs().max()


def test_native_float32_close_to_torch_path(monkeypatch):
    """float32: both paths round differently (a few ulp) but agree closely at a moderate gamma."""
    base = small_scene("softras", "phong", size=24, dtype=torch.float32, sigma=1e-3, gamma=1e-2)
    base = base.replace(shape=Mesh(verts=base.mesh.verts.float(), faces=base.mesh.faces,
                                   colors=base.mesh.colors.float()))
    weights = torch.rand(24, 24, 4, generator=torch.Generator().manual_seed(2))
    out_native, g_native, _ = _render_and_grads(base, weights)
    monkeypatch.setenv("DRD_NATIVE", "0")
    out_torch, g_torch, _ = _render_and_grads(base, weights)
    assert (out_native["rgb"] - out_torch["rgb"]).abs().max() < 1e-5
    assert (out_native["alpha"] - out_torch["alpha"]).abs().max() < 1e-6
    for a, b in zip(g_native, g_torch):
        assert (a - b).abs().max() < 1e-4 * b.abs().max()


def test_double_backward_matches_torch_path(monkeypatch):
    """create_graph through the native nodes recomputes through torch: a Hessian-vector product
    of the loss w.r.t. the vertices equals the torch path's."""
    base = small_scene("softras", "phong", size=12, sigma=5e-3, gamma=3e-2)
    weights = torch.rand(12, 12, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    v = torch.randn(base.mesh.verts.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(4))

    def hvp():
        _, grads, leaves = _render_and_grads(base, weights, create_graph=True)
        (h,) = torch.autograd.grad((grads[0] * v).sum(), leaves[0])
        return h

    h_native = hvp()
    monkeypatch.setenv("DRD_NATIVE", "0")
    h_torch = hvp()
    assert h_torch.abs().max() > 0
    assert torch.allclose(h_native, h_torch, rtol=0, atol=1e-9 * h_torch.abs().max().item())


def test_large_renders_take_the_torch_path(monkeypatch):
    """Above MAX_RECORDED_PAIRS the render takes the chunked torch path, with the same result."""
    base = small_scene("softras", "phong", size=16, sigma=5e-3, gamma=3e-2)
    weights = torch.rand(16, 16, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out_native, g_native, _ = _render_and_grads(base, weights)
    monkeypatch.setattr(softras, "MAX_RECORDED_PAIRS", 10)
    monkeypatch.setattr(softras_native._SoftPairsFunction, "forward", None)   # must not be called
    out_torch, g_torch, _ = _render_and_grads(base, weights)
    assert torch.allclose(out_native["rgb"], out_torch["rgb"], rtol=0, atol=1e-12)
    for a, b in zip(g_native, g_torch):
        assert torch.allclose(a, b, rtol=0, atol=1e-10 * max(1.0, b.abs().max().item()))


def test_native_gradcheck():
    """Finite differences of the native render (float64, a smooth setting) agree with its
    backward."""
    base = small_scene("softras", "phong", size=8, sigma=2e-2, gamma=5e-2, weight_floor=0.0)

    def image(verts):
        out = render(base.replace(shape=base.mesh.with_verts(verts)))
        return torch.cat([out["rgb"].reshape(-1), out["alpha"].reshape(-1)])

    verts = base.mesh.verts.clone().requires_grad_()
    assert torch.autograd.gradcheck(image, (verts,), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_silhouette_fast_path_native_equals_torch_path(monkeypatch):
    """The silhouette-only render (every face, back faces included) through the kernel."""
    from renderer.soft.silhouette import render_silhouette

    base = small_scene("softras", "phong", size=16, sigma=5e-3, gamma=3e-2)
    weights = torch.rand(16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(6))

    def alpha_and_grad():
        verts = base.mesh.verts.clone().requires_grad_()
        alpha = render_silhouette(base.replace(shape=base.mesh.with_verts(verts)))["alpha"]
        return alpha, torch.autograd.grad((alpha * weights).sum(), verts)[0]

    a_native, g_native = alpha_and_grad()
    monkeypatch.setenv("DRD_NATIVE", "0")
    a_torch, g_torch = alpha_and_grad()
    assert 0.05 < a_torch.mean() < 0.95
    assert torch.allclose(a_native, a_torch, rtol=0, atol=1e-13)
    assert torch.allclose(g_native, g_torch, rtol=0, atol=1e-10 * g_torch.abs().max().item())


def test_double_backward_with_only_shading_parameters(monkeypatch):
    """Derivative images of a lighting parameter by double backward: the geometry carries no
    gradient, only the colour table does; native and torch agree."""
    from renderer.analysis.derivatives import derivative_double_backward

    scene = small_scene("softras", "phong", size=12, sigma=5e-3, gamma=3e-2)
    _, native_d = derivative_double_backward(scene, "light_elevation")
    monkeypatch.setenv("DRD_NATIVE", "0")
    _, torch_d = derivative_double_backward(scene, "light_elevation")
    assert torch_d.abs().max() > 0
    assert torch.allclose(native_d, torch_d, rtol=0, atol=1e-10 * torch_d.abs().max().item())
