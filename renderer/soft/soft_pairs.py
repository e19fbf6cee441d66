"""SoftRas's (pixel, face) pair record, formed in one place for the renderer, the silhouette fast
path and the pixel inspector, so the three can never disagree on the cut-off or the coverage.

Per pixel i and face j: D = sigmoid(x) with x = delta d2 / sigma (delta = +1 inside, -1
outside); pairs with D < COVERAGE_FLOOR (d2 >= SOFTRAS_CUTOFF_FACTOR sigma outside) are dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..registry import SOFTRAS_CUTOFF_FACTOR
from .common import tile_geometry
from .tiles import TileChunk


def softras_cutoff(sigma: float) -> float:
    """Squared NDC distance outside a face beyond which D < COVERAGE_FLOOR."""
    return sigma * SOFTRAS_CUTOFF_FACTOR


@dataclass
class SoftTile:
    """One tile chunk's pairs. pix: (Fg, T, T) flat pixel index (padding -> S*S); keep: (Fg, T, T)
    bool, the pairs within the cut-off; x: (Fg, T, T) the coverage logit, differentiable in the
    geometry; bary: (3, Fg, T, T) screen barycentrics; zc: (3, Fg, 1, 1) corner view depths."""

    pix: torch.Tensor
    keep: torch.Tensor
    x: torch.Tensor
    bary: torch.Tensor
    zc: torch.Tensor

    def log_uncovered(self, num_slots: int) -> torch.Tensor:
        """(num_slots,) per pixel sum over kept pairs of log(1 - D) = -softplus(x) (stable for
        any sigma)."""
        terms = F.softplus(self.x).neg().masked_fill(~self.keep, 0.0)
        return torch.zeros(num_slots, dtype=self.x.dtype, device=self.x.device).index_add_(
            0, self.pix.reshape(-1), terms.reshape(-1))


def soft_tile(chunk: TileChunk, geo: torch.Tensor, image_size: int, sigma: float) -> SoftTile:
    """The pair record of one chunk; geo: (21, Fg) the chunk's rows of ``FaceTables.geo``."""
    px, py, pix, in_box = chunk.pixel_grid(image_size, geo.dtype)
    d2, inside, bary, zc = tile_geometry(geo, px, py)
    with torch.no_grad():
        keep = in_box & (inside | (d2 < softras_cutoff(sigma)))
        signed_rate = (inside.to(geo.dtype) * 2 - 1) / sigma
    return SoftTile(pix=pix, keep=keep, x=d2 * signed_rate, bary=bary, zc=zc)
