"""The "carve" optimisation task (``renderer.optimize.presets.register_task``): fit a voxel
grid's occupancies to silhouettes of the open scene, with DRC's mask event-cost loss.

Presets: ``drc`` follows DRC's setup (32^3 over [-0.5, 0.5]^3, 20 views of 64^2, the mask
event cost with background rays weighted 0.2; Adam, here directly on the grid's logits at lr
0.3, all views per step, 600 steps), ``drc-depth`` the same from depth maps (DRC's depth event
cost, escape depth 10), and ``quick`` (8 views, 100 steps, mask). The runner's image losses
compare images, while the depth cost needs each ray's termination probabilities, so in depth
mode the cost is the task's ``regularizers()`` term "drc-depth" (every view, each step) and the
image loss (the mask cost, logged) has weight 0. The open scene is the
object: a mesh (scaled by 0.5 into the box, targets drawn by the GL mesh reference) or a voxel
grid (targets drawn by gl_voxel). Each recorded frame holds the occupancy grid, so a run's
timeline replays the carve.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..analysis.losses import ImageLoss, Target
from ..camera import OrbitCamera
from ..lighting import Material
from ..optimize.presets import register_task, run_config
from ..optimize.tasks.base import ParamGroup, Task
from ..optimize.views import View
from ..scene import RenderSettings, Scene
from .carve import MESH_SCALE, spiral_cameras
from .drc import BG_WEIGHT, drc_depth_loss, drc_mask_loss, termination
from .grid import DEFAULT_BOUNDS, VoxelGrid

CARVE_PRESETS: dict[str, dict[str, Any]] = {
    "drc": dict(num_views=20, size=64, resolution=32, loss="drc-mask", lighting="none", bg_weight=BG_WEIGHT,
                config=dict(steps=600, optimizer="adam", lr=0.3)),
    "drc-depth": dict(num_views=20, size=64, resolution=32, loss="drc-mask", lighting="none",
                      bg_weight=BG_WEIGHT, mode="depth", config=dict(steps=600, optimizer="adam", lr=0.3)),
    "quick": dict(num_views=8, size=64, resolution=32, loss="drc-mask", lighting="none", bg_weight=BG_WEIGHT,
                  config=dict(steps=100, optimizer="adam", lr=0.3)),
}


def drc_mask_image_loss(bg_weight: float = BG_WEIGHT, weight: float = 1.0) -> ImageLoss:
    """DRC's mask event cost as the runner's image loss (times ``weight``)."""
    scale = "" if weight == 1 else f"{weight:g} x "
    return ImageLoss("drc-mask", "alpha",
                     f"{scale}mean w [s A + (1 - s)(1 - A)], s = [T < 0.5], w = {bg_weight:g} s + (1 - s)",
                     lambda alpha, target: weight * drc_mask_loss(alpha, target, bg_weight=bg_weight))


class CarveTask(Task):
    """Occupancies sigmoid(logits) of a grid over [-0.5, 0.5]^3; logits start at 0."""

    name = "carve"

    def __init__(self, base: Scene, views: list[View], resolution: int, bg_weight: float, object_name: str,
                 depths: list[torch.Tensor] | None = None):
        super().__init__(base, views, "silhouette-mse")
        self.image_loss = drc_mask_image_loss(bg_weight, 0.0 if depths is not None else 1.0)
        self.bg_weight = bg_weight
        self.depths = depths
        self.resolution = resolution
        self.object_name = object_name
        dtype = base.shape.occupancy.dtype
        self.logits = torch.zeros((resolution,) * 3, dtype=dtype, requires_grad=True)

    def grid(self) -> VoxelGrid:
        return self.base.shape.with_occupancy(torch.sigmoid(self.logits))

    def param_groups(self) -> list[ParamGroup]:
        return [ParamGroup("logits", self.logits)]

    def scene_for(self, view: View) -> Scene:
        return self.base.replace(shape=self.grid(), camera=view.camera)

    def regularizers(self) -> dict[str, torch.Tensor]:
        """Depth mode: DRC's depth event cost, the mean over every view (see the module doc)."""
        if self.depths is None:
            return {}
        grid = self.grid()
        size = self.base.settings.image_size
        costs = [drc_depth_loss(termination(grid, view.camera, size), depth, bg_weight=self.bg_weight)
                 for view, depth in zip(self.views, self.depths)]
        return {"drc-depth": torch.stack(costs).mean()}

    def param_scalars(self) -> dict[str, float]:
        occ = torch.sigmoid(self.logits.detach())
        return {"param/occupied_cells": float((occ > 0.5).sum()), "param/mean_occupancy": float(occ.mean())}

    def frame_extras(self) -> dict[str, np.ndarray]:
        return {"occupancy": torch.sigmoid(self.logits.detach()).float().cpu().numpy()}

    def arrays(self) -> dict[str, np.ndarray]:
        grid = self.base.shape
        return {"bounds": torch.stack([grid.lo, grid.hi]).numpy()}

    def describe(self) -> dict:
        st = self.base.settings
        return {"task": self.name, "mode": "depth" if self.depths is not None else "mask",
                "loss": self.image_loss.name, "loss_formula": self.image_loss.formula,
                "renderer": st.renderer, "image_size": st.image_size, "lighting": st.lighting,
                "mesh": self.object_name, "resolution": self.resolution, "num_views": len(self.views),
                "view_cameras": [[float(v.camera.distance), float(v.camera.elevation),
                                  float(v.camera.azimuth), float(v.camera.fov)] for v in self.views]}

    @classmethod
    def _recorded_shape(cls, timeline, step: int, mesh_named, notes: list[str]) -> VoxelGrid:
        """The occupancy grid of the recorded frame nearest ``step``."""
        from ..optimize.tasks.base import nearest_recorded_frame

        frame_step, occ = nearest_recorded_frame(timeline, step, "occupancy", "carve")
        if frame_step != step:
            notes.append(f"grid of step {frame_step}")
        bounds = np.asarray(timeline.arrays.get("bounds", np.array(DEFAULT_BOUNDS)), np.float64)
        return VoxelGrid(occupancy=torch.from_numpy(np.asarray(occ, np.float32)), lo=bounds[0], hi=bounds[1],
                         name=f"carve at step {frame_step}")


