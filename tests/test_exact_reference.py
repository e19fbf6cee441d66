"""The "edge" renderer's derivative is the exact derivative of the box-filtered image.

The oracle (written here, independent of the renderer): triangles clipped against each pixel
square by Sutherland-Hodgman, the shoelace area of what is left, differentiated by autograd
(forward mode) through the projection. Flat colours (lighting "none", one colour per triangle), so
the image is c_front |T_front n p| + c_back |T_back n p - T_front n T_back n p| + bg (1 - covered).
"""
from __future__ import annotations

import pytest
import torch
import torch.autograd.forward_ad as fwad

from renderer import Lights, Material, Mesh, OrbitCamera, RenderSettings, Scene, render
from renderer.analysis.agreement import cosine_similarity
from renderer.analysis.derivatives import derivative_image, gl_fd_derivative
from renderer.camera import project_points
from renderer.exact import screen_gradient
from renderer.paths import shared_mesh

SPOT = shared_mesh("spot", "cow.obj")
BG = (0.1, 0.2, 0.3)


# ------------------------------------------------------------------------------------ the oracle

def clip(poly: torch.Tensor, count: torch.Tensor, normal: torch.Tensor, offset: torch.Tensor):
    """Sutherland-Hodgman: keep the part of each polygon where normal . x <= offset.
    poly (P, M, 2) vertices (the first count[p] valid), normal (P, 2), offset (P,) ->
    (P, M', 2), count (P,)."""
    p, m = poly.shape[:2]
    idx = torch.arange(m)
    valid = idx[None] < count[:, None]
    nxt = torch.where(idx[None] + 1 < count[:, None], idx[None] + 1, torch.zeros_like(idx[None]))
    cur, succ = poly, torch.gather(poly, 1, nxt[..., None].expand(-1, -1, 2))
    dc = (cur * normal[:, None]).sum(-1) - offset[:, None]
    ds = (succ * normal[:, None]).sum(-1) - offset[:, None]
    cur_in, succ_in = dc <= 0, ds <= 0
    t = dc / torch.where(dc - ds == 0, torch.ones_like(dc), dc - ds)
    cross = cur + t[..., None] * (succ - cur)
    # per input edge: [cur if inside] [crossing if the edge crosses], in order
    cand = torch.stack([cur, cross], dim=2).reshape(p, 2 * m, 2)
    keep = torch.stack([valid & cur_in, valid & (cur_in != succ_in)], dim=2).reshape(p, 2 * m)
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
    new_count = keep.sum(1)
    width = max(int(new_count.max()), 1)
    out = torch.gather(cand, 1, order[:, :width, None].expand(-1, -1, 2))
    return out, new_count


