"""The NMR renderer: its edge-sweep backward against NMR's own published test gradients, the
loss-sign gating, the translation identity, and the renderer's wiring (forward = the hard render
at 2x averaged; vertex gradient = the sweep through the projection; no image derivative)."""
from __future__ import annotations

import pytest
import torch

import renderer as dr
from renderer.analysis.derivatives import derivative_image
from renderer.assets import load_asset
from renderer.camera import pixel_centre_ndc
from renderer.nmr.sweep import COLOR_EPS, SILHOUETTE_EPS, sweep_gradient
from renderer.registry import NoImageDerivativeError, check_image_derivative
from renderer.soft.project import project_mesh

S = 64


def raster_one_triangle(tri: torch.Tensor, s: int) -> torch.Tensor:
    """The orthographic fixture of NMR's tests: face map (s, s) of one NDC triangle (1, 3, 2),
    0 where the pixel centre is inside it (either winding), -1 elsewhere."""
    r, c = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
    x, y = pixel_centre_ndc(c.to(tri.dtype), r.to(tri.dtype), s)
    a, b, cc = tri[0]

    def edge(p, q):
        return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])

    w = torch.stack([edge(a, b), edge(b, cc), edge(cc, a)])
    return torch.where((w >= 0).all(0) | (w <= 0).all(0), 0, -1)


def silhouette_gradient(verts, pixel, g, eps=SILHOUETTE_EPS):
    """dL/d(corner x, y) of NMR's silhouette sweep for L with dL/dI = g at one pixel."""
    tri = torch.tensor([verts], dtype=torch.float64)
    face_map = raster_one_triangle(tri, S)
    alpha = (face_map >= 0).to(torch.float64)[..., None]
    grad = torch.zeros(S, S, 1, dtype=torch.float64)
    grad[pixel] = g
    return alpha, sweep_gradient(tri, face_map, alpha, grad, eps)[0]


# NMR tests/test_rasterize_silhouettes.py (both repositories): 64 px, orthographic, one triangle
CASE_OUTSIDE = ([(0.8, 0.8), (0.0, -0.5), (0.2, -0.4)], (25, 35), -1.0,     # loss |I - 1|
                [[1.6725862, -0.26021874], [1.41986704, -1.64284933], [0.0, 0.0]])
CASE_INSIDE = ([(0.8, 0.8), (-0.5, -0.8), (0.8, -0.8)], (40, 50), 1.0,      # loss |I|
               [[0.98646867, 1.04628897], [-1.03415668, -0.10403691], [3.00094461, -1.55173182]])


@pytest.fixture(params=["sparse", "dense"])
def out_run_path(request, monkeypatch):
    """Both ways of summing the out runs: live pixels one by one, or dense line slices."""
    import renderer.nmr.sweep as sweep

    monkeypatch.setenv("DRD_NATIVE", "0")      # the torch sweep's two ways (the C one: test_nmr_native.py)
    monkeypatch.setattr(sweep, "SPARSE_GAIN", 0 if request.param == "sparse" else 10**9)
    return request.param


@pytest.mark.parametrize("case", [CASE_OUTSIDE, CASE_INSIDE], ids=["pixel_outside", "pixel_inside"])
def test_reproduces_nmr_published_gradients(case, out_run_path):
    verts, pixel, g, expected = case
    alpha, got = silhouette_gradient(verts, pixel, g)
    assert float(alpha[pixel]) == (0.0 if g < 0 else 1.0)          # the case's premise
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-3, atol=1e-6)


def test_sign_gating_gives_exactly_zero():
    """The outside pixel is already 0; a loss that wants it darker (dL/dI = +1) gets nothing:
    every move the sweep considers would brighten it."""
    verts, pixel, _, _ = CASE_OUTSIDE
    _, got = silhouette_gradient(verts, pixel, +1.0)
    assert torch.count_nonzero(got) == 0
    _, inside = silhouette_gradient(CASE_INSIDE[0], CASE_INSIDE[1], -1.0)   # inside pixel wants brighter
    assert torch.count_nonzero(inside) == 0


