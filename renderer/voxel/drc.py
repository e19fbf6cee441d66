"""DRC (Tulsiani et al. 2017) ray termination over a voxel grid, its images and its losses.

With x_i the occupancy of the i-th cell a ray crosses (p_i = 1 - x_i: DRC's "empty"
probability) and P_i = prod_{j<=i} p_j:
    q_i = x_i prod_{j<i} (1 - x_j)      the ray stops in cell i,
    escape = P_N                        it leaves the grid,
and an event cost psi gives E = sum_i psi_i q_i + psi_{N+1} escape (``event_cost``). The images
(``render_drc``): alpha = 1 - escape, rgb = sum_i q_i c_i + escape * background with c_i the
cell's colour shaded at its entry face, depth = sum_i q_i z_i / alpha (the expected view depth
of the entry point, given that the ray stops; 0 where alpha = 0). Autograd through ``cumprod``
gives DRC's hand-derived gradient (tests/test_voxel_drc.py checks it against the reverse sum).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import torch

from ..fragments import RenderOutput
from ..scene import Scene
from ..shading import shade
from .grid import VoxelGrid, VoxelGridError
from .traversal import CellSegments, grid_segments

# DRC's defaults (experiments/synthetic/shapenet.lua, rayPotGeom.c): the escape depth
# (bgDepth) and the weight of background rays (bgWt).
MAX_DEPTH = 10.0
BG_WEIGHT = 0.2


@dataclass
class Termination:
    """Where each pixel ray stops, for the rays that cross the grid's box.

    segments: the traversal; x: (R, L) occupancies of the crossed cells in ray order (0 in the
    padding); q: (R, L) termination probabilities; escape: (R,) the probability of crossing
    every cell; valid: (R, L) bool, the lanes that hold a cell. q and escape carry the autograd
    graph of the grid's occupancy.
    """

    segments: CellSegments
    x: torch.Tensor
    q: torch.Tensor
    escape: torch.Tensor
    valid: torch.Tensor

    @property
    def image_size(self) -> int:
        return self.segments.image_size

    def q_flat(self) -> torch.Tensor:
        """(M,) q in segment order (ray by ray, front to back)."""
        return self.q[self.valid]

    def escape_image(self) -> torch.Tensor:
        """(S, S) escape probability (1 for rays that miss the box)."""
        s = self.image_size
        ones = torch.ones(s * s, dtype=self.escape.dtype, device=self.escape.device)
        return ones.index_copy(0, self.segments.ray.to(ones.device), self.escape).reshape(s, s)

    def per_pixel(self, per_ray: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        """(R, ...) values of the box-hitting rays -> (S, S, ...) image, ``fill`` elsewhere."""
        s = self.image_size
        out = torch.full((s * s, *per_ray.shape[1:]), fill, dtype=per_ray.dtype, device=per_ray.device)
        return out.index_copy(0, self.segments.ray.to(out.device), per_ray).reshape(s, s, *per_ray.shape[1:])


def termination_from_occupancy(x: torch.Tensor, valid: Optional[torch.Tensor] = None
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """q and escape of rays whose crossed cells have occupancies ``x``: (R, L) in ray order
    (pad with 0) -> q (R, L), escape (R,)."""
    p = 1 - x
    passed = torch.cumprod(p, dim=1)                            # P_i = prod_{j<=i} p_j
    before = torch.cat([torch.ones_like(passed[:, :1]), passed[:, :-1]], dim=1)
    q = x * before
    escape = passed[:, -1] if x.shape[1] else torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
    return q, escape


def termination(grid: VoxelGrid, camera, image_size: int) -> Termination:
    """The DRC termination record of every pixel ray of ``camera`` through ``grid``."""
    segs = grid_segments(grid, camera, image_size)
    occ = grid.occupancy.reshape(-1)
    device = occ.device
    x_seg = occ[segs.cell.to(device)]
    padded = torch.cat([x_seg, occ.new_zeros(1)])
    slot = segs.slot.to(device)
    x = padded[slot]
    q, escape = termination_from_occupancy(x)
    return Termination(segments=segs, x=x, q=q, escape=escape, valid=slot < segs.num_segments)


def scene_grid(scene: Scene) -> VoxelGrid:
    """The scene's VoxelGrid; VoxelGridError for a scene of another representation."""
    if not isinstance(scene.shape, VoxelGrid):
        raise VoxelGridError(f"the voxel renderers draw a voxel grid, this scene holds a {scene.kind}")
    return scene.shape


def shaded_cell_colors(scene: Scene, segs: CellSegments, dtype: torch.dtype) -> torch.Tensor:
    """(M, 3) colour of each crossed cell (its own, or the material albedo), shaded with the
    scene's lighting model at the cell's entry point with the entry face's normal."""
    grid = scene_grid(scene)
    device = grid.occupancy.device
    cell = segs.cell.to(device)
    if grid.colors is not None:
        albedo = grid.colors.reshape(-1, 3)[cell].to(dtype)
    else:
        albedo = scene.material.albedo.to(device, dtype)[None].expand(len(cell), 3)
    model = scene.settings.lighting
    if model == "none":
        return albedo
    eye = segs.eye.to(device, dtype)
    position = (segs.eye[None] + segs.t_in[:, None] * segs.ray_dir[segs.ray_of_segment]).to(device, dtype)
    normal = segs.normal.to(device, dtype)
    return shade(model, albedo.T, normal.T, position.T, eye, scene.lights, scene.material).T


