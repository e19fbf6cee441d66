"""The plain z-buffer rasterizer (sigma -> 0): the baseline with no geometry gradient, and the
visibility pass DIB-R shares with it."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..camera import pixel_centre_ndc
from ..fragments import RenderOutput
from ..scene import Scene
from .common import FaceTables, background, color_table, plan, prepare, shade_at, tile_geometry
from .geometry import TABLE_ROWS, pair_geometry, perspective_weights
from .tiles import TileChunk


@torch.no_grad()
def chunk_coverage(chunk: TileChunk, geo: torch.Tensor, image_size: int, dtype: torch.dtype):
    """Covered pixels of one tile chunk: (pix (K,), face (K,), view depth (K,)) of the
    (pixel, face) pairs whose pixel centre lies inside the face."""
    px, py, pix, in_box = chunk.pixel_grid(image_size, dtype)
    _, inside, bary, zc = tile_geometry(geo, px, py)
    hit = in_box & inside
    _, z = perspective_weights(bary, zc, clip=False)
    face = chunk.faces[:, None, None].expand_as(pix)
    return pix[hit], face[hit], z[hit]


@torch.no_grad()
def nearest_per_pixel(pix: torch.Tensor, z: torch.Tensor, face: torch.Tensor, num_pixels: int) -> torch.Tensor:
    """Indices of the pairs that win the z-buffer test: per pixel the smallest z, ties broken by
    the smaller face id (deterministic). pix, z, face: (K,) -> (W,) indices into them."""
    zmin = torch.full((num_pixels,), float("inf"), dtype=z.dtype, device=z.device)
    zmin = zmin.scatter_reduce(0, pix, z, reduce="amin")
    nearest = z <= zmin[pix]
    fmin = torch.full((num_pixels,), torch.iinfo(torch.int64).max, dtype=torch.int64, device=z.device)
    fmin = fmin.scatter_reduce(0, pix[nearest], face[nearest], reduce="amin")
    return torch.nonzero(nearest & (face == fmin[pix]), as_tuple=True)[0]


@dataclass
class Visibility:
    """The z-buffer pass over a render's tile chunks. covered: (S*S + 1,) bool, pixels whose
    centre lies inside any face (the last slot absorbs tile padding); pix, face: (W,) int64, the
    one visible colour face of each covered pixel; num_pairs: covered (pixel, face) pairs."""

    covered: torch.Tensor
    pix: torch.Tensor
    face: torch.Tensor
    num_pairs: int


@torch.no_grad()
def visible_faces(prep: FaceTables, chunks: list[tuple[TileChunk, bool]], image_size: int) -> Visibility:
    """The z-buffer shared by the hard and DIB-R renderers: coverage by every chunk's faces,
    and per pixel the nearest face among the colour chunks'."""
    s, dtype, device = image_size, prep.verts.dtype, prep.verts.device
    covered = torch.zeros(s * s + 1, dtype=torch.bool, device=device)
    hits, num_pairs = [], 0
    for chunk, is_color in chunks:
        pix, face, z = chunk_coverage(chunk, prep.geo.detach().index_select(1, chunk.faces), s, dtype)
        covered[pix] = True
        num_pairs += pix.numel()
        if is_color:
            hits.append((pix, face, z))
    if hits:
        pix, face, z = (torch.cat(t) for t in zip(*hits))
    else:
        pix = face = torch.zeros(0, dtype=torch.long, device=device)
        z = torch.zeros(0, dtype=dtype, device=device)
    win = nearest_per_pixel(pix, z, face, s * s)
    return Visibility(covered=covered, pix=pix[win], face=face[win], num_pairs=num_pairs)


def shade_pairs(scene: Scene, prep: FaceTables, pix: torch.Tensor, face: torch.Tensor,
                clip: bool = False):
    """Shaded colour of face ``face[i]`` at pixel ``pix[i]`` (flat index r*S + c), with
    perspective-correct barycentrics differentiable in the geometry (unless ``prep`` was
    detached). clip: clip the barycentrics to the face first (SoftRas, for pixels outside it).
    pix, face: (M,) -> colour (3, M), weights (3, M), view depth (M,)."""
    s = scene.settings.image_size
    dtype = prep.verts.dtype
    rows = torch.div(pix, s, rounding_mode="floor")
    px, py = pixel_centre_ndc((pix - rows * s).to(dtype), rows.to(dtype), s)
    geo = prep.geo.index_select(1, face)
    _, _, bary = pair_geometry(px, py, geo[:TABLE_ROWS])
    weights, z = perspective_weights(bary, geo[TABLE_ROWS:TABLE_ROWS + 3], clip=clip)
    ct = color_table(scene, prep.verts, prep.faces)
    back = ~prep.screen.front[face] if scene.settings.double_sided else None
    return shade_at(scene, ct, ct.table.index_select(2, face), weights, prep.eye, back), weights, z


def shade_visible(scene: Scene, prep: FaceTables, vis: Visibility, alpha: torch.Tensor,
                  tile_elements: int, num_pairs: int) -> RenderOutput:
    """Shade the visible face of each covered pixel and write the images: rgb, depth, face_id
    (S, S) plus the given alpha (S, S) and cost figures."""
    s = scene.settings.image_size
    dtype, device = prep.verts.dtype, prep.verts.device
    pix, face = vis.pix, vis.face
    color, _, z = shade_pairs(scene, prep, pix, face)
    n_pix = s * s
    rgb = background(scene, dtype, device)[:, None].repeat(1, n_pix).index_copy(1, pix, color)
    depth = torch.zeros(n_pix, dtype=dtype, device=device).index_copy_(0, pix, z.detach())
    face_id = torch.full((n_pix,), -1, dtype=torch.int64, device=device).index_copy_(0, pix, face)
    return RenderOutput(rgb=rgb.T.reshape(s, s, 3), alpha=alpha.reshape(s, s), depth=depth.reshape(s, s),
                        face_id=face_id.reshape(s, s), num_pairs=torch.tensor(num_pairs),
                        tile_elements=torch.tensor(tile_elements))


def render_hard(scene: Scene) -> RenderOutput:
    """Hard rasterization: rgb (S, S, 3), alpha (S, S) coverage by any face (back faces included,
    as in the soft silhouette), depth (S, S) (0 on background), face_id (S, S) int64 (-1 on
    background), num_pairs and tile_elements. Geometry is detached on purpose: vertex and camera
    gradients are exactly zero; vertex colours, lights and material still get theirs."""
    st = scene.settings
    prep = prepare(scene, detach=True)
    chunks = plan(prep, scene, 0.0, None if st.double_sided else prep.screen.front)
    vis = visible_faces(prep, chunks, st.image_size)
    return shade_visible(scene, prep, vis, vis.covered[:-1].to(prep.verts.dtype),
                         sum(c.elements for c, _ in chunks), vis.num_pairs)
