"""NMR's edge sweep in C (renderer/native/nmr_sweep.c) against the torch path it replaces on the
CPU (``sweep.torch_sweep_gradient``): the same dL/d(face corners) on a real mesh render, float32
and float64, colour and silhouette, dense random loss gradients of both signs and one-signed
ones (the sign gating), a subset of faces, and the renderer's dL/dV with and without the kernel."""
from __future__ import annotations

import pytest
import torch

import renderer as dr
from renderer import native
from renderer.assets import load_asset
from renderer.nmr.sweep import COLOR_EPS, SILHOUETTE_EPS, sweep_gradient, torch_sweep_gradient
from renderer.nmr.sweep_native import native_sweep_gradient
from renderer.soft.project import project_mesh

TOLERANCE = {torch.float32: 1e-6, torch.float64: 1e-12}


@pytest.fixture(scope="module")
def kernel():
    if native.library("nmr_sweep") is None:
        pytest.skip(f"no C kernel: {native.unavailable.get('nmr_sweep', 'DRD_NATIVE=0')}")


def knot_scene(size: int = 40, **settings) -> dr.Scene:
    scene = dr.Scene.default(load_asset("knot"), image_size=size, renderer="nmr", **settings)
    return scene.with_camera(azimuth=30.0, elevation=20.0, distance=2.6)


@pytest.fixture(scope="module")
def fine_render():
    """The knot's hard render at 2x48 = 96 px (what NMR sweeps) and its NDC corners."""
    scene = knot_scene(48)
    with torch.no_grad():
        fine = dr.render(scene.with_settings(renderer="hard", image_size=96))
        tri = project_mesh(scene.mesh.verts, scene.mesh.faces, scene.camera).tri
    return fine, tri


def assert_same(got: torch.Tensor, expected: torch.Tensor) -> None:
    """Equal to the dtype's tolerance, relative to the largest entry (single entries are sums of
    many signed terms: their own relative error is not bounded in float32)."""
    assert got is not None, "the kernel was not used"
    scale = float(expected.abs().max())
    assert scale > 0 and int((expected != 0).sum()) > 100            # a real gradient, not 0 = 0
    tol = TOLERANCE[expected.dtype]
    torch.testing.assert_close(got, expected, rtol=tol, atol=tol * scale)


def _inputs(fine_render, channels: str, dtype: torch.dtype, grad: str):
    fine, tri = fine_render
    image = torch.cat([fine["rgb"], fine["alpha"][..., None]], -1) if channels == "color" else fine["alpha"][..., None]
    image = image.to(dtype)
    s = image.shape[0]
    gen = torch.Generator().manual_seed(7)
    if grad == "random":                      # both signs, every pixel
        g = torch.randn(s, s, image.shape[-1], generator=gen, dtype=dtype)
    elif grad == "brighter":                  # a loss that wants every pixel brighter: dL/dI < 0
        g = -torch.rand(s, s, image.shape[-1], generator=gen, dtype=dtype) - 0.1
    else:                                     # |I - shifted I|: the sign of a real loss
        target = torch.roll(image, shifts=(3, -2), dims=(0, 1))
        g = torch.sign(image - target)
    return tri.to(dtype), fine["face_id"], image, g


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("channels,eps", [("color", COLOR_EPS), ("silhouette", SILHOUETTE_EPS)])
@pytest.mark.parametrize("grad", ["random", "brighter", "shifted"])
def test_native_sweep_equals_the_torch_path(kernel, fine_render, dtype, channels, eps, grad):
    tri, face_map, image, g = _inputs(fine_render, channels, dtype, grad)
    expected = torch_sweep_gradient(tri, face_map, image, g, eps)
    got = native_sweep_gradient(tri, face_map, image, g, eps)
    assert_same(got, expected)
    assert got.dtype == dtype and got.shape == tri.shape


