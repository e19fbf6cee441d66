"""The differentiable SDF renderers ``sdf`` (implicit depth derivative, DVR) and ``sdf_dist``
(DIST's depth derivative), after a gradient-free sphere trace (``renderer.sdf.trace``).

Depth. The search gives t0 with f(o + t0 d) ~ 0, without a graph. One differentiable
evaluation at x0 = o + t0 d then gives

    t = t0 - f(x0; theta) / [grad_x f(x0) . d]          (the bracket detached)

Its value is t0 plus one Newton step (|f(x0)| < threshold, so it moves t by less than
threshold / |cos|); its derivative is the implicit one, dt/dtheta = -(df/dtheta) / (grad f . d),
for the shape parameters and, through x0 = o + t0 d, for the camera (dt/do = -grad f /
(grad f . d)). |grad f . d| is clamped to >= 1e-3 as in DVR. ``sdf_dist`` replaces it with
DIST's t = t0 + alpha sum_i [f(p_i) - f(p_i).detach()] over the last B samples p_i (value t0,
derivative alpha sum_i df(p_i)/dtheta: no 1 / cos factor).

Shading. The hit point x = o + t d carries the derivative; the normal is grad f(x) / |grad f(x)|
(autograd with create_graph, so shading derivatives reach theta), shaded by renderer/shading.py
with the scene's lighting model, lights and material.

Soft silhouette (docs/sdf.md). Each ray's minimum SDF m = min_t f(o + t d) (negative for rays
that enter the shape), converted to NDC at its depth z, m_ndc = m P00 / z, gives SoftRas's
coverage with the signed distance -m: alpha = sigmoid(-m_ndc |m_ndc| / sigma), exactly 1 or 0
beyond SoftRas's cut-off (m_ndc^2 >= 9.21 sigma). Its derivative reaches theta through one
evaluation of f at the minimum's (detached) position (the envelope theorem: the minimum's
position does not move the minimum to first order).
"""
from __future__ import annotations

from typing import Optional

import torch

from ..fragments import RenderOutput
from ..registry import SOFTRAS_CUTOFF_FACTOR
from ..scene import Scene
from ..shading import shade
from .shapes import SDF, evaluate, evaluate_with_albedo
from .trace import DEFAULT_OPTIONS, DIST_OPTIONS, Rays, TraceOptions, TraceResult, trace

MIN_COSINE = 1e-3          # DVR's clamp of |grad f . d|
# The search's per-pixel results, returned as RenderOutput buffers
# (steps: (S, S) int64 SDF queries; converged: (S, S) bool); ``convergence_map`` has them always.
SEARCH_BUFFERS = ("steps", "converged")


def options_for(scene: Scene, base: TraceOptions) -> TraceOptions:
    """``base`` with the sdf_* RenderSettings the scene sets (sdf_max_steps, sdf_threshold,
    sdf_overstep, sdf_step_clamp, sdf_coarse_to_fine; None keeps the base's)."""
    changes = {}
    for field in ("max_steps", "threshold", "overstep", "step_clamp", "coarse_to_fine"):
        value = getattr(scene.settings, f"sdf_{field}")
        if value is not None:
            changes[field] = value
    return base.replace(**changes) if changes else base


def _sdf(scene: Scene) -> SDF:
    if not isinstance(scene.shape, SDF):
        raise TypeError(f"this scene holds a {scene.kind}, not an sdf")
    return scene.shape


