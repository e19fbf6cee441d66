"""DESIGN.md §4 shading in torch, shared by the softras, dibr and hard renderers.

The GLSL in renderer/gl implements the same formulas with the same parameters (checked by
tests/test_soft_vs_gl.py). Generalised to several directional lights and an ambient colour; the
DESIGN formula is the case of one light with ambient == light colour == white:

- none:       albedo
- lambertian: albedo * (ka * ambient + sum_i kd * max(0, n.l_i) * colour_i)
- phong:      lambertian + sum_i ks * max(0, r_i.v)^shininess * [n.l_i > 0] * colour_i,
              r_i = 2 (n.l_i) n - l_i
- sh:         albedo * sum_k L_k c_k Y_k(n)

Colours and vectors are channel-first, (3, N): the renderers produce them that way because
elementwise ops on long rows are fast on the CPU.
"""
from __future__ import annotations

from typing import Optional

import torch

from .lighting import Lights, Material, sh_irradiance
from .tensor_cache import derived


def shade(model: str, albedo: torch.Tensor, normal: Optional[torch.Tensor],
          position: Optional[torch.Tensor], eye: torch.Tensor, lights: Lights,
          material: Material) -> torch.Tensor:
    """Shaded linear RGB, not clamped.

    albedo: (3, N); normal: (3, N) unit (not read by 'none'); position: (3, N) world (read by
    'phong' only); eye: (3,) -> (3, N).
    """
    if model == "none":
        return albedo
    dtype, device = albedo.dtype, albedo.device
    if model == "sh":
        return albedo * sh_irradiance(lights.sh.to(device, dtype), normal.T).T
    dirs = lights.directions.to(device, dtype)
    dirs = dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)        # (L, 3), toward light
    colors = lights.colors.to(device, dtype)                                # (L, 3)
    ka, kd = material.ka.to(device, dtype), material.kd.to(device, dtype)
    n_dot_l = dirs @ normal                                                 # (L, N)
    light = (ka * lights.ambient.to(device, dtype))[:, None] + kd * (colors.T @ n_dot_l.clamp_min(0))
    color = albedo * light
    if model == "lambertian":
        return color
    if model != "phong":
        raise ValueError(f"unknown lighting model {model!r}")
    ks = material.ks.to(device, dtype)
    shininess = material.shininess.to(device, dtype)
    view = eye.to(device, dtype)[:, None] - position
    view = view / (view * view).sum(0).sqrt().clamp_min(1e-12)                         # (3, N)
    # r.v = 2 (n.l)(n.v) - l.v, without forming r for every light
    n_dot_v = (normal * view).sum(0)
    r_dot_v = 2 * n_dot_l * n_dot_v - dirs @ view                           # (L, N)
    lit = ((n_dot_l > 0) & (r_dot_v > 0)).to(dtype)
    # pow at an exact 0 has an infinite derivative in the exponent; clamping the base away from 0
    # changes the value by < 1e-30 and keeps the gradient finite
    spec = r_dot_v.clamp_min(1e-30).pow(shininess) * lit
    return color + ks * (colors.T @ spec)


def wrap_padded(texture: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) -> (3, (H + 2) * (W + 2)): the texture with one texel of wrapped border (so
    bilinear lookups need no modulo), channel-first and flattened (so lookups gather straight into
    (3, N) rows). Cached per texture tensor (textures are large and reused)."""

    def pad(tex: torch.Tensor) -> torch.Tensor:
        rows = torch.cat([tex[-1:], tex, tex[:1]], dim=0)
        padded = torch.cat([rows[:, -1:], rows, rows[:, :1]], dim=1)
        return padded.reshape(-1, 3).T.contiguous()

    return derived(texture, "wrap-padded", pad)


def sample_texture(texture: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Bilinear texture lookup with repeat wrap, as OpenGL's GL_LINEAR + GL_REPEAT.

    texture: (H, W, 3), row 0 = top of the image; u, v: (N,), v = 0 at the bottom -> (3, N).
    Texel centres sit at (i + 0.5) / W, as in GL.
    """
    h, w = texture.shape[:2]
    padded = wrap_padded(texture).to(u.dtype)
    # position in the padded texture: one texel of border, texel centres at integer + 0.5
    x = (u - torch.floor(u)) * w + 0.5
    y = (torch.ceil(v) - v) * h + 0.5
    x0, y0 = torch.floor(x), torch.floor(y)
    fx, fy = x - x0, y - y0
    index = y0.long() * (w + 2) + x0.long()

    def tap(offset: int) -> torch.Tensor:
        return padded.index_select(1, index + offset)                       # (3, N)

    top = torch.lerp(tap(0), tap(1), fx)
    bottom = torch.lerp(tap(w + 2), tap(w + 3), fx)
    return torch.lerp(top, bottom, fy)
