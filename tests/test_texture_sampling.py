"""Torch texture lookups equal OpenGL's GL_LINEAR + GL_REPEAT, written out independently."""
from __future__ import annotations

import torch

from renderer.shading import sample_texture


def _gl_repeat_bilinear(tex, u, v):
    h, w = tex.shape[:2]
    x, y = u * w - 0.5, (1 - v) * h - 0.5            # texel centres at (i + 0.5)/W, v up
    x0, y0 = torch.floor(x), torch.floor(y)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x0, y0 = x0.long(), y0.long()

    def texel(yy, xx):
        return tex[yy % h, xx % w]

    top = texel(y0, x0) * (1 - fx) + texel(y0, x0 + 1) * fx
    bottom = texel(y0 + 1, x0) * (1 - fx) + texel(y0 + 1, x0 + 1) * fx
    return (top * (1 - fy) + bottom * fy).T


def test_sample_texture_matches_gl_repeat_bilinear():
    g = torch.Generator().manual_seed(0)
    tex = torch.rand(7, 5, 3, generator=g, dtype=torch.float64)
    u = torch.rand(2000, generator=g, dtype=torch.float64) * 4 - 2
    v = torch.rand(2000, generator=g, dtype=torch.float64) * 4 - 2
    # exact texel centres, edges and integer wraps
    u[:6] = torch.tensor([0.0, 1.0, 0.5, 0.1, 2.0, -1e-20], dtype=torch.float64)
    v[:6] = torch.tensor([0.0, 1.0, 0.5, 1 - 0.5 / 7, -1.0, 1e-20], dtype=torch.float64)
    assert torch.allclose(sample_texture(tex, u, v), _gl_repeat_bilinear(tex, u, v), atol=1e-12)
    # at a texel centre the lookup is that texel: row 0 is the top of the image (v = 1)
    centre = sample_texture(tex, torch.tensor([0.5 / 5], dtype=torch.float64),
                            torch.tensor([1 - 0.5 / 7], dtype=torch.float64))
    assert torch.allclose(centre[:, 0], tex[0, 0])


def test_sample_texture_gradient_in_uv():
    tex = torch.rand(6, 6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    uv = torch.tensor([[0.31, 0.77], [0.52, 0.13]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: sample_texture(tex, t[:, 0], t[:, 1]), (uv,))
