"""Which pixels NMR's gradient comes from: the edge sweep's per-pixel terms for one vertex.

NMR's vertex gradient is a sum over pixels, some far from any edge (the out runs reach the image
border with a 1/distance fall-off), each counted only when the loss wants that pixel to change
the way the move would change it. ``vertex_contributions`` returns those terms as an image, for
the GUI's "which pixels contributed to this vertex's gradient" view; they sum to the vertex's
dL/dV through the sweep.
"""
from __future__ import annotations

from typing import Optional

import torch

from ..scene import Scene
from .runs import image_index
from .sweep import COLOR_EPS, SILHOUETTE_EPS, ragged_runs, sweep_setup

SUPERSAMPLE = 2


def face_contributions(tri: torch.Tensor, face_map: torch.Tensor, image: torch.Tensor, grad: torch.Tensor,
                       eps: float, face: int) -> torch.Tensor:
    """Per-pixel terms of the sweep gradient of one face (arguments as ``sweep_gradient``):
    (S, S, 3, 2), summing over pixels to ``sweep_gradient(...)[face]``."""
    s = face_map.shape[0]
    out = torch.zeros(s * s * 6, dtype=image.dtype, device=image.device)
    sw = sweep_setup(tri, face_map, image, grad, faces=torch.tensor([face], device=face_map.device))
    if sw is not None:
        slots = [(sw.slot0 - face * 6, sw.has0), (sw.slot1 - face * 6, sw.has1)]

        def sink(pix, k, term0, term1):
            at = image_index(pix, s) * 6
            for (slot, has), term in zip(slots, (term0, term1)):
                out.index_add_(0, at + slot[k], torch.where(has[k], term, torch.zeros_like(term)))

        ragged_runs(sw, torch.arange(sw.seg["length"].numel(), device=face_map.device), eps, sink=sink)
    return out.reshape(s, s, 3, 2)


@torch.no_grad()
def vertex_contributions(scene: Scene, vertex: int, grad_rgb: Optional[torch.Tensor] = None,
                         grad_alpha: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The pixels NMR's dL/dV[vertex] comes from: (S, S, 3) world-space terms whose sum over the
    image is the sweep's part of the vertex gradient (the shading's part, through normals, is not
    a per-pixel sweep term and is left out).

    grad_rgb: (S, S, 3) and/or grad_alpha: (S, S), dL/dI of the loss at the scene's resolution
    (e.g. ``renderer.analysis`` dL/dI). The sweep runs at NMR's 2S; each pixel's terms are the sum
    of its 2x2 subpixels'.
    """
    from ..rendering import render
    from ..soft.project import project_mesh

    s = scene.settings.image_size
    fine = render(scene.with_settings(renderer="hard", image_size=SUPERSAMPLE * s))
    up = lambda g: g.repeat_interleave(SUPERSAMPLE, 0).repeat_interleave(SUPERSAMPLE, 1) / SUPERSAMPLE ** 2  # noqa: E731
    images, grads = [], []
    color = grad_rgb is not None and bool(grad_rgb.ne(0).any())
    if color:
        images.append(fine["rgb"])
        grads.append(up(grad_rgb.to(fine["rgb"].dtype)))
    if grad_alpha is not None and bool(grad_alpha.ne(0).any()):
        images.append(fine["alpha"][..., None])
        grads.append(up(grad_alpha.to(fine["alpha"].dtype))[..., None])
    out = torch.zeros(s, s, 3, dtype=fine["alpha"].dtype)
    if not images:
        return out
    mesh = scene.mesh
    verts, faces = mesh.verts.detach(), mesh.faces
    tri = project_mesh(verts, faces, scene.camera.detached()).tri
    image, grad = torch.cat(images, -1), torch.cat(grads, -1)
    eps = COLOR_EPS if color else SILHOUETTE_EPS
    ndc = torch.zeros(SUPERSAMPLE * s, SUPERSAMPLE * s, 2, dtype=out.dtype)
    for face in torch.nonzero((faces == vertex).any(1), as_tuple=True)[0].tolist():
        terms = face_contributions(tri, fine["face_id"], image, grad, eps, face)
        for corner in torch.nonzero(faces[face] == vertex, as_tuple=True)[0].tolist():
            ndc += terms[:, :, corner]
    jac = _ndc_jacobian(verts[vertex], scene)                            # (2, 3)
    world = ndc @ jac.to(ndc.dtype)
    return world.reshape(s, SUPERSAMPLE, s, SUPERSAMPLE, 3).sum(dim=(1, 3))


def _ndc_jacobian(point: torch.Tensor, scene: Scene) -> torch.Tensor:
    """d(NDC x, y)/d(world x, y, z) of one point under the scene's camera: (2, 3)."""
    vp = scene.camera.detached().view_projection().to(point.dtype)

    def ndc(p):
        clip = vp[:, :3] @ p + vp[:, 3]
        return clip[:2] / clip[3]

    with torch.enable_grad():
        return torch.autograd.functional.jacobian(ndc, point)
