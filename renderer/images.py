"""Image files: float buffers to display and PNG (only display code clamps, DESIGN.md §2), and
the one reader of target images."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import UserError


def to_uint8(image: np.ndarray) -> np.ndarray:
    """(H, W[, C]) float in [0, 1] (linear) -> uint8, clamped; NaN shown as 0."""
    img = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_png(path: str | Path, image: np.ndarray) -> None:
    """Write (H, W), (H, W, 3) or (H, W, 4) float [0, 1] as an 8-bit PNG."""
    import imageio.v3 as iio

    iio.imwrite(str(path), to_uint8(image), extension=".png")


# --- target images: one reader for the CLI, the GUI and the Python API ----------------------

TARGET_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy")
# An RGB image without alpha: pixels that differ from the background by more than this (in any
# channel, 8-bit steps) count as covered.
BACKGROUND_TOLERANCE = 1.5 / 255


class TargetImageError(UserError, ValueError):
    """A target image file that cannot be used; the message names the file and the reason."""


def read_target_image(path: str | Path) -> np.ndarray:
    """The image at ``path`` as float32 (H, W), (H, W, 3) or (H, W, 4) in [0, 1]: 8-bit files
    / 255, 16-bit files / 65535, .npy as stored (float RGBA, RGB or mask). Raises
    TargetImageError (missing, unreadable, wrong shape, too small, NaN)."""
    path = Path(path)
    if not path.is_file():
        raise TargetImageError(f"target image {path.name!r} does not exist or is not a file")
    if path.suffix.lower() not in TARGET_IMAGE_EXTENSIONS:
        raise TargetImageError(f"{path.name!r} is not a target image; expected one of "
                               f"{' '.join(TARGET_IMAGE_EXTENSIONS)}")
    try:
        if path.suffix.lower() == ".npy":
            image = np.load(path, allow_pickle=False).astype(np.float32)
        else:
            import imageio.v3 as iio

            # pillow only: on a broken file, probing every imageio plugin ends in confusing messages
            raw = np.asarray(iio.imread(path, plugin="pillow"))
            if raw.dtype.kind not in "ui":
                raise ValueError(f"unsupported pixel type {raw.dtype}")
            image = raw.astype(np.float32) / float(np.iinfo(raw.dtype).max)
    except Exception as exc:  # noqa: BLE001 - numpy and imageio raise many kinds; one line for the user
        raise TargetImageError(f"cannot read target image {path.name!r}: the file is damaged or not a "
                               f"{path.suffix.lstrip('.').upper()} image ({' '.join(str(exc).split())})") from None
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise TargetImageError(f"target image {path.name!r} has shape {image.shape}; expected grey, RGB or RGBA")
    if min(image.shape[:2]) < 4:
        raise TargetImageError(f"target image {path.name!r} is only {image.shape[1]}x{image.shape[0]} pixels")
    if not np.isfinite(image).all():
        raise TargetImageError(f"target image {path.name!r} contains NaN or infinite values")
    return np.ascontiguousarray(image)


def fit_target_image(image: np.ndarray, size: int,
                     background: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """A read image as a target of ``size`` x ``size``: centre-cropped to a square, resized (area
    average down, bilinear up), then split into rgb (S, S, 3) and alpha (S, S) float32: RGBA uses
    its alpha; RGB counts pixels that differ from ``background`` as covered; grey is a mask."""
    import torch

    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = np.ascontiguousarray(image[top:top + side, left:left + side].reshape(side, side, -1))
    if side != size:
        chw = torch.from_numpy(square).permute(2, 0, 1)[None]
        mode = "area" if side >= size else "bilinear"
        kwargs = {} if mode == "area" else {"align_corners": False}
        chw = torch.nn.functional.interpolate(chw, size=(size, size), mode=mode, **kwargs)
        square = chw[0].permute(1, 2, 0).numpy()
    if square.shape[-1] == 1:
        rgb, alpha = np.repeat(square, 3, axis=2), square[..., 0]
    elif square.shape[-1] == 4:
        rgb, alpha = square[..., :3], square[..., 3]
    else:
        rgb = square
        alpha = (np.abs(rgb - np.asarray(background, np.float32)).max(-1) > BACKGROUND_TOLERANCE)
    return np.ascontiguousarray(rgb, np.float32), np.ascontiguousarray(alpha, np.float32)
