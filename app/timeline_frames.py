"""What the run views read from a recorded Timeline (no Qt): the loss curves, the best step, the
nearest recorded frame, a label for a run, the scalars at a step, and ``ReferenceSpec``: the plain
description of the scene at a step that the reference worker draws with OpenGL.

The Timeline stores, per step, every scalar (so the camera of a pose run and the light of a light
run are known at every step) and, at thinned frames, arrays (the vertices of a shape run, the
colours of a colour run); the rest of the scene comes from the run's metadata stamp.
"""
from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from renderer.optimize import Timeline

DEFAULT_LIGHT_ANGLES = (30.0, 40.0)     # build_run's and the optimize verb's default light
# timeline -> (steps, names, (T, K) scalars): rows are only ever appended, so a table is re-read
# only when the timeline has grown (scrubbing a long run would otherwise rebuild it every step)
_TABLES: "weakref.WeakKeyDictionary[Timeline, tuple[np.ndarray, list[str], np.ndarray]]" = weakref.WeakKeyDictionary()


def loss_names(timeline: Timeline) -> list[str]:
    """The total loss first, then each loss term, in recording order."""
    names = timeline.scalar_names
    return (["loss"] if "loss" in names else []) + [n for n in names if n.startswith("loss/")]


def best_step(timeline: Timeline) -> Optional[int]:
    """The step with the lowest finite total loss (the first of equals), or None."""
    if "loss" not in timeline.scalar_names or len(timeline) == 0:
        return None
    loss = timeline.scalar("loss")
    finite = np.isfinite(loss)
    if not finite.any():
        return None
    return int(timeline.steps[int(np.argmin(np.where(finite, loss, np.inf)))])


def nearest_frame_step(frame_steps: Sequence[int], step: int) -> Optional[int]:
    """The recorded frame step closest to ``step`` (the earlier one on a tie), or None."""
    if len(frame_steps) == 0:
        return None
    steps = np.asarray(frame_steps, dtype=np.int64)
    return int(steps[int(np.argmin(np.abs(steps - step)))])


def scalar_table(timeline: Timeline) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(steps (T,), names, scalars (T, K)) of ``timeline``, cached while it does not grow."""
    cached = _TABLES.get(timeline)
    if cached is not None and len(cached[0]) == len(timeline):
        return cached
    with timeline._lock:                 # one consistent snapshot while a run appends
        table = (timeline.steps, timeline.scalar_names, timeline.scalars_array())
    _TABLES[timeline] = table
    return table


def scalars_at(timeline: Timeline, step: int) -> dict[str, float]:
    """Every scalar recorded at ``step`` (empty when the step was not recorded)."""
    steps, names, table = scalar_table(timeline)
    row = int(np.searchsorted(steps, step))
    if row >= len(steps) or steps[row] != step:
        return {}
    return dict(zip(names, table[row].tolist()))


def schedule_text(schedule: Optional[dict]) -> str:
    """A config's sigma/gamma schedule ({"start", "end"}) as '1e-04' or '1e-03 -> 1e-05'."""
    if not isinstance(schedule, dict) or "start" not in schedule:
        return "?"
    end = schedule.get("end")
    start = f"{float(schedule['start']):.0e}"
    return start if end is None or end == schedule["start"] else f"{start} -> {float(end):.0e}"


def run_label(timeline: Timeline, name: str) -> str:
    """A legend label: the file (or run) name, the task and sigma, e.g. 'run.npz (pose, sigma 1e-04)'."""
    task = timeline.meta.get("task", {})
    kind = task.get("task", "run") if isinstance(task, dict) else "run"
    sigma = schedule_text(timeline.meta.get("config", {}).get("sigma"))
    return f"{name} ({kind}, sigma {sigma})"


