"""The antialiased hard renderer (nvdiffrast's analytic antialias) against exact pixel coverage:
an oracle written here (Sutherland-Hodgman clipping of the triangle against each pixel square,
shoelace area, autograd), on a single triangle and a two-triangle occlusion; the saturation rule;
forward and reverse mode agreeing; sparse work."""
from __future__ import annotations

import pytest
import torch
import torch.autograd.forward_ad as fwad

import renderer as dr
from renderer.aa.antialias import antialias, wing_corners
from renderer.camera import OrbitCamera, pixel_centre_ndc, project_points
from renderer.mesh import Mesh


# --------------------------------------------------------------------------------- the oracle

SLOTS = 12          # a triangle clipped by 7 lines (pixel square, another triangle) has <= 10 corners


def _clip(poly, valid, dist):
    """Clip polygons (P, SLOTS, 2) (valid (P, SLOTS), valid slots first) to dist(points) >= 0, dist
    affine: Sutherland-Hodgman, one output pair (crossing, end point) per input edge, compacted
    back to SLOTS slots."""
    count = valid.sum(1, keepdim=True)
    slot = torch.arange(poly.shape[1])[None]
    nxt = torch.gather(poly, 1, torch.where(slot + 1 < count, slot + 1, 0)[..., None].expand(-1, -1, 2))
    s, e = dist(poly), dist(nxt)
    t = s / torch.where(s != e, s - e, torch.ones_like(s))
    pts = torch.stack([poly + t[..., None] * (nxt - poly), nxt], 2).reshape(poly.shape[0], -1, 2)
    ok = torch.stack([valid & ((s >= 0) != (e >= 0)), valid & (e >= 0)], 2).reshape(poly.shape[0], -1)
    order = torch.argsort((~ok).to(torch.int8), dim=1, stable=True)[:, :SLOTS]
    return torch.gather(pts, 1, order[..., None].expand(-1, -1, 2)), torch.gather(ok, 1, order)


def exact_coverage(tri_px: torch.Tensor, s: int, within=None) -> torch.Tensor:
    """tri_px: (3, 2) corners as (column, row), pixel (r, c) being the square [c, c+1] x [r, r+1]
    -> (s, s) area of the triangle inside each pixel (and inside triangle ``within`` (3, 2) when
    given), differentiable."""
    rows, cols = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
    r, c = rows.reshape(-1, 1).to(tri_px.dtype), cols.reshape(-1, 1).to(tri_px.dtype)
    n = s * s
    poly = torch.cat([tri_px[None].expand(n, 3, 2), tri_px[:1][None].expand(n, SLOTS - 3, 2)], 1)
    valid = torch.arange(SLOTS)[None].expand(n, SLOTS) < 3
    sides = [lambda p: p[..., 0] - c, lambda p: c + 1 - p[..., 0],
             lambda p: p[..., 1] - r, lambda p: r + 1 - p[..., 1]]
    if within is not None:
        e1, e2 = within[1] - within[0], within[2] - within[0]
        orient = torch.sign(e1[0] * e2[1] - e1[1] * e2[0])
        for i in range(3):
            a, b = within[i], within[(i + 1) % 3]
            sides.append(lambda p, a=a, b=b: orient * ((b[0] - a[0]) * (p[..., 1] - a[1])
                                                       - (b[1] - a[1]) * (p[..., 0] - a[0])))
    for side in sides:
        poly, valid = _clip(poly, valid, side)
    poly = torch.where(valid[..., None], poly, poly[:, :1])
    nxt = torch.roll(poly, -1, 1)
    area = 0.5 * (poly[..., 0] * nxt[..., 1] - poly[..., 1] * nxt[..., 0]).sum(1)
    return area.abs().reshape(s, s)


def test_oracle_closed_forms():
    """The oracle itself: total = triangle area; its gradient = 1/2 perp(opposite edge)."""
    tri = torch.tensor([[5.3, 4.1], [27.2, 9.7], [12.6, 26.4]], dtype=torch.float64, requires_grad=True)
    cov = exact_coverage(tri, 32)
    (grad,) = torch.autograd.grad(cov.sum(), tri)
    assert float(cov.detach().sum()) == pytest.approx(223.745, abs=1e-9)
    t = tri.detach()
    e1, e2 = t[1] - t[0], t[2] - t[0]
    sign = 1.0 if float(e1[0] * e2[1] - e1[1] * e2[0]) > 0 else -1.0
    closed = sign * 0.5 * torch.stack([torch.stack([t[(i + 1) % 3, 1] - t[(i + 2) % 3, 1],
                                                    t[(i + 2) % 3, 0] - t[(i + 1) % 3, 0]]) for i in range(3)])
    torch.testing.assert_close(grad, closed)


# ------------------------------------------------------------------------------- the AA core

S = 32
TRI_PX = torch.tensor([[5.3, 4.1], [27.2, 9.7], [12.6, 26.4]], dtype=torch.float64)  # next_wave §5.4


