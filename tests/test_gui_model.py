"""The app as views of one model: the model's events reach every widget that shows a field, the
widgets write back through the model, and the registries (renderers, analysis modes) are the only
place a renderer or a mode has to be named."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest

from app.model.evented import EventedModel
from app.model.jobs import Heatmap
from app.model.modes import AnalysisMode, mode_names, register_mode, unregister_mode
from renderer.fragments import RenderOutput
from renderer.registry import RendererSpec, register_renderer, unregister_renderer
from tests.gui_support import isolated_settings, make_window, wait_idle  # noqa: F401

APP = Path(__file__).resolve().parent.parent / "app"
TOY_RENDERER = "toy_gui_flat"
TOY_MODE = "toy_mode"


class Counter(EventedModel):
    count: int = 0
    name: str = "a"


def test_evented_model_emits_once_per_change():
    model = Counter()
    seen = []
    model.events.count.connect(seen.append)
    model.count = 1
    model.count = 1                              # unchanged: no event
    model.name = "b"                             # another field's signal
    model.update(count=2, name="c")
    assert seen == [1, 2]
    model.refresh("count")                       # re-announced without a change
    assert seen == [1, 2, 2]
    with pytest.raises(TypeError):
        Counter(nope=1)


def test_model_sigma_moves_the_slider_and_the_slider_writes_the_model(qtbot, make_window):
    window = make_window()
    model, sigma = window.model, window.controls.widgets["sigma"]
    model.edit("sigma", 1e-3)
    assert sigma.value() == 1e-3 and sigma.edit.text() == "0.001"
    assert sigma.slider.value() == sigma._to_pos(1e-3)          # the handle moved too
    sigma.slider.setValue(sigma.slider.value() + 100)             # the user moves the handle
    assert model.scene.settings.sigma == sigma.value() > 1e-3
    model.edit("renderer", "dibr")                                # dibr does not read sigma
    assert window.controls.widgets["renderer"].currentText() == "dibr"
    assert not sigma.isEnabled() and "does not read sigma" in sigma.toolTip()
    assert "softras" in sigma.toolTip()                           # ... and says which renderer does
    model.edit("renderer", "softras")
    assert sigma.isEnabled() and "does not read" not in sigma.toolTip()
    wait_idle(qtbot, window)


def test_mode_from_the_model_updates_the_combo_the_menu_and_the_pane(qtbot, make_window):
    window = make_window()
    model, pane = window.model, window.analysis_pane
    model.mode = "alpha"
    assert pane.mode_combo.currentData() == "alpha"
    assert window.menus.mode_actions["alpha"].isChecked()
    wait_idle(qtbot, window)
    assert pane.last_result.request.mode == "alpha" and "soft alpha vs hard mask" in pane.title.text()
    pane.mode_combo.setCurrentIndex(pane.mode_combo.findData("difference"))    # the user picks one
    assert model.mode == "difference" and window.menus.mode_actions["difference"].isChecked()
    with pytest.raises(ValueError):
        model.mode = "no_such_mode"
    # the hard renderer has no face influence: its entries are greyed out, the others stay
    model.edit("renderer", "hard")
    row = pane.mode_combo.findData("influence")
    assert not pane.mode_combo.model().item(row).isEnabled()
    assert not window.menus.mode_actions["influence"].isEnabled()
    assert window.menus.mode_actions["dl_di"].isEnabled()
    model.edit("renderer", "softras")
    assert pane.mode_combo.model().item(row).isEnabled() and window.menus.mode_actions["influence"].isEnabled()
    wait_idle(qtbot, window)


def render_toy(scene, with_pairs: bool = False) -> RenderOutput:
    """A flat grey square in the middle of the image, whatever the scene (no gradient needed here)."""
    size = scene.settings.image_size
    alpha = torch.zeros(size, size)
    alpha[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1.0
    return RenderOutput(rgb=alpha[..., None].repeat(1, 1, 3) * 0.5, alpha=alpha)


@pytest.fixture
def toy_renderer():
    spec = register_renderer(RendererSpec(name=TOY_RENDERER, render=render_toy, wrt=("geometry",),
                                          buffers=("rgb", "alpha"), analysis_modes=("difference", "alpha"),
                                          description="a grey square (a test's toy)"))
    yield spec
    unregister_renderer(TOY_RENDERER)


def test_a_registered_renderer_appears_in_both_combos_and_renders(qtbot, toy_renderer, make_window):
    window = make_window()
    combo = window.controls.widgets["renderer"]
    assert TOY_RENDERER in [combo.itemText(i) for i in range(combo.count())]
    run_combo = window.runs.panel.renderer
    assert TOY_RENDERER in [run_combo.itemText(i) for i in range(run_combo.count())]
    scene_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Scene")
    assert any(a.text() == f"Renderer {TOY_RENDERER}" for a in scene_menu.actions())
    combo.setCurrentText(TOY_RENDERER)                        # the user chooses it
    assert window.model.scene.settings.renderer == TOY_RENDERER
    sigma = window.controls.widgets["sigma"]
    assert not sigma.isEnabled()                              # the toy reads no setting
    wait_idle(qtbot, window)
    soft = window.soft_pane.image
    assert soft[32, 32].tolist() == [0.5, 0.5, 0.5] and soft[2, 2].tolist() == [0.0, 0.0, 0.0]
    caption = window.soft_pane.title.text()
    assert TOY_RENDERER in caption and "sigma" not in caption
    assert not window.menus.mode_actions["dl_di"].isEnabled()  # only the modes it declares apply


def compute_toy_mode(ctx) -> None:
    """The analysis of the tenth mode, in the worker: the soft render's alpha, as is."""
    values = np.asarray(ctx.soft["alpha"], np.float32)
    ctx.result.heatmap = Heatmap(values, "sequential", (0.0, 1.0), "toy: soft alpha")
    ctx.result.lines.append("the toy mode ran")


