"""Debugging splats: what one pixel is made of, which splats can never receive a gradient, their
footprints on the screen, and their gradients (per splat, and on the screen as dL/dmu_2D).

Library functions, tensors and numpy in, small dataclasses out; the GUI and the CLI call them
(``hooks`` adapts them to the analysis package's pixel inspector and element painter).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch

from ..scene import Scene
from .cloud import SH_C0
from .project import (ALPHA_CUTOFF, EPS2D, FOOTPRINT_SIGMAS, MAX_ALPHA, ProjectedSplats,
                      project_splats)
from .raster import box_pairs, gaussian_alpha
from .render import render_gaussians_full, scene_cloud


# ----------------------------------------------------------------------------- one pixel
@dataclass
class Fragment:
    """One splat at one pixel: its index, alpha (after the 0.99 cap), T before it, weight
    w = alpha T, view depth, colour, and the Mahalanobis distance of the pixel centre."""

    splat: int
    alpha: float
    transmittance: float
    weight: float
    depth: float
    color: tuple[float, float, float]
    mahalanobis: float


@dataclass
class SplatPixelReport:
    """row, col: the pixel; rgb: its colour; alpha: sum of weights; background_weight: T after
    the last fragment; contributing: the fragments composited, front to back; dropped: splats
    whose 3.33-sigma box covers the pixel but whose alpha there is below 1/255 (no forward
    contribution, no gradient); lines: the report in words."""

    row: int
    col: int
    rgb: tuple[float, float, float]
    alpha: float
    background_weight: float
    contributing: list[Fragment]
    dropped: list[Fragment]
    lines: list[str] = field(default_factory=list)


def _pixel_alpha(proj: ProjectedSplats, front: torch.Tensor, row: int, col: int
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """alpha at pixel (row, col) of every splat, its Mahalanobis distance, and whether the
    pixel is inside the splat's full 3.33-sigma box ((N,) each)."""
    d = torch.tensor([col, row], dtype=proj.mean2d.dtype, device=proj.mean2d.device) - proj.mean2d
    q = proj.conic
    sigma = 0.5 * (q[:, 0] * d[:, 0] ** 2 + q[:, 2] * d[:, 1] ** 2) + q[:, 1] * d[:, 0] * d[:, 1]
    alpha = torch.clamp_max(proj.opacity * torch.exp(-sigma), MAX_ALPHA)
    half = FOOTPRINT_SIGMAS * torch.stack([proj.cov2d[:, 0, 0], proj.cov2d[:, 1, 1]], 1).clamp_min(0).sqrt()
    inside = (d.abs() <= torch.ceil(half)).all(1) & front
    return alpha, torch.sqrt((2 * sigma).clamp_min(0)), inside


def inspect_splat_pixel(scene: Scene, row: int, col: int) -> SplatPixelReport:
    """Each splat composited into pixel (row, col) (row 0 at the top) with its alpha, T and weight,
    front to back, and the fragments the 1/255 cut-off dropped there."""
    s = scene.settings.image_size
    if not (0 <= row < s and 0 <= col < s):
        raise ValueError(f"pixel (row {row}, col {col}) is outside the {s}x{s} image")
    with torch.no_grad():
        cloud = scene_cloud(scene).detached()
        proj = project_splats(cloud, scene.camera.detached(), s)
        alpha, dist, inside = _pixel_alpha(proj, in_front(proj, scene), row, col)
        order = torch.nonzero(inside).squeeze(1)
        order = order[torch.sort(proj.depth[order], stable=True).indices]
    kept, dropped, t = [], [], 1.0
    rgb = np.zeros(3)
    for i in order.tolist():
        a = float(alpha[i])
        frag = Fragment(i, a, t, a * t if a >= ALPHA_CUTOFF else 0.0, float(proj.depth[i]),
                        tuple(float(v) for v in proj.color[i]), float(dist[i]))
        if a < ALPHA_CUTOFF:
            dropped.append(frag)
            continue
        kept.append(frag)
        rgb += frag.weight * np.asarray(frag.color)
        t *= 1 - a
    bg = np.asarray(scene.settings.background, dtype=np.float64)
    rgb = rgb + t * bg
    report = SplatPixelReport(row, col, tuple(float(v) for v in rgb), 1 - t, t, kept, dropped)
    report.lines = _pixel_lines(report)
    return report


def _pixel_lines(r: SplatPixelReport) -> list[str]:
    lines = [f"pixel (row {r.row}, col {r.col}): rgb {r.rgb[0]:.4f} {r.rgb[1]:.4f} {r.rgb[2]:.4f}, "
             f"alpha {r.alpha:.4f}, background weight T = {r.background_weight:.4f}",
             f"{len(r.contributing)} splat(s) composited front to back"]
    if r.dropped:
        lines.append(f"{len(r.dropped)} fragment(s) inside a 3.33-sigma box dropped: alpha below 1/255 "
                     "(no colour here, and no gradient from this pixel)")
    return lines


