"""Voxel grids from and to files: ``.binvox`` (as ShapeNet ships them), ``.npy``, ``.npz``, and
from a mesh (``voxelize``).

.binvox (Patrick Min's format, read through ``trimesh.exchange.binvox``): the header's
``translate`` and ``scale`` place the grid's box at [translate, translate + scale] on every axis
(the binvox spec's model box); the run-length data are in binvox's x, z, y order and are
transposed to this project's x, y, z. .npy: one (Dx, Dy, Dz) occupancy array, bounds
[-0.5, 0.5]^3. .npz: key ``occupancy`` (Dx, Dy, Dz), optional ``bounds`` (2, 3) [min; max] and
``colors`` (Dx, Dy, Dz, 3) (an .npz without ``occupancy`` is not claimed: the SDF package reads
those with an ``sdf`` key).
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Union

import numpy as np
import torch

from .grid import DEFAULT_BOUNDS, MAX_RESOLUTION, VoxelGrid, VoxelGridError, validate_grid

PathLike = Union[str, Path]


class VoxelFileError(VoxelGridError):
    """A voxel file that cannot be read; the message names the file and what is wrong."""

    def __init__(self, path: PathLike, reason: str):
        self.path = Path(path)
        super().__init__(f"Cannot load voxels '{self.path}': {reason}")


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise VoxelFileError(path, "the file does not exist")
    if path.is_dir():
        raise VoxelFileError(path, "this is a folder, not a voxel file")
    try:
        return path.read_bytes()
    except OSError as err:
        raise VoxelFileError(path, f"the file cannot be read ({err.strerror or err})") from None


def _grid(path: Path, occupancy: np.ndarray, lo, hi, colors=None) -> VoxelGrid:
    """Wrap arrays as a VoxelGrid, turning its validation error into one naming the file."""
    occ = np.asarray(occupancy)
    if occ.dtype == bool or occ.dtype.kind in "ui":
        occ = occ.astype(np.float32)
    if occ.dtype.kind != "f":
        raise VoxelFileError(path, f"occupancy must be numbers, got dtype {occ.dtype}")
    try:
        grid = VoxelGrid(occupancy=torch.from_numpy(np.ascontiguousarray(occ, dtype=np.float32)),
                         lo=torch.as_tensor(np.asarray(lo, dtype=np.float64)),
                         hi=torch.as_tensor(np.asarray(hi, dtype=np.float64)),
                         colors=None if colors is None else torch.from_numpy(
                             np.ascontiguousarray(colors, dtype=np.float32)),
                         name=path.stem)
        validate_grid(grid.occupancy, grid.lo, grid.hi, grid.colors, "", probabilities=True)
        return grid
    except VoxelGridError as err:
        reason = str(err).split(": ", 1)[-1]
        raise VoxelFileError(path, reason) from None


# ------------------------------------------------------------------------------------ binvox

def read_binvox(path: PathLike) -> VoxelGrid:
    """A .binvox file as a VoxelGrid of 0/1 occupancies (see the module docstring for the box)."""
    from trimesh.exchange.binvox import parse_binvox

    path = Path(path)
    data = _read_bytes(path)
    try:
        parsed = parse_binvox(io.BytesIO(data))
    except Exception as err:  # noqa: BLE001 - trimesh raises IOError, ValueError, IndexError...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise VoxelFileError(path, f"not a valid binvox file (bad header: {first})") from None
    shape = tuple(int(n) for n in parsed.shape)
    if len(shape) != 3 or min(shape) < 1 or max(shape) > MAX_RESOLUTION:
        raise VoxelFileError(path, f"grid dimensions {shape} must be 3 sides of 1 to {MAX_RESOLUTION}")
    rle = np.asarray(parsed.rle_data, dtype=np.uint8)
    if rle.size % 2:
        raise VoxelFileError(path, "the run-length data end in the middle of a (value, count) pair "
                                   "(truncated file)")
    values, counts = rle[0::2], rle[1::2].astype(np.int64)
    total, expected = int(counts.sum()), int(np.prod(shape))
    if total != expected:
        state = "truncated file" if total < expected else "too many voxels"
        raise VoxelFileError(path, f"the run-length data hold {total} voxels, the header says "
                                   f"{shape[0]}x{shape[1]}x{shape[2]} = {expected} ({state})")
    if values.max(initial=0) > 1:
        raise VoxelFileError(path, f"run values must be 0 or 1, found {int(values.max())}")
    flat = np.repeat(values, counts).astype(np.float32)
    # binvox order: x slowest, then z, then y (y fastest); the header's dims are (d, w, h).
    occ = flat.reshape(shape[0], shape[2], shape[1]).transpose(0, 2, 1)
    translate = np.asarray(parsed.translate, dtype=np.float64).reshape(-1)
    scale = float(parsed.scale)
    if translate.shape != (3,) or not np.isfinite(translate).all() or not np.isfinite(scale) or scale <= 0:
        raise VoxelFileError(path, f"translate {translate.tolist()} and scale {scale} must be finite, "
                                   "the scale positive")
    return _grid(path, occ, translate, translate + scale)


def binvox_bytes(grid: VoxelGrid, threshold: float = 0.5) -> bytes:
    """The bytes of a .binvox file of ``grid`` (cells with occupancy >= threshold set). The
    grid's box must be a cube (binvox has one scale)."""
    from trimesh.exchange.binvox import binvox_bytes as encode

    size = (grid.hi - grid.lo).tolist()
    if max(size) - min(size) > 1e-9 * max(size) or len(set(grid.shape)) != 1:
        raise VoxelGridError("binvox stores cubic grids in cubic boxes only")
    occ = (grid.occupancy.detach().cpu().numpy() >= threshold).astype(np.uint8)
    flat = occ.transpose(0, 2, 1).reshape(-1)             # x, z, y order
    change = np.flatnonzero(np.diff(flat)) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [flat.size]]))
    pairs = []
    for start, length in zip(starts, lengths):
        while length > 0:                                  # counts are one byte: runs of <= 255
            run = min(length, 255)
            pairs.append((flat[start], run))
            length -= run
    rle = np.asarray(pairs, dtype=np.uint8).reshape(-1)
    return encode(rle, shape=grid.shape, translate=grid.lo.tolist(), scale=float(size[0]))


