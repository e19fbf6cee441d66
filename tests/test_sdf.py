"""SDF sphere tracing against closed forms (next_wave.md §4.4, §8.4), in float64:

- sphere depth t = b' - sqrt(b'^2 - |o - c|^2 + r^2); dt/dr = -1/cos(theta) = 1 / (n.d) and
  dt/dc = n / (n.d) from the renderer's implicit derivative, against the closed form and
  central differences of the traced depth (1e-5);
- box depth against the slab method, torus depth against the smallest real root of its quartic
  (numpy.roots), 1e-5;
- the implicit derivative equals the derivative through unrolled (over-relaxed) sphere tracing
  at convergence; DIST's derivative is alpha * B * df/dtheta (no 1/cos factor).
"""
from __future__ import annotations

import numpy as np
import torch

import renderer as dr
from renderer.sdf import Primitive, make_sdf
from renderer.sdf.render import hit_depth
from renderer.sdf.shapes import evaluate
from renderer.sdf.trace import TraceOptions, camera_rays, trace_rays

F64 = torch.float64
TIGHT = TraceOptions(threshold=1e-11, max_steps=2000)
SIZE = 32
CAMERA = dr.OrbitCamera(azimuth=torch.tensor(20.0, dtype=F64), elevation=torch.tensor(10.0, dtype=F64),
                        distance=torch.tensor(3.0, dtype=F64))
# head-on-ish and oblique pixels, all on the sphere below
PIXELS = [(16, 16), (12, 19), (20, 11), (10, 14)]
SPHERE = [0.1, -0.2, 0.0, 1.0]


def sphere(values=SPHERE):
    return make_sdf([(Primitive("sphere"), values)], dtype=F64)


def pixel_rays(pixels=PIXELS, camera=CAMERA):
    rows = torch.tensor([p[0] for p in pixels])
    cols = torch.tensor([p[1] for p in pixels])
    return camera_rays(camera, SIZE, F64, "cpu", rows=rows, cols=cols)


def depth(sdf, rays, opts=TIGHT):
    """The renderer's differentiable t of every ray (all must hit)."""
    tr = trace_rays(sdf, rays.detached(), opts)
    assert bool(tr.hit.all()), "every test ray must hit"
    return hit_depth(sdf, rays, tr, torch.arange(len(rays.dirs)), opts)


def sphere_closed_form(o, d, c, r):
    oc = o - c
    b = -(d @ oc)
    disc = b * b - oc @ oc + r * r
    return b - disc.sqrt(), disc


def test_sphere_depth_and_derivatives_match_the_closed_form_and_finite_differences():
    rays = pixel_rays()
    params = torch.tensor(SPHERE, dtype=F64, requires_grad=True)
    t = depth(sphere().with_params(params), rays)
    c, r = params[:3].detach(), params[3].detach()
    cos = []
    for k in range(len(PIXELS)):
        t_ref, disc = sphere_closed_form(rays.origin.detach(), rays.dirs[k].detach(), c, r)
        assert abs(float(t[k].detach()) - float(t_ref)) < 1e-9
        (g,) = torch.autograd.grad(t[k], params, retain_graph=True)
        x = rays.origin.detach() + t_ref * rays.dirs[k].detach()
        n = (x - c) / r
        n_dot_d = float(n @ rays.dirs[k].detach())
        cos.append(-n_dot_d)
        # dt/dr = -r / sqrt(disc) = 1 / (n.d) = -1 / cos(theta); dt/dc = n / (n.d)
        assert abs(float(g[3]) - float(-r / disc.sqrt())) < 1e-9
        assert abs(float(g[3]) - 1 / n_dot_d) < 1e-9
        assert torch.allclose(g[:3], n / n_dot_d, atol=1e-9)
        # central differences of the traced depth
        h = 1e-6
        for i in range(4):
            e = torch.zeros(4, dtype=F64)
            e[i] = h
            up = depth(sphere(params.detach() + e), rays)[k]
            down = depth(sphere(params.detach() - e), rays)[k]
            fd = float(up - down) / (2 * h)
            assert abs(fd - float(g[i])) < 1e-5, (k, i, fd, float(g[i]))
    assert max(cos) > 0.95 and min(cos) < 0.75          # a head-on and an oblique ray


def test_box_depth_matches_the_slab_method():
    centre, half = np.array([0.1, 0.05, -0.1]), np.array([0.6, 0.4, 0.5])
    sdf = make_sdf([(Primitive("box"), [*centre, *half])], dtype=F64)
    camera = dr.OrbitCamera(azimuth=torch.tensor(35.0, dtype=F64), elevation=torch.tensor(25.0, dtype=F64),
                            distance=torch.tensor(3.0, dtype=F64))
    rays = camera_rays(camera, SIZE, F64)
    with torch.no_grad():
        tr = trace_rays(sdf, rays, TIGHT)
        t = hit_depth(sdf, rays, tr, tr.hit.nonzero().squeeze(1), TIGHT).numpy()
    o, d = rays.origin.numpy(), rays.dirs[tr.hit].numpy()
    with np.errstate(divide="ignore"):
        t1, t2 = (centre - half - o) / d, (centre + half - o) / d
    t_near = np.minimum(t1, t2).max(1)
    t_far = np.maximum(t1, t2).min(1)
    assert (t_near < t_far).all()
    assert np.abs(t - t_near).max() < 1e-5
    # and every ray the slab method says hits, the tracer hits
    with np.errstate(divide="ignore"):
        a1, a2 = (centre - half - o) / rays.dirs.numpy(), (centre + half - o) / rays.dirs.numpy()
    slab_hit = np.minimum(a1, a2).max(1) < np.maximum(a1, a2).min(1)
    assert int(tr.hit.sum()) > 100 and (slab_hit == tr.hit.numpy()).mean() > 0.995