def surface_gradient(sdf: SDF, x: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """grad_x f at points x (N, 3) -> (N, 3); with ``create_graph`` differentiable in x and the
    SDF's parameters, else detached."""
    with torch.enable_grad():
        if create_graph:
            xg = x if x.requires_grad else x.detach().requires_grad_(True)
            f = evaluate(sdf, xg)
        else:
            xg = x.detach().requires_grad_(True)
            params = sdf.params.detach() if sdf.source == "primitives" else None
            f = evaluate(sdf, xg, params)
        if not f.requires_grad:
            return torch.zeros_like(x)
        (g,) = torch.autograd.grad(f.sum(), xg, create_graph=create_graph)
    return g


def hit_depth(sdf: SDF, rays: Rays, tr: TraceResult, idx: torch.Tensor, opts: TraceOptions) -> torch.Tensor:
    """Differentiable t of the hit rays ``idx`` (K,) -> (K,) (see the module docstring)."""
    o, d = rays.origin, rays.dirs[idx]
    t0 = tr.t[idx]
    if opts.gradient == "dist" and tr.history is not None:
        samples = o + tr.history[idx][..., None] * d[:, None]            # (K, B, 3)
        f = evaluate(sdf, samples.reshape(-1, 3)).reshape(samples.shape[:2])
        return t0 + opts.overstep * (f - f.detach()).sum(1)
    x0 = o + t0[:, None] * d
    f0 = evaluate(sdf, x0)
    g = surface_gradient(sdf, x0, create_graph=False)
    cos = (g * d.detach()).sum(-1)
    cos = torch.where(cos < 0, cos.clamp(max=-MIN_COSINE), cos.clamp(min=MIN_COSINE))
    return t0 - f0 / cos


def silhouette_band(rays: Rays, tr_t: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N,) world distance at each ray's depth beyond which the soft silhouette is 0 or 1:
    sqrt(9.21 sigma) NDC, times z / P00."""
    z = tr_t * rays.depth_scale
    return (SOFTRAS_CUTOFF_FACTOR * sigma) ** 0.5 * z.clamp_min(1e-6) / rays.focal


def soft_alpha(sdf: SDF, rays: Rays, tr: TraceResult, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(alpha (N,), in_band (N,) bool): the soft silhouette (module docstring), with a graph to
    theta and the camera on the rays within the band."""
    band = silhouette_band(rays.detached(), tr.t_min, sigma)
    # rays starting inside the shape are not drawn (as DIST, and as the GL reference)
    in_band = (tr.f_min.abs() < band) & torch.isfinite(tr.f_min) & ~tr.inside
    alpha = (tr.hit | ((tr.f_min < 0) & ~tr.inside)).to(rays.dirs.dtype)
    idx = in_band.nonzero().squeeze(1)
    if idx.numel():
        t = tr.t_min[idx]
        x = rays.origin + t[:, None] * rays.dirs[idx]
        m = evaluate(sdf, x)
        m_ndc = m * rays.focal / (t * rays.depth_scale[idx])
        soft = torch.sigmoid(-m_ndc * m_ndc.abs() / sigma)
        alpha = alpha.index_put((idx,), soft)
    return alpha, in_band


def render_sdf_traced(scene: Scene, opts: Optional[TraceOptions] = None) -> tuple[RenderOutput, Rays, TraceResult]:
    """The full render and what the search found (for the inspector): RenderOutput with rgb
    (S, S, 3), alpha (S, S), depth (S, S) view depth (0 where no hit), normal and position
    (S, S, 3) world (0 where no hit); plus the rays and the TraceResult (hit, converged, steps)."""
    sdf = _sdf(scene)
    opts = options_for(scene, opts or DEFAULT_OPTIONS)
    st = scene.settings
    size, sigma = st.image_size, float(st.sigma)
    rays, tr = _trace_with_band(scene, sdf, opts)
    dtype, device = rays.dirs.dtype, rays.dirs.device
    n = size * size
    alpha, in_band = soft_alpha(sdf, rays, tr, sigma)
    hit_idx = tr.hit.nonzero().squeeze(1)
    # rays in the band that miss are coloured by the surface point nearest to them
    near_idx = (in_band & ~tr.hit).nonzero().squeeze(1)
    t_hit = hit_depth(sdf, rays, tr, hit_idx, opts)
    x_hit = rays.origin + t_hit[:, None] * rays.dirs[hit_idx]
    x_near = rays.origin + tr.t_min[near_idx, None] * rays.dirs[near_idx]
    x = torch.cat([x_hit, x_near])
    colour, normal = shade_points(scene, sdf, x, rays.origin)
    every = torch.cat([hit_idx, near_idx])
    background = torch.tensor(st.background, dtype=dtype, device=device)
    surface = background.expand(n, 3).index_put((every,), colour)
    rgb = alpha[:, None] * surface + (1 - alpha[:, None]) * background
    zeros3 = torch.zeros(n, 3, dtype=dtype, device=device)
    k = len(hit_idx)
    depth = torch.zeros(n, dtype=dtype, device=device).index_put((hit_idx,), t_hit * rays.depth_scale[hit_idx])
    search = {"steps": tr.steps.reshape(size, size), "converged": tr.converged.reshape(size, size)}
    out = RenderOutput(rgb=rgb.reshape(size, size, 3), alpha=alpha.reshape(size, size),
                       depth=depth.reshape(size, size),
                       normal=zeros3.index_put((hit_idx,), normal[:k]).reshape(size, size, 3),
                       position=zeros3.index_put((hit_idx,), x_hit).reshape(size, size, 3),
                       **{name: value for name, value in search.items() if name in SEARCH_BUFFERS})
    return out, rays, tr


def _trace_with_band(scene: Scene, sdf: SDF, opts: TraceOptions) -> tuple[Rays, TraceResult]:
    """The search with the silhouette band at each ray's depth: the band needs a depth, so the
    band is taken at the bounding sphere's centre depth (an upper estimate near the object),
    widened by 1.5 for the depth spread."""
    centre, radius = sdf.bounding_sphere()
    eye = scene.camera.eye.detach().double().cpu()
    z = float((torch.tensor(centre, dtype=torch.float64) - eye).norm()) + radius
    focal = float(scene.camera.projection_matrix()[0, 0].detach())
    band = torch.tensor(1.5 * (SOFTRAS_CUTOFF_FACTOR * float(scene.settings.sigma)) ** 0.5 * z / focal,
                        dtype=sdf.dtype, device=sdf.device)
    return trace(sdf, scene.camera, scene.settings.image_size, opts, band=band)


def shade_points(scene: Scene, sdf: SDF, x: torch.Tensor, eye: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(colour (K, 3), unit normal (K, 3)) at surface points x (K, 3), differentiable."""
    if len(x) == 0:
        return x.new_zeros(0, 3), x.new_zeros(0, 3)
    outer = torch.is_grad_enabled() and (x.requires_grad or _parameters_require_grad(sdf))
    with torch.enable_grad():
        xg = x if x.requires_grad else x.detach().requires_grad_(True)
        f, albedo = evaluate_with_albedo(sdf, xg, scene.material.albedo.to(x.device, x.dtype))
        (g,) = torch.autograd.grad(f.sum(), xg, create_graph=outer)
    if not outer:          # no graph to theta or the camera; lights and material keep theirs
        g, albedo, x = g.detach(), albedo.detach(), x.detach()
    normal = g / g.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    colour = shade(scene.settings.lighting, albedo.T, normal.T, x.T, eye, scene.lights, scene.material).T
    return colour, normal


def _parameters_require_grad(sdf: SDF) -> bool:
    if sdf.source == "primitives":
        return sdf.params.requires_grad
    if sdf.source == "grid":
        return sdf.grid.requires_grad
    return ((sdf.module_values is not None and sdf.module_values.requires_grad)
            or any(p.requires_grad for p in sdf.module.parameters()))


def render_sdf(scene: Scene) -> RenderOutput:
    """The ``sdf`` renderer: plain sphere tracing, implicit depth derivative (``render_sdf_traced``)."""
    return render_sdf_traced(scene, DEFAULT_OPTIONS)[0]


def render_sdf_dist(scene: Scene) -> RenderOutput:
    """The ``sdf_dist`` renderer: DIST's over-stepping, pyramid and threshold, DIST's depth derivative."""
    return render_sdf_traced(scene, DIST_OPTIONS)[0]


def render_sdf_silhouette(scene: Scene, opts: Optional[TraceOptions] = None) -> RenderOutput:
    """alpha (S, S) only (the silhouette losses' path): the search and the soft silhouette."""
    sdf = _sdf(scene)
    opts = options_for(scene, opts or DEFAULT_OPTIONS)
    rays, tr = _trace_with_band(scene, sdf, opts)
    alpha, _ = soft_alpha(sdf, rays, tr, float(scene.settings.sigma))
    size = scene.settings.image_size
    return RenderOutput(alpha=alpha.reshape(size, size))
