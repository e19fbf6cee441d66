"""Voxel files: the bundled .binvox read through trimesh's parser in the project's x, y, z
order, round trips, the .npz sniffer, and one clear line for each broken file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import renderer as dr
from renderer.errors import UserError
from renderer.io import UnsupportedFileError, loader_for
from renderer.voxel import VoxelFileError, VoxelGrid, binvox_bytes, read_binvox, voxelize, write_npz
from renderer.voxel.bench import TORUS_BINVOX, torus_grid

ROOT = Path(__file__).resolve().parent.parent


def test_bundled_binvox_loads_as_the_torus_in_xyz_order():
    grid = dr.load(TORUS_BINVOX)
    assert isinstance(grid, VoxelGrid) and grid.shape == (32, 32, 32) and grid.name == "torus"
    assert torch.equal(grid.lo, torch.full((3,), -0.5, dtype=torch.float64))
    assert torch.equal(grid.occupancy, torus_grid(32).occupancy)
    # trimesh's own reader (its VoxelGrid.matrix is x, y, z) agrees on the axis order
    from trimesh.exchange.binvox import load_binvox

    with open(TORUS_BINVOX, "rb") as f:
        assert np.array_equal(load_binvox(f).matrix, grid.occupancy.numpy() > 0.5)
    scene = dr.Scene.default(grid)
    assert scene.settings.renderer == "drc" and dr.reference_renderer("voxels").name == "gl_voxel"


def test_an_asymmetric_grid_round_trips_through_binvox_and_npz(tmp_path):
    occ = torch.zeros(8, 8, 8)
    occ[1, 2, 3] = occ[7, 0, 0] = occ[0, 6, 1] = 1.0
    grid = VoxelGrid(occupancy=occ, lo=(-1.0, 0.0, 2.0), hi=(1.0, 2.0, 4.0))
    path = tmp_path / "a.binvox"
    path.write_bytes(binvox_bytes(grid))
    back = read_binvox(path)
    assert torch.equal(back.occupancy, occ) and torch.allclose(back.hi, grid.hi)
    colors = torch.rand(8, 8, 8, 3)
    write_npz(grid.with_colors(colors), tmp_path / "a.npz")
    again = dr.load(tmp_path / "a.npz")
    assert torch.equal(again.occupancy, occ) and torch.equal(again.colors, colors)
    assert torch.equal(again.lo, grid.lo)


def test_voxelize_marks_the_cells_whose_centres_are_inside():
    from renderer.io import load_mesh

    mesh = load_mesh(ROOT / "assets" / "sphere.obj")               # radius 1 about the origin
    grid = voxelize(mesh, 16, bounds=((-1.0,) * 3, (1.0,) * 3))
    radius = grid.cell_centres().norm(dim=-1)
    wrong = (grid.occupancy > 0.5) != (radius < 1.0)
    # the tessellated sphere is inside the true one: only centres within its sag may differ
    assert bool((radius[wrong] > 0.95).all()) and int(wrong.sum()) < 20


def broken(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = binvox_bytes(VoxelGrid(occupancy=torch.ones(4, 4, 4)))
    files = {
        "truncated binvox": ("t.binvox", good[:-2], r"run-length data hold \d+ voxels, the header says 4x4x4 = 64 \(truncated file\)"),
        "odd binvox": ("o.binvox", good[:-1], "middle of a .value, count. pair"),
        "not binvox": ("h.binvox", b"solid cube\nfacet normal 0 0 1\n", "not a valid binvox file"),
        "bad dims": ("d.binvox", b"#binvox 1\ndim 4 4\ndata\n", r"grid dimensions \(4, 4\) must be 3 sides"),
        "npy wrong shape": ("w.npy", None, r"must be a \(D, D, D\) array, got shape \(4, 4\)"),
        "npy NaN": ("n.npy", None, "1 occupancy value.s. are NaN or infinite"),
        "npy out of range": ("r.npy", None, r"must lie in \[0, 1\], got values from 0 to 1.5"),
        "npz bad bounds": ("b.npz", None, r"'bounds' must be \(2, 3\)"),
        "npz colours": ("c.npz", None, r"colors must be \(Dx, Dy, Dz, 3\)"),
        "too large": ("l.npy", None, "each side must have 1 to 128 cells"),
    }
    out = {}
    for key, (name, data, pattern) in files.items():
        path = tmp_path / name
        if data is not None:
            path.write_bytes(data)
        out[key] = (path, pattern)
    np.save(out["npy wrong shape"][0], np.zeros((4, 4), np.float32))
    nan = np.zeros((4, 4, 4), np.float32)
    nan[1, 1, 1] = np.nan
    np.save(out["npy NaN"][0], nan)
    high = np.zeros((4, 4, 4), np.float32)
    high[0, 0, 0] = 1.5
    np.save(out["npy out of range"][0], high)
    np.savez(out["npz bad bounds"][0], occupancy=np.zeros((4, 4, 4), np.float32), bounds=np.zeros(3))
    np.savez(out["npz colours"][0], occupancy=np.zeros((4, 4, 4), np.float32), colors=np.zeros((4, 4, 3)))
    np.save(out["too large"][0], np.zeros((4, 4, 130), np.float32))
    return out


def test_broken_files_each_give_one_clear_line(tmp_path):
    for key, (path, pattern) in broken(tmp_path).items():
        with pytest.raises(VoxelFileError, match=pattern) as info:
            dr.load(path)
        message = str(info.value)
        assert isinstance(info.value, UserError) and "\n" not in message, key
        assert message.startswith(f"Cannot load voxels '{path}': "), key


def test_the_npz_sniffer_leaves_other_archives_alone(tmp_path):
    np.savez(tmp_path / "sdf.npz", sdf=np.zeros((4, 4, 4)))
    np.savez(tmp_path / "vox.npz", occupancy=np.zeros((4, 4, 4), np.float32))
    assert loader_for(tmp_path / "vox.npz").__name__ == "read_npz"
    try:
        claimed = loader_for(tmp_path / "sdf.npz")
    except UnsupportedFileError:
        claimed = None
    assert claimed is None or claimed.__name__ != "read_npz"


def test_the_cli_prints_one_line_and_exits_2_for_a_truncated_binvox(tmp_path, capsys):
    from main import main

    path = tmp_path / "t.binvox"
    path.write_bytes(binvox_bytes(VoxelGrid(occupancy=torch.ones(4, 4, 4)))[:-2])
    assert main(["render", str(path), "--out", str(tmp_path / "x.png")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "truncated file" in lines[0], lines
