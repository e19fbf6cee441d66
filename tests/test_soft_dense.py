"""The sparse tiled renderers against a naive dense reference, and gradcheck."""
from __future__ import annotations

import pytest
import torch

from renderer import Mesh
from renderer.rendering import render
from tests.dense_reference import dense_dibr_alpha, dense_softras
from tests.scenes import small_scene


@pytest.mark.parametrize("lighting", ["none", "lambertian", "phong", "sh"])
@pytest.mark.parametrize("sigma,gamma,double_sided", [(1e-2, 1e-2, False), (3e-3, 1e-4, True), (1e-4, 1e-1, False)])
def test_softras_forward_matches_dense(lighting, sigma, gamma, double_sided):
    scene = small_scene("softras", lighting, size=16, sigma=sigma, gamma=gamma, double_sided=double_sided)
    out = render(scene)
    rgb_ref, alpha_ref = dense_softras(scene)
    assert torch.allclose(out["alpha"], alpha_ref, rtol=1e-5, atol=1e-9)
    assert torch.allclose(out["rgb"], rgb_ref, rtol=1e-5, atol=1e-9)
    assert 0.05 < out["alpha"].mean() < 0.95   # the scene really covers part of the image


@pytest.mark.parametrize("double_sided", [False, True])
def test_softras_backward_matches_dense(double_sided):
    scene = small_scene("softras", "phong", size=16, sigma=5e-3, gamma=3e-2, double_sided=double_sided)
    verts = scene.mesh.verts.clone().requires_grad_()
    colors = scene.mesh.colors.clone().requires_grad_()
    azim = scene.camera.azimuth.clone().requires_grad_()
    scene = scene.replace(shape=Mesh(verts=verts, faces=scene.mesh.faces, colors=colors),
                          camera=scene.camera.replace(azimuth=azim))
    weights = torch.rand(16, 16, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def loss(rgb, alpha):
        return (rgb * weights[..., :3]).sum() + (alpha * weights[..., 3]).sum()

    out = render(scene)
    g = torch.autograd.grad(loss(out["rgb"], out["alpha"]), [verts, colors, azim])
    ref = torch.autograd.grad(loss(*dense_softras(scene)), [verts, colors, azim])
    for a, b in zip(g, ref):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-8), (a, b)
        assert a.abs().max() > 0


def test_dibr_alpha_matches_dense():
    scene = small_scene("dibr", "phong", size=16, dibr_delta=2e-3)
    assert torch.allclose(render(scene)["alpha"], dense_dibr_alpha(scene), rtol=1e-5, atol=1e-9)


def _gradcheck_scene(kind, **settings):
    base = small_scene(kind, "phong", size=8, **settings)

    def fn(verts, colors, azimuth, elevation):
        scene = base.replace(shape=Mesh(verts=verts, faces=base.mesh.faces, colors=colors),
                             camera=base.camera.replace(azimuth=azimuth, elevation=elevation))
        out = render(scene)
        return out["rgb"], out["alpha"]

    inputs = (base.mesh.verts.clone().requires_grad_(), base.mesh.colors.clone().requires_grad_(),
              base.camera.azimuth.clone().requires_grad_(), base.camera.elevation.clone().requires_grad_())
    return fn, inputs


def test_gradcheck_softras():
    fn, inputs = _gradcheck_scene("softras", sigma=1e-2, gamma=1e-2)
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


