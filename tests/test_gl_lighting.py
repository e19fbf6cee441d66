"""The GL reference renderer's shading equals DESIGN.md §4, written out here independently in numpy."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import trimesh

from renderer import Lights, Material, Mesh, OrbitCamera, RenderSettings, Scene

SIZE = 128
CAMERA = dict(azimuth=25.0, elevation=15.0, distance=3.0, fov=50.0)
# Deliberately not unit length: the renderer must normalise light directions itself.
LIGHT_DIRS = np.array([[0.5, 0.7, 0.6], [-0.8, 0.1, 0.3]])
LIGHT_COLORS = np.array([[1.0, 0.8, 0.6], [0.2, 0.3, 0.5]])
AMBIENT = np.array([0.3, 0.35, 0.4])
ALBEDO = np.array([0.9, 0.6, 0.3])
KA, KD, KS, SHININESS = 0.25, 0.6, 0.5, 16.0
SH_COEFFS = np.random.default_rng(7).normal(scale=0.3, size=(9, 3))


@pytest.fixture(scope="module")
def sphere() -> Mesh:
    ico = trimesh.creation.icosphere(subdivisions=5)              # 20,480 faces, unit radius
    return Mesh(torch.tensor(ico.vertices, dtype=torch.float32), torch.tensor(ico.faces))


def make_scene(mesh: Mesh, lighting: str, num_lights: int = 1, **settings) -> Scene:
    lights = Lights(ambient=torch.tensor(AMBIENT, dtype=torch.float32),
                    directions=torch.tensor(LIGHT_DIRS[:num_lights], dtype=torch.float32),
                    colors=torch.tensor(LIGHT_COLORS[:num_lights], dtype=torch.float32),
                    sh=torch.tensor(SH_COEFFS, dtype=torch.float32))
    material = Material(albedo=torch.tensor(ALBEDO, dtype=torch.float32), ka=KA, kd=KD, ks=KS,
                        shininess=SHININESS)
    return Scene(shape=mesh, camera=OrbitCamera(**CAMERA), lights=lights, material=material,
                 settings=RenderSettings(image_size=SIZE, renderer="gl", lighting=lighting,
                                         background=(0.05, 0.1, 0.15), **settings))


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def eye_position() -> np.ndarray:
    az, el = math.radians(CAMERA["azimuth"]), math.radians(CAMERA["elevation"])
    return CAMERA["distance"] * np.array([math.cos(el) * math.sin(az), math.sin(el),
                                          math.cos(el) * math.cos(az)])


def sh_irradiance_numpy(n: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """sum_k L_k c_k Y_k(n): real SH to band 2 in Kaolin's order, from their closed forms."""
    x, y, z = n[:, 0], n[:, 1], n[:, 2]
    y00 = 0.5 * math.sqrt(1 / math.pi)
    y1 = math.sqrt(3 / (4 * math.pi))
    y2 = 0.5 * math.sqrt(15 / math.pi)
    basis = np.stack([np.full_like(x, y00), -y1 * y, y1 * z, -y1 * x, y2 * x * y, -y2 * y * z,
                      0.25 * math.sqrt(5 / math.pi) * (3 * z * z - 1), -y2 * x * z,
                      0.25 * math.sqrt(15 / math.pi) * (x * x - y * y)], axis=1)
    bands = np.array([math.pi] + [2 * math.pi / 3] * 3 + [math.pi / 4] * 5)
    return (basis * bands) @ coeffs


def expected_colour(lighting: str, n: np.ndarray, p: np.ndarray, num_lights: int = 1) -> np.ndarray:
    """DESIGN.md §4 per pixel. n: (N, 3) unit normals; p: (N, 3) world positions -> (N, 3)."""
    if lighting == "none":
        return np.broadcast_to(ALBEDO, n.shape)
    if lighting == "sh":
        return ALBEDO * sh_irradiance_numpy(n, SH_COEFFS)
    v = unit(eye_position() - p)
    diffuse = np.broadcast_to(KA * AMBIENT, n.shape).copy()
    specular = np.zeros_like(n)
    for direction, colour in zip(LIGHT_DIRS[:num_lights], LIGHT_COLORS[:num_lights]):
        l = unit(direction)
        n_dot_l = n @ l
        diffuse += KD * np.maximum(0, n_dot_l)[:, None] * colour
        if lighting == "phong":
            r = 2 * n_dot_l[:, None] * n - l
            highlight = np.maximum(0, np.sum(r * v, axis=1)) ** SHININESS * (n_dot_l > 0)
            specular += KS * highlight[:, None] * colour
    return ALBEDO * diffuse + specular


