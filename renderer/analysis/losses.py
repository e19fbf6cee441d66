"""Image losses against a target, and mesh regularizers; each docstring states its formula.

Image losses compare a render (rgb (S, S, 3), alpha (S, S)) with a ``Target`` of the same size.
Regularizers take vertices (V, 3) and faces (F, 3); pass ``topology_faces(mesh)`` as faces so that
vertices split at UV seams count as one (otherwise every seam looks like a boundary).
All losses return 0-d tensors, differentiable in their inputs, and use means (the SoftRas
originals of the Laplacian and flatten losses are sums: N times these).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from ..mesh import Mesh, face_normals

IOU_EPS = 1e-6


@dataclass
class Target:
    """The image a render is compared with: rgb (S, S, 3) linear colour, alpha (S, S) coverage."""

    rgb: torch.Tensor
    alpha: torch.Tensor

    @property
    def image_size(self) -> int:
        return int(self.alpha.shape[0])

    def to(self, dtype: torch.dtype, device: torch.device | str = "cpu") -> "Target":
        return Target(self.rgb.to(device=device, dtype=dtype), self.alpha.to(device=device, dtype=dtype))


# ---------------------------------------------------------------------------------- image losses

def silhouette_iou_loss(alpha: torch.Tensor, target_alpha: torch.Tensor) -> torch.Tensor:
    """Soft silhouette IoU loss (SoftRas): L = 1 - sum(A T) / (sum(A + T - A T) + 1e-6).

    alpha, target_alpha: (S, S) in [0, 1] -> 0-d. dL/dA = -(T U - I (1 - T)) / U^2 with
    I = sum(A T), U = sum(A + T - A T): zero wherever neither image has coverage.
    """
    inter = (alpha * target_alpha).sum()
    union = (alpha + target_alpha - alpha * target_alpha).sum()
    return 1 - inter / (union + IOU_EPS)


def silhouette_mse_loss(alpha: torch.Tensor, target_alpha: torch.Tensor) -> torch.Tensor:
    """Silhouette mean squared error: L = mean_i (A_i - T_i)^2. alpha, target_alpha: (S, S)."""
    return ((alpha - target_alpha) ** 2).mean()


def photometric_l1_loss(rgb: torch.Tensor, target_rgb: torch.Tensor,
                        mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Photometric L1: L = mean_{i,c} |I_ic - T_ic| (over the (S, S) pixels where ``mask`` is
    true, if given). rgb, target_rgb: (S, S, 3); mask: optional (S, S) bool."""
    diff = (rgb - target_rgb).abs()
    return diff.mean() if mask is None else diff[mask].mean()


def photometric_l2_loss(rgb: torch.Tensor, target_rgb: torch.Tensor,
                        mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Photometric L2 (mean squared error): L = mean_{i,c} (I_ic - T_ic)^2. Shapes as L1."""
    diff = (rgb - target_rgb) ** 2
    return diff.mean() if mask is None else diff[mask].mean()


def _gaussian_window(size: int = 11, sigma: float = 1.5, dtype=torch.float32, device=None) -> torch.Tensor:
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-x * x / (2 * sigma * sigma))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None].expand(3, 1, size, size).contiguous()


def ssim(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004; 11 x 11 Gaussian window, sigma 1.5, C1 = 0.01^2,
    C2 = 0.03^2, as 3DGS). image, target: (S, S, 3) -> 0-d."""
    import torch.nn.functional as F

    x, y = image.permute(2, 0, 1)[None], target.permute(2, 0, 1)[None].to(image.dtype)
    win = _gaussian_window(dtype=image.dtype, device=image.device)
    conv = lambda t: F.conv2d(t, win, padding=5, groups=3)  # noqa: E731
    mx, my = conv(x), conv(y)
    sxx, syy, sxy = conv(x * x) - mx * mx, conv(y * y) - my * my, conv(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean()


def l1_ssim_loss(rgb: torch.Tensor, target_rgb: torch.Tensor, ssim_weight: float = 0.2) -> torch.Tensor:
    """3D Gaussian splatting's photometric loss: (1 - w) mean |I - T| + w (1 - SSIM(I, T)),
    w = 0.2. rgb, target_rgb: (S, S, 3)."""
    l1 = (rgb - target_rgb).abs().mean()
    return (1 - ssim_weight) * l1 + ssim_weight * (1 - ssim(rgb, target_rgb))


@dataclass(frozen=True)
class ImageLoss:
    """A named image loss: ``channel`` is the buffer it reads ("alpha" or "rgb")."""

    name: str
    channel: str
    formula: str
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def __call__(self, rgb: torch.Tensor, alpha: torch.Tensor, target: Target) -> torch.Tensor:
        if self.channel == "alpha":
            return self.fn(alpha, target.alpha.to(alpha.dtype))
        return self.fn(rgb, target.rgb.to(rgb.dtype))


IMAGE_LOSSES = {
    "silhouette": ImageLoss("silhouette", "alpha", "1 - IoU(A, T)", silhouette_iou_loss),
    "silhouette-mse": ImageLoss("silhouette-mse", "alpha", "mean (A - T)^2", silhouette_mse_loss),
    "l1": ImageLoss("l1", "rgb", "mean |I - T|", photometric_l1_loss),
    "l2": ImageLoss("l2", "rgb", "mean (I - T)^2", photometric_l2_loss),
    "l1-ssim": ImageLoss("l1-ssim", "rgb", "0.8 mean |I - T| + 0.2 (1 - SSIM)", l1_ssim_loss),
}


def get_loss(name: str) -> ImageLoss:
    """The image loss called ``name``; ValueError naming the choices otherwise."""
    if name not in IMAGE_LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(IMAGE_LOSSES)}")
    return IMAGE_LOSSES[name]


# ---------------------------------------------------------------------------------- topology

def topology_faces(mesh: Mesh) -> torch.Tensor:
    """(F, 3) faces with vertices welded by position (``mesh.weld``), for regularizers."""
    return mesh.faces if mesh.weld is None else mesh.weld[mesh.faces]


def unique_edges(faces: torch.Tensor) -> torch.Tensor:
    """(E, 2) int64 undirected edges of a triangle mesh, each once (smaller index first)."""
    e = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]], dim=0)
    return torch.unique(torch.sort(e, dim=1).values, dim=0)