def test_gradcheck_dibr():
    fn, inputs = _gradcheck_scene("dibr", dibr_delta=1e-2)
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", ["softras", "dibr"])
def test_chunked_checkpointed_path_matches_dense(monkeypatch, kind):
    """Large renders split faces into chunks merged by an online softmax and recomputed in
    backward; force that path on a small scene and compare with the dense reference."""
    import renderer.soft.dibr as dibr
    import renderer.soft.softras as softras
    import renderer.soft.tiles as tiles

    monkeypatch.setattr(tiles, "CHUNK_ELEMENTS", 64)          # about one face per chunk
    monkeypatch.setattr(softras, "CHECKPOINT_ABOVE", 0)
    monkeypatch.setattr(dibr, "CHECKPOINT_ABOVE", 0)
    scene = small_scene(kind, "phong", size=16, sigma=5e-3, gamma=3e-2, dibr_delta=2e-3)
    verts = scene.mesh.verts.clone().requires_grad_()
    scene = scene.replace(shape=Mesh(verts=verts, faces=scene.mesh.faces, colors=scene.mesh.colors))
    out = render(scene)
    if kind == "softras":
        rgb_ref, alpha_ref = dense_softras(scene)
        assert torch.allclose(out["rgb"], rgb_ref, rtol=1e-5, atol=1e-9)
        loss, loss_ref = out["rgb"].sum() + out["alpha"].sum(), rgb_ref.sum() + alpha_ref.sum()
    else:
        alpha_ref = dense_dibr_alpha(scene)
        loss, loss_ref = out["alpha"].sum(), alpha_ref.sum()
    assert torch.allclose(out["alpha"], alpha_ref, rtol=1e-5, atol=1e-9)
    g, = torch.autograd.grad(loss, verts)
    g_ref, = torch.autograd.grad(loss_ref, verts)
    assert torch.allclose(g, g_ref, rtol=1e-5, atol=1e-8) and g.abs().max() > 0


def test_tile_geometry_hand_derivatives_match_autograd():
    """The tiles' hand-written backward and forward-mode derivatives of (d2, barycentrics)
    against torch's own, on random triangles of both windings, pixels inside and out."""
    from renderer.soft.geometry import derived_rows, pair_geometry, tile_pair_geometry

    g = torch.Generator().manual_seed(3)
    corners = (torch.rand(6, 5, 1, 1, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_()
    t = torch.linspace(-1.2, 1.2, 7, dtype=torch.float64)
    px, py = t.reshape(1, 1, 7).expand(5, 1, 7), t.reshape(1, 7, 1).expand(5, 7, 1)

    def tiles(c):
        d2, _, bary = tile_pair_geometry(px, py, torch.cat([c, derived_rows(c)]))
        return d2, bary

    def reference(c):
        d2, _, bary = pair_geometry(px, py, torch.cat([c, derived_rows(c)]))
        return d2, bary

    for a, b in zip(tiles(corners), reference(corners)):
        assert torch.equal(a, b)
    u = [torch.rand(5, 7, 7, generator=g, dtype=torch.float64), torch.rand(3, 5, 7, 7, generator=g, dtype=torch.float64)]
    ga = torch.autograd.grad(tiles(corners), corners, u)[0]
    gb = torch.autograd.grad(reference(corners), corners, u)[0]
    assert torch.allclose(ga, gb, rtol=1e-9, atol=1e-12) and ga.abs().max() > 0
    assert torch.autograd.gradcheck(tiles, (corners,), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(tiles, (corners,))


@pytest.mark.parametrize("lighting", ["phong", "sh"])
def test_weight_floor_is_exact_to_its_dropped_weight(lighting):
    """SoftRas shades only pairs whose normalised colour weight reaches settings.weight_floor and
    renormalises over them: against the dense reference, each pixel is off by at most
    dropped_weight * max|C_j - I| (colours here lie in [0, 2]); a floor of 0 is exact."""
    base = small_scene("softras", lighting, size=16, sigma=1e-2, gamma=3e-2, double_sided=True)
    rgb_ref, _ = dense_softras(base)
    exact = render(base.with_settings(weight_floor=0.0))
    assert torch.allclose(exact["rgb"], rgb_ref, rtol=1e-5, atol=1e-9)
    assert float(exact["dropped_weight"].max()) == 0.0
    for floor in (1e-3, 3e-2):
        out = render(base.with_settings(weight_floor=floor))
        dropped = out["dropped_weight"]
        assert float(dropped.max()) > 0 and int(out["num_shaded"]) < int(exact["num_shaded"])
        err = (out["rgb"] - rgb_ref).abs().amax(-1)
        assert bool((err <= 2 * dropped + 1e-9).all()), float((err - 2 * dropped).max())
    # the gradient of the pruned render points the way the exact one does
    verts = base.mesh.verts.clone().requires_grad_()
    grads = []
    for floor in (0.0, 1e-3):
        scene = base.with_settings(weight_floor=floor).replace(shape=base.mesh.with_verts(verts))
        grads.append(torch.autograd.grad(render(scene)["rgb"].sum(), verts)[0].flatten())
    assert torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0) > 0.999
