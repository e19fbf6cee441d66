"""Rendering and analysis off the GUI thread, with requests coalesced (latest wins).

The GUI thread only builds ``RenderJob``s and shows the numpy buffers that come back; every torch
and OpenGL call happens in the worker's QThread (a GL context belongs to the thread that made it).
The soft render and the analysis run inside a ``CancelGate``: ``RenderScheduler.cancel()`` stops
them where they are (Esc on a long render).
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import replace
from typing import Callable, Optional

from PySide6.QtCore import QObject, Signal, Slot

from renderer.errors import describe_error

from ..model.jobs import RenderJob, scene_key
from ..model.modes import get_mode
from .cancel import CancelGate, Cancelled
from .scheduler import LatestWinsScheduler

RENDER_CACHE_SIZE = 3


def reference_render(gl, scene) -> dict:
    """The reference of ``scene``'s representation as numpy buffers: the worker's own mesh
    GLRenderer for a mesh (its context lives in this thread), else the reference renderer
    registered for the kind (splats, voxels, SDFs)."""
    if scene.kind == "mesh":
        return gl.render(scene)
    from renderer.registry import reference_renderer
    from renderer.rendering import render_numpy

    return render_numpy(scene, reference_renderer(scene.kind).name)


class RenderWorker(QObject):
    """Lives in its own thread. For each job: the differentiable render and the GL reference
    (emitted at once as ``rendered``), then the analysis the job asks for (``analysed``), then
    ``done``. A job superseded by a newer request stops between its slow steps."""

    rendered = Signal(int, object)   # id, {"scene", "soft", "gl", "times", "preview", "request_id"}
    analysed = Signal(int, object)   # id, jobs.AnalysisResult
    failed = Signal(int, str)
    done = Signal(int)
    cancelled = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        # set by the scheduler: whether a newer request has been made (read in this thread)
        self.is_superseded: Callable[[int], bool] = lambda request_id: False
        self._gl = None
        self._engine = None
        self._renders: OrderedDict = OrderedDict()
        self.gate = CancelGate()            # the scheduler interrupts through it (any thread)

    def _ensure_gl(self) -> None:
        if self._gl is None:
            from renderer.gl import GLRenderer

            from .analysis_engine import AnalysisEngine

            self._gl = GLRenderer()
            self._engine = AnalysisEngine(self._gl)

    def _render(self, request_id: int, job: RenderJob) -> dict:
        """Both renders of the job's scene (cached: an analysis-only change re-renders nothing)."""
        from renderer.rendering import render_numpy

        key = scene_key(job.scene)
        if key in self._renders:
            self._renders.move_to_end(key)
            soft, gl, times = self._renders[key]
            return {"scene": job.scene, "soft": soft, "gl": gl, "times": dict(times, cached=True),
                    "preview": job.preview, "request_id": request_id}
        t0 = time.perf_counter()
        soft = self.gate.run(request_id, render_numpy, job.scene)
        t1 = time.perf_counter()
        gl = reference_render(self._gl, job.scene)
        t2 = time.perf_counter()
        times = {"soft_ms": 1e3 * (t1 - t0), "gl_ms": 1e3 * (t2 - t1)}
        self._renders[key] = (soft, gl, times)
        while len(self._renders) > RENDER_CACHE_SIZE:
            self._renders.popitem(last=False)
        return {"scene": job.scene, "soft": soft, "gl": gl, "times": times, "preview": job.preview,
                "request_id": request_id}

    @Slot(int, object)
    def run_job(self, request_id: int, job: RenderJob) -> None:
        from .analysis_engine import Superseded

        def check() -> None:
            if self.is_superseded(request_id):
                raise Superseded()

        stage = "render"
        try:
            self._ensure_gl()
            result = self._render(request_id, job)
            self.rendered.emit(request_id, result)
            request = job.analysis
            if request is not None and (not job.preview or get_mode(request.mode).cheap):
                stage = "analysis"
                if job.preview:
                    request = replace(request, pick=None)    # the inspector waits for the release
                analysis = self.gate.run(request_id, self._engine.run, job.scene, request, result["soft"],
                                         result["gl"], check)
                analysis.times.update(forward_ms=result["times"]["soft_ms"], gl_ms=result["times"]["gl_ms"])
                self.analysed.emit(request_id, analysis)
        except Superseded:
            pass
        except Cancelled:
            self.cancelled.emit(request_id)
        except Exception as exc:  # noqa: BLE001 - any failure becomes a message in the GUI
            prefix = "analysis: " if stage == "analysis" else ""
            self.failed.emit(request_id, prefix + describe_error(exc))
        finally:
            self.done.emit(request_id)

    @Slot()
    def shutdown(self) -> None:
        self._engine = None
        self._renders.clear()
        if self._gl is not None:
            self._gl.release()
            self._gl = None


class RenderScheduler(LatestWinsScheduler):
    """GUI-side front of the render worker (see ``LatestWinsScheduler``): a running job's slow
    analysis is abandoned as soon as a newer request arrives."""

    rendered = Signal(object)        # the worker's render dict
    analysed = Signal(object)        # model.jobs.AnalysisResult
    error = Signal(str)
    stage_done = Signal(int, str)    # request id, "rendered" | "analysed" | "cancelled"

    def __init__(self, parent: Optional[QObject] = None) -> None:
        worker = RenderWorker()
        super().__init__(worker, "render-worker", parent)
        worker.is_superseded = self.is_superseded
        worker.rendered.connect(self._on_rendered)
        worker.analysed.connect(self._on_analysed)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(lambda request_id: self.stage_done.emit(request_id, "cancelled"))

    def cancel(self) -> bool:
        """Drop the request that waits and stop the running job where it is (its render or
        analysis raises in the worker; nothing it made is shown). Returns whether a job was
        running."""
        running = self.supersede()
        if running is None:
            return False
        self.worker.gate.interrupt(running)
        return True

    @property
    def renders_started(self) -> int:
        return self.jobs_started

    @Slot(int, object)
    def _on_rendered(self, request_id: int, result: dict) -> None:
        self.rendered.emit(result)
        self.stage_done.emit(request_id, "rendered")

    @Slot(int, object)
    def _on_analysed(self, request_id: int, result) -> None:
        # shown even when a newer request waits: it is complete and consistent with its own scene
        self.analysed.emit(result)
        self.stage_done.emit(request_id, "analysed")

    @Slot(int, str)
    def _on_failed(self, request_id: int, message: str) -> None:
        self.error.emit(message)
