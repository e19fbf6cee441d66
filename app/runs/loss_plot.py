"""The loss plot of the timeline dock: log y with readable labels, a legend that fits, a height
that keeps the curves legible.

pyqtgraph labels every minor tick of a log axis that spans less than a few decades, so its
labels piled up ("0.1 0.09 0.08 ..."), most of all on a short or empty plot. ``LossAxis`` labels
the decades, and 2 and 5 between them only where the axis spans few decades and has the room.
"""
from __future__ import annotations

import math

import pyqtgraph as pg

PLOT_MIN_HEIGHT = 140          # px: below this the curves and the legend do not fit
EMPTY_RANGE = (-3.0, 0.0)      # log10 y range of an empty plot: 0.001 .. 1
LABEL_PX = 16                  # vertical room one tick label needs
LEGEND_COLUMNS = 4             # legend entries per row under the plot


def _mantissa(log_value: float) -> float:
    return 10 ** (log_value - math.floor(log_value + 1e-9))


class LossAxis(pg.AxisItem):
    """A left axis that, in log mode, labels decades (every one, or every 2nd, 3rd ... as the
    axis's height allows) and, where the axis spans few decades, 2 and 5 in between; other ticks
    keep their marks without a label."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        lo, hi = self.range
        decades = max(1e-9, hi - lo)
        room = max(1, int(self.height() / LABEL_PX)) if self.height() > 0 else 6
        every = max(1, math.ceil(decades / room))            # label every n-th decade
        minor = (2.0, 5.0) if decades * 3 <= room and decades <= 2.5 else ()
        out = []
        for v in values:
            m = _mantissa(v)
            decade = abs(m - 1) < 1e-3 or abs(m - 10) < 1e-2
            exponent = round(v) if decade else math.floor(v + 1e-9)
            keep = (decade and exponent % every == 0) or any(abs(m - k) < 1e-3 * k for k in minor)
            out.append(f"{10 ** v:.3g}" if keep else "")
        return out


def make_loss_plot() -> pg.PlotWidget:
    """A plot for loss curves: log y (``LossAxis``), a faint grid, no context menu."""
    plot = pg.PlotWidget(axisItems={"left": LossAxis("left")})
    plot.setLogMode(x=False, y=True)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setLabel("left", "loss (log)")       # (the x axis is the run's steps: the title says so)
    plot.getAxis("left").enableAutoSIPrefix(False)     # plain 0.2, not "200 (x0.001)"
    # LossAxis already keeps its labels apart: let pyqtgraph draw all it labels (its default
    # fill limits dropped every label but one on a short axis)
    plot.getAxis("left").setStyle(textFillLimits=[(0, 0.95), (2, 0.9), (4, 0.8), (6, 0.6)])
    plot.setMenuEnabled(False)
    plot.setMinimumHeight(PLOT_MIN_HEIGHT)
    show_empty(plot)
    return plot


def add_caption_and_legend(plot: pg.PlotWidget) -> tuple[pg.LabelItem, pg.LegendItem]:
    """One row under the plot (in the plot's layout, not over the view box): a caption (which run
    is which line style) and the legend (which colour is which loss term), so neither covers a
    curve and the plot needs no title row. Curves plotted with a name join the legend; clicking
    an entry hides its curve, as pyqtgraph's legend does."""
    item = plot.getPlotItem()
    row = pg.GraphicsLayout()
    row.layout.setContentsMargins(0, 0, 0, 0)
    caption = pg.LabelItem("", size="8pt", color="#bbbbbb", justify="left")
    legend = pg.LegendItem(labelTextSize="8pt", colCount=LEGEND_COLUMNS, verSpacing=-8, horSpacing=12)
    row.addItem(caption, 0, 0)
    row.addItem(legend, 0, 1)
    item.layout.addItem(row, 4, 1)
    item.legend = legend                  # PlotItem.plot(name=...) adds curves to item.legend
    return caption, legend


def show_empty(plot: pg.PlotWidget) -> None:
    """The range of a plot without curves: steps 0..1, loss 0.001..1."""
    plot.setXRange(0, 1, padding=0)
    plot.setYRange(*EMPTY_RANGE, padding=0)
    plot.enableAutoRange(x=True, y=True)
