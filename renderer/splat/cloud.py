"""The Gaussian cloud: the "splats" representation (3D Gaussian splatting, Kerbl et al. 2023).

Each splat i is a 3D Gaussian with mean mu_i, covariance Sigma_i = R_i diag(s_i^2) R_i^T (R_i
from the quaternion q_i = (w, x, y, z), normalised here, so it need not be unit), an opacity o_i
in (0, 1) and a view-dependent colour from real spherical harmonics of degree 0..3 (docs/splats.md).
Parameters are stored in their natural units (linear scales, opacities in (0, 1)); the PLY
loader undoes the 3DGS file's log-scales and opacity logits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import ClassVar

import torch

from ..shapes import register_shape

# Real SH constants as 3DGS / gsplat evaluate them (band 0..3), colour = sum_k c_k Y_k(d) + 0.5.
SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792,
         0.5462742152960396)
SH_C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
         -0.4570457994644658, 1.445305721320277, -0.5900435899266435)
MAX_SH_DEGREE = 3


def sh_coefficient_count(degree: int) -> int:
    """(degree + 1)^2: 1, 4, 9, 16 coefficients per colour channel."""
    return (degree + 1) ** 2


def sh_degree_of(count: int) -> int:
    """The SH degree with ``count`` coefficients per channel; ValueError for other counts."""
    degree = int(round(math.sqrt(count))) - 1
    if sh_coefficient_count(degree) != count or not 0 <= degree <= MAX_SH_DEGREE:
        raise ValueError(f"{count} SH coefficients per channel is not a degree 0..3 set "
                         "(expected 1, 4, 9 or 16)")
    return degree


def rgb_to_sh_dc(rgb: torch.Tensor) -> torch.Tensor:
    """Colour in [0, 1] -> the degree-0 coefficient that gives it: (c - 0.5) / C0. (..., 3)."""
    return (rgb - 0.5) / SH_C0


def sh_to_rgb_dc(dc: torch.Tensor) -> torch.Tensor:
    """The view-independent colour of the degree-0 coefficient: C0 dc + 0.5. (..., 3)."""
    return SH_C0 * dc + 0.5


def sh_basis_3dgs(dirs: torch.Tensor, degree: int) -> torch.Tensor:
    """Real SH basis in 3DGS order and signs at unit directions.

    dirs: (N, 3) unit float -> (N, (degree + 1)^2)."""
    x, y, z = dirs.unbind(-1)
    out = [torch.full_like(x, SH_C0)]
    if degree >= 1:
        out += [-SH_C1 * y, SH_C1 * z, -SH_C1 * x]
    if degree >= 2:
        xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
        out += [SH_C2[0] * xy, SH_C2[1] * yz, SH_C2[2] * (2 * zz - xx - yy), SH_C2[3] * xz,
                SH_C2[4] * (xx - yy)]
    if degree >= 3:
        out += [SH_C3[0] * y * (3 * xx - yy), SH_C3[1] * xy * z, SH_C3[2] * y * (4 * zz - xx - yy),
                SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy), SH_C3[4] * x * (4 * zz - xx - yy),
                SH_C3[5] * z * (xx - yy), SH_C3[6] * x * (xx - 3 * yy)]
    return torch.stack(out, dim=-1)


def sh_colors(sh: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """View-dependent colour, clamped below at 0 as 3DGS does: max(sum_k c_k Y_k(d) + 0.5, 0).

    sh: (N, K, 3); dirs: (N, 3) unit directions from the camera to each splat -> (N, 3)."""
    degree = sh_degree_of(sh.shape[1])
    basis = sh_basis_3dgs(dirs.to(sh.dtype), degree)             # (N, K)
    return torch.clamp_min((basis[:, :, None] * sh).sum(1) + 0.5, 0.0)


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """Rotation matrices of quaternions in wxyz order (normalised first). (N, 4) -> (N, 3, 3)."""
    q = quats / quats.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    w, x, y, z = q.unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1).reshape(*q.shape[:-1], 3, 3)


def covariances(scales: torch.Tensor, quats: torch.Tensor) -> torch.Tensor:
    """Sigma = R diag(s) (R diag(s))^T. scales: (N, 3); quats: (N, 4) wxyz -> (N, 3, 3)."""
    m = quat_to_rotmat(quats) * scales[:, None, :]
    return m @ m.transpose(-1, -2)


@register_shape
@dataclass
class GaussianCloud:
    """A cloud of 3D Gaussians.

    means: (N, 3) float world positions; scales: (N, 3) float, linear, positive (standard
    deviations along the splat's own axes); quats: (N, 4) float wxyz (any length, normalised when
    used); opacities: (N,) float in (0, 1); sh: (N, K, 3) float SH colour coefficients, K = 1, 4,
    9 or 16 (degree 0..3), coefficient 0 the view-independent part (colour = C0 sh0 + 0.5).
    ``center`` and ``scale`` record the load-time normalisation (as ``Mesh``):
    means = (original - center) * scale, scales likewise multiplied by ``scale``.
    """

    kind: ClassVar[str] = "splats"
    element_name: ClassVar[str] = "splat"

    means: torch.Tensor
    scales: torch.Tensor
    quats: torch.Tensor
    opacities: torch.Tensor
    sh: torch.Tensor
    name: str = "splats"
    center: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: float = 1.0
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.means.shape[0]
        expected = {"means": (n, 3), "scales": (n, 3), "quats": (n, 4), "opacities": (n,)}
        for key, shape in expected.items():
            if tuple(getattr(self, key).shape) != shape:
                raise ValueError(f"GaussianCloud.{key} must be {shape}, got {tuple(getattr(self, key).shape)}")
        if self.sh.dim() != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            raise ValueError(f"GaussianCloud.sh must be (N, K, 3) with N = {n}, got {tuple(self.sh.shape)}")
        sh_degree_of(self.sh.shape[1])

    @property
    def num_splats(self) -> int:
        return int(self.means.shape[0])

    @property
    def num_elements(self) -> int:
        return self.num_splats

    @property
    def sh_degree(self) -> int:
        return sh_degree_of(self.sh.shape[1])

    @property
    def dtype(self) -> torch.dtype:
        return self.means.dtype

    def base_colors(self) -> torch.Tensor:
        """(N, 3) the view-independent colour C0 sh0 + 0.5 (what the GUI paints for a splat)."""
        return sh_to_rgb_dc(self.sh[:, 0])

    def covariances(self) -> torch.Tensor:
        """(N, 3, 3) world-space covariances."""
        return covariances(self.scales, self.quats)

    def with_params(self, **changes: torch.Tensor) -> "GaussianCloud":
        """The same cloud with some tensors swapped (e.g. an optimisation's current state)."""
        return replace(self, **changes)

    def to(self, device: torch.device | str) -> "GaussianCloud":
        device = torch.device(device)
        return replace(self, **{k: getattr(self, k).to(device) for k in PARAM_FIELDS})

    def detached(self) -> "GaussianCloud":
        return replace(self, **{k: getattr(self, k).detach() for k in PARAM_FIELDS})

    def subset(self, index: torch.Tensor) -> "GaussianCloud":
        """The splats selected by ``index`` ((M,) int64 or (N,) bool)."""
        return replace(self, **{k: getattr(self, k)[index] for k in PARAM_FIELDS})


PARAM_FIELDS = ("means", "scales", "quats", "opacities", "sh")


def make_cloud(means: torch.Tensor, scales: torch.Tensor, colors: torch.Tensor,
               opacities: torch.Tensor | float = 0.9, quats: torch.Tensor | None = None,
               sh_degree: int = 0, name: str = "splats") -> GaussianCloud:
    """A cloud from plain values: means (N, 3); scales (N, 3) or (N,) (isotropic); colors (N, 3)
    in [0, 1] (the view-independent colour; higher SH bands start at 0); opacities (N,) or a
    number; quats (N, 4) wxyz, default identity."""
    n = means.shape[0]
    kw = dict(dtype=means.dtype, device=means.device)
    if scales.dim() == 1:
        scales = scales[:, None].expand(n, 3).contiguous()
    if not isinstance(opacities, torch.Tensor):
        opacities = torch.full((n,), float(opacities), **kw)
    if quats is None:
        quats = torch.zeros(n, 4, **kw)
        quats[:, 0] = 1.0
    sh = torch.zeros(n, sh_coefficient_count(sh_degree), 3, **kw)
    sh[:, 0] = rgb_to_sh_dc(colors.to(**kw))
    return GaussianCloud(means=means, scales=scales.to(**kw), quats=quats.to(**kw),
                         opacities=opacities.to(**kw), sh=sh, name=name)