def write_binvox(grid: VoxelGrid, path: PathLike, threshold: float = 0.5) -> None:
    Path(path).write_bytes(binvox_bytes(grid, threshold))


# ------------------------------------------------------------------------------------ numpy

def read_npy(path: PathLike) -> VoxelGrid:
    """A .npy holding one (Dx, Dy, Dz) occupancy array; bounds [-0.5, 0.5]^3."""
    path = Path(path)
    data = _read_bytes(path)
    try:
        occ = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - numpy raises ValueError, EOFError, OSError...
        raise VoxelFileError(path, f"not a valid .npy array ({type(err).__name__}: "
                                   f"{' '.join(str(err).split())[:120]})") from None
    return _grid(path, occ, *DEFAULT_BOUNDS)


def npz_has_occupancy(path: Path) -> bool:
    """The .npz sniffer: True when the archive holds an ``occupancy`` array (header only)."""
    with zipfile.ZipFile(path) as archive:
        return "occupancy.npy" in archive.namelist()


def read_npz(path: PathLike) -> VoxelGrid:
    """An .npz with ``occupancy`` (Dx, Dy, Dz), optional ``bounds`` (2, 3) and ``colors``
    (Dx, Dy, Dz, 3)."""
    path = Path(path)
    data = _read_bytes(path)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except Exception as err:  # noqa: BLE001
        raise VoxelFileError(path, f"not a valid .npz archive ({type(err).__name__}: "
                                   f"{' '.join(str(err).split())[:120]})") from None
    if "occupancy" not in arrays:
        raise VoxelFileError(path, f"no 'occupancy' array (found: {', '.join(sorted(arrays)) or 'none'})")
    lo, hi = DEFAULT_BOUNDS
    if "bounds" in arrays:
        bounds = np.asarray(arrays["bounds"], dtype=np.float64)
        if bounds.shape != (2, 3):
            raise VoxelFileError(path, f"'bounds' must be (2, 3) [min corner; max corner], got "
                                       f"shape {bounds.shape}")
        lo, hi = bounds[0], bounds[1]
    return _grid(path, arrays["occupancy"], lo, hi, arrays.get("colors"))


def write_npz(grid: VoxelGrid, path: PathLike) -> None:
    """Save ``grid`` in the .npz layout ``read_npz`` reads."""
    arrays = {"occupancy": grid.occupancy.detach().cpu().numpy(),
              "bounds": torch.stack([grid.lo, grid.hi]).numpy()}
    if grid.colors is not None:
        arrays["colors"] = grid.colors.detach().cpu().numpy()
    np.savez(path, **arrays)


