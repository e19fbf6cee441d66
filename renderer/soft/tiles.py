"""Per-face pixel tiles: how the torch renderers form (pixel, face) pairs sparsely.

Each face gets the pixels of its screen bounding box grown by the cut-off radius, laid out as a
dense tile. Faces are grouped into a few buckets of equal square tile size, so a bucket is one
(Fg, T, T) block: per-face values broadcast over it as (Fg, 1, 1) with no gathers, and
elementwise torch ops run on long contiguous memory (fast on the CPU, trivially so on CUDA).
Pairs beyond the cut-off, and tile padding, are masked out exactly. Work and memory grow with the
summed tile area, a constant factor of the surviving pairs, never with S*S*F (DESIGN.md §3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..camera import ndc_to_pixel, pixel_centre_ndc
from ..errors import UserError

# Square tile sizes (pixels); a face uses the smallest one that holds its grown bounding box.
# Every size up to 16 (typical faces: padding costs more than the extra op launches of another
# bucket), then steps of about 1/8 so that padding stays small for large faces too.
TILE_SIZES = tuple(range(1, 17)) + (18, 20, 22, 24, 28, 32, 36, 40, 48, 56, 64, 72, 80, 96, 112,
                                    128, 144, 160, 192, 224, 256, 288, 320, 384, 448, 512, 576,
                                    640, 768, 896, 1024, 1152, 1280, 1536, 1792, 2048, 2560,
                                    3072, 3584, 4096)
# Tile elements processed per chunk: bounds the transient memory of one chunk's computation.
CHUNK_ELEMENTS = 1 << 19
# A bucket smaller than this joins the next larger tile size: each chunk costs a few hundred op
# launches, which outweighs the padding of a few small faces in slightly larger tiles.
MIN_BUCKET_ELEMENTS = 1 << 16


class TooManyPairsError(UserError, ValueError):
    """The requested render would form more (pixel, face) pairs than the configured budget."""


@dataclass
class TileChunk:
    """Faces sharing one tile size. faces: (Fg,) int64; c0, r0: (Fg,) first column and row of each
    tile; w, h: (Fg,) used width and height (the rest of the tile is padding); size: tile side T."""

    faces: torch.Tensor
    c0: torch.Tensor
    r0: torch.Tensor
    w: torch.Tensor
    h: torch.Tensor
    size: int

    @property
    def elements(self) -> int:
        return int(self.faces.numel()) * self.size * self.size

    def pixel_grid(self, image_size: int, dtype: torch.dtype):
        """NDC centres and flat indices of the tile pixels.

        -> px (Fg, 1, T), py (Fg, T, 1), pix (Fg, T, T) int64 (padding -> S*S, a spare slot),
        in_box (Fg, T, T) bool (inside the face's grown bounding box and the image).
        """
        s, t = image_size, self.size
        ar = torch.arange(t, device=self.faces.device)
        col = self.c0[:, None] + ar                                        # (Fg, T)
        row = self.r0[:, None] + ar
        in_box = (ar < self.h[:, None])[:, :, None] & (ar < self.w[:, None])[:, None, :]
        # in the render's own dtype: int / int would give float32 pixel centres
        px, py = pixel_centre_ndc(col.to(dtype), row.to(dtype), s)
        px, py = px[:, None, :], py[:, :, None]
        pix = torch.where(in_box, row[:, :, None] * s + col[:, None, :], torch.full_like(in_box, s * s, dtype=torch.long))
        return px, py, pix, in_box


@torch.no_grad()
def plan_tiles(tri: torch.Tensor, valid: torch.Tensor, image_size: int, cutoff_sq: float,
               max_pairs: int, chunk_elements: int = CHUNK_ELEMENTS) -> list[TileChunk]:
    """Group faces into tile chunks.

    tri: (F, 3, 2) NDC corners (x right, y up); valid: (F,) bool (faces that may form pairs);
    cutoff_sq: squared NDC distance beyond which a pixel outside a face gets no pair.
    Raises TooManyPairsError when the summed tile area exceeds ``max_pairs``.
    """
    s = image_size
    radius = math.sqrt(cutoff_sq)
    lo = tri.amin(dim=1) - radius
    hi = tri.amax(dim=1) + radius
    # the first and last pixel centres inside [lo, hi]; rows run downward
    c_lo, r_hi = ndc_to_pixel(lo[:, 0], lo[:, 1], s)
    c_hi, r_lo = ndc_to_pixel(hi[:, 0], hi[:, 1], s)
    c0, c1 = torch.ceil(c_lo).clamp(0, s), torch.floor(c_hi).clamp(-1, s - 1)
    r0, r1 = torch.ceil(r_lo).clamp(0, s), torch.floor(r_hi).clamp(-1, s - 1)
    w = (c1 - c0 + 1).clamp_min(0)
    h = (r1 - r0 + 1).clamp_min(0)
    keep = valid & torch.isfinite(w) & torch.isfinite(h) & (w > 0) & (h > 0)
    faces = torch.nonzero(keep, as_tuple=True)[0]
    if faces.numel() == 0:
        return []
    w, h, c0, r0 = w[faces].long(), h[faces].long(), c0[faces].long(), r0[faces].long()
    sizes = torch.tensor(TILE_SIZES, device=tri.device)
    bucket = torch.searchsorted(sizes, torch.maximum(w, h))
    tile = sizes[bucket]
    total = int((tile * tile).sum())
    if total > max_pairs:
        band = radius * s / 2
        raise TooManyPairsError(
            f"the soft edge band is {band:.0f} px wide at {s}x{s}: this mesh would form {total:,} "
            f"pixel-face pairs (budget {max_pairs:,}); lower sigma, the resolution or the face count")
    chunks: list[TileChunk] = []
    present, counts = torch.unique(bucket, return_counts=True)
    pending: list[torch.Tensor] = []
    pending_faces = 0
    for i, (b, count) in enumerate(zip(present.tolist(), counts.tolist())):
        pending.append(torch.nonzero(bucket == b, as_tuple=True)[0])
        pending_faces += count
        t = TILE_SIZES[b]
        if pending_faces * t * t < MIN_BUCKET_ELEMENTS and i + 1 < len(present):
            continue                                   # too small alone: join the next size
        sel = torch.cat(pending)
        pending, pending_faces = [], 0
        per_chunk = max(1, chunk_elements // (t * t))
        for start in range(0, sel.numel(), per_chunk):
            part = sel[start:start + per_chunk]
            chunks.append(TileChunk(faces[part], c0[part], r0[part], w[part], h[part], t))
    return chunks


