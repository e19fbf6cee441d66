"""Per-face tables shared by the three torch renderers: everything a tile needs about its face,
computed once per render as (K, F) rows and sliced per chunk (no per-pair gathers)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..mesh import device_copy, face_normals, vertex_normals
from ..scene import Scene
from ..shading import sample_texture, shade
from .geometry import TABLE_ROWS, face_table, tile_pair_geometry
from .project import ScreenMesh, project_mesh
from .tiles import TileChunk, plan_tiles

# Budget of (pixel, face) tile elements per render: beyond it the render is refused with a clear
# message. Memory does not limit it (chunks, recomputed in backward, bound it); time does: about
# 130 ns per element forward+backward on one CPU core, so the budget is a few minutes' render (the
# knot at 256 px and sigma 0.1, the top of the slider, forms 255M).
DEFAULT_MAX_PAIRS = 300_000_000


@dataclass
class FaceTables:
    """A scene projected, on the render device. geo: (21, F) rows of ``face_table`` then the
    corner view depths; front: (F,) bool; valid: (F,) bool; verts (V, 3), faces (F, 3), eye (3,)."""

    verts: torch.Tensor
    faces: torch.Tensor
    eye: torch.Tensor
    screen: ScreenMesh
    geo: torch.Tensor


def prepare(scene: Scene, detach: bool = False) -> FaceTables:
    """Project the mesh with the scene's camera. ``detach`` cuts geometry gradients (hard)."""
    device = torch.device(scene.settings.device)
    mesh = scene.mesh if scene.mesh.verts.device == device else scene.mesh.to(device)
    # detach() (unlike no_grad) also drops forward-mode tangents, so a jvp sees no geometry either
    verts = mesh.verts.detach() if detach else mesh.verts
    camera = scene.camera.detached() if detach else scene.camera
    with torch.set_grad_enabled(torch.is_grad_enabled() and not detach):
        screen = project_mesh(verts, mesh.faces, camera)
        geo = torch.cat([face_table(screen.tri), screen.z.T], dim=0)
        eye = camera.eye.to(device=device, dtype=verts.dtype)
    return FaceTables(verts=verts, faces=mesh.faces, eye=eye, screen=screen, geo=geo)


def plan(prep: FaceTables, scene: Scene, cutoff_sq: float, color_faces: Optional[torch.Tensor],
         max_pairs: float = DEFAULT_MAX_PAIRS):
    """Tile chunks of the valid faces, as (chunk, is_colour) pairs: faces in ``color_faces``
    (F,) bool go to colour chunks, the others to silhouette-only chunks. None: all colour."""
    st = scene.settings
    tri = prep.screen.tri.detach()
    groups = [(prep.screen.valid, True)] if color_faces is None else \
        [(prep.screen.valid & color_faces, True), (prep.screen.valid & ~color_faces, False)]
    out: list[tuple[TileChunk, bool]] = []
    for mask, is_color in groups:
        out += [(c, is_color) for c in plan_tiles(tri, mask, st.image_size, cutoff_sq, max_pairs)]
    return out


@torch.no_grad()
def planned_elements(scene: Scene, cutoff_sq: float) -> int:
    """The (pixel, face) tile elements a render with this cut-off would form, padding included:
    its cost, known before the work (a projection and the face bounding boxes, a few ms)."""
    prep = prepare(scene, detach=True)
    color = None if scene.settings.double_sided else prep.screen.front      # as the renderers plan
    return sum(c.elements for c, _ in plan(prep, scene, cutoff_sq, color, max_pairs=float("inf")))


def tile_geometry(geo: torch.Tensor, px: torch.Tensor, py: torch.Tensor, with_bary: bool = True):
    """geo: (21, Fg) rows of the chunk's faces; px (Fg, 1, T), py (Fg, T, 1) -> d2, inside
    (Fg, T, T), screen barycentrics (3, Fg, T, T), corner depths (3, Fg, 1, 1)."""
    rows = geo[:, :, None, None]
    d2, inside, bary = tile_pair_geometry(px, py, rows[:TABLE_ROWS], with_bary)
    return d2, inside, bary, rows[TABLE_ROWS:TABLE_ROWS + 3]


@dataclass
class ColorTable:
    """Per-face corner attributes for shading, built once per render: table (3 corners, C, F) and
    the row slices of each attribute in it. Only what the lighting model reads is kept: world
    position (phong's view vector), normal (vertex normals, or the face normal at every corner
    when flat shading; not for 'none'), albedo source (vertex colour or uv; none when the
    material's constant albedo is used)."""

    table: torch.Tensor
    rows: dict[str, slice]
    albedo: str                      # "colors", "texture" or "constant"


