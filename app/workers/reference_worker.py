"""The OpenGL reference of a recorded step, drawn off the GUI thread, latest request wins.

Its own QThread owns its own GLRenderer (a GL context belongs to the thread that made it), so
scrubbing a run draws references even while the render worker is busy or a run is paused. The
step's scene is rebuilt here by the run's Task (``Task.recorded_scene``): torch work.
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, Signal, Slot

from renderer.errors import describe_error

from ..runs.timeline_frames import ReferenceRequest
from .render_worker import reference_render
from .scheduler import LatestWinsScheduler


class ReferenceWorker(QObject):
    """Lives in the reference thread: rebuilds the scene of a ReferenceRequest and renders it."""

    rendered = Signal(int, object, object, object)   # request id, request, notes, rgb (S, S, 3) float32
    failed = Signal(int, object, str)                # request id, request, why
    done = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self._gl = None
        self._assets: dict[str, object] = {}

    def _mesh_named(self, name: str, open_mesh, recorded_path: Optional[str]):
        """The run's object: the mesh the GUI passed, else the file the run recorded it from,
        else a bundled asset of that name."""
        if open_mesh is not None:
            return open_mesh
        key = recorded_path or name
        if key not in self._assets:
            from pathlib import Path

            from renderer.assets import list_assets, load_asset
            from renderer.io import load

            if recorded_path and Path(recorded_path).is_file():
                self._assets[key] = load(recorded_path)
            elif name in {a.name for a in list_assets()}:
                self._assets[key] = load_asset(name)
            else:
                where = f" (recorded at {recorded_path}, which is gone)" if recorded_path else ""
                raise ValueError(f"open the run's mesh {name!r}{where} with File > Open mesh to see its reference")
        return self._assets[key]

    @Slot(int, object)
    def run_job(self, request_id: int, request: ReferenceRequest) -> None:
        from renderer.optimize.tasks import Task

        try:
            if self._gl is None:
                from renderer.gl import GLRenderer

                self._gl = GLRenderer()
            task = Task.class_for_run(request.timeline.meta)
            path = request.timeline.meta.get("mesh_path")
            recorded = task.recorded_scene(request.timeline, request.step,
                                           lambda name: self._mesh_named(name, request.mesh, path))
            rgb = reference_render(self._gl, recorded.scene)["rgb"]      # the kind's own reference
            self.rendered.emit(request_id, request, list(recorded.notes), rgb)
        except Exception as exc:  # noqa: BLE001 - shown in the reference pane's caption
            self.failed.emit(request_id, request, describe_error(exc))
        finally:
            self.done.emit(request_id)

    @Slot()
    def shutdown(self) -> None:
        self._assets.clear()
        if self._gl is not None:
            self._gl.release()
            self._gl = None


class ReferenceScheduler(LatestWinsScheduler):
    """``rendered(request, notes, rgb)`` and ``failed(request, message)`` come back on the GUI
    thread; ``request(ReferenceRequest)`` asks (see ``LatestWinsScheduler``)."""

    rendered = Signal(object, object, object)
    failed = Signal(object, str)

    def __init__(self, parent: Optional[QObject] = None) -> None:
        worker = ReferenceWorker()
        super().__init__(worker, "run-reference", parent)
        worker.rendered.connect(self._on_rendered)
        worker.failed.connect(self._on_failed)

    @Slot(int, object, object, object)
    def _on_rendered(self, request_id: int, request: ReferenceRequest, notes, rgb) -> None:
        self.rendered.emit(request, notes, rgb)

    @Slot(int, object, str)
    def _on_failed(self, request_id: int, request: ReferenceRequest, message: str) -> None:
        self.failed.emit(request, message)
