"""Appearance: recover vertex colours (task "color") or the lighting (task "light": the direction
of the first light, or the nine RGB spherical-harmonics coefficients) from photometric targets that
the GL reference drew with the true values, seen from several cameras.

Parameters: colors (V, 3) in [0, 1] (clamped after each step), starting at 0.5 grey;
light (2,) = light azimuth and elevation in RADIANS; sh (9, 3) coefficients, starting at the
ambient-only coefficients of the same ambient level.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Optional, Sequence

import numpy as np
import torch

from ...camera import OrbitCamera, direction_from_angles
from ...lighting import Lights, sh_coeffs_from_light
from ...scene import Scene
from ..views import DEFAULT_TARGET_SUPERSAMPLE, View, render_views
from .base import ParamGroup, Task
from .shape import welded

LIGHT_MODES = ("direction", "sh")


def position_colors(verts: torch.Tensor) -> torch.Tensor:
    """A smooth colour field for meshes without colours: (V, 3) positions in [-1, 1] -> RGB
    0.5 + 0.45 * position (so the truth is known and varies across the surface)."""
    return (0.5 + 0.45 * verts.clamp(-1, 1)).to(torch.float32)


def interior_masks(views: Sequence[View], erode: int = 1) -> list[torch.Tensor]:
    """Per view, the (S, S) bool pixels that the target covers fully and whose neighbours within
    ``erode`` pixels it covers too: colour and light are compared there only, since edge pixels
    mix in the background differently in a soft render and an anti-aliased target, which would
    bias the recovered colours and light (the geometry is known and fixed in these tasks)."""
    masks = []
    for v in views:
        full = (v.target.alpha >= 1 - 1e-6).float()[None, None]
        if erode:
            full = -torch.nn.functional.max_pool2d(-full, 2 * erode + 1, stride=1, padding=erode)
        masks.append(full[0, 0] > 0.5)
    return masks


class ColorTask(Task):
    """base: the scene (lighting as set; its mesh's vertex colours are the truth, or
    ``position_colors`` where it has none; a texture is dropped); cameras: the target views;
    gl: the GLRenderer that draws the targets (see ``render_views``)."""

    name = "color"
    primary_error = "error/color_mae"

    def __init__(self, base: Scene, cameras: Sequence[OrbitCamera], loss: str = "l2",
                 target_supersample: int = DEFAULT_TARGET_SUPERSAMPLE, gl=None):
        mesh = base.mesh
        if mesh.uvs is not None and mesh.texture is not None and mesh.colors is None:
            mesh = welded(mesh)
        truth = mesh.colors if mesh.colors is not None else position_colors(mesh.verts)
        mesh = dataclasses.replace(mesh, colors=truth.to(mesh.verts.dtype), uvs=None, texture=None)
        base = base.replace(shape=mesh)
        views = render_views(base, cameras, supersample=target_supersample, gl=gl)
        super().__init__(base, views, loss)
        self.masks = interior_masks(self.views)
        self.truth = truth.detach().float()
        self.colors = torch.full_like(mesh.colors, 0.5).requires_grad_(True)

    def param_groups(self) -> list[ParamGroup]:
        return [ParamGroup("colors", self.colors)]

    def loss_mask(self, view: int) -> torch.Tensor:
        return self.masks[view]

    def scene_for(self, view: View) -> Scene:
        return self.base.replace(shape=dataclasses.replace(self.base.mesh, colors=self.colors), camera=view.camera)

    def after_step(self) -> None:
        self.colors.clamp_(0.0, 1.0)

    def param_scalars(self) -> dict[str, float]:
        c = self.colors.detach()
        return {f"param/mean_{ch}": float(c[:, k].mean()) for k, ch in enumerate("rgb")}

    def error_scalars(self) -> dict[str, float]:
        diff = (self.colors.detach().float() - self.truth).abs()
        return {"error/color_mae": float(diff.mean()), "error/color_max": float(diff.max())}

    def frame_extras(self) -> dict[str, np.ndarray]:
        return {"colors": self.colors.detach().float().cpu().numpy()}

    @classmethod
    def _recorded_shape(cls, timeline, step: int, mesh_named, notes: list[str]):
        """The run's mesh with the vertex colours of the recorded frame nearest ``step`` (welded
        first when the task welded it: a textured mesh's seams)."""
        from .base import nearest_recorded_frame

        mesh = mesh_named(str(timeline.meta.get("task", {}).get("mesh", "")))
        frame_step, colors = nearest_recorded_frame(timeline, step, "colors", "color")
        if colors.shape[0] != mesh.num_verts:
            mesh = welded(mesh)
        if colors.shape[0] != mesh.num_verts:
            raise ValueError(f"the run's {colors.shape[0]} vertex colours do not fit the mesh's "
                             f"{mesh.num_verts} vertices")
        if frame_step != step:
            notes.append(f"colors of step {frame_step}")
        return dataclasses.replace(mesh, colors=torch.from_numpy(np.asarray(colors, np.float32)), uvs=None,
                                   texture=None)

    def summary(self, errors: Optional[Mapping[str, float]] = None) -> str:
        e = self.error_scalars() if errors is None else errors
        return f"colour error mean {e['error/color_mae']:.4f}, max {e['error/color_max']:.3f}"


