"""The renderer registry: one registration makes a renderer appear in the CLI, the bench and the
agreement tests and the GUI combos, and the registry's own rules."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import renderer as dr
from renderer.paths import shared_mesh
from renderer.registry import RendererSpec, register_renderer, unregister_renderer
from tests.gui_support import isolated_settings, make_window, wait_idle  # noqa: F401 - fixtures
from tests.registry_support import TOY_MODULE, toy_renderer  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parent.parent


def test_builtins_are_registered_with_what_they_do():
    assert dr.renderer_names("mesh") == ["softras", "dibr", "hard", "aa", "edge", "nmr", "gl"]
    assert dr.renderer_names("mesh", differentiable=True) == ["softras", "dibr", "hard", "aa", "edge", "nmr"]
    # each representation: its renderers, the one a new scene starts on, and its reference
    for kind, default, reference in (("mesh", "softras", "gl"), ("splats", "splat", "gl_splat"),
                                     ("voxels", "drc", "gl_voxel"), ("sdf", "sdf", "gl_sdf")):
        assert dr.default_renderer(kind).name == default and dr.reference_renderer(kind).name == reference
        assert all(dr.get_renderer(n).reference == reference
                   for n in dr.renderer_names(kind, differentiable=True)), kind
    assert not dr.get_renderer("nmr").image_derivative and dr.get_renderer("aa").antialiased
    soft, hard, gl = dr.get_renderer("softras"), dr.get_renderer("hard"), dr.get_renderer("gl")
    assert soft.geometry_gradients and soft.pairs and soft.silhouette is not None
    assert not hard.geometry_gradients and hard.differentiable and not hard.applies("influence")
    assert gl.is_reference and not gl.differentiable and soft.reference == "gl"
    assert soft.label(dr.RenderSettings(sigma=2e-4, gamma=1e-3)) == "softras, sigma=0.0002, gamma=0.001"


def test_unknown_and_duplicate_names_are_clear_errors():
    with pytest.raises(ValueError, match="unknown renderer 'nope'; expected one of softras, dibr, hard, aa, "):
        dr.get_renderer("nope")
    with pytest.raises(ValueError, match="unknown renderer 'nope'"):
        dr.RenderSettings(renderer="nope")
    with pytest.raises(ValueError, match="already registered"):
        register_renderer(RendererSpec(name="softras", render=lambda scene: None))
    with pytest.raises(ValueError, match="unknown gradient groups"):
        RendererSpec(name="x", render=lambda scene: None, wrt=("verts",))


def test_a_renderer_refuses_a_representation_it_does_not_draw():
    @dr.register_shape
    class Points:
        kind = "toy_points"
        element_name = "point"
        name = "points"

    try:
        scene = dr.Scene(Points())
        assert scene.kind == "toy_points"
        with pytest.raises(ValueError, match="renderer 'softras' cannot draw a toy_points; renderers for a toy_points: none"):
            dr.render(scene)
        with pytest.raises(TypeError, match="holds a toy_points, not a mesh"):
            scene.mesh
    finally:
        dr.SHAPE_TYPES.pop("toy_points")
    with pytest.raises(TypeError, match="a scene holds one of"):
        dr.Scene(object())


def test_toy_renderer_renders_and_has_gradients(toy_renderer):
    scene = dr.Scene.default(dr.load(ROOT / "assets" / "knot.ply"), image_size=48, renderer="toy_flat")
    verts = scene.mesh.verts.clone().requires_grad_()
    out = dr.render(scene.replace(shape=scene.mesh.with_verts(verts)))
    assert list(out) == ["rgb", "alpha"]
    # rgb is the albedo where covered: the mean of rgb / albedo is the mean coverage
    albedo = scene.material.albedo
    assert torch.allclose(out["rgb"], out["alpha"][..., None] * albedo, atol=1e-6)
    out["alpha"].sum().backward()
    assert float(verts.grad.abs().sum()) > 0


def test_toy_renderer_appears_in_the_cli(toy_renderer, tmp_path):
    from main import build_parser, main

    args = build_parser().parse_args(["render", "--asset", "knot", "--renderer", "toy_flat", "--out", "x.png"])
    assert args.renderer == "toy_flat"
    png = tmp_path / "toy.png"
    assert main(["render", "--asset", "knot", "--renderer", "toy_flat", "--size", "32", "--out", str(png)]) == 0
    assert png.stat().st_size > 0
    assert main(["grad", "--asset", "knot", "--renderer", "toy_flat", "--size", "32", "--no-reference",
                 "--npz", str(tmp_path / "g.npz")]) == 0
    grads = np.load(tmp_path / "g.npz")
    assert np.abs(grads["grad_dL_dV"]).sum() > 0


@pytest.mark.skipif(not shared_mesh("sphere_642.obj").exists(), reason="shared meshes not available")
def test_toy_renderer_appears_in_the_bench(toy_renderer):
    from renderer.bench import bench_cases, run_bench

    assert ("toy_flat", "none") in bench_cases()
    lines: list[str] = []
    rows = run_bench(sizes=(32,), repeats=1, mesh_filter="sphere", renderer_filter="toy_flat", echo=lines.append)
    assert [(r.renderer, r.mesh, r.size) for r in rows] == [("toy_flat", "sphere", 32)]
    assert rows[0].forward_ms > 0 and rows[0].forward_backward_ms > 0
    assert rows[0].forward_busy_ms > 0 and rows[0].forward_backward_busy_ms > 0     # the contended run
    assert any(line.startswith("toy_flat") for line in lines)


def test_toy_renderer_appears_in_the_agreement_tests():
    """The registry-driven agreement tests, run with the toy as a plugin (DRD_PLUGINS), collect
    and pass its cases."""
    env = dict(os.environ, DRD_PLUGINS=TOY_MODULE)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "toy_flat",
                           "tests/test_registry_agreement.py"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 passed" in proc.stdout, proc.stdout[-2000:]


def test_toy_renderer_appears_in_the_gui(qtbot, toy_renderer, make_window):
    """The same one-module toy, in the window's renderer combo and the run panel's, and drawn."""
    window = make_window()
    combo, run_combo = window.controls.widgets["renderer"], window.runs.panel.renderer
    assert "toy_flat" in [combo.itemText(i) for i in range(combo.count())]
    assert "toy_flat" in [run_combo.itemText(i) for i in range(run_combo.count())]
    combo.setCurrentText("toy_flat")
    wait_idle(qtbot, window)
    assert window.model.scene.settings.renderer == "toy_flat"
    image = window.soft_pane.image
    # flat albedo where the silhouette covers: every covered pixel has the material's colour
    albedo = window.model.scene.material.albedo.numpy()
    covered = image.sum(-1) > 0.99 * albedo.sum()
    assert covered.any() and np.allclose(image[covered], albedo, atol=0.02)


@pytest.mark.parametrize("name", ["softras", "dibr", "hard"])
def test_cost_estimate_is_the_pair_count_the_render_forms(name):
    """A render's cost is known before the work: the estimate equals the tile elements the render
    then reports, and grows with sigma as the band does."""
    from renderer.assets import load_asset
    from renderer.rendering import estimate_pairs

    scene = dr.Scene.default(load_asset("knot"), image_size=64, renderer=name, sigma=3e-4)
    with torch.no_grad():
        formed = int(dr.render(scene)["tile_elements"])
    assert estimate_pairs(scene) == formed
    if name == "softras":
        assert estimate_pairs(scene.with_settings(sigma=3e-3)) > 3 * formed
    assert estimate_pairs(dr.Scene.default(load_asset("knot"), renderer="gl")) is None
