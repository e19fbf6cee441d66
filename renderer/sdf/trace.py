"""Sphere tracing without gradients (the forward search), with DIST's tricks as options, and the
search for each ray's minimum SDF near the silhouette (for the soft silhouette).

Everything here runs under ``torch.no_grad``; ``renderer.sdf.render`` then evaluates the SDF once,
differentiably, at the points found (the implicit derivative, see there).

Options (``TraceOptions``):
- plain sphere tracing: t <- t + f(o + t d), from the bounding sphere's entry to its exit;
- over-stepping (DIST's "aggressive marching"): t <- t + alpha clamp(f, -c, c), alpha = 1.5,
  c = 0.1 (a negative f steps back);
- coarse-to-fine (DIST's pyramid): 3 steps on the image at 1/4 resolution, 3 at 1/2, then the
  rest at full resolution; each level starts from the coarser level's t, taken as the minimum
  over the 3 x 3 coarse neighbours (DIST repeats the nearest; the minimum keeps a ray from
  starting beyond a silhouette it should hit); only for image sizes divisible by 4 (others
  start every ray at the bounding sphere);
- convergence test: a ray stops as a hit when |f| < threshold, as a miss past the exit; a ray
  still marching after ``max_steps`` did not converge (a miss, flagged in ``converged``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Optional

import torch
import torch.nn.functional as F

from ..camera import OrbitCamera, pixel_centre_ndc
from .shapes import SDF, evaluate

GOLDEN = (5 ** 0.5 - 1) / 2


@dataclass(frozen=True)
class TraceOptions:
    """max_steps: steps per ray at full resolution; threshold: |f| that counts as the surface
    (world units); overstep: alpha (1 plain, DIST 1.5); step_clamp: c (None: no clamp, DIST 0.1);
    coarse_to_fine: DIST's 4/2/1 pyramid (3 + 3 steps); gradient: "implicit" (DVR) or "dist"
    (DIST's alpha * sum over the last ``dist_buffer`` samples); refine_steps: golden-section
    iterations locating the minimum SDF of rays near the silhouette."""

    max_steps: int = 256
    threshold: float = 1e-5
    overstep: float = 1.0
    step_clamp: Optional[float] = None
    coarse_to_fine: bool = False
    gradient: str = "implicit"
    dist_buffer: int = 5
    refine_steps: int = 16

    def replace(self, **changes) -> "TraceOptions":
        return replace(self, **changes)


DEFAULT_OPTIONS = TraceOptions()
# DIST's SDFRenderer constructor defaults with the demos' march_step=100 (next_wave.md §4.1).
DIST_OPTIONS = TraceOptions(max_steps=100, threshold=5e-5, overstep=1.5, step_clamp=0.1,
                            coarse_to_fine=True, gradient="dist", dist_buffer=5)


@dataclass
class Rays:
    """One ray per pixel (row-major, row 0 at the top) from the camera eye.

    origin: (3,); dirs: (N, 3) unit, world space; depth_scale: (N,) view depth per unit of t
    (-z_view of o + t d is t * depth_scale); focal: P[0, 0] = 1 / tan(fov / 2), so a world
    length w across the view at view depth z spans w * focal / z in NDC. All differentiable in
    the camera."""

    origin: torch.Tensor
    dirs: torch.Tensor
    depth_scale: torch.Tensor
    focal: torch.Tensor

    def detached(self) -> "Rays":
        return Rays(self.origin.detach(), self.dirs.detach(), self.depth_scale.detach(), self.focal.detach())

    def take(self, index: torch.Tensor) -> "Rays":
        return Rays(self.origin, self.dirs[index], self.depth_scale[index], self.focal)


def camera_rays(camera: OrbitCamera, size: int, dtype: torch.dtype = torch.float32,
                device: torch.device | str = "cpu", rows: Optional[torch.Tensor] = None,
                cols: Optional[torch.Tensor] = None) -> Rays:
    """The rays through the pixel centres (DESIGN.md §2) of an S x S image, or of the pixels
    (rows, cols) (1-D int tensors); read from ``camera.view_matrix()`` and
    ``projection_matrix()`` (the GL reference reads the same two)."""
    if rows is None:
        r, c = torch.meshgrid(torch.arange(size, device=device), torch.arange(size, device=device), indexing="ij")
        rows, cols = r.reshape(-1), c.reshape(-1)
    x, y = pixel_centre_ndc(cols.to(device, dtype), rows.to(device, dtype), size)
    view = camera.view_matrix().to(device, dtype)
    proj = camera.projection_matrix().to(device, dtype)
    d_view = torch.stack([x / proj[0, 0], y / proj[1, 1], -torch.ones_like(x)], dim=-1)
    length = d_view.norm(dim=-1)
    dirs = (d_view / length[:, None]) @ view[:3, :3]               # R^T d (rows of R: the axes)
    eye = -(view[:3, :3].T @ view[:3, 3])
    return Rays(eye, dirs, 1.0 / length, proj[0, 0])


def sphere_interval(rays: Rays, centre: list[float], radius: float,
                    near: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(t_enter, t_exit, valid) of each ray against the bounding sphere, t_enter >= near."""
    c = torch.tensor(centre, dtype=rays.dirs.dtype, device=rays.dirs.device)
    oc = rays.origin - c
    b = rays.dirs @ oc                                                # (N,)
    disc = b * b - (oc @ oc - radius * radius)
    root = disc.clamp_min(0).sqrt()
    t_exit = -b + root
    t_enter = (-b - root).clamp_min(near)
    return t_enter, t_exit, (disc > 0) & (t_exit > near)


@dataclass
class TraceResult:
    """What the search found for N rays (no autograd graph).

    t: (N,) final distance along the ray (the surface for hits); hit: (N,) bool; converged: (N,)
    bool (False: still marching after max_steps); steps: (N,) int64 SDF queries; f_last: (N,)
    the SDF at t; t_min, f_min: (N,) where along the ray the SDF is smallest and its value
    (negative for rays that enter the shape; exact within ``band`` of zero, a sample elsewhere);
    history: (N, B) the last B sample positions t (DIST's gradient), or None; inside: (N,) bool
    rays that start inside the shape (DIST marks them invalid; so does this)."""

    t: torch.Tensor
    hit: torch.Tensor
    converged: torch.Tensor
    steps: torch.Tensor
    f_last: torch.Tensor
    t_min: torch.Tensor
    f_min: torch.Tensor
    history: Optional[torch.Tensor]
    inside: torch.Tensor
    t_enter: torch.Tensor
    t_exit: torch.Tensor


def _march(fn: Callable, rays: Rays, t: torch.Tensor, t_exit: torch.Tensor, active: torch.Tensor,
           state: dict, opts: TraceOptions, steps: int, first: bool) -> None:
    """Advance the active rays ``steps`` times in place (t, active and the state's records)."""
    thr, alpha, clamp = opts.threshold, opts.overstep, opts.step_clamp
    idx = active.nonzero().squeeze(1)          # compacted as rays finish: no full-size scan per step
    for k in range(steps):
        if idx.numel() == 0:
            return
        ti = t[idx]
        f = fn(rays.origin + ti[:, None] * rays.dirs[idx])
        state["steps"][idx] += 1
        state["f_last"][idx] = f
        better = f < state["f_min"][idx]
        state["f_min"][idx] = torch.where(better, f, state["f_min"][idx])
        state["t_min"][idx] = torch.where(better, ti, state["t_min"][idx])
        if state["history"] is not None:
            state["history"][idx] = torch.cat([state["history"][idx, 1:], ti[:, None]], dim=1)
        hit = f.abs() < thr
        if first and k == 0:
            inside = f < -thr
            state["inside"][idx] = inside
            hit = hit & ~inside
        else:
            inside = torch.zeros_like(hit)
        step = f if clamp is None else f.clamp(-clamp, clamp)
        tn = torch.where(hit, ti, ti + alpha * step)
        t[idx] = tn
        state["hit"][idx] = hit
        done = hit | inside | (tn > t_exit[idx])
        active[idx[done]] = False
        idx = idx[~done]


def _coarse_start(t_coarse: torch.Tensor, size_coarse: int, size: int) -> torch.Tensor:
    """A fine level's start: the minimum of the 3 x 3 coarse neighbours, repeated to ``size``."""
    grid = t_coarse.reshape(1, 1, size_coarse, size_coarse)
    low = -F.max_pool2d(-grid, 3, stride=1, padding=1)
    factor = size // size_coarse
    return low.repeat_interleave(factor, 2).repeat_interleave(factor, 3).reshape(-1)


def trace(sdf: SDF, camera: OrbitCamera, size: int, opts: TraceOptions = DEFAULT_OPTIONS,
          band: Optional[torch.Tensor] = None) -> tuple[Rays, TraceResult]:
    """Sphere-trace every pixel of an S x S image of ``sdf`` seen by ``camera``.

    band: (N,) or 0-d world distance within which the minimum SDF is located exactly (the soft
    silhouette's reach), None: not located. Returns the (differentiable) rays and the result."""
    dtype, device = sdf.dtype, sdf.device
    rays = camera_rays(camera, size, dtype, device)
    with torch.no_grad():
        result = trace_rays(sdf, rays.detached(), opts, size=size, near=float(camera.near), band=band)
    return rays, result


def trace_rays(sdf: SDF, rays: Rays, opts: TraceOptions = DEFAULT_OPTIONS, size: Optional[int] = None,
               near: float = 0.1, band: Optional[torch.Tensor] = None) -> TraceResult:
    """The search on given rays (no grad). ``size``: the rays are an S x S image (needed for
    coarse-to-fine)."""
    with torch.no_grad():
        params = sdf.params.detach() if sdf.source == "primitives" else None

        def fn(x: torch.Tensor) -> torch.Tensor:
            return evaluate(sdf, x, params)

        centre, radius = sdf.bounding_sphere()
        if band is not None:          # the soft silhouette reaches rays that pass within the band
            radius += float(band.max())
        t_enter, t_exit, valid = sphere_interval(rays, centre, radius, near)
        n = len(rays.dirs)
        dtype, device = rays.dirs.dtype, rays.dirs.device
        state = {"steps": torch.zeros(n, dtype=torch.int64, device=device),
                 "f_last": torch.full((n,), float("inf"), dtype=dtype, device=device),
                 "f_min": torch.full((n,), float("inf"), dtype=dtype, device=device),
                 "t_min": t_enter.clone(), "hit": torch.zeros(n, dtype=torch.bool, device=device),
                 "inside": torch.zeros(n, dtype=torch.bool, device=device),
                 "history": (t_enter[:, None].repeat(1, opts.dist_buffer) if opts.gradient == "dist" else None)}
        t = t_enter.clone()
        active = valid.clone()
        first = True
        if opts.coarse_to_fine and size is not None and size % 4 == 0 and size >= 8:
            t, active, first = _pyramid(sdf, rays, t, t_exit, valid, opts, size, near, state)
        _march(fn, rays, t, t_exit, active, state, opts, opts.max_steps, first)
        hit = state["hit"] & ~state["inside"]
        converged = ~active
        f_min, t_min = state["f_min"], state["t_min"]
        if band is not None:
            f_min, t_min, hit = _locate_minimum(fn, rays, t, hit, converged, f_min, t_min, t_exit, band, opts)
        return TraceResult(t=t, hit=hit, converged=converged, steps=state["steps"], f_last=state["f_last"],
                           t_min=t_min, f_min=f_min, history=state["history"], inside=state["inside"],
                           t_enter=t_enter, t_exit=t_exit)


def _pyramid(sdf: SDF, rays: Rays, t: torch.Tensor, t_exit: torch.Tensor, valid: torch.Tensor,
             opts: TraceOptions, size: int, near: float, state: dict):
    """DIST's 3 steps at 1/4 and 3 at 1/2 resolution; returns the full level's start."""
    start = None
    grid = rays.dirs.reshape(size, size, 3)
    for factor, level_steps in ((4, 3), (2, 3)):
        s = size // factor
        # the coarse ray through a block's centre: the mean of its pixels' directions
        dirs = grid.reshape(s, factor, s, factor, 3).mean((1, 3)).reshape(-1, 3)
        dirs = dirs / dirs.norm(dim=-1, keepdim=True)
        coarse = Rays(rays.origin, dirs, torch.ones(len(dirs), dtype=dirs.dtype, device=dirs.device), rays.focal)
        centre, radius = sdf.bounding_sphere()
        c_enter, c_exit, c_valid = sphere_interval(coarse, centre, radius, near)
        ct = c_enter if start is None else torch.maximum(start, c_enter)
        n = len(dirs)
        cstate = {"steps": torch.zeros(n, dtype=torch.int64, device=dirs.device),
                  "f_last": torch.full((n,), float("inf"), dtype=dirs.dtype, device=dirs.device),
                  "f_min": torch.full((n,), float("inf"), dtype=dirs.dtype, device=dirs.device),
                  "t_min": ct.clone(), "hit": torch.zeros(n, dtype=torch.bool, device=dirs.device),
                  "inside": torch.zeros(n, dtype=torch.bool, device=dirs.device), "history": None}
        params = sdf.params.detach() if sdf.source == "primitives" else None
        _march(lambda x: evaluate(sdf, x, params), coarse, ct, c_exit, c_valid.clone(), cstate, opts,
               level_steps, first=False)
        # coarse rays that left the bounding sphere carry no information: restart from entry
        ct = torch.where(ct > c_exit, c_enter, ct)
        start = _coarse_start(ct, s, size // factor * 2) if factor == 4 else ct
    fine_start = _coarse_start(start, size // 2, size)
    t = torch.maximum(fine_start, t)
    return t, valid.clone(), False


def _locate_minimum(fn: Callable, rays: Rays, t: torch.Tensor, hit: torch.Tensor, converged: torch.Tensor,
                    f_min: torch.Tensor, t_min: torch.Tensor, t_exit: torch.Tensor,
                    band: torch.Tensor, opts: TraceOptions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The minimum SDF along rays within ``band`` of the surface, located exactly; returns
    (f_min, t_min, hit), t updated in place.

    Missed rays: their smallest sample is refined by golden-section search over +-2 f_min. A ray
    that ran out of steps (grazing a face) but whose minimum is negative does enter the shape:
    the entry between its last t (f > 0) and the minimum (f < 0) is found by bisection and it
    counts as a hit (still flagged not converged). Hit rays: marched on from 2 band past the hit
    (steps max(|f|, band / 2)) until the SDF falls below -band (alpha is then 1 whatever the
    exact minimum) or the ray leaves the bounding sphere (a ray leaving one part may enter
    another, deeper); the smallest sample is refined the same way."""
    f_min, t_min = f_min.clone(), t_min.clone()
    band = band.expand_as(f_min) if band.dim() == 0 else band
    missed = (~hit & (f_min.abs() < band)).nonzero().squeeze(1)
    _refine(fn, rays, missed, f_min, t_min, 2 * f_min[missed].abs() + band[missed] / 2, opts)
    stuck = (~hit & ~converged & (f_min < 0) & (t_min > t)).nonzero().squeeze(1)
    if stuck.numel():
        t[stuck] = _bisect(fn, rays, stuck, t[stuck], t_min[stuck])
        hit = hit.clone()
        hit[stuck] = True
    f_min = torch.where(hit, torch.zeros_like(f_min), f_min)
    t_min = torch.where(hit, t, t_min)
    rows = hit.nonzero().squeeze(1)
    tt = t[rows] + 2 * band[rows]
    for _ in range(opts.max_steps):
        if rows.numel() == 0:
            break
        f = fn(rays.origin + tt[:, None] * rays.dirs[rows])
        better = f < f_min[rows]
        f_min[rows] = torch.where(better, f, f_min[rows])
        t_min[rows] = torch.where(better, tt, t_min[rows])
        tt = tt + torch.maximum(f.abs(), band[rows] / 2)
        live = (f > -band[rows]) & (tt < t_exit[rows])
        rows, tt = rows[live], tt[live]
    inner = (hit & (f_min.abs() < band)).nonzero().squeeze(1)
    _refine(fn, rays, inner, f_min, t_min, 2 * f_min[inner].abs() + 2 * band[inner], opts)
    return f_min, t_min, hit


def _bisect(fn: Callable, rays: Rays, idx: torch.Tensor, outside: torch.Tensor, inside: torch.Tensor,
            iterations: int = 48) -> torch.Tensor:
    """The root of f between t ``outside`` (f > 0) and ``inside`` (f < 0) on rays ``idx``."""
    lo, hi = outside.clone(), inside.clone()
    d = rays.dirs[idx]
    for _ in range(iterations):
        mid = (lo + hi) / 2
        positive = fn(rays.origin + mid[:, None] * d) > 0
        lo = torch.where(positive, mid, lo)
        hi = torch.where(positive, hi, mid)
    return (lo + hi) / 2


def _refine(fn: Callable, rays: Rays, idx: torch.Tensor, f_min: torch.Tensor, t_min: torch.Tensor,
            width: torch.Tensor, opts: TraceOptions) -> None:
    """Golden-section search of f's minimum over t_min +- width on rays ``idx`` (in place)."""
    if idx.numel() == 0:
        return
    lo, hi = t_min[idx] - width, t_min[idx] + width
    o, d = rays.origin, rays.dirs[idx]
    a = hi - GOLDEN * (hi - lo)
    b = lo + GOLDEN * (hi - lo)
    fa, fb = fn(o + a[:, None] * d), fn(o + b[:, None] * d)
    for _ in range(opts.refine_steps):
        left = fa < fb
        hi = torch.where(left, b, hi)
        lo = torch.where(left, lo, a)
        b2 = torch.where(left, a, lo + GOLDEN * (hi - lo))
        a2 = torch.where(left, hi - GOLDEN * (hi - lo), b)
        fa2 = torch.where(left, fn(o + a2[:, None] * d), fb)
        fb2 = torch.where(left, fa, fn(o + b2[:, None] * d))
        a, b, fa, fb = a2, b2, fa2, fb2
    tm = (lo + hi) / 2
    fm = fn(o + tm[:, None] * d)
    keep = fm < f_min[idx]
    f_min[idx] = torch.where(keep, fm, f_min[idx])
    t_min[idx] = torch.where(keep, tm, t_min[idx])
