"""The torch renderers' gradients tell the truth (DESIGN.md §3).

- hard: geometry gradients (vertices, every camera parameter) are exactly zero, while appearance
  parameters (vertex colours, texture, material, lights) still get theirs;
- SoftRas: a pixel's vertex / camera gradient is non-zero exactly where the formulas say (inside a
  triangle or within the cut-off band d2 < 9.21 sigma outside it) and exactly zero beyond, with
  the distances computed here independently of the renderer; band gradients match finite
  differences;
- no NaN or inf, in outputs or gradients, on degenerate and extreme inputs, for every renderer;
- the same code runs in float32 and float64 and the results agree.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import trimesh

from renderer import Lights, Material, Mesh, OrbitCamera, RenderSettings, Scene
from renderer.registry import renderer_names
from renderer.rendering import render
from tests.scenes import few_triangles, small_scene

RENDERERS = renderer_names("mesh", differentiable=True)
CAMERA_PARAMS = ("azimuth", "elevation", "distance", "fov")
CUTOFF_FACTOR = math.log(1 / 1e-4 - 1)            # D < 1e-4 is dropped: d2 >= 9.21 sigma outside


def with_leaves(scene: Scene) -> tuple[Scene, dict[str, torch.Tensor]]:
    """The scene with every differentiable parameter replaced by a fresh leaf requiring grad.
    Returns (scene, {name: leaf})."""
    mesh, cam, lights, mat = scene.mesh, scene.camera, scene.lights, scene.material
    leaf = lambda t: t.detach().clone().requires_grad_()  # noqa: E731
    p = {"verts": leaf(mesh.verts)}
    if mesh.colors is not None:
        p["colors"] = leaf(mesh.colors)
    if mesh.texture is not None:
        p["texture"] = leaf(mesh.texture)
    for name in CAMERA_PARAMS:
        p[name] = leaf(getattr(cam, name))
    for name in ("ambient", "directions", "colors", "sh"):
        p["light_" + name] = leaf(getattr(lights, name))
    for name in ("albedo", "ka", "kd", "ks", "shininess"):
        p[name] = leaf(getattr(mat, name))
    mesh = Mesh(verts=p["verts"], faces=mesh.faces, colors=p.get("colors"), uvs=mesh.uvs,
                texture=p.get("texture"), weld=mesh.weld)
    cam = cam.replace(**{k: p[k] for k in CAMERA_PARAMS})
    lights = Lights(ambient=p["light_ambient"], directions=p["light_directions"],
                    colors=p["light_colors"], sh=p["light_sh"])
    mat = Material(albedo=p["albedo"], ka=p["ka"], kd=p["kd"], ks=p["ks"], shininess=p["shininess"])
    return scene.replace(shape=mesh, camera=cam, lights=lights, material=mat), p


def grads(loss: torch.Tensor, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """d loss / d each parameter; an unused parameter (None) counts as an exact zero."""
    names = list(params)
    g = torch.autograd.grad(loss, [params[n] for n in names], allow_unused=True)
    return {n: torch.zeros_like(params[n]) if gi is None else gi for n, gi in zip(names, g)}


# ------------------------------------------------------------------ hard: no geometry gradient

GEOMETRY = ("verts",) + CAMERA_PARAMS
# The appearance parameters each lighting model reads (with vertex colours as the albedo).
APPEARANCE = {
    "none": ("colors",),
    "lambertian": ("colors", "ka", "kd", "light_ambient", "light_colors", "light_directions"),
    "phong": ("colors", "ka", "kd", "ks", "shininess", "light_ambient", "light_colors",
              "light_directions"),
    "sh": ("colors", "light_sh"),
}


@pytest.mark.parametrize("double_sided", [False, True], ids=["single", "double"])
@pytest.mark.parametrize("lighting", list(APPEARANCE))
def test_hard_geometry_gradient_is_exactly_zero(lighting, double_sided):
    scene = small_scene("hard", lighting, size=24, double_sided=double_sided)
    # a light near the view direction, so the Phong highlight shows
    scene = scene.replace(lights=Lights.from_angles(25.0, 15.0, (1.0, 0.9, 0.8)))
    scene, params = with_leaves(scene)
    out = render(scene)
    g = grads(out["rgb"].sum() + out["alpha"].sum(), params)
    for name in GEOMETRY:
        assert torch.count_nonzero(g[name]) == 0, f"hard: d loss / d {name} = {g[name]}, not 0"
    for name in APPEARANCE[lighting]:
        assert torch.isfinite(g[name]).all() and g[name].abs().max() > 0, \
            f"hard: d loss / d {name} is zero or not finite ({lighting})"
    # The same loss sees the geometry through SoftRas and DIB-R: the zeros above are the hard
    # rasterizer's, not the test's.
    for kind in ("softras", "dibr"):
        out = render(scene.with_settings(renderer=kind, sigma=1e-3, gamma=1e-2))
        g = grads(out["rgb"].sum() + out["alpha"].sum(), params)
        for name in GEOMETRY:
            assert g[name].abs().max() > 0, f"{kind}: d loss / d {name} is zero"


def textured_quad(dtype=torch.float64) -> Mesh:
    xy = torch.tensor([[-0.8, -0.7], [0.9, -0.6], [0.7, 0.8], [-0.6, 0.9]], dtype=dtype)
    verts = torch.cat([xy, torch.tensor([[0.0], [0.1], [0.2], [0.05]], dtype=dtype)], 1)
    texture = torch.rand(8, 8, 3, dtype=dtype, generator=torch.Generator().manual_seed(3))
    return Mesh(verts=verts, faces=torch.tensor([[0, 1, 2], [0, 2, 3]]), uvs=(xy + 1) / 2,
                texture=texture)


@pytest.mark.parametrize("albedo_source", ["material", "texture"])
def test_hard_albedo_gradients_without_vertex_colours(albedo_source):
    scene = small_scene("hard", "phong", size=24)
    mesh = few_triangles(colors=False) if albedo_source == "material" else textured_quad()
    scene, params = with_leaves(scene.replace(shape=mesh))
    out = render(scene)
    g = grads(out["rgb"].sum() + out["alpha"].sum(), params)
    for name in GEOMETRY:
        assert torch.count_nonzero(g[name]) == 0, f"hard: d loss / d {name} is not 0"
    name = "albedo" if albedo_source == "material" else "texture"
    assert g[name].abs().max() > 0, f"hard: d loss / d {name} is zero"
    if albedo_source == "texture":
        # bilinear lookups: the texels under the image get a gradient, the albedo none
        assert torch.count_nonzero(g["texture"].abs().sum(-1)) > 16
        assert torch.count_nonzero(g["albedo"]) == 0


# ------------------------------------------------------------------ SoftRas: where gradients live

def _point_triangle_d2(p: np.ndarray, tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared distance of points p (N, 2) to triangles tri (F, 3, 2), 0 inside, and inside
    (N, F) bool (either winding): an independent float64 numpy version of DESIGN.md §3's d2."""
    p = p[:, None, :]
    d2 = np.full((p.shape[0], tri.shape[0]), np.inf)
    cross = []
    for k in range(3):
        a, b = tri[None, :, k], tri[None, :, (k + 1) % 3]
        ab, ap = b - a, p - a
        t = np.clip((ap * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)
        q = a + t[..., None] * ab
        d2 = np.minimum(d2, ((p - q) ** 2).sum(-1))
        cross.append(ab[..., 0] * ap[..., 1] - ab[..., 1] * ap[..., 0])
    cross = np.stack(cross)
    inside = (cross >= 0).all(0) | (cross <= 0).all(0)
    return np.where(inside, 0.0, d2), inside


def pixel_distances(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: squared NDC distance to the nearest triangle (all faces, back faces included,
    as the silhouette counts them; 0 inside one) and whether a triangle covers it. (S, S) each."""
    s = scene.settings.image_size
    with torch.no_grad():
        vp = scene.camera.view_projection().double().numpy()
    v = scene.mesh.verts.detach().double().numpy()
    clip = v @ vp[:, :3].T + vp[:, 3]
    ndc = clip[:, :2] / clip[:, 3:]
    centres = -1 + (2 * np.arange(s) + 1) / s
    px, py = np.meshgrid(centres, -centres)                                 # row 0 at the top
    d2, inside = _point_triangle_d2(np.stack([px.ravel(), py.ravel()], 1),
                                    ndc[scene.mesh.faces.numpy()])
    return d2.min(1).reshape(s, s), inside.any(1).reshape(s, s)


def pixel_jacobian(scene: Scene, params: dict, names, weights: torch.Tensor,
                   use_rgb: bool = True) -> tuple[torch.Tensor, dict]:
    """Row i: gradient of the per-pixel loss L_i = alpha_i (+ rgb_i . weights_i) with respect to
    the named parameters, flattened and concatenated: (S*S, n)."""
    out = render(scene)
    per_pixel = out["alpha"] + ((out["rgb"] * weights).sum(-1) if use_rgb else 0)
    flat = per_pixel.reshape(-1)
    rows = []
    for i in range(flat.numel()):
        g = torch.autograd.grad(flat[i], [params[n] for n in names], retain_graph=True,
                                allow_unused=True)
        rows.append(torch.cat([torch.zeros(params[n].numel(), dtype=flat.dtype) if gi is None
                               else gi.reshape(-1) for n, gi in zip(names, g)]))
    return torch.stack(rows), out


@pytest.mark.parametrize("double_sided", [False, True], ids=["single", "double"])
def test_softras_gradient_lives_inside_and_in_the_cutoff_band(double_sided):
    size, band_px = 24, 2.5
    # sigma such that the cut-off band is band_px pixels wide: sqrt(9.21 sigma) S / 2 = band_px
    sigma = (2 * band_px / size) ** 2 / CUTOFF_FACTOR
    scene = small_scene("softras", "phong", size=size, sigma=sigma, gamma=1e-2,
                        double_sided=double_sided)
    assert abs(scene.settings.edge_width_px() - band_px) < 0.01
    scene, params = with_leaves(scene)
    names = GEOMETRY
    weights = torch.rand(size, size, 3, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(5))
    jac, out = pixel_jacobian(scene, params, names, weights)
    nonzero = (jac != 0).any(1).reshape(size, size).numpy()
    d2, covered = pixel_distances(scene)
    cutoff = sigma * CUTOFF_FACTOR
    ratio = d2 / cutoff
    # pixels within a relative 1e-6 of the cut-off are ambiguous at float64 rounding: none here
    assert not (np.abs(ratio - 1) < 1e-6).any()
    far = ratio > 1
    band = ~covered & (ratio < 1)
    outer_band = band & (ratio > 0.5)       # the outer part: the band is not narrower than stated
    just_beyond = far & (ratio < 2)         # the first pixels beyond: it is not wider either
    counts = dict(covered=covered.sum(), band=band.sum(), outer_band=outer_band.sum(),
                  far=far.sum(), just_beyond=just_beyond.sum())
    print(f"\nSoftRas sigma {sigma:.3g} (band {band_px} px), pixel classes: {counts}")
    for name, n in counts.items():
        assert n >= 10, f"only {n} {name} pixels: the scene does not test this class"

    assert not nonzero[far].any(), \
        f"{nonzero[far].sum()} pixels farther than the cut-off have a non-zero gradient"
    assert (out["alpha"].detach().numpy()[far] == 0).all()
    assert (out["rgb"].detach().numpy()[far] == np.float64(scene.settings.background)).all()
    assert nonzero[covered].all(), f"{(~nonzero[covered]).sum()} covered pixels have no gradient"
    assert nonzero[band].all(), f"{(~nonzero[band]).sum()} band pixels have no gradient"
    # in the band the silhouette alone moves with the geometry: alpha_i's own gradient
    alpha_jac, _ = pixel_jacobian(scene, params, names, weights, use_rgb=False)
    alpha_nonzero = (alpha_jac != 0).any(1).reshape(size, size).numpy()
    assert alpha_nonzero[band].all() and not alpha_nonzero[far].any()
    vert_cols = params["verts"].numel()
    assert (alpha_jac[:, :vert_cols].abs().sum(1).reshape(size, size).numpy()[outer_band] > 0).all()


def test_softras_band_gradient_matches_finite_differences():
    """The silhouette gradient at band pixels is the true derivative of the render."""
    size, sigma = 24, 2e-3
    base = small_scene("softras", "phong", size=size, sigma=sigma, gamma=1e-2)
    verts0 = base.mesh.verts.detach().clone()
    d2, covered = pixel_distances(base)
    ratio = d2 / (sigma * CUTOFF_FACTOR)
    band = np.argwhere(~covered & (ratio > 0.05) & (ratio < 0.8))
    assert len(band) >= 10
    picks = [tuple(band[i]) for i in np.linspace(0, len(band) - 1, 6).astype(int)]

    def alpha_at(verts):
        return render(base.replace(shape=base.mesh.with_verts(verts)))["alpha"]

    verts = verts0.clone().requires_grad_()
    alpha = alpha_at(verts)
    eps = 1e-6
    checked = 0
    for r, c in picks:
        (g,) = torch.autograd.grad(alpha[r, c], verts, retain_graph=True)
        assert g.abs().sum() > 0, f"band pixel ({r}, {c}) has no silhouette gradient"
        # central differences along the gradient direction and along one vertex coordinate
        for direction in (g / g.norm(), torch.zeros_like(g).index_fill_(0, torch.tensor([0]), 1.0)):
            with torch.no_grad():
                fd = (alpha_at(verts0 + eps * direction)[r, c]
                      - alpha_at(verts0 - eps * direction)[r, c]) / (2 * eps)
            ad = (g * direction).sum()
            assert torch.isclose(ad, fd, rtol=1e-4, atol=1e-7), \
                f"({r}, {c}): autograd {ad}, FD {fd}"
            checked += int(abs(float(ad)) > 1e-6)
    assert checked >= 6


# ------------------------------------------------------------------ no NaN / inf anywhere

def _icosphere(subdivisions: int, dtype) -> Mesh:
    ico = trimesh.creation.icosphere(subdivisions=subdivisions)            # unit radius
    verts = torch.tensor(ico.vertices, dtype=dtype)
    colors = torch.rand(len(verts), 3, dtype=dtype, generator=torch.Generator().manual_seed(2))
    return Mesh(verts=verts, faces=torch.tensor(ico.faces), colors=colors)


def _triangles(verts, faces, dtype) -> Mesh:
    verts = torch.tensor(verts, dtype=dtype)
    colors = torch.rand(len(verts), 3, dtype=dtype, generator=torch.Generator().manual_seed(4))
    return Mesh(verts=verts, faces=torch.tensor(faces), colors=colors)


NORMAL_TRIANGLE = [[-0.6, -0.5, 0.0], [0.5, -0.4, 0.1], [0.0, 0.6, -0.1]]


def extreme_scene(case: str, dtype) -> Scene:
    size, cam, settings = 32, dict(azimuth=0.0, elevation=0.0, distance=3.0, fov=50.0), {}
    if case == "degenerate":           # two identical vertices, next to an ordinary triangle
        mesh = _triangles(NORMAL_TRIANGLE + [[0.2, 0.2, 0.3], [0.2, 0.2, 0.3], [0.7, 0.5, 0.2]],
                          [[0, 1, 2], [3, 4, 5]], dtype)
        settings = dict(sigma=1e-3)
    elif case == "edge_on":            # in the plane x = 0, which holds the eye: a line on screen,
        # through the centres of the middle pixel column (odd image size)
        mesh = _triangles(NORMAL_TRIANGLE + [[0.0, -0.5, -0.3], [0.0, 0.5, 0.0], [0.0, 0.0, 0.5]],
                          [[0, 1, 2], [3, 4, 5]], dtype)
        size, settings = 33, dict(sigma=1e-3)
    elif case == "screen_sized":       # one triangle covering the whole image, one in front
        mesh = _triangles([[-20.0, -20.0, 0.0], [20.0, -20.0, 0.0], [0.0, 20.0, 0.0]]
                          + [[-0.3, -0.3, 0.5], [0.3, -0.3, 0.5], [0.0, 0.3, 0.5]],
                          [[0, 1, 2], [3, 4, 5]], dtype)
        settings = dict(sigma=1e-3)
    elif case.startswith(("sigma", "gamma")):
        mesh = _icosphere(1, dtype)                                          # 80 faces
        name, value = case.split("=")
        settings = {name: float(value)}
        cam = dict(azimuth=30.0, elevation=20.0, distance=3.0, fov=50.0)
    elif case.startswith("inside"):    # the camera inside a closed unit sphere
        mesh = _icosphere(2, dtype)
        cam = dict(azimuth=30.0, elevation=20.0, distance=0.5, fov=60.0)
        settings = dict(sigma=1e-3, double_sided=case.endswith("double_sided"))
    else:
        raise ValueError(case)
    camera = OrbitCamera(**{k: torch.tensor(v, dtype=dtype) for k, v in cam.items()})
    return Scene(shape=mesh, camera=camera, lights=Lights.from_angles(20.0, 10.0, (1.0, 0.9, 0.8)),
                 material=Material.for_lighting("phong", shininess=16.0),
                 settings=RenderSettings(image_size=size, lighting="phong",
                                         background=(0.2, 0.3, 0.4), **settings))


EXTREME_CASES = ["degenerate", "edge_on", "screen_sized", "sigma=1e-7", "sigma=1e-1",
                 "gamma=1e-6", "gamma=1", "inside", "inside_double_sided"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kind", RENDERERS)
@pytest.mark.parametrize("case", EXTREME_CASES)
def test_no_nan_or_inf(case, kind, dtype):
    scene = extreme_scene(case, dtype).with_settings(renderer=kind)
    scene, params = with_leaves(scene)
    out = render(scene)
    for name, value in out.items():
        if value.is_floating_point():
            assert torch.isfinite(value).all(), f"{kind}/{case}: {name} has NaN or inf"
    s = scene.settings.image_size
    assert out["rgb"].shape == (s, s, 3) and out["alpha"].shape == (s, s)
    assert ((out["alpha"] >= 0) & (out["alpha"] <= 1)).all()
    weights = torch.rand(s, s, 4, dtype=dtype, generator=torch.Generator().manual_seed(0))
    loss = (out["rgb"] * weights[..., :3]).sum() + (out["alpha"] * weights[..., 3]).sum()
    g = grads(loss, params)
    bad = [n for n, gi in g.items() if not torch.isfinite(gi).all()]
    assert not bad, f"{kind}/{case}: NaN or inf in the gradient of {bad}"
    # the scene renders something, so finiteness is tested on real gradients. Seen from inside
    # the sphere every face is a back face: single-sided, nothing is coloured, and DIB-R's alpha
    # is 1 on every pixel (no soft silhouette left to differentiate).
    assert out["alpha"].max() > 0.5
    if case != "inside":
        assert g["colors"].abs().max() > 0, f"{kind}/{case}: no colour gradient"
    if kind == "softras" or (kind == "dibr" and case != "inside"):
        assert any(g[n].abs().max() > 0 for n in GEOMETRY), f"{kind}/{case}: no geometry gradient"


def test_extreme_scenes_are_what_they_claim():
    """Sanity of the scenes above: the degenerate and edge-on triangles reach pixels (SoftRas's
    band) but cover none, the edge-on one projects onto a line through pixel centres, the big one
    covers every pixel, the camera is inside the sphere."""
    scene = extreme_scene("edge_on", torch.float64)
    with torch.no_grad():
        vp = scene.camera.view_projection()
        clip = scene.mesh.verts @ vp[:, :3].T + vp[:, 3]
        x_ndc = clip[3:, 0] / clip[3:, 3]
        assert torch.allclose(x_ndc, torch.zeros(3, dtype=torch.float64), atol=1e-12)
    for case in ("degenerate", "edge_on"):
        scene = extreme_scene(case, torch.float64)
        alone = scene.replace(shape=Mesh(verts=scene.mesh.verts, faces=scene.mesh.faces[1:],
                                        colors=scene.mesh.colors))
        with torch.no_grad():
            assert render(alone.with_settings(renderer="softras"))["alpha"].max() > 0.1, case
            assert (render(alone.with_settings(renderer="hard"))["face_id"] < 0).all(), case
    hard = render(extreme_scene("screen_sized", torch.float64).with_settings(renderer="hard"))
    assert (hard["face_id"] >= 0).all()
    inside = extreme_scene("inside", torch.float64)
    assert inside.camera.eye.norm() < inside.mesh.verts.norm(dim=1).min()


# ------------------------------------------------------------------ float32 and float64 agree

@pytest.mark.parametrize("lighting", ["phong", "sh"])
@pytest.mark.parametrize("kind", RENDERERS)
def test_float32_and_float64_agree(kind, lighting):
    def scene_in(dtype):
        sc = small_scene(kind, lighting, size=32, dtype=torch.float64, sigma=1e-3, gamma=1e-2)
        mesh = Mesh(verts=sc.mesh.verts.to(dtype), faces=sc.mesh.faces,
                    colors=sc.mesh.colors.to(dtype))
        cam = sc.camera.replace(**{k: getattr(sc.camera, k).to(dtype) for k in CAMERA_PARAMS})
        return with_leaves(sc.replace(shape=mesh, camera=cam))

    results = {}
    for dtype in (torch.float32, torch.float64):
        scene, params = scene_in(dtype)
        out = render(scene)
        assert out["rgb"].dtype == dtype and out["alpha"].dtype == dtype
        weights = torch.rand(32, 32, 4, dtype=torch.float64,
                             generator=torch.Generator().manual_seed(0)).to(dtype)
        loss = (out["rgb"] * weights[..., :3]).sum() + (out["alpha"] * weights[..., 3]).sum()
        results[dtype] = (out, grads(loss, params))
    (o32, g32), (o64, g64) = results[torch.float32], results[torch.float64]
    figures = {k: float((o32[k].double() - o64[k]).abs().max().detach()) for k in ("rgb", "alpha")}
    print(f"\n{kind}/{lighting}: max |float32 - float64|: {figures}")
    assert figures["rgb"] < 1e-5 and figures["alpha"] < 1e-5, figures
    if "face_id" in o32:
        assert (o32["face_id"] == o64["face_id"]).all()
    assert 0.05 < float(o64["alpha"].detach().mean()) < 0.95
    light = "light_directions" if lighting == "phong" else "light_sh"
    for name in ("verts", "colors", "azimuth", "distance", light):
        a, b = g32[name].double(), g64[name]
        if kind == "hard" and name in GEOMETRY:
            assert torch.count_nonzero(a) == 0 and torch.count_nonzero(b) == 0
            continue
        rel = float((a - b).norm() / b.norm())
        print(f"    d loss / d {name}: relative difference {rel:.1e}")
        assert b.norm() > 0 and rel < 1e-3, \
            f"{kind}: d loss / d {name} differs by {rel:.2e} (relative)"
