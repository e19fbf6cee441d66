"""The torch splat renderers: ``splat`` (3D Gaussians, gsplat semantics) and ``splat_disk``
(PyTorch3D-style screen disks, weights 1 - d^2/r^2), both on the sparse pairs of ``raster``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.autograd.forward_ad as fwAD

from ..fragments import RenderOutput
from ..scene import Scene
from .cloud import GaussianCloud
from .project import MAX_ALPHA, ProjectedSplats, project_splats
from .fused import fused_composite
from .raster import (Fragments, box_pairs, row_spans, composite, gaussian_fragments, gaussian_pairs,
                     images_from_sums, rank_in_pixel, sort_by_pixel, transmittance)

# A disk's radius in the splat's 2D standard deviations: o (1 - d^2/r^2) over a disk of r = 2 sigma
# has the same integral (o pi r^2 / 2 = 2 pi sigma^2 o) as the Gaussian it stands for.
DISK_RADIUS_SIGMAS = 2.0
POINTS_PER_PIXEL = 8        # PyTorch3D's default: the nearest 8 disks of a pixel are composited


def scene_cloud(scene: Scene) -> GaussianCloud:
    """The scene's cloud on ``settings.device``; a TypeError for a scene of another kind."""
    cloud = scene.shape
    if not isinstance(cloud, GaussianCloud):
        raise TypeError(f"this scene holds a {scene.kind}, not splats")
    device = torch.device(scene.settings.device)
    return cloud if cloud.means.device == device else cloud.to(device)