def color_table(scene: Scene, verts: torch.Tensor, faces: torch.Tensor) -> ColorTable:
    mesh, lighting = scene.mesh, scene.settings.lighting
    device, dtype = verts.device, verts.dtype
    parts: list[torch.Tensor] = []
    rows: dict[str, slice] = {}

    def add(name: str, per_corner: torch.Tensor) -> None:
        start = sum(p.shape[2] for p in parts)
        rows[name] = slice(start, start + per_corner.shape[2])
        parts.append(per_corner)

    if lighting == "phong":
        add("position", verts[faces])
    if lighting != "none":
        if scene.settings.flat_shading:
            add("normal", face_normals(verts, faces)[:, None, :].expand(-1, 3, -1))
        else:
            weld = None if mesh.weld is None else mesh.weld.to(device)
            add("normal", vertex_normals(verts, faces, weld)[faces])
    if mesh.uvs is not None and mesh.texture is not None:
        add("uv", mesh.uvs.to(device, dtype)[faces])
        kind = "texture"
    elif mesh.colors is not None:
        add("albedo", mesh.colors.to(device, dtype)[faces])
        kind = "colors"
    else:
        kind = "constant"
    if not parts:
        table = torch.zeros(3, 0, faces.shape[0], dtype=dtype, device=device)
    else:
        table = torch.cat(parts, dim=2).permute(1, 2, 0).contiguous()
    return ColorTable(table, rows, kind)


def shade_at(scene: Scene, ct: ColorTable, table: torch.Tensor, weights: torch.Tensor,
             eye: torch.Tensor, back: Optional[torch.Tensor]) -> torch.Tensor:
    """Shaded colour (3, *B) at pixels with perspective-correct barycentrics ``weights`` (3, *B).

    table: ``ct.table`` sliced to the faces at hand and shaped to broadcast against weights, e.g.
    (3, C, Fg, 1, 1) for tiles or (3, C, M) per pixel, or the three corners' (C, *) tables as a
    sequence; back: bool broadcastable to *B, pairs seen from behind (double-sided rendering),
    whose normal is flipped.
    """
    shape = (3, *torch.broadcast_shapes(weights.shape[1:], table[0].shape[1:]))
    attrs = None
    if table[0].shape[0]:
        # three fused multiply-adds: much cheaper in backward than a broadcast product and a sum
        attrs = torch.addcmul(torch.addcmul(weights[0] * table[0], weights[1], table[1]), weights[2], table[2])
    groups = {} if attrs is None else {name: attrs[rows] for name, rows in ct.rows.items()}
    return shade_attributes(scene, ct, groups, eye, back, shape)


def shade_attributes(scene: Scene, ct: ColorTable, attrs: dict[str, torch.Tensor], eye: torch.Tensor,
                     back: Optional[torch.Tensor], shape: tuple) -> torch.Tensor:
    """Shaded colour (3, *B) from the interpolated attributes: ``attrs`` maps each name of
    ``ct.rows`` (position, normal, uv, albedo) to its rows (k, *B); shape: (3, *B)."""
    device, dtype = eye.device, eye.dtype
    position = attrs.get("position")
    normal = None
    if "normal" in attrs:
        normal = attrs["normal"]
        normal = normal / (normal * normal).sum(0).clamp_min(1e-24).sqrt()
        if back is not None:
            normal = torch.where(back, -normal, normal)
    if ct.albedo == "texture":
        uv = attrs["uv"]
        albedo = sample_texture(device_copy(scene.mesh.texture, device), uv[0].reshape(-1), uv[1].reshape(-1))
    elif ct.albedo == "colors":
        albedo = attrs["albedo"]
    else:
        albedo = scene.material.albedo.to(device, dtype).reshape(3, *([1] * (len(shape) - 1))).expand(shape)
    albedo = albedo.reshape(3, -1)

    def flat(t: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        return None if t is None else t.reshape(3, -1)

    return shade(scene.settings.lighting, albedo, flat(normal), flat(position), eye,
                 scene.lights, scene.material).reshape(shape)


class _GatherSorted(torch.autograd.Function):
    """table (K, N), index (M,) int64 sorted ascending -> table[:, index] (K, M). Its backward is
    a segment sum over the runs of equal index (``segment_reduce``): index_add over a sorted index
    adds into the same column back to back, a dependency chain about twice as slow on the CPU."""

    @staticmethod
    def forward(ctx, table, index):
        ctx.save_for_backward(index)
        ctx.index = index                   # jvp reads it (no saved tensors in forward mode)
        ctx.num_cols = table.shape[1]
        return table.index_select(1, index)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        if torch.is_grad_enabled():         # double backward: stay differentiable
            zeros = torch.zeros(grad.shape[0], ctx.num_cols, dtype=grad.dtype, device=grad.device)
            return zeros.index_add(1, index, grad), None
        lengths = torch.bincount(index, minlength=ctx.num_cols).expand(grad.shape[0], -1).contiguous()
        return torch.segment_reduce(grad.contiguous(), "sum", lengths=lengths, axis=1), None

    @staticmethod
    def jvp(ctx, d_table, d_index):
        return d_table.index_select(1, ctx.index)


def gather_sorted(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """table (K, N), index (M,) int64 sorted ascending -> (K, M) columns ``table[:, index]``,
    differentiable in table (backward, forward mode, double backward)."""
    return _GatherSorted.apply(table, index)


def background(scene: Scene, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(3,) background colour."""
    return torch.tensor(scene.settings.background, dtype=dtype, device=device)
