"""Triangle meshes as plain tensors, and their normals.

Conventions (DESIGN.md §2): right-handed world, +Y up, counter-clockwise faces are front faces.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Optional

import numpy as np
import torch

from .shapes import register_shape
from .tensor_cache import derived


def face_normals(verts: torch.Tensor, faces: torch.Tensor, unit: bool = True) -> torch.Tensor:
    """Face normals of a triangle mesh.

    verts: (V, 3) float; faces: (F, 3) int64 -> (F, 3) float. With ``unit=False`` the vectors are
    the raw cross products, whose length is twice the triangle area (used for area weighting).
    """
    v0, v1, v2 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    n = torch.cross(v1 - v0, v2 - v0, dim=-1)
    if unit:
        n = n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return n


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor,
                   weld: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Area-weighted vertex normals, differentiable in ``verts``.

    verts: (V, 3) float; faces: (F, 3) int64; weld: optional (V,) int64 mapping each vertex to a
    representative of its position, so that vertices split at UV seams share one normal (otherwise
    smooth shading shows the seams) -> (V, 3) unit float.
    """
    fn = face_normals(verts, faces, unit=False)
    ids = faces if weld is None else weld[faces]
    acc = torch.zeros_like(verts).index_add_(0, ids.reshape(-1), fn.repeat_interleave(3, dim=0))
    if weld is not None:
        acc = acc[weld]
    return acc / acc.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def weld_index(verts: np.ndarray, decimals: int = 6) -> np.ndarray:
    """(V, 3) float -> (V,) int64: for each vertex, the index of the first vertex at its position."""
    _, first, inverse = np.unique(np.round(verts, decimals), axis=0, return_index=True,
                                  return_inverse=True)
    return first[inverse.reshape(-1)].astype(np.int64)


def device_copy(t: Optional[torch.Tensor], device: torch.device) -> Optional[torch.Tensor]:
    """``t.to(device)``, cached while ``t`` lives unmodified, unless it needs its autograd link."""
    if t is None or t.device == device or t.requires_grad:
        return None if t is None else t.to(device)
    return derived(t, ("device", str(device)), lambda src: src.to(device))


@register_shape
@dataclass
class Mesh:
    """A triangle mesh.

    verts: (V, 3) float32; faces: (F, 3) int64; colors: optional (V, 3) float32 in [0, 1];
    uvs: optional (V, 2) float32 (v up, OpenGL style); texture: optional (H, W, 3) float32 with
    row 0 at the top of the image; weld: optional (V,) int64 (see ``vertex_normals``).
    ``center`` and ``scale`` record the normalisation applied at load time:
    verts = (original - center) * scale, so ``original = verts / scale + center``.
    """

    kind: ClassVar[str] = "mesh"
    element_name: ClassVar[str] = "face"

    verts: torch.Tensor
    faces: torch.Tensor
    colors: Optional[torch.Tensor] = None
    uvs: Optional[torch.Tensor] = None
    texture: Optional[torch.Tensor] = None
    weld: Optional[torch.Tensor] = None
    center: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: float = 1.0
    name: str = "mesh"
    warnings: list[str] = field(default_factory=list)

    @property
    def num_verts(self) -> int:
        return int(self.verts.shape[0])

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])

    @property
    def num_elements(self) -> int:
        return self.num_faces

    def face_normals(self) -> torch.Tensor:
        """(F, 3) unit face normals."""
        return face_normals(self.verts, self.faces)

    def vertex_normals(self) -> torch.Tensor:
        """(V, 3) unit, area-weighted vertex normals (seams welded)."""
        return vertex_normals(self.verts, self.faces, self.weld)

    def with_verts(self, verts: torch.Tensor) -> "Mesh":
        """The same mesh with other vertex positions (e.g. an optimisation's current state)."""
        return replace(self, verts=verts)

    def to(self, device: torch.device | str) -> "Mesh":
        """The mesh on ``device``. Tensors that carry no gradient (faces, uvs, texture, ...) are
        copied once per device and reused (see ``device_copy``), so rendering a CPU scene on a
        GPU every frame does not re-upload a large texture; verts always move fresh, keeping
        their autograd link."""
        device = torch.device(device)
        return replace(self, verts=self.verts.to(device), faces=device_copy(self.faces, device),
                       colors=device_copy(self.colors, device), uvs=device_copy(self.uvs, device),
                       texture=device_copy(self.texture, device), weld=device_copy(self.weld, device))

    def original_verts(self) -> torch.Tensor:
        """(V, 3) vertices in the file's own coordinates (undoes the load-time normalisation)."""
        return self.verts / self.scale + torch.tensor(self.center, dtype=self.verts.dtype,
                                                      device=self.verts.device)
