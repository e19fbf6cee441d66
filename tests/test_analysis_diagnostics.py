"""Each diagnostic check, on a scene made to trigger it (and not on a healthy one)."""
from __future__ import annotations

import math

import pytest
import torch

from renderer import Mesh
from renderer.analysis.diagnostics import diagnose, sigma_for_width
from renderer.analysis.losses import Target
from renderer.analysis.targets import render_target
from tests.scenes import small_scene

F64 = torch.float64


def codes(findings) -> list[str]:
    return [f.code for f in findings]


@pytest.fixture(scope="module")
def scene():
    return small_scene("softras", "phong", size=32, sigma=1e-3, gamma=1e-2)


@pytest.fixture(scope="module")
def target(scene):
    return render_target(scene, {"azimuth": 30.0}, renderer="softras")


def disc(size: int, row: float, col: float, radius: float) -> Target:
    yy, xx = torch.meshgrid(torch.arange(size, dtype=F64), torch.arange(size, dtype=F64), indexing="ij")
    a = (((yy - row) ** 2 + (xx - col) ** 2) < radius ** 2).to(F64)
    return Target(a[..., None].repeat(1, 1, 3), a)


def test_healthy_scene_reports_only_the_direction(scene, target):
    found = diagnose(scene, target, "silhouette", true_values={"azimuth": 30.0})
    assert codes(found) == ["right-direction"]
    assert "moves azimuth toward the target" in found[0].message


def test_saturated_sigma(scene, target):
    found = diagnose(scene.with_settings(sigma=1e-7), target, "silhouette")
    f = next(f for f in found if f.code == "sigma-saturated")
    assert f.severity == "error"
    assert "px wide at this resolution: the sigmoid saturates and only" in f.message
    assert "% of pixels carry geometry" in f.message
    assert sigma_for_width(2.0, 32) == pytest.approx((4 / 32) ** 2 / math.log(9999))   # D >= 1e-4 band


def test_blurred_sigma(scene, target):
    found = diagnose(scene.with_settings(sigma=3e-2), target, "silhouette")
    assert "sigma-blurred" in codes(found)
    assert "larger than the hard one" in next(f.message for f in found if f.code == "sigma-blurred")


def test_hard_renderer(scene, target):
    found = diagnose(scene.with_settings(renderer="hard"), target, "silhouette")
    assert found[0].code == "hard-no-visibility-gradient" and found[0].severity == "error"
    assert found[0].message.startswith("hard renderer: no visibility gradient")
    photometric = diagnose(scene.with_settings(renderer="hard"), target, "l2")
    assert next(f for f in photometric if f.code == "hard-no-visibility-gradient").severity == "warning"


def test_nan_traced_to_its_face(scene, target):
    verts = scene.mesh.verts.clone()
    verts[9, 0] = float("nan")                          # a diverged optimisation step
    found = diagnose(scene.replace(shape=scene.mesh.with_verts(verts)), target, "silhouette")
    f = next(f for f in found if f.code == "nan-gradient")
    assert f.message.startswith("NaN in dL/dV") and "from face 3 (non-finite vertex coordinates)" in f.message


def test_exploding_gradient_from_screen_degenerate_face(scene, target):
    m = scene.mesh
    sliver = torch.tensor([[0.2, -0.2, 0.7], [0.2 + 1e-6, 0.3, 0.7], [0.2, 0.5, 0.7]], dtype=F64)
    mesh = Mesh(verts=torch.cat([m.verts, sliver]), faces=torch.cat([m.faces, torch.tensor([[10, 11, 12]])]),
                colors=torch.cat([m.colors, torch.full((3, 3), 0.5, dtype=F64)]))
    s = scene.replace(shape=mesh).with_camera(azimuth=torch.tensor(0.0, dtype=F64),
                                             elevation=torch.tensor(0.0, dtype=F64))
    found = diagnose(s, target, "l2")
    f = next(f for f in found if f.code == "exploding-gradient")
    assert f.severity == "error" and "times this scene's typical vertex gradient" in f.message
    assert "from face 4 (degenerate in screen space" in f.message
    # the same scene without the sliver: its gradients are sparse but nothing explodes
    healthy = diagnose(scene.with_camera(azimuth=torch.tensor(0.0, dtype=F64),
                                         elevation=torch.tensor(0.0, dtype=F64)), target, "l2")
    assert "exploding-gradient" not in codes(healthy)


def test_no_overlap(scene):
    far = disc(32, 3, 3, 2.5)
    iou = diagnose(scene, far, "silhouette")
    f = next(f for f in iou if f.code == "no-overlap")
    assert f.message.startswith("the target and render do not overlap: silhouette gradient is zero everywhere")
    mse = diagnose(scene, far, "silhouette-mse")
    assert "only shrinks the render" in next(f.message for f in mse if f.code == "no-overlap")


def test_target_out_of_reach(scene):
    whole = Target(torch.ones(32, 32, 3, dtype=F64), torch.ones(32, 32, dtype=F64))
    found = diagnose(scene, whole, "silhouette")
    f = next(f for f in found if f.code == "target-out-of-reach")
    assert f.severity == "warning" and "start closer" in f.message


@pytest.fixture(scope="module")
def realistic_scenes():
    """The app's opening views of Spot and the knot at 256 px, against the default target (the
    reference 15 deg further round): what a user sees first."""
    from renderer import OrbitCamera, Scene
    from renderer.assets import load_asset
    from renderer.io import load_mesh
    from renderer.paths import shared_mesh

    spot = shared_mesh("spot", "cow.obj")
    meshes = ([load_mesh(spot)] if spot.exists() else []) + [load_asset("knot")]
    camera = OrbitCamera(azimuth=30.0, elevation=20.0, distance=2.6, fov=60.0)
    return [Scene.default(m, image_size=256).replace(camera=camera).with_settings(sigma=sigma)
            for m in meshes for sigma in (1e-5, 1e-4, 3e-4)]


@pytest.mark.parametrize("loss", ["silhouette", "silhouette-mse", "l2"])
def test_normal_scenes_raise_no_alarm(realistic_scenes, loss):
    """Sparse silhouette gradients and a target some degrees away are normal: no error, no
    warning (issue 13: "[error] dL/dV explodes" on Spot's opening view)."""
    for scene in realistic_scenes:
        target = render_target(scene, {"azimuth": 45.0}, renderer="gl")
        found = diagnose(scene, target, loss)
        alarms = [str(f) for f in found if f.severity in ("error", "warning")]
        assert not alarms, (scene.mesh.name, scene.settings.sigma, alarms)


def test_nothing_visible(scene, target):
    behind = scene.with_camera(distance=torch.tensor(-3.0, dtype=F64))
    assert codes(diagnose(behind, target, "silhouette"))[0] == "nothing-visible"


def test_wrong_direction(scene, target):
    # the target was made at azimuth 30; claim it was made at 0: the gradient now points "away"
    found = diagnose(scene, target, "silhouette", true_values={"azimuth": 0.0})
    assert "wrong-direction" in codes(found)
