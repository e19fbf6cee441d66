"""The voxel grid shape: per-cell occupancy probabilities over an axis-aligned box.

Conventions (docs/voxels.md):
- ``occupancy[i, j, k]`` is the cell at x index i, y index j, z index k (x, y, z order, the
  world axes of DESIGN.md §2: +Y up). Flat cell ids are ``(i * Dy + j) * Dz + k``
  (``occupancy.reshape(-1)`` order).
- ``bounds = (lo, hi)`` are the box's min and max corners in world units; cell (i, j, k) spans
  ``lo + (i, j, k) * h`` to ``lo + (i + 1, j + 1, k + 1) * h`` with ``h = (hi - lo) / (Dx, Dy, Dz)``.
- occupancy x is the probability that the cell is occupied (DRC's p = 1 - x is "empty").
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Optional

import torch

from ..errors import UserError
from ..shapes import register_shape

MAX_RESOLUTION = 128
DEFAULT_BOUNDS = ((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))    # DRC's gridBound 0.5


class VoxelGridError(UserError, ValueError):
    """A voxel grid (from a file or the API) that cannot be used; the message says why."""


@dataclass
class VoxelGrid:
    """Occupancy probabilities on a regular grid.

    occupancy: (Dx, Dy, Dz) float in [0, 1], x index first (files must hold [0, 1]; a grid made
    in code may step past the ends, as a landscape or a finite difference does, and the formulas
    are then evaluated as they are); lo, hi: (3,) float world corners of
    the box; colors: optional (Dx, Dy, Dz, 3) float linear RGB per cell (None: the scene's
    material albedo everywhere); name: what was loaded.
    """

    kind: ClassVar[str] = "voxels"
    element_name: ClassVar[str] = "cell"

    occupancy: torch.Tensor
    lo: torch.Tensor = field(default_factory=lambda: torch.tensor(DEFAULT_BOUNDS[0]))
    hi: torch.Tensor = field(default_factory=lambda: torch.tensor(DEFAULT_BOUNDS[1]))
    colors: Optional[torch.Tensor] = None
    name: str = "voxels"

    def __post_init__(self) -> None:
        self.lo = torch.as_tensor(self.lo, dtype=torch.float64).reshape(-1).detach()
        self.hi = torch.as_tensor(self.hi, dtype=torch.float64).reshape(-1).detach()
        validate_grid(self.occupancy, self.lo, self.hi, self.colors, what=f"voxel grid {self.name!r}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.occupancy.shape)

    @property
    def num_elements(self) -> int:
        return int(self.occupancy.numel())

    @property
    def cell_size(self) -> torch.Tensor:
        """(3,) float64 cell edge lengths per axis."""
        return (self.hi - self.lo) / torch.tensor(self.shape, dtype=torch.float64)

    def cell_index(self, i: int, j: int, k: int) -> int:
        """The flat id of cell (i, j, k)."""
        dx, dy, dz = self.shape
        return (i * dy + j) * dz + k

    def cell_ijk(self, flat: int) -> tuple[int, int, int]:
        """The (i, j, k) of flat cell id ``flat``."""
        dx, dy, dz = self.shape
        return flat // (dy * dz), (flat // dz) % dy, flat % dz

    def cell_centres(self) -> torch.Tensor:
        """(Dx, Dy, Dz, 3) float64 world centres of the cells."""
        axes = [self.lo[a] + (torch.arange(n, dtype=torch.float64) + 0.5) * self.cell_size[a]
                for a, n in enumerate(self.shape)]
        return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)

    def with_occupancy(self, occupancy: torch.Tensor) -> "VoxelGrid":
        """A grid sharing bounds and colours with new occupancies (may require grad)."""
        return replace(self, occupancy=occupancy)

    def with_colors(self, colors: Optional[torch.Tensor]) -> "VoxelGrid":
        return replace(self, colors=colors)

    def to(self, device: torch.device | str) -> "VoxelGrid":
        return replace(self, occupancy=self.occupancy.to(device),
                       colors=None if self.colors is None else self.colors.to(device))


def validate_grid(occupancy: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
                  colors: Optional[torch.Tensor], what: str, probabilities: bool = False) -> None:
    """Raise VoxelGridError (one line naming ``what``) for a grid that cannot be rendered; with
    ``probabilities`` (files) also for occupancies outside [0, 1]."""
    if not isinstance(occupancy, torch.Tensor) or not occupancy.is_floating_point():
        raise VoxelGridError(f"{what}: occupancy must be a float tensor")
    if occupancy.ndim != 3:
        raise VoxelGridError(f"{what}: occupancy must be a (D, D, D) array, got shape "
                             f"{tuple(occupancy.shape)}")
    if min(occupancy.shape) < 1 or max(occupancy.shape) > MAX_RESOLUTION:
        raise VoxelGridError(f"{what}: each side must have 1 to {MAX_RESOLUTION} cells, got "
                             f"{tuple(occupancy.shape)}")
    values = occupancy.detach()
    if not bool(torch.isfinite(values).all()):
        bad = int((~torch.isfinite(values)).sum())
        raise VoxelGridError(f"{what}: {bad} occupancy value(s) are NaN or infinite")
    if probabilities and (bool((values < 0).any()) or bool((values > 1).any())):
        raise VoxelGridError(f"{what}: occupancy probabilities must lie in [0, 1], got values "
                             f"from {float(values.min()):.4g} to {float(values.max()):.4g}")
    if lo.shape != (3,) or hi.shape != (3,) or not bool(torch.isfinite(lo).all() & torch.isfinite(hi).all()):
        raise VoxelGridError(f"{what}: bounds must be two finite (3,) corners")
    if not bool((hi > lo).all()):
        raise VoxelGridError(f"{what}: the max corner {hi.tolist()} must exceed the min corner "
                             f"{lo.tolist()} on every axis")
    if colors is not None:
        if tuple(colors.shape) != (*occupancy.shape, 3):
            raise VoxelGridError(f"{what}: colors must be (Dx, Dy, Dz, 3) = {(*occupancy.shape, 3)}, "
                                 f"got {tuple(colors.shape)}")
        if not bool(torch.isfinite(colors.detach()).all()):
            raise VoxelGridError(f"{what}: some colours are NaN or infinite")


register_shape(VoxelGrid)
