"""Vertices to screen: NDC positions and view depths, read from the scene's camera matrices."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..camera import OrbitCamera


@dataclass
class ScreenMesh:
    """A mesh seen by a camera. tri: (F, 3, 2) NDC corners (x right, y up); z: (F, 3) positive view
    depth of the corners; front: (F,) bool, counter-clockwise on screen; valid: (F,) bool, all
    corners in front of the near plane and finite (faces crossing it are culled, never clipped)."""

    tri: torch.Tensor
    z: torch.Tensor
    front: torch.Tensor
    valid: torch.Tensor


def project_mesh(verts: torch.Tensor, faces: torch.Tensor, camera: OrbitCamera) -> ScreenMesh:
    """verts: (V, 3) world; faces: (F, 3) -> ScreenMesh, differentiable in verts and camera."""
    vp = camera.view_projection().to(device=verts.device, dtype=verts.dtype)
    clip = verts @ vp[:, :3].T + vp[:, 3]                                  # (V, 4)
    w = clip[:, 3]                                                         # = -z_view > 0 in front
    in_front = w > camera.near
    safe_w = torch.where(in_front, w, torch.ones_like(w))
    ndc = clip[:, :2] / safe_w[:, None]
    tri = ndc[faces]                                                       # (F, 3, 2)
    z = safe_w[faces]
    with torch.no_grad():
        valid = in_front[faces].all(-1) & torch.isfinite(tri).all(-1).all(-1)
        e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
        front = (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) > 0
    return ScreenMesh(tri=tri, z=z, front=front, valid=valid)