def _nearest_crossing(verts, pixel, axis):
    """Where the line through the pixel centre (a row for axis 0 = x, a column for axis 1 = y)
    meets the triangle's edges nearest to the centre: (centre, crossing) in NDC, or None."""
    r, c = pixel
    px, py = pixel_centre_ndc(torch.tensor(float(c)), torch.tensor(float(r)), S)
    p = [float(px), float(py)]
    best = None
    for i in range(3):
        a, b = verts[i], verts[(i + 1) % 3]
        lo, hi = sorted((a[1 - axis], b[1 - axis]))
        if not lo < p[1 - axis] < hi:
            continue
        t = (p[1 - axis] - a[1 - axis]) / (b[1 - axis] - a[1 - axis])
        cross = a[axis] + t * (b[axis] - a[axis])
        if best is None or abs(cross - p[axis]) < abs(best - p[axis]):
            best = cross
    return None if best is None else (p[axis], best)


@pytest.mark.parametrize("axis", [0, 1])
def test_translation_identity(axis, out_run_path):
    """The two endpoint levers of an edge sum to one, so moving the whole triangle gives
    sum_v dL/dx_v = g dI / delta: delta the distance from the nearest edge crossing to the pixel
    along its row (column), dI = I_in - I_P. Exact without eps, O(eps) with it."""
    verts, pixel, g, _ = CASE_OUTSIDE
    centre, cross = _nearest_crossing(verts, pixel, axis)
    expected = g * (1.0 - 0.0) / (centre - cross)
    _, exact = silhouette_gradient(verts, pixel, g, eps=0.0)
    _, with_eps = silhouette_gradient(verts, pixel, g)
    assert float(exact[:, axis].sum()) == pytest.approx(expected, rel=1e-9)
    assert float(with_eps[:, axis].sum()) == pytest.approx(expected, rel=1e-3)
    assert abs(expected) > 0.5                                       # a real crossing, not 0 = 0


# ------------------------------------------------------------------------------- the renderer

def knot_scene(size: int = 48, **settings) -> dr.Scene:
    scene = dr.Scene.default(load_asset("knot"), image_size=size, renderer="nmr", **settings)
    return scene.with_camera(azimuth=30.0, elevation=20.0, distance=2.6)


def test_forward_is_the_hard_render_at_twice_the_size_averaged():
    scene = knot_scene()
    with torch.no_grad():
        out = dr.render(scene)
        fine = dr.render(scene.with_settings(renderer="hard", image_size=2 * scene.settings.image_size))
    s = scene.settings.image_size
    pool = lambda t: t.reshape(s, 2, s, 2, *t.shape[2:]).mean(dim=(1, 3))    # noqa: E731
    torch.testing.assert_close(out["alpha"], pool(fine["alpha"]))
    torch.testing.assert_close(out["rgb"], pool(fine["rgb"]))
    assert set(out["alpha"].unique().tolist()) <= {0.0, 0.25, 0.5, 0.75, 1.0}


@pytest.mark.parametrize("channel", ["alpha", "rgb"])
def test_vertex_gradient_is_the_sweep_through_the_projection(channel):
    """With flat colours (no lighting), the only geometry path is the sweep: the renderer's dL/dV
    equals sweep_gradient on the 2x render (the 2x2 mean's gradient, g/4 per subpixel), pulled
    back through the projection, with eps 1e-4 for a silhouette loss and 1e-3 for colour."""
    scene = knot_scene(lighting="none")
    s = scene.settings.image_size
    gen = torch.Generator().manual_seed(0)
    shape = (s, s) if channel == "alpha" else (s, s, 3)
    weight = torch.randn(shape, generator=gen, dtype=torch.float32)
    verts = scene.mesh.verts.clone().requires_grad_()
    out = dr.render(scene.replace(shape=scene.mesh.with_verts(verts)))
    (out[channel] * weight).sum().backward()
    with torch.no_grad():
        fine = dr.render(scene.with_settings(renderer="hard", image_size=2 * s))
    up = weight.repeat_interleave(2, 0).repeat_interleave(2, 1) / 4
    image = fine[channel] if channel == "rgb" else fine["alpha"][..., None]
    grad = up if channel == "rgb" else up[..., None]
    v = scene.mesh.verts.clone().requires_grad_()
    tri = project_mesh(v, scene.mesh.faces, scene.camera).tri
    g_tri = sweep_gradient(tri, fine["face_id"], image, grad, SILHOUETTE_EPS if channel == "alpha" else COLOR_EPS)
    (expected,) = torch.autograd.grad(tri, v, g_tri)
    assert float(expected.abs().max()) > 0
    torch.testing.assert_close(verts.grad, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))


