"""The "gradient methods vs exact" analysis mode: every registered gradient method's dI/dtheta
beside the exact edge derivative on one colour scale, with their agreement numbers and
SoftRas's agreement against sigma (``renderer.analysis.compare``), drawn as the CLI's
compare-gradients figure so the GUI and the verb show the same thing."""
from __future__ import annotations

import numpy as np

from ..model.jobs import Heatmap
from .analysis_engine import ModeContext

# fewer sigmas than the verb's nine: each is a forward-mode derivative at the full resolution
GUI_SIGMAS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2)


def compare_methods(ctx: ModeContext) -> None:
    from renderer.analysis import param_value, parse_param
    from renderer.analysis.compare import compare_gradient_methods, reduce_channel, sigma_agreement_curve
    from renderer.analysis.figures import comparison_figure, figure_rgba

    scene, request = ctx.scene, ctx.request
    spec = parse_param(request.param, scene)
    target = ctx.engine.target(scene, request)
    ctx.check()
    comparison = compare_gradient_methods(scene, target, request.loss, spec,
                                          progress=lambda *_: ctx.check())
    curve = sigma_agreement_curve(scene, spec, GUI_SIGMAS, reference_d=comparison.truth.d_image,
                                  progress=lambda *_: ctx.check())
    title = (f"{request.loss} loss, theta = {spec.name} = {param_value(scene, spec):.4g} {spec.unit}, "
             f"{scene.settings.image_size} px; target: {request.target.describe()}")
    rgba = figure_rgba(comparison_figure(comparison, curve, title, table=False, columns=3))
    rgb = rgba[..., :3].astype(np.float32) / 255.0
    # the panels share the exact derivative's +-max: the pane's colour bar shows that scale
    vmax = float(np.abs(reduce_channel(comparison.truth.d_viewed, comparison.channel)).max()) or 1.0
    ctx.result.heatmap = Heatmap(np.full(rgb.shape[:2], np.nan, np.float32), "diverging", (-vmax, vmax),
                                 f"dI/d{spec.name} of every panel (one shared scale)", rgb=rgb)
    ctx.result.lines += comparison.table() + [
        f"{curve.renderer}: best per-pixel agreement at sigma = {curve.best():g}, at band scale at "
        f"sigma = {curve.best('band'):g} (sigmas tried: {', '.join(f'{s:g}' for s in GUI_SIGMAS)})"]
