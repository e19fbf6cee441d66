"""`main.py optimize` as a user meets it: real subprocesses, outputs, one-line errors."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from renderer.optimize import load_timeline

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "optimize", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def assert_one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_pose_run_writes_timeline_and_animations(tmp_path):
    out, gif, mp4 = tmp_path / "run.npz", tmp_path / "run.gif", tmp_path / "run.mp4"
    args = ["--task", "pose", "--asset", "axes", "--size", "32", "--steps", "6", "--anneal", "1e-3,1e-4",
            "--out", str(out), "--gif", str(gif)]
    has_ffmpeg = importlib.util.find_spec("imageio_ffmpeg") is not None
    if has_ffmpeg:
        args += ["--mp4", str(mp4)]
    proc = run(*args)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and "final loss" in lines[0] and "azimuth" in lines[0], proc.stdout
    tl = load_timeline(out)
    assert len(tl) == 6 and tl.meta["config"]["sigma"] == {"start": 1e-3, "end": 1e-4}
    assert np.allclose(tl.scalar("sigma")[[0, -1]], [1e-3, 1e-4])
    import imageio.v3 as iio

    assert iio.imread(gif, index=None).shape[0] == 6
    if has_ffmpeg:
        assert mp4.stat().st_size > 0


def test_shape_from_targets_file_writes_the_mesh(tmp_path):
    from renderer.assets import load_asset
    from renderer.optimize import camera_grid, render_views, save_targets
    from renderer.scene import Scene

    scene = Scene.default(load_asset("dumbbell"), lighting="none", image_size=24)
    targets = tmp_path / "targets.npz"
    save_targets(targets, render_views(scene, camera_grid("ring", 3)), silhouettes_only=True)
    mesh_out, out = tmp_path / "fit.obj", tmp_path / "shape.npz"
    proc = run("--task", "shape", "--targets", str(targets), "--template", "sphere", "--steps", "3",
               "--out", str(out), "--mesh-out", str(mesh_out))
    assert proc.returncode == 0, proc.stderr
    assert "silhouette IoU mean" in proc.stdout and mesh_out.stat().st_size > 0
    assert load_timeline(out).meta["task"]["num_views"] == 3


@pytest.mark.parametrize("args, words", [
    (["--task", "pose", "--asset", "axes"], ["nothing to write"]),
    (["--task", "pose", "--targets", "t.npz", "--out", "x.npz"], ["--targets is for --task shape"]),
    (["--task", "shape", "--targets", "missing.npz", "--out", "x.npz"], ["missing.npz", "does not exist"]),
    (["--task", "pose", "--asset", "axes", "--anneal", "0.1", "--out", "x.npz"], ["--anneal", "START,END"]),
    (["--task", "pose", "--asset", "axes", "--renderer", "gl", "--out", "x.npz"], ["not differentiable"]),
    (["--task", "warp", "--out", "x.npz"], ["--task"]),
    (["--task", "pose", "--asset", "axes", "--preset", "nope", "--out", "x.npz"], ["preset", "nope"]),
])
def test_bad_input_is_one_line_and_status_2(tmp_path, args, words):
    assert_one_line_error(run(*[a if a != "x.npz" else str(tmp_path / a) for a in args]), *words)
