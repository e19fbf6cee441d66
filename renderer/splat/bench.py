"""The bench's splat scene: the bundled Spot splats (assets/spot_splats.ply, 5000 splats fitted to
20 views of Spot, scripts/fit_splats.py), or, where the asset is missing, 5000 splats sampled on
the bundled knot; and ``synthetic_cloud`` for the scaling benchmark (scripts/bench_splat.py)."""
from __future__ import annotations

from pathlib import Path

import torch

from ..camera import OrbitCamera
from ..scene import RenderSettings, Scene
from .cloud import GaussianCloud, make_cloud

SPOT_SPLATS = Path(__file__).resolve().parent.parent.parent / "assets" / "spot_splats.ply"


def bundled_cloud() -> GaussianCloud:
    """The bundled splat asset (or knot surface samples when it is absent)."""
    if SPOT_SPLATS.is_file():
        from .ply import load_splat_ply

        return load_splat_ply(SPOT_SPLATS)
    from ..assets import load_asset
    from .fit import surface_cloud

    return surface_cloud(load_asset("knot"), 5000)


def bench_scene(size: int) -> Scene:
    """The bench's splat case at ``size`` px: the bundled cloud seen from azimuth 30, elevation
    20, distance 2.7 (the differentiated group: every splat parameter)."""
    return Scene(shape=bundled_cloud(), camera=OrbitCamera(azimuth=30.0, elevation=20.0, distance=2.7),
                 settings=RenderSettings(image_size=size, renderer="splat"))


def synthetic_cloud(count: int, seed: int = 0, footprint_px: float = 2.0, size: int = 512,
                    distance: float = 2.7, fov: float = 60.0) -> GaussianCloud:
    """``count`` anisotropic splats in a ball of radius 0.8 with random colours and opacities in
    (0.1, 0.9), sized so that a splat at the centre's depth has a 1-sigma radius of about
    ``footprint_px`` pixels at ``size`` px (3DGS scenes: mostly 1-3 px at their resolution)."""
    gen = torch.Generator().manual_seed(seed)
    direction = torch.randn(count, 3, generator=gen)
    means = direction / direction.norm(dim=1, keepdim=True) * 0.8 * torch.rand(count, 1, generator=gen) ** (1 / 3)
    focal = size / (2 * torch.tan(torch.deg2rad(torch.tensor(fov)) / 2))
    sigma_world = footprint_px * distance / focal
    scales = sigma_world * (0.5 + torch.rand(count, 3, generator=gen))
    quats = torch.randn(count, 4, generator=gen)
    return make_cloud(means, scales, torch.rand(count, 3, generator=gen),
                      opacities=0.1 + 0.8 * torch.rand(count, generator=gen), quats=quats, name=f"synthetic{count}")


def dead_splat_scene(size: int = 256, fraction: float = 0.1, seed: int = 0) -> Scene:
    """The bundled cloud with splats made to die, for the dead-splat diagnostic (GUI tour, tests):
    ``fraction`` of them faded to opacity 0.003 (< 1/255 everywhere), as many shrunk to a point
    (scale 1e-5) with opacity 0.0045, whose peak after the 0.3 px^2 dilation falls below 1/255
    unless a pixel centre is within 0.29 px of it."""
    cloud = bundled_cloud()
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randperm(cloud.num_splats, generator=gen)[:2 * int(fraction * cloud.num_splats)]
    faded, shrunk = pick[: len(pick) // 2], pick[len(pick) // 2:]
    opac, scales = cloud.opacities.clone(), cloud.scales.clone()
    opac[faded] = 0.003
    opac[shrunk], scales[shrunk] = 0.0045, 1e-5
    return Scene(shape=cloud.with_params(opacities=opac, scales=scales),
                 camera=OrbitCamera(azimuth=30.0, elevation=20.0, distance=2.7),
                 settings=RenderSettings(image_size=size, renderer="splat"))
