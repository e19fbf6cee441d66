"""How well a soft renderer's derivative image agrees with the reference derivative: the exact
derivative of the box-filtered image (the "edge" renderer, ``derivatives.reference_derivative``)
by default, or central differences of the supersampled GL render (reference "gl_fd").

Two measures, each on the composited colour (``derivatives.composite_derivative``) and on alpha:

- cosine similarity of the flattened derivative images, <a, b> / (|a| |b|) (0 when either is 0);
- sign agreement: among pixels (and channels) where both |a| and |b| exceed 5% of their own
  maximum, the fraction where the signs agree.

Each is reported per pixel and at the *band scale*: both images blurred by a Gaussian whose
standard deviation is half the renderer's soft edge width (SoftRas: sqrt(9.21 sigma) S / 4 px).
A soft renderer spreads an edge's derivative over its band, centred up to a pixel outside the true
edge (the squared-distance sigmoid has zero slope on the edge itself), while the reference puts it
on the one or two pixels the edge crosses, so per pixel they barely overlap even when they agree
at the scale a loss with smooth dL/dI sees.

A renderer whose rgb is already the viewed colour (box-filtered over the background:
``RendererSpec.rgb_composited``, e.g. "edge") is compared as it is, not composited again.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch

from ..registry import get_renderer
from ..registry import renderers as registered_renderers
from ..scene import RenderSettings, Scene
from .derivatives import (EXACT_RENDERER, composite_derivative, derivative_image, reference_derivative,
                          reference_method)
from .params import ParamSpec, parse_param

SIGN_FLOOR = 0.05


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """<a, b> / (|a| |b|) of the flattened arrays; 0 if either is all zero."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return 0.0 if na == 0 or nb == 0 else float(a @ b / (na * nb))


