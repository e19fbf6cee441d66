"""Starting and ending the app's worker threads: one QObject worker per QThread, whose
``shutdown`` slot (releasing its GL context) must run in that thread."""
from __future__ import annotations

from PySide6.QtCore import QObject, QThread

_GUI_THREAD_GC = None


def collect_garbage_on_gui_thread() -> None:
    """Python's cyclic collector may run in whichever thread allocates; if it frees a Qt object
    in a worker thread, Qt deadlocks or crashes. pyqtgraph's GarbageCollector turns automatic
    collection off and collects on a GUI-thread timer instead (once per process)."""
    global _GUI_THREAD_GC
    if _GUI_THREAD_GC is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _GUI_THREAD_GC = GarbageCollector(interval=0.5)


def start_worker_thread(worker: QObject, name: str, shutdown) -> QThread:
    """Move ``worker`` into a new thread called ``name``, connect the ``shutdown`` signal to its
    ``shutdown`` slot (so it runs in that thread) and start the thread."""
    collect_garbage_on_gui_thread()
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    shutdown.connect(worker.shutdown)
    thread.start()
    return thread


def end_worker_thread(thread: QThread, shutdown, timeout_ms: int) -> None:
    """Run the worker's shutdown in its own thread, then end the thread (waiting at most
    ``timeout_ms``)."""
    shutdown.emit()
    thread.quit()
    thread.wait(timeout_ms)
