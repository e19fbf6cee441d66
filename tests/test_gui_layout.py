"""The window is usable from the smallest supported screen (1024 x 700) to a large one (2560 x
1440): no dock overlaps another, the panes or the dock tab bars, no dock is squeezed below the
size its contents need (which is how a log came to paint over the tab bar), and every control can
be reached without a sideways scroll (issue 13, defects 5 and 6)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QDockWidget,
                               QLineEdit, QScrollArea, QTabBar, QTableWidget, QWidget)

from renderer.registry import renderer_names
from tests.gui_support import isolated_settings, make_window  # noqa: F401

SIZES = [(1024, 700), (2560, 1440)]
NARROWEST_LEFT_DOCK = 270          # px: what the smallest screen leaves the Scene dock
CONTROLS = (QAbstractButton, QComboBox, QAbstractSlider, QLineEdit, QAbstractSpinBox, QTableWidget)


def rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
    return QRect(widget.mapTo(ancestor, QPoint(0, 0)), widget.size())


def visible_docks(window) -> list[QDockWidget]:
    return [d for d in window.findChildren(QDockWidget) if d.isVisible() and not d.visibleRegion().isEmpty()]


def unreachable_controls(dock: QDockWidget) -> list[str]:
    """Controls of ``dock`` that cannot be brought into view: outside the dock (without a scroll
    area to reach them), or wider than the scroll area they are in (no sideways scrolling)."""
    problems = []
    for control in dock.widget().findChildren(QWidget):
        if not isinstance(control, CONTROLS) or not control.isVisibleTo(dock):
            continue
        if isinstance(control.parent(), (QScrollArea, QTabBar)) or "qt_scrollarea" in control.parent().objectName():
            continue                                  # a scroll area's own scroll bars
        name = f"{type(control).__name__} {getattr(control, 'text', lambda: '')()!r}"
        area = next((a for a in _ancestors(control) if isinstance(a, QScrollArea) and a.isAncestorOf(control)
                     and a.widget() is not None and a.widget().isAncestorOf(control)), None)
        if area is not None:
            r = rect_in(control, area.widget())
            if r.left() < 0 or r.right() >= area.viewport().width():
                problems.append(f"{name}: x {r.left()}..{r.right()} beyond the {area.viewport().width()} px view")
        else:
            r, d = rect_in(control, dock), QRect(QPoint(0, 0), dock.size())
            if not d.contains(r):
                problems.append(f"{name}: {r} outside the dock {d}")
        if control.width() < min(control.minimumSizeHint().width(), 16) or control.height() < 8:
            problems.append(f"{name}: squeezed to {control.size()}")
    return problems


def _ancestors(widget: QWidget):
    parent = widget.parentWidget()
    while parent is not None:
        yield parent
        parent = parent.parentWidget()


def check_layout(window) -> None:
    docks = visible_docks(window)
    rects = {d.objectName(): rect_in(d, window) for d in docks}
    central = rect_in(window.centralWidget(), window)
    names = list(rects)
    for i, a in enumerate(names):
        assert not rects[a].intersects(central), (a, rects[a], central)
        for b in names[i + 1:]:
            assert not rects[a].intersects(rects[b]), (a, rects[a], b, rects[b])
    for bar in window.findChildren(QTabBar):
        if bar.isVisible() and bar.parent() is window:
            bar_rect = rect_in(bar, window)
            for name, r in rects.items():
                assert not r.intersects(bar_rect), (name, r, "covers the dock tab bar", bar_rect)
    for dock in docks:
        body = dock.widget()
        need = body.minimumSizeHint()
        assert body.width() >= need.width() and body.height() >= need.height(), \
            (dock.objectName(), body.size(), "is smaller than its contents need", need)
        if isinstance(body, QScrollArea):
            assert body.widget().minimumSizeHint().width() <= body.viewport().width(), \
                (dock.objectName(), "needs a sideways scroll")
        assert not unreachable_controls(dock), (dock.objectName(), unreachable_controls(dock))
    for pane in window.panes:
        r = rect_in(pane, window)
        assert central.contains(r), (pane.title.text(), r, central)
        assert pane.width() >= pane.minimumSizeHint().width() and pane.height() >= pane.minimumSizeHint().height()
        assert pane.view.height() >= 100 or not pane.view.isVisible(), (pane.title.text(), pane.view.size())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_no_overlap_and_every_control_reachable(qtbot, make_window, size):
    window = make_window(size=size)
    assert (window.width(), window.height()) == size
    for name in ("controls", "loss", "run"):               # each tab of the left dock area
        window.findChild(QDockWidget, name).raise_()
        qtbot.wait(20)
        check_layout(window)
    plot = window.runs.dock.plot
    assert plot.height() >= 120, plot.height()            # the loss plot is not squashed


@pytest.mark.parametrize("renderer", renderer_names("mesh", differentiable=True))
def test_scene_dock_fits_for_every_renderer(qtbot, make_window, renderer):
    from PySide6.QtCore import Qt

    window = make_window()
    dock = window.findChild(QDockWidget, "controls")
    window.resizeDocks([dock], [NARROWEST_LEFT_DOCK], Qt.Orientation.Horizontal)
    window.model.edit("renderer", renderer)
    qtbot.wait(20)
    assert dock.width() <= NARROWEST_LEFT_DOCK + 2
    area = window.controls
    assert area.widget().minimumSizeHint().width() <= area.viewport().width(), renderer
    assert not area.horizontalScrollBar().isVisible()
    assert not unreachable_controls(window.findChild(QDockWidget, "controls")), renderer


def test_scrolling_a_dock_does_not_edit_the_scene(qtbot, make_window):
    """The wheel over an unfocused combo or slider in a dock scrolls the dock (found in the tour:
    scrolling the Scene dock turned the resolution down to 64)."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    window = make_window(image_size=256)
    combo = window.controls.widgets["resolution" if "resolution" in window.controls.widgets else "image_size"]
    slider = window.controls.widgets["sigma"].slider
    before = (window.model.scene.settings.image_size, window.model.scene.settings.sigma)
    for widget in (combo, slider):
        centre = QPointF(widget.width() / 2, widget.height() / 2)
        event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, -120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(widget, event)
    assert (window.model.scene.settings.image_size, window.model.scene.settings.sigma) == before
