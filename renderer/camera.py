"""The orbit camera: the one source of truth for view and projection (DESIGN.md §2).

Both the torch renderers and the GLSL shaders read ``view_matrix()`` and ``projection_matrix()``
from here, so the two views cannot disagree on where a point lands.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Union

import torch

Scalar = Union[float, torch.Tensor]


def _as_tensor(x: Scalar, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    return torch.tensor(float(x), dtype=dtype)


def direction_from_angles(azimuth_deg: Scalar, elevation_deg: Scalar) -> torch.Tensor:
    """Unit vector (cos(el) sin(az), sin(el), cos(el) cos(az)): azimuth 0 points to +Z.

    The same parametrisation serves the camera eye and light directions. Angles in degrees
    (floats or 0-d tensors, differentiable) -> (3,) float.
    """
    az = torch.deg2rad(_as_tensor(azimuth_deg))
    el = torch.deg2rad(_as_tensor(elevation_deg))
    return torch.stack([torch.cos(el) * torch.sin(az), torch.sin(el), torch.cos(el) * torch.cos(az)])


@dataclass
class OrbitCamera:
    """A camera orbiting ``target``; angles in degrees, OpenGL view space (looks down -Z).

    azimuth, elevation, distance, fov: floats or 0-d tensors (make them ``requires_grad`` tensors
    to differentiate through the camera); target: (3,) float; near, far: clip planes.
    """

    azimuth: Scalar = 0.0
    elevation: Scalar = 0.0
    distance: Scalar = 3.0
    fov: Scalar = 60.0
    target: tuple[float, float, float] = (0.0, 0.0, 0.0)
    near: float = 0.1
    far: float = 100.0

    def __post_init__(self) -> None:
        for name in ("azimuth", "elevation", "distance", "fov"):
            setattr(self, name, _as_tensor(getattr(self, name)))

    @property
    def dtype(self) -> torch.dtype:
        return self.distance.dtype

    def _target(self) -> torch.Tensor:
        return torch.tensor(self.target, dtype=self.dtype, device=self.distance.device)

    @property
    def eye(self) -> torch.Tensor:
        """(3,) camera position: target + distance * direction_from_angles(azimuth, elevation)."""
        return self._target() + self.distance * direction_from_angles(self.azimuth, self.elevation)

    def basis(self) -> torch.Tensor:
        """(3, 3) rows: camera right, up and backward (+Z of view space) in world coordinates.

        Built from the angles rather than from a cross product with world up, so it stays finite
        and smooth at elevation +-90 degrees (looking straight down or up).
        """
        back = direction_from_angles(self.azimuth, self.elevation)
        az = torch.deg2rad(self.azimuth)
        zero = torch.zeros_like(az)
        right = torch.stack([torch.cos(az), zero, -torch.sin(az)])
        up = torch.cross(back, right, dim=0)
        return torch.stack([right, up, back])

    def view_matrix(self) -> torch.Tensor:
        """(4, 4) world -> view (OpenGL: camera at origin, looking down -Z, +Y up)."""
        rot = self.basis()
        trans = -(rot @ self.eye)
        top = torch.cat([rot, trans[:, None]], dim=1)
        bottom = torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=top.dtype, device=top.device)
        return torch.cat([top, bottom], dim=0)

    def projection_matrix(self) -> torch.Tensor:
        """(4, 4) OpenGL perspective projection, square aspect, vertical field of view ``fov``."""
        f = 1.0 / torch.tan(torch.deg2rad(self.fov) / 2)
        n, fa = self.near, self.far
        z = torch.zeros_like(f)
        rows = [
            [f, z, z, z],
            [z, f, z, z],
            [z, z, z + (fa + n) / (n - fa), z + 2 * fa * n / (n - fa)],
            [z, z, z - 1.0, z],
        ]
        return torch.stack([torch.stack(r) for r in rows])

    def view_projection(self) -> torch.Tensor:
        """(4, 4) projection @ view."""
        return self.projection_matrix() @ self.view_matrix()

    def replace(self, **changes) -> "OrbitCamera":
        return replace(self, **changes)

    def detached(self) -> "OrbitCamera":
        """A copy whose parameters are fresh leaf tensors (no autograd history)."""
        return replace(self, **{k: getattr(self, k).detach().clone()
                                for k in ("azimuth", "elevation", "distance", "fov")})


def pixel_centre_ndc(col: torch.Tensor, row: torch.Tensor, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The one pixel-centre convention (DESIGN.md §2): pixel (row r, column c) of an S x S image,
    row 0 at the top, has its centre at NDC x = -1 + (2c + 1)/S, y = 1 - (2r + 1)/S.
    col, row: integer or float tensors (any shape, same dtype as wanted) -> (x, y)."""
    return -1 + (2 * col + 1) / image_size, 1 - (2 * row + 1) / image_size


def ndc_to_pixel(x: torch.Tensor, y: torch.Tensor, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The inverse of ``pixel_centre_ndc`` for continuous positions: NDC (x, y) -> (c, r) with
    pixel centres at whole numbers (add 0.5 for the pixel-corner coordinates overlays use)."""
    return (x + 1) * image_size / 2 - 0.5, (1 - y) * image_size / 2 - 0.5


def project_points(points: torch.Tensor, camera: OrbitCamera, image_size: int) -> torch.Tensor:
    """World points -> pixel coordinates (column, row), row 0 at the top, pixel centres at +0.5.

    points: (N, 3) float -> (N, 2) float, from NDC x = -1 + (2c + 1)/S, y = 1 - (2r + 1)/S
    (DESIGN.md §2) solved for the continuous (c + 0.5, r + 0.5).
    """
    homo = torch.cat([points, torch.ones_like(points[:, :1])], dim=1) @ camera.view_projection().T
    ndc = homo[:, :2] / homo[:, 3:4]
    col, row = ndc_to_pixel(ndc[:, 0], ndc[:, 1], image_size)
    return torch.stack([col, row], dim=1) + 0.5

