"""Loss landscapes: the sweep's autograd derivative against the slope of its own loss curve,
the minimum at the target, several sigmas, and the 2-D scan."""
from __future__ import annotations

import numpy as np
import pytest

from renderer.analysis.figures import figure_rgba, landscape_figure, scan_figure
from renderer.analysis.landscape import loss_scan_2d, loss_sweep
from renderer.analysis.targets import render_target
from tests.scenes import small_scene


@pytest.fixture(scope="module")
def scene():
    return small_scene("softras", "phong", size=24, sigma=2e-3, gamma=1e-2)


def test_sweep_minimum_at_target_and_gradient_matches_slope(scene):
    target = render_target(scene, {"azimuth": 25.0}, renderer="softras")
    values = 25.0 + np.linspace(-10, 10, 41)
    sweep = loss_sweep(scene, target, "silhouette-mse", "azimuth", values, target_value=25.0)
    assert sweep.loss.shape == sweep.grad.shape == (1, 41)
    assert sweep.minima() == [pytest.approx(25.0)]
    assert sweep.loss[0, 20] == pytest.approx(0.0, abs=1e-12)
    # autograd derivative vs central differences along the curve (0.5 deg spacing): same shape
    slope = sweep.slope()[0, 1:-1]
    grad = sweep.grad[0, 1:-1]
    assert np.corrcoef(slope, grad)[0, 1] > 0.99
    assert np.all(np.sign(grad[:15]) == -1) and np.all(np.sign(grad[-15:]) == 1)


def test_sweep_several_sigmas_and_figure(scene):
    target = render_target(scene, {"elevation": 5.0}, renderer="gl")
    sweep = loss_sweep(scene, target, "silhouette", "elevation", np.linspace(-15, 25, 9),
                       sigmas=[1e-4, 1e-3, 1e-2], target_value=5.0)
    assert sweep.labels == ["sigma=0.0001", "sigma=0.001", "sigma=0.01"]
    assert sweep.loss.shape == (3, 9) and np.isfinite(sweep.loss).all()
    # blurrier silhouettes cannot match the sharp GL target as well at the target value
    at_target = sweep.loss[:, 5]
    assert at_target[2] > at_target[0]
    image = figure_rgba(landscape_figure(sweep, "test"))
    assert image.ndim == 3 and image.shape[2] == 4 and image.std() > 0
    assert set(sweep.arrays()) >= {"values", "loss", "grad", "slope", "labels", "sigmas"}


def test_non_softras_renderer_gives_one_curve(scene):
    target = render_target(scene, renderer="dibr")
    sweep = loss_sweep(scene.with_settings(renderer="dibr"), target, "l2", "light_azimuth",
                       [20.0, 40.0, 60.0], sigmas=[1e-4, 1e-3])
    assert sweep.labels == ["dibr"] and sweep.minima() == [pytest.approx(40.0)]


def test_scan_2d(scene):
    target = render_target(scene, {"azimuth": 20.0, "elevation": 10.0}, renderer="softras")
    scan = loss_scan_2d(scene, target, "silhouette", "azimuth", [10.0, 20.0, 30.0],
                        "elevation", [0.0, 10.0, 20.0], with_grad=True, target_value=(20.0, 10.0))
    assert scan.loss.shape == (3, 3) and scan.grad.shape == (2, 3, 3)
    assert scan.minimum() == (pytest.approx(20.0), pytest.approx(10.0))
    assert scan.grad[0, 1, 0] < 0 < scan.grad[0, 1, 2]        # dL/dazimuth points back to 20
    assert figure_rgba(scan_figure(scan, "scan")).shape[2] == 4
    with pytest.raises(ValueError, match="two different"):
        loss_scan_2d(scene, target, "silhouette", "azimuth", [1.0], "azimuth", [1.0])


def test_sweep_with_the_exact_curve(scene):
    """The exact curve: the box-filtered image's loss, whose autograd derivative (exact edge
    integrals) follows the slope of its own loss curve, minimum at the target."""
    target = render_target(scene, {"azimuth": 25.0}, renderer="gl")
    values = 25.0 + np.linspace(-6, 6, 13)
    sweep = loss_sweep(scene, target, "silhouette-mse", "azimuth", values, sigmas=[1e-3],
                       target_value=25.0, exact=True)
    assert sweep.labels == ["sigma=0.001", "exact (box-filtered)"] and sweep.sigmas == [1e-3, None]
    exact_loss, exact_grad = sweep.loss[1], sweep.grad[1]
    assert sweep.minima()[1] == pytest.approx(25.0)
    # the exact renderer's box filter (4 x 4 samples) against the GL one (4 x 4): the same image
    assert exact_loss[6] < 1e-3 * exact_loss.max()
    slope = sweep.slope()[1, 1:-1]
    assert np.corrcoef(slope, exact_grad[1:-1])[0, 1] > 0.99
    assert np.all(exact_grad[:5] < 0) and np.all(exact_grad[-5:] > 0)
    image = figure_rgba(landscape_figure(sweep, "exact"))
    assert image.shape[2] == 4
    # the exact renderer's own sweep has no second exact curve
    assert loss_sweep(scene.with_settings(renderer="edge"), target, "silhouette-mse", "azimuth", values[:3],
                      exact=True).labels == ["edge"]