def _fine_knot_render(seed: int):
    """The knot's hard render at NMR's 2x: NDC corners (F, 3, 2), face map, rgba image
    (2S, 2S, 4) and a dense random loss gradient of both signs (2S, 2S, 4)."""
    scene = knot_scene()
    s2 = 2 * scene.settings.image_size
    with torch.no_grad():
        fine = dr.render(scene.with_settings(renderer="hard", image_size=s2))
        tri = project_mesh(scene.mesh.verts, scene.mesh.faces, scene.camera).tri
    image = torch.cat([fine["rgb"], fine["alpha"][..., None]], -1)
    grad = torch.randn(s2, s2, 4, generator=torch.Generator().manual_seed(seed))
    return tri, fine["face_id"], image, grad


def test_out_run_paths_agree_on_a_mesh(monkeypatch):
    """The dense and the sparse out-run sums are the same numbers on a real render (colour and
    alpha, a dense random loss gradient)."""
    import renderer.nmr.sweep as sweep

    tri, face_id, image, grad = _fine_knot_render(seed=1)
    results = []
    for gain in (0, 10**9):
        monkeypatch.setattr(sweep, "SPARSE_GAIN", gain)
        results.append(sweep.torch_sweep_gradient(tri, face_id, image, grad, COLOR_EPS))
    assert float(results[0].abs().max()) > 0
    torch.testing.assert_close(results[0], results[1], rtol=1e-4, atol=1e-4 * float(results[0].abs().max()))


def test_no_image_derivative_is_a_clear_error():
    spec = dr.get_renderer("nmr")
    assert not spec.image_derivative and spec.geometry_gradients
    with pytest.raises(NoImageDerivativeError, match="nmr has no image derivative"):
        check_image_derivative(spec)
    with pytest.raises(NoImageDerivativeError, match="nmr has no image derivative"):
        derivative_image(knot_scene(size=24), "azimuth", method="jvp")


def test_vertex_contributions_sum_to_the_vertex_gradient():
    """The per-pixel view of NMR's gradient (which pixels a vertex's dL/dV comes from) adds up to
    the renderer's dL/dV of that vertex, and reaches pixels far from the vertex's faces."""
    from renderer.nmr.contributions import vertex_contributions

    scene = knot_scene(lighting="none")
    s = scene.settings.image_size
    weight = torch.randn(s, s, generator=torch.Generator().manual_seed(2))
    verts = scene.mesh.verts.clone().requires_grad_()
    (dr.render(scene.replace(shape=scene.mesh.with_verts(verts)))["alpha"] * weight).sum().backward()
    vertex = int(verts.grad.norm(dim=1).argmax())
    terms = vertex_contributions(scene, vertex, grad_alpha=weight)
    torch.testing.assert_close(terms.sum((0, 1)), verts.grad[vertex], rtol=1e-4, atol=1e-4 * float(verts.grad[vertex].abs().max()))
    assert int((terms.abs().sum(-1) > 0).sum()) > 20        # many pixels, not only the edge's own


def test_in_run_sums_agree_with_the_pixel_by_pixel_formula():
    """The dense in-run sums (padded line slices, face test and length mask) are NMR's formula
    applied pixel by pixel (``ragged_runs``, the path the contributions view uses), on a real
    render with a dense random loss gradient of both signs."""
    import renderer.nmr.sweep as sweep

    tri, face_id, image, grad = _fine_knot_render(seed=3)
    sw = sweep.sweep_setup(tri, face_id, image, grad)
    k = sw.seg["length"].numel()
    assert k > sw.outer > 0
    dense = torch.stack(sweep._in_runs(sw, COLOR_EPS))
    ragged = torch.stack(sweep.ragged_runs(sw, torch.arange(sw.outer, k), COLOR_EPS))
    assert int((ragged != 0).sum()) > 100
    torch.testing.assert_close(dense, ragged, rtol=1e-4, atol=1e-4 * float(ragged.abs().max()))
