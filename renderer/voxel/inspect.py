"""Debugger views of a voxel scene: one pixel's ray (the cells it crosses, with DRC's q_i) and
slices of a per-cell gradient through the grid. Tensors and numpy out; no Qt."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..scene import Scene
from .drc import scene_grid, termination


@dataclass
class RayInspection:
    """The cells pixel (row, col)'s ray crosses, front to back (K of them; K = 0 when it misses
    the grid's box).

    cells: (K,) int64 flat cell ids; ijk: (K, 3) int64 their (i, j, k); occupancy: (K,) x_i;
    q: (K,) termination probability x_i prod_{j<i} (1 - x_j); transmittance: (K,) prod_{j<i}
    (1 - x_j), the probability of reaching the cell; t_in, t_out: (K,) view depth of the entry
    and exit points; distance: (K,) Euclidean distance from the eye to the entry point (DRC's
    d_i); entry_axis: (K,) the axis (0 x, 1 y, 2 z) of the entry face (-1: inside);
    escape: the probability of crossing every cell; expected_depth: sum q_i t_in_i / (1 - escape)
    (0 when escape = 1); hard_index: the position in the list of the first cell with occupancy
    >= 0.5 (the GL reference's hard surface), -1 if none.
    """

    row: int
    col: int
    cells: np.ndarray
    ijk: np.ndarray
    occupancy: np.ndarray
    q: np.ndarray
    transmittance: np.ndarray
    t_in: np.ndarray
    t_out: np.ndarray
    distance: np.ndarray
    entry_axis: np.ndarray
    escape: float
    expected_depth: float
    hard_index: int

    @property
    def num_cells(self) -> int:
        return int(len(self.cells))


def inspect_ray(scene: Scene, row: int, col: int) -> RayInspection:
    """The ray of pixel (row, col) (row 0 at the top) of ``scene`` through its voxel grid."""
    grid = scene_grid(scene)
    s = scene.settings.image_size
    if not (0 <= row < s and 0 <= col < s):
        raise ValueError(f"pixel ({row}, {col}) is outside the {s} x {s} image")
    with torch.no_grad():
        term = termination(grid, scene.camera, s)
    segs = term.segments
    where = torch.nonzero(segs.ray == row * s + col).reshape(-1)
    empty_i = np.zeros(0, np.int64)
    empty_f = np.zeros(0, np.float64)
    if len(where) == 0:
        return RayInspection(row, col, empty_i, np.zeros((0, 3), np.int64), empty_f, empty_f, empty_f,
                             empty_f, empty_f, empty_f, empty_i, 1.0, 0.0, -1)
    r = int(where[0])
    lanes = term.valid[r]
    seg = segs.slot[r][lanes]
    x = term.x[r][lanes].double()
    q = term.q[r][lanes].double()
    before = torch.cumprod(torch.cat([torch.ones(1, dtype=x.dtype), 1 - x[:-1]]), 0)
    cells = segs.cell[seg]
    dx, dy, dz = grid.shape
    ijk = torch.stack([cells // (dy * dz), (cells // dz) % dy, cells % dz], dim=1)
    escape = float(term.escape[r])
    depth = float((q * segs.t_in[seg]).sum() / (1 - escape)) if escape < 1 else 0.0
    hard = torch.nonzero(x >= 0.5).reshape(-1)
    norms = float(segs.ray_dir[r].norm())
    return RayInspection(row, col, cells.numpy(), ijk.numpy(), x.numpy(), q.numpy(), before.numpy(),
                         segs.t_in[seg].numpy(), segs.t_out[seg].numpy(), (segs.t_in[seg] * norms).numpy(),
                         segs.axis[seg].numpy(), escape, depth, int(hard[0]) if len(hard) else -1)


def gradient_volume(grad: torch.Tensor | np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """A per-cell gradient (N,) or (Dx, Dy, Dz) (e.g. dL/dx of the occupancy group) as a
    (Dx, Dy, Dz) float numpy array."""
    values = grad.detach().cpu().numpy() if isinstance(grad, torch.Tensor) else np.asarray(grad)
    if values.size != int(np.prod(shape)):
        raise ValueError(f"a gradient of {values.size} values does not fit a grid of {shape} cells")
    return values.reshape(shape)


def gradient_slice(grad: torch.Tensor | np.ndarray, shape: tuple[int, int, int], axis: int,
                   index: int) -> np.ndarray:
    """One axis-aligned slice of a per-cell gradient: axis 0 (x = index) -> (Dy, Dz), axis 1
    (y = index) -> (Dx, Dz), axis 2 (z = index) -> (Dx, Dy); the array's first index is the
    slice's first remaining axis (transpose / flip for display: rows up = +y is ``[:, ::-1].T``
    for an x slice)."""
    volume = gradient_volume(grad, shape)
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0 (x), 1 (y) or 2 (z), got {axis!r}")
    if not 0 <= index < shape[axis]:
        raise ValueError(f"slice {index} is outside the grid's {shape[axis]} cells along "
                         f"{'xyz'[axis]}")
    return np.take(volume, index, axis=axis)


def gradient_slices(grad: torch.Tensor | np.ndarray, shape: tuple[int, int, int], axis: int) -> np.ndarray:
    """Every slice along ``axis`` at once, slice index first: (D_axis, ., .)."""
    return np.moveaxis(gradient_volume(grad, shape), axis, 0)


def max_projection(grad: torch.Tensor | np.ndarray, shape: tuple[int, int, int], axis: int) -> np.ndarray:
    """The signed value of largest magnitude along ``axis`` per column (a "volume painting" of
    dL/dx seen along an axis): (., .)."""
    volume = gradient_volume(grad, shape)
    idx = np.abs(volume).argmax(axis=axis)
    return np.take_along_axis(volume, np.expand_dims(idx, axis), axis=axis).squeeze(axis)
