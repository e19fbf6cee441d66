"""The notebook-sized entry points re-exported by ``import renderer as dr``: thin wrappers over
the library's modules, importing the heavier ones (analysis, GL) only when called."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Union

import torch

from .scene import Scene


def gradients(scene: Scene, loss: str = "silhouette", target=None, target_pose: Optional[Mapping[str, float]] = None):
    """Loss gradients of ``scene``'s render against ``target`` (a ``Target``, an image path, or
    None: the GL reference at ``target_pose``, default the scene itself): a GradientBuffers with
    loss, dL_dI (S, S, 4), dL_dV (V, 3) and dL_dtheta per scalar parameter."""
    from .analysis import load_target_image, loss_gradients, render_target

    if target is None:
        target = render_target(scene, dict(target_pose or {}))
    elif isinstance(target, (str, Path)):
        target = load_target_image(target, scene.settings.image_size, scene.settings.background)
    return loss_gradients(scene, target, loss)


def derivative_image(scene: Scene, param: str, method: str = "auto"):
    """dI/dtheta of the scene's renderer for one scalar parameter (``analysis.parse_param``
    names, e.g. "azimuth", "vertex:3:y"): a DerivativeImage with d_rgb (S, S, 3), d_alpha (S, S)."""
    from .analysis import derivative_image as _derivative_image

    return _derivative_image(scene, param, method=method)


def compare_with_reference(scene: Scene, param: str):
    """How the scene renderer's dI/dtheta agrees with its registered reference's (central
    differences of the supersampled GL render): an AgreementReport with cosines and sign
    agreement, per pixel and at the soft band scale."""
    from .analysis import derivative_agreement

    return derivative_agreement(scene, param)


def load(path: Union[str, Path]):
    """The shape in a file, of the type its extension names (see ``renderer.io.load``)."""
    from .io import load as _load

    return _load(path)


def to_device(scene: Scene, device: Union[str, torch.device]) -> Scene:
    """``scene`` rendered on ``device`` (the torch renderers follow ``settings.device``)."""
    return scene.with_settings(device=str(torch.device(device)))