def background_of(scene: Scene, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(scene.settings.background, dtype=like.dtype, device=like.device)


@dataclass
class SplatRender:
    """A render with its intermediates: ``out`` (the RenderOutput), ``proj`` (every splat
    projected: mean2d etc. keep their graph, so dL/dmu_2D is an autograd.grad away) and
    ``frags`` (the kept fragments, sorted by pixel, front to back; None from the fused path)."""

    out: RenderOutput
    proj: ProjectedSplats
    frags: Optional[Fragments]


def _has_tangent(*tensors: torch.Tensor) -> bool:
    """Whether any tensor carries a forward-mode tangent (a derivative image is being taken)."""
    return any(fwAD.unpack_dual(t).tangent is not None for t in tensors)


def render_gaussians_full(scene: Scene, fused: Optional[bool] = None) -> SplatRender:
    """The Gaussian render with its projection and fragments. fused: composite with the
    hand-written backward (``fused``; default whenever no forward-mode tangent is present) or in
    plain autograd (which also returns the fragments' alpha, T and w)."""
    cloud = scene_cloud(scene)
    size = scene.settings.image_size
    proj = project_splats(cloud, scene.camera, size)
    if fused is None:
        fused = not _has_tangent(proj.mean2d, proj.conic, proj.opacity, proj.color, proj.depth)
    if fused:
        splat, pix, formed, alpha = gaussian_pairs(proj, size)
        sums = fused_composite(proj.mean2d, proj.conic, proj.opacity, proj.color, proj.depth, splat, pix, size, alpha)
        frags, kept = None, int(pix.numel())
    else:
        frags = gaussian_fragments(proj, size)
        sums, formed, kept = composite(frags, proj, size), frags.formed, int(frags.pix.numel())
    images = images_from_sums(sums, size, background_of(scene, proj.mean2d))
    out = RenderOutput(**images, num_pairs=torch.tensor(kept), tile_elements=torch.tensor(formed))
    return SplatRender(out, proj, frags)


def render_splat(scene: Scene) -> RenderOutput:
    """3D Gaussian splatting of ``scene.shape`` (a GaussianCloud), gsplat semantics:
    Sigma_2D = J W Sigma W^T J^T + 0.3 I; alpha = min(o exp(-d^T Sigma_2D^-1 d / 2), 0.99), pairs
    with alpha < 1/255 dropped; C = sum c_i alpha_i T_i + T bg front to back.
    Returns rgb (S, S, 3), alpha (S, S), depth (S, S) (expected depth, 0 on background),
    num_pairs and tile_elements (0-d int64: fragments kept and formed), with the autograd graph."""
    return render_gaussians_full(scene).out


def disk_radius(proj: ProjectedSplats) -> torch.Tensor:
    """(N,) disk radius in pixels: 2 sqrt(largest eigenvalue of the projected covariance)."""
    a, b, c = proj.cov2d[:, 0, 0], proj.cov2d[:, 0, 1], proj.cov2d[:, 1, 1]
    half_trace = 0.5 * (a + c)
    largest = half_trace + torch.sqrt((0.5 * (a - c)) ** 2 + b * b + 1e-12)
    return DISK_RADIUS_SIGMAS * torch.sqrt(largest.clamp_min(1e-12))


def disk_fragments(proj: ProjectedSplats, image_size: int) -> Fragments:
    """Disk fragments: alpha = min(o (1 - d^2/r^2), 0.99) where d < r, the nearest
    POINTS_PER_PIXEL of each pixel, front to back."""
    radius = disk_radius(proj)
    with torch.no_grad():
        box = torch.ceil(radius.detach())[:, None].expand(-1, 2).to(torch.int64)
    splat, pix = box_pairs(proj, image_size, radius=box)
    formed = int(splat.numel())
    alpha = _disk_alpha(proj, radius, splat, pix, image_size, grad=False)
    keep = alpha > 0
    splat, pix = sort_by_pixel(splat[keep], pix[keep])
    near = rank_in_pixel(pix) < POINTS_PER_PIXEL
    splat, pix = splat[near], pix[near]
    alpha = _disk_alpha(proj, radius, splat, pix, image_size, grad=True)
    trans = transmittance(alpha, pix)
    return Fragments(pix, splat, alpha, trans, alpha * trans, formed)


def _disk_alpha(proj, radius, splat, pix, size, grad: bool) -> torch.Tensor:
    with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
        col = (pix % size).to(proj.mean2d.dtype)
        row = torch.div(pix, size, rounding_mode="floor").to(proj.mean2d.dtype)
        mean = proj.mean2d[splat]
        d2 = (col - mean[:, 0]) ** 2 + (row - mean[:, 1]) ** 2
        weight = 1 - d2 / radius[splat] ** 2
        return torch.clamp(proj.opacity[splat] * weight, 0.0, MAX_ALPHA)


def render_splat_disk(scene: Scene) -> RenderOutput:
    """PyTorch3D-style points (SynSin weights): each splat is a screen disk of radius
    2 sqrt(lambda_max(Sigma_2D)) px with alpha = min(o (1 - d^2/r^2), 0.99), the nearest 8 per
    pixel alpha-composited front to back. Same buffers as ``render_splat``."""
    cloud = scene_cloud(scene)
    size = scene.settings.image_size
    proj = project_splats(cloud, scene.camera, size)
    frags = disk_fragments(proj, size)
    images = images_from_sums(composite(frags, proj, size), size, background_of(scene, proj.mean2d))
    return RenderOutput(**images, num_pairs=torch.tensor(int(frags.pix.numel())),
                        tile_elements=torch.tensor(frags.formed))


def estimated_pairs(scene: Scene) -> int:
    """About how many (pixel, splat) pairs a Gaussian render forms, in a few milliseconds for
    100k splats (the registry's cost, asked on the GUI thread before every render): each splat
    in front of the camera as an ellipse whose axes are its two largest scales seen at its depth
    (s f / z, plus the 0.3 px^2 dilation), cut where o exp(-k^2/2) < 1/255 as the renderer cuts,
    clipped to the image. ``planned_pairs`` counts them exactly (slower: row by row)."""
    from .project import ALPHA_CUTOFF, EPS2D, FOOTPRINT_SIGMAS

    cloud = scene.shape
    size = scene.settings.image_size
    with torch.no_grad():
        view = scene.camera.detached().view_matrix().to(cloud.means.dtype)
        z = -(cloud.means @ view[:3, :3].T + view[:3, 3])[:, 2]
        focal = float(scene.camera.detached().projection_matrix()[1, 1]) * size / 2
        front = z > float(scene.camera.near)
        two = cloud.scales.topk(2, dim=1).values * focal / z.clamp_min(1e-6)[:, None]
        variance = two * two + EPS2D                                    # (N, 2) px^2
        k2 = (2 * torch.log((cloud.opacities / ALPHA_CUTOFF).clamp_min(1.0))).clamp(max=FOOTPRINT_SIGMAS ** 2)
        area = torch.pi * k2 * variance.prod(dim=1).sqrt()
        return int(area.clamp(max=size * size)[front].sum())


def planned_pairs(scene: Scene) -> int:
    """The (pixel, splat) pairs a Gaussian render forms (its ellipses' row spans), before the work."""
    cloud = scene_cloud(scene).detached()
    size = scene.settings.image_size
    with torch.no_grad():
        proj = project_splats(cloud, scene.camera.detached(), size)
        return int(row_spans(proj, size, ellipse=True)[-1].sum())
