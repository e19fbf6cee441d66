"""The `grad` and `landscape` verbs as a user runs them: files written, numbers printed, and
bad input as one line on stderr with exit status 2."""
from __future__ import annotations

import json
import subprocess

import numpy as np

import main
from tests.test_cli import assert_one_line_error, run

SCENE = ("--asset", "axes", "--size", "48", "--azimuth", "30", "--elevation", "20")


def test_grad_writes_figure_and_every_array(tmp_path):
    png, npz = tmp_path / "panel.png", tmp_path / "grad.npz"
    proc = run("grad", *SCENE, "--loss", "silhouette", "--target-azimuth", "40", "--param", "azimuth",
               "--sigma", "3e-4", "--out", str(png), "--npz", str(npz))
    assert proc.returncode == 0, proc.stderr
    assert "cosine (composited colour):" in proc.stdout and "at band scale" in proc.stdout
    assert "gradient descent moves azimuth toward the target" in proc.stdout
    import imageio.v3 as iio

    figure = iio.imread(png)
    assert figure.shape[0] > 600 and figure.shape[1] > 800
    data = np.load(npz)
    for key in ("grad_dL_dI", "grad_dL_dV", "grad_dL_dV_norm", "grad_dL_dtheta", "target_rgb", "soft_dI",
                "soft_dI_composite", "reference_dI", "panel_contribution", "figure", "band_cosine"):
        assert key in data.files, key
    assert data["grad_dL_dI"].shape == (48, 48, 4) and data["reference_dI"].shape == (48, 48, 4)
    assert data["figure"].ndim == 3 and data["figure"].dtype == np.uint8
    names = list(data["grad_dL_dtheta_names"])
    g_az = data["grad_dL_dtheta"][names.index("azimuth")]
    assert data["panel_contribution"].sum() == np.float64(g_az) or \
        abs(data["panel_contribution"].sum() - g_az) <= 1e-5 * abs(g_az) + 1e-9
    meta = json.loads(str(data["meta"]))
    assert meta["param"] == "azimuth" and meta["renderer"] == "softras" and meta["method"] == "jvp"


def test_grad_hard_renderer_reports_its_diagnostic(tmp_path):
    proc = run("grad", *SCENE, "--renderer", "hard", "--target-azimuth", "40", "--no-reference",
               "--pixel", "24", "24", "--npz", str(tmp_path / "g.npz"))
    assert proc.returncode == 0, proc.stderr
    assert "hard renderer: no visibility gradient" in proc.stdout
    assert "pixel (row 24, col 24), hard" in proc.stdout and "weights sum to 1.000000" in proc.stdout
    assert np.load(tmp_path / "g.npz")["pixel_grad_rgb"].shape[0] == 3
    assert "dI/dtheta by double_backward" in proc.stdout


def test_grad_with_target_image_and_vertex_param(tmp_path):
    target = tmp_path / "target.npy"
    assert run("render", *SCENE, "--azimuth", "35", "--npy", str(target)).returncode == 0
    proc = run("grad", *SCENE, "--loss", "l2", "--target-image", str(target), "--param", "vertex:3:x",
               "--no-reference", "--npz", str(tmp_path / "g.npz"))
    assert proc.returncode == 0, proc.stderr
    assert "theta = vertex:3:x" in proc.stdout


def test_landscape_sweep_and_scan(tmp_path):
    png, npz = tmp_path / "land.png", tmp_path / "land.npz"
    proc = run("landscape", *SCENE, "--target-azimuth", "40", "--param", "azimuth", "--range", "-20", "20",
               "--steps", "5", "--sigmas", "1e-4,1e-3", "--param2", "elevation", "--range2", "-10", "10",
               "--steps2", "3", "--out", str(png), "--npz", str(npz))
    assert proc.returncode == 0, proc.stderr
    assert "sigma=0.0001: lowest loss at azimuth" in proc.stdout and "2-D scan" in proc.stdout
    assert png.exists() and (tmp_path / "land-scan.png").exists()
    data = np.load(npz)
    assert data["loss"].shape == (3, 5) and np.allclose(data["values"], [20, 30, 40, 50, 60])
    assert data["loss2d"].shape == (3, 5) and data["figure"].dtype == np.uint8


def in_process(capsys, *args: str) -> subprocess.CompletedProcess:
    """``main.main(args)`` in this process (no interpreter start-up), shaped like ``run``'s result."""
    code = main.main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


def test_bad_input_is_one_line(tmp_path, capsys):
    out = str(tmp_path / "x.png")

    def run(*args: str) -> subprocess.CompletedProcess:  # noqa: F811 - in-process for speed
        return in_process(capsys, *args)

    assert_one_line_error(run("grad", *SCENE), "nothing to write")
    assert_one_line_error(run("grad", *SCENE, "--param", "azimut", "--out", out), "unknown parameter")
    assert_one_line_error(run("grad", *SCENE, "--renderer", "gl", "--out", out), "not differentiable", "softras")
    assert_one_line_error(run("grad", *SCENE, "--loss", "l3", "--out", out), "--loss")
    assert_one_line_error(run("grad", *SCENE, "--out", str(tmp_path / "no" / "x.png")), "does not exist")
    small = tmp_path / "small.npy"
    np.save(small, np.zeros((8, 8, 4), np.float32))
    assert_one_line_error(run("grad", *SCENE, "--target-image", str(small), "--out", out), "expected 48x48")
    assert_one_line_error(run("grad", *SCENE, "--target-image", str(small), "--target-azimuth", "3",
                              "--out", out), "not both")
    assert_one_line_error(run("grad", *SCENE, "--no-reference", "--pixel", "48", "0", "--out", out), "outside")
    assert_one_line_error(run("landscape", *SCENE, "--range", "10", "-10", "--out", out), "LO must be below HI")
    assert_one_line_error(run("landscape", *SCENE, "--sigmas", "1e-4,5", "--out", out), "outside")
    assert_one_line_error(run("landscape", *SCENE, "--target-param", "vertex:999:x=1", "--out", out),
                          "vertices")