def in_front(proj: ProjectedSplats, scene: Scene) -> torch.Tensor:
    """(N,) bool: between the near and far planes with a finite projection (whatever the box)."""
    cam = scene.camera
    return (proj.depth > float(cam.near)) & (proj.depth < float(cam.far)) & torch.isfinite(proj.mean2d).all(1)


# ----------------------------------------------------------------------------- dead splats
@dataclass
class DeadSplatReport:
    """dead: (D,) int64 splats in view whose every fragment is below 1/255 (they are dropped in
    the forward and the backward pass: their gradient is exactly zero); faint: of those, the ones
    whose opacity alone is below 1/255; tiny: the others (their footprint falls between pixel
    centres or is too faint at every centre); peak_alpha: (N,) the largest alpha of each splat
    over the pixel centres of its 3.33-sigma box (0 out of view); out_of_view: splats behind the
    camera or with no pixel centre in their box; in_view: splats with one; sentence: the finding."""

    dead: torch.Tensor
    faint: torch.Tensor
    tiny: torch.Tensor
    peak_alpha: torch.Tensor
    out_of_view: int
    in_view: int
    sentence: str


def peak_alpha(proj: ProjectedSplats, front: torch.Tensor, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) the largest alpha each splat reaches at a pixel centre of its full 3.33-sigma box,
    and (N,) bool whether that box holds a pixel centre of the image at all."""
    half = FOOTPRINT_SIGMAS * torch.stack([proj.cov2d[:, 0, 0], proj.cov2d[:, 1, 1]], 1).clamp_min(0).sqrt()
    radius = torch.where(front[:, None], torch.ceil(half), torch.zeros_like(half))
    radius = torch.nan_to_num(radius, nan=0.0, posinf=0.0).to(torch.int64)
    full = ProjectedSplats(proj.mean2d, proj.cov2d, proj.conic, proj.depth, radius,
                           front & (radius > 0).all(1), proj.opacity, proj.color)
    splat, pix = box_pairs(full, image_size)
    peak = torch.zeros(proj.num_splats, dtype=proj.opacity.dtype, device=proj.opacity.device)
    if splat.numel():
        peak = peak.scatter_reduce(0, splat, gaussian_alpha(full, splat, pix, image_size), reduce="amax")
    hit = torch.zeros(proj.num_splats, dtype=torch.bool, device=peak.device)
    hit[splat] = True
    return peak, hit


def dead_splats(scene: Scene) -> DeadSplatReport:
    """The splats that cannot show and cannot learn at this camera (see ``DeadSplatReport``)."""
    s = scene.settings.image_size
    with torch.no_grad():
        cloud = scene_cloud(scene).detached()
        proj = project_splats(cloud, scene.camera.detached(), s)
        peak, hit = peak_alpha(proj, in_front(proj, scene), s)
    dead_mask = hit & (peak < ALPHA_CUTOFF)
    faint_mask = dead_mask & (cloud.opacities < ALPHA_CUTOFF)
    tiny_mask = dead_mask & ~faint_mask
    n_dead, n_view = int(dead_mask.sum()), int(hit.sum())
    if n_dead:
        parts = []
        if int(faint_mask.sum()):
            parts.append(f"{int(faint_mask.sum())} have opacity below 1/255")
        if int(tiny_mask.sum()):
            parts.append(f"{int(tiny_mask.sum())} are too small or faint at every pixel centre "
                         "(the 0.3 px^2 dilation spreads a point-like splat and lowers its peak)")
        sentence = (f"{n_dead} of {n_view} splats in view are dead: every fragment they would draw has alpha "
                    f"below 1/255, so the renderer drops them in the forward and the backward pass and "
                    f"their gradient is exactly zero. Of them, {' and '.join(parts)}.")
    else:
        sentence = f"No dead splats: each of the {n_view} splats in view has a fragment with alpha >= 1/255."
    idx = lambda m: torch.nonzero(m).squeeze(1).cpu()  # noqa: E731
    return DeadSplatReport(idx(dead_mask), idx(faint_mask), idx(tiny_mask), peak.cpu(),
                           cloud.num_splats - n_view, n_view, sentence)


# ----------------------------------------------------------------------------- footprints
@dataclass
class Footprint:
    """A splat's footprint in pixel coordinates (column, row; centres at whole numbers, add 0.5
    for pixel-corner overlay coordinates): center (2,), axes (2,) the 1-sigma semi-axes (px),
    angle: of the first axis from +column, radians (rows grow downwards); box: the footprint box
    half-widths (px) the renderer uses; outlines: {k: (P, 2) polygon of the k-sigma ellipse};
    opacity, and the antialiasing compensation sqrt(det Sigma / det(Sigma + 0.3 I)) a
    Mip-Splatting ("antialiased") renderer would multiply it by (gsplat#840)."""

    splat: int
    center: np.ndarray
    axes: np.ndarray
    angle: float
    box: np.ndarray
    outlines: dict
    opacity: float
    compensation: float


def footprint_ellipses(scene: Scene, splats: Sequence[int], sigmas: Sequence[float] = (1.0, 3.0),
                       points: int = 64) -> list[Footprint]:
    """The screen footprints of ``splats`` (indices) at this camera (see ``Footprint``)."""
    s = scene.settings.image_size
    with torch.no_grad():
        cloud = scene_cloud(scene).detached()
        proj = project_splats(cloud, scene.camera.detached(), s)
    out = []
    theta = np.linspace(0, 2 * np.pi, points, endpoint=False)
    for i in splats:
        if not 0 <= int(i) < cloud.num_splats:
            raise ValueError(f"splat {i} does not exist: the cloud has {cloud.num_splats} splats")
        cov = proj.cov2d[int(i)].double().cpu().numpy()
        vals, vecs = np.linalg.eigh(cov)
        vals, vecs = vals[::-1], vecs[:, ::-1]
        axes = np.sqrt(np.maximum(vals, 0))
        center = proj.mean2d[int(i)].double().cpu().numpy()
        unit = np.stack([np.cos(theta), np.sin(theta)], 1)
        outlines = {float(k): center + k * (unit * axes) @ vecs.T for k in sigmas}
        raw = cov - EPS2D * np.eye(2)
        comp = math.sqrt(max(np.linalg.det(raw), 0.0) / max(np.linalg.det(cov), 1e-30))
        out.append(Footprint(int(i), center, axes, float(math.atan2(vecs[1, 0], vecs[0, 0])),
                             proj.radius[int(i)].cpu().numpy().astype(np.float64), outlines,
                             float(cloud.opacities[int(i)]), comp))
    return out


# ----------------------------------------------------------------------------- gradients
@dataclass
class SplatGradients:
    """loss: the value; params: {name: (N, ...)} dL/d(means, scales, quats, opacities, sh);
    magnitude: (N,) |dL/dmu| (world units; 0 exactly for dead splats); mean2d: (N, 2) the
    projected centres (col, row, centres at whole numbers); d_mean2d: (N, 2) dL/dmu_2D (px)."""

    loss: float
    params: dict
    magnitude: torch.Tensor
    mean2d: torch.Tensor
    d_mean2d: torch.Tensor


def splat_gradients(scene: Scene, dl_drgb: Optional[torch.Tensor] = None, target_rgb: Optional[torch.Tensor] = None,
                    dl_dalpha: Optional[torch.Tensor] = None) -> SplatGradients:
    """Per-splat gradients of a loss on the ``splat`` render: either a given image gradient
    (``dl_drgb`` (S, S, 3) and/or ``dl_dalpha`` (S, S): L = <dl_drgb, rgb> + <dl_dalpha, alpha>)
    or the L2 loss mean (rgb - target_rgb)^2 against ``target_rgb`` (S, S, 3)."""
    cloud = scene_cloud(scene).detached()
    leaves = {k: getattr(cloud, k).clone().requires_grad_(True) for k in ("means", "scales", "quats", "opacities", "sh")}
    full = render_gaussians_full(scene.replace(shape=cloud.with_params(**leaves)))
    out, mean2d = full.out, full.proj.mean2d
    if target_rgb is not None:
        loss = ((out.rgb - target_rgb.to(out.rgb)) ** 2).mean()
    else:
        loss = out.rgb.sum() * 0
        if dl_drgb is not None:
            loss = loss + (out.rgb * dl_drgb.to(out.rgb)).sum()
        if dl_dalpha is not None:
            loss = loss + (out.alpha * dl_dalpha.to(out.alpha)).sum()
    grads = torch.autograd.grad(loss, [*leaves.values(), mean2d], allow_unused=True)
    params = {k: (g if g is not None else torch.zeros_like(leaves[k])).detach() for k, g in zip(leaves, grads)}
    d2 = grads[-1] if grads[-1] is not None else torch.zeros_like(mean2d)
    return SplatGradients(float(loss.detach()), params, params["means"].norm(dim=1), mean2d.detach(), d2.detach())


def paint_splats(scene: Scene, values: torch.Tensor) -> np.ndarray:
    """An (S, S) image of per-splat ``values`` (N,) >= 0 painted with the splats' own footprints
    and weights: sum_i w_i v_i / sum_i w_i where covered, NaN on background (for colour maps).
    (The values ride in the red colour channel of a render: C0 sh0 + 0.5 = v.)"""
    cloud = scene_cloud(scene).detached()
    k = cloud.sh.shape[1]
    sh = torch.zeros(cloud.num_splats, k, 3, dtype=cloud.dtype, device=cloud.means.device)
    sh[:, 0, 0] = (values.to(cloud.means) - 0.5) / SH_C0
    with torch.no_grad():
        full = render_gaussians_full(scene.replace(shape=cloud.with_params(sh=sh)).with_settings(background=(0.0, 0.0, 0.0)))
    alpha = full.out.alpha.cpu().numpy()
    red = full.out.rgb[..., 0].cpu().numpy()
    return np.where(alpha > 1e-3, red / np.maximum(alpha, 1e-12), np.nan).astype(np.float32)
