"""The window on every representation: a splat PLY, a binvox and an SDF scene open by drop, the
renderer and the reference follow the kind, every analysis mode that applies draws without an
error, the pixel inspector explains a pixel with the representation's own table, and the modes
and renderers that do not apply are greyed out."""
from __future__ import annotations

import numpy as np
import pytest

from app.model.modes import get_mode, mode_applies, mode_names
from renderer.assets import asset_path, load_asset
from renderer.registry import default_renderer, get_renderer, reference_renderer
from tests.gui_support import drop_files, isolated_settings, make_window, wait_idle  # noqa: F401


def spec_name(model) -> str:
    return model.scene.settings.renderer


@pytest.mark.parametrize("asset, kind", [("spot_splats", "splats"), ("torus", "voxels"), ("sphere_box", "sdf")])
def test_each_representation_opens_analyses_and_inspects(qtbot, make_window, asset, kind):
    window = make_window()
    drop_files(window, asset_path(asset))
    wait_idle(qtbot, window)
    model = window.model
    assert model.scene.kind == kind and model.scene.settings.renderer == default_renderer(kind).name
    assert window.banner.isHidden(), window.banner.text()
    assert reference_renderer(kind).name in window.gl_pane.title.text()
    assert spec_name(model) in window.soft_pane.title.text()
    # the two views agree where they should: the differentiable render against the reference
    soft, ref = window.soft_pane.image, window.gl_pane.image
    assert soft.shape == ref.shape and float(np.abs(soft - ref).mean()) < 0.05, kind
    spec = get_renderer(model.scene.settings.renderer)
    applicable = [m for m in mode_names() if mode_applies(m, spec, kind)]
    assert "compare" not in applicable and "influence" not in applicable
    assert ("sdf_convergence" in applicable) == (kind == "sdf")
    notes = {}
    for mode in applicable:
        model.mode = mode
        wait_idle(qtbot, window)
        result = window.analysis_pane.last_result
        assert result is not None and result.request.mode == mode, (kind, mode)
        assert window.banner.isHidden(), (kind, mode, window.banner.text())
        assert np.isfinite(result.heatmap.levels).all(), (kind, mode)
        notes[mode] = window.analysis_pane.notes.toPlainText()
        assert notes[mode].strip(), (kind, mode)
    if kind == "splats":                      # the dead-splat finding is one of the diagnostics
        assert "splats in view" in notes["diagnostics"]
    model.pick = (0.5, 0.5)
    wait_idle(qtbot, window)
    table = window.inspector.report
    assert table is not None and hasattr(table, "columns") and table.rows, kind
    assert window.inspector.table.columnCount() == len(table.columns)
    if kind == "splats":                      # each listed splat's footprint ellipse, on the reference
        outlines = window.analysis_pane.last_result.face_outlines
        assert outlines is not None and outlines.shape[0] == min(len(table.rows), 40) and outlines.shape[2] == 2
    # the mesh renderers are greyed in the Scene menu, this kind's are not
    actions = window.menus.renderer_actions
    assert not actions["softras"].isEnabled() and actions[spec.name].isEnabled()


@pytest.mark.parametrize("asset, task, steps", [("sphere_box", "sdf_fit", 12), ("torus", "carve", 8),
                                                ("spot_splats", "splats", 6)])
def test_a_representation_fit_runs_from_the_panel_and_its_steps_show_their_reference(
        qtbot, make_window, asset, task, steps):
    """The run panel offers the representation's task; its run fills the timeline, lowers the
    loss, and a scrubbed step is redrawn by the representation's own GL reference (drawn in
    the reference worker's thread: each thread has its own GL context)."""
    window = make_window(mesh=load_asset(asset))
    runs, panel = window.runs, window.runs.panel
    assert task in [panel.task.itemText(i) for i in range(panel.task.count())]
    panel.set_values(task=task, steps=steps, size=32)
    panel.start_button.click()
    qtbot.waitUntil(lambda: not runs.runs.active, timeout=300_000)
    tl = runs.timeline
    assert len(tl) == steps and tl.meta["status"] == "finished", panel.history.toPlainText()
    losses = tl.scalar("loss")
    assert losses[-1] < losses[0], losses
    qtbot.waitUntil(lambda: f"OpenGL reference, step {steps - 1}<" in window.gl_pane.title.text(), timeout=60_000)
    reference = window.gl_pane.image
    assert reference is not None and float(reference.max()) > 0.1        # drawn, not a black frame
