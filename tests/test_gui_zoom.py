"""A magnified pane belongs to the image it was magnified on (issue 13, defect 3): every pane fits
again when its image source or size changes, says "zoomed" while it is magnified, and a double
click fits without picking."""
from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from renderer.assets import load_asset
from tests.gui_support import isolated_settings, make_window, wait_idle  # noqa: F401

RUN_TIMEOUT_MS = 240_000


def shows_whole_image(pane) -> bool:
    (x0, x1), (y0, y1) = pane.box.viewRange()
    return x0 <= 1e-6 and y0 <= 1e-6 and x1 >= 1 - 1e-6 and y1 >= 1 - 1e-6


def mark_shown(pane) -> bool:
    return pane.zoom_mark.isVisible() and "zoomed" in pane.zoom_mark.text()


def test_a_run_started_from_a_zoomed_pane_shows_whole_images(qtbot, make_window):
    window = make_window(mesh=load_asset("axes"))
    window.model.mode = "influence"
    window.model.pick = (0.5, 0.45)
    wait_idle(qtbot, window)
    analysis = window.analysis_pane
    assert not shows_whole_image(analysis) and mark_shown(analysis)          # zoomed on the pixel
    window.scene_panes.magnify(0.5, 0.5, 0.5)                                 # the user magnified too
    assert all(mark_shown(p) for p in window.panes)
    panel = window.runs.panel
    panel.set_values(task="pose", steps=3, size=32)
    panel.start_button.click()
    qtbot.waitUntil(lambda: not window.runs.runs.active, timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: "OpenGL reference, step" in window.gl_pane.title.text(), timeout=60_000)
    assert window.runs.playback and window.soft_pane.image.shape[:2] == (32, 32)
    for pane in window.panes:
        assert shows_whole_image(pane), pane.title.text()
        assert not pane.zoom_mark.isVisible()
    # scrubbing within the run keeps a view the user magnified on the run's images
    window.scene_panes.magnify(0.5, 0.5, 0.5)
    window.runs.dock.set_index(0)
    assert mark_shown(window.soft_pane) and not shows_whole_image(window.soft_pane)
    # back to the live scene: another source, the whole image again
    window.runs.set_playback(False)
    wait_idle(qtbot, window)
    assert shows_whole_image(window.soft_pane) and not window.soft_pane.zoom_mark.isVisible()


def test_a_new_resolution_fits_and_a_drag_preview_does_not(qtbot, make_window):
    window = make_window()
    window.scene_panes.magnify(0.25, 0.5, 0.5)
    soft = window.soft_pane
    assert mark_shown(soft) and "4" in soft.zoom_mark.text()
    window.model.dragging = True                     # a slider drag: previews at another size
    window.model.edit("azimuth", 40.0)
    wait_idle(qtbot, window)
    assert mark_shown(soft)
    window.model.dragging = False
    wait_idle(qtbot, window)
    assert mark_shown(soft)
    window.model.edit("image_size", 128)
    wait_idle(qtbot, window)
    assert soft.image.shape[:2] == (128, 128)
    for pane in window.panes:
        assert shows_whole_image(pane) and not pane.zoom_mark.isVisible()


def test_double_click_fits_without_picking_and_a_click_picks(qtbot, make_window):
    window = make_window()
    window.scene_panes.magnify(0.5, 0.5, 0.5)
    view = window.soft_pane.view.viewport()
    centre = QPoint(view.width() // 2, view.height() // 2)
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    # what a real double click delivers: press, release, double-click (the second press), release
    QTest.mousePress(view, left, none, centre)
    QTest.mouseRelease(view, left, none, centre)
    QTest.mouseDClick(view, left, none, centre)
    QTest.mouseRelease(view, left, none, centre)
    qtbot.wait(QApplication.doubleClickInterval() + 200)
    assert window.model.pick is None
    assert all(shows_whole_image(p) for p in window.panes)
    QTest.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    qtbot.waitUntil(lambda: window.model.pick is not None, timeout=5_000)