def sign_agreement(a: np.ndarray, b: np.ndarray, floor: float = SIGN_FLOOR) -> float:
    """Fraction of elements with equal signs among those where |a| > floor max|a| and
    |b| > floor max|b|; NaN when there are none."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if not a.any() or not b.any():
        return float("nan")
    both = (np.abs(a) > floor * np.abs(a).max()) & (np.abs(b) > floor * np.abs(b).max())
    return float((np.sign(a[both]) == np.sign(b[both])).mean()) if both.any() else float("nan")


def gaussian_blur(image: np.ndarray, std_px: float) -> np.ndarray:
    """Separable Gaussian blur of (H, W) or (H, W, C), zero padding, truncated at 3 std."""
    if std_px <= 0:
        return np.asarray(image, np.float64)
    radius = max(1, int(math.ceil(3 * std_px)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / std_px) ** 2)
    kernel /= kernel.sum()
    img = torch.from_numpy(np.asarray(image, np.float64))
    flat = img[..., None] if img.dim() == 2 else img
    chw = flat.permute(2, 0, 1)[:, None]                                   # (C, 1, H, W)
    k = torch.from_numpy(kernel)
    chw = torch.nn.functional.conv2d(chw, k.reshape(1, 1, 1, -1), padding=(0, radius))
    chw = torch.nn.functional.conv2d(chw, k.reshape(1, 1, -1, 1), padding=(radius, 0))
    out = chw[:, 0].permute(1, 2, 0).numpy()
    return out[..., 0] if img.dim() == 2 else out


def band_scale_px(settings: RenderSettings) -> float:
    """Half the renderer's soft edge width in pixels (``RendererSpec.edge_width_px``), the std of
    the band-scale blur: SoftRas sqrt(9.21 sigma) S / 4, DIB-R sqrt(ln(1e4) delta) S / 4, hard
    and gl 0."""
    return get_renderer(settings.renderer).edge_width_px(settings) / 2


@dataclass
class Agreement:
    """Soft-versus-reference agreement at one blur scale (std ``scale_px``; 0 = per pixel)."""

    scale_px: float
    cosine: float           # composited colour
    cosine_alpha: float
    sign_agreement: float   # composited colour
    sign_agreement_alpha: float


def rgb_composited(renderer: str) -> bool:
    """Whether ``renderer``'s rgb is already the colour a viewer sees (box-filtered over the
    background at partly covered pixels), so that it must not be composited with alpha again."""
    return get_renderer(renderer).rgb_composited


def viewed_colour_derivative(image: np.ndarray, d_image: np.ndarray, background: tuple[float, float, float],
                             composited: bool = False) -> np.ndarray:
    """d(the colour a viewer sees)/dtheta, (S, S, 3): ``composite_derivative`` of (image, d_image)
    (S, S, 4), or d_image's rgb as it is when the renderer's rgb is already ``composited``."""
    return np.asarray(d_image[..., :3], np.float64) if composited else composite_derivative(image, d_image, background)


def compare_derivatives(soft_image: np.ndarray, soft_d: np.ndarray, reference_d: np.ndarray,
                        background: tuple[float, float, float], scale_px: float = 0.0,
                        composited: bool = False) -> Agreement:
    """Compare a soft derivative image with the reference one.

    soft_image, soft_d: (S, S, 4) the soft render and its dI/dtheta; reference_d: (S, S, 4) the
    reference derivative (rgb there is already composited over the background); composited: the
    soft renderer's rgb is already composited too (``rgb_composited``).
    """
    soft_c = gaussian_blur(viewed_colour_derivative(soft_image, soft_d, background, composited), scale_px)
    ref_c = gaussian_blur(reference_d[..., :3], scale_px)
    soft_a = gaussian_blur(soft_d[..., 3], scale_px)
    ref_a = gaussian_blur(reference_d[..., 3], scale_px)
    return Agreement(scale_px, cosine_similarity(soft_c, ref_c), cosine_similarity(soft_a, ref_a),
                     sign_agreement(soft_c, ref_c), sign_agreement(soft_a, ref_a))


@dataclass
class AgreementReport:
    """One renderer at one setting against the reference: per pixel and at the band scale."""

    renderer: str
    sigma: float
    param: str
    per_pixel: Agreement
    band: Agreement
    soft_image: np.ndarray
    soft_d: np.ndarray
    reference_d: np.ndarray
    method: str
    reference: str = EXACT_RENDERER      # how reference_d was made: "edge" or "gl_fd"

    def row(self) -> dict:
        """A flat dict for printing or tables."""
        return {"renderer": self.renderer, "sigma": self.sigma, "param": self.param,
                **{f"pixel_{k}": v for k, v in asdict(self.per_pixel).items()},
                **{f"band_{k}": v for k, v in asdict(self.band).items()}}


def derivative_agreement(scene: Scene, param: Union[str, ParamSpec], reference_d: Optional[np.ndarray] = None,
                         gl=None, method: str = "auto", reference: str = "auto") -> AgreementReport:
    """The scene's torch renderer's dI/dtheta against the reference derivative (computed here
    unless ``reference_d`` (S, S, 4) is given, e.g. shared across several sigmas).

    reference: "edge" (the exact derivative), "gl_fd" (GL central differences) or "auto": edge,
    except for the edge renderer itself, which is checked against gl_fd (nothing is checked
    against itself). method: how the renderer's own dI/dtheta is taken (``derivative_image``)."""
    spec = parse_param(param, scene) if isinstance(param, str) else param
    ref_method = reference_method(reference, scene)
    if reference == "auto" and scene.settings.renderer == EXACT_RENDERER:
        ref_method = "gl_fd"
    if reference_d is None:
        reference_d = reference_derivative(scene, spec, gl=gl, method=ref_method)
    d = derivative_image(scene, spec, method=method)
    img, dd = d.image.double().cpu().numpy(), d.d_image.double().cpu().numpy()
    bg = scene.settings.background
    comp = rgb_composited(scene.settings.renderer)
    return AgreementReport(scene.settings.renderer, float(scene.settings.sigma), spec.name,
                           compare_derivatives(img, dd, reference_d, bg, 0.0, comp),
                           compare_derivatives(img, dd, reference_d, bg, band_scale_px(scene.settings), comp),
                           img, dd, reference_d, d.method, ref_method)


def agreement_table(scene: Scene, param: Union[str, ParamSpec], sigmas: Sequence[float],
                    renderers: Optional[Sequence[str]] = None, gl=None, reference: str = "auto") -> list[AgreementReport]:
    """``derivative_agreement`` for each renderer (default: every registered differentiable one
    for the scene's representation that has an image derivative, but the reference itself; those
    that read sigma once per sigma), one shared reference (``reference``: see
    ``derivative_agreement``)."""
    spec = parse_param(param, scene) if isinstance(param, str) else param
    ref_method = reference_method(reference, scene)
    ref = reference_derivative(scene, spec, gl=gl, method=ref_method)
    if renderers is None:
        renderers = [s.name for s in registered_renderers(scene.kind, differentiable=True)
                     if s.image_derivative and not (ref_method == EXACT_RENDERER and s.name == EXACT_RENDERER)]
    rows = []
    for kind in renderers:
        for sigma in (sigmas if "sigma" in get_renderer(kind).uses else sigmas[:1]):
            s = scene.with_settings(renderer=kind, sigma=sigma)
            rows.append(derivative_agreement(s, spec, reference_d=ref, reference=ref_method))
    return rows
