"""The main window as a user meets it (offscreen): the panes render, sliders act on the right pane,
slider bursts coalesce, and dropped files load or are refused without losing the scene."""
from __future__ import annotations

import numpy as np

from renderer.assets import asset_path
from tests.gui_support import drop_files, isolated_settings, make_window, wait_idle  # noqa: F401


def test_window_renders_three_panes_and_drop(qtbot, make_window, tmp_path):
    window = make_window()
    soft, gl = window.soft_pane.image, window.gl_pane.image
    assert soft.shape == gl.shape == (64, 64, 3)
    assert (gl.sum(-1) > 0).mean() > 0.05            # the default knot is visible in the reference
    assert window.analysis_pane.image.shape == (64, 64)
    assert window.model.scene.mesh.name == "knot"
    # captions carry the settings their renderer reads: softras's sigma, gamma and edge band on
    # the soft and analysis panes; the GL reference reads no sigma
    soft_caption, gl_caption, analysis_caption = (pane.title.text() for pane in window.panes)
    for caption in (soft_caption, analysis_caption):
        assert "softras" in caption and "sigma=0.0001" in caption and "gamma=0.0001" in caption
        assert "edge" in caption and "64 px" in caption
    assert "sigma" not in gl_caption and "gamma" not in gl_caption and "64 px" in gl_caption

    bad = tmp_path / "bad.obj"
    bad.write_text("this is not a mesh\n")
    drop_files(window, bad)
    assert window.model.scene.mesh.name == "knot"    # the previous mesh is kept
    assert "bad.obj" in window.banner.text() and not window.banner.isHidden()

    drop_files(window, asset_path("axes"))
    assert window.model.scene.mesh.name == "axes"
    wait_idle(qtbot, window)
    assert window.last_rendered_scene.mesh.name == "axes"
    assert not np.array_equal(window.gl_pane.image, gl)
    assert window.banner.isHidden()


def test_sigma_changes_soft_pane_only_and_azimuth_changes_both(qtbot, make_window):
    window = make_window()
    soft0, gl0 = window.soft_pane.image.copy(), window.gl_pane.image.copy()
    window.controls.widgets["sigma"].set_value(1e-2)          # as if typed into the box
    wait_idle(qtbot, window)
    assert window.model.scene.settings.sigma == 1e-2
    assert np.abs(window.soft_pane.image - soft0).max() > 0.05
    assert np.array_equal(window.gl_pane.image, gl0)
    assert "sigma=0.01" in window.soft_pane.title.text()
    window.controls.widgets["azimuth"].set_value(75.0)
    wait_idle(qtbot, window)
    assert float(window.model.scene.camera.azimuth) == 75.0
    assert np.abs(window.gl_pane.image - gl0).max() > 0.05
    assert np.abs(window.soft_pane.image - soft0).max() > 0.05
    # in hard mode the two views agree (the same z-buffer picture, up to edge pixels)
    window.model.edit("renderer", "hard")
    wait_idle(qtbot, window)
    diff = np.abs(window.soft_pane.image - window.gl_pane.image).max(-1)
    assert (diff > 1e-3).mean() < 0.01


def test_burst_of_slider_changes_is_coalesced(qtbot, make_window):
    window = make_window()
    before = window.scheduler.renders_started
    slider = window.controls.widgets["azimuth"]
    for i in range(50):
        slider.set_value(-60.0 + i)                            # 50 edits in one event-loop turn
    wait_idle(qtbot, window)
    assert window.scheduler.renders_started - before <= 3
    assert float(window.model.scene.camera.azimuth) == -11.0
    assert window.last_rendered_scene.camera.azimuth.item() == -11.0
    assert window.controls.widgets["azimuth"].value() == -11.0


def test_burst_spread_over_time_ends_on_the_last_value(qtbot, make_window, monkeypatch):
    """Changes arriving while renders run (a real drag) still produce only a few renders. Each
    render is held to at least 30 ms, as on a large scene: at the test's 64 px the renderer is
    faster than the burst's spacing, and every change would get its own render."""
    import time

    import renderer.rendering as rendering

    real = rendering.render_numpy

    def slow_render(*args, **kwargs):
        time.sleep(0.03)
        return real(*args, **kwargs)

    monkeypatch.setattr(rendering, "render_numpy", slow_render)
    window = make_window()
    before = window.scheduler.renders_started
    slider = window.controls.widgets["elevation"]
    for i in range(50):
        slider.set_value(float(i))
        qtbot.wait(2)                                          # the event loop turns in between
    wait_idle(qtbot, window)
    assert window.scheduler.renders_started - before < 50 / 2
    assert window.last_rendered_scene.camera.elevation.item() == 49.0
    assert window.analysis_pane.last_result.scene.camera.elevation.item() == 49.0


def test_preview_while_dragging_then_full_render(qtbot, make_window, monkeypatch):
    import app.window.live_render as live_render

    monkeypatch.setattr(live_render, "PREVIEW_SIZE", 32)
    window = make_window()
    slider = window.controls.widgets["azimuth"]
    slider.sliderPressed.emit()                                # slider pressed
    assert window.model.dragging
    slider.set_value(10.0)
    wait_idle(qtbot, window)
    assert window.soft_pane.image.shape == (32, 32, 3)         # the fast preview
    assert window.last_render["preview"]
    slider.sliderReleased.emit()                               # released
    wait_idle(qtbot, window)
    assert window.soft_pane.image.shape == (64, 64, 3)
    assert not window.last_render["preview"]
    assert window.last_rendered_scene.camera.azimuth.item() == 10.0
