"""SoftRas's surviving (pixel, face) pairs as flat lists, for the pixel inspector."""
from __future__ import annotations

import math

import torch

from ..scene import Scene
from .common import FaceTables, tile_geometry
from .geometry import perspective_weights
from .tiles import TileChunk


@torch.no_grad()
def softras_pairs(scene: Scene, prep: FaceTables, chunks: list[tuple[TileChunk, bool]],
                  shift: torch.Tensor, total: torch.Tensor) -> dict[str, torch.Tensor]:
    """Recompute the pairs of a finished SoftRas render, flat, sorted by pixel then face.

    shift: (S*S + 1,) the final per-pixel softmax shift; total: (S*S,) the softmax denominator
    (background included) -> pair_pix, pair_face (P,) int64, pair_coverage (P,) D,
    pair_weight (P,) softmax weight (0 for faces that take no part in colour), pair_depth (P,)
    view depth at the pixel (NaN for those).
    """
    st = scene.settings
    s, sigma, gamma = st.image_size, float(st.sigma), float(st.gamma)
    cutoff = sigma * math.log(1 / 1e-4 - 1)
    cam = scene.camera
    total = torch.cat([total, torch.ones_like(total[:1])])
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("pix", "face", "D", "w", "z")}
    for chunk, is_color in chunks:
        px, py, pix, in_box = chunk.pixel_grid(s, prep.verts.dtype)
        d2, inside, bary, zc = tile_geometry(prep.geo.index_select(1, chunk.faces), px, py)
        keep = in_box & (inside | (d2 < cutoff))
        coverage = torch.sigmoid(torch.where(inside, d2, -d2) / sigma)
        _, z = perspective_weights(bary, zc, clip=True)
        if is_color:
            zbar = (cam.far - z) / (cam.far - cam.near)
            w = coverage * torch.exp((zbar - shift[pix]) / gamma) / total[pix]
        else:
            w, z = torch.zeros_like(z), torch.full_like(z, math.nan)
        parts["pix"].append(pix[keep])
        parts["face"].append(chunk.faces[:, None, None].expand_as(pix)[keep])
        parts["D"].append(coverage[keep])
        parts["w"].append(w[keep])
        parts["z"].append(z[keep])
    cat = {k: torch.cat(v) if v else torch.zeros(0) for k, v in parts.items()}
    order = torch.argsort(cat["pix"] * (prep.faces.shape[0] + 1) + cat["face"])
    return {"pair_pix": cat["pix"][order], "pair_face": cat["face"][order],
            "pair_coverage": cat["D"][order], "pair_weight": cat["w"][order], "pair_depth": cat["z"][order]}