@dataclass
class ReferenceSpec:
    """The scene of one recorded step, as plain data for the reference worker.

    step: the step drawn; settings: the run's settings stamp (image_size, lighting, background,
    double_sided, flat_shading); camera: (azimuth, elevation, distance, fov) in degrees; mesh_name:
    the run's object (pose, colour, light runs; the worker finds the mesh); verts/faces: a shape
    run's recorded vertices and faces; colors: a colour run's recorded vertex colours;
    object_pose: (axis-angle degrees (3,), translation (3,)); light_angles: a light run's light
    (azimuth, elevation); sh_means: a light/sh run's nine coefficients, each the mean over RGB
    (all the run records); light_values: the lights the run was built with ({"light_azimuth",
    "light_elevation", "light_color"}, when the GUI stamped them); frame_step: the frame that
    verts or colours come from; notes: what the caption should say about approximations."""

    step: int
    settings: dict
    camera: tuple[float, float, float, float]
    mesh_name: str = ""
    verts: Optional[np.ndarray] = None
    faces: Optional[np.ndarray] = None
    colors: Optional[np.ndarray] = None
    object_pose: Optional[tuple[tuple[float, ...], tuple[float, ...]]] = None
    light_angles: Optional[tuple[float, float]] = None
    sh_means: Optional[list[float]] = None
    light_values: Optional[dict] = None
    frame_step: Optional[int] = None
    notes: list[str] = field(default_factory=list)
    run_id: int = 0                   # which timeline it came from (a reply for another run is dropped)

    @property
    def needs_mesh(self) -> bool:
        return self.verts is None


def _view_camera(meta: dict) -> tuple[float, float, float, float]:
    task, config = meta.get("task", {}), meta.get("config", {})
    cameras = task.get("view_cameras") or []
    index = int(config.get("frame_view", 0))
    if index >= len(cameras):
        raise ValueError("the run's metadata names no camera for its frame view")
    distance, elevation, azimuth, fov = (float(v) for v in cameras[index])
    return azimuth, elevation, distance, fov


def reference_spec(timeline: Timeline, step: int) -> ReferenceSpec:
    """The scene at ``step`` of a recorded run; ValueError saying why it cannot be rebuilt."""
    meta = timeline.meta
    task = meta.get("task")
    if not isinstance(task, dict) or "task" not in task:
        raise ValueError("the run's metadata does not say which task it was")
    settings = dict(meta.get("settings") or {k: task[k] for k in ("image_size", "lighting") if k in task})
    if "image_size" not in settings:
        raise ValueError("the run's metadata does not give its image size")
    values = scalars_at(timeline, step)
    if not values:
        raise ValueError(f"step {step} was not recorded")
    gui = meta.get("gui", {})
    spec = ReferenceSpec(step=step, settings=settings, camera=(0.0, 0.0, 1.0, 60.0),
                         mesh_name=str(task.get("mesh", "")),
                         light_values=gui.get("lights") if isinstance(gui, dict) else None)
    kind = task["task"]
    if kind == "pose":
        truth = task.get("truth", {})
        try:
            spec.camera = (values["param/azimuth"], values["param/elevation"], values["param/distance"],
                           float(truth.get("fov", 60.0)))
        except KeyError as exc:
            raise ValueError(f"the pose run recorded no {exc.args[0]}") from None
        if task.get("object_pose"):
            spec.object_pose = (tuple(values.get(f"param/rotation_{a}", 0.0) for a in "xyz"),
                                tuple(values.get(f"param/translation_{a}", 0.0) for a in "xyz"))
        return spec
    spec.camera = _view_camera(meta)
    if kind in ("shape", "color"):
        pane = "verts" if kind == "shape" else "colors"
        frame_step = nearest_frame_step(timeline.frame_steps, step)
        if frame_step is None or pane not in timeline.pane_names:
            raise ValueError(f"the {kind} run recorded no {pane}")
        spec.frame_step = frame_step
        frame = timeline.frame(frame_step)
        if kind == "shape":
            if "faces" not in timeline.arrays:
                raise ValueError("the shape run recorded no faces")
            spec.verts, spec.faces = frame["verts"], np.asarray(timeline.arrays["faces"], np.int64)
        else:
            spec.colors = frame["colors"]
        if frame_step != step:
            spec.notes.append(f"{pane} of step {frame_step}")
        return spec
    if kind == "light":
        if "param/light_azimuth" in values:
            spec.light_angles = (values["param/light_azimuth"], values["param/light_elevation"])
        elif "param/sh0" in values:
            spec.sh_means = [values[f"param/sh{k}"] for k in range(9)]
            spec.notes.append("SH light from the RGB means of its coefficients")
        return spec
    raise ValueError(f"unknown task {kind!r} in the run's metadata")