class LightTask(Task):
    """mode "direction": recover the first light's azimuth and elevation (lighting must be
    lambertian or phong), starting at ``start`` = (azimuth, elevation) degrees; mode "sh": recover
    the SH coefficients (lighting "sh"), starting at ambient-only coefficients; gl: the
    GLRenderer that draws the targets (see ``render_views``)."""

    name = "light"
    primary_unit = "deg"

    def __init__(self, base: Scene, cameras: Sequence[OrbitCamera], mode: str = "direction",
                 start: Optional[tuple[float, float]] = None, loss: str = "l2",
                 target_supersample: int = DEFAULT_TARGET_SUPERSAMPLE, gl=None):
        if mode not in LIGHT_MODES:
            raise ValueError(f"unknown light mode {mode!r}; expected one of {', '.join(LIGHT_MODES)}")
        lighting = base.settings.lighting
        if mode == "direction" and lighting not in ("lambertian", "phong"):
            raise ValueError(f"the light direction acts only under lambertian or phong lighting, not {lighting!r}")
        if mode == "sh" and lighting != "sh":
            raise ValueError(f"SH coefficients act only under sh lighting, not {lighting!r}")
        views = render_views(base, cameras, supersample=target_supersample, gl=gl)
        super().__init__(base, views, loss)
        self.masks = interior_masks(self.views)
        self.mode = mode
        self.primary_error = "error/direction" if mode == "direction" else "error/sh_rms"
        self.primary_unit = "deg" if mode == "direction" else "coefficient"
        dtype = base.mesh.verts.dtype
        d = base.lights.directions[0].detach().double()
        d = d / d.norm()
        self.true_angles = (math.degrees(math.atan2(float(d[0]), float(d[2]))), math.degrees(math.asin(float(d[1]))))
        self.true_sh = base.lights.sh.detach().float().clone()
        if mode == "direction":
            az, el = start if start is not None else (self.true_angles[0] + 60.0, self.true_angles[1] - 30.0)
            self.start = (float(az), float(el))
            self.param = torch.tensor([math.radians(az), math.radians(el)], dtype=dtype, requires_grad=True)
        else:
            self.start = None
            ambient_only = sh_coeffs_from_light(torch.tensor([0.0, 1.0, 0.0]), ambient=0.5, intensity=0.0)
            self.param = ambient_only.to(dtype).clone().requires_grad_(True)

    def param_groups(self) -> list[ParamGroup]:
        return [ParamGroup("light" if self.mode == "direction" else "sh", self.param)]

    def loss_mask(self, view: int) -> torch.Tensor:
        return self.masks[view]

    def _direction(self) -> torch.Tensor:
        return direction_from_angles(torch.rad2deg(self.param[0]), torch.rad2deg(self.param[1]))

    def scene_for(self, view: View) -> Scene:
        lights = self.base.lights
        if self.mode == "direction":
            dirs = lights.directions.clone()
            dirs = torch.cat([self._direction()[None].to(dirs.dtype), dirs[1:]], dim=0)
            lights = lights.replace(directions=dirs)
        else:
            lights = lights.replace(sh=self.param)
        return self.base.replace(lights=lights, camera=view.camera)

    def param_scalars(self) -> dict[str, float]:
        if self.mode == "direction":
            a = self.param.detach()
            return {"param/light_azimuth": math.degrees(float(a[0])), "param/light_elevation": math.degrees(float(a[1]))}
        return {f"param/sh{k}": float(self.param[k].detach().mean()) for k in range(9)}

    def error_scalars(self) -> dict[str, float]:
        if self.mode == "direction":
            with torch.no_grad():
                d = self._direction().double()
                t = direction_from_angles(*self.true_angles).double()
                cos = float((d * t).sum() / (d.norm() * t.norm()))
            return {"error/direction": math.degrees(math.acos(max(-1.0, min(1.0, cos))))}
        diff = self.param.detach().float() - self.true_sh
        return {"error/sh_rms": float(diff.pow(2).mean().sqrt())}

    def summary(self, errors: Optional[Mapping[str, float]] = None) -> str:
        e = self.error_scalars() if errors is None else errors
        if self.mode == "direction":
            return f"light direction off by {e['error/direction']:.2f} deg"
        return f"SH coefficient RMS error {e['error/sh_rms']:.4f}"

    @classmethod
    def _recorded_view(cls, scene: Scene, timeline, values: dict[str, float], notes: list[str]) -> Scene:
        """The frame view's camera lit by the light recorded at that step: the direction, or the
        SH coefficients (recorded as the mean over R, G, B, so the caption says so)."""
        scene = super()._recorded_view(scene, timeline, values, notes)
        lights = scene.lights
        if "param/light_azimuth" in values:
            color = tuple(float(c) for c in lights.colors[0].tolist())
            lights = Lights.from_angles(values["param/light_azimuth"], values["param/light_elevation"], color)
        elif "param/sh0" in values:
            means = torch.tensor([values[f"param/sh{k}"] for k in range(9)], dtype=torch.float32)
            lights = lights.replace(sh=means[:, None].repeat(1, 3))
            notes.append("SH light from the RGB means of its coefficients")
        return scene.replace(lights=lights)

    def describe(self) -> dict:
        d = super().describe()
        d.update(mode=self.mode, true_light_angles=list(self.true_angles), start=self.start,
                 true_sh=self.true_sh.tolist())
        return d
