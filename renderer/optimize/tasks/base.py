"""What every task provides to the runner: differentiable parameters, the scene seen from a
target view under the current parameters, extra loss terms, and readings (values, errors).

A task holds its target views (``views``), the image loss comparing a render with a target
(``renderer.analysis.losses.IMAGE_LOSSES``) and a base scene (mesh, lights, material, settings);
the runner sets sigma and gamma per step and owns the optimizer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

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
                "mesh": self.base.shape.name, "representation": self.base.kind, "num_views": len(self.views),
                "view_cameras": [[float(v.camera.distance), float(v.camera.elevation),
                                  float(v.camera.azimuth), float(v.camera.fov)] for v in self.views]}

    def summary(self, errors: Optional[Mapping[str, float]] = None) -> str:
        """One line on the parameters' errors (when the truth is known): ``errors`` as recorded
        (``error_scalars`` at a step; the runner passes its last recorded row, so the summary and
        the record agree), default the current ones."""
        errors = self.error_scalars() if errors is None else errors
        return ", ".join(f"{k.split('/', 1)[1]} {v:.3g}" for k, v in errors.items())

    # ------------------------------------------------------------------ helpers

    @property
    def channel(self) -> str:
        """The render buffer the image loss reads: "alpha" or "rgb"."""
        return self.image_loss.channel

    # ------------------------------------------------------------------ playback of a recorded run
    # A recorded run holds, per step, every scalar (a pose run's camera, a light run's light) and,
    # at thinned frames, arrays (a shape run's vertices, a colour run's colours); the rest of the
    # scene comes from the run's metadata stamp. Each task rebuilds its own state from them.

    @staticmethod
    def class_for_run(meta: dict) -> type["Task"]:
        """The Task subclass that recorded a run with metadata ``meta``; ValueError if unknown."""
        from ...registry import load_plugins
        from . import appearance, pose, shape  # noqa: F401 - every subclass, to look them up by name

        load_plugins()                      # the tasks the representation packages registered

        task = meta.get("task")
        if not isinstance(task, dict) or "task" not in task:
            raise ValueError("the run's metadata does not say which task it was")
        pending, found = list(Task.__subclasses__()), {}
        while pending:
            cls = pending.pop()
            found.setdefault(cls.name, cls)
            pending += cls.__subclasses__()
        if task["task"] not in found:
            raise ValueError(f"unknown task {task['task']!r} in the run's metadata")
        return found[task["task"]]

    @classmethod
    def recorded_scene(cls, timeline, step: int, mesh_named) -> "RecordedScene":
        """The scene at ``step`` of a recorded run of this task, to draw with the GL reference
        (torch: call it off a GUI thread). ``mesh_named(name) -> Mesh``: the run's object (not
        called for a task whose frames hold the whole shape). ValueError saying why the step
        cannot be rebuilt. Reads only what the run file holds (its format is unchanged)."""
        from ...camera import OrbitCamera
        from ...lighting import Lights, Material
        from ...registry import reference_renderer
        from ...scene import RenderSettings
        from ...shapes import shape_kind

        meta = timeline.meta
        task = meta.get("task") or {}
        stamp = dict(meta.get("settings") or {k: task[k] for k in ("image_size", "lighting") if k in task})
        if "image_size" not in stamp:
            raise ValueError("the run's metadata does not give its image size")
        values = recorded_scalars(timeline, step)
        if not values:
            raise ValueError(f"step {step} was not recorded")
        notes: list[str] = []
        shape = cls._recorded_shape(timeline, step, mesh_named, notes)
        settings = RenderSettings(image_size=int(stamp["image_size"]),
                                  renderer=reference_renderer(shape_kind(shape)).name,
                                  lighting=stamp.get("lighting", "phong"),
                                  background=tuple(stamp.get("background", (0.0, 0.0, 0.0))),
                                  double_sided=bool(stamp.get("double_sided", False)),
                                  flat_shading=bool(stamp.get("flat_shading", False)))
        gui = meta.get("gui")
        light = (gui.get("lights") if isinstance(gui, dict) else None) or {}
        lights = Lights.from_angles(float(light.get("light_azimuth", DEFAULT_LIGHT_ANGLES[0])),
                                    float(light.get("light_elevation", DEFAULT_LIGHT_ANGLES[1])),
                                    tuple(light.get("light_color", (1.0, 1.0, 1.0))))
        scene = Scene(shape=shape, camera=OrbitCamera(), lights=lights,
                      material=Material.for_lighting(settings.lighting), settings=settings)
        return RecordedScene(cls._recorded_view(scene, timeline, values, notes), step, tuple(notes))

    @classmethod
    def _recorded_shape(cls, timeline, step: int, mesh_named, notes: list[str]):
        """The object at ``step`` (default: the run's mesh, named in its metadata)."""
        return mesh_named(str(timeline.meta.get("task", {}).get("mesh", "")))

    @classmethod
    def _recorded_view(cls, scene: Scene, timeline, values: dict[str, float], notes: list[str]) -> Scene:
        """``scene`` with the camera, lights and pose of the step whose scalars are ``values``
        (default: the camera of the run's frame view)."""
        meta = timeline.meta
        cameras = meta.get("task", {}).get("view_cameras") or []
        index = int(meta.get("config", {}).get("frame_view", 0))
        if index >= len(cameras):
            raise ValueError("the run's metadata names no camera for its frame view")
        distance, elevation, azimuth, fov = (float(v) for v in cameras[index])
        return scene.with_camera(azimuth=azimuth, elevation=elevation, distance=distance, fov=fov)


DEFAULT_LIGHT_ANGLES = (30.0, 40.0)     # build_run's and the optimize verb's default light


@dataclass(frozen=True)
class RecordedScene:
    """One recorded step rebuilt: ``scene`` (drawn with its kind's reference renderer), the ``step`` it
    shows, and ``notes`` a caption should carry (e.g. vertices from the nearest recorded frame)."""

    scene: Scene
    step: int
    notes: tuple[str, ...] = ()


def recorded_scalars(timeline, step: int) -> dict[str, float]:
    """Every scalar recorded at ``step`` (empty when that step was not recorded)."""
    steps = timeline.steps
    row = int(np.searchsorted(steps, step))
    if row >= len(steps) or steps[row] != step:
        return {}
    return {name: float(timeline.scalar(name)[row]) for name in timeline.scalar_names}


def nearest_recorded_frame(timeline, step: int, pane: str, what: str) -> tuple[int, np.ndarray]:
    """(frame step, array) of ``pane`` at the recorded frame nearest ``step`` (the earlier one on
    a tie); ValueError when the run recorded none (``what``: the run, for the message)."""
    frame_steps = np.asarray(timeline.frame_steps, dtype=np.int64)
    if not len(frame_steps) or pane not in timeline.pane_names:
        raise ValueError(f"the {what} run recorded no {pane}")
    frame_step = int(frame_steps[int(np.argmin(np.abs(frame_steps - step)))])
    return frame_step, timeline.frame(frame_step)[pane]
