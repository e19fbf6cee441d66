"""The boundary term of the box-filtered image's derivative as an autograd Function.

Reynolds transport for I_p = (1/A_p) integral over pixel p of f(x; theta) dx:

    dI_p/dtheta = (1/A_p) [ integral_p df/dtheta dx + sum over edges of integral over (edge n p)
                            of (f_in - f_out) (n . dx/dtheta) dl ]

The interior term comes from autograd through the supersampled shading (``render``); this module
is the second: per edge node x(s) = (1 - s) a + s b, the jump f_in - f_out = f(x - eps n) -
f(x + eps n) (point queries with the depth test, ``queries``) times the normal velocity
n . ((1 - s) da/dtheta + s db/dtheta), integrated with Gauss-Legendre nodes per pixel piece.

``EdgeBoundary.apply(tri, data)`` returns zeros (S, S, 4) whose derivative w.r.t. the screen
corners ``tri`` is that term: backward (dL/dtri), forward mode (jvp) and double backward all
work, so the image's derivative flows through the projection to vertices and camera as usual.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..scene import Scene
from .edges import EdgeSet, Nodes, discontinuity_edges, edge_nodes
from .queries import build_queries, query_points

# Offset of the f_in / f_out point queries from the edge, in pixels: far below any feature of the
# image, far above float64 rounding of NDC coordinates.
QUERY_OFFSET_PX = 1e-5
DEFAULT_ORDER = 2


@dataclass
class BoundaryData:
    """The boundary term of one render, float64. edges: ``EdgeSet``; nodes: ``Nodes``; jump: (N, 4)
    (f_in - f_out) times the node weight; size: S."""

    edges: EdgeSet
    nodes: Nodes
    jump: torch.Tensor
    size: int

    @property
    def num_nodes(self) -> int:
        return int(self.nodes.s.numel())


@torch.no_grad()
def boundary_data(scene: Scene, tri: torch.Tensor, z: torch.Tensor, valid: torch.Tensor, front: torch.Tensor,
                  verts: torch.Tensor, eye: torch.Tensor, order: int = DEFAULT_ORDER) -> BoundaryData:
    """Edges, nodes and jumps of ``scene`` seen with screen corners ``tri`` (F, 3, 2), corner
    depths ``z`` (F, 3), ``valid``/``front`` (F,) bool, world ``verts`` (V, 3), ``eye`` (3,)."""
    st = scene.settings
    mesh = scene.mesh
    device = tri.device
    weld = None if mesh.weld is None else mesh.weld.to(device)
    smooth = st.lighting == "none" or not st.flat_shading
    edges = discontinuity_edges(tri.detach(), mesh.faces.to(device), valid, front, weld, smooth)
    nodes = edge_nodes(edges, st.image_size, order)
    q = build_queries(scene, tri, z, valid, front, verts, eye)
    eps = QUERY_OFFSET_PX * 2.0 / st.image_size
    offset = eps * edges.normal[nodes.edge]
    values = query_points(q, torch.cat([nodes.point - offset, nodes.point + offset]))
    f_in, f_out = values[:nodes.s.numel()], values[nodes.s.numel():]
    return BoundaryData(edges, nodes, (f_in - f_out) * nodes.weight[:, None], st.image_size)


def boundary_image(data: BoundaryData, d_tri: torch.Tensor) -> torch.Tensor:
    """The boundary term of dI/dtheta for corner velocities ``d_tri`` (F, 3, 2) -> (S, S, 4)."""
    e, n = data.edges, data.nodes
    d = d_tri.to(torch.float64)
    w = e.inc_weight[:, None]
    va = torch.zeros(e.count, 2, dtype=torch.float64, device=d.device).index_add(
        0, e.inc_edge, w * d[e.inc_face, e.inc_corner_a])
    vb = torch.zeros(e.count, 2, dtype=torch.float64, device=d.device).index_add(
        0, e.inc_edge, w * d[e.inc_face, e.inc_corner_b])
    s = n.s[:, None]
    normal_speed = (e.normal[n.edge] * ((1 - s) * va[n.edge] + s * vb[n.edge])).sum(1)
    size = data.size
    image = torch.zeros(size * size, 4, dtype=torch.float64, device=d.device).index_add(
        0, n.pix, data.jump * normal_speed[:, None])
    return image.reshape(size, size, 4)


def boundary_vjp(data: BoundaryData, grad_image: torch.Tensor, num_faces: int) -> torch.Tensor:
    """dL/dtri (F, 3, 2) float64 of the boundary term for dL/dI ``grad_image`` (S, S, 4)."""
    e, n = data.edges, data.nodes
    g = grad_image.reshape(-1, 4).to(torch.float64)
    per_node = (g[n.pix] * data.jump).sum(1)
    ga = torch.zeros(e.count, dtype=torch.float64, device=g.device).index_add(0, n.edge, per_node * (1 - n.s))
    gb = torch.zeros(e.count, dtype=torch.float64, device=g.device).index_add(0, n.edge, per_node * n.s)
    w = e.inc_weight[:, None]
    out = torch.zeros(num_faces, 3, 2, dtype=torch.float64, device=g.device)
    out = out.index_put((e.inc_face, e.inc_corner_a), w * (ga[:, None] * e.normal)[e.inc_edge], accumulate=True)
    out = out.index_put((e.inc_face, e.inc_corner_b), w * (gb[:, None] * e.normal)[e.inc_edge], accumulate=True)
    return out


class EdgeBoundary(torch.autograd.Function):
    """Zeros (S, S, 4) in value; the boundary term in every derivative (module docstring)."""

    @staticmethod
    def forward(ctx, tri, data: BoundaryData):
        ctx.data = data
        ctx.num_faces = tri.shape[0]
        ctx.dtype, ctx.device = tri.dtype, tri.device
        return torch.zeros(data.size, data.size, 4, dtype=tri.dtype, device=tri.device)

    @staticmethod
    def backward(ctx, grad_image):
        # written with differentiable ops on grad_image, so double backward works too
        return boundary_vjp(ctx.data, grad_image, ctx.num_faces).to(ctx.dtype), None

    @staticmethod
    def jvp(ctx, d_tri, d_data):
        if d_tri is None:
            size = ctx.data.size
            return torch.zeros(size, size, 4, dtype=ctx.dtype, device=ctx.device)
        return boundary_image(ctx.data, d_tri).to(ctx.dtype)
