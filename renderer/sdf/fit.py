"""The SDF fit task ("sdf_fit"): recover an SDF's parameters from multi-view silhouettes.

The scene the user has open is the truth: its silhouettes, drawn by the gl_sdf reference
(supersampled 4x, so a pixel's value is its covered fraction) from ``num_views`` cameras
(``fit_cameras``), are the targets. The fit starts from the truth perturbed (sizes x
``size_scale``, centres moved by ``centre_shift`` in a fixed pattern) and optimises with the
soft silhouette of the ``sdf`` renderer.

Presets:
primitives  the primitive parameters (e.g. assets/sphere_box.sdf.json), 10 views (8 around at
            elevation 20, one from above, one from below), 64 px, sigma annealed 1e-4 -> 1e-5,
            silhouette MSE, Adam lr 0.005, 400 steps, stop when every parameter is within 0.5 %
            (``error/max_rel``).
grid        a 24^3 grid SDF of the same scene from a sphere grid: 10 views, 64 px, sigma 1e-4 ->
            1e-5, silhouette MSE, Adam lr 0.003, 300 steps.

Errors (error/*, relative): a size parameter (radius, half extent, torus radii) against its
true value; a centre coordinate against the primitive's largest true size (a centre of 0 has no
relative error of its own). error/max_rel is the largest, in percent.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch

from ..analysis.losses import Target
from ..camera import OrbitCamera
from ..lighting import Material
from ..optimize.presets import register_task, run_config
from ..optimize.schedules import Schedule
from ..optimize.tasks.base import ParamGroup, Task, recorded_scalars
from ..optimize.views import View
from ..scene import RenderSettings, Scene
from .shapes import SDF, Primitive, make_sdf

PRESETS: dict[str, dict[str, Any]] = {
    "primitives": dict(size=64, loss="silhouette-mse", lighting="none", num_views=10,
                       sigma=1e-4, sigma_end=1e-5, size_scale=0.85, centre_shift=0.06,
                       target_supersample=4, config=dict(steps=400, optimizer="adam", lr=0.005, stop_error=0.5)),
    "grid": dict(size=64, loss="silhouette-mse", lighting="none", num_views=10, sigma=1e-4, sigma_end=1e-5,
                 resolution=24, target_supersample=4, config=dict(steps=300, optimizer="adam", lr=0.003)),
}


def fit_cameras(count: int = 10, distance: float = 2.5) -> list[OrbitCamera]:
    """``count`` - 2 cameras around at elevation 20 (azimuths evenly spaced), one at elevation
    70 and one at -60, all at ``distance``, fov 60."""
    ring = max(count - 2, 1)
    cams = [OrbitCamera(azimuth=360.0 * k / ring, elevation=20.0, distance=distance) for k in range(ring)]
    extra = [OrbitCamera(azimuth=30.0, elevation=70.0, distance=distance),
             OrbitCamera(azimuth=200.0, elevation=-60.0, distance=distance)]
    return (cams + extra)[:count]


def target_views(truth: Scene, cameras: list[OrbitCamera], supersample: int = 4) -> list[View]:
    """Targets drawn by the gl_sdf reference of ``truth`` from each camera."""
    from .gl_reference import render_gl_sdf

    views = []
    for cam in cameras:
        out = render_gl_sdf(truth.replace(camera=cam).with_settings(renderer="gl_sdf", supersample=supersample))
        dtype = truth.shape.dtype
        views.append(View(camera=cam.detached(), target=Target(torch.from_numpy(out["rgb"]).to(dtype),
                                                               torch.from_numpy(out["alpha"]).to(dtype))))
    return views


def perturbed(sdf: SDF, size_scale: float, centre_shift: float) -> torch.Tensor:
    """The start: sizes x ``size_scale``; centre coordinates moved by +-``centre_shift`` in a
    fixed pattern (x +, y -, z + for primitive 0, the opposite for primitive 1, ...)."""
    values = sdf.params.detach().clone()
    for i, (p, at) in enumerate(zip(sdf.primitives, sdf.param_offsets())):
        sign = 1.0 if i % 2 == 0 else -1.0
        values[at:at + 3] += sign * centre_shift * torch.tensor([1.0, -1.0, 1.0], dtype=values.dtype,
                                                                 device=values.device)
        values[at + 3:at + len(p.fields)] *= size_scale
    return values


def relative_errors(sdf: SDF, values: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """error/<name> per parameter and error/max_rel (percent), as the module docstring says."""
    out = {}
    for p, at in zip(sdf.primitives, sdf.param_offsets()):
        sizes = truth[at + 3:at + len(p.fields)].abs()
        scale = float(sizes.max())
        for k, field in enumerate(p.fields):
            ref = scale if k < 3 else float(truth[at + k].abs())
            name = f"sdf:{sdf.primitives.index(p)}:{field}"
            out[f"error/{name}"] = float((values[at + k] - truth[at + k]) / ref)
    out["error/max_rel"] = 100 * max(abs(v) for v in out.values())
    return out


def describe_sdf(sdf: SDF) -> dict:
    """The primitives' structure as JSON-ready data (types, ops, blends, albedos)."""
    return {"name": sdf.name, "primitives": [dict(type=p.type, op=p.op, blend=p.blend,
                                                  albedo=None if p.albedo is None else list(p.albedo))
                                             for p in sdf.primitives]}


