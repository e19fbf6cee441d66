"""The app's colour conventions in one place (DESIGN.md §5): a diverging map symmetric about zero
for signed quantities, a sequential map for magnitudes. Both are pyqtgraph built-ins."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

# CET-D1A: blue - white - red, perceptually uniform; warm = the value increases (Mitsuba's reading).
DIVERGING = "CET-D1A"
# viridis: dark to bright, readable on the dark pane background and in grey-scale print.
SEQUENTIAL = "viridis"
KINDS = ("diverging", "sequential")


def colormap(kind: str) -> pg.ColorMap:
    """The pyqtgraph ColorMap for ``kind`` ("diverging" or "sequential")."""
    if kind not in KINDS:
        raise ValueError(f"unknown colour-map kind {kind!r}; expected one of {', '.join(KINDS)}")
    return pg.colormap.get(DIVERGING if kind == "diverging" else SEQUENTIAL)


def symmetric_levels(values: np.ndarray) -> tuple[float, float]:
    """(-m, m) with m = max |values| over finite entries; (-1, 1) for an all-zero image, so the
    colour bar still reads as 'zero everywhere' instead of collapsing."""
    finite = np.abs(values[np.isfinite(values)])
    peak = float(finite.max()) if finite.size else 0.0
    return (-peak, peak) if peak > 0 else (-1.0, 1.0)


def magnitude_levels(values: np.ndarray) -> tuple[float, float]:
    """(0, max) over finite entries; (0, 1) when everything is zero."""
    finite = values[np.isfinite(values)]
    peak = float(finite.max()) if finite.size else 0.0
    return (0.0, peak) if peak > 0 else (0.0, 1.0)


def levels_for(kind: str, values: np.ndarray) -> tuple[float, float]:
    return symmetric_levels(values) if kind == "diverging" else magnitude_levels(values)


def map_to_rgb(values: np.ndarray, kind: str, levels: tuple[float, float]) -> np.ndarray:
    """Colour-map a scalar array -> float32 (..., 3) in [0, 1]; NaN maps to black."""
    lo, hi = levels
    t = (np.asarray(values, np.float64) - lo) / (hi - lo if hi > lo else 1.0)
    t = np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0)
    rgba = colormap(kind).map(t.ravel(), mode="float")
    rgb = np.asarray(rgba, np.float32)[:, :3].reshape(*np.shape(values), 3)
    rgb[~np.isfinite(values)] = 0.0
    return rgb
