"""The command line as a user meets it: real subprocesses, exit codes, one-line errors."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_render_default_asset_png_and_npy(tmp_path):
    png, npy = tmp_path / "x.png", tmp_path / "x.npy"
    proc = run("render", "--asset", "knot", "--out", str(png), "--npy", str(npy), "--size", "64")
    assert proc.returncode == 0, proc.stderr
    import imageio.v3 as iio

    img = iio.imread(png)
    rgba = np.load(npy)
    assert img.shape == (64, 64, 3) and rgba.shape == (64, 64, 4) and rgba.dtype == np.float32
    assert 0.05 < rgba[..., 3].mean() < 0.9                     # the knot is in view, not filling it
    covered = rgba[..., 3] > 0
    # the PNG is the display-clamped 8-bit version of the same render
    assert np.abs(img[covered] / 255.0 - np.clip(rgba[..., :3][covered], 0, 1)).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("renderer", ["softras", "hard", "dibr"])
def test_render_torch_renderers(tmp_path, renderer):
    npy = tmp_path / "x.npy"
    proc = run("render", "--asset", "axes", "--renderer", renderer, "--size", "48", "--npy", str(npy))
    assert proc.returncode == 0, proc.stderr
    assert np.load(npy)[..., 3].max() == pytest.approx(1.0, abs=1e-3)


def test_missing_file(tmp_path):
    assert_one_line_error(run("render", str(tmp_path / "nope.obj"), "--out", str(tmp_path / "x.png")),
                          "nope.obj", "does not exist")


def test_bad_flag_value(tmp_path):
    assert_one_line_error(run("render", "--asset", "knot", "--size", "big", "--out", "x.png"), "--size")
    assert_one_line_error(run("render", "--asset", "knot", "--lighting", "neon", "--out", "x.png"), "neon")
    assert_one_line_error(run("render", "--asset", "knot", "--fov", "200", "--out", "x.png"), "fov")


def test_unreadable_file(tmp_path):
    broken = tmp_path / "broken.ply"
    broken.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 99\n\x00\x01garbage")
    assert_one_line_error(run("render", str(broken), "--out", str(tmp_path / "x.png")), "broken.ply")
    folder = tmp_path / "folder.obj"
    folder.mkdir()
    assert_one_line_error(run("render", str(folder), "--out", str(tmp_path / "x.png")), "folder.obj")


def test_unknown_asset_and_output_folder(tmp_path):
    assert_one_line_error(run("render", "--asset", "unicorn", "--out", str(tmp_path / "x.png")), "unicorn")
    assert_one_line_error(run("render", "--asset", "knot", "--out", str(tmp_path / "no" / "x.png")), "does not exist")


def test_assets_lists_default():
    proc = run("assets")
    assert proc.returncode == 0
    assert "knot" in proc.stdout and "(default)" in proc.stdout
