"""Loss landscapes: the loss and its derivative along a 1-D sweep of one parameter, for several
sigma values, and a 2-D scan of two parameters.

A sweep shows what a gradient step cannot: local minima between the start and the target, flat
stretches where the gradient is zero, and whether the renderer's autograd derivative matches the
slope of the loss it actually computes (``Sweep.slope``, central differences along the sweep).
With ``exact`` the sweep also has the exact curve: the loss of the box-filtered image (the
"edge" renderer: the hard image averaged over each pixel, as the supersampled GL reference) and
its exact derivative, beside the soft renderer's curves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from ..registry import differentiable_renderer
from ..scene import Scene
from .gradients import loss_and_param_grads, loss_value
from .losses import Target, get_loss
from .params import parse_param, with_param

Progress = Optional[Callable[[int, int], None]]


@dataclass
class Sweep:
    """A 1-D sweep. values (N,) parameter values; labels (K,) one per curve (e.g. "sigma=1e-4");
    loss (K, N); grad (K, N) the renderer's dL/dtheta (autograd) at each value; target_value: the
    value the target was made with, if known."""

    param: str
    unit: str
    loss_name: str
    values: np.ndarray
    labels: list[str]
    sigmas: list[Optional[float]]
    loss: np.ndarray
    grad: np.ndarray
    target_value: Optional[float] = None

    def slope(self) -> np.ndarray:
        """(K, N) dL/dtheta from central differences of the loss curve along the sweep."""
        return np.gradient(self.loss, self.values, axis=1)

    def minima(self) -> list[float]:
        """Per curve, the sweep value with the lowest loss."""
        return [float(self.values[i]) for i in np.argmin(self.loss, axis=1)]

    def arrays(self) -> dict[str, np.ndarray]:
        return {"values": self.values, "loss": self.loss, "grad": self.grad, "slope": self.slope(),
                "labels": np.array(self.labels),
                "sigmas": np.array([np.nan if s is None else s for s in self.sigmas])}


EXACT_LABEL = "exact (box-filtered)"


def loss_sweep(scene: Scene, target: Target, loss: str, param: str, values: Sequence[float],
               sigmas: Optional[Sequence[float]] = None, target_value: Optional[float] = None,
               progress: Progress = None, exact: bool = False) -> Sweep:
    """L(theta) and dL/dtheta at each of ``values`` of ``param``; one curve per sigma (SoftRas
    only; other renderers give one curve), and with ``exact`` a last curve labelled
    ``EXACT_LABEL``: the box-filtered image's loss and exact derivative (meshes; ignored where the
    exact renderer cannot draw the scene). Cost: one render and one backward per point."""
    from .derivatives import EXACT_RENDERER, exact_available

    spec = parse_param(param, scene)
    get_loss(loss)
    values = np.asarray(values, dtype=np.float64)
    renderer = differentiable_renderer(scene.settings.renderer, "a loss landscape")
    if "sigma" not in renderer.uses:
        sigmas = [None]
    elif not sigmas:
        sigmas = [scene.settings.sigma]
    curves_l, curves_g, labels = [], [], []
    runs = [(scene if sigma is None else scene.with_settings(sigma=float(sigma)),
             scene.settings.renderer if sigma is None else f"sigma={sigma:g}") for sigma in sigmas]
    sigmas = list(sigmas)
    if exact and exact_available(scene) and scene.settings.renderer != EXACT_RENDERER:
        runs.append((scene.with_settings(renderer=EXACT_RENDERER), EXACT_LABEL))
        sigmas.append(None)
    total, done = len(runs) * len(values), 0
    for s, label in runs:
        labels.append(label)
        ls, gs = [], []
        for v in values:
            value, (g,) = loss_and_param_grads(with_param(s, spec, float(v)), target, loss, [spec])
            ls.append(value)
            gs.append(g)
            done += 1
            if progress:
                progress(done, total)
        curves_l.append(ls)
        curves_g.append(gs)
    return Sweep(spec.name, spec.unit, loss, values, labels, list(sigmas), np.array(curves_l),
                 np.array(curves_g), target_value)


@dataclass
class Scan:
    """A 2-D scan: loss (NY, NX) at values_y (NY,) x values_x (NX,); grad (2, NY, NX) the
    renderer's (dL/dx, dL/dy) if requested."""

    param_x: str
    param_y: str
    loss_name: str
    values_x: np.ndarray
    values_y: np.ndarray
    loss: np.ndarray
    grad: Optional[np.ndarray] = None
    target_value: Optional[tuple[float, float]] = None
    units: tuple[str, str] = ("", "")

    def minimum(self) -> tuple[float, float]:
        iy, ix = np.unravel_index(int(np.argmin(self.loss)), self.loss.shape)
        return float(self.values_x[ix]), float(self.values_y[iy])

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"values_x": self.values_x, "values_y": self.values_y, "loss2d": self.loss}
        if self.grad is not None:
            out["grad2d"] = self.grad
        return out


def loss_scan_2d(scene: Scene, target: Target, loss: str, param_x: str, values_x: Sequence[float],
                 param_y: str, values_y: Sequence[float], with_grad: bool = False,
                 target_value: Optional[tuple[float, float]] = None, progress: Progress = None) -> Scan:
    """L over a grid of two parameters (render only; with ``with_grad`` also both derivatives)."""
    sx, sy = parse_param(param_x, scene), parse_param(param_y, scene)
    if sx.name == sy.name:
        raise ValueError(f"a 2-D scan needs two different parameters, got {sx.name!r} twice")
    get_loss(loss)
    xs, ys = np.asarray(values_x, np.float64), np.asarray(values_y, np.float64)
    grid = np.zeros((len(ys), len(xs)))
    grads = np.zeros((2, len(ys), len(xs))) if with_grad else None
    total = grid.size
    for iy, y in enumerate(ys):
        for ix, x in enumerate(xs):
            s = with_param(with_param(scene, sx, float(x)), sy, float(y))
            if with_grad:
                grid[iy, ix], g = loss_and_param_grads(s, target, loss, [sx, sy])
                grads[:, iy, ix] = g
            else:
                grid[iy, ix] = loss_value(s, target, loss)
            if progress:
                progress(iy * len(xs) + ix + 1, total)
    return Scan(sx.name, sy.name, loss, xs, ys, grid, grads, target_value, (sx.unit, sy.unit))



