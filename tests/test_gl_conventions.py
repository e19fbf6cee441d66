"""The GL reference renderer obeys DESIGN.md §2: where points land, which way is up, what depth is."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import trimesh

from renderer import Mesh, OrbitCamera, RenderSettings, Scene, project_points
from renderer.lighting import Material

# Asymmetric anchor points: no mirror or flip of the image maps this set onto itself.
ANCHORS = np.array([[0.55, 0.30, 0.10], [-0.45, 0.60, -0.20], [0.10, -0.55, 0.40],
                    [-0.35, -0.25, -0.50], [0.20, 0.05, 0.70]])

CAMERAS = [
    dict(azimuth=0.0, elevation=0.0, distance=3.0, fov=60.0),
    dict(azimuth=37.0, elevation=20.0, distance=2.5, fov=45.0),
    dict(azimuth=-120.0, elevation=-35.0, distance=4.0, fov=30.0),
    dict(azimuth=200.0, elevation=70.0, distance=3.5, fov=75.0),
]


def make_mesh(verts, faces, **extra) -> Mesh:
    return Mesh(torch.as_tensor(np.asarray(verts), dtype=torch.float32),
                torch.as_tensor(np.asarray(faces), dtype=torch.int64), **extra)


def make_scene(mesh: Mesh, camera: OrbitCamera, size: int = 64, **settings) -> Scene:
    settings.setdefault("lighting", "none")
    return Scene(shape=mesh, camera=camera, material=Material(albedo=[0.9, 0.5, 0.2]),
                 settings=RenderSettings(image_size=size, renderer="gl", **settings))


def facing_triangles(camera: OrbitCamera, anchors: np.ndarray, side: float):
    """Right triangles p, p + side*right, p + side*up: counter-clockwise as seen by the camera."""
    right, up, _ = camera.basis().double().numpy()
    verts = np.concatenate([anchors, anchors + side * right, anchors + side * up])
    n = len(anchors)
    faces = np.stack([np.arange(n), np.arange(n) + n, np.arange(n) + 2 * n], axis=1)
    return verts, faces


def pixel_centres(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) grids of the continuous pixel-centre coordinates (r + 0.5, c + 0.5)."""
    r, c = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    return r, c


@pytest.mark.parametrize("cam", CAMERAS, ids=lambda c: f"az{c['azimuth']:g}_el{c['elevation']:g}")
def test_projected_triangle_centroids_match_gl_pixels(gl_renderer, cam):
    size = 256
    camera = OrbitCamera(**cam)
    # Side scaled with distance and fov so every triangle covers a few hundred pixels.
    side = 0.12 * cam["distance"] * math.tan(math.radians(cam["fov"]) / 2)
    verts, faces = facing_triangles(camera, ANCHORS, side)
    out = gl_renderer.render(make_scene(make_mesh(verts, faces), camera, size))

    projected = project_points(torch.tensor(verts, dtype=torch.float32), camera, size).numpy()
    expected = projected[faces].mean(axis=1)            # (F, 2) centroid (col, row)
    edges = projected[faces[:, 1:]] - projected[faces[:, :1]]
    areas = 0.5 * np.abs(edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0])

    rows, cols = pixel_centres(size)
    for f in range(len(faces)):
        mask = out["face_id"] == f
        # Pixel count = projected area also shows that no triangle hides part of another.
        assert abs(mask.sum() - areas[f]) < 0.05 * areas[f] + 10, (f, mask.sum(), areas[f])
        got = np.array([cols[mask].mean(), rows[mask].mean()])
        assert np.abs(got - expected[f]).max() < 0.5, (f, got, expected[f])


def test_position_buffer_projects_back_to_pixel_centres(gl_renderer):
    """Every covered pixel's world position projects (torch camera) onto that pixel's centre."""
    camera = OrbitCamera(azimuth=-50.0, elevation=25.0, distance=2.7, fov=50.0)
    sphere = trimesh.creation.icosphere(subdivisions=3)
    size = 96
    out = gl_renderer.render(make_scene(make_mesh(sphere.vertices, sphere.faces), camera, size))
    mask = out["face_id"] >= 0
    pos = torch.tensor(out["position"][mask], dtype=torch.float64)
    pix = project_points(pos, camera.replace(azimuth=camera.azimuth.double(),
                                             elevation=camera.elevation.double(),
                                             distance=camera.distance.double(),
                                             fov=camera.fov.double()), size).numpy()
    rows, cols = pixel_centres(size)
    assert np.abs(pix[:, 0] - cols[mask]).max() < 0.02
    assert np.abs(pix[:, 1] - rows[mask]).max() < 0.02


