"""The built-in analysis modes' compute functions (named in ``app.model.modes``), run in the worker
thread. Each takes a ``ModeContext`` and fills ``ctx.result``: a heatmap and summary lines."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from renderer import Scene

from ..model.jobs import AnalysisRequest, Heatmap
from ..panes.colormaps import levels_for, map_to_rgb
from .analysis_engine import ModeContext, project_points_px

ARROW_COUNT = 24
ARROW_LENGTH = 0.25        # world units for the largest gradient (meshes are normalised to radius 1)
CLIP_PERCENT = 1.0         # per-vertex colours: the percentile scale saturates the top 1%


def difference(ctx: ModeContext) -> None:
    values = (ctx.soft["rgb"] - ctx.gl["rgb"]).mean(-1)
    ctx.result.heatmap = Heatmap(values, "diverging", levels_for("diverging", values),
                                 "soft - reference (mean of R,G,B)")
    ctx.result.lines.append(f"mean |soft - reference| = {np.abs(values).mean():.4g}; "
                            f"{(np.abs(values) > 1 / 255).mean():.1%} of pixels differ by more than 1/255")


def alpha(ctx: ModeContext) -> None:
    soft, gl = ctx.soft["alpha"], ctx.gl["alpha"]
    values = soft - gl
    ctx.result.heatmap = Heatmap(values, "diverging", levels_for("diverging", values),
                                 "soft alpha - hard mask", contour=_isoline(gl, 0.5))
    halo = ((soft > 1e-3) & (gl < 0.5)).mean()
    short = ((soft < 0.999) & (gl >= 0.5)).mean()
    ctx.result.lines += [f"soft halo outside the hard mask: {halo:.2%} of pixels; "
                         f"partial coverage inside: {short:.2%}",
                         "black line: the edge of the OpenGL reference's hard mask (its 0.5 coverage "
                         "contour); red outside it is the soft halo, blue inside it missing coverage"]


def dl_di(ctx: ModeContext) -> None:
    from renderer.analysis import get_loss

    _, grads = ctx.engine.gradients(ctx.scene, ctx.request, ctx.result.times)
    loss = get_loss(ctx.request.loss)
    values = _reduce(grads.dL_dI.double().cpu().numpy(), loss.channel)
    ctx.result.heatmap = Heatmap(values, "diverging", levels_for("diverging", values),
                                 f"dL/dI ({_channel_words(loss.channel)})")
    ctx.result.lines += _loss_lines(ctx.request, grads) + [_dl_di_reading(loss.channel, ctx.request)]


def di_soft(ctx: ModeContext) -> None:
    from renderer.analysis import get_loss, parse_param

    param = ctx.request.param
    parse_param(param, ctx.scene)                 # a clear message for a mistyped name
    _, d, method, unit = ctx.engine.soft_derivative(ctx.scene, param, ctx.result.times)
    channel = get_loss(ctx.request.loss).channel
    values = _reduce(d, channel)
    ctx.result.heatmap = Heatmap(values, "diverging", levels_for("diverging", values),
                                 f"dI/d{param} per {unit} ({_channel_words(channel)})")
    ctx.result.lines.append(f"dI/d{param} of {ctx.scene.settings.renderer} by {method}, "
                            f"composited over the background; range +-max|dI|")


def di_ref(ctx: ModeContext) -> None:
    from renderer.analysis import get_loss, parse_param

    param = ctx.request.param
    unit = parse_param(param, ctx.scene).unit
    ref = ctx.engine.reference_derivative(ctx.scene, param, ctx.result.times)
    channel = get_loss(ctx.request.loss).channel
    values = _reduce(ref, channel)
    ctx.result.heatmap = Heatmap(values, "diverging", levels_for("diverging", values),
                                 f"reference dI/d{param} per {unit} ({_channel_words(channel)})")
    ctx.result.lines.append(reference_words(ctx.scene))


def reference_words(scene: Scene) -> str:
    """What the reference derivative is, for the scene's representation."""
    from renderer.analysis import reference_method

    if reference_method("auto", scene) == "edge":
        return ("the exact derivative of the box-filtered image: edge integrals along the silhouette "
                "and occlusion edges plus the interior term (renderer 'edge')")
    return "central differences of the 4x supersampled OpenGL reference render"


