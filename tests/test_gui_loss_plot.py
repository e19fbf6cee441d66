"""The loss plot stays legible (issue 13, defect 7): tall enough at the smallest window, log-axis
labels that do not pile up (with a run and without), a legend that is neither clipped nor over
the curves."""
from __future__ import annotations

import numpy as np
import pytest

from renderer.assets import load_asset
from renderer.optimize import Run, build_run
from tests.gui_support import isolated_settings, make_window, wait_idle  # noqa: F401

LABEL_PX = 14             # two labels closer than this overlap (8-9 pt text)


def label_positions(plot) -> list[tuple[float, str]]:
    """(pixel position along the axis, text) of every labelled tick of the left axis, as drawn."""
    axis = plot.getAxis("left")
    lo, hi = axis.range
    length = axis.height()
    out = []
    for spacing, values in axis.tickValues(lo, hi, length):
        strings = axis.tickStrings(values, axis.autoSIPrefixScale, spacing)
        for v, text in zip(values, strings):
            if text and lo <= v <= hi:
                out.append(((v - lo) / (hi - lo) * length, text))
    return sorted(out)


def assert_labels_apart(plot) -> None:
    labels = label_positions(plot)
    assert labels, "the axis has no labels at all"
    shown: dict[str, float] = {}
    for pos, text in labels:                 # a value labelled at two tick levels is drawn once
        shown.setdefault(text, pos)
    positions = sorted(shown.values())
    gaps = np.diff(positions)
    assert (gaps >= LABEL_PX).all(), f"labels {sorted(shown.items(), key=lambda t: t[1])} overlap"


def test_empty_plot_labels_do_not_crowd(qtbot, make_window):
    window = make_window()
    plot = window.runs.dock.plot
    qtbot.wait(50)
    assert plot.height() >= 120
    assert_labels_apart(plot)


@pytest.fixture(scope="module")
def shape_run(tmp_path_factory, gl_renderer):
    """A short shape run (loss, silhouette and three regulariser curves), saved."""
    task, config = build_run("shape", load_asset("sphere"), truth_mesh=load_asset("axes"), size=32, steps=12,
                             num_views=2, gl=gl_renderer)
    path = tmp_path_factory.mktemp("runs") / "shape.npz"
    Run(task, config).run().timeline.save(path)
    return path


def test_opened_run_plot_is_legible(qtbot, make_window, shape_run):
    window = make_window()
    assert window.runs.files.open_run(str(shape_run))
    wait_idle(qtbot, window)
    qtbot.wait(100)
    dock = window.runs.dock
    plot = dock.plot
    assert plot.height() >= 120, plot.height()
    assert len(dock.primary.curves) >= 3
    assert_labels_apart(plot)
    box = plot.getPlotItem().getViewBox().sceneBoundingRect()
    legend = dock.legend.sceneBoundingRect()
    whole = plot.getPlotItem().sceneBoundingRect()
    assert len(dock.legend.items) == len(dock.primary.curves)
    assert not box.intersects(legend), (legend, box)     # beside the curves, never over them
    assert whole.contains(legend), (legend, whole)       # and not clipped
