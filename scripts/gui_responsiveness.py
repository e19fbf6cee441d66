"""How long does the GUI thread stall while a slider is dragged? (A diagnostic, not a test.)

Opens the real main window on a file (a mesh, splats, voxels, an SDF), then drags a slider the way a hand does: press, a value
change every 1/30 s for a few seconds, release. Meanwhile a 5 ms QTimer notes every event-loop
tick; the gap between consecutive ticks is how long the GUI thread was busy or blocked. Prints the
largest gap per phase (drag, and release until the full render and analysis are back) and writes
them as JSON with --json.

    xvfb-run -a -s "-screen 0 1600x900x24" python scripts/gui_responsiveness.py \\
        --mesh /work/shared/meshes/spot/cow.obj --size 256
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from renderer.paths import shared_mesh  # noqa: E402 - after the path set-up above

TICK_MS = 5
STALL_LIMIT_MS = 50.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mesh", default=str(shared_mesh("spot", "cow.obj")))
    parser.add_argument("--size", type=int, default=256, help="render resolution")
    parser.add_argument("--seconds", type=float, default=8.0, help="how long the drag lasts")
    parser.add_argument("--rate", type=float, default=30.0, help="slider value changes per second")
    parser.add_argument("--slider", default="azimuth", help="which control to drag (sigma, azimuth, ...)")
    parser.add_argument("--mode", default="difference", help="analysis mode during the drag")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args()
    if "QT_QPA_PLATFORM" not in os.environ and not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"

    from PySide6.QtCore import QSettings, QTimer, Qt
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    config = tempfile.mkdtemp(prefix="drd-responsiveness-")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, config)

    from app.window.main_window import MainWindow
    from renderer.io import load

    store = QSettings(str(Path(config) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(load(args.mesh), settings=store, image_size=args.size)
    handler_ms: dict[str, float] = {}
    _time_handlers(window, handler_ms)
    window.model.mode = args.mode
    window.show()

    ticks: list[tuple[float, str]] = []
    phase = {"name": "startup"}
    tick = QTimer()
    tick.setTimerType(Qt.TimerType.PreciseTimer)
    tick.timeout.connect(lambda: ticks.append((time.perf_counter(), phase["name"])))
    tick.start(TICK_MS)

    control = window.controls.widgets[args.slider]
    slider = control.slider
    lo, hi = slider.minimum(), slider.maximum()
    start_pos = slider.value()
    changes = max(1, int(args.seconds * args.rate))
    state = {"i": 0, "renders_before": 0, "released_at": 0.0}

    def begin_drag() -> None:
        if window.scheduler.busy():                   # wait until the first full render is shown
            QTimer.singleShot(100, begin_drag)
            return
        phase["name"] = "drag"
        state["renders_before"] = window.scheduler.renders_started
        slider.sliderPressed.emit()
        step.start(int(1000 / args.rate))

    def step_drag() -> None:
        state["i"] += 1
        # a steady sweep over a third of the slider, like a hand; it ends away from the start so
        # the full render on release is new work, not a cached one
        span = (hi - lo) // 3
        target = start_pos + span * state["i"] // changes
        slider.setValue(min(hi, max(lo, target if target <= hi else start_pos - span * state["i"] // changes)))
        if state["i"] >= changes:
            step.stop()
            phase["name"] = "release"
            state["released_at"] = time.perf_counter()
            state["renders_drag"] = window.scheduler.renders_started - state["renders_before"]
            slider.sliderReleased.emit()
            QTimer.singleShot(50, wait_idle)

    def wait_idle() -> None:
        if window.scheduler.busy():
            QTimer.singleShot(20, wait_idle)
            return
        state["settle_s"] = time.perf_counter() - state["released_at"]
        phase["name"] = "after"
        QTimer.singleShot(500, app.quit)

    step = QTimer()
    step.setTimerType(Qt.TimerType.PreciseTimer)
    step.timeout.connect(step_drag)
    QTimer.singleShot(300, begin_drag)
    app.exec()
    tick.stop()

    report = {"mesh": Path(args.mesh).name, "elements": window.model.scene.shape.num_elements, "size": args.size,
              "slider": args.slider, "mode": args.mode, "changes": changes, "rate_hz": args.rate,
              "renders_during_drag": state.get("renders_drag"), "settle_after_release_s": state.get("settle_s"),
              "final_value": control.value(), "shown_value": _shown(window, args.slider),
              "slowest_gui_handler_ms": {k: round(v, 1) for k, v in handler_ms.items()}}
    for name in ("drag", "release", "after"):
        times = [t for t, p in ticks if p == name]
        gaps = [1e3 * (b - a) for a, b in zip(times, times[1:])]
        if gaps:
            gaps.sort()
            report[name] = {"ticks": len(times), "max_gap_ms": round(gaps[-1], 1),
                            "p99_gap_ms": round(gaps[int(0.99 * (len(gaps) - 1))], 1),
                            "median_gap_ms": round(gaps[len(gaps) // 2], 1),
                            f"gaps_over_{STALL_LIMIT_MS:.0f}ms": sum(g > STALL_LIMIT_MS for g in gaps)}
    window.close()
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


def _time_handlers(window, out: dict[str, float]) -> None:
    """Record the longest run of each result handler: the GUI thread's own share of a stall (the
    rest is the worker holding the interpreter lock)."""
    for name, signal in (("_show_render", window.scheduler.rendered),
                         ("_show_analysis", window.scheduler.analysed)):
        original = getattr(window, name)

        def timed(result, original=original, name=name):
            start = time.perf_counter()
            original(result)
            out[name] = max(out.get(name, 0.0), 1e3 * (time.perf_counter() - start))

        signal.disconnect(original)
        signal.connect(timed)


def _shown(window, name: str):
    """The value of the dragged control in the scene of the image the soft pane shows."""
    scene = window.last_rendered_scene
    for part in (scene.camera, scene.settings, scene.material):
        if hasattr(part, name):
            value = getattr(part, name)
            return float(value)
    return None


if __name__ == "__main__":
    sys.exit(main())