def shoelace(poly: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    m = poly.shape[1]
    idx = torch.arange(m)
    valid = idx[None] < count[:, None]
    nxt = torch.where(idx[None] + 1 < count[:, None], idx[None] + 1, torch.zeros_like(idx[None]))
    succ = torch.gather(poly, 1, nxt[..., None].expand(-1, -1, 2))
    cross = poly[..., 0] * succ[..., 1] - poly[..., 1] * succ[..., 0]
    return 0.5 * (cross * valid).sum(1).abs()


def clip_by_triangle(poly, count, tri):
    """Clip by the inside of triangle tri (3, 2) (either winding)."""
    orient = torch.sign((tri[1, 0] - tri[0, 0]) * (tri[2, 1] - tri[0, 1]) - (tri[1, 1] - tri[0, 1]) * (tri[2, 0] - tri[0, 0]))
    p = poly.shape[0]
    for k in range(3):
        a, b = tri[k], tri[(k + 1) % 3]
        # inside is to the left of a->b for counter-clockwise (in these y-down coordinates: orient)
        n = orient * torch.stack([b[1] - a[1], -(b[0] - a[0])])
        poly, count = clip(poly, count, n.expand(p, 2), (n * a).sum().expand(p))
    return poly, count


def pixel_areas(poly0: torch.Tensor, size: int) -> torch.Tensor:
    """Area of convex polygon poly0 (M, 2) (pixel coordinates) inside each pixel -> (S, S)."""
    rows, cols = torch.meshgrid(torch.arange(size, dtype=poly0.dtype), torch.arange(size, dtype=poly0.dtype), indexing="ij")
    r, c = rows.reshape(-1), cols.reshape(-1)
    p = r.numel()
    poly = poly0[None].expand(p, -1, -1)
    count = torch.full((p,), poly0.shape[0])
    one = torch.ones(p, dtype=poly0.dtype)
    zero = torch.zeros(p, dtype=poly0.dtype)
    for normal, offset in (((-one, zero), -c), ((one, zero), c + 1), ((zero, -one), -r), ((zero, one), r + 1)):
        poly, count = clip(poly, count, torch.stack(normal, 1), offset)
    return shoelace(poly, count).reshape(size, size)


def oracle_image(screen: torch.Tensor, colours: torch.Tensor, size: int) -> torch.Tensor:
    """screen (3T, 2) pixel coordinates of T triangles, front (nearest) first; colours (T, 3)
    -> (S, S, 4) box-filtered rgb over BG and coverage."""
    tris = screen.reshape(-1, 3, 2)
    bg = torch.tensor(BG, dtype=screen.dtype)
    rgb = torch.zeros(size, size, 3, dtype=screen.dtype)
    covered = torch.zeros(size, size, dtype=screen.dtype)
    seen = []                      # nearer triangles, each as a convex clip region
    for t, tri in enumerate(tris):
        area = pixel_areas(tri, size)
        hidden = torch.zeros_like(area)
        assert len(seen) <= 1, "the oracle handles at most one occluder"
        for front in seen:
            poly, count = clip_by_triangle(tri[None], torch.tensor([3]), front)
            if int(count[0]) >= 3:
                hidden = pixel_areas(poly[0, :int(count[0])], size)
        visible = area - hidden
        rgb = rgb + visible[..., None] * colours[t]
        covered = covered + visible
        seen.append(tri)
    return torch.cat([rgb + (1 - covered)[..., None] * bg, covered[..., None]], dim=-1)


# ------------------------------------------------------------------------------------ scenes

def flat_scene(verts: torch.Tensor, colours: torch.Tensor, size: int, double_sided: bool = False) -> Scene:
    """Triangles (consecutive vertex triples) with one colour each, seen from +Z."""
    n = verts.shape[0] // 3
    faces = torch.arange(3 * n).reshape(n, 3)
    vc = colours.repeat_interleave(3, dim=0)
    cam = OrbitCamera(azimuth=torch.tensor(0.0, dtype=torch.float64), elevation=torch.tensor(0.0, dtype=torch.float64),
                      distance=torch.tensor(3.0, dtype=torch.float64), fov=torch.tensor(45.0, dtype=torch.float64))
    return Scene(shape=Mesh(verts=verts, faces=faces, colors=vc), camera=cam, lights=Lights(),
                 material=Material.for_lighting("none"),
                 settings=RenderSettings(image_size=size, renderer="edge", lighting="none", background=BG,
                                         double_sided=double_sided))


ONE = torch.tensor([[-0.71, -0.52, 0.0], [0.83, -0.31, 0.05], [-0.12, 0.77, -0.04]], dtype=torch.float64)
TWO = torch.tensor([[-0.55, -0.60, 0.30], [0.60, -0.20, 0.35], [0.05, 0.65, 0.25],        # front
                    [-0.80, 0.10, -0.20], [0.30, -0.75, -0.25], [0.75, 0.55, -0.30]], dtype=torch.float64)


def oracle_jacobian(scene: Scene, colours: torch.Tensor, nearest_first: list[int]) -> torch.Tensor:
    """d(oracle image)/d(vertex coordinate), (V*3, S, S, 4), by forward mode through projection."""
    s = scene.settings.image_size
    verts = scene.mesh.verts
    cols = []
    for i in range(verts.numel()):
        tangent = torch.zeros_like(verts).reshape(-1)
        tangent[i] = 1.0
        with fwad.dual_level():
            v = fwad.make_dual(verts, tangent.reshape(verts.shape))
            screen = project_points(v, scene.camera, s)
            tris = screen.reshape(-1, 3, 2)[nearest_first].reshape(-1, 2)
            img = oracle_image(tris, colours[nearest_first], s)
            cols.append(fwad.unpack_dual(img).tangent.clone())
    return torch.stack(cols)


def edge_jacobian(scene: Scene) -> torch.Tensor:
    verts = scene.mesh.verts
    return torch.stack([derivative_image(scene, f"vertex:{i // 3}:{'xyz'[i % 3]}").d_image
                        for i in range(verts.numel())])


@pytest.mark.parametrize("size", [32, 64])
def test_single_triangle_matches_the_clipping_oracle(size):
    colours = torch.tensor([[0.9, 0.5, 0.2]], dtype=torch.float64)
    scene = flat_scene(ONE, colours, size)
    mine, truth = edge_jacobian(scene), oracle_jacobian(scene, colours, [0])
    err = float((mine - truth).abs().max())
    print(f"{size} px: max |err| {err:.2e}, max |value| {float(truth.abs().max()):.3f}")
    assert err <= 1e-3 * float(truth.abs().max())
    # the forward image: the box filter of 4 x 4 samples, close to the exact areas
    with torch.no_grad():
        out = render(scene)
        exact = oracle_image(project_points(ONE, scene.camera, size), colours, size)
    assert float((out.alpha - exact[..., 3]).abs().max()) <= 0.2
    assert float(out.alpha.sum()) == pytest.approx(float(exact[..., 3].sum()), rel=0.02)


def test_two_triangle_occlusion_matches_the_clipping_oracle():
    colours = torch.tensor([[0.9, 0.4, 0.1], [0.2, 0.8, 0.6]], dtype=torch.float64)
    scene = flat_scene(TWO, colours, 48)
    mine, truth = edge_jacobian(scene), oracle_jacobian(scene, colours, [0, 1])
    err = float((mine - truth).abs().max())
    print(f"occlusion: max |err| {err:.2e}, max |value| {float(truth.abs().max()):.3f}")
    assert err <= 1e-3 * float(truth.abs().max())
    # the hidden back triangle's edges under the front one give nothing: the occluded part of
    # its derivative is zero where the front triangle covers a whole pixel
    assert float(truth.abs().sum()) > 0


def test_coverage_gradient_sums_to_the_area_gradient_and_translation_gives_zero():
    colours = torch.tensor([[1.0, 1.0, 1.0]], dtype=torch.float64)
    scene = flat_scene(ONE, colours, 40)
    jac = edge_jacobian(scene)[..., 3].sum(dim=(1, 2))            # sum_p d coverage_p / dV
    v = ONE.clone().requires_grad_()
    p = project_points(v, scene.camera, 40)
    area = 0.5 * ((p[1, 0] - p[0, 0]) * (p[2, 1] - p[0, 1]) - (p[1, 1] - p[0, 1]) * (p[2, 0] - p[0, 0])).abs()
    (closed,) = torch.autograd.grad(area, v)
    print("sum_p dcov/dV", jac.reshape(3, 3), "closed form", closed)
    assert torch.allclose(jac, closed.reshape(-1), rtol=1e-9, atol=1e-9)
    # a rigid screen translation changes no pixel's total coverage
    grad = screen_gradient(scene)
    assert grad.shape == (40, 40, 4, 2)
    total = grad[..., 3, :].sum(dim=(0, 1))
    assert float(total.abs().max()) < 1e-9
    assert float(grad[..., 3, :].abs().max()) > 0.1


def test_backward_equals_forward_mode():
    """dL/dV by the custom backward equals <dL/dI, dI/dV> by forward mode, shading included."""
    from tests.scenes import small_scene
    from renderer.analysis.gradients import render_rgba
    from renderer.analysis.params import group_value, with_groups

    scene = small_scene("edge", "phong", size=24)
    verts = group_value(scene, "verts").requires_grad_()
    image = render_rgba(with_groups(scene, {"verts": verts}))
    g = torch.randn(image.shape, dtype=image.dtype, generator=torch.Generator().manual_seed(3))
    (dv,) = torch.autograd.grad(image, verts, g)
    for name, index in (("vertex:4:y", (4, 1)), ("vertex:0:x", (0, 0)), ("vertex:9:z", (9, 2))):
        d = derivative_image(scene, name).d_image
        assert float((g * d).sum()) == pytest.approx(float(dv[index]), rel=1e-9, abs=1e-12)
    assert derivative_image(scene, "azimuth", method="double_backward").d_image.allclose(
        derivative_image(scene, "azimuth").d_image, rtol=1e-9, atol=1e-12)


@pytest.mark.skipif(not SPOT.exists(), reason="Spot test mesh not available")
def test_spot_azimuth_agrees_with_a_16x_supersampled_gl_difference(gl_renderer):
    from renderer.io import load_mesh

    scene = Scene.default(load_mesh(SPOT), image_size=128, renderer="edge")
    scene = scene.with_camera(azimuth=torch.tensor(40.0), elevation=torch.tensor(20.0))
    exact = derivative_image(scene, "azimuth").d_image.double().numpy()
    fd = gl_fd_derivative(scene, "azimuth", supersample=16, gl=gl_renderer)
    cos_rgb = cosine_similarity(exact[..., :3], fd[..., :3])
    cos_alpha = cosine_similarity(exact[..., 3], fd[..., 3])
    print(f"Spot 128 px d/d azimuth: per-pixel cosine rgb {cos_rgb:.4f}, alpha {cos_alpha:.4f}")
    assert cos_rgb >= 0.95 and cos_alpha >= 0.95


SPHERE = shared_mesh("sphere_642.obj")


@pytest.mark.parametrize("param, step, k, flat", [("distance", 0.02, 8, False), ("fov", 0.4, 8, False),
                                                  ("vertex:10:y", 0.005, 32, True)])
def test_camera_and_vertex_derivatives_agree_with_gl_differences(param, step, k, flat, gl_renderer):
    """The exact dI/dtheta against a k x k supersampled GL central difference with a step that
    moves edges well under a pixel (a few of the 1/k-pixel quantisation steps) (the default steps, about one pixel, smear the difference:
    cosine 0.87 for distance on the knot at 64 px). Camera: the knot at 64 px, smooth shading;
    a vertex: a sphere at 48 px, flat shading (every crease is an edge, their jumps included)."""
    from renderer.assets import load_asset
    from renderer.io import load_mesh

    if flat and not SPHERE.exists():
        pytest.skip("shared sphere mesh not available")
    mesh = load_mesh(SPHERE) if flat else load_asset("knot")
    if flat:
        # the file splits every vertex per face; weld them, so that moving one moves every face
        # around it (moving one copy alone opens a crack: no derivative exists there)
        mesh = Mesh(verts=mesh.verts, faces=mesh.weld[mesh.faces])
    scene = Scene.default(mesh, image_size=48 if flat else 64, renderer="edge", flat_shading=flat)
    scene = scene.with_camera(azimuth=30.0, elevation=20.0, distance=2.6)
    exact = derivative_image(scene, param).d_image.double().numpy()
    fd = gl_fd_derivative(scene, param, step=step, supersample=k, gl=gl_renderer)
    cos = cosine_similarity(exact[..., :3], fd[..., :3])
    print(f"{param}: per-pixel cosine {cos:.4f}")
    assert cos >= 0.97