def px_to_ndc(p: torch.Tensor, s: int = S) -> torch.Tensor:
    return torch.stack([p[..., 0] * 2 / s - 1, 1 - p[..., 1] * 2 / s], -1)


def point_face_map(tri_ndc: torch.Tensor, s: int = S) -> torch.Tensor:
    """(s, s): 0 where the pixel centre is inside the one triangle, -1 elsewhere."""
    r, c = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
    x, y = pixel_centre_ndc(c.to(tri_ndc.dtype), r.to(tri_ndc.dtype), s)
    a, b, cc = tri_ndc

    def edge(p, q):
        return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])

    w = torch.stack([edge(a, b), edge(b, cc), edge(cc, a)])
    return torch.where((w >= 0).all(0) | (w <= 0).all(0), 0, -1)


def aa_alpha(tri_px: torch.Tensor, face_map: torch.Tensor, s: int = S) -> torch.Tensor:
    """The antialiased coverage (s, s) of one white triangle on black, as a function of its
    corners in pixels (differentiable)."""
    wing_face, wing_corner = wing_corners(torch.tensor([[0, 1, 2]]))
    color = (face_map >= 0).to(tri_px.dtype)[..., None]
    depth = torch.ones(s, s, dtype=tri_px.dtype)
    return antialias(color, face_map, depth, px_to_ndc(tri_px, s)[None], wing_face, wing_corner)[..., 0]


def test_single_triangle_sums_to_its_area_and_follows_exact_coverage():
    face_map = point_face_map(px_to_ndc(TRI_PX))
    image = aa_alpha(TRI_PX, face_map)
    exact = exact_coverage(TRI_PX, S)
    area = float(exact.sum())
    assert float(image.sum()) == pytest.approx(area, rel=0.05)
    assert float((image - exact).abs().max()) < 0.15               # point sampling: 0.57 here
    assert float(((face_map >= 0).double() - exact).abs().max()) > 0.5


