"""Rendering off the GUI thread, with requests coalesced (latest wins)."""
from __future__ import annotations

import time
from typing import Optional

from PySide6.QtCore import QObject, QThread, Signal, Slot

from renderer import Scene
from renderer.errors import describe_error


class RenderWorker(QObject):
    """Lives in its own thread; owns the OpenGL reference renderer (a GL context belongs to the
    thread that made it) and runs the torch renderer. Emits numpy buffers only."""

    finished = Signal(int, object)   # request id, {"scene", "soft": {...}, "gl": {...}, "times"}
    failed = Signal(int, str)

    def __init__(self) -> None:
        super().__init__()
        self._gl = None

    @Slot(int, object)
    def render(self, request_id: int, scene: Scene) -> None:
        try:
            from renderer.gl import GLRenderer
            from renderer.render import render_numpy

            if self._gl is None:
                self._gl = GLRenderer()
            t0 = time.perf_counter()
            soft = render_numpy(scene)
            t1 = time.perf_counter()
            gl = self._gl.render(scene)
            t2 = time.perf_counter()
            self.finished.emit(request_id, {"scene": scene, "soft": soft, "gl": gl,
                                            "times": {"soft_ms": 1e3 * (t1 - t0), "gl_ms": 1e3 * (t2 - t1)}})
        except Exception as exc:  # noqa: BLE001 - any failure becomes a message in the GUI
            self.failed.emit(request_id, describe_error(exc))

    @Slot()
    def shutdown(self) -> None:
        if self._gl is not None:
            self._gl.release()
            self._gl = None


class RenderScheduler(QObject):
    """GUI-side front of the worker: at most one render in flight, and of the requests made
    meanwhile only the latest is kept (slider drags coalesce)."""

    rendered = Signal(object)            # the worker's result dict
    error = Signal(str)
    _submit = Signal(int, object)
    _shutdown = Signal()

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("render-worker")
        self._worker = RenderWorker()
        self._worker.moveToThread(self._thread)
        self._submit.connect(self._worker.render)
        self._shutdown.connect(self._worker.shutdown)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._thread.start()
        self._next_id = 0
        self._in_flight: Optional[int] = None
        self._pending: Optional[Scene] = None
        self.renders_started = 0

    def request(self, scene: Scene) -> None:
        """Ask for a render of ``scene`` (a copy the caller will not mutate)."""
        self._pending = scene
        self._pump()

    def busy(self) -> bool:
        return self._in_flight is not None or self._pending is not None

    def _pump(self) -> None:
        if self._in_flight is not None or self._pending is None:
            return
        scene, self._pending = self._pending, None
        self._next_id += 1
        self._in_flight = self._next_id
        self.renders_started += 1
        self._submit.emit(self._in_flight, scene)

    @Slot(int, object)
    def _on_finished(self, request_id: int, result: dict) -> None:
        self._in_flight = None
        self.rendered.emit(result)
        self._pump()

    @Slot(int, str)
    def _on_failed(self, request_id: int, message: str) -> None:
        self._in_flight = None
        self.error.emit(message)
        self._pump()

    def stop(self) -> None:
        """Release the worker's GL context in its own thread, then end the thread."""
        self._shutdown.emit()
        self._thread.quit()
        self._thread.wait(10_000)
