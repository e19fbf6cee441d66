"""Recorded runs in the window: scrubbing shows the frame recorded at that step in every pane, the
plot cursor follows and a click on the curves seeks, play advances; a corrupt file is a message;
runs started from the run panel fill the timeline and obey Pause, Resume and Stop; exports."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from app.model.app_model import IDLE, PAUSED
from app.runs.timeline_frames import as_rgb, best_step
from renderer.assets import load_asset
from renderer.optimize import build_run, load_timeline, Run
from tests.gui_support import drop_files, isolated_settings, make_window, wait_idle  # noqa: F401

RUN_TIMEOUT_MS = 240_000


def record(gl, path, sigma: float) -> None:
    """A tiny pose run on the 'axes' asset: 32 px, 6 steps, a frame every 2nd step (and the last)."""
    task, config = build_run("pose", load_asset("axes"), size=32, steps=6, frame_every=2, sigma=sigma, gl=gl)
    Run(task, config).run().timeline.save(path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, gl_renderer):
    folder = tmp_path_factory.mktemp("runs")
    sharp, soft = folder / "sharp.npz", folder / "soft.npz"
    record(gl_renderer, sharp, 1e-4)
    record(gl_renderer, soft, 1e-2)
    return sharp, soft


def opened(qtbot, make_window, path):
    window = make_window()
    assert window.runs.files.open_run(str(path))
    return window, window.runs.dock, load_timeline(path)


def test_scrubbing_shows_the_recorded_step_in_every_pane(qtbot, make_window, runs):
    window, dock, tl = opened(qtbot, make_window, runs[0])
    assert tl.frame_steps == [0, 2, 4, 5] and dock.current_step == 5 and window.runs.playback
    for step in (0, 2, 4):
        dock.slider.setValue(step)                          # as the user drags the scrubber
        frame = tl.frame(step)
        assert dock.current_step == step and dock.cursor.value() == step
        assert np.array_equal(window.soft_pane.image, as_rgb(frame["render"]))
        assert np.array_equal(window.analysis_pane.values, frame["difference"])
        assert f"step {step}" in window.soft_pane.title.text() and "thinned" not in window.soft_pane.title.text()
        qtbot.waitUntil(lambda: f"OpenGL reference, step {step}<" in window.gl_pane.title.text(), timeout=60_000)
        assert window.gl_pane.image.shape == (32, 32, 3) and window.gl_pane.image.max() > 0
    reference_at_4 = window.gl_pane.image.copy()
    dock.slider.setValue(0)
    qtbot.waitUntil(lambda: "OpenGL reference, step 0<" in window.gl_pane.title.text(), timeout=60_000)
    assert not np.array_equal(window.gl_pane.image, reference_at_4)   # the camera moved between them
    # step 3 has no frame: the nearest (step 2) is shown, and the caption says so
    dock.slider.setValue(3)
    assert np.array_equal(window.soft_pane.image, as_rgb(tl.frame(2)["render"]))
    assert "thinned" in window.soft_pane.title.text() and "thinned" in dock.note.text()
    dock.analysis_choice.setCurrentIndex(dock.analysis_choice.findData("dL_dI"))
    assert np.array_equal(window.analysis_pane.values, tl.frame(2)["dL_dI"])
    # live renders of the scene do not overwrite the recorded run while it is shown
    window.request_render()
    wait_idle(qtbot, window)
    assert np.array_equal(window.soft_pane.image, as_rgb(tl.frame(2)["render"]))
    # editing the scene shows the live scene again; scrubbing returns to the run
    window.model.edit("sigma", 1e-3)
    assert not window.runs.playback and not dock.show_run.isChecked()
    wait_idle(qtbot, window)
    assert window.soft_pane.image.shape == (64, 64, 3)
    dock.slider.setValue(4)
    assert window.runs.playback and np.array_equal(window.soft_pane.image, as_rgb(tl.frame(4)["render"]))


def test_colour_and_light_runs_show_their_recorded_state_in_the_reference(qtbot, make_window, gl_renderer,
                                                                        tmp_path):
    """The reference pane redraws the object as each task recorded it (``Task.recorded_scene``):
    a colour run's vertex colours, a light run's light, step by step."""
    paths = {}
    for task in ("color", "light"):
        built, config = build_run(task, load_asset("axes"), size=32, steps=4, frame_every=1, num_views=2,
                                  gl=gl_renderer)
        paths[task] = tmp_path / f"{task}.npz"
        Run(built, config).run().timeline.save(paths[task])
    window = make_window(mesh=load_asset("axes"))
    dock = window.runs.dock
    for task, path in paths.items():
        assert window.runs.files.open_run(str(path))
        shown = {}
        for step in (0, 3):
            dock.slider.setValue(step)
            qtbot.waitUntil(lambda: f"OpenGL reference, step {step}<" in window.gl_pane.title.text(), timeout=60_000)
            shown[step] = window.gl_pane.image.copy()
            assert shown[step].shape == (32, 32, 3) and shown[step].max() > 0, task
        assert np.abs(shown[3] - shown[0]).max() > 1e-3, task       # the recorded state changed


def test_cursor_follows_click_seeks_play_advances_and_best(qtbot, make_window, runs):
    window, dock, tl = opened(qtbot, make_window, runs[0])
    dock.set_index(2)
    assert dock.cursor.value() == 2
    box = dock.plot.getPlotItem().getViewBox()
    qtbot.waitUntil(lambda: box.viewRange()[0][1] >= 5)             # the plot has been laid out
    (x0, x1), (y0, y1) = box.viewRange()
    scene_pos = box.mapViewToScene(QPointF(4.0, y0 + 0.1 * (y1 - y0)))   # at step 4, below the legend
    pos = dock.plot.mapFromScene(scene_pos)
    QTest.mouseClick(dock.plot.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
    assert dock.current_step == 4 and dock.cursor.value() == 4
    assert np.array_equal(window.soft_pane.image, as_rgb(tl.frame(4)["render"]))

    dock.set_index(0)
    dock.speed.setCurrentIndex(dock.speed.count() - 1)
    dock.play_button.click()
    assert dock.playing
    qtbot.waitUntil(lambda: dock.current_step == 5 and not dock.playing, timeout=10_000)
    assert np.array_equal(window.soft_pane.image, as_rgb(tl.frame(5)["render"]))
    dock.best_button.click()
    assert dock.current_step == best_step(tl)
    assert dock.current_step == int(np.nanargmin(tl.scalar("loss")))


def test_corrupt_file_is_a_message_and_overlay_adds_curves(qtbot, make_window, runs, tmp_path):
    window, dock, tl = opened(qtbot, make_window, runs[0])
    dock.set_index(2)
    curves_before = len(dock.plot.getPlotItem().listDataItems())
    bad = tmp_path / "broken.npz"
    bad.write_bytes(runs[0].read_bytes()[:300])                       # truncated
    assert not window.runs.files.open_run(str(bad))
    assert "broken.npz" in window.banner.text() and not window.banner.isHidden()
    assert dock.timeline is window.runs.timeline and dock.current_step == 2
    assert np.array_equal(window.soft_pane.image, as_rgb(tl.frame(2)["render"]))
    drop_files(window, bad)                                           # dropping it: the same message
    assert "broken.npz" in window.banner.text() and dock.current_step == 2
    assert not window.runs.files.overlay_run(str(bad))
    assert window.runs.files.overlay_run(str(runs[1]))
    assert len(dock.plot.getPlotItem().listDataItems()) == 2 * curves_before
    assert "soft.npz" in dock.caption.text and "sigma 1e-02" in dock.caption.text


def test_run_from_the_panel_fills_the_timeline_and_exports(qtbot, make_window, tmp_path):
    window = make_window(mesh=load_asset("axes"))
    runs, panel, dock = window.runs, window.runs.panel, window.runs.dock
    panel.set_values(task="pose", steps=6, size=32)
    panel.start_button.click()
    assert not panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: not runs.runs.active, timeout=RUN_TIMEOUT_MS)
    tl = runs.timeline
    assert len(tl) == 6 and tl.meta["status"] == "finished" and dock.current_step == 5
    assert "finished" in panel.history.toPlainText() and panel.state == IDLE
    assert np.array_equal(window.soft_pane.image, as_rgb(tl.frame(5)["render"]))
    qtbot.waitUntil(lambda: "OpenGL reference, step 5<" in window.gl_pane.title.text(), timeout=60_000)

    files = runs.files
    assert files.save_run(str(tmp_path / "saved.npz"))
    qtbot.waitUntil(lambda: not files.exporting, timeout=60_000)
    assert len(load_timeline(tmp_path / "saved.npz")) == 6
    assert files.export_animation(str(tmp_path / "run.gif"), ["render", "difference"])
    qtbot.waitUntil(lambda: not files.exporting, timeout=60_000)
    assert (tmp_path / "run.gif").stat().st_size > 0 and "run.gif" in panel.history.toPlainText()
    assert files.export_mesh(str(tmp_path / "pose.obj"))            # a pose run has no vertices
    qtbot.waitUntil(lambda: not files.exporting, timeout=60_000)
    assert "no vertices" in window.banner.text() and not (tmp_path / "pose.obj").exists()


def _paused_shape_run(qtbot, make_window, min_steps: int):
    """A 500-step shape run on 'axes' started from the panel and paused after ``min_steps``."""
    window = make_window(mesh=load_asset("axes"))
    runs, panel = window.runs, window.runs.panel
    panel.set_values(task="shape", steps=500, size=32, num_views=2)
    panel.start_button.click()
    qtbot.waitUntil(lambda: runs.timeline is not None and len(runs.timeline) >= min_steps,
                    timeout=RUN_TIMEOUT_MS)
    panel.pause_button.click()
    qtbot.waitUntil(lambda: panel.state == PAUSED, timeout=RUN_TIMEOUT_MS)
    return window, runs, panel


def test_pause_resume_and_stop_a_shape_run(qtbot, make_window, tmp_path):
    window, runs, panel = _paused_shape_run(qtbot, make_window, min_steps=2)
    paused_at = len(runs.timeline)
    qtbot.wait(400)
    assert len(runs.timeline) == paused_at and "paused" in panel.progress.text()
    assert runs.files.export_mesh(str(tmp_path / "paused.obj"))      # a paused run can be exported
    qtbot.waitUntil(lambda: not runs.files.exporting, timeout=60_000)
    assert (tmp_path / "paused.obj").stat().st_size > 0
    runs.dock.set_index(0)                                          # scrub back while paused
    assert np.array_equal(window.soft_pane.image, as_rgb(runs.timeline.frame(0)["render"]))
    qtbot.waitUntil(lambda: "OpenGL reference, step 0<" in window.gl_pane.title.text(), timeout=60_000)
    panel.resume_button.click()
    qtbot.waitUntil(lambda: len(runs.timeline) > paused_at + 1, timeout=RUN_TIMEOUT_MS)
    panel.stop_button.click()
    qtbot.waitUntil(lambda: not runs.runs.active, timeout=RUN_TIMEOUT_MS)
    tl = runs.timeline
    assert tl.meta["status"] == "stopped" and 2 < len(tl) < 500 and panel.state == IDLE
    assert "stopped" in panel.history.toPlainText()


def test_closing_the_window_ends_a_paused_run(qtbot, make_window):
    window, runs, panel = _paused_shape_run(qtbot, make_window, min_steps=1)
    run = runs.runs.run
    window.close()                                   # must not hang on the paused worker
    assert run.status == "stopped" and len(run.timeline) < 500


def test_inf_failure_and_errors_are_messages_and_the_history_stays(qtbot, make_window, monkeypatch):
    window = make_window(mesh=load_asset("axes"))
    runs, panel = window.runs, window.runs.panel
    panel.set_values(task="shape", preset="pytorch3d", steps=5, size=32, num_views=2, lr="1e20")
    panel.start_button.click()
    qtbot.waitUntil(lambda: not runs.runs.active, timeout=RUN_TIMEOUT_MS)
    assert "appeared in" in window.banner.text() and not window.banner.isHidden()     # inf (or NaN) at step k
    assert runs.timeline.meta["status"] == "failed" and len(runs.timeline) >= 1
    assert runs.dock.current_step == len(runs.timeline) - 1 and panel.state == IDLE
    real_pick_views = Run._pick_views

    def crash_at_step_2(run):
        if run.next_step >= 2:
            raise RuntimeError("simulated renderer crash")
        return real_pick_views(run)

    monkeypatch.setattr(Run, "_pick_views", crash_at_step_2)
    panel.set_values(task="pose", steps=5, size=32)
    panel.start_button.click()
    qtbot.waitUntil(lambda: not runs.runs.active, timeout=RUN_TIMEOUT_MS)
    assert "simulated renderer crash" in window.banner.text() and "history of 2 steps kept" in window.banner.text()
    assert len(runs.timeline) == 2 and runs.timeline.meta["status"] == "stopped"
    assert "appeared in" in panel.history.toPlainText() and panel.start_button.isEnabled()


def test_bad_run_parameters_are_messages(qtbot, make_window):
    window = make_window()
    panel = window.runs.panel
    panel.set_values(task="pose", sigma="fuzzy")
    panel.start_button.click()
    assert not window.runs.runs.active and "sigma" in panel.status.text()
    panel.set_values(sigma="1e-3,1e-5", lr="-1")
    panel.start_button.click()
    assert not window.runs.runs.active and "learning rate" in panel.history.toPlainText()


def test_open_verb_rejects_a_bad_file_in_one_line(tmp_path, capsys):
    from main import main

    bad = tmp_path / "junk.npz"
    bad.write_text("not a run")
    assert main(["open", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "junk.npz" in err[0] and "Traceback" not in err[0]
    assert main(["open", str(tmp_path / "missing.npz")]) == 2