class SDFFitTask(Task):
    """Fit the primitives' parameters (``mode`` "primitives") or a grid's node values ("grid")
    of ``start`` to ``views``; ``truth`` (P,) for the errors (primitives only)."""

    name = "sdf_fit"
    primary_error = "error/max_rel"
    primary_unit = "%"

    def __init__(self, base: Scene, views: list[View], start: SDF, loss: str,
                 truth: Optional[torch.Tensor] = None):
        super().__init__(base, views, loss)
        self.start = start
        self.mode = start.source
        tensor = start.params if self.mode == "primitives" else start.grid
        self.values = tensor.detach().clone().requires_grad_(True)
        self.truth = truth

    def shape(self) -> SDF:
        return self.start.with_params(self.values) if self.mode == "primitives" else self.start.with_grid(self.values)

    def param_groups(self) -> list[ParamGroup]:
        return [ParamGroup("sdf_params", self.values)]

    def scene_for(self, view: View) -> Scene:
        return self.base.replace(shape=self.shape(), camera=view.camera)

    def param_scalars(self) -> dict[str, float]:
        if self.mode != "primitives":
            return {}
        return {f"param/{n}": float(v) for n, v in zip(self.start.param_names(), self.values.detach().tolist())}

    def error_scalars(self) -> dict[str, float]:
        if self.truth is None or self.mode != "primitives":
            return {}
        return relative_errors(self.start, self.values.detach(), self.truth)

    def summary(self, errors=None) -> str:
        errors = self.error_scalars() if errors is None else errors
        if "error/max_rel" not in errors:
            return ""
        return f"largest parameter error {errors['error/max_rel']:.3g} %"

    def frame_extras(self) -> dict[str, np.ndarray]:
        return {"sdf_values": self.values.detach().float().cpu().numpy()}

    def describe(self) -> dict:
        st = self.base.settings
        return {"task": self.name, "loss": self.image_loss.name, "loss_formula": self.image_loss.formula,
                "renderer": st.renderer, "image_size": st.image_size, "lighting": st.lighting,
                "mesh": self.start.name, "mode": self.mode, "num_views": len(self.views),
                "sdf": describe_sdf(self.start) if self.mode == "primitives" else None,
                "truth": None if self.truth is None else self.truth.tolist(),
                "view_cameras": [[float(v.camera.distance), float(v.camera.elevation),
                                  float(v.camera.azimuth), float(v.camera.fov)] for v in self.views]}

    @classmethod
    def _recorded_shape(cls, timeline, step: int, mesh_named, notes: list[str]):
        """The primitives at ``step``, from the run's structure and its recorded param/ scalars."""
        task = timeline.meta.get("task") or {}
        desc = task.get("sdf")
        if not desc:
            raise ValueError("the run fitted a grid: its steps are not rebuilt as scenes")
        prims = [Primitive(d["type"], d["op"], d["blend"], None if d["albedo"] is None else tuple(d["albedo"]))
                 for d in desc["primitives"]]
        scalars = recorded_scalars(timeline, step)
        try:
            values = [[scalars[f"param/sdf:{i}:{f}"] for f in p.fields] for i, p in enumerate(prims)]
        except KeyError as missing:
            raise ValueError(f"step {step} of the run did not record {missing.args[0]}") from None
        return make_sdf([(p, v) for p, v in zip(prims, values)], name=desc.get("name", "sdf"))

    @classmethod
    def _recorded_view(cls, scene: Scene, timeline, values: dict[str, float], notes: list[str]) -> Scene:
        return super()._recorded_view(scene, timeline, values, notes).with_settings(renderer="gl_sdf")


