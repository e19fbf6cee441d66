"""SDF files, the other sources and the inspector's helpers:

- broken .json / .npz files each give one clear line (a UserError naming the file and the problem),
  through ``renderer.load`` and the CLI's exit code 2;
- .npz files are told apart by contents (``sdf`` vs a voxel grid's ``occupancy``);
- a grid sampled from a watertight mesh is the mesh's SDF; an open mesh is refused;
- a torch module renders like the primitive it computes, with gradients in its parameters;
- trace_steps replays the pixel the renderer traced; the convergence map flags exhausted rays;
- the parameter group names, reads and writes the primitives' scalars; the dL/dtheta table is
  autograd's gradient;
- the fit task builds, records and lowers its loss.
"""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import renderer as dr
from renderer.assets import ASSETS_DIR
from renderer.errors import describe_error
from renderer.sdf import (SDF, MeshNotWatertightError, Primitive, SDFFileError, TraceOptions, make_sdf,
                          module_sdf, save_sdf_json, sdf_from_mesh)
from renderer.sdf.inspect import convergence_map, parameter_gradients, trace_steps
from renderer.sdf.render import render_sdf_traced

SPHERE_BOX = ASSETS_DIR / "sphere_box.sdf.json"
SPHERE = {"type": "sphere", "center": [0, 0, 0], "radius": 0.5}


def write_json(path, doc) -> str:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


BROKEN_JSON = {
    "bad_json": ('{"primitives": [', "not valid JSON"),
    "unknown_primitive": ({"primitives": [{"type": "cone", "center": [0, 0, 0]}]}, "unknown type 'cone'"),
    "missing_key": ({"primitives": [{"type": "box", "center": [0, 0, 0]}]}, "missing 'half_extents'"),
    "nan": ('{"primitives": [{"type": "sphere", "center": [0, NaN, 0], "radius": 1}]}', "not finite"),
    "wrong_count": ({"primitives": [{"type": "sphere", "center": [0, 0], "radius": 1}]}, "must be 3 numbers"),
    "negative": ({"primitives": [{"type": "sphere", "center": [0, 0, 0], "radius": -1}]}, "must be positive"),
    "unknown_op": ({"primitives": [SPHERE, dict(SPHERE, op="xor")]}, "unknown op 'xor'"),
    "empty": ({"primitives": []}, "primitives list is empty"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_JSON))
def test_broken_json_is_one_clear_line(case, tmp_path):
    doc, words = BROKEN_JSON[case]
    path = write_json(tmp_path / f"{case}.sdf.json", doc)
    if case == "bad_json":       # the sniffer looks for "primitives": a damaged file still reaches the loader
        assert '"primitives"' in doc
    with pytest.raises(SDFFileError) as err:
        dr.load(path)
    line = describe_error(err.value)
    assert words in line and path in line and "\n" not in line


BROKEN_NPZ = {
    "wrong_shape": (dict(sdf=np.zeros((4, 4))), "must be a (D, D, D) grid"),
    "nan": (dict(sdf=np.where(np.arange(27).reshape(3, 3, 3) == 5, np.nan, np.linspace(-1, 1, 27).reshape(3, 3, 3))),
            "1 of 27 'sdf' values are NaN"),
    "no_surface": (dict(sdf=np.ones((4, 4, 4))), "no sign change"),
    "bad_bounds": (dict(sdf=np.linspace(-1, 1, 64).reshape(4, 4, 4), bounds=np.ones((2, 3))), "hi corner must exceed"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_NPZ))
def test_broken_npz_is_one_clear_line(case, tmp_path):
    arrays, words = BROKEN_NPZ[case]
    path = tmp_path / f"{case}.npz"
    np.savez(path, **arrays)
    with pytest.raises(SDFFileError) as err:
        dr.load(path)
    line = describe_error(err.value)
    assert words in line and str(path) in line and "\n" not in line


def test_cli_exits_2_on_a_broken_sdf_file(tmp_path):
    from main import main

    path = write_json(tmp_path / "bad.sdf.json", BROKEN_JSON["unknown_primitive"][0])
    assert main(["render", path, "--out", str(tmp_path / "x.png")]) == 2