def agreement(ctx: ModeContext) -> None:
    from renderer.analysis import band_scale_px, cosine_similarity, get_loss, parse_param
    from renderer.analysis.agreement import gaussian_blur

    scene, param = ctx.scene, ctx.request.param
    parse_param(param, scene)
    _, d, method, _ = ctx.engine.soft_derivative(scene, param, ctx.result.times)
    ctx.check()
    ref = ctx.engine.reference_derivative(scene, param, ctx.result.times)
    channel = get_loss(ctx.request.loss).channel
    scale = band_scale_px(scene.settings)
    a, b = gaussian_blur(_reduce(d, channel), scale), gaussian_blur(_reduce(ref, channel), scale)
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    values = a * b / norm if norm > 0 else np.zeros_like(a)
    ctx.result.heatmap = Heatmap(values, "diverging", levels_for("diverging", values),
                                 "share of the cosine (red agrees, blue disagrees)")
    per_pixel = cosine_similarity(_reduce(d, channel), _reduce(ref, channel))
    band = float(values.sum())
    ctx.result.lines += [f"cosine similarity of soft ({method}) and reference dI/d{param} "
                         f"({_channel_words(channel)}): {per_pixel:.3f} per pixel, "
                         f"{band:.3f} at the band scale ({scale:.2g} px blur)",
                         "the soft derivative is spread over the edge band, the reference sits on the "
                         "pixels the edge crosses: compare them at the band scale"]


def influence(ctx: ModeContext) -> None:
    """Each face painted with its colour weight at the picked pixel (inspected by the engine)."""
    report, result, gl = ctx.result.inspector, ctx.result, ctx.gl
    if report is None:
        result.heatmap = Heatmap(np.zeros(gl["alpha"].shape, np.float32), "sequential", (0.0, 1.0),
                                 "colour weight w at the picked pixel")
        result.lines.append("click a pixel (in any pane) to see the faces that influence it")
        return
    weights = np.zeros(ctx.scene.mesh.num_faces + 1, np.float32)
    for f in report.faces:
        weights[f.face] = max(f.weight, 0.0)
    face_id = gl["face_id"]
    values = np.where(face_id >= 0, weights[np.where(face_id >= 0, face_id, -1)], 0.0).astype(np.float32)
    result.heatmap = Heatmap(values, "sequential", levels_for("sequential", values),
                             "colour weight w at the picked pixel", outlines=result.face_outlines)
    sig = report.significant()
    result.lines.append(f"pixel (row {report.row}, col {report.col}): {len(sig)} face(s) reach it; "
                        f"background weight {report.bg_weight:.3g}; outlined in the reference view")


def vertex_grad(ctx: ModeContext) -> None:
    scene = ctx.scene
    _, grads = ctx.engine.gradients(scene, ctx.request, ctx.result.times)
    ctx.check()
    if scene.kind != "mesh":
        _element_grad(ctx, grads)
        return
    norm = grads.dL_dV_norm.double().cpu().numpy()
    shade, levels, label, note = magnitude_colours(norm, ctx.request.magnitude_scale)
    lo, hi = levels
    colors = map_to_rgb(shade, "sequential", levels)
    grey = np.repeat(((np.clip(shade, lo, hi) - lo) / (hi - lo)).astype(np.float32)[:, None], 3, axis=1)
    painted = _paint(ctx.engine.gl, scene, colors)
    scalar = _paint(ctx.engine.gl, scene, grey)
    covered = scalar["face_id"] >= 0
    # the hover value is the coloured quantity interpolated over the face (exact at vertices)
    values = np.where(covered, lo + scalar["rgb"][..., 0] * (hi - lo), np.nan).astype(np.float32)
    rgb = np.where(covered[..., None], painted["rgb"], 0.0).astype(np.float32)
    arrows = _arrows(scene, grads.dL_dV.double().cpu().numpy(), norm, scalar["depth"])
    ctx.result.heatmap = Heatmap(values, "sequential", levels, label, rgb=rgb, arrows=arrows)
    moving = (norm > 0).mean() if norm.size else 0.0
    peak = float(norm.max()) if norm.size else 0.0
    ctx.result.lines += _loss_lines(ctx.request, grads) + [
        f"{moving:.1%} of vertices get a gradient; max |dL/dV| = {peak:.3g}; {note}; arrows: -dL/dV "
        f"of the {ARROW_COUNT} visible vertices pulled hardest"]


