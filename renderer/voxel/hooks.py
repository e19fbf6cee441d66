"""The voxel grid's entries in the analysis views: the pixel inspector (the cells one pixel's ray
crosses, with DRC's q_i) and the per-element gradient view (a slice of dL/dx through the grid)."""
from __future__ import annotations

import numpy as np

from ..analysis.element_inspector import ElementTable, fmt, register_pixel_inspector
from ..analysis.element_view import ElementView, register_element_painter
from ..scene import Scene
from .drc import scene_grid
from .inspect import gradient_slice, inspect_ray

MAX_ROWS = 300
TOP_CELLS = 10
AXIS_NAMES = "xyz"


def inspect_voxel_pixel(scene: Scene, row: int, col: int) -> ElementTable:
    """Pixel (row, col)'s ray: one table row per crossed cell, front to back."""
    ray = inspect_ray(scene, row, col)
    header = [f"{ray.num_cells} cells crossed; escape {ray.escape:.4g}, alpha {1 - ray.escape:.4g}",
              f"expected depth {ray.expected_depth:.5g}" if ray.num_cells else "the ray misses the grid's box"]
    if ray.hard_index >= 0:
        i, j, k = ray.ijk[ray.hard_index]
        header.append(f"hard surface (occupancy >= 0.5): cell {i},{j},{k} at view depth "
                      f"{ray.t_in[ray.hard_index]:.5g}")
    rows = [(f"{i},{j},{k}", fmt(x), fmt(q), fmt(tr), fmt(t, 6), fmt(d, 6), AXIS_NAMES[a] if a >= 0 else "-")
            for (i, j, k), x, q, tr, t, d, a in zip(ray.ijk, ray.occupancy, ray.q, ray.transmittance,
                                                    ray.t_in, ray.distance, ray.entry_axis)][:MAX_ROWS]
    notes = [f"first {MAX_ROWS} of {ray.num_cells} cells listed"] if ray.num_cells > MAX_ROWS else []
    return ElementTable(row=row, col=col, renderer=scene.settings.renderer, header=header,
                        columns=("cell i,j,k", "x", "q", "reach", "depth in", "distance", "face"),
                        rows=rows, elements=[int(c) for c in ray.cells[:MAX_ROWS]], notes=notes)


def display_slice(values: np.ndarray, axis: int) -> np.ndarray:
    """A gradient slice oriented for display: x slice (Dy, Dz) -> rows +y up, columns z; y slice
    (Dx, Dz) -> rows z, columns x (seen from above); z slice (Dx, Dy) -> rows +y up, columns x."""
    if axis == 0:
        return values[::-1, :]
    if axis == 1:
        return values.T
    return values[:, ::-1].T


def paint_voxel_gradient(scene: Scene, grad: np.ndarray, magnitude: np.ndarray) -> ElementView:
    """The slice of dL/dx (signed) through the cell pulled hardest, across the axis closest to
    the viewing direction; the lines list the cells pulled hardest."""
    grid = scene_grid(scene)
    shape = grid.shape
    back = scene.camera.basis()[2].detach().abs().numpy()
    axis = int(np.argmax(back))
    flat = int(np.argmax(magnitude)) if magnitude.size else 0
    ijk = grid.cell_ijk(flat)
    values = display_slice(gradient_slice(np.asarray(grad).reshape(-1), shape, axis, ijk[axis]), axis)
    order = np.argsort(-magnitude)[:TOP_CELLS]
    lines = [f"dL/dx on the {AXIS_NAMES[axis]} = {ijk[axis]} slice of the {shape[0]}x{shape[1]}x{shape[2]} grid "
             "(through the cell pulled hardest)", "cells pulled hardest (i,j,k: dL/dx):"]
    lines += ["  " + "{},{},{}".format(*grid.cell_ijk(int(n))) + f": {float(np.asarray(grad).reshape(-1)[n]):.4g}"
              for n in order if magnitude[n] > 0]
    return ElementView(np.ascontiguousarray(values, dtype=np.float32),
                       f"dL/dx, {AXIS_NAMES[axis]} = {ijk[axis]} slice", lines=lines)


register_pixel_inspector("voxels", inspect_voxel_pixel)
register_element_painter("voxels", paint_voxel_gradient)
