"""CPU-side arrays of the GL reference renderer: scene tensors -> upload bytes, readback -> images.

No GL calls here: everything is plain numpy/torch, so it can be reasoned about (and tested) alone.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..mesh import Mesh
from .shaders import FLOATS_PER_CORNER


def to_numpy(x, dtype=np.float32) -> np.ndarray:
    """Tensor (any dtype, device, requires_grad) or number/sequence -> numpy array of ``dtype``."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def tensor_key(t: Optional[torch.Tensor]) -> Optional[tuple]:
    """What identifies a tensor's current contents: object, storage, in-place version, layout."""
    if t is None:
        return None
    return (id(t), t.data_ptr(), t._version, tuple(t.shape), t.dtype, str(t.device))


def mat4_bytes(m: torch.Tensor) -> bytes:
    """A row-major (4, 4) matrix as the column-major float32 bytes a GLSL mat4 expects."""
    return np.ascontiguousarray(to_numpy(m, np.float64).T, dtype=np.float32).tobytes()


def box_filter(image: np.ndarray, k: int) -> np.ndarray:
    """Mean over k x k blocks. image: (k*S, k*S, ...) -> (S, S, ...) float32."""
    s = image.shape[0] // k
    blocks = image.reshape(s, k, s, k, *image.shape[2:])
    return blocks.mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def with_background(color: np.ndarray, background: np.ndarray) -> np.ndarray:
    """(S, S, 4) shading plane (rgb, face id + 1) -> (S, S, 3) rgb, ``background`` where no face."""
    covered = color[..., 3:4] > 0.5
    return np.where(covered, color[..., :3], background).astype(np.float32)


def corner_vertex_data(mesh: Mesh) -> np.ndarray:
    """The non-indexed vertex buffer of a mesh: (3F, 14) float32, one row per face corner:
    position (3), smooth vertex normal with seams welded (3), face normal (3), vertex colour (3,
    zeros without colours), uv (2, zeros without uvs)."""
    with torch.no_grad():
        verts = to_numpy(mesh.verts)
        vnormals = to_numpy(mesh.vertex_normals())
        fnormals = to_numpy(mesh.face_normals())
    corners = to_numpy(mesh.faces, np.int64).reshape(-1)
    data = np.zeros((corners.shape[0], FLOATS_PER_CORNER), dtype=np.float32)
    data[:, 0:3] = verts[corners]
    data[:, 3:6] = vnormals[corners]
    data[:, 6:9] = np.repeat(fnormals, 3, axis=0)
    if mesh.colors is not None:
        data[:, 9:12] = to_numpy(mesh.colors)[corners]
    if mesh.uvs is not None:
        data[:, 12:14] = to_numpy(mesh.uvs)[corners]
    return data
