"""Labels say all they mean, in full (issue 13, defect 11): the hover readout and the colour-scale
line are not cut; captions name only the settings their renderer reads; the alpha, dL/dI and
|dL/dV| modes explain their colours; the animation's pane chooser speaks words; a reopened run
finds its mesh where it was recorded."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox

from renderer.assets import load_asset
from renderer.io import load_mesh
from renderer.optimize import Run, build_run
from renderer.paths import shared_mesh
from tests.gui_support import isolated_settings, make_window, wait_idle  # noqa: F401


def fits(label) -> bool:
    """Whether a QLabel shows its whole text at its current size."""
    if label.wordWrap():
        return label.heightForWidth(label.width()) <= label.height()
    return label.fontMetrics().horizontalAdvance(label.text()) <= label.width()


@pytest.mark.parametrize("mode", ["di_ref", "agreement", "vertex_grad"])
def test_hover_readout_and_colour_scale_are_whole(qtbot, make_window, mode):
    window = make_window()
    pane = window.analysis_pane
    window.model.mode = mode
    wait_idle(qtbot, window)
    qtbot.wait(50)
    heat = pane.last_result.heatmap
    rows, cols = np.nonzero(np.isfinite(heat.values) & (heat.values != 0))
    u, v = (cols[len(cols) // 2] + 0.5) / 64, (rows[len(rows) // 2] + 0.5) / 64
    pane._hover_uv = (u, v)                         # the cursor rests there
    pane._refresh_readout()
    text = pane.readout.text()
    value = float(heat.values[int(v * 64), int(u * 64)])
    assert f"{value:.4g}" in text and fits(pane.readout), (text, pane.readout.width())
    assert heat.label in pane.scale_label.text() and fits(pane.scale_label), pane.scale_label.text()


def test_mode_summaries_explain_their_colours(qtbot, make_window):
    window = make_window()
    for mode, words in (("alpha", "black line"), ("dl_di", "blue shape is the target")):
        window.model.mode = mode
        wait_idle(qtbot, window)
        assert words in window.analysis_pane.notes.toPlainText(), mode


def test_vertex_gradient_offers_percentile_linear_and_log_colours(qtbot, make_window):
    window = make_window()
    pane = window.analysis_pane
    assert not pane.scale_combo.isVisible()
    window.model.mode = "vertex_grad"
    wait_idle(qtbot, window)
    assert pane.scale_combo.isVisible()
    shown = {}
    for scale in ("linear", "percentile", "log"):
        pane.scale_combo.setCurrentIndex(pane.scale_combo.findData(scale))
        assert window.model.magnitude_scale == scale
        wait_idle(qtbot, window)
        heat = pane.last_result.heatmap
        shown[scale] = heat
    assert shown["percentile"].levels[1] < shown["linear"].levels[1]         # not dark: saturates the top
    assert "log10" in shown["log"].label and shown["log"].levels[0] < 0
    # more of the mesh is lit above a third of the colour range than with the linear scale
    lit = {s: np.nanmean((h.values - h.levels[0]) / (h.levels[1] - h.levels[0]) > 1 / 3)
           for s, h in shown.items()}
    assert lit["percentile"] > lit["linear"] and lit["log"] > lit["linear"], lit


def test_captions_name_only_the_settings_the_renderer_reads(qtbot, make_window):
    from app.runs.run_view import run_caption

    assert "&sigma;" in run_caption("x", {"renderer": "softras", "image_size": 32}, {"sigma": 1e-4, "gamma": 1e-4})
    for renderer in ("dibr", "hard", "gl"):
        caption = run_caption("x", {"renderer": renderer, "image_size": 32}, {"sigma": 1e-4, "gamma": 1e-4})
        assert "&sigma;" not in caption and "&gamma;" not in caption and renderer in caption, caption
    window = make_window()
    for renderer in ("dibr", "hard"):
        window.model.edit("renderer", renderer)
        wait_idle(qtbot, window)
        for pane in (window.soft_pane, window.gl_pane):
            assert "sigma" not in pane.title.text() and "gamma" not in pane.title.text(), pane.title.text()


def test_animation_pane_chooser_speaks_words(qtbot):
    from app.runs.run_files import choose_panes

    dialog = QDialog()
    qtbot.addWidget(dialog)
    seen = {}

    def answer() -> None:
        boxes = dialog.findChildren(QCheckBox)
        seen["texts"] = [b.text() for b in boxes]
        for b in boxes:
            b.setChecked(True)
        dialog.findChild(QDialogButtonBox).accepted.emit()

    QTimer.singleShot(50, answer)
    chosen = choose_panes(None, ["render", "target", "difference", "dL_dI"], dialog=dialog)
    assert "dL_dI" not in " ".join(seen["texts"]) and any("dL/dI" in t for t in seen["texts"])
    assert chosen == ["render", "target", "difference", "dL_dI"]


@pytest.mark.skipif(not shared_mesh("spot", "cow.obj").exists(), reason="needs shared/meshes/spot/cow.obj")
def test_a_reopened_run_finds_its_mesh_where_it_was_recorded(qtbot, make_window, tmp_path, gl_renderer):
    spot_path = shared_mesh("spot", "cow.obj")
    task, config = build_run("pose", load_mesh(spot_path), size=32, steps=2, gl=gl_renderer)
    run = Run(task, config)
    run.timeline.set_meta(mesh_path=str(spot_path))         # as the app and the optimize verb stamp it
    run.run().timeline.save(tmp_path / "spot.npz")
    window = make_window(mesh=load_asset("knot"))            # another mesh is open
    assert window.runs.files.open_run(str(tmp_path / "spot.npz"))
    qtbot.waitUntil(lambda: "OpenGL reference, step 1" in window.gl_pane.title.text(), timeout=60_000)
    assert "not available" not in window.gl_pane.title.text()
    assert window.gl_pane.image.max() > 0