def test_npz_files_are_told_apart_and_json_round_trips(tmp_path):
    grid = np.linspace(-1, 1, 512).reshape(8, 8, 8).astype(np.float32)
    np.savez(tmp_path / "g.npz", sdf=grid, bounds=np.array([[-1, -1, -1], [1, 1, 1.0]]))
    sdf = dr.load(tmp_path / "g.npz")
    assert isinstance(sdf, SDF) and sdf.source == "grid" and torch.equal(sdf.grid, torch.from_numpy(grid))
    np.savez(tmp_path / "v.npz", occupancy=np.zeros((4, 4, 4), np.float32))
    assert not isinstance(dr.io.loader_for(tmp_path / "v.npz")(tmp_path / "v.npz"), SDF)
    original = dr.load(SPHERE_BOX)
    save_sdf_json(original, tmp_path / "copy.sdf.json")
    again = dr.load(tmp_path / "copy.sdf.json")
    assert again.primitives == original.primitives and torch.equal(again.params, original.params)


def test_grid_from_a_watertight_mesh_is_its_sdf(tmp_path):
    import trimesh

    trimesh.creation.icosphere(subdivisions=2).export(tmp_path / "ico.obj")
    mesh = dr.load(tmp_path / "ico.obj")
    sdf = sdf_from_mesh(mesh, resolution=12)
    lo, hi = sdf.bounds
    axes = [torch.linspace(float(lo[i]), float(hi[i]), 12) for i in range(3)]
    pts = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1)
    # a unit icosphere (320 faces): its SDF is |p| - 1 to the tessellation's error (< 0.02);
    # |values| are trimesh's brute-force closest-point distances
    assert (sdf.grid - (pts.norm(dim=-1) - 1)).abs().max() < 0.02
    tm = trimesh.Trimesh(mesh.verts.numpy(), mesh.faces.numpy(), process=False)
    _, naive, _ = trimesh.proximity.closest_point_naive(tm, pts.reshape(-1, 3)[::7].double().numpy())
    assert np.abs(np.abs(sdf.grid.reshape(-1)[::7].numpy()) - naive).max() < 1e-6
    open_mesh = replace(mesh, faces=mesh.faces[1:])
    with pytest.raises(MeshNotWatertightError, match="not watertight"):
        sdf_from_mesh(open_mesh, resolution=8)


class SphereNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.radius = torch.nn.Parameter(torch.tensor(0.6))

    def forward(self, p):
        return p.norm(dim=-1) - self.radius


def test_a_module_renders_like_its_primitive_with_gradients():
    net = SphereNet()
    scene = dr.Scene.default(module_sdf(net, bound_radius=0.7), image_size=48)
    prim = scene.replace(shape=make_sdf([(Primitive("sphere"), [0, 0, 0, 0.6])]))
    out = dr.render(scene)
    with torch.no_grad():
        ref = dr.render(prim)
    assert torch.allclose(out.rgb.detach(), ref.rgb, atol=1e-3)     # float32 tracing from other bounds
    out.alpha.sum().backward()
    rows = parameter_gradients(prim, lambda o: o.alpha.sum())
    assert net.radius.grad is not None and abs(float(net.radius.grad) - rows[3].grad) < 1e-3 * abs(rows[3].grad)
    # the parameter group differentiates the module's weights as one flat tensor
    from renderer.analysis.params import group_value, with_groups

    flat = group_value(scene, "sdf_params").requires_grad_(True)
    assert flat.shape == (1,) and float(flat.detach()) == pytest.approx(0.6)
    (g,) = torch.autograd.grad(dr.render(with_groups(scene, {"sdf_params": flat})).alpha.sum(), flat)
    assert float(g) == pytest.approx(float(net.radius.grad), rel=1e-4)


def test_trace_steps_replays_the_renderers_trace_and_the_map_flags_exhausted_rays():
    scene = dr.Scene.default(dr.load(SPHERE_BOX), image_size=64).with_camera(azimuth=30.0, elevation=20.0, distance=2.2)
    with torch.no_grad():
        out, _, tr = render_sdf_traced(scene)
    steps = tr.steps.reshape(64, 64)
    for row, col in ((32, 32), (30, 45), (5, 5)):
        rec = trace_steps(scene, row, col)
        assert rec.count == int(steps[row, col])
        assert rec.hit == bool(out.depth[row, col] > 0)
        if rec.hit:
            assert abs(rec.distance[-1]) < rec.threshold and np.all(np.diff(rec.t) >= 0)
    few = convergence_map(scene, TraceOptions(max_steps=6))
    full = convergence_map(scene)
    assert few["not_converged"].sum() > 20 and full["not_converged"].sum() < few["not_converged"].sum()
    assert (few["steps"] <= 6).all() and few["not_converged"][few["steps"] < 6].sum() == 0