def build_sdf_fit(p: dict[str, Any], scene: Scene, **overrides) -> tuple[SDFFitTask, Any]:
    """register_task's builder: ``scene``'s SDF is the truth (see the module docstring)."""
    truth_sdf = scene.shape
    if not isinstance(truth_sdf, SDF) or truth_sdf.source == "module":
        raise ValueError("sdf_fit fits an analytic or grid SDF scene; open one (e.g. assets/sphere_box.sdf.json)")
    config = run_config(p, overrides)
    if overrides.get("sigma") is None and p.get("sigma_end"):
        # annealed unless the user sets sigma (the presets keep sigma a number: the CLI reads it)
        config = config.replace(sigma=Schedule.geometric(float(p["sigma"]), float(p["sigma_end"])))
    size = int(p["size"])
    settings = RenderSettings(image_size=size, renderer=p.get("renderer") or "sdf", lighting=p["lighting"],
                              sigma=config.sigma.start, background=scene.settings.background)
    base = Scene(shape=truth_sdf, lights=scene.lights, material=Material.for_lighting(p["lighting"]),
                 settings=settings)
    cams = fit_cameras(int(p["num_views"]))
    views = target_views(base.with_settings(renderer="gl_sdf"), cams, int(p.get("target_supersample", 4)))
    if p["name"] == "grid" or truth_sdf.source == "grid":
        start = sphere_grid(truth_sdf, int(p.get("resolution", 24)))
        return SDFFitTask(base, views, start, p["loss"]), config
    start = truth_sdf.with_params(perturbed(truth_sdf, float(p["size_scale"]), float(p["centre_shift"])))
    return SDFFitTask(base, views, start, p["loss"], truth=truth_sdf.params.detach().clone()), config


def sphere_grid(like: SDF, resolution: int) -> SDF:
    """A resolution^3 grid over the cube around ``like``'s bounding sphere, holding the SDF of a
    sphere at its centre with 0.6 times its radius (the grid fit's start)."""
    centre, radius = like.bounding_sphere()
    c = torch.tensor(centre, dtype=torch.float32)
    lo, hi = c - radius, c + radius
    axes = [torch.linspace(float(lo[i]), float(hi[i]), resolution) for i in range(3)]
    pts = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1)
    grid = (pts - c).norm(dim=-1) - 0.6 * radius
    return SDF(grid=grid, bounds=torch.stack([lo, hi]), name=f"{like.name}_grid").to(like.device)


register_task("sdf_fit", PRESETS, "primitives", build_sdf_fit, kinds=("sdf",),
              description="Fit the SDF's primitive parameters (or a small grid) to multi-view silhouettes of the open SDF")
