"""Fitting splats to images: the initial cloud (points sampled on a mesh's surface, or random in a
cube as gsplat's image-fitting example), the unconstrained parametrisation the optimiser steps
(log scales, opacity logits, raw quaternions, SH), photometric losses (L1, L2, SSIM), PSNR, and a
plain fitting loop (``fit_cloud``) used by scripts/fit_splats.py; the optimize runner's task
(``renderer.splat.task``) uses the same pieces.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch

from ..analysis.losses import ssim
from ..camera import OrbitCamera
from ..mesh import Mesh
from ..scene import Scene
from .cloud import GaussianCloud, make_cloud, sh_coefficient_count
from .ply import point_cloud_scales
from .render import render_splat

# 3DGS's per-group learning rates (train.py defaults), as multiples of one base rate: the
# position rate 1.6e-4 is for scenes of extent ~1 (ours: radius 1); a run's lr scales them all.
LR_3DGS = {"means": 1.6e-4, "log_scales": 5e-3, "quats": 1e-3, "logit_opacities": 5e-2, "sh": 2.5e-3}


@dataclass
class SplatParams:
    """The optimised leaf tensors: means (N, 3), log_scales (N, 3), quats (N, 4) wxyz (raw),
    logit_opacities (N,), sh (N, K, 3)."""

    means: torch.Tensor
    log_scales: torch.Tensor
    quats: torch.Tensor
    logit_opacities: torch.Tensor
    sh: torch.Tensor
    name: str = "fit"

    @staticmethod
    def from_cloud(cloud: GaussianCloud) -> "SplatParams":
        o = cloud.opacities.detach().clamp(1e-6, 1 - 1e-6)
        leaf = lambda t: t.detach().clone().requires_grad_(True)  # noqa: E731
        return SplatParams(leaf(cloud.means), leaf(cloud.scales.detach().abs().clamp_min(1e-8).log()),
                           leaf(cloud.quats), leaf(torch.log(o / (1 - o))), leaf(cloud.sh), cloud.name)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {k: getattr(self, k) for k in LR_3DGS}

    def cloud(self) -> GaussianCloud:
        """The cloud these parameters describe (differentiable in them)."""
        return GaussianCloud(means=self.means, scales=self.log_scales.exp(), quats=self.quats,
                             opacities=torch.sigmoid(self.logit_opacities), sh=self.sh, name=self.name)


def sample_surface(mesh: Mesh, count: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``count`` points on the mesh surface, area-weighted: (points (n, 3), normals (n, 3),
    colours (n, 3)) float32; colours from the texture (nearest texel), the vertex colours, or 0.7."""
    gen = torch.Generator().manual_seed(seed)
    verts, faces = mesh.verts.detach().float(), mesh.faces
    v0, v1, v2 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    cross = torch.cross(v1 - v0, v2 - v0, dim=1)
    area = cross.norm(dim=1)
    face = torch.multinomial(area / area.sum(), count, replacement=True, generator=gen)
    u, v = torch.rand(count, generator=gen), torch.rand(count, generator=gen)
    flip = u + v > 1
    u, v = torch.where(flip, 1 - u, u), torch.where(flip, 1 - v, v)
    bary = torch.stack([1 - u - v, u, v], dim=1)
    corners = faces[face]
    points = (bary[:, :, None] * verts[corners]).sum(1)
    normals = cross[face] / area[face, None].clamp_min(1e-12)
    if mesh.uvs is not None and mesh.texture is not None:
        uv = (bary[:, :, None] * mesh.uvs.float()[corners]).sum(1) % 1.0
        tex = mesh.texture.float()
        h, w = tex.shape[:2]
        col = (uv[:, 0] * w).long().clamp(0, w - 1)
        row = ((1 - uv[:, 1]) * h).long().clamp(0, h - 1)      # texture row 0 is the top
        colors = tex[row, col, :3]
    elif mesh.colors is not None:
        colors = (bary[:, :, None] * mesh.colors.float()[corners]).sum(1)
    else:
        colors = torch.full((count, 3), 0.7)
    return points, normals, colors


