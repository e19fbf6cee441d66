"""The pixel inspector: weights plus background weight sum to 1, the listed faces reproduce the
pixel's colour, and the pixel's vertex gradient is the derivative image at that pixel."""
from __future__ import annotations


import numpy as np
import pytest
import torch

from renderer.analysis.derivatives import derivative_image
from renderer.registry import get_renderer, renderer_names
from renderer.analysis.inspector import inspect_pixel
from tests.scenes import small_scene
from renderer.paths import shared_mesh

SPOT = shared_mesh("spot", "cow.obj")


@pytest.mark.parametrize("kind", renderer_names("mesh", differentiable=True))
@pytest.mark.parametrize("double_sided", [False, True])
def test_weights_sum_to_one_and_faces_reproduce_the_colour(kind, double_sided):
    scene = small_scene(kind, "phong", size=12, sigma=3e-3, gamma=3e-2, double_sided=double_sided)
    covered = 0
    for row in range(12):
        for col in range(12):
            rep = inspect_pixel(scene, row, col, with_gradients=False)
            # float64 scene; 1e-6 rather than 1e-12 only because of the renderer issue in
            # test_softras_pairs_exact_in_float64 below
            assert rep.weight_sum == pytest.approx(1.0, abs=1e-6)
            if not get_renderer(kind).antialiased:      # one face (or SoftRas's pairs) per pixel
                assert np.allclose(rep.reconstructed_rgb, rep.rgb, atol=1e-6), (row, col)
            assert all(f.weight >= 0 and 0 <= f.coverage <= 1 for f in rep.faces)
            weights = [f.weight for f in rep.faces]
            assert weights == sorted(weights, reverse=True)
            covered += bool(rep.faces)
    assert covered > 20


def test_softras_pairs_exact_in_float64():
    scene = small_scene("softras", "phong", size=12, sigma=3e-3, gamma=3e-2)
    worst = 0.0
    for row in range(12):
        for col in range(12):
            rep = inspect_pixel(scene, row, col, with_gradients=False)
            worst = max(worst, abs(rep.weight_sum - 1), float(np.abs(rep.reconstructed_rgb - rep.rgb).max()))
    assert worst <= 1e-12, worst


def test_softras_pixel_lists_every_face_in_reach():
    scene = small_scene("softras", "phong", size=16, sigma=3e-3, gamma=3e-2)
    rep = inspect_pixel(scene, 8, 8)
    assert len(rep.faces) >= 3                                  # overlapping faces blend here
    assert len({f.face for f in rep.faces}) == len(rep.faces)
    for f in rep.faces:
        assert f.bary.shape == (3,) and f.bary.min() >= 0 and f.bary.sum() == pytest.approx(1.0)
    text = "\n".join(rep.lines())
    assert "weights sum to 1.000000" in text and f"face {rep.faces[0].face:>6}" in text


@pytest.mark.parametrize("kind", ["softras", "dibr"])
def test_pixel_vertex_gradient_equals_derivative_image(kind):
    scene = small_scene(kind, "phong", size=16, sigma=3e-3, gamma=3e-2, dibr_delta=3e-3)
    row, col = 8, 7
    rep = inspect_pixel(scene, row, col)
    assert rep.grad_rgb.shape == (3, 10, 3) and rep.grad_alpha.shape == (10, 3)
    for v, axis in ((4, 1), (8, 0), (2, 2)):
        d = derivative_image(scene, f"vertex:{v}:{'xyz'[axis]}").d_image[row, col].numpy()
        assert np.allclose(rep.grad_rgb[:, v, axis], d[:3], rtol=1e-9, atol=1e-12)
        assert rep.grad_alpha[v, axis] == pytest.approx(d[3], rel=1e-9, abs=1e-12)
    top = rep.top_vertices(3)
    assert top and top[0][1] == pytest.approx(rep.vertex_pull().max())


def test_hard_pixel_pulls_no_vertex_and_bad_pixel_is_refused():
    scene = small_scene("hard", "phong", size=12)
    rep = inspect_pixel(scene, 6, 6)
    assert rep.faces and rep.vertex_pull().max() == 0.0
    with pytest.raises(ValueError, match="outside"):
        inspect_pixel(scene, 12, 0)


@pytest.mark.skipif(not SPOT.exists(), reason="Spot test mesh not available")
def test_spot_textured_pixel_is_reproduced():
    from renderer import Scene
    from renderer.io import load_mesh

    scene = Scene.default(load_mesh(SPOT), image_size=96, renderer="softras")
    scene = scene.with_camera(azimuth=torch.tensor(40.0), elevation=torch.tensor(20.0))
    rep = inspect_pixel(scene, 52, 40, with_gradients=False)
    assert rep.alpha > 0.5 and len(rep.faces) > 1
    assert rep.weight_sum == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(rep.reconstructed_rgb, rep.rgb, atol=1e-5)