# ------------------------------------------------------------------------------------ meshes

def voxelize(mesh, resolution: int = 32, bounds=None, surface: bool = False,
             name: str | None = None) -> VoxelGrid:
    """A mesh (``renderer.mesh.Mesh`` or trimesh.Trimesh, used as it is) as a 0/1 grid of
    ``resolution``^3 cells over ``bounds`` ((min corner, max corner); None: the cube around the
    mesh's bounding box, 2% larger on each side).

    A cell is occupied when its centre is inside the mesh (by the parity of crossings along +x
    rays: meant for closed meshes), and with ``surface`` also when a surface sample falls in it
    (a conservative cover; used alone when no centre is inside, e.g. for an open mesh).
    Colours: none.
    """
    import trimesh

    if not isinstance(resolution, int) or not 1 <= resolution <= MAX_RESOLUTION:
        raise VoxelGridError(f"voxel resolution must be an integer from 1 to {MAX_RESOLUTION}, "
                             f"got {resolution!r}")
    if isinstance(mesh, trimesh.Trimesh):
        tm = mesh
        label = name or "mesh"
    else:
        tm = trimesh.Trimesh(mesh.verts.detach().cpu().double().numpy(), mesh.faces.cpu().numpy(),
                             process=False)
        label = name or mesh.name
    if bounds is None:
        vlo, vhi = np.asarray(tm.vertices).min(0), np.asarray(tm.vertices).max(0)
        centre, half = (vlo + vhi) / 2, float((vhi - vlo).max()) / 2 * 1.02
        bounds = (centre - half, centre + half)
    lo, hi = np.asarray(bounds[0], dtype=np.float64), np.asarray(bounds[1], dtype=np.float64)
    h = (hi - lo) / resolution
    occ = _inside_cells(tm, lo, h, resolution)
    if surface or not occ.any():
        samples = np.asarray(tm.sample(max(20000, 40 * resolution ** 2), return_index=False))
        cells = np.floor((samples - lo) / h).astype(np.int64)
        inside = ((cells >= 0) & (cells < resolution)).all(axis=1)
        occ[tuple(cells[inside].T)] = True
    return VoxelGrid(occupancy=torch.from_numpy(occ.astype(np.float32)),
                     lo=torch.from_numpy(lo), hi=torch.from_numpy(hi), name=label)


def _inside_cells(tm, lo: np.ndarray, h: np.ndarray, n: int) -> np.ndarray:
    """(n, n, n) bool: cell centres inside the mesh, by the parity of +x ray crossings (one ray
    per (j, k) column, intersected with every triangle: O(n^2 F) but vectorised per row)."""
    tri = np.asarray(tm.triangles, dtype=np.float64)              # (F, 3, 3)
    ys = lo[1] + (np.arange(n) + 0.5) * h[1]
    zs = lo[2] + (np.arange(n) + 0.5) * h[2]
    xs = lo[0] + (np.arange(n) + 0.5) * h[0]
    out = np.zeros((n, n, n), dtype=bool)
    # 2D point-in-triangle in the (y, z) plane, then the x of the crossing.
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    det = (b[:, 1] - a[:, 1]) * (c[:, 2] - a[:, 2]) - (c[:, 1] - a[:, 1]) * (b[:, 2] - a[:, 2])
    ok = np.abs(det) > 1e-15
    a, b, c, det = a[ok], b[ok], c[ok], det[ok]
    # tiny offsets so rays through shared edges count once
    e1, e2 = b - a, c - a
    for j, y in enumerate(ys + 1.1e-7):
        py = y - a[:, 1]                                          # (F,)
        pz = (zs + 1.3e-7)[:, None] - a[None, :, 2]               # (n, F)
        u = (py * e2[:, 2] - pz * e2[:, 1]) / det
        v = (pz * e1[:, 1] - py * e1[:, 2]) / det
        hit = (u >= 0) & (v >= 0) & (u + v <= 1)
        for k in np.flatnonzero(hit.any(axis=1)):
            sel = hit[k]
            xhit = a[sel, 0] + u[k, sel] * e1[sel, 0] + v[k, sel] * e2[sel, 0]
            crossings = (xhit[None, :] > xs[:, None]).sum(axis=1)
            out[:, j, k] = crossings % 2 == 1
    return out
