"""The torch renderers agree with the OpenGL reference (DESIGN.md §3, §4).

SoftRas at its sharpest settings (sigma 1e-7, gamma 1e-6), the hard rasterizer and DIB-R's
foreground are compared with the GL reference without supersampling, 256 x 256, on Spot
(textured), the teapot and every bundled asset, from three cameras, with each of the four
lighting models, a coloured light and a non-black background.

Per case, with "covered" meaning alpha > 0.5 (for DIB-R and the GL front-face mask: face_id >= 0):
- silhouette IoU >= 0.995;
- mean |rgb difference| over pixels covered in both (and, for GL, with a visible front face:
  face_id >= 0, so pixels covered only by back faces are left out) <= 2e-3;
- the background colour is exact where no face reaches a pixel;
- DIB-R's and the hard rasterizer's face_id equal GL's on nearly all foreground pixels (GL and
  llvmpipe snap vertices to a sub-pixel grid, so a pixel centre within ~1e-3 px of an edge
  shared by two faces may be given to the other face; the colours there agree anyway).

Double-sided rendering and flat shading are tested on Spot and the knot cut open (so their
inside shows). One discrepancy is known and diagnosed rather than hidden: with flat shading on
fine meshes, SoftRas's mean |rgb diff| exceeds 2e-3 because pixels within the cut-off band of an
interior edge take (part of) the neighbouring facet's colour; see
``explain_softras_band_colours``, which proves that is the only cause (single-face pixels match
GL to < 1e-4) before accepting it.

Run with ``pytest -s`` to see the figures of every case and a summary table at the end.
"""
from __future__ import annotations

import functools
import time

import numpy as np
import pytest
import torch

from renderer import LIGHTING_MODELS, Lights, Material, Mesh, OrbitCamera, RenderSettings, Scene
from renderer.assets import list_assets
from renderer.io import load_mesh
from renderer.rendering import render
from renderer.paths import shared_dir

SHARED_MESHES = shared_dir() / "meshes"
SHARED_FILES = {"spot": SHARED_MESHES / "spot" / "cow.obj", "teapot": SHARED_MESHES / "teapot.obj"}
ASSETS = {a.name: a.path for a in list_assets() if a.kind == "mesh"}
MESH_NAMES = list(SHARED_FILES) + list(ASSETS)

SIZE = 256
SIGMA, GAMMA = 1e-7, 1e-6
BACKGROUND = (0.15, 0.25, 0.35)
LIGHT_COLOR = (1.0, 0.85, 0.7)
AMBIENT = (0.9, 0.95, 1.0)
ALBEDO = (0.75, 0.55, 0.4)          # used by meshes without vertex colours or texture

# The thresholds: do not loosen them.
IOU_MIN = 0.995
RGB_MEAN_MAX = 2e-3
# Fraction of foreground pixels (covered in either image) whose face_id matches GL's.
FACE_ID_MATCH_MIN = 0.99

# Varied azimuth / elevation / distance / fov; each keeps the unit-radius mesh filling a good part
# of the image (camera 1 is close enough that the sphere overflows the image borders).
CAMERAS = [
    dict(azimuth=35.0, elevation=20.0, distance=2.2, fov=50.0),
    dict(azimuth=-120.0, elevation=-25.0, distance=1.9, fov=60.0),
    dict(azimuth=200.0, elevation=55.0, distance=2.8, fov=40.0),
]

# Every case's figures, printed as a table when the module finishes (pytest -s shows it).
RESULTS: list[dict] = []


@functools.lru_cache(maxsize=None)
def _load(name: str) -> Mesh:
    path = SHARED_FILES.get(name) or ASSETS[name]
    return load_mesh(path)


def get_mesh(name: str) -> Mesh:
    path = SHARED_FILES.get(name)
    if path is not None and not path.is_file():
        pytest.skip(f"shared test mesh {path} is absent (tests read meshes from ../shared/meshes)")
    return _load(name)


