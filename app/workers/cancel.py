"""Cancelling a long torch call running in a worker thread, from the GUI thread.

A soft render at a large sigma runs for seconds inside one call; checking a flag between the
app's own steps cannot stop it. The renderers work through their pairs in chunks, running Python
between the chunks' torch ops, so an exception raised asynchronously in the worker thread
(``PyThreadState_SetAsyncExc``) is delivered within one chunk. That exception is only ever
raised while the worker is inside ``CancelGate.run`` (it is "armed" there, under a lock), at most
once per call, and ``run`` delivers a pending one before it returns: it never lands in the
worker's own bookkeeping (a lost ``done`` signal would stall the scheduler).
"""
from __future__ import annotations

import ctypes
import threading
from typing import Any, Callable, Optional


class Cancelled(BaseException):
    """The GUI cancelled the job. A BaseException, like KeyboardInterrupt: library code that
    catches ``Exception`` must not swallow it."""


def _deliver_pending() -> None:
    """A Python-level call: the interpreter delivers a pending asynchronous exception here."""
    for _ in range(2):
        pass


class CancelGate:
    """One per worker thread. ``run(job_id, fn, ...)`` in the worker; ``interrupt(job_id)`` from
    any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: Optional[tuple[int, int]] = None      # (thread ident, job id) while inside run

    def run(self, job_id: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, interruptible by ``interrupt(job_id)`` (raises Cancelled)."""
        with self._lock:
            self._armed = (threading.get_ident(), job_id)
        try:
            return fn(*args, **kwargs)
        finally:
            with self._lock:
                self._armed = None
            _deliver_pending()              # an interrupt raised just before disarming lands here

    def interrupt(self, job_id: int) -> bool:
        """Raise Cancelled in the worker if it is inside ``run`` for ``job_id``; returns whether
        it was raised."""
        with self._lock:
            if self._armed is None or self._armed[1] != job_id:
                return False
            thread, _ = self._armed
            self._armed = None                 # at most once per run
            done = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(Cancelled))
            return done == 1