def torus_roots(o, d, c, big, small):
    """The smallest positive real root of (|p|^2 + R^2 - r^2)^2 - 4 R^2 (p_x^2 + p_z^2), p = o + t d - c."""
    p0 = o - c
    quad = np.polynomial.polynomial
    a = np.array([p0 @ p0 + big ** 2 - small ** 2, 2 * (p0 @ d), d @ d])
    xz = quad.polyadd(quad.polypow([p0[0], d[0]], 2), quad.polypow([p0[2], d[2]], 2))
    poly = quad.polysub(quad.polypow(a, 2), 4 * big ** 2 * xz)
    roots = np.roots(poly[::-1])
    real = roots[np.abs(roots.imag) < 1e-7].real
    real = real[real > 0]
    return real.min() if len(real) else None


def test_torus_depth_matches_the_quartic():
    c, big, small = np.array([0.0, 0.1, 0.05]), 0.7, 0.25
    sdf = make_sdf([(Primitive("torus"), [*c, big, small])], dtype=F64)
    camera = dr.OrbitCamera(azimuth=torch.tensor(-20.0, dtype=F64), elevation=torch.tensor(40.0, dtype=F64),
                            distance=torch.tensor(3.0, dtype=F64))
    rays = camera_rays(camera, SIZE, F64)
    with torch.no_grad():
        tr = trace_rays(sdf, rays, TIGHT)
        idx = tr.hit.nonzero().squeeze(1)
        t = hit_depth(sdf, rays, tr, idx, TIGHT).numpy()
    assert len(idx) > 80
    o = rays.origin.numpy()
    worst = 0.0
    for k, i in enumerate(idx.tolist()):
        ref = torus_roots(o, rays.dirs[i].numpy(), c, big, small)
        assert ref is not None
        worst = max(worst, abs(t[k] - ref))
    assert worst < 1e-5


def unrolled_depth(sdf_fn, o, d, t0, steps=200, alpha=1.5, clamp=0.1):
    """Over-relaxed sphere tracing with the graph kept through every step."""
    t = t0
    for _ in range(steps):
        t = t + alpha * sdf_fn(o + t * d).clamp(-clamp, clamp)
    return t


def test_implicit_derivative_equals_unrolled_tracing_and_dist_differs_by_cos():
    rays = pixel_rays([(16, 16), (10, 14)])
    params = torch.tensor(SPHERE, dtype=F64, requires_grad=True)
    sdf = sphere().with_params(params)
    t_implicit = depth(sdf, rays)
    dist = TraceOptions(threshold=1e-11, max_steps=400, overstep=1.5, step_clamp=0.1, gradient="dist",
                        dist_buffer=5)
    t_dist = depth(sdf, rays, dist)
    for k in range(2):
        o, d = rays.origin.detach(), rays.dirs[k].detach()
        t_un = unrolled_depth(lambda x: evaluate(sdf, x[None])[0], o, d, torch.tensor(1.5, dtype=F64))
        (g_un,) = torch.autograd.grad(t_un, params)
        (g_im,) = torch.autograd.grad(t_implicit[k], params, retain_graph=True)
        assert abs(float(t_un.detach()) - float(t_implicit[k].detach())) < 1e-9
        assert torch.allclose(g_un, g_im, atol=1e-8), (g_un, g_im)
        # DIST: alpha * sum over the last 5 samples of df/dr = 1.5 * 5 * (-1), whatever the angle
        (g_dist,) = torch.autograd.grad(t_dist[k], params, retain_graph=True)
        assert abs(float(g_dist[3]) + 7.5) < 1e-6
        assert abs(float(g_im[3])) < 7.5


def test_soft_silhouette_of_a_sphere_has_its_area_and_its_area_derivative():
    """Perspective analogue of next_wave §4.4's orthographic check: a sphere (r, distance D)
    projects to a disc of NDC radius rho = f r / sqrt(D^2 - r^2); the soft silhouette's total
    coverage is the disc's area in pixels and sum_p d alpha_p / dr = 2 pi rho (d rho / dr) / A_pix
    (a symmetric soft edge neither adds nor loses coverage). 2 % at a 2-pixel band."""
    size, sigma, dist, r = 128, 3e-4, 3.0, 0.5
    params = torch.tensor([0.0, 0.0, 0.0, r], dtype=F64, requires_grad=True)
    camera = dr.OrbitCamera(*(torch.tensor(v, dtype=F64) for v in (0.0, 0.0, dist, 60.0)))
    scene = dr.Scene.default(sphere([0.0, 0.0, 0.0, r]).with_params(params), image_size=size, sigma=sigma)
    alpha = dr.render(scene.replace(camera=camera), "sdf").alpha
    (grad,) = torch.autograd.grad(alpha.sum(), params)
    f = 1 / np.tan(np.radians(30.0))
    rho = f * r / np.sqrt(dist ** 2 - r ** 2)
    drho = f * dist ** 2 / (dist ** 2 - r ** 2) ** 1.5
    pixel = (2 / size) ** 2
    assert abs(float(alpha.sum().detach()) / (np.pi * rho ** 2 / pixel) - 1) < 0.01
    assert abs(float(grad[3]) / (2 * np.pi * rho * drho / pixel) - 1) < 0.02