def make_lights() -> Lights:
    """A warm directional light, a cool ambient, SH coefficients tinted by the light colour."""
    lights = Lights.from_angles(60.0, 35.0, LIGHT_COLOR)
    tint = torch.tensor(LIGHT_COLOR, dtype=torch.float32)
    return lights.replace(ambient=torch.tensor(AMBIENT, dtype=torch.float32), sh=lights.sh * tint)


def make_scene(mesh: Mesh, camera: dict, lighting: str, **settings) -> Scene:
    overrides = dict(albedo=ALBEDO)
    if lighting == "phong":
        overrides["shininess"] = 24.0
    return Scene(shape=mesh, camera=OrbitCamera(**camera), lights=make_lights(),
                 material=Material.for_lighting(lighting, **overrides),
                 settings=RenderSettings(image_size=SIZE, renderer="gl", lighting=lighting,
                                         background=BACKGROUND, sigma=SIGMA, gamma=GAMMA,
                                         **settings))


def torch_render(scene: Scene, kind: str) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = render(scene.with_settings(renderer=kind))
    return {k: v.numpy() for k, v in out.items()}


def compare(ref: dict, out: dict, kind: str) -> dict:
    """Agreement figures of one torch render with the GL render of the same scene."""
    g_face = ref["face_id"]
    bg = np.float32(BACKGROUND)
    if kind == "dibr":
        # DIB-R's alpha is soft outside the covered pixels by design; its foreground is face_id
        g_sil, t_sil = g_face >= 0, out["face_id"] >= 0
    else:
        g_sil, t_sil = ref["alpha"] > 0.5, out["alpha"] > 0.5
    union = (g_sil | t_sil).sum()
    iou = float((g_sil & t_sil).sum() / union) if union else 1.0
    both = g_sil & t_sil & (g_face >= 0)
    diff = np.abs(ref["rgb"] - out["rgb"]).mean(-1)
    fig = dict(renderer=kind, iou=iou, rgb_mean=float(diff[both].mean()) if both.any() else 0.0,
               rgb_max=float(diff[both].max()) if both.any() else 0.0, covered=int(both.sum()))
    # Background: where no face reaches a pixel, both images must show exactly the background.
    if kind == "softras":
        empty = out["alpha"] == 0          # no surviving (pixel, face) pair at all
        g_empty = ref["alpha"] == 0
        fig["empty_not_gl_background"] = int((empty & ~g_empty).sum())
        fig["gl_background_reached"] = float(1 - (empty & g_empty).sum() / max(g_empty.sum(), 1))
    else:
        empty = (out["face_id"] < 0) & (g_face < 0)
        fid_fg = (out["face_id"] >= 0) | (g_face >= 0)
        fig["face_id_match"] = float((out["face_id"] == g_face)[fid_fg].mean())
        same = (out["face_id"] == g_face) & (g_face >= 0)
        rel = np.abs(out["depth"][same] - ref["depth"][same]) / ref["depth"][same]
        fig["depth_rel_max"] = float(rel.max()) if same.any() else 0.0
    fig["bg_err"] = float(np.abs(out["rgb"][empty] - bg).max()) if empty.any() else 0.0
    fig["gl_bg_err"] = float(np.abs(ref["rgb"][(g_face < 0) & empty] - bg).max()) \
        if ((g_face < 0) & empty).any() else 0.0
    return fig