def surface_cloud(mesh: Mesh, count: int, opacity: float = 0.8, seed: int = 0,
                  sh_degree: int = 0) -> GaussianCloud:
    """Isotropic splats at points sampled on ``mesh`` with its colours; sigma by the 3DGS rule
    (``ply.point_cloud_scales``: RMS distance to the 3 nearest points)."""
    points, _, colors = sample_surface(mesh, count, seed)
    sigma = torch.from_numpy(point_cloud_scales(points.numpy())).float()
    return make_cloud(points, sigma, colors, opacities=opacity, sh_degree=sh_degree, name=f"{mesh.name}_splats")


def random_cloud(count: int, seed: int = 0, extent: float = 1.0, sh_degree: int = 0) -> GaussianCloud:
    """After gsplat's image-fitting start: means uniform in [-extent, extent]^3, random unit
    quaternions, opacity sigmoid(1) = 0.73 (its raw opacities are 1), random colours; its raw
    scales U(0, 1) are taken here as U(0, 1) x 0.05 extent (+ 1e-3) standard deviations, so that
    2000 splats in a unit-radius scene start at a few pixels each, not covering the image."""
    gen = torch.Generator().manual_seed(seed)
    means = (torch.rand(count, 3, generator=gen) * 2 - 1) * extent
    scales = torch.rand(count, 3, generator=gen) * 0.05 * extent + 1e-3
    quats = torch.randn(count, 4, generator=gen)
    quats = quats / quats.norm(dim=1, keepdim=True)
    colors = torch.rand(count, 3, generator=gen)
    return make_cloud(means, scales, colors, opacities=1 / (1 + math.exp(-1.0)), quats=quats,
                      sh_degree=sh_degree, name="random")


def with_sh_degree(cloud: GaussianCloud, degree: int) -> GaussianCloud:
    """The cloud with ``degree`` SH bands (new bands start at 0; extra bands are dropped)."""
    k = sh_coefficient_count(degree)
    sh = torch.zeros(cloud.num_splats, k, 3, dtype=cloud.sh.dtype)
    keep = min(k, cloud.sh.shape[1])
    sh[:, :keep] = cloud.sh[:, :keep].detach()
    return cloud.with_params(sh=sh)


# ----------------------------------------------------------------------------- losses
def photometric_loss(image: torch.Tensor, target: torch.Tensor, ssim_weight: float = 0.2,
                     kind: str = "l1") -> torch.Tensor:
    """(1 - w) L1 (or L2) + w (1 - SSIM), 3DGS's loss with w = 0.2; w = 0: plain L1/L2."""
    diff = image - target.to(image.dtype)
    base = diff.abs().mean() if kind == "l1" else (diff * diff).mean()
    if ssim_weight <= 0:
        return base
    return (1 - ssim_weight) * base + ssim_weight * (1 - ssim(image, target))


def psnr(image: torch.Tensor, target: torch.Tensor) -> float:
    """10 log10(1 / MSE) over every pixel and channel, images clamped to [0, 1]."""
    mse = float(((image.detach().clamp(0, 1) - target.to(image.dtype).clamp(0, 1)) ** 2).mean())
    return 10 * math.log10(1.0 / max(mse, 1e-12))


# ----------------------------------------------------------------------------- targets and the loop
@dataclass
class ImageView:
    """A camera and the rgb (S, S, 3) image seen from it."""

    camera: OrbitCamera
    rgb: torch.Tensor


def mesh_targets(scene: Scene, cameras: Sequence[OrbitCamera], supersample: int = 4) -> list[ImageView]:
    """The mesh of ``scene`` drawn by the GL reference from each camera (anti-aliased)."""
    from ..gl import render_gl

    views = []
    for cam in cameras:
        out = render_gl(scene.replace(camera=cam).with_settings(renderer="gl", supersample=supersample))
        views.append(ImageView(cam.detached(), torch.from_numpy(out["rgb"]).float()))
    return views


