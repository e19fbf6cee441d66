"""The analysis pane's numbers, computed in the worker thread (never on the GUI thread).

Every mode reads ``renderer.analysis`` (losses, gradients, derivative images, the GL reference
derivative, the pixel inspector, diagnostics) and returns plain numpy in an ``AnalysisResult``.
Results are cached per scene fingerprint, so switching modes or picking another pixel does not
recompute what is already known; ``check()`` is called between the slow steps so a newer request
can cut a stale computation short.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Optional

import numpy as np

from renderer import Scene

from .colormaps import levels_for, map_to_rgb
from .jobs import AnalysisRequest, AnalysisResult, Heatmap, scene_key

CACHE_SIZE = 3          # per kind; derivative images at 1024 px are 32 MB each
ARROW_COUNT = 24
ARROW_LENGTH = 0.25        # world units for the largest gradient (meshes are normalised to radius 1)
MAX_OUTLINED_FACES = 64
CLIP_PERCENT = 1.0         # per-vertex colours: clip the top 1% when the max is an outlier ...
CLIP_RATIO = 3.0           # ... i.e. more than 3x the 99th percentile


class Superseded(Exception):
    """A newer request arrived: the current analysis is abandoned."""


class _Lru(OrderedDict):
    """A small least-recently-used cache that also remembers how long each value took, so the
    status bar can show the cost of what is on screen even when it came from the cache."""

    def get_or(self, key, make: Callable, times: Optional[dict] = None, name: str = ""):
        if key not in self:
            start = time.perf_counter()
            value = make()
            self[key] = (value, 1e3 * (time.perf_counter() - start))
            while len(self) > CACHE_SIZE:
                self.popitem(last=False)
        self.move_to_end(key)
        value, ms = self[key]
        if times is not None and name:
            times[name] = ms
        return value


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


def _magnitude_range(values: np.ndarray) -> tuple[tuple[float, float], bool]:
    """Colour range for per-vertex magnitudes: (0, max), unless a few outliers would leave every
    other vertex at the bottom of the map; then (0, the 99th percentile of the non-zero values),
    and the caller says so. Returns (levels, clipped)."""
    levels = levels_for("sequential", values)
    nonzero = values[values > 0]
    if nonzero.size >= 20:
        top = float(np.percentile(nonzero, 100 - CLIP_PERCENT))
        if 0 < top < levels[1] / CLIP_RATIO:
            return (0.0, top), True
    return levels, False


def _project(points: np.ndarray, scene: Scene) -> np.ndarray:
    """World points (N, 3) -> pixel coordinates (N, 2) (column, row; centres at +0.5)."""
    import torch

    from renderer.camera import project_points

    with torch.no_grad():
        pts = torch.as_tensor(points, dtype=scene.camera.dtype)
        return project_points(pts, scene.camera, scene.settings.image_size).double().numpy()


class AnalysisEngine:
    """Worker-side state: the GL renderer (owned by the worker's thread) and the caches."""

    def __init__(self, gl) -> None:
        self.gl = gl
        self._targets, self._grads, self._soft_d, self._ref_d, self._pixels = (_Lru() for _ in range(5))

    # --- cached building blocks ------------------------------------------------------------
    def target(self, scene: Scene, request: AnalysisRequest):
        from renderer.analysis import render_target, target_from_image, with_params

        spec = request.target
        if spec.kind == "pose":
            # keyed on the target's own scene: orbiting the camera does not re-render the target
            # (a 4x supersampled GL render, whose readback holds the interpreter lock ~50 ms)
            key = (scene_key(with_params(scene, dict(spec.pose))), spec.key())
        else:
            key = (scene_key(scene), spec.key())

        def make():
            if spec.kind == "image":
                if spec.image is None:
                    raise ValueError("no target image is loaded: choose one under Loss > target")
                return target_from_image(spec.image, scene.settings.image_size, scene.settings.background)
            values = dict(spec.pose) if spec.kind == "pose" else {}
            return render_target(scene, values, renderer="gl", gl=self.gl)

        return self._targets.get_or(key, make, None)

    def gradients(self, scene: Scene, request: AnalysisRequest, times: dict):
        from renderer.analysis import loss_gradients

        target = self.target(scene, request)
        key = (scene_key(scene), request.target.key(), request.loss)

        return target, self._grads.get_or(key, lambda: loss_gradients(scene, target, request.loss),
                                          times, "backward_ms")

    def soft_derivative(self, scene: Scene, param: str, times: dict) -> tuple[np.ndarray, np.ndarray, str, str]:
        """(image (S, S, 4), composited dI/dtheta (S, S, 4), method, unit)."""
        from renderer.analysis import composite_derivative, derivative_image

        def make():
            d = derivative_image(scene, param)
            img, dd = d.image.double().cpu().numpy(), d.d_image.double().cpu().numpy()
            comp = composite_derivative(img, dd, scene.settings.background)
            return img, np.concatenate([comp, dd[..., 3:]], -1), d.method, d.unit

        return self._soft_d.get_or((scene_key(scene), param), make, times, "jvp_ms")

    def reference_derivative(self, scene: Scene, param: str, times: dict) -> np.ndarray:
        from renderer.analysis import reference_derivative

        return self._ref_d.get_or((scene_key(scene), param), lambda: reference_derivative(scene, param, gl=self.gl),
                                  times, "reference_ms")

    def inspect(self, scene: Scene, pixel: tuple[int, int], times: dict):
        from renderer.analysis import inspect_pixel

        # without d(pixel)/dV: four extra reverse passes would make every click slow
        return self._pixels.get_or((scene_key(scene), pixel),
                                   lambda: inspect_pixel(scene, pixel[0], pixel[1], with_gradients=False),
                                   times, "inspector_ms")

    # --- one request -----------------------------------------------------------------------
    def run(self, scene: Scene, request: AnalysisRequest, soft: dict, gl: dict,
            check: Callable[[], None]) -> AnalysisResult:
        """Compute what ``request`` needs for ``scene``, whose renders are ``soft`` and ``gl``."""
        from renderer.analysis import parse_param

        result = AnalysisResult(scene=scene, request=request)
        times = result.times
        pixel = request.pick_pixel(scene.settings.image_size)
        if scene.settings.renderer == "gl":
            raise ValueError("the analysis needs a torch renderer (softras, dibr or hard)")
        check()
        if request.mode in ("di_soft", "di_ref", "agreement"):
            parse_param(request.param, scene)            # a clear message for a mistyped name
        build = getattr(self, f"_mode_{request.mode}")
        build(scene, request, soft, gl, result, check)
        if pixel is not None:
            check()
            report = self.inspect(scene, pixel, times)
            result.inspector = report
            faces = [f.face for f in report.significant()][:MAX_OUTLINED_FACES]
            result.face_outlines = self._outlines(scene, faces)
            if request.mode == "influence":
                self._influence_map(scene, report, gl, result)
        elif request.mode == "influence":
            result.heatmap = Heatmap(np.zeros(gl["alpha"].shape, np.float32), "sequential", (0.0, 1.0),
                                     "colour weight w at the picked pixel")
            result.lines.append("click a pixel (in any pane) to see the faces that influence it")
        return result

    # --- modes -----------------------------------------------------------------------------
    def _mode_difference(self, scene, request, soft, gl, result, check) -> None:
        values = (soft["rgb"] - gl["rgb"]).mean(-1)
        result.heatmap = Heatmap(values, "diverging", levels_for("diverging", values),
                                 "soft - reference (mean of R,G,B)")
        result.lines.append(f"mean |soft - reference| = {np.abs(values).mean():.4g}; "
                            f"{(np.abs(values) > 1 / 255).mean():.1%} of pixels differ by more than 1/255")

    def _mode_alpha(self, scene, request, soft, gl, result, check) -> None:
        values = soft["alpha"] - gl["alpha"]
        result.heatmap = Heatmap(values, "diverging", levels_for("diverging", values),
                                 "soft alpha - hard mask", contour=_isoline(gl["alpha"], 0.5))
        halo = ((soft["alpha"] > 1e-3) & (gl["alpha"] < 0.5)).mean()
        short = ((soft["alpha"] < 0.999) & (gl["alpha"] >= 0.5)).mean()
        result.lines.append(f"soft halo outside the hard mask: {halo:.2%} of pixels; "
                            f"partial coverage inside: {short:.2%}")

    def _mode_dl_di(self, scene, request, soft, gl, result, check) -> None:
        from renderer.analysis import get_loss

        target, grads = self.gradients(scene, request, result.times)
        loss = get_loss(request.loss)
        values = _reduce(grads.dL_dI.double().cpu().numpy(), loss.channel)
        result.heatmap = Heatmap(values, "diverging", levels_for("diverging", values),
                                 f"dL/dI ({_channel_words(loss.channel)})")
        result.lines += self._loss_lines(scene, request, grads)

    def _mode_di_soft(self, scene, request, soft, gl, result, check) -> None:
        from renderer.analysis import get_loss

        _, d, method, unit = self.soft_derivative(scene, request.param, result.times)
        channel = get_loss(request.loss).channel
        values = _reduce(d, channel)
        result.heatmap = Heatmap(values, "diverging", levels_for("diverging", values),
                                 f"dI/d{request.param} per {unit} ({_channel_words(channel)})")
        result.lines.append(f"dI/d{request.param} of {scene.settings.renderer} by {method}, "
                            f"composited over the background; range +-max|dI|")

    def _mode_di_ref(self, scene, request, soft, gl, result, check) -> None:
        from renderer.analysis import get_loss, parse_param

        ref = self.reference_derivative(scene, request.param, result.times)
        channel = get_loss(request.loss).channel
        values = _reduce(ref, channel)
        unit = parse_param(request.param, scene).unit
        result.heatmap = Heatmap(values, "diverging", levels_for("diverging", values),
                                 f"reference dI/d{request.param} per {unit} ({_channel_words(channel)})")
        result.lines.append("central differences of the 4x supersampled OpenGL render")

    def _mode_agreement(self, scene, request, soft, gl, result, check) -> None:
        from renderer.analysis import band_scale_px, cosine_similarity, get_loss
        from renderer.analysis.agreement import gaussian_blur

        _, d, method, _ = self.soft_derivative(scene, request.param, result.times)
        check()
        ref = self.reference_derivative(scene, request.param, result.times)
        channel = get_loss(request.loss).channel
        scale = band_scale_px(scene.settings)
        a, b = gaussian_blur(_reduce(d, channel), scale), gaussian_blur(_reduce(ref, channel), scale)
        norm = np.linalg.norm(a) * np.linalg.norm(b)
        values = a * b / norm if norm > 0 else np.zeros_like(a)
        result.heatmap = Heatmap(values, "diverging", levels_for("diverging", values),
                                 "share of the cosine (red agrees, blue disagrees)")
        per_pixel = cosine_similarity(_reduce(d, channel), _reduce(ref, channel))
        band = float(values.sum())
        result.lines += [f"cosine similarity of soft ({method}) and reference dI/d{request.param} "
                         f"({_channel_words(channel)}): {per_pixel:.3f} per pixel, "
                         f"{band:.3f} at the band scale ({scale:.2g} px blur)",
                         "the soft derivative is spread over the edge band, the reference sits on the "
                         "pixels the edge crosses: compare them at the band scale"]

    def _mode_influence(self, scene, request, soft, gl, result, check) -> None:
        """Filled in by ``run`` once the picked pixel has been inspected."""

    def _mode_vertex_grad(self, scene, request, soft, gl, result, check) -> None:
        target, grads = self.gradients(scene, request, result.times)
        check()
        norm = grads.dL_dV_norm.double().cpu().numpy()
        levels, clipped = _magnitude_range(norm)
        colors = map_to_rgb(norm, "sequential", levels)
        grey = np.repeat((np.minimum(norm, levels[1]) / levels[1]).astype(np.float32)[:, None], 3, axis=1)
        painted = self._paint(scene, colors)
        scalar = self._paint(scene, grey)
        covered = scalar["face_id"] >= 0
        # the hover value is |dL/dV| interpolated over the face (exact at vertices up to the clip)
        values = np.where(covered, scalar["rgb"][..., 0] * levels[1], np.nan).astype(np.float32)
        rgb = np.where(covered[..., None], painted["rgb"], 0.0).astype(np.float32)
        arrows = self._arrows(scene, grads.dL_dV.double().cpu().numpy(), norm, scalar["depth"])
        label = "|dL/dV| per vertex" + (f" (top {CLIP_PERCENT:g}% clipped)" if clipped else "")
        result.heatmap = Heatmap(values, "sequential", levels, label, rgb=rgb, arrows=arrows)
        moving = (norm > 0).mean() if norm.size else 0.0
        peak = float(norm.max()) if norm.size else 0.0
        result.lines += self._loss_lines(scene, request, grads) + [
            f"{moving:.1%} of vertices get a gradient; max |dL/dV| = {peak:.3g}"
            + (f", colours clipped at the {100 - CLIP_PERCENT:g}th percentile {levels[1]:.3g}" if clipped else "")
            + f"; arrows: -dL/dV of the {ARROW_COUNT} visible vertices pulled hardest"]

    def _mode_diagnostics(self, scene, request, soft, gl, result, check) -> None:
        from renderer.analysis import diagnose

        self._mode_dl_di(scene, request, soft, gl, result, check)
        check()
        target, grads = self.gradients(scene, request, result.times)
        findings = diagnose(scene, target, request.loss, grads=grads)
        if findings:
            result.lines += [str(f) for f in findings]
        else:
            result.lines.append("no problems found: the gradient is finite, reaches the target, and "
                                "the soft edge suits this resolution")

    # --- helpers ---------------------------------------------------------------------------
    def _loss_lines(self, scene: Scene, request: AnalysisRequest, grads) -> list[str]:
        from renderer.analysis import get_loss

        loss = get_loss(request.loss)
        cam = ", ".join(f"dL/d{n} {grads.dL_dtheta[n]:+.3g}" for n in ("azimuth", "elevation", "distance"))
        return [f"loss {loss.name} = {loss.formula} = {grads.loss:.5g} against {request.target.describe()}",
                f"{cam} (per degree / world unit)"]

    def _paint(self, scene: Scene, colors: np.ndarray) -> dict:
        """The GL render of the mesh with per-vertex ``colors`` (V, 3), no lighting."""
        import dataclasses

        import torch

        mesh = dataclasses.replace(scene.mesh, colors=torch.from_numpy(np.ascontiguousarray(colors, np.float32)),
                                   texture=None, uvs=None)
        painted = scene.replace(shape=mesh).with_settings(renderer="gl", lighting="none", supersample=1,
                                                         background=(0.0, 0.0, 0.0))
        return self.gl.render(painted)

    def _arrows(self, scene: Scene, grad: np.ndarray, norm: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """(K, 2, 2) tail/head pixel coordinates of -dL/dV at the visible vertices pulled hardest."""
        peak = float(norm.max()) if norm.size else 0.0
        if peak <= 0:
            return np.zeros((0, 2, 2))
        verts = scene.mesh.verts.detach().double().cpu().numpy()
        order = np.argsort(-norm)[: 8 * ARROW_COUNT]
        order = order[norm[order] > 0]
        tails = _project(verts[order], scene)
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
        heads = _project(verts[keep] - ARROW_LENGTH * grad[keep] / peak, scene)
        return np.stack([tails, heads], axis=1)

    def _outlines(self, scene: Scene, faces: list[int]) -> np.ndarray:
        if not faces:
            return np.zeros((0, 3, 2))
        corners = scene.mesh.faces.detach().cpu().numpy()[faces]               # (M, 3)
        verts = scene.mesh.verts.detach().double().cpu().numpy()
        return _project(verts[corners.reshape(-1)], scene).reshape(-1, 3, 2)

    def _influence_map(self, scene: Scene, report, gl: dict, result: AnalysisResult) -> None:
        weights = np.zeros(scene.mesh.num_faces + 1, np.float32)
        for f in report.faces:
            weights[f.face] = max(f.weight, 0.0)
        face_id = gl["face_id"]
        values = np.where(face_id >= 0, weights[np.where(face_id >= 0, face_id, -1)], 0.0).astype(np.float32)
        result.heatmap = Heatmap(values, "sequential", levels_for("sequential", values),
                                 "colour weight w at the picked pixel", outlines=result.face_outlines)
        sig = report.significant()
        result.lines.append(f"pixel (row {report.row}, col {report.col}): {len(sig)} face(s) reach it; "
                            f"background weight {report.bg_weight:.3g}; outlined in the reference view")