def check(fig: dict) -> list[str]:
    """The failed conditions of one comparison, as readable lines."""
    bad = []
    if fig["iou"] < IOU_MIN:
        bad.append(f"silhouette IoU {fig['iou']:.5f} < {IOU_MIN}")
    if fig["rgb_mean"] > RGB_MEAN_MAX:
        bad.append(f"mean |rgb diff| {fig['rgb_mean']:.2e} > {RGB_MEAN_MAX}")
    if fig["covered"] < 1000:
        bad.append(f"only {fig['covered']} pixels covered in both: the scene does not test much")
    if fig["bg_err"] > 1e-6 or fig["gl_bg_err"] > 1e-6:
        bad.append(f"background off by {fig['bg_err']:.2e} (GL {fig['gl_bg_err']:.2e})")
    if "face_id_match" in fig:
        if fig["face_id_match"] < FACE_ID_MATCH_MIN:
            bad.append(f"face_id matches GL on {fig['face_id_match']:.4f} < {FACE_ID_MATCH_MIN}")
        if fig["depth_rel_max"] > 1e-4:
            bad.append(f"depth differs from GL by up to {fig['depth_rel_max']:.2e} (relative)")
    else:
        if fig["empty_not_gl_background"]:
            bad.append(f"{fig['empty_not_gl_background']} pixels GL covers got no SoftRas pair")
        if fig["gl_background_reached"] > 0.02:
            bad.append(f"{fig['gl_background_reached']:.3f} of GL's background pixels are within "
                       f"SoftRas's cut-off band: the band is too wide for sigma {SIGMA}")
    return bad


def fmt(fig: dict) -> str:
    text = (f"{fig['renderer']:>7}: IoU {fig['iou']:.5f}  mean|drgb| {fig['rgb_mean']:.2e}  "
            f"max|drgb| {fig['rgb_max']:.2e}")
    if "face_id_match" in fig:
        text += f"  face_id==GL {fig['face_id_match']:.5f}"
    return text


def run_case(gl_renderer, label: str, scene: Scene, renderers=("softras", "hard", "dibr"),
             known: tuple[str, ...] = ()):
    """Render ``scene`` with GL once and with each torch renderer; record, print, and assert every
    condition, except failures that start with one of ``known`` (returned to the caller, which
    must deal with them). Returns (GL buffers, known failures)."""
    t0 = time.perf_counter()
    ref = gl_renderer.render(scene)
    lines, failures = [], []
    for kind in renderers:
        fig = compare(ref, torch_render(scene, kind), kind)
        fig["case"] = label
        RESULTS.append(fig)
        lines.append(fmt(fig))
        failures += [f"{kind}: {b}" for b in check(fig)]
    report = f"{label} ({time.perf_counter() - t0:.2f} s)\n    " + "\n    ".join(lines)
    print("\n" + report)
    expected = [f for f in failures if f.startswith(known)] if known else []
    unexpected = [f for f in failures if f not in expected]
    assert not unexpected, report + "\nFAILED:\n    " + "\n    ".join(unexpected)
    return ref, expected


@pytest.fixture(scope="module", autouse=True)
def summary():
    yield
    if not RESULTS:
        return
    print("\n\nSoftRas/hard/DIB-R vs GL, worst figure per renderer over all cases:")
    for kind in ("softras", "hard", "dibr"):
        rows = [r for r in RESULTS if r["renderer"] == kind]
        if not rows:
            continue
        low = min(rows, key=lambda r: r["iou"])
        high = max(rows, key=lambda r: r["rgb_mean"])
        text = (f"  {kind:>7} ({len(rows)} cases): min IoU {low['iou']:.5f} [{low['case']}], "
                f"max mean|drgb| {high['rgb_mean']:.2e} [{high['case']}], "
                f"median mean|drgb| {np.median([r['rgb_mean'] for r in rows]):.2e}")
        if "face_id_match" in rows[0]:
            fid = min(rows, key=lambda r: r["face_id_match"])
            text += f", min face_id==GL {fid['face_id_match']:.5f} [{fid['case']}]"
        print(text)


@pytest.mark.parametrize("lighting", LIGHTING_MODELS)
@pytest.mark.parametrize("camera", range(len(CAMERAS)), ids=lambda i: f"cam{i}")
@pytest.mark.parametrize("mesh_name", MESH_NAMES)
def test_torch_renderers_match_gl(gl_renderer, mesh_name, camera, lighting):
    scene = make_scene(get_mesh(mesh_name), CAMERAS[camera], lighting)
    run_case(gl_renderer, f"{mesh_name}/cam{camera}/{lighting}", scene)


