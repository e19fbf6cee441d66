"""EWA projection of 3D Gaussians to the screen (gsplat's ``fully_fused_projection`` semantics,
written for this project's camera): the one function both the torch renderers and the GL
reference read, so the two views draw the same conics.

Pixel coordinates here are (column, row) with pixel centres at whole numbers and row 0 at the
top: the continuous form of DESIGN.md §2 (``renderer.camera.ndc_to_pixel``).

    mu_c = R_view mu + t_view          (OpenGL view space, looking down -Z; depth z = -z_c)
    mu_2D = ndc_to_pixel(P mu_c / w)   (P = camera.projection_matrix(), w = z)
    J = d mu_2D / d mu_c               (2 x 3, from P; x/z and y/z clamped to 1.3 x the frustum)
    Sigma_2D = J R_view Sigma R_view^T J^T + 0.3 I   (pixels^2; 0.3 = gsplat's eps2d)
    conic = Sigma_2D^-1 (det clamped at >= 1e-10)
    box half-widths r = ceil(k sqrt(Sigma_2D_xx)), ceil(k sqrt(Sigma_2D_yy)),
        k = min(3.33, sqrt(2 ln(255 o)))   (see ``footprint_sigmas``)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..camera import OrbitCamera, ndc_to_pixel
from .cloud import GaussianCloud, quat_to_rotmat, sh_colors

EPS2D = 0.3                 # px^2 added to every projected covariance (gsplat's default eps2d)
FOOTPRINT_SIGMAS = 3.33     # the footprint box, in standard deviations (gsplat)
ALPHA_CUTOFF = 1.0 / 255.0  # fragments with alpha below this are dropped (forward and backward)
MAX_ALPHA = 0.99            # alpha = min(o G, MAX_ALPHA)
FRUSTUM_CLAMP = 1.3         # x/z, y/z are clamped to 1.3 x the frustum before forming J (gsplat)
MIN_DET = 1e-10


@dataclass
class ProjectedSplats:
    """Every splat on the screen, in camera order (index i is splat i of the cloud).

    mean2d: (N, 2) float pixel (col, row), centres at whole numbers; cov2d: (N, 2, 2) float px^2
    (eps2d included); conic: (N, 3) float (a, b, c) of Sigma_2D^-1 = [[a, b], [b, c]]; depth:
    (N,) float view depth z (> 0 in front); radius: (N, 2) int64 footprint box half-widths in
    pixels (0 for culled splats); valid: (N,) bool in front (near < z < far), with a box that
    touches the image; opacity: (N,) float; color: (N, 3) float view-dependent colour.
    Everything but radius and valid keeps the autograd graph.
    """

    mean2d: torch.Tensor
    cov2d: torch.Tensor
    conic: torch.Tensor
    depth: torch.Tensor
    radius: torch.Tensor
    valid: torch.Tensor
    opacity: torch.Tensor
    color: torch.Tensor

    @property
    def num_splats(self) -> int:
        return int(self.depth.shape[0])


def footprint_sigmas(opacity: torch.Tensor) -> torch.Tensor:
    """The box size k in standard deviations: min(3.33, sqrt(2 ln(255 o))) ((N,) -> (N,)).

    o exp(-m^2 / 2) >= 1/255 only where the Mahalanobis distance m <= sqrt(2 ln(255 o)), so the
    shrunk box drops no fragment the 1/255 cut-off keeps (for o <= 1, sqrt(2 ln 255) = 3.329 is
    gsplat's 3.33 box itself); k = 0 for o <= 1/255 (a splat that can never show)."""
    o = opacity.detach().clamp_min(ALPHA_CUTOFF)
    return torch.sqrt(2 * torch.log(255.0 * o)).clamp_max(FOOTPRINT_SIGMAS)


def camera_jacobian(points_cam: torch.Tensor, proj: torch.Tensor, image_size: int) -> torch.Tensor:
    """d(pixel col, row) / d(view-space point), from the projection matrix itself.

    points_cam: (N, 3) view space; proj: (4, 4) -> (N, 2, 3). ndc = clip_xy / w with clip = P p;
    d ndc_k / dp = (P_k - ndc_k P_3) / w, with ndc clamped to +-1.3 (gsplat's frustum clamp, so
    splats far outside the view do not get huge footprints); col = (ndc_x + 1) S/2 - 1/2 and
    row = (1 - ndc_y) S/2 - 1/2 scale the rows by S/2 and -S/2."""
    homo = torch.cat([points_cam, torch.ones_like(points_cam[:, :1])], dim=1)
    clip = homo @ proj.T
    w = clip[:, 3:4]
    # a point on the camera plane (w = 0) is culled; keep its J finite so no NaN reaches a gradient
    w = torch.where(w.abs() > 1e-12, w, torch.ones_like(w))
    ndc = (clip[:, :2] / w).clamp(-FRUSTUM_CLAMP, FRUSTUM_CLAMP)
    rows = (proj[None, :2, :3] - ndc[:, :, None] * proj[None, 3:4, :3]) / w[:, :, None]
    scale = torch.tensor([image_size / 2, -image_size / 2], dtype=rows.dtype, device=rows.device)
    return rows * scale[None, :, None]


def project_splats(cloud: GaussianCloud, camera: OrbitCamera, image_size: int,
                   eps2d: float = EPS2D) -> ProjectedSplats:
    """Project every splat of ``cloud`` seen by ``camera`` into an S x S image (see the module
    docstring for the formulas). Differentiable in the cloud's tensors and the camera."""
    dtype, device = cloud.means.dtype, cloud.means.device
    view = camera.view_matrix().to(dtype=dtype, device=device)
    proj = camera.projection_matrix().to(dtype=dtype, device=device)
    rot, trans = view[:3, :3], view[:3, 3]
    points_cam = cloud.means @ rot.T + trans
    homo = torch.cat([points_cam, torch.ones_like(points_cam[:, :1])], dim=1) @ proj.T
    depth = homo[:, 3]
    safe_w = torch.where(depth.abs() > 1e-12, depth, torch.ones_like(depth))
    col, row = ndc_to_pixel(homo[:, 0] / safe_w, homo[:, 1] / safe_w, image_size)
    mean2d = torch.stack([col, row], dim=1)

    # Sigma_2D = (J W M)(J W M)^T with M = R diag(s), so Sigma = M M^T. Written as broadcast
    # products: batched 3 x 3 matmuls cost more than the whole rasterization on a CPU.
    jw = (camera_jacobian(points_cam, proj, image_size)[:, :, :, None] * rot[None, None]).sum(2)   # (N, 2, 3)
    m = quat_to_rotmat(cloud.quats) * cloud.scales[:, None, :]                                    # (N, 3, 3)
    jwm = (jw[:, :, :, None] * m[:, None, :, :]).sum(2)                                           # (N, 2, 3)
    cov2d = (jwm[:, :, None, :] * jwm[:, None, :, :]).sum(-1)
    cov2d = cov2d + eps2d * torch.eye(2, dtype=dtype, device=device)
    a, b, c = cov2d[:, 0, 0], cov2d[:, 0, 1], cov2d[:, 1, 1]
    det = (a * c - b * b).clamp_min(MIN_DET)
    conic = torch.stack([c / det, -b / det, a / det], dim=1)

    with torch.no_grad():
        k = footprint_sigmas(cloud.opacities)
        radius = torch.stack([torch.ceil(k * a.clamp_min(0).sqrt()),
                              torch.ceil(k * c.clamp_min(0).sqrt())], dim=1)
        radius = torch.nan_to_num(radius, nan=0.0, posinf=0.0).to(torch.int64)
        near, far = float(camera.near), float(camera.far)
        lo, hi = mean2d.detach() - radius, mean2d.detach() + radius
        on_image = (hi >= 0).all(1) & (lo <= image_size - 1).all(1)
        valid = (depth.detach() > near) & (depth.detach() < far) & on_image & (radius > 0).all(1)
        valid &= torch.isfinite(mean2d.detach()).all(1)
        radius = torch.where(valid[:, None], radius, torch.zeros_like(radius))

    eye = camera.eye.to(dtype=dtype, device=device)
    dirs = cloud.means - eye
    dirs = dirs / dirs.norm(dim=1, keepdim=True).clamp_min(1e-12)
    color = sh_colors(cloud.sh, dirs)
    return ProjectedSplats(mean2d=mean2d, cov2d=cov2d, conic=conic, depth=depth, radius=radius,
                           valid=valid, opacity=cloud.opacities, color=color)


def focal_px(camera: OrbitCamera, image_size: int) -> float:
    """The focal length in pixels, f = S / (2 tan(fov / 2)) (square images)."""
    return image_size / (2 * math.tan(math.radians(float(camera.fov)) / 2))
