"""Derivative images dI/dtheta of one scalar parameter, and the OpenGL reference derivative.

Three ways to get the derivative image of a torch renderer (all (S, S, 4): d(r, g, b, alpha)):

- ``jvp``: forward mode with dual numbers (``torch.autograd.forward_ad``), one pass, no backward
  graph. Every op the renderers use has a forward-AD formula (index_add_, scatter_reduce, where,
  in-place writes on fresh zeros). ``torch.func.jvp`` is not used: under it (torch 2.13) the
  camera's projection matrix, built from Python floats and ``zeros_like``, gets a float64 tangent
  for a float32 primal and the following matmul fails; the plain dual-number API is exact.
- ``double_backward``: the same J v from reverse mode: g(u) = J^T u is linear in u, so
  J v = d/du (v . g(u)). Used for the hard renderer: forward AD ignores ``torch.no_grad``, so a
  jvp would see through the hard renderer's deliberate detach of the geometry and report the
  barycentric derivative its backward pass does not have; double backward honours the detach.
- ``fd``: central differences of the same renderer, (I(theta + h) - I(theta - h)) / 2h: the check.

The reference derivative (``reference_derivative``) is the exact derivative of the box-filtered
image, the "edge" renderer's (``renderer.exact``: autograd through supersampled shading plus a
Gauss-Legendre boundary integral along the silhouette and occlusion edges), by forward mode.
Central differences of the supersampled OpenGL render (``gl_fd_derivative``, method "gl_fd") stay
as an independent second check: a different rasterizer, no derivative code at all, but a
difference quotient of an image that changes in 1/k-pixel steps as an edge moves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import torch
import torch.autograd.forward_ad as fwad

from ..registry import check_image_derivative, differentiable_renderer, reference_renderer
from ..scene import Scene
from .gradients import render_rgba
from .params import ParamSpec, group_value, parse_param, reference_step, self_step, with_groups

METHODS = ("auto", "jvp", "double_backward", "fd")
REFERENCE_SUPERSAMPLE = 4
# How the reference dI/dtheta is made: the exact edge derivative, or GL central differences
REFERENCE_METHODS = ("auto", "edge", "gl_fd")
EXACT_RENDERER = "edge"          # renderer.exact.registration.EDGE


def _spec(scene: Scene, param: Union[str, ParamSpec]) -> ParamSpec:
    return parse_param(param, scene) if isinstance(param, str) else param


def _render_fn(scene: Scene, spec: ParamSpec):
    base = group_value(scene, spec.group)
    return (lambda g: render_rgba(with_groups(scene, {spec.group: g}))), base, spec.one_hot(base)


def derivative_jvp(scene: Scene, param: Union[str, ParamSpec]) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward mode: (image (S, S, 4), dI/dtheta (S, S, 4)) in one pass."""
    f, base, direction = _render_fn(scene, _spec(scene, param))
    # forward AD still runs under no_grad; no backward graph is built (and no checkpointing)
    with torch.no_grad(), fwad.dual_level():
        out = fwad.unpack_dual(f(fwad.make_dual(base, direction)))
        image = out.primal.clone()
        tangent = torch.zeros_like(image) if out.tangent is None else out.tangent.clone()
    return image, tangent


def derivative_double_backward(scene: Scene, param: Union[str, ParamSpec]) -> tuple[torch.Tensor, torch.Tensor]:
    """Reverse mode twice (see module docstring): (image (S, S, 4), dI/dtheta (S, S, 4))."""
    f, base, direction = _render_fn(scene, _spec(scene, param))
    leaf = base.clone().requires_grad_()
    with torch.enable_grad():
        image = f(leaf)
        if not image.requires_grad:
            return image.detach(), torch.zeros_like(image)
        u = torch.zeros_like(image, requires_grad=True)
        (g,) = torch.autograd.grad(image, leaf, u, create_graph=True, allow_unused=True)
        if g is None or not g.requires_grad:
            return image.detach(), torch.zeros_like(image)
        (jv,) = torch.autograd.grad((g * direction).sum(), u, allow_unused=True)
    return image.detach(), torch.zeros_like(image) if jv is None else jv


def derivative_fd(scene: Scene, param: Union[str, ParamSpec], step: Optional[float] = None) -> torch.Tensor:
    """Central differences of the scene's own renderer: (I(theta+h) - I(theta-h)) / 2h, (S, S, 4).
    step: h in the parameter's unit (default ``params.self_step``)."""
    spec = _spec(scene, param)
    f, base, direction = _render_fn(scene, spec)
    h = self_step(spec, base.dtype) if step is None else step
    with torch.no_grad():
        return (f(base + h * direction) - f(base - h * direction)) / (2 * h)


@dataclass
class DerivativeImage:
    """dI/dtheta of one parameter: image (S, S, 4) the render (rgb, alpha), d_image (S, S, 4)
    its derivative per unit of the parameter, and how it was obtained."""

    param: str
    unit: str
    method: str
    image: torch.Tensor
    d_image: torch.Tensor


def derivative_image(scene: Scene, param: Union[str, ParamSpec], method: str = "auto",
                     step: Optional[float] = None) -> DerivativeImage:
    """dI/dtheta of the scene's torch renderer w.r.t. one scalar parameter.

    method: "jvp", "double_backward", "fd" or "auto" (the renderer's registered
    ``derivative_method``: jvp, except double_backward for the hard renderer, see the module
    docstring). step: only for fd.
    """
    spec = _spec(scene, param)
    if method not in METHODS:
        raise ValueError(f"unknown derivative method {method!r}; expected one of {', '.join(METHODS)}")
    renderer = differentiable_renderer(scene.settings.renderer, "dI/dtheta (reference_derivative "
                                       "gives the reference's finite-difference derivative)")
    check_image_derivative(renderer)
    if method == "auto":
        method = renderer.derivative_method
    if method == "jvp":
        image, d = derivative_jvp(scene, spec)
    elif method == "double_backward":
        image, d = derivative_double_backward(scene, spec)
    else:
        with torch.no_grad():
            image = render_rgba(scene)
        d = derivative_fd(scene, spec, step)
    return DerivativeImage(spec.name, spec.unit, method, image.detach(), d.detach())


