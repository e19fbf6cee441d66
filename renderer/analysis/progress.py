"""Progress on the terminal for the command-line verbs: a one-line bar with the time left, and a
ticker for one long call whose progress cannot be counted.

Both write to stderr, only when it is a terminal (a log file or a pipe gets no carriage returns),
and stay silent for work that ends within ``QUIET_S``: a quick command prints nothing extra.
"""
from __future__ import annotations

import math
import sys
import threading
import time
from contextlib import contextmanager
from typing import IO, Iterator, Optional

QUIET_S = 1.0              # work shorter than this shows no progress
BAR_WIDTH = 24
TICK_S = 0.5


def format_duration(seconds: float) -> str:
    """'7 s', '2 min 05 s', or '?'."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class ProgressBar:
    """``update(done, note)`` after each of ``total`` items: '[#####.....] 12/37 sweep  ETA 1 min
    05 s  note'. ``stream``: where (default stderr); ``enabled``: None = only on a terminal."""

    def __init__(self, total: int, label: str, stream: Optional[IO[str]] = None,
                 enabled: Optional[bool] = None) -> None:
        self.total, self.label = max(1, int(total)), label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.start = time.perf_counter()
        self.shown = False

    def eta(self, done: int) -> float:
        """Seconds left, from the average time per item so far."""
        if done <= 0:
            return math.inf
        return (time.perf_counter() - self.start) / done * (self.total - done)

    def line(self, done: int, note: str = "") -> str:
        done = min(max(0, done), self.total)
        filled = BAR_WIDTH * done // self.total
        left = "done" if done >= self.total else f"ETA {format_duration(self.eta(done))}"
        text = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{self.total} {self.label}  {left}"
        return text + (f"  {note}" if note else "")

    def update(self, done: int, note: str = "") -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        if not self.shown and elapsed < QUIET_S and done < self.total:
            return                       # a quick job stays quiet (unless it will not be quick)
        self.shown = True
        print("\r" + self.line(done, note) + "   ", end="", file=self.stream, flush=True)

    def close(self) -> None:
        if self.enabled and self.shown:
            print(file=self.stream, flush=True)


@contextmanager
def ticking(label: str, stream: Optional[IO[str]] = None, enabled: Optional[bool] = None) -> Iterator[None]:
    """Around one long call: after ``QUIET_S``, '<label>... 3 s' counts up until it returns."""
    stream = stream if stream is not None else sys.stderr
    enabled = stream.isatty() if enabled is None else enabled
    stop = threading.Event()
    start = time.perf_counter()
    shown = []

    def tick() -> None:
        while not stop.wait(TICK_S):
            elapsed = time.perf_counter() - start
            if elapsed >= QUIET_S:
                shown.append(True)
                print(f"\r{label}... {format_duration(elapsed)}   ", end="", file=stream, flush=True)

    thread = threading.Thread(target=tick, name="progress-ticker", daemon=True)
    if enabled:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if enabled:
            thread.join()
            if shown:
                print(file=stream, flush=True)