# ------------------------------------------------------------------ double-sided and flat shading

def cutaway(mesh: Mesh) -> Mesh:
    """The mesh with the faces whose centroid has x > 0.1 removed, so its inside shows."""
    centroid = mesh.verts[mesh.faces].mean(1)
    faces = mesh.faces[centroid[:, 0] <= 0.1]
    return Mesh(verts=mesh.verts, faces=faces, colors=mesh.colors, uvs=mesh.uvs,
                texture=mesh.texture, weld=mesh.weld, name=mesh.name + "-cutaway")


# Looking into the cut, from the +x side.
CUTAWAY_CAMERA = dict(azimuth=70.0, elevation=25.0, distance=2.3, fov=50.0)


@pytest.mark.parametrize("flat_shading", [False, True], ids=["smooth", "flat"])
@pytest.mark.parametrize("double_sided", [False, True], ids=["single", "double"])
@pytest.mark.parametrize("mesh_name", ["spot", "knot"])
def test_double_sided_and_flat_shading_match_gl(gl_renderer, mesh_name, double_sided, flat_shading):
    mesh = cutaway(get_mesh(mesh_name))
    scene = make_scene(mesh, CUTAWAY_CAMERA, "phong", double_sided=double_sided,
                       flat_shading=flat_shading)
    label = f"{mesh.name}/{'double' if double_sided else 'single'}/" \
            f"{'flat' if flat_shading else 'smooth'}/phong"
    known = ("softras: mean |rgb diff|",) if flat_shading else ()
    ref, softras_flat = run_case(gl_renderer, label, scene, known=known)
    # The cut must expose the inside, or double-sidedness is not tested.
    back_only = (ref["alpha"] > 0.5) & (ref["face_id"] < 0)
    if double_sided:
        # every covered pixel shows a face, back faces included, shaded with the flipped normal
        assert not back_only.any()
        single = gl_renderer.render(scene.with_settings(double_sided=False))
        inside = (single["alpha"] > 0.5) & (single["face_id"] < 0)
        assert inside.sum() > 500, f"only {inside.sum()} pixels show the inside of {mesh.name}"
    else:
        assert back_only.sum() > 500, \
            f"only {back_only.sum()} pixels show the inside of {mesh.name}"
        check_back_faces_give_no_colour(scene, back_only)
    if softras_flat:
        explain_softras_band_colours(scene, ref, softras_flat)


def explain_softras_band_colours(scene: Scene, ref: dict, failures: list[str]) -> None:
    """A known SoftRas discrepancy, proven to be that and nothing else, then accepted.

    With flat shading, neighbouring faces have different colours. A pixel centre just inside face
    A and within the cut-off band (sqrt(9.21 sigma) ~ 0.12 px at sigma 1e-7, S 256) of a face B
    across an interior edge has a colour pair with B too, and with gamma 1e-6 the softmax weights
    are set by sub-pixel depth differences (A at the pixel, B at its clipped barycentric point on
    the edge), so the pixel shows B's flat colour or a blend. That is the DESIGN.md §3 formula,
    not a renderer bug; on fine meshes (knot, Spot: ~3 px triangles) ~8% of the covered pixels
    are such band pixels and the mean |rgb diff| exceeds 2e-3 (repro: a two-facet folded quad).
    Here: every covered pixel whose only colour pair is GL's face must match GL, and the
    discrepancy must come from the multi-face band pixels.
    """
    with torch.no_grad():
        out = render(scene.with_settings(renderer="softras"), with_pairs=True)
    pix, face, w = out.pairs.pix, out.pairs.face, out.pairs.weight
    colour = w > 1e-6
    count = torch.zeros(SIZE * SIZE, dtype=torch.long).index_add_(
        0, pix[colour], torch.ones_like(pix[colour]))
    only = torch.full((SIZE * SIZE,), -1, dtype=torch.long)
    single = colour & (count[pix] == 1)
    only[pix[single]] = face[single]
    only = only.reshape(SIZE, SIZE).numpy()
    both = (ref["alpha"] > 0.5) & (out["alpha"].numpy() > 0.5) & (ref["face_id"] >= 0)
    clean = both & (only == ref["face_id"])
    diff = np.abs(ref["rgb"] - out["rgb"].numpy()).mean(-1)
    band = both & ~clean
    msg = (f"single-face pixels: {clean.sum()} of {both.sum()}, "
           f"mean|drgb| {diff[clean].mean():.2e}; "
           f"band pixels ({band.mean() / both.mean():.3f} of covered) account for "
           f"{diff[band].sum() / both.sum():.2e} of the mean")
    print("    softras, flat shading: " + msg)
    assert clean.sum() > 0.5 * both.sum(), msg
    assert diff[clean].mean() < 1e-4, \
        "SoftRas differs from GL where one face colours a pixel: " + msg
    assert diff[clean].sum() / both.sum() <= RGB_MEAN_MAX / 10, msg
    # the excess over 2e-3 is proven to be the formula's band effect: accepted, and shown
    print("    accepted (SoftRas colour band at interior edges of flat-shaded fine meshes): "
          + "; ".join(failures))


