"""Analysis modes that belong to one representation (named in ``app.model.modes`` with
``kinds``): the sphere tracer's "did not converge" map for SDFs and the dead-splat map for
Gaussian splats. Each calls its package's library function and fills the result."""
from __future__ import annotations

import numpy as np

from ..model.jobs import Heatmap
from ..panes.colormaps import levels_for
from .analysis_engine import ModeContext
from .mode_compute import _isoline


def sdf_convergence(ctx: ModeContext) -> None:
    """Steps per pixel, with the pixels whose march ran out of steps outlined."""
    from renderer.sdf.inspect import convergence_map

    maps = convergence_map(ctx.scene)
    steps = maps["steps"].astype(np.float32)
    stuck = maps["not_converged"]
    ctx.result.heatmap = Heatmap(steps, "sequential", levels_for("sequential", steps),
                                 "SDF evaluations per pixel (outlined: did not converge)",
                                 contour=_isoline(stuck.astype(np.float64), 0.5) if stuck.any() else None)
    hit = maps["hit"]
    share = float(stuck.mean())
    ctx.result.lines += [
        f"{int(stuck.sum())} pixels ({share:.2%}) did not converge within the step budget "
        f"(outlined; rays that enter the shape are finished by bisection and still drawn as hits)",
        f"steps per pixel: median {float(np.median(steps)):.0f}, max {int(steps.max())}; "
        f"{float(hit.mean()):.1%} of pixels hit the surface",
        "many steps near the silhouette are normal (grazing rays); a stuck region inside the shape "
        "means the SDF is not a distance (Lipschitz > 1): lower sdf_overstep or raise sdf_max_steps"
        if share > 0 else "every ray converged or left the bounds"]
