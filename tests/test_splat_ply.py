"""Splat files: the 3DGS PLY layout (degree-3 SH, channel-major f_rest, logit opacity, log
scales), plain point clouds, loading by contents (.ply with faces stays a mesh), the writer, and
one clear line (exit 2 on the CLI) for each broken file."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import renderer as dr
from renderer.io import load, loader_for
from renderer.splat.cloud import GaussianCloud
from renderer.splat.ply import (SplatLoadError, SplatNonFiniteError, SplatPropertyError, SplatScaleError,
                                SplatTruncatedError, save_gaussians, save_point_cloud)

NAMES = (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"] + [f"f_rest_{i}" for i in range(45)]
         + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"])


def write_3dgs(path, table: np.ndarray, names=NAMES, count=None, cut: int = 0):
    """A 3DGS-layout binary PLY written by hand (not by the writer under test)."""
    header = "\n".join(["ply", "format binary_little_endian 1.0", f"element vertex {count or len(table)}"]
                       + [f"property float {n}" for n in names] + ["end_header"]) + "\n"
    body = np.ascontiguousarray(table, dtype="<f4").tobytes()
    path.write_bytes(header.encode() + (body[:-cut] if cut else body))
    return path


def sample_table(n: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n, len(NAMES))).astype(np.float32)
    t[:, NAMES.index("scale_0"):NAMES.index("scale_2") + 1] = rng.uniform(-5, -2, size=(n, 3))
    return t


def test_3dgs_layout_loads_with_degree_3_sh(tmp_path):
    table = sample_table()
    cloud = load(write_3dgs(tmp_path / "scene.ply", table))
    assert isinstance(cloud, GaussianCloud) and cloud.num_splats == 5 and cloud.sh_degree == 3
    col = {n: table[:, i].astype(np.float64) for i, n in enumerate(NAMES)}
    # f_rest is channel-major: f_rest_{c * 15 + (k - 1)} is band coefficient k of channel c
    for k, c in ((1, 0), (7, 1), (15, 2), (3, 2)):
        assert np.allclose(cloud.sh[:, k, c].numpy(), col[f"f_rest_{c * 15 + k - 1}"], atol=1e-6)
    assert np.allclose(cloud.sh[:, 0, 1].numpy(), col["f_dc_1"], atol=1e-6)
    assert np.allclose(cloud.opacities.numpy(), 1 / (1 + np.exp(-col["opacity"])), atol=1e-6)
    assert np.allclose(cloud.quats.numpy(), table[:, -4:], atol=1e-6)
    # normalised like a mesh: scales follow the means' scale factor
    assert np.allclose(cloud.scales.numpy(), np.exp(table[:, NAMES.index("scale_0"):NAMES.index("scale_0") + 3]) * cloud.scale,
                       rtol=1e-5)
    means = np.stack([col[a] for a in "xyz"], 1)
    assert np.allclose(cloud.means.numpy(), (means - np.asarray(cloud.center)) * cloud.scale, atol=1e-5)
    assert math.isclose(float(cloud.means.norm(dim=1).max()), 1.0, rel_tol=1e-5)


def test_writer_round_trips_and_reader_reads_the_lower_degrees(tmp_path):
    table = sample_table(7, seed=1)
    cloud = load(write_3dgs(tmp_path / "a.ply", table))
    for degree in (3, 1, 0):
        k = (degree + 1) ** 2
        small = cloud.with_params(sh=cloud.sh[:, :k].contiguous())
        again = load(save_gaussians(small, tmp_path / f"deg{degree}.ply"))
        assert again.sh_degree == degree
        for name in ("means", "scales", "quats", "opacities", "sh"):
            assert torch.allclose(getattr(again, name), getattr(small, name), atol=1e-5, rtol=1e-4), name


def test_point_clouds_become_splats_and_meshes_stay_meshes(tmp_path):
    gen = np.random.default_rng(0)
    pts = gen.normal(size=(200, 3))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)           # points on the unit sphere
    colors = gen.uniform(size=(200, 3))
    plain = load(save_point_cloud(pts, tmp_path / "pts.ply", colors=colors, binary=False))
    assert isinstance(plain, GaussianCloud) and plain.num_splats == 200
    assert torch.allclose(plain.base_colors(), torch.from_numpy(np.round(colors * 255) / 255).float(), atol=1e-5)
    # the 3DGS size rule: sigma = RMS distance to the 3 nearest points, all three axes equal
    d = np.linalg.norm(pts[:, None] - pts[None], axis=2) + np.eye(200) * 9
    rule = np.sqrt((np.sort(d, axis=1)[:, :3] ** 2).mean(1)) * plain.scale
    assert np.allclose(plain.scales[:, 0].numpy(), rule, rtol=1e-4)
    surfels = load(save_point_cloud(pts, tmp_path / "surfels.ply", normals=pts))
    assert torch.allclose(surfels.scales[:, 2], 0.1 * surfels.scales[:, 0])
    from renderer.splat.cloud import quat_to_rotmat
    z_axis = quat_to_rotmat(surfels.quats)[:, :, 2]              # the thin axis is the normal
    assert torch.allclose(z_axis, torch.from_numpy(pts).float(), atol=1e-5)
    from renderer.assets import asset_path
    assert type(load(asset_path("knot"))).__name__ == "Mesh"          # a PLY with faces
    assert loader_for(tmp_path / "pts.ply").__name__ == "load_splat_ply"


@pytest.mark.parametrize("broken, error, words", [
    ("f_rest_count", SplatPropertyError, "44 f_rest properties"),
    ("missing", SplatPropertyError, "scale_2 (missing)"),
    ("nan", SplatNonFiniteError, "NaN or infinite"),
    ("zero_scale", SplatScaleError, "zero, negative or infinite scale"),
    ("huge_scale", SplatScaleError, "zero, negative or infinite scale"),
    ("truncated", SplatTruncatedError, "truncated"),
])
def test_broken_files_give_one_clear_line(tmp_path, capsys, broken, error, words):
    table, names = sample_table(), list(NAMES)
    kwargs = {}
    if broken == "f_rest_count":
        table, names = np.delete(table, NAMES.index("f_rest_44"), axis=1), NAMES[:NAMES.index("f_rest_44")] + NAMES[NAMES.index("f_rest_44") + 1:]
    elif broken == "missing":
        i = NAMES.index("scale_2")
        table, names = np.delete(table, i, axis=1), NAMES[:i] + NAMES[i + 1:]
    elif broken == "nan":
        table[2, 0] = np.nan
    elif broken == "zero_scale":
        table[1, NAMES.index("scale_1")] = -1000.0       # exp underflows to 0
    elif broken == "huge_scale":
        table[1, NAMES.index("scale_1")] = 1000.0        # exp overflows to inf
    elif broken == "truncated":
        kwargs["cut"] = 10
    path = write_3dgs(tmp_path / "broken.ply", table, names, **kwargs)
    with pytest.raises(error) as info:
        load(path)
    assert isinstance(info.value, SplatLoadError) and isinstance(info.value, dr.UserError)
    message = str(info.value)
    assert words in message and "\n" not in message and str(path) in message
    from main import main

    assert main(["render", str(path), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def test_the_grid_neighbour_search_finds_the_exact_neighbours():
    """Large point clouds search their 3 nearest neighbours in a grid; on a sampled sphere it
    finds the brute-force answer for (almost) every point."""
    from renderer.splat.ply import _knn_brute, _knn_grid

    gen = np.random.default_rng(3)
    pts = gen.normal(size=(3000, 3))
    pts = torch.from_numpy(pts / np.linalg.norm(pts, axis=1, keepdims=True)).float()
    exact, grid = _knn_brute(pts, pts, 3), _knn_grid(pts, 3, 16)
    assert (np.abs(grid - exact) <= 1e-5 * exact).mean() > 0.995
    assert (grid >= exact * (1 - 1e-5)).all()            # never closer than the truth
