"""What every task provides to the runner: differentiable parameters, the scene seen from a
target view under the current parameters, extra loss terms, and readings (values, errors).

A task holds its target views (``views``), the image loss comparing a render with a target
(``renderer.analysis.losses.IMAGE_LOSSES``) and a base scene (mesh, lights, material, settings);
the runner sets sigma and gamma per step and owns the optimizer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ...analysis.losses import ImageLoss, get_loss
from ...registry import differentiable_renderer
from ...scene import Scene
from ..views import View


@dataclass
class ParamGroup:
    """One optimized tensor: name (e.g. "camera", "offsets"), the leaf tensor (requires grad), and
    its learning rate as a multiple of the run's."""

    name: str
    tensor: torch.Tensor
    lr_scale: float = 1.0


def wrap_degrees(x: float) -> float:
    """An angle difference in degrees wrapped to [-180, 180)."""
    return (x + 180.0) % 360.0 - 180.0


class Task:
    """Base class of the optimization tasks (pose, shape, color, light).

    Subclasses set ``name`` and implement ``param_groups`` and ``scene_for``; the rest have
    defaults. ``primary_error`` names the entry of ``error_scalars`` that the summary line and
    RunConfig.stop_error read (None where no truth is known)."""

    name = "task"
    primary_error: Optional[str] = None
    primary_unit = ""

    def __init__(self, base: Scene, views: list[View], loss: str):
        if not views:
            raise ValueError(f"{self.name}: no target views")
        differentiable_renderer(base.settings.renderer, f"a {self.name} fit")
        self.base = base
        self.views = views
        self.image_loss: ImageLoss = get_loss(loss)
        sizes = {v.target.image_size for v in views}
        if sizes != {base.settings.image_size}:
            raise ValueError(f"{self.name}: target images are {sorted(sizes)} px but the render size is "
                             f"{base.settings.image_size}")

    # ------------------------------------------------------------------ what subclasses provide

    def param_groups(self) -> list[ParamGroup]:
        """The optimized tensors (the same leaf tensors on every call)."""
        raise NotImplementedError

    def scene_for(self, view: View) -> Scene:
        """The scene seen from ``view`` with the current parameters (differentiable in them);
        sigma and gamma are set by the runner afterwards."""
        raise NotImplementedError

    def regularizers(self) -> dict[str, torch.Tensor]:
        """Weighted extra loss terms (name -> 0-d tensor), added to the image loss."""
        return {}

    def loss_mask(self, view: int) -> Optional[torch.Tensor]:
        """(S, S) bool pixels a photometric loss compares for target view ``view`` (None: all)."""
        return None

    def param_scalars(self) -> dict[str, float]:
        """Current parameter values worth plotting, e.g. {"param/azimuth": 31.2}."""
        return {}

    def error_scalars(self) -> dict[str, float]:
        """Errors to the known truth, e.g. {"error/azimuth": 1.2}; {} when it is unknown."""
        return {}

    def frame_extras(self) -> dict[str, np.ndarray]:
        """Arrays stored with each frame besides the images, e.g. {"verts": (V, 3)}."""
        return {}

    def arrays(self) -> dict[str, np.ndarray]:
        """Arrays stored once with the timeline, e.g. {"faces": (F, 3)}."""
        return {}

    def after_step(self) -> None:
        """Called after each optimizer step, under no_grad (e.g. to clamp colours to [0, 1])."""

    def describe(self) -> dict:
        """JSON-ready description of the task for the timeline's metadata."""
        st = self.base.settings
        return {"task": self.name, "loss": self.image_loss.name, "loss_formula": self.image_loss.formula,
                "renderer": st.renderer, "image_size": st.image_size, "lighting": st.lighting,
                "mesh": self.base.mesh.name, "num_views": len(self.views),
                "view_cameras": [[float(v.camera.distance), float(v.camera.elevation),
                                  float(v.camera.azimuth), float(v.camera.fov)] for v in self.views]}

    def summary(self) -> str:
        """One line on the parameters' state (errors when the truth is known)."""
        errors = self.error_scalars()
        return ", ".join(f"{k.split('/', 1)[1]} {v:.3g}" for k, v in errors.items())

    # ------------------------------------------------------------------ helpers

    @property
    def channel(self) -> str:
        """The render buffer the image loss reads: "alpha" or "rgb"."""
        return self.image_loss.channel
