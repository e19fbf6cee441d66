"""Target images from files: read (GUI thread, numpy only) and fitted to the render (worker).

``renderer.analysis.load_target_image`` needs the file to have the render's exact size; the GUI
changes resolution (and previews at a lower one), so here the image is read once and resized to
whatever the render is, with the same channel rules (RGBA uses its alpha; RGB counts pixels that
differ from the background as covered; grey is a mask).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy")
BACKGROUND_TOLERANCE = 1.5 / 255


def read_target_file(path: str | Path) -> np.ndarray:
    """The image as float32 (H, W), (H, W, 3) or (H, W, 4) in [0, 1]. Raises ValueError naming the
    file and the reason (missing, unreadable, wrong shape)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"target image {path.name!r} does not exist or is not a file")
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ValueError(f"{path.name!r} is not a target image; expected one of "
                         f"{' '.join(IMAGE_EXTENSIONS)}")
    try:
        if path.suffix.lower() == ".npy":
            image = np.load(path, allow_pickle=False).astype(np.float32)
        else:
            import imageio.v3 as iio

            # pillow only: on a broken file, probing every imageio plugin ends in confusing messages
            raw = np.asarray(iio.imread(path, plugin="pillow"))
            scale = 65535.0 if raw.dtype == np.uint16 else 255.0
            image = raw.astype(np.float32) / scale
    except Exception as exc:  # noqa: BLE001 - numpy and imageio raise many kinds; one line for the user
        raise ValueError(f"cannot read target image {path.name!r}: the file is damaged or not a "
                         f"{path.suffix.lstrip('.').upper()} image ({' '.join(str(exc).split())})") from None
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(f"target image {path.name!r} has shape {image.shape}; expected grey, RGB or RGBA")
    if min(image.shape[:2]) < 4:
        raise ValueError(f"target image {path.name!r} is only {image.shape[1]}x{image.shape[0]} pixels")
    if not np.isfinite(image).all():
        raise ValueError(f"target image {path.name!r} contains NaN or infinite values")
    return np.ascontiguousarray(image)


def fit_target(image: np.ndarray, size: int, background: tuple[float, float, float]):
    """A ``renderer.analysis.Target`` of ``size`` x ``size`` from a read image (worker thread):
    centre-cropped to a square, resized (area average down, bilinear up), then split into rgb and
    alpha by the channel rules above."""
    import torch

    from renderer.analysis import Target

    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = image[top:top + side, left:left + side]
    chw = torch.from_numpy(np.ascontiguousarray(square.reshape(side, side, -1))).permute(2, 0, 1)[None]
    mode = "area" if side >= size else "bilinear"
    kwargs = {} if mode == "area" else {"align_corners": False}
    resized = torch.nn.functional.interpolate(chw, size=(size, size), mode=mode, **kwargs)[0].permute(1, 2, 0)
    channels = resized.shape[-1]
    if channels == 1:
        rgb, alpha = resized.repeat(1, 1, 3), resized[..., 0]
    elif channels == 4:
        rgb, alpha = resized[..., :3], resized[..., 3]
    else:
        rgb = resized
        bg = torch.tensor(background, dtype=rgb.dtype)
        alpha = ((rgb - bg).abs().amax(-1) > BACKGROUND_TOLERANCE).to(rgb.dtype)
    return Target(rgb.contiguous(), alpha.contiguous())
