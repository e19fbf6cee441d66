"""The gradient-methods comparison: numbers against numbers computed another way.

- a copy of the exact renderer under another name agrees with it exactly (cosines 1, ratios 1);
- the exact dL/dtheta equals the slope of the loss of a finely supersampled box-filtered image;
- the hard renderer's geometry gradient is exactly zero, and reported as pointing nowhere;
- a renderer without an image derivative gets dL/dtheta and dL/dV only, and says so;
- SoftRas's per-pixel agreement falls once its band is wider than a pixel;
- the figure labels every panel; the CLI verb writes the figure and the npz.
"""
from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import pytest

from renderer.analysis.compare import compare_gradient_methods, default_methods, sigma_agreement_curve
from renderer.analysis.figures import comparison_figure, figure_rgba
from renderer.analysis.gradients import loss_value
from renderer.analysis.params import param_value, with_param
from renderer.analysis.targets import render_target
from renderer.registry import get_renderer, register_renderer, unregister_renderer
from tests.scenes import small_scene


@pytest.fixture(scope="module")
def scene():
    return small_scene("softras", "phong", size=24, sigma=1e-4, gamma=1e-3)


@pytest.fixture
def twins():
    """An exact twin ("edge_twin") and softras without its image derivative ("soft_loss_only")."""
    # (the registration module is never imported here: importing it ahead of load_plugins would
    # register "edge" first and change the registry's order for every later test)
    soft = get_renderer("softras")
    register_renderer(replace(get_renderer("edge"), name="edge_twin"))
    register_renderer(replace(soft, name="soft_loss_only", image_derivative=False))

    def refuse(scene, with_pairs=False):
        raise ValueError("this render would form 9,999,999,999 pairs")

    register_renderer(replace(soft, name="soft_refusing", render=refuse))
    yield
    for name in ("edge_twin", "soft_loss_only", "soft_refusing"):
        unregister_renderer(name)


def test_methods_against_the_exact_one(scene, twins):
    target = render_target(scene, {"azimuth": 26.0})
    c = compare_gradient_methods(scene, target, "l2", "azimuth", methods=["edge_twin", "softras", "hard", "soft_loss_only",
                                                                     "soft_refusing"])
    by = {m.name: m for m in c.methods}
    assert c.truth.name == "edge" and c.channel == "rgb"
    # the twin is the exact method under another name: every measure says "identical"
    twin = by["edge_twin"]
    assert twin.per_pixel.cosine == pytest.approx(1.0) and twin.band.cosine_alpha == pytest.approx(1.0)
    assert twin.magnitude_ratio == pytest.approx(1.0) and twin.dL_dtheta_ratio == pytest.approx(1.0)
    assert twin.same_direction and twin.dL_dV_cosine == pytest.approx(1.0)
    # the exact dL/dtheta is the slope of the loss of the box-filtered image (8 x 8 samples, +-0.5 deg)
    fine = scene.with_settings(renderer="edge", supersample=8)
    az = param_value(scene, "azimuth")
    slope = (loss_value(with_param(fine, "azimuth", az + 0.5), target, "l2")
             - loss_value(with_param(fine, "azimuth", az - 0.5), target, "l2")) / 1.0
    print(f"exact dL/dazimuth {c.truth.dL_dtheta:.5g}, loss slope {slope:.5g}")
    assert c.truth.dL_dtheta == pytest.approx(slope, rel=0.05)
    # the hard renderer moves no edge: zero image derivative, zero dL/dtheta, pointing nowhere
    hard = by["hard"]
    assert hard.dL_dtheta == 0.0 and hard.magnitude_ratio == 0.0 and hard.same_direction is None
    assert hard.per_pixel.cosine == 0.0 and float(np.abs(hard.dL_dV).max()) == 0.0
    # softras points the right way here and overlaps the exact derivative at its band scale
    soft = by["softras"]
    # (its dL/dV is another matter at 24 px: cosine 0.15 with the exact one, measured)
    assert soft.same_direction and soft.band.cosine > 0.5 and soft.dL_dV_cosine > 0.1
    assert soft.d_image.shape == (24, 24, 4)
    # a loss-only method: dL/dtheta (equal to softras's, same backward) and dL/dV, no image
    loss_only = by["soft_loss_only"]
    assert loss_only.d_image is None and loss_only.per_pixel is None
    assert "no image derivative" in loss_only.note
    assert loss_only.dL_dtheta == pytest.approx(soft.dL_dtheta, rel=1e-12)
    assert loss_only.dL_dV_cosine == pytest.approx(soft.dL_dV_cosine, rel=1e-9)
    # a method that refuses this scene is reported as such, and the others still are compared
    refusing = by["soft_refusing"]
    assert refusing.note == "failed: this render would form 9,999,999,999 pairs" and refusing.d_image is None
    # the table has a row per method, and the npz arrays are named by method
    table = c.table()
    assert len(table) == 1 + 6 and table[1].startswith("edge") and "failed" in table[-1]
    assert "soft_loss_only_dI" not in c.arrays() and c.arrays()["softras_dI"].shape == (24, 24, 4)
    # the figure: one panel per method, each titled with its name; agreement numbers in the titles
    fig = comparison_figure(c, title="test")
    titles = [ax.get_title() for ax in fig.axes]
    for name in ("edge", "softras", "hard", "soft_loss_only"):
        assert any(t.startswith(name) for t in titles), name
    assert any("cos px 0." in t for t in titles if t.startswith("softras"))
    assert figure_rgba(fig).shape[2] == 4


