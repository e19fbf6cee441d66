"""The analysis pane and the pixel inspector: every mode draws with its colour bar, picking a pixel
fills the inspector and outlines its faces in the reference view, bad analysis input is a message."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.model.modes import get_mode, mode_applies, mode_names
from tests.gui_support import isolated_settings, make_window, wait_idle  # noqa: F401


def test_every_analysis_mode_draws_with_its_colour_bar(qtbot, make_window):
    window = make_window()
    window.model.pick = (0.5, 0.5)                # the influence mode needs a picked pixel
    pane = window.analysis_pane
    spec, kind = window.model.renderer_spec, window.model.scene.kind
    modes = [m for m in mode_names() if mode_applies(m, spec, kind)]
    assert "compare" in modes and "sdf_convergence" not in modes      # a mesh's modes
    for mode in modes:
        window.model.mode = mode
        wait_idle(qtbot, window)
        result = pane.last_result
        assert result is not None and result.request.mode == mode, mode
        assert window.banner.isHidden(), (mode, window.banner.text())
        heat = result.heatmap
        if mode != "compare":                                # that one shows the comparison figure
            assert heat.values.shape == (64, 64), mode
        assert pane.colorbar_visible, mode
        lo, hi = pane.colorbar.levels()
        assert np.isfinite([lo, hi]).all() and lo < hi, mode
        assert (lo, hi) == pytest.approx(heat.levels), mode
        if heat.cmap == "diverging":
            assert lo == pytest.approx(-hi), mode            # symmetric about zero
        assert f"{hi:.3g}" in pane.scale_label.text(), mode
        assert pane.scale_label.isVisible() == (not get_mode(mode).shows_text), mode
        assert get_mode(mode).label in pane.title.text(), mode
        assert pane.mode() == mode, mode
        assert pane.notes.toPlainText().strip(), mode         # each mode says what it shows
        assert "=" in pane.describe_at(0.5, 0.5), mode         # hover reads the value
        assert window.menus.mode_actions[mode].isChecked()
        if mode == "alpha":                                   # the hard mask is outlined
            assert len(pane._contour.xData) > 10


def test_hover_reads_the_value_under_the_cursor(qtbot, make_window):
    window = make_window()
    pane = window.analysis_pane
    view = pane.view.viewport()
    QTest.mouseMove(view, QPoint(view.width() // 2, view.height() // 2))
    assert pane.hover_text.startswith("row ") and "soft - reference" in pane.scale_label.text()
    row, col = (int(t) for t in pane.hover_text.split(":")[0].replace("row", "").split(", col"))
    assert f"{pane.values[row, col]:.4g}" in pane.hover_text
    window.model.mode = "alpha"                          # new content under a resting cursor
    wait_idle(qtbot, window)
    assert "soft alpha - hard mask" in pane.scale_label.text()
    assert pane.hover_text == f"row {row}, col {col}:  value = {pane.values[row, col]:.4g}"
    soft_view = window.soft_pane.view.viewport()
    QTest.mouseMove(soft_view, QPoint(soft_view.width() // 2, soft_view.height() // 2))
    assert "rgb" in window.soft_pane.hover_text


def test_vertex_gradient_mode_paints_the_mesh_with_arrows(qtbot, make_window):
    window = make_window()
    window.model.mode = "vertex_grad"
    wait_idle(qtbot, window)
    heat = window.analysis_pane.last_result.heatmap
    covered = window.last_render["gl"]["face_id"] >= 0
    assert heat.rgb.shape == (64, 64, 3)
    assert (heat.rgb[covered].sum(-1) > 0).mean() > 0.9      # the mesh is painted
    assert np.isnan(heat.values[~covered]).all()               # the background has no value
    assert len(heat.arrows) > 0 and heat.arrows.shape[1:] == (2, 2)
    assert len(window.analysis_pane._arrows.xData) == 6 * len(heat.arrows)


def test_picking_a_pixel_fills_the_inspector(qtbot, make_window):
    window = make_window()
    view = window.soft_pane.view.viewport()
    centre = QPoint(view.width() // 2, view.height() // 2)
    QTest.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    qtbot.waitUntil(lambda: window.model.pick is not None, timeout=5_000)   # after the double-click interval
    pick = window.model.pick
    assert pick is not None and abs(pick[0] - 0.5) < 0.05 and abs(pick[1] - 0.5) < 0.05
    row, col = window.model.analysis_request().pick_pixel(64)
    assert abs(row - 32) <= 1 and abs(col - 32) <= 1
    wait_idle(qtbot, window)
    report = window.inspector.report
    assert report is not None and (report.row, report.col) == (row, col)
    assert window.inspector.table.rowCount() == len(report.significant()) > 0
    assert f"pixel (row {row}, col {col})" in window.inspector.header.text()
    weights = [float(window.inspector.table.item(r, 2).text()) for r in range(window.inspector.table.rowCount())]
    assert weights == sorted(weights, reverse=True)
    # the influencing faces are outlined in the reference view; a selected row is highlighted
    assert len(window.gl_pane._outlines.xData) > 0
    window.inspector.table.selectRow(0)
    assert len(window.gl_pane._selected.xData) == 6
    window.model.mode = "influence"
    wait_idle(qtbot, window)
    heat = window.analysis_pane.last_result.heatmap
    assert heat.values.max() > 0 and heat.outlines is not None
    window.model.pick = None
    wait_idle(qtbot, window)
    assert window.inspector.report is None and len(window.gl_pane._outlines.xData) == 0


def test_bad_parameter_name_is_a_message_not_a_crash(qtbot, make_window):
    window = make_window()
    window.loss_panel.param_combo.setCurrentText("vertex:99999999:x")
    window.model.mode = "di_soft"
    wait_idle(qtbot, window)
    assert not window.banner.isHidden()
    assert "vertices" in window.banner.text()
    window.loss_panel.param_combo.setCurrentText("elevation")
    wait_idle(qtbot, window)
    assert window.analysis_pane.last_result.request.param == "elevation"
    assert window.banner.isHidden()                   # the analysis error is resolved


def test_target_pose_change_reanalyses_without_rerendering(qtbot, make_window):
    window = make_window()
    window.model.mode = "dl_di"
    wait_idle(qtbot, window)
    loss0 = window.analysis_pane.last_result.lines[0]
    soft0 = window.soft_pane.image
    window.loss_panel.pose_sliders["azimuth"].set_value(80.0)
    wait_idle(qtbot, window)
    result = window.analysis_pane.last_result
    assert dict(result.request.target.pose)["azimuth"] == 80.0
    assert result.lines[0] != loss0 and "azimuth 80" in result.lines[0]
    assert window.last_render["times"].get("cached")         # the scene did not change
    assert window.soft_pane.image is soft0


def test_current_reference_target_and_loss_choice(qtbot, make_window):
    window = make_window()
    window.model.mode = "dl_di"
    panel = window.loss_panel                                # as the user picks them
    panel.target_combo.setCurrentIndex(panel.target_combo.findData("current"))
    panel.loss_combo.setCurrentText("l2")
    assert window.model.target_kind == "current" and window.model.loss == "l2"
    wait_idle(qtbot, window)
    result = window.analysis_pane.last_result
    assert result.request.target.kind == "current" and result.request.loss == "l2"
    assert "current reference" in result.lines[0]
    assert "R,G,B" in result.heatmap.label