def _element_grad(ctx: ModeContext, grads) -> None:
    """Another representation's per-element gradient, as its package paints it."""
    from renderer.analysis.element_view import element_view

    norm = grads.dL_dV_norm.double().cpu().numpy()
    view = element_view(ctx.scene, grads.dL_dV.double().cpu().numpy(), norm)
    finite = view.values[np.isfinite(view.values)]
    levels = levels_for("sequential", finite) if finite.size else (0.0, 1.0)
    ctx.result.heatmap = Heatmap(view.values.astype(np.float32), "sequential", levels, view.label,
                                 rgb=view.rgb, arrows=view.arrows)
    name = ctx.scene.shape.element_name
    moving = (norm > 0).mean() if norm.size else 0.0
    ctx.result.lines += _loss_lines(ctx.request, grads) + [
        f"{moving:.1%} of {name}s get a gradient; max |dL/d{name}| = {float(norm.max()) if norm.size else 0.0:.3g}",
        *view.lines]


def diagnostics(ctx: ModeContext) -> None:
    from renderer.analysis import diagnose

    dl_di(ctx)
    ctx.check()
    target, grads = ctx.engine.gradients(ctx.scene, ctx.request, ctx.result.times)
    findings = diagnose(ctx.scene, target, ctx.request.loss, grads=grads)
    if findings:
        ctx.result.lines += [str(f) for f in findings]
    else:
        ctx.result.lines.append("no problems found: the gradient is finite, reaches the target, and "
                                "the soft edge suits this resolution")


# --- helpers ---------------------------------------------------------------------------------
def _dl_di_reading(channel: str, request: AnalysisRequest) -> str:
    """How to read the dL/dI colours: blue where more of the image lowers the loss."""
    target = "the target" if request.target.kind != "current" else "the reference"
    if channel == "alpha":
        return (f"blue: more coverage there lowers the loss, so the blue shape is {target}'s silhouette "
                "where the render does not cover it yet; red: less coverage lowers it (the render "
                f"outside {target})")
    return (f"blue: brighter there lowers the loss (the render is darker than {target}); red: darker "
            "lowers it")
def _reduce(maps: np.ndarray, channel: str) -> np.ndarray:
    """(S, S, 4) r, g, b, alpha -> (S, S): alpha, or the sum over r, g, b."""
    return maps[..., 3] if channel == "alpha" else maps[..., :3].sum(-1)


def _channel_words(channel: str) -> str:
    return "alpha" if channel == "alpha" else "sum of R,G,B"


def _isoline(field: np.ndarray, level: float) -> np.ndarray:
    """The ``level`` isolines of an (S, S) field as one (N, 2) polyline in pixel coordinates
    (x = column, y = row, centres at +0.5), lines separated by NaN rows. Computed here, not on
    the GUI thread: marching squares over a 1024 px mask takes a quarter of a second."""
    from pyqtgraph.functions import isocurve

    parts = []
    for line in isocurve(np.asarray(field, np.float64), level, connected=True, extendToEdge=True):
        pts = np.asarray(line, np.float64)[:, ::-1] + 0.5          # (row, col) -> (x, y)
        parts += [pts, np.full((1, 2), np.nan)]
    return np.concatenate(parts) if parts else np.zeros((0, 2))