def test_default_methods_are_the_registered_differentiable_ones(scene):
    names = default_methods(scene)
    assert "edge" not in names and {"softras", "dibr", "hard"} <= set(names)
    with pytest.raises(ValueError, match="not differentiable"):
        compare_gradient_methods(scene, render_target(scene), "l2", "azimuth", methods=["gl"])


def test_sigma_curve(scene):
    curve = sigma_agreement_curve(scene, "azimuth", [1e-5, 1e-4, 1e-2])
    assert curve.renderer == "softras" and curve.sigmas.tolist() == [1e-5, 1e-4, 1e-2]
    print("per pixel", curve.per_pixel, "band", curve.band, "band px", curve.band_px)
    assert np.all(np.diff(curve.band_px) > 0)
    # a band many pixels wide spreads the derivative away from the edge pixels
    assert curve.per_pixel[2] < curve.per_pixel[0] and curve.per_pixel[2] < 0.3
    assert curve.band[2] > curve.per_pixel[2]
    assert curve.best() in (1e-5, 1e-4)


def test_cli_verb_writes_figure_and_npz(tmp_path, capsys):
    import main
    from renderer.analysis.compare_commands import add_command, run_compare

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="verb")
    add_command(sub, main.add_scene_arguments)
    out, npz = tmp_path / "c.png", tmp_path / "c.npz"
    args = parser.parse_args(["compare-gradients", "--asset", "knot", "--size", "32", "--loss", "silhouette",
                              "--target-azimuth", "36", "--methods", "softras,hard", "--curve-sigmas", "1e-5,1e-3",
                              "--out", str(out), "--npz", str(npz)])
    assert run_compare(args, main.scene_from_args) == 0
    assert out.stat().st_size > 0
    data = np.load(npz)
    assert {"edge_dI", "softras_dI", "hard_dL_dV", "sigma_curve_per_pixel", "figure"} <= set(data.files)
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith("method") and "best per pixel at sigma" in text
    bad = parser.parse_args(["compare-gradients", "--asset", "knot", "--size", "32", "--methods", "nope",
                             "--out", str(out)])
    with pytest.raises(ValueError, match="unknown renderer 'nope'"):
        run_compare(bad, main.scene_from_args)
