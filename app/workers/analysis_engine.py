"""The analysis pane's numbers, computed in the worker thread (never on the GUI thread).

``AnalysisEngine.run`` checks that the mode applies to the renderer, inspects the picked pixel,
and calls the mode's compute function from the registry (``app.model.modes``; the built-in ones
are in ``mode_compute``) with a ``ModeContext``. Everything reads ``renderer.analysis`` and returns
plain numpy in an ``AnalysisResult``. The expensive building blocks are cached per scene
fingerprint, so switching modes or picking another pixel does not recompute what is already known;
``check()`` is called between the slow steps so a newer request can cut a stale computation short.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from renderer import Scene
from renderer.registry import get_renderer, renderer_names

from ..model.jobs import AnalysisRequest, AnalysisResult, scene_key
from ..model.modes import get_mode, mode_applies

CACHE_SIZE = 3          # per kind; derivative images at 1024 px are 32 MB each
MAX_OUTLINED_FACES = 64


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


def project_points_px(points: np.ndarray, scene: Scene) -> np.ndarray:
    """World points (N, 3) -> pixel coordinates (N, 2) (column, row; centres at +0.5)."""
    import torch

    from renderer.camera import project_points

    with torch.no_grad():
        pts = torch.as_tensor(points, dtype=scene.camera.dtype)
        return project_points(pts, scene.camera, scene.settings.image_size).double().numpy()


@dataclass
class ModeContext:
    """What a mode's compute function gets: the engine (its caches and GL renderer), the scene and
    request, the two renders (numpy buffers), the result to fill (``result.inspector`` already
    holds the picked pixel's report, if any) and ``check()`` to call between slow steps."""

    engine: "AnalysisEngine"
    scene: Scene
    request: AnalysisRequest
    soft: dict
    gl: dict
    result: AnalysisResult
    check: Callable[[], None]


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
            # the renderer's reference (the registry's "reference" of its spec) draws the target
            return render_target(scene, values, renderer=get_renderer(scene.settings.renderer).reference,
                                 gl=self.gl)

        return self._targets.get_or(key, make, None)

    def gradients(self, scene: Scene, request: AnalysisRequest, times: dict):
        from renderer.analysis import loss_gradients

        target = self.target(scene, request)
        key = (scene_key(scene), request.target.key(), request.loss)

        return target, self._grads.get_or(key, lambda: loss_gradients(scene, target, request.loss),
                                          times, "backward_ms")

    def soft_derivative(self, scene: Scene, param: str, times: dict) -> tuple[np.ndarray, np.ndarray, str, str]:
        """(image (S, S, 4), composited dI/dtheta (S, S, 4), method, unit)."""
        from renderer.analysis import derivative_image, rgb_composited, viewed_colour_derivative

        def make():
            d = derivative_image(scene, param)
            img, dd = d.image.double().cpu().numpy(), d.d_image.double().cpu().numpy()
            comp = viewed_colour_derivative(img, dd, scene.settings.background,
                                            rgb_composited(scene.settings.renderer))
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
        mode = get_mode(request.mode)
        spec = get_renderer(scene.settings.renderer)
        if not spec.differentiable:
            raise ValueError(f"the analysis needs a differentiable renderer "
                             f"({', '.join(renderer_names(scene.kind, differentiable=True))}), not {spec.name}")
        if not mode_applies(mode.name, spec, scene.kind):
            raise ValueError(f"{mode.label!r} does not apply to the {spec.name} renderer: "
                             "choose another analysis or renderer")
        result = AnalysisResult(scene=scene, request=request)
        pixel = request.pick_pixel(scene.settings.image_size)
        check()
        if pixel is not None:
            report = self.inspect(scene, pixel, result.times)
            result.inspector = report
            if scene.kind == "mesh":
                faces = [f.face for f in report.significant()][:MAX_OUTLINED_FACES]
                result.face_outlines = self._outlines(scene, faces)
            else:                           # a table: its own outlines (splat footprints), if any
                result.face_outlines = report.outlines
            check()
        mode.compute_function()(ModeContext(self, scene, request, soft, gl, result, check))
        return result

    # --- helpers ---------------------------------------------------------------------------
    def _outlines(self, scene: Scene, faces: list[int]) -> np.ndarray:
        if not faces:
            return np.zeros((0, 3, 2))
        corners = scene.mesh.faces.detach().cpu().numpy()[faces]               # (M, 3)
        verts = scene.mesh.verts.detach().double().cpu().numpy()
        return project_points_px(verts[corners.reshape(-1)], scene).reshape(-1, 3, 2)