def render_drc(scene: Scene) -> RenderOutput:
    """The DRC expected images of a voxel scene: rgb (S, S, 3), alpha (S, S) = 1 - escape,
    depth (S, S) expected view depth of the stopping cell's entry point given a stop."""
    grid = scene_grid(scene)
    s = scene.settings.image_size
    term = termination(grid, scene.camera, s)
    return images_from_termination(scene, term)


def images_from_termination(scene: Scene, term: Termination) -> RenderOutput:
    """rgb, alpha, depth of ``render_drc`` from a termination record."""
    segs = term.segments
    dtype = term.q.dtype
    device = term.q.device
    q = term.q_flat()
    colour = shaded_cell_colors(scene, segs, dtype)                 # (M, 3)
    per_ray = segs.ray_of_segment.to(device)
    n = len(segs.ray)
    rgb_ray = torch.zeros(n, 3, dtype=dtype, device=device).index_add(0, per_ray, q[:, None] * colour)
    depth_ray = torch.zeros(n, dtype=dtype, device=device).index_add(0, per_ray, q * segs.t_in.to(device, dtype))
    escape = term.escape_image()
    alpha = 1 - escape
    bg = torch.tensor(scene.settings.background, dtype=dtype, device=device)
    rgb = term.per_pixel(rgb_ray) + escape[..., None] * bg
    covered = alpha > 0
    depth = torch.where(covered, term.per_pixel(depth_ray) / torch.where(covered, alpha, torch.ones_like(alpha)),
                        torch.zeros_like(alpha))
    return RenderOutput(rgb=rgb, alpha=alpha, depth=depth,
                        num_pairs=torch.tensor(segs.num_segments, dtype=torch.int64))


# ------------------------------------------------------------------------------------ losses

def event_cost(term: Termination, psi_cells: torch.Tensor, psi_escape: torch.Tensor) -> torch.Tensor:
    """DRC's expected event cost per box-hitting ray: E = sum_i psi_i q_i + psi_{N+1} escape.
    psi_cells: (R, L) cost of stopping in each crossed cell (padding ignored); psi_escape: (R,)
    -> (R,)."""
    return (term.q * torch.where(term.valid, psi_cells, torch.zeros_like(psi_cells))).sum(1) \
        + term.escape * psi_escape


def _alpha_of(source: Union[RenderOutput, Termination, torch.Tensor]) -> torch.Tensor:
    if isinstance(source, Termination):
        return 1 - source.escape_image()
    if isinstance(source, torch.Tensor):
        return source
    return source["alpha"]


def drc_mask_loss(source: Union[RenderOutput, Termination, torch.Tensor], target_mask: torch.Tensor,
                  bg_weight: float = BG_WEIGHT) -> torch.Tensor:
    """DRC's mask-consistency loss (``useMaskOnly``): per pixel ray, with s = 1 on background
    (target_mask < 0.5), psi = s for a stop in any cell and 1 - s for the escape, so
    E = s (1 - escape) + (1 - s) escape; rays weighted bg_weight (DRC's bgWt 0.2) on background
    and 1 on the object; the mean of w E over all S^2 pixels.
    source: a render (its alpha = 1 - escape), a Termination or an (S, S) alpha; target_mask:
    (S, S) -> 0-d."""
    alpha = _alpha_of(source)
    s = (target_mask.to(alpha.device) < 0.5).to(alpha.dtype)
    cost = s * alpha + (1 - s) * (1 - alpha)
    weight = bg_weight * s + (1 - s)
    return (weight * cost).mean()


def drc_depth_loss(term: Termination, target_depth: torch.Tensor, max_depth: float = MAX_DEPTH,
                   bg_weight: float = BG_WEIGHT) -> torch.Tensor:
    """DRC's depth-consistency loss (``f_psi_obj``): psi_i = |d_i - d_r| with d_i the Euclidean
    distance from the eye to cell i's entry point, escape cost |max_depth - d_r|; d_r is the
    target's distance along the ray, from target_depth (S, S) view depths (the depth buffer's
    convention; 0 or >= max_depth marks background, where d_r = max_depth). Background rays
    weigh bg_weight. The mean of w E over all S^2 pixels (rays that miss the grid's box cost
    their constant escape term) -> 0-d."""
    segs = term.segments
    dtype, device = term.q.dtype, term.q.device
    s = term.image_size
    norms = segs.ray_dir.norm(dim=1).to(device, dtype)                      # (R,)
    target = target_depth.to(device, dtype).reshape(-1)
    background = (target <= 0) | (target * segs.all_ray_norms.to(device, dtype) >= max_depth)
    hit = segs.ray.to(device)
    d_r = torch.where(background[hit], torch.full_like(norms, max_depth), target[hit] * norms)
    dist = torch.cat([segs.distance_in().to(device, dtype), d_r.new_zeros(1)])[segs.slot.to(device)]
    energy = event_cost(term, (dist - d_r[:, None]).abs(), (max_depth - d_r).abs())
    bg = background.to(dtype)
    weight = bg_weight * bg + (1 - bg)
    # rays that miss the box escape for sure: E = |max_depth - d_r|
    all_norms = segs.all_ray_norms.to(device, dtype)
    d_all = torch.where(background, torch.full_like(target, max_depth), target * all_norms)
    per_pixel = (max_depth - d_all).abs().index_copy(0, hit, energy)
    return (weight * per_pixel).sum() / (s * s)
