"""The "splats" optimization task: a Gaussian cloud fitted to multi-view renders of the scene the
user has open (a mesh: the GL reference's renders; a splat cloud: the gl_splat reference's), for
the optimize runner (``optimize --task splats``, the GUI's run panel), which records the timeline.

Presets (``next_wave.md`` §2.4 and 3DGS's train.py):
default   5000 splats sampled on the mesh surface with its colours (3DGS size rule), 20 views on a
          spiral at 128 px, lambertian targets, L1, Adam with 3DGS's per-group rates (means 1.6e-4,
          log-scales 5e-3, quaternions 1e-3, opacity logits 5e-2, SH 2.5e-3; the run's lr 0.01 is
          their unit: lr_scale = rate / 0.01), one view per step, 2000 steps.
gsplat    gsplat's examples/image_fitting.py: 2000 random splats in [-1, 1]^3 (random quaternions,
          scales U(0, 1) x 0.05, opacity sigmoid(1), random colours), ONE view, MSE, Adam lr 0.01
          for every group, 1000 steps; 128 px here (the example's 256 px on a CPU is 4x slower).
The default preset's loss is 3DGS's own, "l1-ssim" (0.8 L1 + 0.2 (1 - SSIM)).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..analysis.losses import Target
from ..lighting import Material
from ..mesh import Mesh
from ..optimize.presets import register_task, run_config
from ..optimize.tasks.base import ParamGroup, Task, nearest_recorded_frame
from ..optimize.views import View, render_views
from ..scene import RenderSettings, Scene
from .cloud import GaussianCloud
from .fit import LR_3DGS, SplatParams, random_cloud, surface_cloud, training_cameras, with_sh_degree

BASE_LR = 0.01
PRESETS: dict[str, dict[str, Any]] = {
    "default": dict(size=128, loss="l1-ssim", lighting="lambertian", num_views=20, splats=5000, init="surface",
                    sh_degree=0, group_rates=LR_3DGS,
                    config=dict(steps=2000, optimizer="adam", lr=BASE_LR, views_per_step=1, frame_every=20)),
    "gsplat": dict(size=128, loss="l2", lighting="lambertian", num_views=1, splats=2000, init="random",
                   sh_degree=0, group_rates=None,
                   config=dict(steps=1000, optimizer="adam", lr=BASE_LR, frame_every=10)),
}
FRAME_FIELDS = ("means", "scales", "quats", "opacities", "sh")


def splat_target_views(scene: Scene, cameras) -> list[View]:
    """Targets drawn by the gl_splat reference of ``scene``'s cloud from each camera."""
    from .gl_splat import render_gl_splat

    views = []
    for cam in cameras:
        out = render_gl_splat(scene.replace(camera=cam))
        views.append(View(cam.detached(), Target(torch.from_numpy(out["rgb"]), torch.from_numpy(out["alpha"]))))
    return views


class SplatFitTask(Task):
    """Fit ``start`` (a GaussianCloud) to ``views``; ``group_rates``: per-group Adam rates (None:
    the run's lr for all)."""

    name = "splats"

    def __init__(self, base: Scene, views: list[View], start: GaussianCloud, loss: str, group_rates=None):
        super().__init__(base, views, loss)
        self.start = start
        self.params = SplatParams.from_cloud(start)
        self.group_rates = group_rates

    def cloud(self) -> GaussianCloud:
        return self.params.cloud()

    def param_groups(self) -> list[ParamGroup]:
        return [ParamGroup(k, t, 1.0 if self.group_rates is None else self.group_rates[k] / BASE_LR)
                for k, t in self.params.tensors().items()]

    def scene_for(self, view: View) -> Scene:
        return self.base.replace(shape=self.cloud(), camera=view.camera)

    def param_scalars(self) -> dict[str, float]:
        with torch.no_grad():
            c = self.cloud()
            return {"param/mean_opacity": float(c.opacities.mean()), "param/mean_scale": float(c.scales.mean())}

    def frame_extras(self) -> dict[str, np.ndarray]:
        with torch.no_grad():
            c = self.cloud()
            return {f"splat_{k}": getattr(c, k).detach().float().cpu().numpy() for k in FRAME_FIELDS}

    def describe(self) -> dict:
        st = self.base.settings
        return {"task": self.name, "loss": self.image_loss.name, "loss_formula": self.image_loss.formula,
                "renderer": st.renderer, "image_size": st.image_size, "lighting": st.lighting,
                "mesh": self.start.name, "num_splats": self.start.num_splats, "num_views": len(self.views),
                "view_cameras": [[float(v.camera.distance), float(v.camera.elevation),
                                  float(v.camera.azimuth), float(v.camera.fov)] for v in self.views]}

    @classmethod
    def _recorded_shape(cls, timeline, step: int, mesh_named, notes: list[str]):
        """The cloud at the recorded frame nearest ``step``."""
        values = {}
        for k in FRAME_FIELDS:
            frame_step, values[k] = nearest_recorded_frame(timeline, step, f"splat_{k}", "splats")
        if frame_step != step:
            notes.append(f"splats from the recorded frame at step {frame_step}")
        return GaussianCloud(**{k: torch.from_numpy(np.asarray(v)) for k, v in values.items()}, name="fit")

    @classmethod
    def _recorded_view(cls, scene: Scene, timeline, values: dict[str, float], notes: list[str]) -> Scene:
        return super()._recorded_view(scene, timeline, values, notes).with_settings(renderer="gl_splat")


def build_splat_fit(p: dict[str, Any], scene: Scene, **overrides) -> tuple[SplatFitTask, Any]:
    """register_task's builder: fit splats to ``scene``'s mesh or splat cloud (see the module)."""
    config = run_config(p, overrides)
    size = int(p["size"])
    count = int(overrides.get("splats") or p["splats"])
    cams = training_cameras(int(p.get("num_views") or 20))
    bg = scene.settings.background
    if isinstance(scene.shape, Mesh):
        truth = Scene(shape=scene.shape, lights=scene.lights, material=Material.for_lighting(p["lighting"]),
                      settings=RenderSettings(image_size=size, renderer="gl", lighting=p["lighting"], background=bg))
        views = render_views(truth, cams, supersample=4)
        start = (surface_cloud(scene.shape, count) if p["init"] == "surface" else random_cloud(count))
    elif isinstance(scene.shape, GaussianCloud):
        truth = scene.replace(settings=RenderSettings(image_size=size, renderer="gl_splat", background=bg))
        views = splat_target_views(truth, cams)
        start = random_cloud(count, extent=float(scene.shape.means.detach().abs().max()))
    else:
        raise ValueError(f"the splats task fits a mesh or a splat cloud, not a {scene.kind}")
    start = with_sh_degree(start, int(p.get("sh_degree", 0)))
    base = Scene(shape=start, settings=RenderSettings(image_size=size, renderer=p.get("renderer") or "splat",
                                                      lighting=p["lighting"], background=bg))
    return SplatFitTask(base, views, start, p["loss"], p.get("group_rates")), config


register_task("splats", PRESETS, "default", build_splat_fit, kinds=("mesh", "splats"),
              description="Fit Gaussian splats to multi-view OpenGL images of the open mesh or splat file")