def test_azimuth_zero_looks_from_plus_z_and_axes_point_right_and_up(gl_renderer):
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    mesh = make_mesh(box.vertices, box.faces)
    normals = box.face_normals
    size = 64
    centre = size // 2
    for cam, axis in [(dict(azimuth=0.0), 2), (dict(azimuth=90.0), 0), (dict(elevation=90.0), 1)]:
        out = gl_renderer.render(make_scene(mesh, OrbitCamera(**cam), size))
        face = out["face_id"][centre, centre]
        assert face >= 0 and normals[face][axis] > 0.99, (cam, face, normals[face])

    # Two small triangles: one up at +Y, one right at +X; seen from azimuth 0.
    camera = OrbitCamera()
    verts, faces = facing_triangles(camera, np.array([[0.0, 0.7, 0.0], [0.7, 0.0, 0.0]]), 0.2)
    face_id = gl_renderer.render(make_scene(make_mesh(verts, faces), camera, size))["face_id"]
    up_rows, _ = np.nonzero(face_id == 0)
    _, right_cols = np.nonzero(face_id == 1)
    assert up_rows.size and up_rows.max() < size // 2 - 4     # +Y in the upper rows (row 0 = top)
    assert right_cols.size and right_cols.min() > size // 2 + 4   # +X on the right


def test_depth_is_view_space_distance_on_a_tilted_plane(gl_renderer):
    """Plane z = 0.2 + 0.3 x seen from azimuth 0 (eye at (0, 0, 3)): along the ray through NDC
    (x, y), view-space depth is lambda = 2.8 / (1 + 0.3 x tan(fov/2)), closed form."""
    size, fov = 64, 50.0
    xs = np.array([-2.0, 2.0, 2.0, -2.0])
    ys = np.array([-2.0, -2.0, 2.0, 2.0])
    verts = np.stack([xs, ys, 0.2 + 0.3 * xs], axis=1)
    faces = np.array([[0, 1, 2], [0, 2, 3]])                   # counter-clockwise from +Z
    camera = OrbitCamera(fov=fov)
    out = gl_renderer.render(make_scene(make_mesh(verts, faces), camera, size))
    assert (out["face_id"] >= 0).all()

    rows, cols = np.arange(size)[:, None], np.arange(size)[None, :]
    ndc_x = np.broadcast_to(-1 + (2 * cols + 1) / size, (size, size))
    ndc_y = np.broadcast_to(1 - (2 * rows + 1) / size, (size, size))
    t = math.tan(math.radians(fov) / 2)
    depth = 2.8 / (1 + 0.3 * ndc_x * t)
    np.testing.assert_allclose(out["depth"], depth, atol=1e-4)
    expected_pos = np.stack([depth * ndc_x * t, depth * ndc_y * t, 3 - depth], axis=-1)
    np.testing.assert_allclose(out["position"], expected_pos, atol=1e-4)
    n = np.array([-0.3, 0.0, 1.0]) / math.hypot(0.3, 1.0)
    np.testing.assert_allclose(out["normal"], np.broadcast_to(n, out["normal"].shape), atol=1e-5)


def test_background_buffers(gl_renderer):
    verts, faces = facing_triangles(OrbitCamera(), np.array([[0.1, -0.2, 0.0]]), 0.5)
    bg = (0.2, 0.4, 0.6)
    out = gl_renderer.render(make_scene(make_mesh(verts, faces), OrbitCamera(), 48, background=bg))
    bgmask = out["face_id"] == -1
    assert 0 < bgmask.sum() < bgmask.size
    np.testing.assert_array_equal(out["rgb"][bgmask], np.broadcast_to(np.float32(bg), (bgmask.sum(), 3)))
    assert (out["alpha"][bgmask] == 0).all() and (out["alpha"][~bgmask] == 1).all()
    assert (out["depth"][bgmask] == 0).all() and (out["normal"][bgmask] == 0).all()
    assert (out["position"][bgmask] == 0).all()
    np.testing.assert_allclose(out["rgb"][~bgmask], np.broadcast_to([0.9, 0.5, 0.2], ((~bgmask).sum(), 3)))
    assert out["face_id"].dtype == np.int32 and out["rgb"].dtype == np.float32


def test_back_faces_culled_for_colour_but_counted_in_alpha(gl_renderer):
    camera = OrbitCamera()
    verts, faces = facing_triangles(camera, np.array([[-0.5, -0.5, 0.0]]), 1.5)
    back = faces[:, ::-1].copy()                                   # clockwise: a back face
    bg = (0.1, 0.2, 0.3)
    mesh = make_mesh(verts, back)
    single = gl_renderer.render(make_scene(mesh, camera, 48, background=bg))
    covered = single["alpha"] == 1
    assert covered.sum() > 100
    assert set(np.unique(single["alpha"])) == {0.0, 1.0}
    assert (single["face_id"] == -1).all()
    np.testing.assert_array_equal(single["rgb"], np.broadcast_to(np.float32(bg), single["rgb"].shape))

    double = gl_renderer.render(make_scene(mesh, camera, 48, background=bg, double_sided=True))
    np.testing.assert_array_equal(double["face_id"] == 0, covered)
    np.testing.assert_array_equal(double["alpha"], single["alpha"])
    # The shading normal of a back face is flipped toward the viewer (+Z here).
    geometric = np.cross(verts[back[0, 1]] - verts[back[0, 0]], verts[back[0, 2]] - verts[back[0, 0]])
    assert geometric[2] < 0
    np.testing.assert_allclose(double["normal"][covered], np.broadcast_to([0, 0, 1], (covered.sum(), 3)),
                               atol=1e-5)
