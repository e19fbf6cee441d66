"""The GL reference renderer's machinery: supersampling, albedo sources, caching, no leaks."""
from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import pytest
import torch
import trimesh

import renderer.gl.reference as reference
from renderer import Lights, Material, Mesh, OrbitCamera, RenderSettings, Scene
from renderer.gl import GLRenderer, render_gl

ALBEDO = (0.9, 0.5, 0.2)
BACKGROUND = (0.1, 0.3, 0.6)


def sphere_mesh(subdivisions: int = 3) -> Mesh:
    ico = trimesh.creation.icosphere(subdivisions=subdivisions)
    return Mesh(torch.tensor(ico.vertices, dtype=torch.float32), torch.tensor(ico.faces))


def make_scene(mesh: Mesh, size: int = 48, lighting: str = "none", **settings) -> Scene:
    return Scene(shape=mesh, camera=OrbitCamera(azimuth=30.0, elevation=20.0),
                 material=Material(albedo=list(ALBEDO)),
                 settings=RenderSettings(image_size=size, renderer="gl", lighting=lighting,
                                         background=BACKGROUND, **settings))


def facing_quad(**extra) -> Mesh:
    """The square [-1, 1]^2 in the plane z = 0, counter-clockwise from +Z, uv = (x + 1) / 2."""
    xy = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    verts = torch.tensor(np.c_[xy, np.zeros(4)], dtype=torch.float32)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    return Mesh(verts, faces, uvs=torch.tensor((xy + 1) / 2, dtype=torch.float32), **extra)


def test_supersampling_gives_fractional_silhouettes(gl_renderer):
    mesh = sphere_mesh()
    plain = gl_renderer.render(make_scene(mesh))
    fine = gl_renderer.render(make_scene(mesh, supersample=4))
    a1, a4 = plain["alpha"], fine["alpha"]
    assert set(np.unique(a1)) == {0.0, 1.0}
    edge = (a4 > 0) & (a4 < 1)
    assert edge.sum() > 40
    assert set(np.unique(a4 * 16)) <= set(range(17))             # fractions of 4 x 4 samples
    inside = a1.copy()
    for axis in (0, 1):                                           # erode / dilate by one pixel
        inside = np.minimum(inside, np.minimum(np.roll(inside, 1, axis), np.roll(inside, -1, axis)))
    assert (a4[inside == 1] == 1).all()
    outside = a1.copy()
    for axis in (0, 1):
        outside = np.maximum(outside, np.maximum(np.roll(outside, 1, axis), np.roll(outside, -1, axis)))
    assert (a4[outside == 0] == 0).all()
    assert abs(a4.mean() - a1.mean()) < 0.01 * a1.mean()
    # A closed mesh's front faces cover its silhouette, so rgb = alpha-weighted albedo + background.
    blend = a4[..., None] * np.float32(ALBEDO) + (1 - a4[..., None]) * np.float32(BACKGROUND)
    np.testing.assert_allclose(fine["rgb"], blend, atol=1e-5)
    for name in ("depth", "face_id", "normal", "position"):       # these come from the plain render
        np.testing.assert_array_equal(fine[name], plain[name])


