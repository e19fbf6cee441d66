"""The voxel debugger's library functions: the ray inspector, gradient slices, the parameter
groups, the EA renderer's closed form and the carve task in the runner."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import renderer as dr
from renderer.analysis.params import element_group, group_value, parse_param, with_groups, with_param
from renderer.camera import OrbitCamera
from renderer.voxel import VoxelGrid, termination
from renderer.voxel.bench import TORUS_BINVOX, bench_scene
from renderer.voxel.inspect import gradient_slice, gradient_slices, inspect_ray, max_projection


def test_the_ray_inspector_lists_the_pixels_cells_and_agrees_with_the_images():
    scene = bench_scene(32)
    out = dr.render(scene)
    hits = 0
    for row, col in [(16, 16), (12, 20), (0, 0), (20, 9)]:
        ray = inspect_ray(scene, row, col)
        assert ray.q.sum() + ray.escape == pytest.approx(1.0, abs=1e-6)
        assert 1 - ray.escape == pytest.approx(float(out["alpha"][row, col]), abs=1e-6)
        assert ray.expected_depth == pytest.approx(float(out["depth"][row, col]), abs=1e-5)
        assert np.allclose(ray.q, ray.occupancy * ray.transmittance)
        assert np.all(ray.t_out[:-1] == ray.t_in[1:]) and np.all(np.diff(ray.distance) > 0)
        if ray.num_cells:
            hits += 1
            flat = (ray.ijk[:, 0] * 32 + ray.ijk[:, 1]) * 32 + ray.ijk[:, 2]
            assert np.array_equal(flat, ray.cells)
            assert ray.hard_index == (int(np.argmax(ray.occupancy >= 0.5)) if (ray.occupancy >= 0.5).any() else -1)
    assert hits >= 3
    with pytest.raises(ValueError, match="outside the 32 x 32 image"):
        inspect_ray(scene, 32, 0)


def test_gradient_slices_index_the_grid_in_xyz_order():
    grad = torch.arange(4 * 5 * 6, dtype=torch.float32)
    volume = grad.reshape(4, 5, 6).numpy()
    assert np.array_equal(gradient_slice(grad, (4, 5, 6), 0, 2), volume[2])
    assert np.array_equal(gradient_slice(grad, (4, 5, 6), 1, 3), volume[:, 3, :])
    assert np.array_equal(gradient_slice(grad, (4, 5, 6), 2, 5), volume[:, :, 5])
    assert gradient_slices(grad, (4, 5, 6), 2).shape == (6, 4, 5)
    signed = -volume
    assert np.array_equal(max_projection(-grad, (4, 5, 6), 0), signed[3])
    with pytest.raises(ValueError, match="slice 6 is outside the grid's 6 cells along z"):
        gradient_slice(grad, (4, 5, 6), 2, 6)


def test_the_occupancy_group_is_the_element_group_and_its_gradient_is_dL_dx():
    scene = bench_scene(24)
    assert element_group(scene) == "occupancy"
    ray = inspect_ray(scene, 12, 14)
    soft = int(np.flatnonzero((ray.occupancy > 0.01) & (ray.occupancy < 0.99))[0])   # room for +-h
    i, j, k = (int(v) for v in ray.ijk[soft])
    spec = parse_param(f"cell:{i}:{j}:{k}", scene)
    assert spec.index == (int(ray.cells[soft]),) == (scene.shape.cell_index(i, j, k),)
    x = group_value(scene, "occupancy").requires_grad_()
    alpha = dr.render(with_groups(scene, {"occupancy": x}))["alpha"]
    alpha.sum().backward()
    # central difference in one cell's occupancy through the scalar parameter path
    h = 1e-3
    value = float(x.detach()[spec.index])
    plus = dr.render(with_param(scene, spec, value + h))["alpha"].sum()
    minus = dr.render(with_param(scene, spec, value - h))["alpha"].sum()
    assert float(x.grad[spec.index]) == pytest.approx(float(plus - minus) / (2 * h), rel=1e-3)
    assert float(x.grad[spec.index]) > 0
    with pytest.raises(ValueError, match="the grid has 32x32x32 cells"):
        parse_param("cell:32:0:0", scene)


def test_the_ea_renderer_on_an_axis_ray_is_the_closed_form():
    n, x = 6, 0.3
    grid = VoxelGrid(occupancy=torch.full((1, 1, n), x, dtype=torch.float64))
    scene = dr.Scene.default(grid, image_size=1).replace(camera=OrbitCamera(distance=3.0))
    ea = dr.render(scene, "drc_ea")
    drc = dr.render(scene, "drc")
    assert float(ea["alpha"]) == pytest.approx(1 - (1 - x) ** n, abs=1e-9)     # samples at the cell centres
    assert float(drc["alpha"]) == pytest.approx(1 - (1 - x) ** n, abs=1e-12)
    term = termination(grid, scene.camera, 1)
    # EA depth samples the cell centres, DRC's the entry faces: half a cell apart
    assert float(ea["depth"] - drc["depth"]) == pytest.approx(0.5 / n, abs=1e-6)
    assert term.valid.sum() == n


def test_the_carve_task_runs_in_the_runner_and_replays_from_its_timeline():
    from renderer.optimize.presets import build_run
    from renderer.optimize.runner import Run
    from renderer.optimize.tasks.base import Task

    scene = dr.Scene.default(dr.load(TORUS_BINVOX))          # targets: gl_voxel silhouettes of the torus
    task, config = build_run("carve", scene=scene, preset_name="quick", steps=12, num_views=3, size=32)
    run = Run(task, config).run()
    assert run.status == "finished", run.message
    occ = run.timeline.frame(run.timeline.frame_steps[-1])["occupancy"]
    assert occ.shape == (32, 32, 32) and 0 <= occ.min() and occ.max() <= 1
    rebuilt = Task.class_for_run(run.timeline.meta).recorded_scene(run.timeline, 11, None).scene
    assert rebuilt.kind == "voxels" and np.array_equal(rebuilt.shape.occupancy.numpy(), occ)
    losses = run.timeline.scalar("loss")
    assert len(losses) == 12 and losses[-1] < 0.8 * losses[0]
    assert run.timeline.meta["task"]["loss"] == "drc-mask"


def test_the_carve_task_from_depth_maps_minimises_drcs_depth_cost():
    from renderer.optimize.presets import build_run
    from renderer.optimize.runner import Run

    scene = dr.Scene.default(dr.load(TORUS_BINVOX))
    task, config = build_run("carve", scene=scene, preset_name="drc-depth", steps=10, num_views=2, size=32)
    assert task.depths is not None and float(task.depths[0].max()) > 1.0     # hard-surface view depths
    run = Run(task, config).run()
    depth_cost = run.timeline.scalar("loss/drc-depth")
    assert run.status == "finished" and depth_cost[-1] < 0.8 * depth_cost[0]
    assert np.allclose(run.timeline.scalar("loss"), depth_cost)             # the mask term weighs 0


def test_the_inspector_and_painter_hooks_show_cells_and_a_gradient_slice():
    from renderer.analysis.element_inspector import inspect_element_pixel
    from renderer.analysis.element_view import element_view

    scene = bench_scene(32)
    table = inspect_element_pixel(scene, 12, 14)
    ray = inspect_ray(scene, 12, 14)
    assert len(table.rows) == ray.num_cells > 0 and table.elements == ray.cells.tolist()
    assert table.rows[0][0] == "{},{},{}".format(*ray.ijk[0])
    grad = np.zeros(scene.shape.num_elements)
    grad[scene.shape.cell_index(3, 20, 7)] = -2.0
    view = element_view(scene, grad, np.abs(grad))
    # the camera looks mostly along -z (azimuth 30, elevation 20): a z slice, +y up, x across
    assert view.values.shape == (32, 32) and view.label == "dL/dx, z = 7 slice"
    assert view.values[31 - 20, 3] == -2.0 and np.count_nonzero(view.values) == 1


def test_the_library_carve_loop_lowers_the_event_cost_and_raises_the_iou():
    from renderer.voxel.bench import torus_mesh
    from renderer.voxel.carve import carve, mesh_views, scaled_mesh, spiral_cameras

    mesh = scaled_mesh(torus_mesh())
    views = mesh_views(mesh, spiral_cameras(10), 32)
    held = mesh_views(mesh, spiral_cameras(2, offset=0.5), 32)
    result = carve(views, mode="both", steps=30, lr=0.3, heldout=held, record_every=10, init_logit=-3.0)
    (s0, loss0, iou0, _), (s1, loss1, iou1, _) = result.history[0], result.history[-1]
    assert (s0, s1) == (0, 30) and loss1 < 0.2 * loss0 and iou1 > iou0 + 0.15
    with pytest.raises(ValueError, match="carve mode must be mask, depth or both"):
        carve(views, mode="normals")
