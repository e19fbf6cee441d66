"""Targets for render-and-compare: rendered from a scene at other parameter values, or read from
an image file (PNG, or the raw RGBA NPY that ``main.py render --npy`` writes)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

import torch

from ..images import TargetImageError, fit_target_image, read_target_image
from ..registry import get_renderer, reference_renderer
from ..scene import Scene
from .losses import Target
from .params import scene_dtype, with_params


def render_target(scene: Scene, values: Optional[Mapping[str, float]] = None,
                  renderer: Optional[str] = None, supersample: int = 4, gl=None) -> Target:
    """Render the target image: ``scene`` with the scalar parameters ``values`` (name -> value,
    see ``params``) set, drawn by ``renderer``. The default, the scene's representation's
    reference (OpenGL for a mesh) supersampled k = 4 times, stands in for a photograph:
    anti-aliased, with none of the soft renderers' bias. gl: an optional mesh ``GLRenderer`` to
    draw with (GL must be used from one thread)."""
    from ..rendering import render

    renderer = renderer or reference_renderer(scene.kind).name
    target_scene = with_params(scene, values or {}).with_settings(renderer=renderer)
    if get_renderer(renderer).is_reference:
        target_scene = target_scene.with_settings(supersample=supersample)
    if gl is not None and get_renderer(renderer).is_reference and scene.kind == "mesh":
        out = {k: torch.from_numpy(v) for k, v in gl.render(target_scene).items()}
    else:
        with torch.no_grad():
            out = render(target_scene)
    rgb, alpha = out["rgb"], out["alpha"]
    dtype = scene_dtype(scene)
    return Target(rgb.detach().to(dtype), alpha.detach().to(dtype))


def load_target_image(path: str | Path, image_size: int,
                      background: tuple[float, float, float] = (0.0, 0.0, 0.0), resize: bool = False) -> Target:
    """Read a target image for renders of ``image_size`` x ``image_size`` pixels with
    ``renderer.images.read_target_image`` (8- and 16-bit files, .npy) and its channel rules
    (``fit_target_image``). Without ``resize`` a file of another size is a TargetImageError."""
    image = read_target_image(path)
    if not resize and image.shape[:2] != (image_size, image_size):
        raise TargetImageError(f"target image {Path(path).name!r} is {image.shape[1]}x{image.shape[0]}; "
                               f"expected {image_size}x{image_size} to match --size")
    return target_from_image(image, image_size, background)


def target_from_image(image, image_size: int, background: tuple[float, float, float]) -> Target:
    """A Target of ``image_size`` from an image read by ``read_target_image`` (any size: cropped
    and resized by ``fit_target_image``)."""
    rgb, alpha = fit_target_image(image, image_size, background)
    return Target(torch.from_numpy(rgb), torch.from_numpy(alpha))
