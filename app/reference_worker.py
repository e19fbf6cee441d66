"""The OpenGL reference of a recorded step, drawn off the GUI thread, latest request wins.

Its own QThread owns its own GLRenderer (a GL context belongs to the thread that made it), so
scrubbing a run draws references even while the render worker is busy or a run is paused.
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, Signal, Slot

from renderer.errors import describe_error

from .timeline_frames import ReferenceSpec, reference_scene
from .worker_thread import end_worker_thread, start_worker_thread


class ReferenceWorker(QObject):
    """Lives in the reference thread: builds the scene of a ReferenceSpec and renders it."""

    rendered = Signal(int, object, object)   # request id, spec, rgb (S, S, 3) float32
    failed = Signal(int, object, str)        # request id, spec, why
    done = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self._gl = None
        self._assets: dict[str, object] = {}

    def _mesh(self, spec: ReferenceSpec, mesh):
        """The run's object: the mesh the GUI passed, else a bundled asset of that name."""
        if mesh is not None or not spec.needs_mesh:
            return mesh
        if spec.mesh_name not in self._assets:
            from renderer.assets import list_assets, load_asset

            if spec.mesh_name not in {a.name for a in list_assets()}:
                raise ValueError(f"the run's mesh {spec.mesh_name!r} is not open; open it "
                                 "(File > Open mesh) to see the reference")
            self._assets[spec.mesh_name] = load_asset(spec.mesh_name)
        return self._assets[spec.mesh_name]

    @Slot(int, object, object)
    def render(self, request_id: int, spec: ReferenceSpec, mesh) -> None:
        try:
            if self._gl is None:
                from renderer.gl import GLRenderer

                self._gl = GLRenderer()
            scene = reference_scene(spec, self._mesh(spec, mesh))
            self.rendered.emit(request_id, spec, self._gl.render(scene)["rgb"])
        except Exception as exc:  # noqa: BLE001 - shown in the reference pane's caption
            self.failed.emit(request_id, spec, describe_error(exc))
        finally:
            self.done.emit(request_id)

    @Slot()
    def shutdown(self) -> None:
        self._assets.clear()
        if self._gl is not None:
            self._gl.release()
            self._gl = None


class ReferenceScheduler(QObject):
    """GUI-side front: one request in flight, of those made meanwhile only the newest is kept.
    ``rendered(spec, rgb)`` and ``failed(spec, message)`` come back on the GUI thread."""

    rendered = Signal(object, object)
    failed = Signal(object, str)
    _submit = Signal(int, object, object)
    _shutdown = Signal()

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._worker = ReferenceWorker()
        self._submit.connect(self._worker.render)
        self._worker.rendered.connect(self._on_rendered)
        self._worker.failed.connect(self._on_failed)
        self._worker.done.connect(self._on_done)
        self._thread = start_worker_thread(self._worker, "run-reference", self._shutdown)
        self._next_id = 0
        self._in_flight = False
        self._pending: Optional[tuple[ReferenceSpec, object]] = None
        self._stopped = False

    def request(self, spec: ReferenceSpec, mesh=None) -> None:
        self._pending = (spec, mesh)
        self._pump()

    def busy(self) -> bool:
        return self._in_flight or self._pending is not None

    def _pump(self) -> None:
        if self._stopped or self._in_flight or self._pending is None:
            return
        (spec, mesh), self._pending = self._pending, None
        self._in_flight = True
        self._next_id += 1
        self._submit.emit(self._next_id, spec, mesh)

    @Slot(int, object, object)
    def _on_rendered(self, request_id: int, spec: ReferenceSpec, rgb) -> None:
        self.rendered.emit(spec, rgb)

    @Slot(int, object, str)
    def _on_failed(self, request_id: int, spec: ReferenceSpec, message: str) -> None:
        self.failed.emit(spec, message)

    @Slot(int)
    def _on_done(self, request_id: int) -> None:
        self._in_flight = False
        self._pump()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._pending = None
        end_worker_thread(self._thread, self._shutdown, 30_000)
