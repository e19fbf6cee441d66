"""A naive dense SoftRas / DIB-R: every pixel against every face, an (S*S, F) broadcast written
straight from DESIGN.md §3, for checking the sparse tiled renderers on small scenes (test-only)."""
from __future__ import annotations

import math

import torch

from renderer.mesh import vertex_normals
from renderer.shading import shade


def _project(scene):
    verts = scene.mesh.verts
    vp = scene.camera.view_projection().to(verts.dtype)
    clip = torch.cat([verts, torch.ones_like(verts[:, :1])], 1) @ vp.T
    return clip[:, :2] / clip[:, 3:], clip[:, 3]


def _pixel_grid(s, dtype):
    c = -1 + (2 * torch.arange(s, dtype=dtype) + 1) / s
    py, px = torch.meshgrid(-c, c, indexing="ij")
    return torch.stack([px.reshape(-1), py.reshape(-1)], 1)                 # (S*S, 2)


def _seg_d2(p, a, b):
    ab = b - a
    t = (((p - a) * ab).sum(-1) / (ab * ab).sum(-1)).clamp(0, 1)
    q = a + t[..., None] * ab
    return ((p - q) ** 2).sum(-1)


def dense_geometry(scene):
    """-> d2 (N, F), inside (N, F), screen barycentrics (N, F, 3), corner depths (F, 3)."""
    ndc, w = _project(scene)
    faces = scene.mesh.faces
    tri = ndc[faces]                                                        # (F, 3, 2)
    p = _pixel_grid(scene.settings.image_size, ndc.dtype)[:, None, :]       # (N, 1, 2)
    a, b, c = tri[None, :, 0], tri[None, :, 1], tri[None, :, 2]
    d2 = torch.minimum(torch.minimum(_seg_d2(p, a, b), _seg_d2(p, b, c)), _seg_d2(p, c, a))

    def cross(u, v):
        return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]

    area = cross(b - a, c - a)                                              # (1, F)
    la, lb, lc = cross(c - b, p - b) / area, cross(a - c, p - c) / area, cross(b - a, p - a) / area
    bary = torch.stack([la, lb, lc], -1)
    inside = (bary >= 0).all(-1)
    return d2, inside, bary, w[faces], area[0]


def dense_softras(scene):
    """rgb (S, S, 3) and alpha (S, S) by the DESIGN.md formulas, dense."""
    st, cam, mesh = scene.settings, scene.camera, scene.mesh
    s = st.image_size
    d2, inside, bary, zc, area = dense_geometry(scene)
    sign = torch.where(inside, 1.0, -1.0).to(d2.dtype)
    D = torch.sigmoid(sign * d2 / st.sigma)
    keep = inside | (d2 < st.sigma * math.log(1 / 1e-4 - 1))
    D = torch.where(keep, D, torch.zeros_like(D))
    alpha = 1 - torch.prod(1 - D, dim=1)
    b = bary.clamp_min(0)
    b = b / b.sum(-1, keepdim=True)
    bz = b / zc[None]
    z = 1 / bz.sum(-1)
    wts = bz * z[..., None]                                                 # (N, F, 3)
    zbar = (cam.far - z) / (cam.far - cam.near)
    front = area > 0
    use = keep & (front[None] if not st.double_sided else torch.ones_like(keep))
    eps = 1e-3
    logits = torch.where(use, torch.log(D.clamp_min(1e-300)) + zbar / st.gamma, torch.full_like(D, -math.inf))
    logits = torch.cat([logits, torch.full_like(logits[:, :1], eps / st.gamma)], 1)
    w = torch.softmax(logits, dim=1)
    # shaded colour of every (pixel, face) pair
    faces = mesh.faces
    n, f = d2.shape
    def interp(attr):
        return (wts[..., None] * attr[faces][None]).sum(2)                 # (N, F, C)
    pos = interp(mesh.verts)
    nrm = interp(vertex_normals(mesh.verts, faces, mesh.weld))
    nrm = nrm / nrm.norm(dim=-1, keepdim=True)
    if st.double_sided:  # faces seen from behind are lit on their back side
        nrm = torch.where(front[None, :, None], nrm, -nrm)
    albedo = interp(mesh.colors) if mesh.colors is not None else scene.material.albedo.to(d2.dtype).expand(n, f, 3)
    col = shade(st.lighting, albedo.reshape(-1, 3).T, nrm.reshape(-1, 3).T, pos.reshape(-1, 3).T,
                cam.eye.to(d2.dtype), scene.lights, scene.material).T.reshape(n, f, 3)
    bg = torch.tensor(st.background, dtype=d2.dtype)
    rgb = (w[:, :f, None] * col).sum(1) + w[:, f:] * bg
    return rgb.reshape(s, s, 3), alpha.reshape(s, s)


def dense_dibr_alpha(scene):
    """DIB-R silhouette, dense: 1 on covered pixels, 1 - prod(1 - exp(-d2/delta)) elsewhere."""
    st = scene.settings
    d2, inside, *_ = dense_geometry(scene)
    covered = inside.any(1)
    p = torch.exp(-d2 / st.dibr_delta)
    p = torch.where(d2 < st.dibr_delta * math.log(1e4), p, torch.zeros_like(p))
    soft = 1 - torch.prod(1 - p, dim=1)
    s = st.image_size
    return torch.where(covered, torch.ones_like(soft), soft).reshape(s, s)
