"""Scene model: copies are independent, the camera is differentiable and finite everywhere."""
from __future__ import annotations

import math

import pytest
import torch

from renderer import Material, OrbitCamera, RenderSettings, Scene, direction_from_angles
from tests.scenes import few_triangles


def test_eye_and_view_matrix_conventions():
    cam = OrbitCamera(azimuth=0.0, elevation=0.0, distance=2.0)
    assert torch.allclose(cam.eye, torch.tensor([0.0, 0.0, 2.0]))            # azimuth 0 looks from +Z
    cam = OrbitCamera(azimuth=90.0, elevation=0.0, distance=2.0)
    assert torch.allclose(cam.eye, torch.tensor([2.0, 0.0, 0.0]), atol=1e-6)
    view = cam.view_matrix()
    # the target lies straight ahead, on the -Z axis of view space
    target_view = view @ torch.tensor([0.0, 0.0, 0.0, 1.0])
    assert torch.allclose(target_view, torch.tensor([0.0, 0.0, -2.0, 1.0]), atol=1e-6)
    # world up stays up in view space, and the rotation is orthonormal and right-handed
    rot = view[:3, :3]
    assert torch.allclose(rot @ rot.T, torch.eye(3), atol=1e-6)
    assert torch.det(rot) == pytest.approx(1.0, abs=1e-6)
    assert (rot @ torch.tensor([0.0, 1.0, 0.0]))[1] > 0.99


def test_projection_matches_opengl_closed_form():
    cam = OrbitCamera(fov=60.0, near=0.1, far=100.0)
    p = cam.projection_matrix()
    f = 1 / math.tan(math.radians(30))
    assert p[0, 0].item() == pytest.approx(f) and p[1, 1].item() == pytest.approx(f)
    assert p[2, 2].item() == pytest.approx(-100.1 / 99.9) and p[2, 3].item() == pytest.approx(-20 / 99.9)
    assert p[3, 2].item() == -1


@pytest.mark.parametrize("elevation", [-90.0, -89.9, 0.0, 89.9, 90.0])
def test_camera_finite_at_the_poles(elevation):
    cam = OrbitCamera(azimuth=33.0, elevation=elevation, distance=3.0)
    assert torch.isfinite(cam.view_projection()).all()


def test_camera_gradcheck():
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (25.0, 35.0, 2.5, 50.0)]

    def fn(az, el, dist, fov):
        return OrbitCamera(azimuth=az, elevation=el, distance=dist, fov=fov).view_projection()

    assert torch.autograd.gradcheck(fn, params)


def test_direction_from_angles_is_unit():
    d = direction_from_angles(123.0, -40.0)
    assert d.norm().item() == pytest.approx(1.0)


def test_copy_is_independent_and_replace_is_cheap():
    scene = Scene.default(few_triangles(torch.float32), lighting="lambertian")
    copy = scene.copy()
    copy.camera.azimuth.add_(10.0)
    copy.material.ka.add_(0.1)
    assert scene.camera.azimuth.item() == 0.0 and scene.material.ka.item() == pytest.approx(0.5)
    moved = scene.with_camera(azimuth=45.0)
    assert moved.mesh is scene.mesh and moved.camera.azimuth.item() == 45.0
    assert scene.camera.azimuth.item() == 0.0
    assert scene.with_settings(sigma=1e-3).settings.sigma == 1e-3 and scene.settings.sigma == 1e-4


def test_material_defaults_per_lighting_model():
    assert Material.for_lighting("lambertian").kd.item() == pytest.approx(0.5)
    phong = Material.for_lighting("phong")
    assert (phong.ka.item(), phong.kd.item(), phong.ks.item(), phong.shininess.item()) == \
        pytest.approx((0.5, 0.3, 0.2, 64.0))


@pytest.mark.parametrize("bad", [dict(renderer="vulkan"), dict(lighting="neon"), dict(sigma=0.0),
                                 dict(gamma=float("nan")), dict(image_size=0), dict(supersample=9)])
def test_settings_validation(bad):
    with pytest.raises(ValueError):
        RenderSettings(**bad)


def test_edge_width_in_pixels():
    # D = sigmoid(-d2 / sigma) >= 1e-4 while d2 < sigma ln(9999); NDC spans 2 over 256 px
    assert RenderSettings(image_size=256, sigma=1e-4).edge_width_px() == pytest.approx(math.sqrt(math.log(9999) * 1e-4) * 128)