def test_param_group_and_gradient_table():
    from renderer.analysis.params import group_value, parse_param, with_groups

    scene = dr.Scene.default(dr.load(SPHERE_BOX), image_size=32)
    spec = parse_param("sdf:1:hx", scene)
    assert spec.group == "sdf_params" and spec.index == (7,) and spec.geometric
    with pytest.raises(ValueError, match="the SDF has 2 primitives"):
        parse_param("sdf:5:cx", scene)
    with pytest.raises(ValueError, match="a sphere has cx, cy, cz, radius"):
        parse_param("sdf:0:hx", scene)
    value = group_value(scene, "sdf_params").requires_grad_(True)
    loss = dr.render(with_groups(scene, {"sdf_params": value})).alpha.sum()
    (grad,) = torch.autograd.grad(loss, value)
    rows = parameter_gradients(scene, lambda o: o.alpha.sum())
    assert [r.name for r in rows] == scene.shape.param_names()
    assert np.allclose([r.grad for r in rows], grad.numpy(), rtol=1e-5, atol=1e-6)
    assert rows[3].grad > 0          # a bigger sphere covers more
    from renderer.rendering import render_for_loss     # the silhouette losses' alpha-only path

    assert torch.equal(render_for_loss(scene, "alpha").alpha.detach(), dr.render(scene).alpha.detach())


def test_the_fit_task_records_and_lowers_its_loss():
    from renderer.optimize.presets import build_run
    from renderer.optimize.runner import Run

    scene = dr.Scene.default(dr.load(SPHERE_BOX))
    task, config = build_run("sdf_fit", scene=scene, steps=6, num_views=4, size=32)
    run = Run(task, config).run()
    losses = run.timeline.scalar("loss")
    assert len(losses) == 6 and losses[-1] < 0.7 * losses[0]
    assert "error/max_rel" in run.timeline.scalar_names
    assert run.timeline.meta["task"]["sdf"]["primitives"][1]["type"] == "box"
    recorded = type(task).recorded_scene(run.timeline, 5, mesh_named=None)
    assert recorded.scene.settings.renderer == "gl_sdf"
    at_step_5 = [float(run.timeline.scalar(f"param/{n}")[5]) for n in task.start.param_names()]
    assert np.allclose(recorded.scene.shape.params.numpy(), at_step_5, atol=1e-6)


def test_material_and_camera_gradients_reach_the_image():
    """rgb is linear in ka: autograd equals the difference quotient; the camera's distance
    reaches the depth through the ray origin (the implicit derivative's dt/do)."""
    scene = dr.Scene.default(dr.load(SPHERE_BOX), image_size=40)
    ka = torch.tensor(0.5, requires_grad=True)
    out = dr.render(scene.replace(material=scene.material.replace(ka=ka)))
    (grad,) = torch.autograd.grad(out.rgb.sum(), ka)
    with torch.no_grad():
        up = dr.render(scene.replace(material=scene.material.replace(ka=torch.tensor(0.6)))).rgb.sum()
        down = dr.render(scene.replace(material=scene.material.replace(ka=torch.tensor(0.4)))).rgb.sum()
    assert float(grad) > 0 and abs(float(grad) - float(up - down) / 0.2) < 1e-3 * float(grad)
    distance = torch.tensor(3.0, requires_grad=True)
    out = dr.render(scene.with_camera(distance=distance))
    # the box's front face is a plane facing the camera: its view depth grows one for one with
    # the distance, at every pixel (curved parts would not)
    face = (out.depth > 0) & (out.normal[..., 2].detach() > 1 - 1e-5)
    (ddepth,) = torch.autograd.grad(out.depth[face].sum(), distance)
    assert int(face.sum()) > 20 and abs(float(ddepth) / int(face.sum()) - 1) < 1e-4
