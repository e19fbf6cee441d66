"""The main window as a user meets it (offscreen): both views render, a bad file keeps the scene."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.main_window import MainWindow
from renderer.assets import asset_path


def _drop(window, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def _wait_idle(qtbot, window):
    qtbot.waitUntil(lambda: not window.scheduler.busy() and window.gl_pane.image is not None, timeout=60_000)


def test_window_renders_both_views_and_drop(qtbot, tmp_path):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    _wait_idle(qtbot, window)
    soft, gl = window.soft_pane.image, window.gl_pane.image
    assert soft.shape == gl.shape == (256, 256, 3)
    assert (gl.sum(-1) > 0).mean() > 0.05            # the default knot is visible in the reference
    assert window.scene.mesh.name == "knot"

    bad = tmp_path / "bad.obj"
    bad.write_text("this is not a mesh\n")
    _drop(window, bad)
    assert window.scene.mesh.name == "knot"          # the previous mesh is kept
    assert "bad.obj" in window.banner.text() and not window.banner.isHidden()

    _drop(window, asset_path("axes"))
    assert window.scene.mesh.name == "axes"
    qtbot.waitUntil(lambda: not window.scheduler.busy(), timeout=60_000)
    qtbot.wait(50)
    assert not np.array_equal(window.gl_pane.image, gl)
    assert window.banner.isHidden()
    window.close()


def test_sigma_changes_soft_pane_only_and_azimuth_changes_both(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.edit("image_size", 64)
    _wait_idle(qtbot, window)
    soft0, gl0 = window.soft_pane.image.copy(), window.gl_pane.image.copy()
    window.controls.widgets["sigma"].set_value(1e-2)          # as if typed into the box
    qtbot.waitUntil(lambda: not window.scheduler.busy(), timeout=60_000)
    qtbot.wait(50)
    assert window.scene.settings.sigma == 1e-2
    assert np.abs(window.soft_pane.image - soft0).max() > 0.05
    assert np.array_equal(window.gl_pane.image, gl0)
    window.controls.widgets["azimuth"].set_value(75.0)
    qtbot.waitUntil(lambda: not window.scheduler.busy(), timeout=60_000)
    qtbot.wait(50)
    assert float(window.scene.camera.azimuth) == 75.0
    assert np.abs(window.gl_pane.image - gl0).max() > 0.05
    # in hard mode the two views agree (the same z-buffer picture, up to edge pixels)
    window.edit("renderer", "hard")
    qtbot.waitUntil(lambda: not window.scheduler.busy(), timeout=60_000)
    qtbot.wait(50)
    diff = np.abs(window.soft_pane.image - window.gl_pane.image).max(-1)
    assert (diff > 1e-3).mean() < 0.01
    window.close()


def test_burst_of_slider_changes_is_coalesced(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.edit("image_size", 64)
    _wait_idle(qtbot, window)
    before = window.scheduler.renders_started
    slider = window.controls.widgets["azimuth"]
    for i in range(50):
        slider.set_value(-60.0 + i)                            # 50 edits in one event-loop turn
    qtbot.waitUntil(lambda: not window.scheduler.busy(), timeout=60_000)
    qtbot.wait(50)
    assert window.scheduler.renders_started - before <= 3
    assert float(window.scene.camera.azimuth) == -11.0
    assert window.last_rendered_scene.camera.azimuth.item() == -11.0
    window.close()
