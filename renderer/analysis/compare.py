"""Which gradient is right? Every registered gradient method side by side against the exact one.

For one scene, target, loss and scalar parameter theta, ``compare_gradient_methods`` takes from
each differentiable renderer (softras at the scene's sigma and gamma, dibr, hard, and whatever else
is registered: nmr, aa, ...) its dI/dtheta image, dL/dV and dL/dtheta, and measures them against
the exact derivative of the box-filtered image (the "edge" renderer, ``renderer.exact``):

- per-pixel and band-scale cosine of dI/dtheta (``agreement.compare_derivatives``: the colour a
  viewer sees, and alpha), and the sign agreement where both are large;
- the magnitude ratio |dI/dtheta| / |dI/dtheta exact| on the loss's channel (a method that blurs
  an edge over a band keeps the integral but not the norm; one that misses edges has a ratio < 1);
- dL/dtheta, its ratio to the exact one and whether it points the same way (the sign a gradient
  step takes), and the cosine of dL/dV with the exact dL/dV.

A renderer without an image derivative (``RendererSpec.image_derivative`` False, e.g. NMR, whose
backward is hand-made for a loss) gets dL/dtheta and dL/dV only, and says so.

``sigma_agreement_curve`` is SoftRas's per-pixel (and band-scale) agreement with the exact
derivative as a function of sigma: the figure that tells a user which sigma to choose.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional, Sequence, Union

import numpy as np

from ..errors import UserError
from ..registry import get_renderer
from ..registry import renderers as registered_renderers
from ..scene import Scene
from .agreement import (Agreement, band_scale_px, compare_derivatives, cosine_similarity, rgb_composited,
                        viewed_colour_derivative)
from .derivatives import EXACT_RENDERER, derivative_image
from .gradients import loss_gradients
from .losses import Target, get_loss
from .params import ParamSpec, element_group, parse_param

Progress = Optional[Callable[[int, int, str], None]]
DEFAULT_SIGMAS = (1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)


@dataclass
class MethodResult:
    """One gradient method on the scene. d_image: (S, S, 4) raw dI/dtheta (None without an
    image derivative); d_viewed: (S, S, 4) d(viewed colour, alpha)/dtheta; dL_dV: (V, 3) (the
    element group's gradient); agreement and ratios against the exact method (None for itself,
    or without an image derivative)."""

    name: str
    label: str
    image_derivative: bool
    dL_dtheta: float
    dL_dV: np.ndarray
    d_image: Optional[np.ndarray] = None
    d_viewed: Optional[np.ndarray] = None
    per_pixel: Optional[Agreement] = None
    band: Optional[Agreement] = None
    magnitude_ratio: float = float("nan")
    dL_dtheta_ratio: float = float("nan")
    same_direction: Optional[bool] = None
    dL_dV_cosine: float = float("nan")
    loss: float = float("nan")
    seconds: float = 0.0
    note: str = ""
    image: Optional[np.ndarray] = field(default=None, repr=False)     # (S, S, 4) its render

    def agreement_text(self) -> str:
        """One short line: the per-pixel and band cosines on the viewed colour and alpha."""
        if self.per_pixel is None:
            return self.note or "the reference"
        return (f"cos/px {self.per_pixel.cosine:.2f} (alpha {self.per_pixel.cosine_alpha:.2f}), "
                f"band {self.band.cosine:.2f} (alpha {self.band.cosine_alpha:.2f})")


@dataclass
class GradientComparison:
    """Every method against the exact one. truth: the exact method's result; methods: the others,
    in registry order; channel: the loss's channel ("alpha" or "rgb")."""

    param: str
    unit: str
    loss_name: str
    channel: str
    truth: MethodResult
    methods: list[MethodResult]
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rgb: Optional[np.ndarray] = field(default=None, repr=False)

    def all(self) -> list[MethodResult]:
        return [self.truth, *self.methods]

    def rows(self) -> list[dict]:
        """One flat dict per method (the table, and the npz's meta)."""
        out = []
        for m in self.all():
            row = {"method": m.name, "label": m.label, "image_derivative": m.image_derivative,
                   "dL_dtheta": m.dL_dtheta, "dL_dtheta_ratio": m.dL_dtheta_ratio,
                   "same_direction": m.same_direction, "magnitude_ratio": m.magnitude_ratio,
                   "dL_dV_cosine": m.dL_dV_cosine, "loss": m.loss, "seconds": m.seconds, "note": m.note}
            for key, a in (("pixel", m.per_pixel), ("band", m.band)):
                for name, value in (asdict(a).items() if a is not None else []):
                    row[f"{key}_{name}"] = value
            out.append(row)
        return out

    def table(self) -> list[str]:
        """The comparison as fixed-width text lines."""
        head = (f"{'method':<10} {'cos/px':>7} {'a/px':>6} {'cos/band':>8} {'a/band':>6} {'sign':>5} "
                f"{'|dI| ratio':>10} {'dL/d' + self.param:>14} {'same way':>8} {'dL/dV cos':>9}")
        lines = [head]
        for m in self.all():
            def f(v, w=7, p=3):
                return f"{v:>{w}.{p}f}" if v is not None and np.isfinite(v) else f"{'-':>{w}}"
            px, band = m.per_pixel, m.band
            same = ("-" if m is self.truth else "zero") if m.same_direction is None else \
                ("yes" if m.same_direction else "NO")
            lines.append(f"{m.name[:10]:<10} {f(px and px.cosine)} {f(px and px.cosine_alpha, 6, 2)} "
                         f"{f(band and band.cosine, 8)} {f(band and band.cosine_alpha, 6, 2)} "
                         f"{f(px and px.sign_agreement, 5, 2)} {f(m.magnitude_ratio, 10, 2)} "
                         f"{m.dL_dtheta:>+14.4g} {same:>8} {f(m.dL_dV_cosine, 9)}"
                         + (f"  ({m.note})" if m.note and m is not self.truth else ""))
        return lines

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array for an npz file, keyed by method name."""
        out: dict[str, np.ndarray] = {}
        for m in self.all():
            out[f"{m.name}_dL_dV"] = m.dL_dV
            out[f"{m.name}_dL_dtheta"] = np.float64(m.dL_dtheta)
            if m.d_image is not None:
                out[f"{m.name}_dI"] = m.d_image
                out[f"{m.name}_dI_viewed"] = m.d_viewed
        if self.rgb is not None:
            out["render_rgb"] = self.rgb
        return out


def reduce_channel(maps: np.ndarray, channel: str) -> np.ndarray:
    """(S, S, 4) -> (S, S): alpha, or the sum over r, g, b (the loss's channel)."""
    return maps[..., 3] if channel == "alpha" else maps[..., :3].sum(-1)


def default_methods(scene: Scene) -> list[str]:
    """Every registered differentiable renderer for the scene's representation, but the exact one."""
    return [s.name for s in registered_renderers(scene.kind, differentiable=True) if s.name != EXACT_RENDERER]


def _dl_dtheta(grads, spec: ParamSpec) -> float:
    return float(grads.group_grads[spec.group][spec.index])


def _element_grad(grads, scene: Scene) -> np.ndarray:
    group = element_group(scene)
    g = grads.group_grads.get(group) if group else None
    return np.zeros((0, 3)) if g is None else g.detach().double().cpu().numpy()


def _run_method(scene: Scene, name: str, target: Target, loss: str, spec: ParamSpec) -> MethodResult:
    start = time.perf_counter()
    s = scene.with_settings(renderer=name)
    rspec = get_renderer(name)
    grads = loss_gradients(s, target, loss)
    result = MethodResult(name=name, label=rspec.label(s.settings), image_derivative=rspec.image_derivative,
                          dL_dtheta=_dl_dtheta(grads, spec), dL_dV=_element_grad(grads, s), loss=grads.loss)
    if rspec.image_derivative:
        d = derivative_image(s, spec)
        image, dd = d.image.double().cpu().numpy(), d.d_image.double().cpu().numpy()
        viewed = viewed_colour_derivative(image, dd, s.settings.background, rgb_composited(name))
        result.d_image, result.image = dd, image
        result.d_viewed = np.concatenate([viewed, dd[..., 3:]], axis=-1)
        result.note = f"dI/dtheta by {d.method}"
    else:
        result.note = "no image derivative (backward hand-made for the loss): dL/dtheta and dL/dV only"
    result.seconds = time.perf_counter() - start
    return result


def _measure(m: MethodResult, truth: MethodResult, scene: Scene, channel: str) -> None:
    """Fill ``m``'s agreement with ``truth`` in place."""
    if truth.dL_dtheta != 0 and m.dL_dtheta != 0:
        m.dL_dtheta_ratio = m.dL_dtheta / truth.dL_dtheta
    # a zero gradient points nowhere: neither the same way nor the other
    m.same_direction = None if truth.dL_dtheta == 0 or m.dL_dtheta == 0 else \
        bool(np.sign(m.dL_dtheta) == np.sign(truth.dL_dtheta))
    if m.dL_dV.shape == truth.dL_dV.shape and m.dL_dV.size:
        m.dL_dV_cosine = cosine_similarity(m.dL_dV, truth.dL_dV)
    if m.d_image is None:
        return
    s = scene.with_settings(renderer=m.name)
    comp = rgb_composited(m.name)
    bg = scene.settings.background
    m.per_pixel = compare_derivatives(m.image, m.d_image, truth.d_viewed, bg, 0.0, comp)
    m.band = compare_derivatives(m.image, m.d_image, truth.d_viewed, bg, band_scale_px(s.settings), comp)
    norm_t = float(np.linalg.norm(reduce_channel(truth.d_viewed, channel)))
    norm_m = float(np.linalg.norm(reduce_channel(m.d_viewed, channel)))
    m.magnitude_ratio = norm_m / norm_t if norm_t > 0 else float("nan")


def compare_gradient_methods(scene: Scene, target: Target, loss: str, param: Union[str, ParamSpec],
                             methods: Optional[Sequence[str]] = None, progress: Progress = None) -> GradientComparison:
    """Every method's dI/dtheta, dL/dV and dL/dtheta against the exact edge derivative.

    scene: its settings give softras's sigma and gamma (and every other renderer's settings);
    target: the loss's target; loss: a name from ``losses.IMAGE_LOSSES``; param: theta;
    methods: renderer names (default ``default_methods``: every differentiable one registered for
    the scene's representation). progress(done, total, name) after each method."""
    from .derivatives import exact_available

    if not exact_available(scene):
        raise ValueError(f"compare-gradients measures against the exact edge derivative, which draws "
                         f"meshes; this scene holds a {scene.kind}")
    spec = parse_param(param, scene) if isinstance(param, str) else param
    channel = get_loss(loss).channel
    names = list(default_methods(scene) if methods is None else methods)
    for name in names:
        rspec = get_renderer(name)                     # unknown names: one clear error
        if not rspec.differentiable:
            raise ValueError(f"compare-gradients: {name} is not differentiable; choose among "
                             f"{', '.join(default_methods(scene))}")
        if not rspec.accepts(scene.kind):
            raise ValueError(f"compare-gradients: {name} cannot draw a {scene.kind}")
    names = [n for n in names if n != EXACT_RENDERER]
    total = len(names) + 1
    truth = _run_method(scene, EXACT_RENDERER, target, loss, spec)
    truth.note = "the exact derivative of the box-filtered image (the reference)"
    if progress:
        progress(1, total, EXACT_RENDERER)
    results = []
    for i, name in enumerate(names):
        try:
            m = _run_method(scene, name, target, loss, spec)
            _measure(m, truth, scene, channel)
        except (UserError, ValueError, RuntimeError) as exc:
            # one method that cannot do this scene (a budget, a setting) must not hide the others
            m = MethodResult(name=name, label=name, image_derivative=get_renderer(name).image_derivative,
                             dL_dtheta=float("nan"), dL_dV=np.zeros((0, 3)), note=f"failed: {exc}")
        results.append(m)
        if progress:
            progress(i + 2, total, name)
    return GradientComparison(spec.name, spec.unit, loss, channel, truth, results,
                              tuple(scene.settings.background), truth.image[..., :3])


@dataclass
class SigmaCurve:
    """A sigma renderer's agreement with the exact derivative against sigma. sigmas (N,);
    per_pixel, per_pixel_alpha, band, band_alpha, sign (N,) cosines and sign agreement."""

    renderer: str
    param: str
    sigmas: np.ndarray
    per_pixel: np.ndarray
    per_pixel_alpha: np.ndarray
    band: np.ndarray
    band_alpha: np.ndarray
    sign: np.ndarray
    band_px: np.ndarray

    def best(self, which: str = "per_pixel") -> float:
        """The sigma with the highest ``which`` cosine."""
        values = getattr(self, which)
        return float(self.sigmas[int(np.nanargmax(values))])

    def arrays(self) -> dict[str, np.ndarray]:
        return {f"sigma_curve_{k}": getattr(self, k) for k in
                ("sigmas", "per_pixel", "per_pixel_alpha", "band", "band_alpha", "sign", "band_px")}


def sigma_renderer(scene: Scene) -> str:
    """The first registered differentiable renderer that reads sigma (softras)."""
    for s in registered_renderers(scene.kind, differentiable=True):
        if "sigma" in s.uses and s.image_derivative:
            return s.name
    raise ValueError(f"no registered renderer for a {scene.kind} reads sigma")


def sigma_agreement_curve(scene: Scene, param: Union[str, ParamSpec], sigmas: Sequence[float] = DEFAULT_SIGMAS,
                          renderer: Optional[str] = None, reference_d: Optional[np.ndarray] = None,
                          progress: Progress = None) -> SigmaCurve:
    """SoftRas's (``renderer``'s) per-pixel and band-scale cosine with the exact dI/dtheta for each
    sigma (the scene's gamma kept). reference_d: (S, S, 4) the exact derivative, if already made."""
    from .agreement import derivative_agreement
    from .derivatives import exact_derivative

    spec = parse_param(param, scene) if isinstance(param, str) else param
    name = renderer or sigma_renderer(scene)
    ref = exact_derivative(scene, spec) if reference_d is None else reference_d
    cols: dict[str, list[float]] = {k: [] for k in ("per_pixel", "per_pixel_alpha", "band", "band_alpha", "sign", "band_px")}
    for i, sigma in enumerate(sigmas):
        r = derivative_agreement(scene.with_settings(renderer=name, sigma=float(sigma)), spec, reference_d=ref,
                                 reference=EXACT_RENDERER)
        cols["per_pixel"].append(r.per_pixel.cosine)
        cols["per_pixel_alpha"].append(r.per_pixel.cosine_alpha)
        cols["band"].append(r.band.cosine)
        cols["band_alpha"].append(r.band.cosine_alpha)
        cols["sign"].append(r.per_pixel.sign_agreement)
        cols["band_px"].append(r.band.scale_px)
        if progress:
            progress(i + 1, len(sigmas), f"sigma={sigma:g}")
    return SigmaCurve(name, spec.name, np.asarray(sigmas, np.float64),
                      **{k: np.asarray(v, np.float64) for k, v in cols.items()})
