"""SoftRas's surviving (pixel, face) pairs as one flat ``SoftPairs`` record, for the pixel
inspector and the diagnostics (the same pair record as the render: ``soft_pairs.soft_tile``)."""
from __future__ import annotations

import math

import torch

from ..fragments import SoftPairs
from ..scene import Scene
from .common import FaceTables
from .geometry import perspective_weights
from .soft_pairs import soft_tile
from .tiles import TileChunk


@torch.no_grad()
def softras_pairs(scene: Scene, prep: FaceTables, chunks: list[tuple[TileChunk, bool]],
                  shift: torch.Tensor, total: torch.Tensor) -> SoftPairs:
    """Recompute the pairs of a finished SoftRas render, flat, sorted by pixel then face.

    shift: (S*S + 1,) the final per-pixel softmax shift; total: (S*S,) the softmax denominator
    (background included).
    """
    st = scene.settings
    s, sigma, gamma = st.image_size, float(st.sigma), float(st.gamma)
    cam = scene.camera
    total = torch.cat([total, torch.ones_like(total[:1])])
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("pix", "face", "coverage", "weight", "depth")}
    for chunk, is_color in chunks:
        tile = soft_tile(chunk, prep.geo.index_select(1, chunk.faces), s, sigma)
        pix, keep = tile.pix, tile.keep
        coverage = torch.sigmoid(tile.x)
        _, z = perspective_weights(tile.bary, tile.zc, clip=True)
        if is_color:
            zbar = (cam.far - z) / (cam.far - cam.near)
            w = coverage * torch.exp((zbar - shift[pix]) / gamma) / total[pix]
        else:
            w, z = torch.zeros_like(z), torch.full_like(z, math.nan)
        parts["pix"].append(pix[keep])
        parts["face"].append(chunk.faces[:, None, None].expand_as(pix)[keep])
        parts["coverage"].append(coverage[keep])
        parts["weight"].append(w[keep])
        parts["depth"].append(z[keep])
    cat = {k: torch.cat(v) if v else torch.zeros(0) for k, v in parts.items()}
    order = torch.argsort(cat["pix"] * (prep.faces.shape[0] + 1) + cat["face"])
    return SoftPairs(**{k: v[order] for k, v in cat.items()})
