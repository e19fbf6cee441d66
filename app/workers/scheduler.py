"""The GUI-side front of one worker thread, latest request wins.

At most one job is in flight; of the requests made meanwhile only the newest is kept, so a slider
dragged through fifty values costs two or three renders, and the GUI never waits: ``request``
returns at once and results come back as queued Qt signals.

A worker is a QObject with a slot ``run_job(request_id, job)``, a signal ``done(int)`` emitted
when a job ends however it ends, and a slot ``shutdown()`` run in its own thread at the end
(releasing its GL context). It may poll ``is_superseded(request_id)`` (an int comparison, safe
from its thread) to abandon work a newer request has made stale.
"""
from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QObject, Signal, Slot

from .worker_thread import end_worker_thread, start_worker_thread


class LatestWinsScheduler(QObject):
    """``idle()`` is emitted when the last job is done and nothing waits. ``jobs_started``
    counts the jobs handed to the worker (tests and the responsiveness script read it)."""

    idle = Signal()
    _submit = Signal(int, object)
    _shutdown = Signal()

    def __init__(self, worker: QObject, thread_name: str, parent: Optional[QObject] = None,
                 stop_timeout_ms: int = 30_000) -> None:
        super().__init__(parent)
        self._requested = 0          # id of the newest request (read by the worker: an int is atomic)
        self._in_flight: Optional[int] = None
        self._pending: Optional[tuple[int, Any]] = None
        self._stopped = False
        self._stop_timeout_ms = stop_timeout_ms
        self.jobs_started = 0
        self.worker = worker
        self._submit.connect(worker.run_job)
        worker.done.connect(self._on_done)
        self._thread = start_worker_thread(worker, thread_name, self._shutdown)

    def is_superseded(self, request_id: int) -> bool:
        """Whether a newer request than ``request_id`` has been made (callable from the worker)."""
        return request_id < self._requested

    def request(self, job: Any) -> int:
        """Ask for ``job`` (data the caller will not mutate); replaces any request still waiting.
        Returns the request's id."""
        self._requested += 1
        self._pending = (self._requested, job)
        self._pump()
        return self._requested

    @property
    def latest_request(self) -> int:
        """The id of the newest request (results of older ones are stale)."""
        return self._requested

    def drop_pending(self) -> None:
        """Forget the request that waits (the running job, if any, finishes and is shown)."""
        self._pending = None

    def supersede(self) -> Optional[int]:
        """Drop the request that waits and mark the running job stale (its next
        ``is_superseded`` check is true); returns the running job's id, or None."""
        self._pending = None
        self._requested += 1
        return self._in_flight

    def busy(self) -> bool:
        return self._in_flight is not None or self._pending is not None

    def _pump(self) -> None:
        if self._stopped or self._in_flight is not None or self._pending is None:
            return
        (request_id, job), self._pending = self._pending, None
        self._in_flight = request_id
        self.jobs_started += 1
        self._submit.emit(request_id, job)

    @Slot(int)
    def _on_done(self, request_id: int) -> None:
        self._in_flight = None
        self._pump()
        if not self.busy():
            self.idle.emit()

    def stop(self) -> None:
        """Drop what waits, let a running job stop at its next check, release the worker's
        resources in its own thread, then end the thread."""
        if self._stopped:
            return
        self._stopped = True
        self._pending = None
        self._requested += 1
        end_worker_thread(self._thread, self._shutdown, self._stop_timeout_ms)