@pytest.fixture
def extra_mode():
    assert len(mode_names()) == 11             # the first wave's nine, compare, the SDF map
    mode = register_mode(AnalysisMode(TOY_MODE, "toy mode", "a test's extra mode", compute_toy_mode, cheap=True))
    yield mode
    unregister_mode(TOY_MODE)


def test_later_modes_get_the_next_shortcuts_which_switch_the_model(qtbot, extra_mode, make_window):
    window = make_window()
    act = window.menus.mode_actions[TOY_MODE]
    assert act.shortcut() == QKeySequence("Ctrl+Alt+2")            # the 12th
    assert window.menus.mode_actions["diagnostics"].shortcut() == QKeySequence("Ctrl+9")
    assert window.menus.mode_actions["compare"].shortcut() == QKeySequence("Ctrl+0")
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    assert window.model.mode == TOY_MODE and act.isChecked()
    assert window.analysis_pane.mode_combo.currentData() == TOY_MODE
    wait_idle(qtbot, window)
    result = window.analysis_pane.last_result
    assert result.request.mode == TOY_MODE and "the toy mode ran" in window.analysis_pane.notes.toPlainText()
    assert "toy mode" in window.analysis_pane.title.text()


def test_no_hand_sync_calls_remain_in_the_app():
    """Widgets follow the model's events: no widget is told to re-read the scene by hand."""
    found = []
    for path in sorted(APP.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            # QSettings.sync() (writing the settings file) is the one .sync( that is not a widget's
            if re.search(r"\.sync\(", line) and not re.search(r"\bstore\.sync\(\)", line) or \
                    re.search(r"def sync\(", line):
                found.append(f"{path.relative_to(APP.parent)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_model_package_has_no_qt():
    for path in sorted((APP / "model").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import) (PySide6|pyqtgraph|torch)", text, re.MULTILINE), path