def interior_edges(faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Edges shared by exactly two faces.

    faces: (F, 3) -> edge (M, 2) vertex ids, opposite (M, 2) the vertex of each of the two faces
    that is not on the edge, adjacent (M, 2) the two face ids.
    """
    f = faces.shape[0]
    ids = torch.arange(f, device=faces.device)
    a = torch.cat([faces[:, 0], faces[:, 1], faces[:, 2]])
    b = torch.cat([faces[:, 1], faces[:, 2], faces[:, 0]])
    opp = torch.cat([faces[:, 2], faces[:, 0], faces[:, 1]])
    face = torch.cat([ids, ids, ids])
    lo, hi = torch.minimum(a, b), torch.maximum(a, b)
    key = lo * (int(faces.max()) + 1 if faces.numel() else 1) + hi
    order = torch.argsort(key, stable=True)
    key, lo, hi, opp, face = key[order], lo[order], hi[order], opp[order], face[order]
    _, counts = torch.unique_consecutive(key, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    first = starts[counts == 2]
    edge = torch.stack([lo[first], hi[first]], dim=1)
    return edge, torch.stack([opp[first], opp[first + 1]], 1), torch.stack([face[first], face[first + 1]], 1)


# ---------------------------------------------------------------------------------- regularizers

def uniform_laplacian_loss(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Uniform Laplacian smoothness: L = (1/V') sum_i || v_i - (1/|N(i)|) sum_{j in N(i)} v_j ||^2
    over the V' vertices that have neighbours (N(i): vertices sharing an edge with i).
    verts: (V, 3); faces: (F, 3) -> 0-d."""
    edges = unique_edges(faces)
    both = torch.cat([edges, edges.flip(1)], dim=0)                           # (2E, 2) directed
    n = verts.shape[0]
    nb_sum = torch.zeros_like(verts).index_add(0, both[:, 0], verts[both[:, 1]])
    degree = torch.zeros(n, dtype=verts.dtype, device=verts.device).index_add(
        0, both[:, 0], torch.ones(both.shape[0], dtype=verts.dtype, device=verts.device))
    has = degree > 0
    lap = verts[has] - nb_sum[has] / degree[has, None]
    return (lap * lap).sum(-1).mean()


def flatten_loss(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """SoftRas flatten loss: L = (1/M) sum_edges (cos theta_e + 1)^2 over the M interior edges.

    For edge (i, j) with opposite vertices k and l of its two faces, a and b are the components of
    v_k - v_i and v_l - v_i perpendicular to the edge, and cos theta = a.b / (|a| |b|): -1 when the
    two faces are coplanar (loss 0), +1 when folded flat onto each other. verts: (V, 3)."""
    edge, opposite, _ = interior_edges(faces)
    vi, vj = verts[edge[:, 0]], verts[edge[:, 1]]
    e = vj - vi
    e = e / e.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def perpendicular(p: torch.Tensor) -> torch.Tensor:
        d = p - vi
        return d - (d * e).sum(-1, keepdim=True) * e

    a, b = perpendicular(verts[opposite[:, 0]]), perpendicular(verts[opposite[:, 1]])
    cos = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(1e-12)
    return ((cos + 1) ** 2).mean()


def edge_length_loss(verts: torch.Tensor, faces: torch.Tensor, target_length: float = 0.0) -> torch.Tensor:
    """Edge length: L = (1/E) sum_edges (|v_i - v_j| - target)^2 over unique edges; with target 0
    it is the mean squared edge length. verts: (V, 3); faces: (F, 3) -> 0-d."""
    edges = unique_edges(faces)
    d = verts[edges[:, 0]] - verts[edges[:, 1]]
    if target_length == 0.0:
        return (d * d).sum(-1).mean()
    return ((d.norm(dim=-1) - target_length) ** 2).mean()


def normal_consistency_loss(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Normal consistency: L = (1/M) sum_edges (1 - n_a . n_b) over interior edges, n_a and n_b
    the unit normals of the two faces sharing the edge (consistently oriented mesh assumed)."""
    _, _, adjacent = interior_edges(faces)
    n = face_normals(verts, faces)
    return (1 - (n[adjacent[:, 0]] * n[adjacent[:, 1]]).sum(-1)).mean()


REGULARIZERS = {
    "laplacian": uniform_laplacian_loss,
    "flatten": flatten_loss,
    "edge": edge_length_loss,
    "normal": normal_consistency_loss,
}
