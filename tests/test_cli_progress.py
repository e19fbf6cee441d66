"""Command-line progress (issue 13, defect 8): a bar with the time left for work over a second,
nothing for quick work or when stderr is not a terminal; the landscape verb reports it."""
from __future__ import annotations

import io
import time

import pytest

from renderer.analysis import progress
from renderer.analysis.progress import ProgressBar, format_duration, ticking


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_shows_eta_after_a_second_and_nothing_for_quick_work(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: clock[0])
    quick = Terminal()
    bar = ProgressBar(10, "points", stream=quick)
    for done in range(1, 10):
        clock[0] += 0.05
        bar.update(done)
    bar.close()
    assert quick.getvalue() == ""                          # under a second: silent
    slow = Terminal()
    bar = ProgressBar(10, "points", stream=slow)
    for done in range(1, 4):
        clock[0] += 1.0
        bar.update(done, "sweep")
    text = slow.getvalue()
    assert "3/10 points" in text and "ETA 7 s" in text and "sweep" in text
    bar.update(10)
    bar.close()
    assert "10/10 points  done" in slow.getvalue() and slow.getvalue().endswith("\n")
    piped = io.StringIO()                                   # not a terminal: no bar at all
    bar = ProgressBar(3, "points", stream=piped)
    clock[0] += 5
    bar.update(1)
    assert piped.getvalue() == ""
    assert format_duration(125) == "2 min 05 s"


def test_ticker_counts_a_long_call(monkeypatch):
    monkeypatch.setattr(progress, "QUIET_S", 0.2)
    monkeypatch.setattr(progress, "TICK_S", 0.05)
    out = Terminal()
    with ticking("rendering softras at 256 px", stream=out):
        time.sleep(0.5)
    assert "rendering softras at 256 px... 0 s" in out.getvalue()
    quiet = Terminal()
    with ticking("rendering", stream=quiet):
        pass
    assert quiet.getvalue() == ""


def test_landscape_reports_progress(monkeypatch, tmp_path, capsys):
    """The landscape verb drives one bar over the sweep and the 2-D scan (forced on here: the
    test's stderr is not a terminal)."""
    from main import main

    seen = []
    real_update = ProgressBar.update

    def update(self, done, note=""):
        seen.append((done, self.total, note))
        real_update(self, done, note)

    monkeypatch.setattr(ProgressBar, "update", update)
    args = ["landscape", "--asset", "axes", "--size", "32", "--param", "azimuth", "--range", "-20", "20",
            "--steps", "5", "--sigmas", "1e-4,1e-3", "--param2", "elevation", "--steps2", "2",
            "--npz", str(tmp_path / "l.npz")]
    assert main(args) == 0
    # every point of the sweep (two sigmas and the exact curve) and of the scan
    assert seen[-1][0] == seen[-1][1] == 3 * 5 + 5 * 2
    assert {note for _, _, note in seen} == {"sweep", "2-D scan"}