def test_per_pixel_derivative_matches_exact_coverage():
    """Per-pixel dI/dV (all six corner coordinates) against the oracle's: cosine >= 0.9 (the
    next_wave §5.4 re-implementation measured 0.969 for v0.x); the summed derivative within 5% of
    the closed-form area gradient; forward mode equal to reverse mode."""
    face_map = point_face_map(px_to_ndc(TRI_PX))
    mine = torch.func.jacfwd(lambda t: aa_alpha(t, face_map))(TRI_PX)       # (S, S, 3, 2)
    exact = torch.func.jacfwd(lambda t: exact_coverage(t, S))(TRI_PX)
    cosine = float((mine * exact).sum() / (mine.norm() * exact.norm()))
    assert cosine >= 0.9, cosine
    v0x = mine[..., 0, 0].reshape(-1), exact[..., 0, 0].reshape(-1)
    assert float(v0x[0] @ v0x[1] / (v0x[0].norm() * v0x[1].norm())) == pytest.approx(0.969, abs=0.01)
    torch.testing.assert_close(mine.sum((0, 1)), exact.sum((0, 1)), rtol=0.05, atol=0.05 * float(exact.abs().max()))
    weight = torch.randn(S, S, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    tri = TRI_PX.clone().requires_grad_()
    (reverse,) = torch.autograd.grad((aa_alpha(tri, face_map) * weight).sum(), tri)
    torch.testing.assert_close(reverse, torch.einsum("rc,rcij->ij", weight, mine))


def test_gradient_is_zero_where_the_blend_saturates():
    """A vertical edge just past the neighbour's centre (dc = 1.03, inside nvdiffrast's 1/16
    margin) with the neighbour shown as background: the blend is clamped to |alpha| = 1/2 and its
    position gradient is zero. The same edge at dc = 0.8 blends 0.3 into the neighbour, moving
    with the edge one for one."""
    s = 4
    face_map = torch.full((s, s), -1)
    face_map[1, 1] = 0                        # pixel (1, 1), centre (1.5, 1.5) in pixels

    def run(edge_x: float):
        tri = torch.tensor([[edge_x, -10.0], [edge_x, 10.0], [-20.0, 0.0]], dtype=torch.float64)
        tri = tri[[0, 2, 1]] if (tri[1] - tri[0])[0] * (tri[2] - tri[0])[1] < 0 else tri
        return aa_alpha(tri, face_map, s), torch.func.jacrev(lambda t: aa_alpha(t, face_map, s)[1, 2])(tri)

    out, grad = run(2.53)
    assert float(out[1, 2]) == pytest.approx(0.5)                    # saturated blend
    assert torch.count_nonzero(grad) == 0
    assert float(out.sum() - 1.0) == pytest.approx(0.5)               # the only blend
    out, grad = run(2.3)
    assert float(out[1, 2]) == pytest.approx(0.3)
    assert float(grad[:, 0].sum()) == pytest.approx(1.0)              # d out / d edge x (pixels)


def test_occlusion_edge_follows_exact_coverage():
    """A front triangle (colour 1, nearer) over a back one (colour 0.5) on black: the antialiased
    image and its derivative w.r.t. all twelve corner coordinates against the exact box-filtered
    image 1 cov(F) + 0.5 (cov(B) - cov(B in F))."""
    front = torch.tensor([[6.2, 20.3], [25.7, 3.4], [27.1, 24.8]], dtype=torch.float64)
    back = torch.tensor([[3.1, 5.2], [20.6, 7.9], [9.4, 28.3]], dtype=torch.float64)
    wing_face, wing_corner = wing_corners(torch.tensor([[0, 1, 2], [3, 4, 5]]))

    with torch.no_grad():
        in_front = point_face_map(px_to_ndc(front)) >= 0
        in_back = point_face_map(px_to_ndc(back)) >= 0
    face_map = torch.where(in_front, 0, torch.where(in_back, 1, -1))
    depth = torch.where(in_front, 1.0, 2.0).to(torch.float64)
    color = torch.where(in_front, 1.0, torch.where(in_back, 0.5, 0.0)).to(torch.float64)[..., None]

    def mine(corners):
        return antialias(color, face_map, depth, px_to_ndc(corners, S), wing_face, wing_corner)[..., 0]

    def exact(corners):
        f, b = corners[0], corners[1]
        return exact_coverage(f, S) + 0.5 * (exact_coverage(b, S) - exact_coverage(b, S, within=f))

    corners = torch.stack([front, back])
    image, truth = mine(corners), exact(corners)
    assert float(image.sum()) == pytest.approx(float(truth.sum()), rel=0.05)
    # antialiasing at least halves the point-sampled image's mean error
    assert float((image - truth).abs().mean()) < 0.5 * float((color[..., 0] - truth).abs().mean())
    j_mine = torch.func.jacfwd(mine)(corners)                                # (S, S, 2, 3, 2)
    j_exact = torch.func.jacfwd(exact)(corners)
    cosine = float((j_mine * j_exact).sum() / (j_mine.norm() * j_exact.norm()))
    assert cosine >= 0.9, cosine


# ------------------------------------------------------------------------------- the renderer

def one_triangle_scene(size: int = 40) -> dr.Scene:
    verts = torch.tensor([[-0.9, -0.7, 0.0], [1.0, -0.4, 0.0], [-0.2, 0.95, 0.0]])
    mesh = Mesh(verts=verts, faces=torch.tensor([[0, 1, 2]]), name="triangle")
    return dr.Scene.default(mesh, lighting="none", image_size=size, renderer="aa").replace(camera=OrbitCamera())


def test_renderer_single_triangle_area_and_derivative():
    """Through the registered renderer and the project camera: sum of alpha = the projected
    area in pixels within 5%; d alpha/dV per pixel against the oracle on the projected corners,
    cosine >= 0.9 (forward mode, as the derivative views take it)."""
    scene = one_triangle_scene()
    s = scene.settings.image_size
    verts = scene.mesh.verts
    with torch.no_grad():
        alpha = dr.render(scene)["alpha"]
    corners = project_points(verts, scene.camera, s).double()
    exact = exact_coverage(corners, s)
    assert float(alpha.sum()) == pytest.approx(float(exact.sum()), rel=0.05)
    mine, theirs = [], []
    for k in range(9):
        direction = torch.zeros(9, dtype=verts.dtype)
        direction[k] = 1.0
        direction = direction.reshape(3, 3)
        with torch.no_grad(), fwad.dual_level():
            dual = fwad.make_dual(verts, direction)
            tangent = fwad.unpack_dual(dr.render(scene.replace(shape=scene.mesh.with_verts(dual)))["alpha"]).tangent
        mine.append(tangent.double())
        theirs.append(torch.func.jvp(lambda v: exact_coverage(project_points(v, scene.camera, s).double(), s),
                                     (verts,), (direction,))[1])
    mine_t, theirs_t = torch.stack(mine), torch.stack(theirs)
    cosine = float((mine_t * theirs_t).sum() / (mine_t.norm() * theirs_t.norm()))
    assert cosine >= 0.9, cosine


def test_work_is_the_discontinuity_pairs_only():
    """Sparse by construction: the blends are computed on the pixel pairs whose faces differ."""
    from renderer.aa.antialias import _candidates
    from renderer.soft.common import prepare

    scene = one_triangle_scene(64)
    with torch.no_grad():
        out = dr.render(scene.with_settings(renderer="hard"))
        fid = out["face_id"]
        prep = prepare(scene)
        sel = _candidates(fid, out["depth"], prep.screen.tri, *wing_corners(prep.faces))
    pairs = int((fid[:, 1:] != fid[:, :-1]).sum() + (fid[1:] != fid[:-1]).sum())
    assert 0 < sel[0].numel() <= pairs < 4 * 64