def reference_scene(spec: ReferenceSpec, mesh=None):
    """The renderer Scene of ``spec`` (torch: call it in a worker thread). ``mesh``: the run's
    object, needed unless the spec carries its own vertices."""
    import torch

    from renderer import Lights, Material, Mesh, OrbitCamera, RenderSettings, Scene

    st = spec.settings
    settings = RenderSettings(image_size=int(st["image_size"]), renderer="gl", lighting=st.get("lighting", "phong"),
                              background=tuple(st.get("background", (0.0, 0.0, 0.0))),
                              double_sided=bool(st.get("double_sided", False)),
                              flat_shading=bool(st.get("flat_shading", False)))
    if spec.verts is not None:
        mesh = Mesh(verts=torch.from_numpy(np.asarray(spec.verts, np.float32)),
                    faces=torch.from_numpy(np.asarray(spec.faces, np.int64)), name=f"shape at step {spec.frame_step}")
    elif mesh is None:
        raise ValueError(f"the run's mesh {spec.mesh_name!r} is not available")
    if spec.colors is not None:
        mesh = _with_colors(mesh, spec.colors)
    if spec.object_pose is not None:
        from renderer.optimize.tasks.pose import rotation_matrix

        rotation = torch.deg2rad(torch.tensor(spec.object_pose[0], dtype=torch.float32))
        r = rotation_matrix(rotation).to(mesh.verts.dtype)
        mesh = mesh.with_verts(mesh.verts @ r.T + torch.tensor(spec.object_pose[1], dtype=mesh.verts.dtype))
    light = spec.light_values or {}
    az, el = light.get("light_azimuth", DEFAULT_LIGHT_ANGLES[0]), light.get("light_elevation", DEFAULT_LIGHT_ANGLES[1])
    if spec.light_angles is not None:
        az, el = spec.light_angles
    lights = Lights.from_angles(float(az), float(el), tuple(light.get("light_color", (1.0, 1.0, 1.0))))
    if spec.sh_means is not None:
        lights = lights.replace(sh=torch.tensor(spec.sh_means, dtype=torch.float32)[:, None].repeat(1, 3))
    azimuth, elevation, distance, fov = spec.camera
    camera = OrbitCamera(azimuth=azimuth, elevation=elevation, distance=distance, fov=fov)
    return Scene(shape=mesh, camera=camera, lights=lights, material=Material.for_lighting(settings.lighting),
                 settings=settings)


def _with_colors(mesh, colors: np.ndarray):
    import torch

    from renderer.optimize.tasks.shape import welded

    if colors.shape[0] != mesh.num_verts:
        mesh = welded(mesh)                 # the colour task welds textured meshes the same way
    if colors.shape[0] != mesh.num_verts:
        raise ValueError(f"the run's {colors.shape[0]} vertex colours do not fit the mesh's {mesh.num_verts} vertices")
    return dataclasses.replace(mesh, colors=torch.from_numpy(np.asarray(colors, np.float32)), uvs=None, texture=None)


def signed_levels(values: np.ndarray) -> tuple[float, float]:
    """A colour range symmetric about 0 for a signed pane: +-max|x| (1 when all zero)."""
    finite = np.abs(values[np.isfinite(values)])
    limit = float(finite.max()) if finite.size else 0.0
    return (-limit, limit) if limit > 0 else (-1.0, 1.0)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A recorded render or target, (S, S) grey or (S, S, 3), as (S, S, 3) float32 (values unchanged)."""
    image = np.asarray(image, np.float32)
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
