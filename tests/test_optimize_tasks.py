"""The tasks and the runner on small, fast problems: the silhouette-only render, a shape smoke
run with mesh export, NaN handling, determinism, schedules, targets files, pause/stop."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch

from renderer.assets import load_asset
from renderer.io import load_mesh
from renderer.optimize import (FAILED, FINISHED, Run, Schedule, build_run, export_mesh, load_targets,
                               parse_anneal, render_silhouette, save_targets)
from renderer.soft import render_softras
from tests.scenes import small_scene
from renderer.paths import shared_dir

MESHES = shared_dir() / "meshes"


def tiny_shape(**overrides):
    """sphere_642 fitted to 4 views of the dumbbell asset at 32 px."""
    template = load_mesh(MESHES / "sphere_642.obj")
    values = dict(size=32, num_views=4, layout="ring", steps=6, lr=0.01)
    values.update(overrides)
    return build_run("shape", template, truth_mesh=load_asset("dumbbell"), **values)


def test_silhouette_path_matches_softras_alpha_and_gradients():
    scene = small_scene(size=16, sigma=3e-3)
    verts = scene.mesh.verts.clone().requires_grad_(True)
    az = scene.camera.azimuth.clone().requires_grad_(True)
    scene = scene.replace(shape=scene.mesh.with_verts(verts), camera=scene.camera.replace(azimuth=az))
    weights = torch.rand(16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    full = render_softras(scene)["alpha"]
    fast = render_silhouette(scene)["alpha"]
    assert torch.allclose(full, fast, atol=1e-12)
    g_full = torch.autograd.grad((full * weights).sum(), (verts, az))
    g_fast = torch.autograd.grad((fast * weights).sum(), (verts, az))
    for a, b in zip(g_full, g_fast):
        assert torch.allclose(a, b, atol=1e-10)


def test_shape_smoke_run_records_vertices_and_exports_meshes(tmp_path):
    task, config = tiny_shape(steps=8)
    run = Run(task, config).run()
    tl = run.timeline
    assert run.status == FINISHED and len(tl) == 8
    loss = tl.scalar("loss")
    assert loss[-1] < loss[0]
    assert {"loss/silhouette", "loss/laplacian", "loss/flatten", "error/chamfer", "grad_norm/displace",
            "grad_norm/center", "sigma", "gamma", "time"} <= set(tl.scalar_names)
    assert "verts" in tl.pane_names and tl.arrays["faces"].shape == (1280, 3)
    verts0 = tl.frame(0)["verts"]
    assert verts0.shape == (642, 3)                               # the template was welded
    assert not np.allclose(verts0, tl.frame(7)["verts"])
    for suffix in (".obj", ".ply"):
        out = tmp_path / f"mesh{suffix}"
        assert export_mesh(tl, out, step=3) == 3
        back = load_mesh(out)
        assert back.num_faces == 1280
    with pytest.raises(ValueError, match="obj or .ply"):
        export_mesh(tl, tmp_path / "mesh.stl")


def test_nan_stops_the_run_keeps_history_and_names_the_quantity(tmp_path):
    task, config = tiny_shape(steps=10)
    regularizers = task.regularizers

    def poisoned():
        terms = regularizers()
        if run.next_step == 3:
            terms["laplacian"] = terms["laplacian"] * float("nan")
        return terms

    task.regularizers = poisoned
    run = Run(task, config)
    run.run()
    assert run.status == FAILED
    assert run.failure.step == 3 and run.failure.quantity == "loss/laplacian"
    assert "nan" in run.message and "loss/laplacian" in run.message and "step 3" in run.message
    tl = run.timeline
    assert list(tl.steps) == [0, 1, 2, 3] and math.isnan(tl.scalar("loss/laplacian")[3])
    assert torch.isfinite(task.displace.detach()).all()              # the poisoned step was not applied
    tl.save(tmp_path / "failed.npz")
    from renderer.optimize import load_timeline

    assert load_timeline(tmp_path / "failed.npz").meta["failure"]["quantity"] == "loss/laplacian"


def test_runs_are_deterministic_with_a_seed():
    def scalars(seed):
        task, config = tiny_shape(views_per_step=2, seed=seed, steps=4)
        tl = Run(task, config).run().timeline
        return {n: tl.scalar(n) for n in tl.scalar_names if n not in ("time", "step_time")}

    a, b, c = scalars(5), scalars(5), scalars(6)
    assert all(np.array_equal(a[n], b[n]) for n in a)
    assert not np.array_equal(a["loss"], c["loss"])


def test_annealed_sigma_follows_a_geometric_schedule():
    assert parse_anneal("1e-3, 1e-5") == Schedule.geometric(1e-3, 1e-5)
    s = Schedule.geometric(1e-3, 1e-5)
    assert s.value(0, 5) == pytest.approx(1e-3) and s.value(4, 5) == pytest.approx(1e-5)
    assert s.value(2, 5) == pytest.approx(1e-4)
    with pytest.raises(ValueError):
        parse_anneal("1e-3")
    with pytest.raises(ValueError):
        Schedule.geometric(-1.0, 1e-4)
    task, config = tiny_shape(steps=3, sigma=s)
    sigmas = Run(task, config).run().timeline.scalar("sigma")
    assert np.allclose(sigmas, [1e-3, 1e-4, 1e-5])


def test_targets_file_round_trip_and_errors(tmp_path):
    task, _ = tiny_shape()
    path = tmp_path / "targets.npz"
    save_targets(path, task.views)
    views, size = load_targets(path)
    assert size == 32 and len(views) == 4
    assert torch.allclose(views[2].target.alpha, task.views[2].target.alpha.float())
    assert float(views[1].camera.azimuth) == pytest.approx(float(task.views[1].camera.azimuth))
    save_targets(tmp_path / "sil.npz", task.views, silhouettes_only=True)
    assert load_targets(tmp_path / "sil.npz")[0][0].target.rgb.shape == (32, 32, 3)
    np.savez(tmp_path / "bad.npz", images=np.zeros((3, 8, 8)), cameras=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="cameras has shape"):
        load_targets(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot read"):
        load_targets(tmp_path / "junk.npz")


def test_color_and_light_tasks_reduce_their_error():
    mesh = load_asset("dumbbell")
    for task_name, kw in (("color", {}), ("light", {}), ("light", {"preset_name": "sh"})):
        task, config = build_run(task_name, mesh, size=32, steps=12, num_views=2, **kw)
        err0 = task.error_scalars()[task.primary_error]
        run = Run(task, config).run()
        err1 = task.error_scalars()[task.primary_error]
        assert run.status == FINISHED and err1 < err0, (task_name, kw, err0, err1)


def test_pause_resume_and_stop_from_another_thread():
    task, config = build_run("pose", load_asset("axes"), size=24, steps=500)
    paused = threading.Event()

    def on_step(record):
        if record.step == 2:
            run.pause()
            paused.set()

    run = Run(task, config, on_step=on_step)
    worker = threading.Thread(target=run.run)
    worker.start()
    assert paused.wait(60)
    for _ in range(100):
        if run.status == "paused":
            break
        threading.Event().wait(0.05)
    assert run.status == "paused" and run.next_step == 3
    run.resume()
    run.stop()
    worker.join(60)
    assert not worker.is_alive() and run.status == "stopped" and run.next_step <= 5


def test_pytorch3d_pose_preset_starts_at_the_published_position(gl_renderer):
    task, config = build_run("pose", load_asset("axes"), preset_name="pytorch3d", size=32, gl=gl_renderer)
    # PyTorch3D's camera position (3, 6.9, 2.5) in this project's orbit angles
    assert float(task.start.azimuth) == pytest.approx(math.degrees(math.atan2(3, 2.5)), abs=1e-4)
    assert float(task.start.distance) == pytest.approx(math.sqrt(9 + 6.9 ** 2 + 6.25), abs=1e-4)
    assert float(task.start.elevation) == pytest.approx(math.degrees(math.asin(6.9 / float(task.start.distance))), abs=1e-4)
    assert (float(task.truth.azimuth), float(task.truth.elevation), float(task.truth.distance)) == (0, 50, 3)
    assert task.image_loss.name == "silhouette-mse" and config.stop_loss == pytest.approx(200 / 256 ** 2)


def test_object_pose_option_optimizes_rotation_and_translation():
    task, config = build_run("pose", load_asset("axes"), size=32, steps=3, object_pose=True,
                             true_object=((0.0, 20.0, 0.0), (0.1, 0.0, 0.0)))
    tl = Run(task, config).run().timeline
    assert tl.scalar("error/rotation")[0] == pytest.approx(20.0, abs=1e-3)
    assert tl.scalar("error/translation")[0] == pytest.approx(0.1, abs=1e-6)
    assert (tl.scalar("grad_norm/rotation") > 0).all() and (tl.scalar("grad_norm/translation") > 0).all()
    assert float(task.rotation.detach().abs().max()) > 0
