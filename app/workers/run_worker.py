"""Optimization runs off the GUI thread.

One QThread ("optimization-run") builds the task with a GLRenderer made in that thread (the
targets are OpenGL images, and a GL context belongs to the thread that created it) and runs it
with ``Run.run()``. The GUI holds the ``Run`` it is handed (``started``): ``pause()``,
``resume()`` and ``stop()`` are safe from any thread, and ``run.timeline`` may be read meanwhile.
The summary line (which evaluates the task's errors with torch) is made in the run thread too.
Nothing is sent per step: the GUI polls the timeline at its own pace, so a fast run cannot flood
the event loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from PySide6.QtCore import QObject, Signal, Slot

from renderer import Scene
from renderer.errors import describe_error

from .worker_thread import end_worker_thread, start_worker_thread

TEMPLATE_ASSET = "sphere"          # what a shape run deforms (the current mesh is the target)


@dataclass
class RunRequest:
    """task and preset (``renderer.optimize.presets``); scene: a copy of the window's scene, whose
    mesh is the object (or, for shape, the target) and whose lights, background and flags the
    run uses; overrides: ``build_run`` overrides (steps, lr, renderer, sigma, size, ...); mesh_path:
    the file that mesh was read from, stamped in the run so that a reopened run finds it again."""

    task: str
    preset: str
    scene: Scene
    overrides: dict = field(default_factory=dict)
    mesh_path: Optional[str] = None


def light_values(scene: Scene) -> dict:
    """The scene's first light as JSON-ready values, stamped into the run so that a reference of
    any recorded step is lit as the run was."""
    from renderer.edits import light_angles

    az, el = light_angles(scene.lights)
    return {"light_azimuth": az, "light_elevation": el,
            "light_color": [float(c) for c in scene.lights.colors[0].tolist()]}


class RunWorker(QObject):
    """Lives in the run thread. ``started(run, request)`` once the targets are drawn and the run
    begins; then ``finished(run, summary)``, or ``failed(message, run or None)`` for an error (a
    run's history is kept)."""

    started = Signal(object, object)
    finished = Signal(object, str)
    failed = Signal(str, object)

    def __init__(self) -> None:
        super().__init__()
        self._gl = None
        self.cancel_requested = False      # set by the GUI: Stop pressed while the targets are drawn

    def _build(self, request: RunRequest):
        from renderer.gl import GLRenderer
        from renderer.optimize import build_run

        if self._gl is None:
            self._gl = GLRenderer()
        from renderer.optimize.preset_table import TASK_KINDS

        if TASK_KINDS.get(request.task) != ("mesh",):       # a representation package's task
            return build_run(request.task, preset_name=request.preset, scene=request.scene, **request.overrides)
        if request.task == "shape":
            from renderer.assets import load_asset

            return build_run("shape", load_asset(TEMPLATE_ASSET), preset_name=request.preset,
                             truth_mesh=request.scene.mesh, scene=request.scene, gl=self._gl, **request.overrides)
        return build_run(request.task, request.scene.mesh, preset_name=request.preset, scene=request.scene,
                         gl=self._gl, **request.overrides)

    @Slot(object)
    def start(self, request: RunRequest) -> None:
        from renderer.optimize import Run

        run = None
        try:
            task, config = self._build(request)
            run = Run(task, config)
            run.timeline.set_meta(gui={"lights": light_values(request.scene), "preset": request.preset})
            if request.mesh_path:
                run.timeline.set_meta(mesh_path=request.mesh_path)
            self.started.emit(run, request)
            if self.cancel_requested:
                run.stop()
            run.run()
            self.finished.emit(run, run.summary())
        except Exception as exc:  # noqa: BLE001 - any failure becomes a message; the history stays
            message = describe_error(exc)
            if run is not None:
                run.interrupt(f"error at step {run.next_step}: {message}")
            self.failed.emit(message, run)

    @Slot()
    def shutdown(self) -> None:
        if self._gl is not None:
            self._gl.release()
            self._gl = None


class RunScheduler(QObject):
    """GUI-side front of the run thread: one run at a time. ``run``: the current (or last) Run."""

    started = Signal(object, object)
    finished = Signal(object, str)
    failed = Signal(str, object)
    _start = Signal(object)
    _shutdown = Signal()

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._worker = RunWorker()
        self._start.connect(self._worker.start)
        self._worker.started.connect(self._on_started)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._thread = start_worker_thread(self._worker, "optimization-run", self._shutdown)
        self.run = None
        self.active = False               # from start() until finished or failed
        self._stopped = False

    def start(self, request: RunRequest) -> bool:
        """Begin a run; False when one is still going."""
        if self.active or self._stopped:
            return False
        self.active, self.run = True, None
        self._worker.cancel_requested = False
        self._start.emit(request)
        return True

    def pause(self) -> None:
        if self.run is not None:
            self.run.pause()

    def resume(self) -> None:
        if self.run is not None:
            self.run.resume()

    def stop(self) -> None:
        self._worker.cancel_requested = True
        if self.run is not None:
            self.run.stop()

    @Slot(object, object)
    def _on_started(self, run, request: RunRequest) -> None:
        self.run = run
        if self._worker.cancel_requested:       # Stop was pressed while the targets were drawn
            run.stop()
        self.started.emit(run, request)

    @Slot(object, str)
    def _on_finished(self, run, summary: str) -> None:
        self.active = False
        self.finished.emit(run, summary)

    @Slot(str, object)
    def _on_failed(self, message: str, run) -> None:
        self.active = False
        self.failed.emit(message, run)

    def shutdown(self) -> None:
        """Stop a run (after its current step), release the thread's GL context, end the thread."""
        if self._stopped:
            return
        self._stopped = True
        self.stop()
        end_worker_thread(self._thread, self._shutdown, 60_000)
