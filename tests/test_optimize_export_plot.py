"""The animation's loss plot: plain tick labels that fit in the frame (issue 13, defect 11: ticks
like "0^-1", the "1" of "10^-1" cut off at the frame's edge)."""
from __future__ import annotations

import numpy as np
import pytest

from renderer.optimize import Timeline
from renderer.optimize.export import loss_figure


def timeline_with(losses: np.ndarray) -> Timeline:
    tl = Timeline()
    for step, value in enumerate(losses):
        tl.add_step(step, {"loss": float(value), "loss/silhouette": float(value) * 0.8})
    return tl


@pytest.mark.parametrize("losses", [np.linspace(0.9, 0.3, 40), np.geomspace(1.0, 1e-4, 40)],
                         ids=["under a decade", "four decades"])
def test_loss_plot_labels_are_plain_and_inside_the_frame(losses):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig, ax, positive = loss_figure(timeline_with(losses), 256, 174)
    FigureCanvasAgg(fig).draw()
    assert positive and ax.get_yscale() == "log"
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.get_yticklabels() if t.get_text() and t.get_visible()
              and ax.get_ylim()[0] <= t.get_position()[1] <= ax.get_ylim()[1]]
    assert labels, "no y labels"
    for label in labels:
        text = label.get_text()
        assert "$" not in text and "^" not in text and "\\u207b" not in text, text
        float(text)                                          # a plain number
        box = label.get_window_extent(renderer)
        assert box.x0 >= 0, (text, box)                      # not cut at the frame's left edge
