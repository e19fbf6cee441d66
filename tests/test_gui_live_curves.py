"""The live loss curves read one consistent snapshot of a run that is being recorded (issue 13,
defect 2: "X and Y arrays must be the same shape" while a run appends steps)."""
from __future__ import annotations

import threading
import time

import numpy as np

from app.runs.timeline_dock import TimelineDock
from renderer.optimize import Timeline

TERMS = ("loss", "loss/silhouette", "loss/laplacian", "loss/edge")


def _row(step: int) -> dict[str, float]:
    return {name: 1.0 / (step + k + 1) for k, name in enumerate(TERMS)} | {"error/angle": 1.0}


class AppendingTimeline(Timeline):
    """A timeline that gains a step between any two reads of its columns: the worst a running
    worker thread can do to a reader that reads the steps and the curves separately."""

    def _grow(self) -> None:
        with self._lock:
            self.add_step(len(self._steps), _row(len(self._steps)))

    @property
    def steps(self) -> np.ndarray:
        values = super().steps
        self._grow()
        return values

    def scalar(self, name: str) -> np.ndarray:
        values = super().scalar(name)
        self._grow()
        return values


def test_curves_and_steps_come_from_one_snapshot(qtbot):
    timeline = AppendingTimeline()
    for step in range(3):
        timeline.add_step(step, _row(step))
    dock = TimelineDock()
    qtbot.addWidget(dock)
    dock.set_timeline(timeline, "live run")
    for _ in range(5):
        dock.refresh()
    curves = dock.primary.curves
    assert set(curves) == set(TERMS)
    for curve in curves.values():
        x, y = curve.getData()
        assert len(x) == len(y) == len(dock.steps)
    assert dock.current_step == int(dock.steps[-1])


def test_refreshing_while_a_thread_appends_raises_nothing(qtbot):
    """A worker appends as fast as it can while the dock refreshes; pytest-qt fails the test on
    any exception raised in a slot or a paint."""
    timeline = Timeline()
    dock = TimelineDock()
    qtbot.addWidget(dock)
    dock.show()
    stop = threading.Event()

    def append() -> None:
        step = 0
        while not stop.is_set() and step < 200_000:
            timeline.add_step(step, _row(step))
            step += 1
            if step % 50 == 0:
                time.sleep(0)                       # let the GUI thread in

    worker = threading.Thread(target=append, daemon=True)
    dock.set_timeline(timeline, "live run")
    worker.start()
    try:
        deadline = time.perf_counter() + 1.5
        while time.perf_counter() < deadline:
            dock.refresh()
            qtbot.wait(1)                           # paint, as the event loop would
    finally:
        stop.set()
        worker.join(10)
    dock.refresh()
    for curve in dock.primary.curves.values():
        x, y = curve.getData()
        assert len(x) == len(y) == len(timeline)