def covered(out: dict) -> np.ndarray:
    mask = out["face_id"] >= 0
    assert mask.sum() > 0.2 * SIZE * SIZE
    assert (out["alpha"][mask] == 1).all()
    return mask


@pytest.mark.parametrize("flat", [False, True], ids=["smooth", "flat"])
def test_normal_buffer_matches_the_analytic_sphere_normal(gl_renderer, sphere, flat):
    out = gl_renderer.render(make_scene(sphere, "none", flat_shading=flat))
    mask = covered(out)
    n, p = out["normal"][mask], out["position"][mask].astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1, atol=1e-5)
    radius = np.linalg.norm(p, axis=1)
    assert radius.min() > 0.999 and radius.max() < 1 + 1e-5       # on the inscribed polyhedron
    angle = np.degrees(np.arccos(np.clip(np.sum(n * unit(p), axis=1), -1, 1)))
    # Smooth: interpolated vertex normals ~ radial; flat: up to about half an edge (~1 degree).
    assert angle.max() < (1.5 if flat else 0.2), angle.max()
    if flat:
        # Flat normals are constant per face and equal to the face's geometric normal.
        faces = out["face_id"][mask]
        v = sphere.verts.numpy()[sphere.faces.numpy()[faces]]
        geometric = unit(np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]))
        np.testing.assert_allclose(n, geometric, atol=1e-5)


@pytest.mark.parametrize("flat", [False, True], ids=["smooth", "flat"])
@pytest.mark.parametrize("lighting", ["none", "lambertian", "phong", "sh"])
def test_colour_equals_design_formula(gl_renderer, sphere, lighting, flat):
    out = gl_renderer.render(make_scene(sphere, lighting, flat_shading=flat))
    mask = covered(out)
    expected = expected_colour(lighting, out["normal"][mask].astype(np.float64),
                               out["position"][mask].astype(np.float64))
    error = np.abs(out["rgb"][mask] - expected).max()
    assert error < 1e-3, error
    np.testing.assert_array_equal(out["rgb"][~mask], np.broadcast_to(np.float32([0.05, 0.1, 0.15]),
                                                                       ((~mask).sum(), 3)))
    if lighting == "phong":  # the highlight is in view: brighter than any diffuse shade can be
        brightest_diffuse = ALBEDO[0] * (KA * AMBIENT[0] + KD * LIGHT_COLORS[0, 0])
        assert out["rgb"][mask][:, 0].max() > brightest_diffuse + 0.5 * KS


@pytest.mark.parametrize("lighting", ["lambertian", "phong"])
def test_several_lights_add_up(gl_renderer, sphere, lighting):
    out = gl_renderer.render(make_scene(sphere, lighting, num_lights=2))
    mask = covered(out)
    expected = expected_colour(lighting, out["normal"][mask].astype(np.float64),
                               out["position"][mask].astype(np.float64), num_lights=2)
    assert np.abs(out["rgb"][mask] - expected).max() < 1e-3
    one = gl_renderer.render(make_scene(sphere, lighting, num_lights=1))
    assert np.abs(out["rgb"] - one["rgb"]).max() > 0.05             # the second light matters


def test_lambertian_peak_faces_the_light(gl_renderer, sphere):
    out = gl_renderer.render(make_scene(sphere, "lambertian"))
    mask = covered(out)
    brightness = out["rgb"][mask].sum(axis=1)
    n_peak = out["normal"][mask][np.argmax(brightness)]
    angle = math.degrees(math.acos(min(1.0, float(n_peak @ unit(LIGHT_DIRS[0])))))
    assert angle < 3.0, angle


def test_phong_highlight_sits_at_the_half_way_direction(gl_renderer, sphere):
    scene = make_scene(sphere, "phong")
    scene = scene.replace(material=scene.material.replace(ka=torch.tensor(0.0), kd=torch.tensor(0.0)))
    out = gl_renderer.render(scene)
    mask = covered(out)
    peak = np.argmax(out["rgb"][mask].sum(axis=1))
    n_peak, p_peak = out["normal"][mask][peak], out["position"][mask][peak]
    l = unit(LIGHT_DIRS[0])
    half = unit(l + unit(eye_position() - p_peak))
    to_half = math.degrees(math.acos(min(1.0, float(n_peak @ half))))
    to_light = math.degrees(math.acos(min(1.0, float(n_peak @ l))))
    assert to_half < 3.0 and to_light > 10.0, (to_half, to_light)
    # With ka = kd = 0 only the highlight is left: black where it fades out, colour = light colour.
    rgb = out["rgb"][mask]
    assert rgb.min() == 0.0
    np.testing.assert_allclose(rgb[peak] / rgb[peak].max(), LIGHT_COLORS[0] / LIGHT_COLORS[0].max(),
                               atol=1e-4)
