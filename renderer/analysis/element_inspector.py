"""The pixel inspector of the representations other than meshes: one table per pixel.

A mesh pixel is explained by its faces (``inspector.PixelReport``); a splat pixel by the splats
composited into it, a voxel pixel by the cells its ray crosses, an SDF pixel by its
sphere-tracing steps. Each representation registers a function returning an ``ElementTable``
(``register_pixel_inspector``); ``inspect_pixel`` dispatches on the scene's kind, so the GUI's
inspector dock and the ``grad --pixel`` verb show any of them the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..scene import Scene


@dataclass
class ElementTable:
    """One pixel's report as a table. header: summary lines (the pixel's value, totals);
    columns: the table's column names; rows: one tuple of cell texts per element (at most a
    few hundred, most important first); elements: the element index of each row (-1: none),
    for highlighting; notes: findings in words (e.g. "3 fragments dropped below 1/255");
    outlines: (len(rows), K, 2) closed polygons in pixel coordinates (x = column, y = row, the
    image's corner at 0), one per row, drawn on the reference view (a splat's footprint ellipse),
    or None."""

    row: int
    col: int
    renderer: str
    header: list[str]
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    elements: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outlines: Optional[np.ndarray] = None

    def lines(self, max_rows: int = 12) -> list[str]:
        """A plain-text report: the header, the first ``max_rows`` rows, the notes."""
        out = list(self.header)
        if self.rows:
            out.append("  " + " | ".join(self.columns))
            out += ["  " + " | ".join(r) for r in self.rows[:max_rows]]
            if len(self.rows) > max_rows:
                out.append(f"  ... {len(self.rows) - max_rows} more")
        return out + list(self.notes)


PixelInspector = Callable[[Scene, int, int], ElementTable]
PIXEL_INSPECTORS: dict[str, PixelInspector] = {}


def register_pixel_inspector(kind: str, inspect: PixelInspector) -> None:
    """``inspect(scene, row, col) -> ElementTable`` explains pixels of representation ``kind``."""
    PIXEL_INSPECTORS[kind] = inspect


def inspect_element_pixel(scene: Scene, row: int, col: int) -> ElementTable:
    """The registered inspector of the scene's representation at (row, col), row 0 at the top."""
    from ..registry import load_plugins

    load_plugins()
    s = scene.settings.image_size
    if not (0 <= row < s and 0 <= col < s):
        raise ValueError(f"pixel (row {row}, col {col}) is outside the {s}x{s} image")
    inspect = PIXEL_INSPECTORS.get(scene.kind)
    if inspect is None:
        raise ValueError(f"there is no pixel inspector for a {scene.kind} yet")
    return inspect(scene, row, col)


def fmt(values, precision: int = 4) -> str:
    """Numbers as a short space-separated text (a cell of a table)."""
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    return " ".join(f"{v:.{precision}g}" for v in arr)
