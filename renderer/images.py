"""Converting float image buffers for display and files. Only display code clamps (DESIGN.md §2)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def to_uint8(image: np.ndarray) -> np.ndarray:
    """(H, W[, C]) float in [0, 1] (linear) -> uint8, clamped; NaN shown as 0."""
    img = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_png(path: str | Path, image: np.ndarray) -> None:
    """Write (H, W), (H, W, 3) or (H, W, 4) float [0, 1] as an 8-bit PNG."""
    import imageio.v3 as iio

    iio.imwrite(str(path), to_uint8(image), extension=".png")
