"""Pose: recover the camera's azimuth, elevation and distance (and, as an option, an object
rotation and translation) from one target image that the GL reference drew at a hidden pose.

Parameters (optimized in these units, so that one learning rate suits all):
camera (3,) = azimuth and elevation in RADIANS, distance in world units; with ``object_pose``
also rotation (3,) axis-angle in radians and translation (3,) world units, applied to the mesh as
v' = R v + t. Readings are reported in degrees. Camera orbit and object rotation overlap (turning
the object about the vertical axis looks like changing the azimuth), so with ``object_pose`` only
their combination is determined by the image; the errors show how it was split.
"""
from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import numpy as np
import torch

from ...camera import OrbitCamera
from ...scene import Scene
from ..views import DEFAULT_TARGET_SUPERSAMPLE, View, render_views
from .base import ParamGroup, Task, wrap_degrees


def rotation_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """(3,) axis-angle (radians) -> (3, 3) rotation, differentiable (also at zero) via the matrix
    exponential of the skew-symmetric matrix."""
    x, y, z = axis_angle.unbind()
    zero = torch.zeros_like(x)
    skew = torch.stack([torch.stack([zero, -z, y]), torch.stack([z, zero, -x]), torch.stack([-y, x, zero])])
    return torch.linalg.matrix_exp(skew)


def rotation_angle_deg(r: torch.Tensor) -> float:
    """Angle in degrees of a (3, 3) rotation."""
    c = (float(torch.trace(r)) - 1.0) / 2.0
    return math.degrees(math.acos(min(1.0, max(-1.0, c))))


def view_angle_deg(azimuth_a: float, elevation_a: float, azimuth_b: float, elevation_b: float) -> float:
    """The angle in degrees between two orbit cameras' view directions (azimuth, elevation in
    degrees): what a pose error "of N degrees" means, not max(|d az|, |d el|)."""
    def direction(az: float, el: float) -> tuple[float, float, float]:
        az, el = math.radians(az), math.radians(el)
        return math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)

    a, b = direction(azimuth_a, elevation_a), direction(azimuth_b, elevation_b)
    cos = sum(x * y for x, y in zip(a, b))
    return math.degrees(math.acos(min(1.0, max(-1.0, cos))))


def start_from_position(position: Sequence[float]) -> tuple[float, float, float]:
    """A camera position (x, y, z) -> (azimuth, elevation, distance) in this project's convention."""
    x, y, z = (float(v) for v in position)
    d = math.sqrt(x * x + y * y + z * z)
    return math.degrees(math.atan2(x, z)), math.degrees(math.asin(y / d)), d