def _targets(scene: Scene, cameras: list[OrbitCamera], size: int) -> tuple[list[View], list[torch.Tensor], str]:
    """Silhouette targets and depth maps (view depth, 0 on background) of the open scene's
    object from ``cameras``."""
    if scene.kind == "mesh":
        from ..gl import render_gl

        mesh = scene.mesh.with_verts(scene.mesh.verts.detach() * MESH_SCALE)
        draw, shape, name = render_gl, mesh, scene.mesh.name
        renderer = "gl"
    elif scene.kind == "voxels":
        from .gl import render_gl_voxels

        draw, shape, name = render_gl_voxels, scene.shape, scene.shape.name
        renderer = "gl_voxel"
    else:
        raise ValueError(f"carve: the open scene must hold a mesh or a voxel grid, not a {scene.kind}")
    views, depths = [], []
    for cam in cameras:
        target_scene = Scene(shape=shape, camera=cam, settings=RenderSettings(image_size=size, renderer=renderer,
                                                                                lighting="none"))
        out = draw(target_scene)
        views.append(View(camera=cam, target=Target(torch.from_numpy(out["rgb"]), torch.from_numpy(out["alpha"]))))
        # gl_voxel's depth is the expected depth; its hard surface is what a depth camera sees
        depths.append(torch.from_numpy(out["hard_depth"] if "hard_depth" in out else out["depth"]))
    return views, depths, name


def build_carve(preset: dict[str, Any], scene: Scene, **overrides) -> tuple[CarveTask, Any]:
    """The carve task and its RunConfig from a preset (overrides: size, num_views, resolution,
    bg_weight, steps, lr, ...)."""
    size = int(overrides.get("size") or preset["size"])
    count = int(overrides.get("num_views") or preset["num_views"])
    resolution = int(overrides.get("resolution") or preset["resolution"])
    renderer = overrides.get("renderer") or "drc"
    if renderer not in ("drc", "drc_ea"):
        raise ValueError(f"carve: the renderer must be drc or drc_ea, got {renderer!r}")
    mode = overrides.get("mode") or preset.get("mode", "mask")
    if mode not in ("mask", "depth"):
        raise ValueError(f"carve: mode must be mask or depth, got {mode!r}")
    views, depths, name = _targets(scene, spiral_cameras(count), size)
    grid = VoxelGrid(occupancy=torch.full((resolution,) * 3, 0.5), name="carved")
    base = Scene(shape=grid, lights=scene.lights, material=Material.for_lighting("none"),
                 settings=RenderSettings(image_size=size, renderer=renderer, lighting="none"))
    task = CarveTask(base, views, resolution, float(preset.get("bg_weight", BG_WEIGHT)), name,
                     depths if mode == "depth" else None)
    return task, run_config(preset, {k: v for k, v in overrides.items() if v is not None})


register_task("carve", CARVE_PRESETS, "drc", build_carve, kinds=("mesh", "voxels"),
              description="Carve a voxel grid from multi-view silhouettes (DRC event costs) of the open mesh or grid")