def bilinear_repeat(image: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Sample an (H, W, C) image, row 0 at the top, at uv with v up; bilinear, repeat wrap."""
    h, w = image.shape[:2]
    x, y = u * w - 0.5, (1 - v) * h - 0.5
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    at = lambda r, c: image[r % h, c % w]  # noqa: E731
    return ((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
            + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)))


def test_texture_uvs_are_oriented_like_obj_files(gl_renderer):
    # Image row 0 = top: red, green; bottom row: blue, white.
    texture = np.array([[[1, 0, 0], [0, 1, 0]], [[0, 0, 1], [1, 1, 1]]], dtype=np.float32)
    colours = torch.full((4, 3), 0.5)                   # ignored: the texture takes precedence
    mesh = facing_quad(texture=torch.tensor(texture), colors=colours)
    scene = make_scene(mesh, size=64).with_camera(azimuth=0.0, elevation=0.0, distance=2.0)
    out = gl_renderer.render(scene)
    mask = out["face_id"] >= 0
    top, left = np.arange(64)[:, None] < 32, np.arange(64)[None, :] < 32
    assert mask.sum() > 0.5 * 64 * 64
    for (is_top, is_left), colour in {(True, True): texture[0, 0], (True, False): texture[0, 1],
                                      (False, True): texture[1, 0], (False, False): texture[1, 1]}.items():
        # Pixels near the middle of each image quadrant, i.e. near a texel centre.
        region = mask & (top == is_top) & (left == is_left)
        centre = region & (np.abs(np.abs(out["position"][..., :2]) - 0.5) < 0.05).all(axis=-1)
        assert centre.any()
        np.testing.assert_allclose(out["rgb"][centre], np.broadcast_to(colour, (centre.sum(), 3)),
                                   atol=0.15)
    uv = (out["position"][mask][:, :2] + 1) / 2
    np.testing.assert_allclose(out["rgb"][mask], bilinear_repeat(texture, uv[:, 0], uv[:, 1]),
                               atol=0.01)


def test_vertex_colours_override_the_material(gl_renderer):
    colour = [0.1, 0.7, 0.3]
    mesh = facing_quad(colors=torch.tensor([colour] * 4))
    out = gl_renderer.render(make_scene(mesh, size=32).with_camera(azimuth=0.0, elevation=0.0))
    mask = out["face_id"] >= 0
    np.testing.assert_allclose(out["rgb"][mask], np.broadcast_to(colour, (mask.sum(), 3)), atol=1e-6)
    plain = gl_renderer.render(make_scene(facing_quad(), size=32).with_camera(azimuth=0.0, elevation=0.0))
    np.testing.assert_allclose(plain["rgb"][mask], np.broadcast_to(ALBEDO, (mask.sum(), 3)), atol=1e-6)


def test_float64_and_grad_tensors_render_like_float32(gl_renderer):
    mesh = sphere_mesh(2)
    scene = make_scene(mesh, lighting="phong")
    double = scene.replace(
        shape=mesh.with_verts(mesh.verts.double().requires_grad_()),
        camera=OrbitCamera(**{k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
                              for k, v in dict(azimuth=30.0, elevation=20.0).items()},
                           distance=torch.tensor(3.0, dtype=torch.float64)),
        lights=Lights(**{k: v.double() for k, v in vars(scene.lights).items()}),
        material=Material(albedo=torch.tensor(ALBEDO, dtype=torch.float64, requires_grad=True),
                          ka=torch.tensor(0.5, requires_grad=True)))
    a, b = gl_renderer.render(scene), gl_renderer.render(double)
    np.testing.assert_array_equal(a["face_id"], b["face_id"])
    for name in ("rgb", "alpha", "depth", "normal", "position"):
        assert b[name].dtype == np.float32
        np.testing.assert_allclose(a[name], b[name], atol=1e-5)


def test_changing_view_reuses_uploads_and_changing_vertices_reuploads(gl_renderer, monkeypatch):
    uploads = []
    build = reference.corner_vertex_data
    monkeypatch.setattr(reference, "corner_vertex_data", lambda m: uploads.append(1) or build(m))
    mesh = sphere_mesh(2)
    verts = mesh.verts.clone().requires_grad_()
    mesh = mesh.with_verts(verts)
    with GLRenderer(gl_renderer.ctx) as renderer:
        scene = make_scene(mesh, lighting="phong")
        first = renderer.render(scene)
        renderer.render(scene.with_camera(azimuth=75.0))
        renderer.render(scene.replace(lights=Lights.from_angles(10.0, 80.0, (1.0, 0.5, 0.5))))
        renderer.render(scene.replace(material=Material(albedo=[0.1, 0.2, 0.3], ks=0.9)))
        renderer.render(scene.with_settings(lighting="sh", flat_shading=True, double_sided=True))
        assert len(uploads) == 1
        assert renderer.cache_sizes() == {"meshes": 1, "textures": 0, "targets": 1}

        with torch.no_grad():                     # what an optimiser step does
            verts.mul_(0.5)
        moved = renderer.render(scene)
        assert len(uploads) == 2
        assert (moved["alpha"].sum() < 0.5 * first["alpha"].sum())
        verts.data.mul_(2.0)                      # bypasses the version counter; still noticed
        np.testing.assert_array_equal(renderer.render(scene)["alpha"], first["alpha"])
        assert len(uploads) == 3
        for i in range(2 * reference.MESH_CACHE_SIZE):
            renderer.render(scene.replace(shape=mesh.with_verts(verts.detach() * (1 - 0.01 * i))))
        assert renderer.cache_sizes()["meshes"] == reference.MESH_CACHE_SIZE
    with pytest.raises(RuntimeError, match="released"):
        renderer.render(scene)


def live_gl_object_counts(ctx) -> dict[str, int]:
    """How many GL names of each kind exist in ``ctx`` (current): glIs* over every name issued."""
    lib = ctypes.util.find_library("OpenGL") or ctypes.util.find_library("GL")
    if lib is None:
        pytest.skip("no libOpenGL to query object names with")
    gl = ctypes.CDLL(lib)
    # Fresh objects get names above all names issued so far (generously bounded for VAOs).
    probes = [ctx.buffer(reserve=4), ctx.texture((1, 1), 1), ctx.renderbuffer((1, 1))]
    limit = 4 * max(p.glo for p in probes) + 1000
    for p in probes:
        p.release()
    kinds = {"buffers": gl.glIsBuffer, "vertex_arrays": gl.glIsVertexArray,
             "textures": gl.glIsTexture, "renderbuffers": gl.glIsRenderbuffer,
             "framebuffers": gl.glIsFramebuffer}
    return {kind: sum(bool(is_name(i)) for i in range(1, limit)) for kind, is_name in kinds.items()}


def test_repeated_renders_do_not_leak_gl_objects(gl_renderer):
    mesh = sphere_mesh(1)
    texture = torch.rand(8, 8, 3)
    textured = Mesh(mesh.verts, mesh.faces, uvs=mesh.verts[:, :2] * 0.5 + 0.5, texture=texture)
    before = live_gl_object_counts(gl_renderer.ctx)
    renderer = GLRenderer(gl_renderer.ctx)

    def render_many(count: int) -> None:
        for i in range(count):
            base = textured if i % 2 else mesh
            scene = make_scene(base.with_verts(base.verts * (1 + 1e-3 * i)), size=24 + 8 * (i % 3),
                               lighting="phong", supersample=1 + i % 2)
            renderer.render(scene.with_camera(azimuth=float(i)))

    render_many(20)
    steady = live_gl_object_counts(gl_renderer.ctx)
    render_many(200)
    assert live_gl_object_counts(gl_renderer.ctx) == steady
    renderer.release()
    assert live_gl_object_counts(gl_renderer.ctx) == before


def test_render_gl_and_limits(gl_renderer):
    scene = make_scene(sphere_mesh(1), lighting="lambertian")
    np.testing.assert_array_equal(render_gl(scene, ctx=gl_renderer.ctx)["rgb"],
                                  gl_renderer.render(scene)["rgb"])
    many = Lights(directions=torch.randn(9, 3), colors=torch.ones(9, 3))
    with pytest.raises(ValueError, match="at most 8 lights"):
        gl_renderer.render(scene.replace(lights=many))