def test_eps_and_gating_are_the_kernels_own(kernel, fine_render):
    """eps moves the result (so a kernel ignoring it would fail the comparison above), and a loss
    that wants the background darker (dL/dI > 0 where I = 0, everywhere else 0) gets exactly
    nothing: every move the sweep considers would brighten those pixels."""
    tri, face_map, image, g = _inputs(fine_render, "silhouette", torch.float64, "random")
    a = native_sweep_gradient(tri, face_map, image, g, COLOR_EPS)
    b = native_sweep_gradient(tri, face_map, image, g, SILHOUETTE_EPS)
    assert float((a - b).abs().max()) > 1e-3 * float(a.abs().max())
    darker = (image == 0).to(image.dtype)
    assert torch.count_nonzero(native_sweep_gradient(tri, face_map, image, darker, SILHOUETTE_EPS)) == 0
    # the same loss sign inside the silhouette is a real gradient (the out runs reach in)
    inside = (image > 0).to(image.dtype)
    assert_same(native_sweep_gradient(tri, face_map, image, inside, SILHOUETTE_EPS),
                torch_sweep_gradient(tri, face_map, image, inside, SILHOUETTE_EPS))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_a_subset_of_faces(kernel, fine_render, dtype):
    """``faces``: only those faces are swept (unsorted, repeated ids allowed)."""
    tri, face_map, image, g = _inputs(fine_render, "color", dtype, "random")
    visible = torch.unique(face_map[face_map >= 0])
    faces = torch.cat([visible[::3].flip(0), visible[:5]])
    expected = torch_sweep_gradient(tri, face_map, image, g, COLOR_EPS, faces=faces)
    got = native_sweep_gradient(tri, face_map, image, g, COLOR_EPS, faces=faces)
    assert_same(got, expected)
    assert torch.count_nonzero(got[visible[7::3]]) == 0            # not swept


def test_published_gradients_through_the_kernel(kernel):
    """NMR's own test case (tests/test_nmr.py CASE_OUTSIDE) straight through the kernel."""
    from tests.test_nmr import CASE_OUTSIDE, S, raster_one_triangle

    verts, pixel, g, expected = CASE_OUTSIDE
    tri = torch.tensor([verts], dtype=torch.float64)
    face_map = raster_one_triangle(tri, S)
    alpha = (face_map >= 0).to(torch.float64)[..., None]
    grad = torch.zeros(S, S, 1, dtype=torch.float64)
    grad[pixel] = g
    got = native_sweep_gradient(tri, face_map, alpha, grad, SILHOUETTE_EPS)
    torch.testing.assert_close(got[0], torch.tensor(expected, dtype=torch.float64), rtol=1e-3, atol=1e-6)


