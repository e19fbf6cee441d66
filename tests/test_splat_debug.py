"""The splat debugging functions: the pixel inspector reproduces the render, dead splats have
exactly zero gradient and are named in words, footprints match the projected covariance, the
parameter groups drive derivative images, and the fit task runs in the optimize runner."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import renderer as dr
from renderer.splat.cloud import make_cloud
from renderer.splat.inspect import (dead_splats, footprint_ellipses, inspect_splat_pixel, splat_gradients)
from renderer.splat.project import project_splats


def scene_with_dead_splats():
    gen = torch.Generator().manual_seed(0)
    n = 120
    means = (torch.rand(n, 3, generator=gen) * 2 - 1) * 0.5
    opac = torch.rand(n, generator=gen) * 0.8 + 0.1
    scales = torch.rand(n, generator=gen) * 0.04 + 0.01
    opac[:4] = 0.003                              # below 1/255 everywhere: dead by opacity
    scales[4:8], opac[4:8] = 1e-5, 0.005          # a point splat: the 0.3 px^2 dilation makes its peak
    means[4:8, :2] = torch.tensor([[0.013, 0.011], [-0.21, 0.3], [0.27, -0.33], [0.05, 0.4]])
    cloud = make_cloud(means, scales, torch.rand(n, 3, generator=gen), opacities=opac)
    return dr.Scene(shape=cloud, settings=dr.RenderSettings(image_size=64, background=(0.3, 0.3, 0.3)))


def test_pixel_inspector_reproduces_the_render():
    scene = scene_with_dead_splats()
    with torch.no_grad():
        image = dr.render(scene).rgb
    for row, col in ((32, 32), (20, 41), (0, 0)):
        report = inspect_splat_pixel(scene, row, col)
        assert np.allclose(report.rgb, image[row, col].numpy(), atol=1e-5)
        weights = [f.weight for f in report.contributing]
        assert abs(sum(weights) + report.background_weight - 1) < 1e-5
        assert all(f.alpha < 1 / 255 for f in report.dropped)
        depths = [f.depth for f in report.contributing]
        assert depths == sorted(depths)
    assert any(inspect_splat_pixel(scene, 32, 32).dropped)


def test_dead_splats_have_exactly_zero_gradient_and_are_said_so():
    scene = scene_with_dead_splats()
    report = dead_splats(scene)
    assert set(range(4)) <= set(report.faint.tolist())
    assert len(report.dead) >= 4 and "gradient is exactly zero" in report.sentence
    assert report.sentence.startswith(f"{len(report.dead)} of {report.in_view} splats in view are dead")
    target = torch.rand(64, 64, 3, generator=torch.Generator().manual_seed(1))
    grads = splat_gradients(scene, target_rgb=target)
    assert float(grads.magnitude[report.dead].abs().max()) == 0.0
    assert float(grads.params["opacities"][report.dead].abs().max()) == 0.0
    alive = torch.ones(scene.shape.num_splats, dtype=torch.bool)
    alive[report.dead] = False
    assert (grads.magnitude[alive] > 0).float().mean() > 0.9     # the living ones mostly do get one
    clean = scene.replace(shape=scene.shape.with_params(opacities=scene.shape.opacities.clamp_min(0.5)))
    assert dead_splats(clean).sentence.startswith("No dead splats")


def test_screen_gradient_is_the_chain_rule_of_the_world_gradient():
    """dL/dmu = J^T dL/dmu_2D (the means reach the image only through mu_2D, depth and colour;
    with a flat colour and the depth buffer unused, through mu_2D and the depth order alone)."""
    scene = scene_with_dead_splats()
    g = splat_gradients(scene, dl_drgb=torch.ones(64, 64, 3))
    assert g.d_mean2d.shape == (scene.shape.num_splats, 2) and float(g.d_mean2d.abs().sum()) > 0


def test_footprints_follow_the_projected_covariance():
    scene = scene_with_dead_splats()
    prints = footprint_ellipses(scene, [10, 11], sigmas=(1.0, 3.0))
    proj = project_splats(scene.shape, scene.camera, 64)
    for fp in prints:
        cov = proj.cov2d[fp.splat].double().numpy()
        assert np.allclose(sorted(fp.axes ** 2), sorted(np.linalg.eigvalsh(cov)), rtol=1e-5)
        # every point of the 1-sigma outline is at Mahalanobis distance 1
        d = fp.outlines[1.0] - fp.center
        assert np.allclose(np.einsum("pi,ij,pj->p", d, np.linalg.inv(cov), d), 1.0, atol=1e-6)
        assert 0 < fp.compensation < 1
    with pytest.raises(ValueError, match="does not exist"):
        footprint_ellipses(scene, [10_000])


def test_parameter_groups_drive_derivative_images():
    from renderer.analysis import derivative_image, parse_param
    from renderer.analysis.element_inspector import inspect_element_pixel

    scene = scene_with_dead_splats()
    assert parse_param("splat:3:opacity", scene).group == "splat_opacities"
    assert parse_param("splat:3:y", scene).index == (3, 1)
    with pytest.raises(ValueError, match="only 120 splats"):
        parse_param("splat:500:x", scene)
    for name in ("splat:40:x", "splat:40:opacity"):
        jvp = derivative_image(scene, name, method="jvp").d_image
        fd = derivative_image(scene, name, method="fd").d_image
        assert float(jvp.abs().sum()) > 0
        cos = float((jvp * fd).sum() / (jvp.norm() * fd.norm()))
        assert cos > 0.99, (name, cos)
    table = inspect_element_pixel(scene, 32, 32)
    assert table.columns[:4] == ("splat", "alpha", "T", "w = alpha T") and table.rows


def test_fit_task_runs_in_the_optimize_runner():
    from renderer.optimize.presets import build_run
    from renderer.optimize.runner import Run

    source = dr.Scene.default(dr.load(__import__("renderer.assets", fromlist=["asset_path"]).asset_path("knot")))
    task, config = build_run("splats", scene=source, size=32, splats=300, num_views=3, steps=4)
    run = Run(task, config).run()
    assert run.next_step == 4
    losses = run.timeline.scalar("loss")
    assert np.isfinite(losses).all()


def test_dead_splat_scene_and_the_gradient_painter():
    from renderer.analysis import element_view
    from renderer.splat.bench import dead_splat_scene

    scene = dead_splat_scene(size=64)
    report = dead_splats(scene)
    assert len(report.faint) >= 400 and len(report.tiny) > 0 and "exactly zero" in report.sentence
    grads = splat_gradients(scene, target_rgb=torch.zeros(64, 64, 3))
    view = element_view(scene, grads.params["means"].numpy(), grads.magnitude.numpy())
    assert view.values.shape == (64, 64) and np.isfinite(view.values).any()
    assert view.arrows is not None and view.arrows.shape[1:] == (2, 2)
    assert any("exactly zero gradient" in line for line in view.lines)
