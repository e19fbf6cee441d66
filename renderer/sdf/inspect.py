"""What the GUI asks of an SDF scene: one pixel's sphere-tracing steps, the map of rays that did
not converge, and dL/dtheta per primitive parameter as a table. Tensors/numpy in and out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch

from ..fragments import RenderOutput
from ..rendering import render
from ..scene import Scene
from .render import _sdf, options_for
from .shapes import SDF, evaluate
from .trace import DEFAULT_OPTIONS, DIST_OPTIONS, TraceOptions, _march, camera_rays, sphere_interval, trace


def _options(scene: Scene, opts: Optional[TraceOptions]) -> TraceOptions:
    if opts is None:
        opts = DIST_OPTIONS if scene.settings.renderer == "sdf_dist" else DEFAULT_OPTIONS
    return options_for(scene, opts)


@dataclass(frozen=True)
class TraceSteps:
    """The sphere-tracing steps of one pixel's ray.

    t: (K,) the distance along the ray of each SDF query; distance: (K,) f there; count: K;
    hit: the ray stopped on the surface (|f| < threshold); converged: it stopped by a test (hit,
    or past the bounding sphere's exit) rather than running out of steps; inside: it started
    inside the shape; t_enter, t_exit: the bounding-sphere interval (t_enter = t_exit = 0 for a
    ray that misses the sphere); threshold, overstep: the options traced with."""

    t: np.ndarray
    distance: np.ndarray
    count: int
    hit: bool
    converged: bool
    inside: bool
    t_enter: float
    t_exit: float
    threshold: float
    overstep: float


def trace_steps(scene: Scene, row: int, col: int, opts: Optional[TraceOptions] = None) -> TraceSteps:
    """Every step of pixel (row, col)'s sphere trace (row 0 at the top) under the scene's
    renderer's options (``sdf``: plain; ``sdf_dist``: DIST's over-stepping; its coarse-to-fine
    levels are shared by 4 x 4 and 2 x 2 pixel blocks and not listed: the steps shown start at
    the bounding sphere). ValueError for a pixel outside the image."""
    sdf = _sdf(scene)
    size = scene.settings.image_size
    if not (0 <= row < size and 0 <= col < size):
        raise ValueError(f"pixel ({row}, {col}) is outside the {size} x {size} image")
    opts = _options(scene, opts)
    with torch.no_grad():
        rays = camera_rays(scene.camera, size, sdf.dtype, sdf.device,
                           rows=torch.tensor([row], device=sdf.device),
                           cols=torch.tensor([col], device=sdf.device)).detached()
        centre, radius = sdf.bounding_sphere()
        t_enter, t_exit, valid = sphere_interval(rays, centre, radius, float(scene.camera.near))
        params = sdf.params.detach() if sdf.source == "primitives" else None
        dev = sdf.device
        state = {"steps": torch.zeros(1, dtype=torch.int64, device=dev),
                 "f_last": torch.full((1,), float("inf"), dtype=sdf.dtype, device=dev),
                 "f_min": torch.full((1,), float("inf"), dtype=sdf.dtype, device=dev), "t_min": t_enter.clone(),
                 "hit": torch.zeros(1, dtype=torch.bool, device=dev),
                 "inside": torch.zeros(1, dtype=torch.bool, device=dev), "history": None}
        t, active = t_enter.clone(), valid.clone()
        ts, fs = [], []
        for k in range(opts.max_steps):
            if not bool(active[0]):
                break
            before = float(t[0])
            _march(lambda x: evaluate(sdf, x, params), rays, t, t_exit, active, state, opts, 1, first=k == 0)
            ts.append(before)
            fs.append(float(state["f_last"][0]))
    return TraceSteps(t=np.array(ts), distance=np.array(fs), count=len(ts),
                      hit=bool(state["hit"][0] & ~state["inside"][0]), converged=not bool(active[0]),
                      inside=bool(state["inside"][0]), t_enter=float(t_enter[0]) if bool(valid[0]) else 0.0,
                      t_exit=float(t_exit[0]) if bool(valid[0]) else 0.0, threshold=opts.threshold,
                      overstep=opts.overstep)


def convergence_map(scene: Scene, opts: Optional[TraceOptions] = None) -> dict[str, np.ndarray]:
    """The whole image's search, for the "did not converge" view: steps (S, S) int64 SDF
    queries per pixel; not_converged (S, S) bool (still marching after max_steps: drawn as
    background); hit (S, S) bool; final_distance (S, S) float |f| where the ray stopped (inf
    where it was never traced)."""
    sdf = _sdf(scene)
    size = scene.settings.image_size
    _, tr = trace(sdf, scene.camera, size, _options(scene, opts))
    shape = (size, size)
    return {"steps": tr.steps.reshape(shape).cpu().numpy(),
            "not_converged": (~tr.converged).reshape(shape).cpu().numpy(),
            "hit": tr.hit.reshape(shape).cpu().numpy(),
            "final_distance": tr.f_last.abs().reshape(shape).cpu().numpy()}


@dataclass(frozen=True)
class ParamGradient:
    """One row of the dL/dtheta table: name ("sdf:0:radius", or a module parameter's name),
    value (its current value; the norm for a module tensor), grad (dL/dtheta; its norm for a
    module tensor)."""

    name: str
    value: float
    grad: float


def parameter_gradients(scene: Scene, loss: Callable[[RenderOutput], torch.Tensor],
                        renderer: Optional[str] = None) -> list[ParamGradient]:
    """dL/dtheta for every parameter of the scene's SDF (primitives: one row per scalar; grid:
    one row per node; module: one row per parameter tensor, as norms), with L = loss(render)."""
    sdf: SDF = _sdf(scene)
    if sdf.source == "module":
        named = list(sdf.module.named_parameters())
        for _, p in named:
            p.grad = None
        loss(render(scene, renderer)).backward()
        return [ParamGradient(n, float(p.detach().norm()), 0.0 if p.grad is None else float(p.grad.norm()))
                for n, p in named]
    if sdf.source == "primitives":
        values = sdf.params.detach().clone().requires_grad_(True)
        shape = sdf.with_params(values)
        names = sdf.param_names()
    else:
        values = sdf.grid.detach().clone().requires_grad_(True)
        shape = sdf.with_grid(values)
        dx, dy, dz = sdf.grid.shape
        names = [f"sdf_node:{i}:{j}:{k}" for i in range(dx) for j in range(dy) for k in range(dz)]
    (grad,) = torch.autograd.grad(loss(render(scene.replace(shape=shape), renderer)), values, allow_unused=True)
    grad = torch.zeros_like(values) if grad is None else grad
    return [ParamGradient(n, float(v), float(g))
            for n, v, g in zip(names, values.detach().reshape(-1).tolist(), grad.reshape(-1).tolist())]
