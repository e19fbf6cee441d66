"""Long renders are not silent (issue 13, defect 4): every pane shows what is being rendered and
for how long, a render predicted over the budget asks first, Esc cancels, and start-up does not
quietly restore settings that were slow."""
from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

import renderer.rendering
from app.model.render_work import RenderCost
from app.window.persistence import save_model, save_render_timing
from tests.gui_support import isolated_settings, make_window, wait_idle  # noqa: F401


@pytest.fixture
def slow_sigma(monkeypatch):
    """Renders at sigma >= 1e-3 take 60 s (Python between short sleeps, as a renderer's chunks
    run Python between torch ops); others are as usual. Returns the calls made."""
    real = renderer.rendering.render_numpy
    calls = []

    def render_numpy(scene, name=None):
        calls.append(scene.settings.sigma)
        if scene.settings.sigma >= 1e-3:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                time.sleep(0.01)
        return real(scene, name)

    monkeypatch.setattr(renderer.rendering, "render_numpy", render_numpy)
    return calls


def test_a_long_render_shows_busy_panes_and_esc_cancels_it(qtbot, make_window, slow_sigma):
    window = make_window()
    window.model.render_budget_s = 0                 # never ask: this test is about the busy state
    model = window.model
    model.edit("sigma", 3e-3)
    qtbot.waitUntil(lambda: all("rendering" in p.busy_text for p in window.panes), timeout=10_000)
    for pane in window.panes:
        text = pane.busy_text
        assert "sigma=0.003" in text and "Esc cancels" in text, text
    first = window.soft_pane.busy_text
    qtbot.wait(1200)
    assert window.soft_pane.busy_text != first       # the elapsed time runs
    assert "0.0001" in window.soft_pane.title.text()  # the old image keeps its own caption
    t0 = time.monotonic()
    QTest.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.scheduler.busy(), timeout=10_000)
    assert time.monotonic() - t0 < 5                 # stopped in the worker, not run to the end
    assert model.busy is None and all(p.busy_text == "" for p in window.panes)
    assert model.scene.settings.sigma == pytest.approx(1e-4)   # back to what the panes show
    assert "cancelled" in window.statusBar().currentMessage()
    model.edit("sigma", 2e-4)                        # the worker is free for the next render
    wait_idle(qtbot, window)
    assert "0.0002" in window.soft_pane.title.text()


def test_a_render_predicted_over_the_budget_waits_for_a_go(qtbot, make_window, slow_sigma):
    window = make_window()
    model, live = window.model, window.live
    live.cost = RenderCost(1e-5)                     # a slow machine: 10 s per million pairs
    model.render_budget_s = 2.0
    started = window.scheduler.renders_started
    model.edit("sigma", 3e-3)
    held = model.held_render
    assert held is not None and "sigma=0.003" in held.label and held.predicted_s > 2.0
    assert window.held_bar.isVisible() and "sigma=0.003" in window.held_bar.text.text()
    assert "about" in window.held_bar.render_button.text()
    assert window.scheduler.renders_started == started and 3e-3 not in slow_sigma
    assert all("not rendered yet" in p.busy_text for p in window.panes)
    # Go back: the scene returns to what the panes show, nothing is rendered
    window.held_bar.back_button.click()
    assert model.held_render is None and not window.held_bar.isVisible()
    assert model.scene.settings.sigma == pytest.approx(1e-4) and 3e-3 not in slow_sigma
    wait_idle(qtbot, window)
    # Render: it runs (and shows as busy); orbiting with the same settings does not ask again
    model.edit("sigma", 3e-3)
    window.held_bar.render_button.click()
    assert model.held_render is None
    qtbot.waitUntil(lambda: 3e-3 in slow_sigma, timeout=10_000)
    model.orbit_by(5.0, 0.0)
    assert model.held_render is None
    model.escape()
    qtbot.waitUntil(lambda: not window.scheduler.busy(), timeout=10_000)


def test_preferences_set_the_budget_and_it_persists(qtbot, make_window, isolated_settings):
    from app.window.preferences import PreferencesDialog

    window = make_window()
    dialog = PreferencesDialog(window.model, window.live.cost.seconds_per_pair, window)
    dialog.budget.setValue(7.5)
    dialog.accept()
    assert window.model.render_budget_s == 7.5
    save_model(isolated_settings, window.model)
    window2 = make_window()
    assert window2.model.render_budget_s == 2.0       # make_window does not restore ...
    from app.window.persistence import restore_model

    restore_model(isolated_settings, window2.model, window2.devices, window2.files.open_target_image)
    assert window2.model.render_budget_s == 7.5       # ... restore_model does


def _saved_session(path, sigma: float, last_render_s=None, seconds_per_pair=None) -> QSettings:
    """A settings file as a previous session left it, on the default mesh."""
    from app.model.app_model import AppModel
    from renderer import Scene
    from renderer.assets import DEFAULT_ASSET, load_asset

    store = QSettings(str(path), QSettings.Format.IniFormat)
    model = AppModel(scene=Scene.default(load_asset(DEFAULT_ASSET), image_size=64))
    model.edit("sigma", sigma)
    save_model(store, model)
    if last_render_s is not None or seconds_per_pair is not None:
        save_render_timing(store, seconds_per_pair or 1.5e-7, last_render_s)
    return store


@pytest.mark.parametrize("timing", ["measured", "predicted"])
def test_start_up_holds_restored_settings_that_were_slow(qtbot, tmp_path, timing, slow_sigma):
    from app.window.startup import create_window

    if timing == "measured":      # the last session timed 40 s for these settings
        store = _saved_session(tmp_path / "s.ini", 3e-3, last_render_s=40.0)
    else:                         # this machine's learnt rate predicts it over the budget
        store = _saved_session(tmp_path / "s.ini", 3e-3, seconds_per_pair=1e-5)
    window = create_window(store=store, image_size=64)
    qtbot.addWidget(window)
    window.show()
    held = window.model.held_render
    assert held is not None and "sigma=0.003" in held.message()
    if timing == "measured":
        assert "restored from the last session" in held.message() and "40 s" in held.message()
    assert window.held_bar.isVisible()
    qtbot.waitUntil(lambda: not window.scheduler.busy(), timeout=60_000)
    assert 3e-3 not in slow_sigma                     # nothing slow was started behind the question
    window.model.escape()
    assert window.model.held_render is None and window.model.scene.settings.sigma == pytest.approx(1e-4)


def test_start_up_renders_restored_settings_that_were_fast(qtbot, tmp_path):
    from app.window.startup import create_window

    store = _saved_session(tmp_path / "s.ini", 2e-4, last_render_s=0.05)
    window = create_window(store=store, image_size=64)
    qtbot.addWidget(window)
    window.show()
    assert window.model.held_render is None
    wait_idle(qtbot, window)
    assert "0.0002" in window.soft_pane.title.text()