def front_faces(scene: Scene) -> np.ndarray:
    """(F,) bool: faces whose front side looks at the camera eye (independent of the renderers'
    screen-space winding test; the same thing under a perspective camera)."""
    v = scene.mesh.verts.double().numpy()
    tri = v[scene.mesh.faces.numpy()]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    eye = scene.camera.eye.double().numpy()
    return ((eye - tri[:, 0]) * normal).sum(-1) > 0


def check_back_faces_give_no_colour(scene: Scene, back_only: np.ndarray) -> None:
    """Single-sided: pixels GL covers only with back faces keep the background colour in every
    torch renderer (culled faces give no colour) while the silhouette still covers them."""
    bg = np.float32(BACKGROUND)
    for kind in ("hard", "dibr"):
        out = torch_render(scene, kind)
        # a pixel centre on an edge may go either way (sub-pixel snapping in GL): nearly all
        mask = back_only & (out["face_id"] < 0) & (out["alpha"] > 0.5)
        assert mask.sum() >= 0.99 * back_only.sum(), \
            f"{kind}: {back_only.sum() - mask.sum()} of {back_only.sum()} back-face-only pixels " \
            "have a front face or no coverage"
        err = np.abs(out["rgb"][mask] - bg).max()
        assert err < 1e-6, f"{kind}: back-face-only pixels are not background (err {err:.2e})"
    # SoftRas: a front face whose edge passes within the cut-off band of a pixel centre (~0.12 px
    # at sigma 1e-7) colours the pixel fully even if it covers no pixel centre (gamma 1e-6 lets
    # any face beat the background): such pixels are left out, found from SoftRas's pair lists.
    with torch.no_grad():
        out = render(scene.with_settings(renderer="softras"), with_pairs=True)
    front = torch.from_numpy(front_faces(scene))
    near_front = torch.zeros(SIZE * SIZE, dtype=torch.bool)
    near_front[out.pairs.pix[front[out.pairs.face]]] = True
    mask = back_only & ~near_front.reshape(SIZE, SIZE).numpy()
    print(f"    softras: {int((back_only & ~mask).sum())} of {int(back_only.sum())} back-face-only "
          f"pixels lie in a front face's cut-off band")
    assert mask.sum() >= 0.97 * back_only.sum()
    err = np.abs(out["rgb"].numpy()[mask] - bg).max()
    assert err < 1e-6, f"softras: back-face-only pixels are not background (err {err:.2e})"
    # silhouette pixels may differ (IoU above): nearly all
    assert (out["alpha"].numpy()[mask] > 0.5).mean() >= 0.99, \
        "softras: back faces left out of alpha"
