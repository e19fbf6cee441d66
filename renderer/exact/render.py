"""The "edge" renderer: the pixel-area average of the hard-shaded image, with the exact derivative.

Forward: the hard z-buffer image (``renderer.soft.hard``: nearest front face, back faces in the
coverage) sampled at k x k stratified points per pixel (the pixel centres of a kS render) and
averaged: rgb is the box-filtered colour over the background, as the supersampled GL reference,
alpha the covered fraction. k = ``settings.supersample`` when above 1, else ``DEFAULT_SAMPLES``.

Derivative (Reynolds transport, ``boundary``): the interior term is autograd through the shading
at the same samples (visibility held, barycentrics of the fixed sample points differentiable in
the geometry); the boundary term is a deterministic Gauss-Legendre integral along the silhouette,
boundary, seam and crease edges, cut at pixel boundaries, with f_in - f_out from point queries
with the depth test. Not included: discontinuities that are not mesh edges (faces intersecting
each other, faces crossing the near plane, which are culled). Only the interior term's
quadrature (k x k samples of a smooth integrand) is approximate; at silhouettes, the only place
geometry derivatives live for constant colours, the derivative is exact to the quadrature order.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import torch
import torch.autograd.forward_ad as fwad

from ..fragments import RenderOutput
from ..scene import Scene
from ..soft.common import FaceTables, plan, prepare
from ..soft.geometry import face_table
from ..soft.hard import shade_visible, visible_faces
from .boundary import DEFAULT_ORDER, BoundaryData, EdgeBoundary, boundary_data

DEFAULT_SAMPLES = 4


def samples_per_axis(scene: Scene) -> int:
    """k of the k x k interior samples per pixel."""
    k = scene.settings.supersample
    return k if k > 1 else DEFAULT_SAMPLES


def _pool(image: torch.Tensor, k: int) -> torch.Tensor:
    """(kS, kS, ...) -> (S, S, ...) mean over k x k blocks."""
    if k == 1:
        return image
    s = image.shape[0] // k
    return image.reshape(s, k, s, k, *image.shape[2:]).mean(dim=(1, 3))


def _offset_tables(prep: FaceTables, offset: torch.Tensor) -> FaceTables:
    """The same projection shifted on screen by ``offset`` (2,) NDC (for the screen gradient)."""
    tri = prep.screen.tri + offset.to(prep.screen.tri.dtype)
    screen = replace(prep.screen, tri=tri)
    geo = torch.cat([face_table(tri), screen.z.T], dim=0)
    return replace(prep, screen=screen, geo=geo)


def render_edge_parts(scene: Scene, screen_offset: Optional[torch.Tensor] = None,
                      order: int = DEFAULT_ORDER) -> tuple[RenderOutput, BoundaryData]:
    """The render and its boundary data (for inspection and benchmarks). screen_offset: (2,) NDC
    shift of the whole projection (differentiable: the screen-gradient image)."""
    st = scene.settings
    k = samples_per_axis(scene)
    fine_scene = scene.with_settings(image_size=k * st.image_size)
    prep = prepare(fine_scene)
    if screen_offset is not None:
        prep = _offset_tables(prep, screen_offset)
    dtype = prep.verts.dtype
    chunks = plan(prep, fine_scene, 0.0, None if st.double_sided else prep.screen.front)
    vis = visible_faces(prep, chunks, k * st.image_size)
    fine = shade_visible(fine_scene, prep, vis, vis.covered[:-1].to(dtype),
                         sum(c.elements for c, _ in chunks), vis.num_pairs)
    screen = prep.screen
    data = boundary_data(scene, screen.tri, screen.z, screen.valid, screen.front,
                         fwad.unpack_dual(prep.verts).primal, fwad.unpack_dual(prep.eye).primal, order)
    jump = EdgeBoundary.apply(screen.tri, data)
    rgb = _pool(fine.rgb, k) + jump[..., :3]
    alpha = _pool(fine.alpha, k) + jump[..., 3]
    c = k // 2
    out = RenderOutput(rgb=rgb, alpha=alpha, depth=fine.depth[c::k, c::k], face_id=fine.face_id[c::k, c::k],
                       num_pairs=fine.num_pairs, tile_elements=fine.tile_elements)
    return out, data


def render_edge(scene: Scene) -> RenderOutput:
    """rgb (S, S, 3) box-filtered colour over the background, alpha (S, S) covered fraction, depth
    and face_id (S, S) at the sample nearest each pixel centre, cost figures. rgb and alpha carry
    the exact derivative of the box-filtered image (module docstring)."""
    return render_edge_parts(scene)[0]


def screen_gradient(scene: Scene) -> torch.Tensor:
    """dI/dx and dI/dy of the image under a uniform screen translation of everything drawn, per
    pixel of motion (x rightward, y downward, as redner's screen-gradient image): (S, S, 4, 2),
    channels r, g, b, alpha. Summed over the image, the alpha part is 0 for a shape inside it."""
    s = scene.settings.image_size
    dtype, device = scene.mesh.verts.dtype, torch.device(scene.settings.device)
    out = []
    # one pixel of motion is 2/S in NDC; rows run downward while NDC y runs up
    for tangent in ((2.0 / s, 0.0), (0.0, -2.0 / s)):
        with torch.no_grad(), fwad.dual_level():
            offset = fwad.make_dual(torch.zeros(2, dtype=dtype, device=device),
                                    torch.tensor(tangent, dtype=dtype, device=device))
            o, _ = render_edge_parts(scene, offset)
            image = torch.cat([o.rgb, o.alpha[..., None]], dim=-1)
            t = fwad.unpack_dual(image).tangent
            out.append(torch.zeros_like(image) if t is None else t.clone())
    return torch.stack(out, dim=-1)
