"""Lights, materials and the spherical-harmonics basis (DESIGN.md §4).

The SH constants here are the single definition: the torch shading uses ``sh_basis`` and the GLSL
shader is generated from ``SH_BASIS_GLSL``, so the two cannot drift apart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Sequence

import torch

from .camera import Scalar, direction_from_angles

LIGHTING_MODELS = ("none", "lambertian", "phong", "sh")

# Real SH basis, band 0..2, in Kaolin's `project_onto_sh9` order:
# Y0 = c0; Y1..3 = c1 * (-y, z, -x); Y4 = c2 xy; Y5 = -c2 yz; Y6 = c3 z^2 - c4; Y7 = -c2 xz;
# Y8 = c5 (x^2 - y^2).
SH_C = (0.28209479177, 0.4886025119, 1.0925484306, 0.94617469575, 0.31539156525, 0.54627421530)
# Clamped-cosine convolution per band (Kaolin `sh9_irradiance`): pi, 2pi/3, pi/4.
SH_BAND_FACTORS = (math.pi, 2 * math.pi / 3, 2 * math.pi / 3, 2 * math.pi / 3,
                   math.pi / 4, math.pi / 4, math.pi / 4, math.pi / 4, math.pi / 4)


def sh_basis(n: torch.Tensor) -> torch.Tensor:
    """Nine real SH basis functions at unit directions. n: (..., 3) -> (..., 9)."""
    x, y, z = n.unbind(-1)
    c0, c1, c2, c3, c4, c5 = SH_C
    return torch.stack([
        torch.full_like(x, c0), -c1 * y, c1 * z, -c1 * x,
        c2 * x * y, -c2 * y * z, c3 * z * z - c4, -c2 * x * z, c5 * (x * x - y * y),
    ], dim=-1)


def sh_irradiance(coeffs: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """sum_k L_k c_k Y_k(n). coeffs: (9, 3) RGB; n: (..., 3) unit -> (..., 3)."""
    bands = torch.tensor(SH_BAND_FACTORS, dtype=n.dtype, device=n.device)
    return (sh_basis(n) * bands) @ coeffs.to(n.dtype)


def _glsl_float(x: float) -> str:
    return repr(float(x))


def sh_glsl() -> str:
    """GLSL source of ``vec3 sh_irradiance(vec3 n)`` reading ``uniform vec3 u_sh[9]``."""
    c0, c1, c2, c3, c4, c5 = (_glsl_float(c) for c in SH_C)
    b = [_glsl_float(f) for f in SH_BAND_FACTORS]
    terms = [f"{c0}", f"-{c1} * n.y", f"{c1} * n.z", f"-{c1} * n.x", f"{c2} * n.x * n.y",
             f"-{c2} * n.y * n.z", f"{c3} * n.z * n.z - {c4}", f"-{c2} * n.x * n.z",
             f"{c5} * (n.x * n.x - n.y * n.y)"]
    body = " +\n        ".join(f"u_sh[{k}] * ({b[k]} * ({t}))" for k, t in enumerate(terms))
    return f"uniform vec3 u_sh[9];\nvec3 sh_irradiance(vec3 n) {{\n    return {body};\n}}\n"


def sh_coeffs_from_light(direction: torch.Tensor, ambient: float = 0.5,
                         intensity: float = 0.5) -> torch.Tensor:
    """(9, 3) SH coefficients of a constant ``ambient`` plus a directional light.

    The directional part is its projection onto the basis (Kaolin's ``project_onto_sh9``) scaled so
    that sh_irradiance(l) is ``ambient + intensity`` for a normal facing the light.
    """
    d = direction / direction.norm()
    proj = sh_basis(d)
    bands = torch.tensor(SH_BAND_FACTORS, dtype=d.dtype)
    peak = (proj * bands * proj).sum()
    coeffs = proj * (intensity / peak)
    coeffs = coeffs.clone()
    coeffs[0] = coeffs[0] + ambient / (SH_C[0] * SH_BAND_FACTORS[0])
    return coeffs[:, None].repeat(1, 3)


@dataclass
class Lights:
    """Ambient colour, directional lights and SH coefficients.

    ambient: (3,) RGB; directions: (L, 3), each pointing TOWARD the light (normalised at use);
    colors: (L, 3) RGB; sh: (9, 3) RGB coefficients for the ``sh`` model.
    """

    ambient: torch.Tensor = field(default_factory=lambda: torch.ones(3))
    directions: torch.Tensor = field(default_factory=lambda: direction_from_angles(30.0, 40.0)[None])
    colors: torch.Tensor = field(default_factory=lambda: torch.ones(1, 3))
    sh: torch.Tensor = field(default_factory=lambda: sh_coeffs_from_light(direction_from_angles(30.0, 40.0)))

    @staticmethod
    def from_angles(azimuth: Scalar, elevation: Scalar,
                    color: Sequence[float] = (1.0, 1.0, 1.0)) -> "Lights":
        """One directional light at (azimuth, elevation) degrees, same angles as the camera."""
        d = direction_from_angles(azimuth, elevation)
        return Lights(directions=d[None], colors=torch.tensor([list(color)], dtype=torch.float32),
                      sh=sh_coeffs_from_light(d.detach()))

    def replace(self, **changes) -> "Lights":
        return replace(self, **changes)


MATERIAL_DEFAULTS = {
    "none": dict(ka=0.5, kd=0.5, ks=0.0),
    "lambertian": dict(ka=0.5, kd=0.5, ks=0.0),
    "phong": dict(ka=0.5, kd=0.3, ks=0.2),
    "sh": dict(ka=0.5, kd=0.5, ks=0.0),
}


@dataclass
class Material:
    """albedo: (3,) RGB used where the mesh has no vertex colours or texture; ka, kd, ks, shininess:
    scalars (floats or 0-d tensors). Defaults are DESIGN.md's Phong values; ``for_lighting`` gives
    each model's own defaults."""

    albedo: torch.Tensor = field(default_factory=lambda: torch.tensor([0.8, 0.8, 0.8]))
    ka: Scalar = 0.5
    kd: Scalar = 0.3
    ks: Scalar = 0.2
    shininess: Scalar = 64.0

    def __post_init__(self) -> None:
        if not isinstance(self.albedo, torch.Tensor):
            self.albedo = torch.tensor(list(self.albedo), dtype=torch.float32)
        for name in ("ka", "kd", "ks", "shininess"):
            v = getattr(self, name)
            if not isinstance(v, torch.Tensor):
                setattr(self, name, torch.tensor(float(v)))

    @staticmethod
    def for_lighting(model: str, **overrides) -> "Material":
        """The DESIGN.md §4 defaults of one lighting model (lambertian: ka 0.5, kd 0.5; phong:
        ka 0.5, kd 0.3, ks 0.2, shininess 64), with ``overrides`` applied."""
        if model not in MATERIAL_DEFAULTS:
            raise ValueError(f"unknown lighting model {model!r}; expected one of {LIGHTING_MODELS}")
        return Material(**{**MATERIAL_DEFAULTS[model], **overrides})

    def replace(self, **changes) -> "Material":
        return replace(self, **changes)
