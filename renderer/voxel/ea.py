"""The emission-absorption raymarcher over a voxel grid, with PyTorch3D's semantics
(``EmissionAbsorptionRaymarcher(surface_thickness=1)``, ``renderer/implicit/raymarching.py``):

    absorption_k = prod_{j<k} (1 + eps - d_j)   (eps = 1e-10, a cumprod shifted by one)
    weights_k = d_k absorption_k,   features = sum_k weights_k f_k,   opacity = 1 - prod_k (1 - d_k)

With the densities d_k = the occupancies of the crossed cells in order, the weights are DRC's
q_k (up to eps) and the opacity is 1 - escape. ``render_drc_ea`` samples the grid the PyTorch3D
way instead: uniform points along each ray (one per smallest cell edge), densities and colours
by trilinear interpolation (``grid_sample``, zero outside the box), features unshaded.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..fragments import RenderOutput
from ..scene import Scene
from .drc import scene_grid
from .traversal import grid_segments

EA_EPS = 1e-10
SHIFT = 1


def emission_absorption(densities: torch.Tensor, features: torch.Tensor | None = None,
                        eps: float = EA_EPS) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """densities: (R, K) in [0, 1] front to back; features: optional (R, K, C) ->
    (weights (R, K), features (R, C) or None, opacity (R,))."""
    transmit = (1.0 + eps) - densities
    absorption = torch.cumprod(transmit, dim=1)
    absorption = torch.cat([torch.ones_like(absorption[:, :SHIFT]), absorption[:, :-SHIFT]], dim=1)
    weights = densities * absorption
    out = None if features is None else (weights[..., None] * features).sum(dim=1)
    opacity = 1.0 - torch.prod(1.0 - densities, dim=1)
    return weights, out, opacity


def render_drc_ea(scene: Scene) -> RenderOutput:
    """rgb (S, S, 3) = sum_k w_k c_k + (1 - opacity) background, alpha = opacity, depth = sum_k w_k
    t_k / opacity (view depth, 0 where opacity = 0), for uniform samples along each ray through
    the trilinearly interpolated grid (no lighting: colours are emitted as they are)."""
    grid = scene_grid(scene)
    s = scene.settings.image_size
    segs = grid_segments(grid, scene.camera, s)   # the box-hitting rays and their chords
    occ = grid.occupancy
    dtype, device = occ.dtype, occ.device
    bg = torch.tensor(scene.settings.background, dtype=dtype, device=device)
    n = len(segs.ray)
    if n == 0:
        zeros = torch.zeros(s, s, dtype=dtype, device=device)
        return RenderOutput(rgb=bg.expand(s, s, 3).clone(), alpha=zeros, depth=zeros.clone())
    counts = (segs.slot < segs.num_segments).sum(1)
    first = torch.cumsum(counts, 0) - counts
    last = first + counts - 1
    t_near, t_far = segs.t_in[first], segs.t_out[last]               # (R,) float64
    norms = segs.ray_dir.norm(dim=1)
    step = float(grid.cell_size.min()) / norms                         # t per smallest edge
    k = int(torch.ceil(((t_far - t_near) / step).max()).item())
    lanes = torch.arange(k, dtype=torch.float64)
    t = t_near[:, None] + (lanes[None, :] + 0.5) * step[:, None]      # (R, K)
    inside = t < t_far[:, None]
    points = segs.eye + t[..., None] * segs.ray_dir[:, None, :]        # (R, K, 3)
    coords = 2 * (points - grid.lo) / (grid.hi - grid.lo) - 1          # [-1, 1] over the box
    # grid_sample's last coordinate indexes the input's first spatial axis: (z, y, x) order
    sample_at = coords.flip(-1).to(device, dtype)[None, :, :, None, :]  # (1, R, K, 1, 3)
    volume = occ[None, None]                                            # (1, 1, Dx, Dy, Dz)
    dens = F.grid_sample(volume, sample_at, mode="bilinear", padding_mode="zeros",
                         align_corners=False)[0, 0, :, :, 0]           # (R, K)
    dens = torch.where(inside.to(device), dens, torch.zeros_like(dens))
    if grid.colors is not None:
        cols = F.grid_sample(grid.colors.permute(3, 0, 1, 2)[None].to(dtype), sample_at, mode="bilinear",
                             padding_mode="border", align_corners=False)[0, :, :, :, 0].permute(1, 2, 0)
    else:
        cols = scene.material.albedo.to(device, dtype).expand(n, k, 3)
    weights, rgb_ray, opacity = emission_absorption(dens, cols)
    depth_ray = (weights * t.to(device, dtype)).sum(1)
    hit = segs.ray.to(device)
    alpha = torch.zeros(s * s, dtype=dtype, device=device).index_copy(0, hit, opacity).reshape(s, s)
    rgb = torch.zeros(s * s, 3, dtype=dtype, device=device).index_copy(0, hit, rgb_ray).reshape(s, s, 3)
    rgb = rgb + (1 - alpha)[..., None] * bg
    depth = torch.zeros(s * s, dtype=dtype, device=device).index_copy(0, hit, depth_ray).reshape(s, s)
    covered = alpha > 0
    depth = torch.where(covered, depth / torch.where(covered, alpha, torch.ones_like(alpha)), torch.zeros_like(depth))
    return RenderOutput(rgb=rgb, alpha=alpha, depth=depth,
                        num_pairs=torch.tensor(int(inside.sum()), dtype=torch.int64))