def test_sweep_gradient_takes_the_kernel_unless_disabled(kernel, fine_render, monkeypatch):
    import renderer.nmr.sweep as sweep

    tri, face_map, image, g = _inputs(fine_render, "color", torch.float32, "random")
    calls = []
    monkeypatch.setattr(sweep, "torch_sweep_gradient", lambda *a, **k: calls.append(1) or torch_sweep_gradient(*a, **k))
    sweep_gradient(tri, face_map, image, g, COLOR_EPS)
    assert not calls
    monkeypatch.setenv("DRD_NATIVE", "0")
    assert native_sweep_gradient(tri, face_map, image, g, COLOR_EPS) is None
    sweep_gradient(tri, face_map, image, g, COLOR_EPS)
    assert calls


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_renderer_vertex_gradient_with_and_without_the_kernel(kernel, monkeypatch, dtype):
    """The nmr renderer's dL/dV (sweep and shading) is the same with DRD_NATIVE=0."""
    scene = knot_scene(32, lighting="phong")
    mesh = scene.mesh
    weight = torch.randn(32, 32, 3, generator=torch.Generator().manual_seed(5), dtype=dtype)
    grads = []
    for flag in ("1", "0"):
        monkeypatch.setenv("DRD_NATIVE", flag)
        verts = mesh.verts.to(dtype).clone().requires_grad_()
        out = dr.render(scene.replace(shape=mesh.with_verts(verts)))
        ((out["rgb"] * weight).sum() + out["alpha"].sum()).backward()
        grads.append(verts.grad)
    assert_same(grads[0], grads[1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_rgb_and_alpha_as_two_parts(kernel, fine_render, dtype):
    """What the renderer passes: rgb (S, S, 3) and alpha (S, S) with their gradients as separate
    tensors; the same as the sweep of the concatenated image."""
    from renderer.nmr.sweep import sweep_gradient_parts
    from renderer.nmr.sweep_native import native_sweep_parts

    fine, tri = fine_render
    rgb, alpha = fine["rgb"].to(dtype), fine["alpha"].to(dtype)
    gen = torch.Generator().manual_seed(11)
    g_rgb = torch.randn(rgb.shape, generator=gen, dtype=dtype)
    g_alpha = torch.randn(alpha.shape, generator=gen, dtype=dtype)
    expected = torch_sweep_gradient(tri.to(dtype), fine["face_id"], torch.cat([rgb, alpha[..., None]], -1),
                                    torch.cat([g_rgb, g_alpha[..., None]], -1), COLOR_EPS)
    got = native_sweep_parts(tri.to(dtype), fine["face_id"], [rgb, alpha], [g_rgb, g_alpha], COLOR_EPS)
    assert_same(got, expected)
    assert_same(sweep_gradient_parts(tri.to(dtype), fine["face_id"], [rgb, alpha[..., None]],
                                     [g_rgb, g_alpha[..., None]], COLOR_EPS), expected)


@pytest.mark.parametrize("s", [5, 9, 33, 70])
def test_image_sizes_that_are_not_whole_tiles(kernel, s):
    """The kernel gathers columns 32 at a time and sums blocks of 16 pixels: sizes that are not
    multiples of either (and smaller than one) give the torch path's numbers too, on the rows as
    well as the columns."""
    from tests.test_nmr import raster_one_triangle

    tri = torch.tensor([[(0.8, 0.8), (0.0, -0.5), (0.2, -0.4)]], dtype=torch.float64)
    face_map = raster_one_triangle(tri, s)
    alpha = (face_map >= 0).to(torch.float64)[..., None]
    grad = torch.randn(s, s, 1, generator=torch.Generator().manual_seed(s), dtype=torch.float64)
    expected = torch_sweep_gradient(tri, face_map, alpha, grad, SILHOUETTE_EPS)
    got = native_sweep_gradient(tri, face_map, alpha, grad, SILHOUETTE_EPS)
    assert torch.count_nonzero(expected[0, :, 0]) and torch.count_nonzero(expected[0, :, 1])   # rows, columns
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12 * float(expected.abs().max()))


def test_a_mesh_render_at_a_size_that_is_not_whole_tiles(kernel):
    scene = knot_scene(37)
    with torch.no_grad():
        fine = dr.render(scene.with_settings(renderer="hard", image_size=74))
        tri = project_mesh(scene.mesh.verts, scene.mesh.faces, scene.camera).tri
    image = torch.cat([fine["rgb"], fine["alpha"][..., None]], -1)
    grad = torch.randn(74, 74, 4, generator=torch.Generator().manual_seed(2))
    assert_same(native_sweep_gradient(tri, fine["face_id"], image, grad, COLOR_EPS),
                torch_sweep_gradient(tri, fine["face_id"], image, grad, COLOR_EPS))


@pytest.mark.parametrize("shape", [(6, 6, 3), (6, 6)])
def test_unpool_is_the_gradient_of_the_pool(shape):
    """The renderer's backward hands the fine images ``_unpool`` of the pooled images' gradient
    (its own, faster copy): autograd's gradient of the 2x2 mean."""
    from renderer.nmr.render import _pool, _unpool

    gen = torch.Generator().manual_seed(4)
    fine = torch.randn((12, 12, *shape[2:]), generator=gen, dtype=torch.float64, requires_grad=True)
    g = torch.randn(shape, generator=gen, dtype=torch.float64)
    (_pool(fine, 6) * g).sum().backward()
    torch.testing.assert_close(_unpool(g), fine.grad, rtol=0, atol=0)
