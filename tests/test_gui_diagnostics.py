"""The diagnostics mode gives its findings the pane (issue 13, defect 9): the words are the point
of that mode, the picture (dL/dI) is mode 3's."""
from __future__ import annotations

from tests.gui_support import isolated_settings, make_window, wait_idle  # noqa: F401


def test_diagnostics_text_gets_the_pane(qtbot, make_window):
    window = make_window()
    pane = window.analysis_pane
    window.model.mode = "dl_di"
    wait_idle(qtbot, window)
    assert pane.view.isVisible() and pane.notes.height() < 0.3 * pane.height()
    window.model.mode = "diagnostics"
    wait_idle(qtbot, window)
    qtbot.wait(50)
    assert not pane.view.isVisible()
    assert pane.notes.height() > 0.6 * pane.height(), (pane.notes.height(), pane.height())
    text = pane.notes.toPlainText()
    assert "loss" in text and ("no problems found" in text or "warning" in text or "info" in text or "error" in text)
    window.model.mode = "difference"
    wait_idle(qtbot, window)
    assert pane.view.isVisible() and pane.notes.height() < 0.3 * pane.height()