def cloud_targets(scene: Scene, cameras: Sequence[OrbitCamera]) -> list[ImageView]:
    """The splats of ``scene`` drawn by the torch renderer from each camera (fit one cloud to
    another's renders)."""
    views = []
    with torch.no_grad():
        for cam in cameras:
            views.append(ImageView(cam.detached(), render_splat(scene.replace(camera=cam)).rgb.float()))
    return views


@dataclass
class FitResult:
    """cloud: the fitted cloud (detached); history: per recorded step (step, loss, seconds);
    seconds: CPU wall time of the loop; steps: steps taken."""

    cloud: GaussianCloud
    history: list = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0


def fit_cloud(start: GaussianCloud, views: Sequence[ImageView], base: Scene, steps: int = 2000,
              lr_scale: float = 1.0, ssim_weight: float = 0.2, loss: str = "l1", seed: int = 0,
              lrs: Optional[dict] = None, log_every: int = 100,
              on_log: Optional[Callable[[int, float, float], None]] = None) -> FitResult:
    """Adam on ``SplatParams`` (3DGS's per-group rates x ``lr_scale``), one random view per step,
    loss ``photometric_loss``. base: the scene whose settings (size, background) are used."""
    params = SplatParams.from_cloud(start)
    rates = dict(LR_3DGS if lrs is None else lrs)
    opt = torch.optim.Adam([{"params": [t], "lr": rates[k] * lr_scale} for k, t in params.tensors().items()],
                           eps=1e-15)
    gen = torch.Generator().manual_seed(seed)
    history, t0 = [], time.perf_counter()
    for step in range(steps):
        view = views[int(torch.randint(len(views), (1,), generator=gen))]
        scene = base.replace(shape=params.cloud(), camera=view.camera)
        image = render_splat(scene).rgb
        value = photometric_loss(image, view.rgb, ssim_weight, loss)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            elapsed = time.perf_counter() - t0
            history.append((step, float(value.detach()), elapsed))
            if on_log is not None:
                on_log(step, float(value.detach()), elapsed)
    cloud = params.cloud()
    cloud = GaussianCloud(**{k: getattr(cloud, k).detach() for k in ("means", "scales", "quats", "opacities", "sh")},
                          name=start.name)
    return FitResult(cloud, history, time.perf_counter() - t0, steps)


def evaluate(cloud: GaussianCloud, views: Sequence[ImageView], base: Scene) -> list[float]:
    """PSNR of the cloud's render against each view."""
    out = []
    with torch.no_grad():
        for v in views:
            out.append(psnr(render_splat(base.replace(shape=cloud, camera=v.camera)).rgb, v.rgb))
    return out


def held_out_cameras(count: int = 5, distance: float = 2.7, fov: float = 60.0) -> list[OrbitCamera]:
    """Views between the training ones: azimuths offset by half a step, elevations 10..35 deg."""
    return [OrbitCamera(azimuth=float(360.0 * (k + 0.5) / count + 7.0), elevation=float(10 + 25 * k / max(count - 1, 1)),
                        distance=distance, fov=fov) for k in range(count)]


def training_cameras(count: int = 20, distance: float = 2.7, fov: float = 60.0) -> list[OrbitCamera]:
    """``count`` views spread over the sphere (a Fibonacci spiral of elevations -40..70 deg)."""
    golden = math.pi * (3 - math.sqrt(5))
    cams = []
    for k in range(count):
        el = -40 + 110 * (k + 0.5) / count
        az = math.degrees(k * golden) % 360
        cams.append(OrbitCamera(azimuth=az, elevation=el, distance=distance, fov=fov))
    return cams


__all__ = ["SplatParams", "surface_cloud", "random_cloud", "fit_cloud", "evaluate", "psnr", "ssim",
           "photometric_loss", "mesh_targets", "cloud_targets", "training_cameras", "held_out_cameras"]
