"""Mouse, keys and the less common controls: drag orbits, Shift+drag moves the light, the wheel
zooms, shortcuts act, SH coefficients and lighting knobs reach the scene."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from renderer.edits import light_angles
from tests.gui_support import isolated_settings, make_window, wait_idle  # noqa: F401


def _drag(view, start: QPoint, end: QPoint, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.mousePress(view, Qt.MouseButton.LeftButton, modifier, start)
    steps = 5
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        QTest.mouseMove(view, p)
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, modifier, end)


def test_drag_orbits_the_shared_camera_and_shift_drag_moves_the_light(qtbot, make_window):
    window = make_window()
    view = window.gl_pane.view.viewport()
    az0, el0 = float(window.model.scene.camera.azimuth), float(window.model.scene.camera.elevation)
    light0 = light_angles(window.model.scene.lights)
    c = QPoint(view.width() // 2, view.height() // 2)
    _drag(view, c, c + QPoint(50, 0))
    assert float(window.model.scene.camera.azimuth) != az0
    assert float(window.model.scene.camera.elevation) == el0
    assert window.model.pick is None                                  # a drag is not a click
    assert window.controls.widgets["azimuth"].value() == float(window.model.scene.camera.azimuth)
    az1 = float(window.model.scene.camera.azimuth)
    _drag(view, c, c + QPoint(0, -40), Qt.KeyboardModifier.ShiftModifier)
    light1 = light_angles(window.model.scene.lights)
    assert float(window.model.scene.camera.azimuth) == az1            # the camera stays
    assert light1[1] > light0[1] + 5                            # dragging up raises the light
    wait_idle(qtbot, window)
    assert window.soft_pane.image.shape == (64, 64, 3)          # released: full resolution again


def test_wheel_zooms_the_camera(qtbot, make_window):
    window = make_window()
    view = window.soft_pane.view.viewport()
    d0 = float(window.model.scene.camera.distance)
    pos = QPointF(view.width() / 2, view.height() / 2)
    event = QWheelEvent(pos, view.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, event)
    assert float(window.model.scene.camera.distance) < d0
    assert window.controls.widgets["distance"].value() == float(window.model.scene.camera.distance)
    wait_idle(qtbot, window)


def test_keyboard_shortcuts(qtbot, make_window):
    window = make_window()
    window.activateWindow()
    sigma0 = window.model.scene.settings.sigma
    QTest.keyClick(window, Qt.Key.Key_BracketRight)
    assert window.model.scene.settings.sigma > sigma0
    QTest.keyClick(window, Qt.Key.Key_BracketLeft)
    assert window.model.scene.settings.sigma == sigma0
    QTest.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.analysis_pane.mode() == "alpha"
    QTest.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.model.scene.settings.renderer == "hard"
    assert window.controls.widgets["renderer"].currentText() == "hard"
    window.model.edit("azimuth", 100.0)
    QTest.keyClick(window, Qt.Key.Key_R)
    assert float(window.model.scene.camera.azimuth) == 30.0
    window.soft_pane.view.setFocus()
    QTest.keyClick(window.soft_pane.view, Qt.Key.Key_Left)
    assert float(window.model.scene.camera.azimuth) == 25.0
    wait_idle(qtbot, window)


def test_lighting_controls_reach_the_scene(qtbot, make_window):
    window = make_window()
    w = window.controls.widgets
    assert not w["sh_coeffs"].isEnabled()                      # phong does not read SH
    w["lighting"].setCurrentText("sh")
    assert window.model.scene.settings.lighting == "sh" and w["sh_coeffs"].isEnabled()
    assert not w["ks"].isEnabled()
    w["sh_preset"].setCurrentText("sky and ground")
    table = w["sh_coeffs"]
    assert abs(table.coefficients()[1, 0] - float(window.model.scene.lights.sh[1, 0])) < 1e-4
    table.item(0, 2).setText("0.25")                           # as if typed
    assert float(window.model.scene.lights.sh[0, 2]) == 0.25
    table.item(0, 1).setText("not a number")
    assert table.item(0, 1).text() != "not a number"           # the old value comes back
    wait_idle(qtbot, window)
    rgb = window.gl_pane.image
    assert rgb[..., 2].sum() != rgb[..., 1].sum()              # the blue change shows
    w["ka"].set_value(0.9)
    w["light_color"].set_rgb((1.0, 0.5, 0.5))
    window.model.edit("lighting", "phong")
    assert float(window.model.scene.material.ka) == 0.5              # phong brings its own defaults
    assert w["ka"].value() == 0.5
    assert window.model.scene.lights.colors[0].tolist() == [1.0, 0.5, 0.5]
    wait_idle(qtbot, window)


def test_bad_values_give_messages_and_keep_the_scene(qtbot, make_window):
    window = make_window()
    scene = window.model.scene
    window.model.edit("fov", 500.0)
    assert window.model.scene is scene and "fov" in window.banner.text()
    window.model.edit("no_such_control", 1)
    assert window.model.scene is scene and "no_such_control" in window.banner.text()
    box = window.controls.widgets["sigma"].edit
    box.setText("abc")
    box.editingFinished.emit()
    assert window.model.scene.settings.sigma == scene.settings.sigma and box.text() == "0.0001"
    wait_idle(qtbot, window)


def test_rendering_and_gradients_never_run_on_the_gui_thread(qtbot, make_window):
    """Every torch render (forward, backward, jvp, inspector) and every GL draw happens in the
    worker thread, whatever the user does. The spy wraps the registered softras renderer (its
    render and silhouette paths: every torch render goes through one of them)."""
    import dataclasses
    import threading

    from renderer.gl import GLRenderer
    from renderer.registry import get_renderer, register_renderer

    calls = {"soft": set(), "gl": set()}
    softras, gl_render = get_renderer("softras"), GLRenderer.render

    def on_gui_thread() -> bool:
        return threading.current_thread() is threading.main_thread()

    def spied(function, key):
        def spy(*args, **kwargs):
            calls[key].add(on_gui_thread())
            return function(*args, **kwargs)
        return spy

    def gl_spy(self, *args, **kwargs):
        calls["gl"].add(on_gui_thread())
        return gl_render(self, *args, **kwargs)

    register_renderer(dataclasses.replace(softras, render=spied(softras.render, "soft"),
                                          silhouette=spied(softras.silhouette, "soft")), replace=True)
    GLRenderer.render = gl_spy
    try:
        window = make_window()
        window.model.pick = (0.5, 0.5)
        for mode in ("dl_di", "di_soft", "agreement", "vertex_grad", "diagnostics", "influence"):
            window.model.mode = mode
            wait_idle(qtbot, window)
        window.model.edit("azimuth", 10.0)
        wait_idle(qtbot, window)
        window.close()                    # the worker is idle: nothing renders after the restore below
    finally:
        register_renderer(softras, replace=True)
        GLRenderer.render = gl_render
    assert calls["soft"] == {False} and calls["gl"] == {False}