# ---------------------------------------------------------------------------------- reference

def gl_rgba(scene: Scene, supersample: int = REFERENCE_SUPERSAMPLE, gl=None) -> np.ndarray:
    """The reference render (OpenGL for a mesh) as (S, S, 4) float64: rgb over the background,
    alpha = covered fraction, box-filtered from k x k samples per pixel. k above the renderer's
    own limit of 8 renders at k*S and filters here. gl: a ``GLRenderer`` (GL is single-threaded;
    reuse one), or None for the shared one."""
    from ..gl.arrays import box_filter

    k = int(supersample)
    size = scene.settings.image_size
    if scene.kind != "mesh":
        from ..rendering import render

        out = render(scene.with_settings(renderer=reference_renderer(scene.kind).name, supersample=min(k, 8)))
        return np.concatenate([out["rgb"].detach().cpu().numpy(), out["alpha"].detach().cpu().numpy()[..., None]],
                              axis=-1).astype(np.float64)
    from ..gl import render_gl

    s = scene.with_settings(renderer="gl", supersample=k) if k <= 8 else \
        scene.with_settings(renderer="gl", supersample=1, image_size=size * k)
    out = gl.render(s) if gl is not None else render_gl(s)
    rgba = np.concatenate([out["rgb"], out["alpha"][..., None]], axis=-1)
    if k > 8:
        rgba = box_filter(rgba, k)
    return rgba.astype(np.float64)


def gl_fd_derivative(scene: Scene, param: Union[str, ParamSpec], step: Optional[float] = None,
                     supersample: int = REFERENCE_SUPERSAMPLE, gl=None) -> np.ndarray:
    """Central differences of the supersampled GL render, (S, S, 4) float64, per parameter unit:
    the independent check of the exact derivative.

    step: h (default ``params.reference_step``: 0.5 deg for angles at S = 256, k = 4, about one
    pixel of edge motion across the stencil). The image is a box filter of k x k samples, so it
    changes in 1/k-pixel steps as an edge moves: smaller h gives noise, larger h blurs.
    """
    spec = _spec(scene, param)
    h = reference_step(spec, scene.settings.image_size) if step is None else step
    base = group_value(scene, spec.group)
    e = spec.one_hot(base)
    plus = gl_rgba(with_groups(scene, {spec.group: base + h * e}), supersample, gl)
    minus = gl_rgba(with_groups(scene, {spec.group: base - h * e}), supersample, gl)
    return (plus - minus) / (2 * h)


def exact_available(scene: Scene) -> bool:
    """Whether the exact edge derivative can draw this scene (it draws meshes)."""
    from ..registry import get_renderer

    return get_renderer(EXACT_RENDERER).accepts(scene.kind)


def exact_derivative(scene: Scene, param: Union[str, ParamSpec]) -> np.ndarray:
    """The exact dI/dtheta of the box-filtered image (the "edge" renderer, forward mode),
    (S, S, 4) float64: rgb (already over the background, as the GL reference's) and coverage."""
    s = scene.with_settings(renderer=EXACT_RENDERER)
    _, d = derivative_jvp(s, _spec(s, param))
    return d.detach().double().cpu().numpy()


def reference_method(method: str, scene: Scene) -> str:
    """The reference method "auto" stands for: "edge" where it draws the scene, else "gl_fd"."""
    if method not in REFERENCE_METHODS:
        raise ValueError(f"unknown reference method {method!r}; expected one of {', '.join(REFERENCE_METHODS)}")
    if method == "auto":
        return EXACT_RENDERER if exact_available(scene) else "gl_fd"
    return method


def reference_derivative(scene: Scene, param: Union[str, ParamSpec], step: Optional[float] = None,
                         supersample: int = REFERENCE_SUPERSAMPLE, gl=None, method: str = "auto") -> np.ndarray:
    """The reference dI/dtheta, (S, S, 4) float64 per parameter unit, rgb composited over the
    background (what a viewer sees) and alpha.

    method: "edge" (the exact derivative, ``exact_derivative``; step, supersample and gl unused),
    "gl_fd" (central differences of the k x k supersampled GL render, ``gl_fd_derivative``) or
    "auto" (edge for meshes, gl_fd otherwise)."""
    if reference_method(method, scene) == EXACT_RENDERER:
        return exact_derivative(scene, param)
    return gl_fd_derivative(scene, param, step=step, supersample=supersample, gl=gl)


def composite_derivative(image: np.ndarray, d_image: np.ndarray,
                         background: tuple[float, float, float]) -> np.ndarray:
    """Derivative of the composited colour C = alpha rgb + (1 - alpha) bg, the image a viewer sees
    and the counterpart of a supersampled GL render (coverage-weighted colour over background):
    dC = d_alpha (rgb - bg) + alpha d_rgb. image, d_image: (S, S, 4) -> (S, S, 3)."""
    bg = np.asarray(background, dtype=np.float64)
    rgb, alpha = image[..., :3], image[..., 3:4]
    return d_image[..., 3:4] * (rgb - bg) + alpha * d_image[..., :3]
