"""Task presets following the published setups (reference/renderers.md §1.5, §2.4, §7), and
``build_run``, which turns a preset plus overrides into a (Task, RunConfig) pair.

pose/default     this project's check: teapot-like object, truth azimuth 45, elevation 30,
                 distance 2.2, start 30 deg azimuth and 15 deg elevation off; 1 - IoU; Adam lr 0.05
                 (radians / world units); stop when the loss has not improved by 1e-4 in 40 steps.
pose/pytorch3d   camera_position_optimization: truth distance 3, elevation 50, azimuth 0; start at
                 the position (3, 6.9, 2.5); silhouette MSE (PyTorch3D sums it: its stop at 200 at
                 256 px is a mean of 200/256^2); Adam lr 0.05; 200 steps; 128 px on the CPU (not 256).
shape/softras    demo_deform: 120 views (5 elevations x 24 azimuths, distance 2.732, fov 30), 64 px,
                 sigma 1e-4, (1 - IoU) + 0.03 Laplacian + 0.0003 flatten (summed, as SoftRas), sphere
                 scaled by 0.5 with the sigmoid/centre parametrization, Adam lr 0.01 betas (0.5, 0.99),
                 all views per step, 2000 steps.
shape/pytorch3d  fit_textured_mesh (a): 20 views (elevation 0..360, azimuth -180..180, distance 2.7),
                 128 px, silhouette MSE + edge 1 + normal consistency 0.01 + Laplacian 1 (the norm,
                 as PyTorch3D), per-vertex offsets, SGD lr 1 momentum 0.9, 2 views per step, 2000 steps.
color/default    vertex colours from 4 views around (lambertian), L2, Adam lr 0.05, 200 steps.
light/default    the light's direction from 4 views (lambertian), L2, Adam lr 0.05, 200 steps.
light/sh         the nine RGB SH coefficients (sh lighting), L2, Adam lr 0.05, 200 steps.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from ..camera import OrbitCamera
from ..lighting import Lights, Material
from ..mesh import Mesh
from ..scene import RenderSettings, Scene
from .config import RunConfig
from .preset_table import DEFAULT_PRESETS, PRESETS, TASK_DESCRIPTIONS, TASK_KINDS, TASKS, task_names
from .schedules import Schedule
from .tasks.appearance import ColorTask, LightTask
from .tasks.base import Task
from .tasks.pose import PoseTask, start_from_position
from .tasks.shape import ShapeTask
from .views import View, camera_grid, render_views

CONFIG_KEYS = ("steps", "optimizer", "lr", "betas", "momentum", "views_per_step", "seed", "stop_loss",
               "stop_error", "patience", "min_delta", "frame_every", "frame_view", "memory_budget")


# Tasks registered by representation packages: name -> build(preset, scene, **overrides).
TaskBuilder = Callable[..., tuple[Task, RunConfig]]
TASK_BUILDERS: dict[str, TaskBuilder] = {}


def register_task(name: str, presets: dict[str, dict[str, Any]], default: str, build: TaskBuilder,
                  kinds: tuple[str, ...], description: str = "") -> None:
    """Add an optimization task (a representation package's registration does this).

    presets: preset name -> dict with at least ``size``, ``loss``, ``lighting`` and ``config``
    (RunConfig fields); default: the preset used when none is named; kinds: the representations
    whose scenes it starts from; description: one line on what it fits, for the run panel.
    build(preset, scene, **overrides) -> (Task, RunConfig) gets the
    preset with the non-RunConfig overrides merged in, the scene the user has open (its shape
    is the object, or the target the task fits), and the overrides as ``build_run`` takes them
    (size, renderer, lighting, loss, steps, lr, num_views, ...; None where not given);
    ``run_config(preset, overrides)`` turns those into the RunConfig. Then ``optimize --task
    NAME`` and the GUI's run panel offer it for scenes of those kinds.
    """
    if default not in presets:
        raise ValueError(f"task {name!r}: default preset {default!r} is not among {', '.join(presets)}")
    PRESETS[name] = presets
    DEFAULT_PRESETS[name] = default
    TASK_KINDS[name] = tuple(kinds)
    TASK_DESCRIPTIONS[name] = description
    TASK_BUILDERS[name] = build


def run_config(p: dict[str, Any], overrides: dict[str, Any]) -> RunConfig:
    """The RunConfig of preset ``p`` with the RunConfig fields among ``overrides`` (None: keep)."""
    cfg_values = dict(p["config"])
    cfg_values.update({k: v for k, v in overrides.items() if v is not None and k in CONFIG_KEYS})
    for name in ("sigma", "gamma"):
        value = overrides.get(name) if overrides.get(name) is not None else p.get(name, 1e-4)
        cfg_values[name] = value if isinstance(value, Schedule) else Schedule.constant(value)
    return RunConfig(**cfg_values)


def preset(task: str, name: Optional[str] = None) -> dict[str, Any]:
    """A copy of a preset; ValueError naming the choices for an unknown task or preset."""
    if task not in task_names():
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(task_names())}")
    name = name or DEFAULT_PRESETS[task]
    if name not in PRESETS[task]:
        raise ValueError(f"unknown {task} preset {name!r}; expected one of {', '.join(PRESETS[task])}")
    p = dict(PRESETS[task][name])
    p["config"] = dict(p["config"])
    p["name"] = name
    return p


def build_run(task: str, mesh: Optional[Mesh] = None, *, preset_name: Optional[str] = None,
              views: Optional[list[View]] = None, truth_mesh: Optional[Mesh] = None,
              scene: Optional[Scene] = None, gl=None, **overrides) -> tuple[Task, RunConfig]:
    """A task and its config from a preset with ``overrides`` (None values are ignored).

    mesh: the object (pose, color, light) or the template (shape). shape needs ``views`` (targets
    read from a file) or ``truth_mesh`` (targets rendered by GL at the preset's cameras).
    scene: optional base scene whose lights, material, background and flags are used (its mesh and
    camera are replaced). gl: the GLRenderer that draws targets (see ``render_views``). Overrides: size, renderer, lighting, loss, sigma / gamma (float or
    Schedule), the RunConfig fields, truth (az, el, dist), start_offset (d_az, d_el, d_dist),
    object_pose, num_views, layout, weights, reduction, parametrization, template_scale, mode
    (light), light_start (az, el), target_supersample.
    """
    p = preset(task, preset_name)
    p.update({k: v for k, v in overrides.items() if v is not None and k not in CONFIG_KEYS})
    if task in TASK_BUILDERS:
        if scene is None:
            raise ValueError(f"{task}: a scene is needed (the object or the target of the fit)")
        return TASK_BUILDERS[task](p, scene, **overrides)
    config = run_config(p, {k: v for k, v in overrides.items() if k in CONFIG_KEYS})
    if mesh is None:
        raise ValueError(f"{task}: a mesh is needed" + (" (the template sphere)" if task == "shape" else ""))
    size = views[0].target.image_size if views else p["size"]
    if views and "size" in overrides and overrides["size"] not in (None, size):
        raise ValueError(f"the targets are {size} px; --size {overrides['size']} does not match")
    settings = RenderSettings(image_size=size, renderer=p.get("renderer", "softras"), lighting=p["lighting"],
                              sigma=config.sigma.start, gamma=config.gamma.start,
                              background=scene.settings.background if scene else (0.0, 0.0, 0.0),
                              double_sided=scene.settings.double_sided if scene else False,
                              flat_shading=scene.settings.flat_shading if scene else False)
    lights = scene.lights if scene else Lights.from_angles(30.0, 40.0)
    base = Scene(shape=mesh, camera=OrbitCamera(), lights=lights,
                 material=Material.for_lighting(p["lighting"]), settings=settings)
    supersample = p.get("target_supersample", 4)
    if task == "pose":
        az, el, dist = p["truth"]
        truth = OrbitCamera(azimuth=az, elevation=el, distance=dist, fov=p.get("fov", 60.0))
        if "start_position" in p and overrides.get("start_offset") is None:
            s_az, s_el, s_dist = start_from_position(p["start_position"])
        else:
            d_az, d_el, d_dist = p.get("start_offset", (30.0, 15.0, 0.0))
            s_az, s_el, s_dist = az + d_az, el + d_el, dist + d_dist
        start = OrbitCamera(azimuth=s_az, elevation=s_el, distance=s_dist, fov=truth.fov)
        return PoseTask(base, truth, start, loss=p["loss"], object_pose=bool(p.get("object_pose", False)),
                        true_object=p.get("true_object"), target_supersample=supersample, gl=gl), config
    if task == "shape":
        if views is None:
            if truth_mesh is None:
                raise ValueError("shape: give the target mesh or a targets file")
            cams = camera_grid(p["layout"], p["num_views"])
            target_scene = base.replace(shape=truth_mesh)
            views = render_views(target_scene, cams, supersample=supersample, gl=gl)
        truth_verts = truth_mesh.verts if truth_mesh is not None else None
        return ShapeTask(base, views, loss=p["loss"], weights=p["weights"], reduction=p["reduction"],
                         parametrization=p["parametrization"], template_scale=p["template_scale"],
                         truth_verts=truth_verts), config
    cams = camera_grid(p["layout"], p["num_views"])
    if task == "color":
        return ColorTask(base, cams, loss=p["loss"], target_supersample=supersample, gl=gl), config
    if task == "light":
        if p["mode"] == "sh" and scene is None:
            base = base.replace(lights=Lights.from_angles(30.0, 40.0))
        return LightTask(base, cams, mode=p["mode"], start=p.get("light_start"), loss=p["loss"],
                         target_supersample=supersample, gl=gl), config
    raise ValueError(f"unknown task {task!r}; expected one of {', '.join(task_names())}")