class PoseTask(Task):
    """truth, start: cameras (azimuth, elevation, distance; the truth's fov is used throughout);
    object_pose: also optimize an object rotation + translation, which start at zero; true_object:
    the hidden object pose of the target as (axis-angle in degrees (3,), translation (3,));
    gl: the GLRenderer that draws the target (see ``render_views``)."""

    name = "pose"
    primary_error = "error/angle"
    primary_unit = "deg"

    def __init__(self, base: Scene, truth: OrbitCamera, start: OrbitCamera, loss: str = "silhouette",
                 object_pose: bool = False,
                 true_object: Optional[tuple[Sequence[float], Sequence[float]]] = None,
                 target_supersample: int = DEFAULT_TARGET_SUPERSAMPLE, gl=None):
        truth = truth.detached()
        self.true_rotation = torch.deg2rad(torch.tensor(true_object[0] if true_object else (0.0, 0.0, 0.0),
                                                        dtype=torch.float32))
        self.true_translation = torch.tensor(true_object[1] if true_object else (0.0, 0.0, 0.0),
                                             dtype=torch.float32)
        target_scene = base.replace(shape=self._posed_mesh(base, self.true_rotation, self.true_translation))
        views = render_views(target_scene, [truth], supersample=target_supersample, gl=gl)
        super().__init__(base, views, loss)
        self.truth = truth
        self.start = start.detached()
        self.object_pose = object_pose
        dtype = base.mesh.verts.dtype
        self.camera = torch.tensor([math.radians(float(start.azimuth)), math.radians(float(start.elevation)),
                                    float(start.distance)], dtype=dtype, requires_grad=True)
        self.rotation = torch.zeros(3, dtype=dtype, requires_grad=True)
        self.translation = torch.zeros(3, dtype=dtype, requires_grad=True)

    @staticmethod
    def _posed_mesh(base: Scene, rotation: torch.Tensor, translation: torch.Tensor):
        if not bool(rotation.detach().any()) and not bool(translation.detach().any()) and not rotation.requires_grad:
            return base.mesh
        r = rotation_matrix(rotation.to(base.mesh.verts.dtype))
        return base.mesh.with_verts(base.mesh.verts @ r.T + translation.to(base.mesh.verts.dtype))

    def param_groups(self) -> list[ParamGroup]:
        groups = [ParamGroup("camera", self.camera)]
        if self.object_pose:
            groups += [ParamGroup("rotation", self.rotation), ParamGroup("translation", self.translation)]
        return groups

    def current_camera(self, fov=None) -> OrbitCamera:
        """The camera at the current parameters (differentiable)."""
        return self.truth.replace(azimuth=torch.rad2deg(self.camera[0]), elevation=torch.rad2deg(self.camera[1]),
                                  distance=self.camera[2], fov=self.truth.fov if fov is None else fov)

    def scene_for(self, view: View) -> Scene:
        scene = self.base.replace(camera=self.current_camera())
        if self.object_pose:
            scene = scene.replace(shape=self._posed_mesh(self.base, self.rotation, self.translation))
        return scene

    def param_scalars(self) -> dict[str, float]:
        c = self.camera.detach()
        out = {"param/azimuth": math.degrees(float(c[0])), "param/elevation": math.degrees(float(c[1])),
               "param/distance": float(c[2])}
        if self.object_pose:
            rot, trans = self.rotation.detach(), self.translation.detach()
            for k, axis in enumerate("xyz"):
                out[f"param/rotation_{axis}"] = math.degrees(float(rot[k]))
                out[f"param/translation_{axis}"] = float(trans[k])
        return out

    def error_scalars(self) -> dict[str, float]:
        p = self.param_scalars()
        az = wrap_degrees(p["param/azimuth"] - float(self.truth.azimuth))
        el = p["param/elevation"] - float(self.truth.elevation)
        out = {"error/azimuth": az, "error/elevation": el,
               "error/distance": p["param/distance"] - float(self.truth.distance),
               "error/angle": view_angle_deg(p["param/azimuth"], p["param/elevation"],
                                             float(self.truth.azimuth), float(self.truth.elevation))}
        if self.object_pose:
            with torch.no_grad():
                r = rotation_matrix(self.rotation.detach().float()) @ rotation_matrix(self.true_rotation).T
            out["error/rotation"] = rotation_angle_deg(r)
            out["error/translation"] = float((self.translation.detach().float() - self.true_translation).norm())
        return out

    def summary(self, errors: Optional[Mapping[str, float]] = None) -> str:
        e = self.error_scalars() if errors is None else errors
        text = (f"view angle {e['error/angle']:.4g} deg (azimuth {e['error/azimuth']:+.4g}, elevation "
                f"{e['error/elevation']:+.4g} deg), distance {e['error/distance']:+.4g}")
        if self.object_pose:
            text += f", rotation {e['error/rotation']:.3g} deg, translation {e['error/translation']:.3g}"
        return text

    @classmethod
    def _recorded_view(cls, scene: Scene, timeline, values: dict[str, float], notes: list[str]) -> Scene:
        """The camera recorded at that step (the truth's fov) and, with object_pose, the object
        moved by the recorded rotation and translation."""
        task = timeline.meta.get("task", {})
        try:
            scene = scene.with_camera(azimuth=values["param/azimuth"], elevation=values["param/elevation"],
                                      distance=values["param/distance"],
                                      fov=float(task.get("truth", {}).get("fov", 60.0)))
        except KeyError as exc:
            raise ValueError(f"the pose run recorded no {exc.args[0]}") from None
        if task.get("object_pose"):
            mesh = scene.mesh
            rotation = torch.deg2rad(torch.tensor([values.get(f"param/rotation_{a}", 0.0) for a in "xyz"]))
            translation = torch.tensor([values.get(f"param/translation_{a}", 0.0) for a in "xyz"])
            r = rotation_matrix(rotation).to(mesh.verts.dtype)
            scene = scene.replace(shape=mesh.with_verts(mesh.verts @ r.T + translation.to(mesh.verts.dtype)))
        return scene

    def describe(self) -> dict:
        d = super().describe()
        d.update(truth={"azimuth": float(self.truth.azimuth), "elevation": float(self.truth.elevation),
                        "distance": float(self.truth.distance), "fov": float(self.truth.fov),
                        "object_rotation_deg": np.rad2deg(self.true_rotation.numpy()).tolist(),
                        "object_translation": self.true_translation.tolist()},
                 start={"azimuth": float(self.start.azimuth), "elevation": float(self.start.elevation),
                        "distance": float(self.start.distance)},
                 object_pose=self.object_pose,
                 units={"camera": "azimuth, elevation in radians; distance in world units"})
        return d
