"""Targets for render-and-compare: rendered from a scene at other parameter values, or read from
an image file (PNG, or the raw RGBA NPY that ``main.py render --npy`` writes)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

import numpy as np
import torch

from ..scene import Scene
from .losses import Target
from .params import with_params

# A PNG without an alpha channel: pixels that differ from the background by more than this (in
# any channel, 8-bit steps) count as covered.
BACKGROUND_TOLERANCE = 1.5 / 255


def render_target(scene: Scene, values: Optional[Mapping[str, float]] = None,
                  renderer: str = "gl", supersample: int = 4, gl=None) -> Target:
    """Render the target image: ``scene`` with the scalar parameters ``values`` (name -> value,
    see ``params``) set, drawn by ``renderer``. The default, the OpenGL reference supersampled
    k = 4 times, stands in for a photograph: anti-aliased, with none of the soft renderers' bias.
    gl: an optional ``GLRenderer`` to draw with (GL must be used from one thread)."""
    target_scene = with_params(scene, values or {})
    if renderer == "gl":
        from ..gl import render_gl

        target_scene = target_scene.with_settings(renderer="gl", supersample=supersample)
        out = gl.render(target_scene) if gl is not None else render_gl(target_scene)
        rgb, alpha = torch.from_numpy(out["rgb"]), torch.from_numpy(out["alpha"])
    else:
        from ..render import render

        with torch.no_grad():
            out = render(target_scene.with_settings(renderer=renderer))
        rgb, alpha = out["rgb"], out["alpha"]
    dtype = scene.mesh.verts.dtype
    return Target(rgb.detach().to(dtype), alpha.detach().to(dtype))


def load_target_image(path: str | Path, image_size: int,
                      background: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Target:
    """Read a target image of ``image_size`` x ``image_size`` pixels.

    .npy: float (S, S, 4) RGBA, (S, S, 3) RGB or (S, S) mask. .png/.jpg: 8-bit, read as linear
    values / 255; RGBA uses its alpha; RGB gets alpha 1 wherever it differs from ``background``;
    a grey image is a mask (alpha = grey, rgb = grey). Raises ValueError for other sizes or shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"target image {str(path)!r} does not exist or is not a file")
    if path.suffix.lower() == ".npy":
        image = np.load(path).astype(np.float32)
    else:
        import imageio.v3 as iio

        try:
            image = np.asarray(iio.imread(path), dtype=np.float32) / 255.0
        except Exception as exc:  # noqa: BLE001 - imageio raises many kinds; one line for the user
            raise ValueError(f"cannot read target image {str(path)!r}: {exc}") from None
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.shape[:2] != (image_size, image_size) or image.ndim not in (2, 3) or \
            (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(f"target image {str(path)!r} is {'x'.join(map(str, image.shape))}; "
                         f"expected {image_size}x{image_size} (grey, RGB or RGBA) to match --size")
    if image.ndim == 2:
        rgb, alpha = np.repeat(image[..., None], 3, axis=2), image
    elif image.shape[2] == 4:
        rgb, alpha = image[..., :3], image[..., 3]
    else:
        rgb = image
        alpha = (np.abs(rgb - np.asarray(background, np.float32)).max(-1) > BACKGROUND_TOLERANCE)
        alpha = alpha.astype(np.float32)
    return Target(torch.from_numpy(np.ascontiguousarray(rgb)), torch.from_numpy(np.ascontiguousarray(alpha)))