def magnitude_colours(values: np.ndarray, scale: str) -> tuple[np.ndarray, tuple[float, float], str, str]:
    """How per-vertex magnitudes are coloured -> (the coloured quantity per vertex, its colour
    range, the colour bar's label, a note for the summary). scale "linear": 0 .. max (a few
    vertices on the silhouette can leave the rest dark); "percentile": 0 .. the 99th percentile
    of the non-zero values (above it the colour saturates); "log": log10 of the value from its
    1st percentile to the max."""
    peak = float(values.max()) if values.size else 0.0
    nonzero = values[values > 0]
    if scale == "log" and nonzero.size:
        lo = float(np.log10(np.percentile(nonzero, CLIP_PERCENT)))
        hi = float(np.log10(peak))
        hi = hi if hi > lo else lo + 1.0
        shade = np.log10(np.maximum(values, 10 ** lo))
        return shade, (lo, hi), "log10 |dL/dV| per vertex", f"colours: log10 |dL/dV| from {lo:.2f} to {hi:.2f}"
    if scale == "percentile" and nonzero.size >= 20:
        top = float(np.percentile(nonzero, 100 - CLIP_PERCENT))
        if 0 < top < peak:
            return (values, (0.0, top), f"|dL/dV| per vertex (saturates above the {100 - CLIP_PERCENT:g}th percentile)",
                    f"colours saturate above the {100 - CLIP_PERCENT:g}th percentile {top:.3g}")
    levels = levels_for("sequential", values)
    return values, levels, "|dL/dV| per vertex", f"colours: 0 to the max {levels[1]:.3g}"


def _loss_lines(request: AnalysisRequest, grads) -> list[str]:
    from renderer.analysis import get_loss

    loss = get_loss(request.loss)
    cam = ", ".join(f"dL/d{n} {grads.dL_dtheta[n]:+.3g}" for n in ("azimuth", "elevation", "distance"))
    return [f"loss {loss.name} = {loss.formula} = {grads.loss:.5g} against {request.target.describe()}",
            f"{cam} (per degree / world unit)"]


def _paint(gl, scene: Scene, colors: np.ndarray) -> dict:
    """The GL render of the mesh with per-vertex ``colors`` (V, 3), no lighting."""
    mesh = dataclasses.replace(scene.mesh, colors=torch.from_numpy(np.ascontiguousarray(colors, np.float32)),
                               texture=None, uvs=None)
    painted = scene.replace(shape=mesh).with_settings(lighting="none", supersample=1, background=(0.0, 0.0, 0.0))
    return gl.render(painted)


def _arrows(scene: Scene, grad: np.ndarray, norm: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(K, 2, 2) tail/head pixel coordinates of -dL/dV at the visible vertices pulled hardest."""
    peak = float(norm.max()) if norm.size else 0.0
    if peak <= 0:
        return np.zeros((0, 2, 2))
    verts = scene.mesh.verts.detach().double().cpu().numpy()
    order = np.argsort(-norm)[: 8 * ARROW_COUNT]
    order = order[norm[order] > 0]
    tails = project_points_px(verts[order], scene)
    s = scene.settings.image_size
    view = scene.camera.view_matrix().detach().double().numpy()
    z_view = -(verts[order] @ view[:3, :3].T + view[:3, 3])[:, 2]
    cols = np.clip(tails[:, 0].astype(int), 0, s - 1)
    rows = np.clip(tails[:, 1].astype(int), 0, s - 1)
    surface = depth[rows, cols]
    # visible: on the background (a silhouette vertex) or no farther than the visible surface
    visible = (surface <= 0) | (z_view <= surface + 0.02 * float(scene.camera.distance))
    keep = order[visible][:ARROW_COUNT]
    tails = tails[visible][:ARROW_COUNT]
    heads = project_points_px(verts[keep] - ARROW_LENGTH * grad[keep] / peak, scene)
    return np.stack([tails, heads], axis=1)
