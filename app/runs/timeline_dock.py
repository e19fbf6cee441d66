"""The timeline dock: a scrubber over the recorded steps of a run (play, speed, step -1/+1, jump to
the best step) and its loss curves (log y, one curve per loss term) with a cursor at the current
step; clicking the plot or dragging the cursor seeks. Other runs can be overlaid on the curves.

It shows only what the Timeline holds and says which step is current (``step_changed``); what the
image panes show for that step is ``run_view``'s business.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QStyle,
                               QToolButton, QVBoxLayout, QWidget)

from renderer.optimize import Timeline
from renderer.optimize.timeline import ScalarSnapshot

from ..controls.widgets import compact_combo
from .loss_plot import add_caption_and_legend, make_loss_plot
from .timeline_frames import best_step, loss_names, scalar_snapshot, scalars_at

SPEEDS = ((1, "1 step/s"), (5, "5 steps/s"), (10, "10 steps/s"), (25, "25 steps/s"), (60, "60 steps/s"))
DEFAULT_SPEED = 10
TERM_COLORS = ("#ffffff", "#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8", "#fff176", "#f06292", "#a1887f")
OVERLAY_STYLES = (Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine, Qt.PenStyle.DashDotDotLine)
STYLE_NAMES = {Qt.PenStyle.SolidLine: "solid", Qt.PenStyle.DashLine: "dashed", Qt.PenStyle.DotLine: "dotted",
               Qt.PenStyle.DashDotLine: "dash-dot", Qt.PenStyle.DashDotDotLine: "dash-dot-dot"}
ANALYSIS_PANES = (("difference", "difference (render - target)"), ("dL_dI", "dL/dI (loss gradient per pixel)"),
                  ("target", "target"))
READOUT_PREFIXES = ("loss", "error/", "param/", "sigma", "gamma")
NO_RUN_HINT = "no run: start one in the Optimize dock, or File > Open run"


@dataclass
class CurveSet:
    """One run on the plot: its timeline, legend label, line style and plotted curves."""

    timeline: Timeline
    label: str
    style: Qt.PenStyle
    curves: dict


def positive(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: non-positive and non-finite entries become gaps (NaN)."""
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


class TimelineDock(QWidget):
    """``step_changed(step)``: the current step changed (scrubber, buttons, plot, play, or a live
    run it follows); ``show_run_toggled(on)``: whether the panes show the run; ``pane_changed(name)``:
    which recorded pane the analysis pane shows."""

    step_changed = Signal(int)
    show_run_toggled = Signal(bool)
    pane_changed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.primary: Optional[CurveSet] = None
        self.overlays: list[CurveSet] = []
        self.steps = np.zeros(0, np.int64)
        self.index = -1
        self.following = True              # stay on the newest step while a live run adds steps
        self.live_update = False           # True while refresh() moves the step (not the user)
        self.play_timer = QTimer(self)
        self.play_timer.timeout.connect(self._play_tick)

        style = self.style()
        self.first_button = self._button(style.standardIcon(QStyle.StandardPixmap.SP_MediaSkipBackward),
                                         "First step", lambda: self.set_index(0))
        self.back_button = self._button(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekBackward),
                                        "Step -1", lambda: self.set_index(self.index - 1))
        self.play_button = self._button(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay),
                                        "Play the recorded steps / pause", self.toggle_play)
        self.forward_button = self._button(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward),
                                           "Step +1", lambda: self.set_index(self.index + 1))
        self.last_button = self._button(style.standardIcon(QStyle.StandardPixmap.SP_MediaSkipForward),
                                        "Newest step (and follow a live run)", lambda: self.set_index(len(self.steps) - 1))
        self.best_button = QToolButton()
        self.best_button.setText("best")
        self.best_button.setToolTip("Jump to the step with the lowest total loss")
        self.best_button.clicked.connect(self.jump_to_best)
        self.speed = compact_combo(QComboBox(), 6)
        for value, text in SPEEDS:
            self.speed.addItem(text, value)
        self.speed.setCurrentIndex([v for v, _ in SPEEDS].index(DEFAULT_SPEED))
        self.speed.setToolTip("Playback speed")
        self.speed.currentIndexChanged.connect(lambda _: self._apply_speed())
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Scrub through the recorded steps")
        self.slider.valueChanged.connect(self.set_index)
        self.step_label = QLabel("no run")
        self.step_label.setMinimumWidth(110)

        controls = QHBoxLayout()
        for w in (self.first_button, self.back_button, self.play_button, self.forward_button,
                  self.last_button, self.best_button, self.speed):
            controls.addWidget(w)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.step_label)

        self.show_run = QCheckBox("show the run in the panes")
        self.show_run.setToolTip("On: the three panes show the recorded state of the current step. "
                                 "Editing the scene switches back to the live scene")
        self.show_run.toggled.connect(self.show_run_toggled)
        self.analysis_choice = compact_combo(QComboBox(), 10)
        for name, text in ANALYSIS_PANES:
            self.analysis_choice.addItem(text, name)
        self.analysis_choice.setToolTip("Which recorded pane the analysis pane shows")
        self.analysis_choice.currentIndexChanged.connect(
            lambda i: self.pane_changed.emit(self.analysis_choice.itemData(i)))
        self.note = QLabel("")
        self.note.setStyleSheet("color: #b36b00;")
        options = QHBoxLayout()
        options.addWidget(self.show_run)
        options.addWidget(QLabel("analysis pane:"))
        options.addWidget(self.analysis_choice)
        options.addWidget(self.note, 1)

        self.plot = make_loss_plot()
        self.caption, self.legend = add_caption_and_legend(self.plot)
        self.cursor = pg.InfiniteLine(pos=0, angle=90, movable=True, pen=pg.mkPen("#ff2d55", width=1.5),
                                      hoverPen=pg.mkPen("#ff7a90", width=3))
        self.cursor.setZValue(10)
        self.cursor.sigDragged.connect(lambda line: self.seek_near(line.value()))
        self.plot.addItem(self.cursor)
        self.cursor.hide()                      # until there is a run
        self.caption.setText(NO_RUN_HINT)
        self.plot.scene().sigMouseClicked.connect(self._plot_clicked)
        self.readout = QLabel(" ")
        self.readout.setWordWrap(True)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        # three lines of its own under the plot (the plot never covers it)
        self.readout.setStyleSheet("font-family: monospace;")
        self.readout.ensurePolished()           # the style sheet's font decides the line height
        self.readout.setFixedHeight(3 * self.readout.fontMetrics().lineSpacing() + 4)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addLayout(options)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.readout)
        self._apply_speed()
        self._enable()

    def _button(self, icon, tooltip: str, slot) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon)
        button.setToolTip(tooltip)
        button.clicked.connect(lambda checked=False: slot())
        return button

    # --- runs --------------------------------------------------------------------------------
    @property
    def timeline(self) -> Optional[Timeline]:
        return self.primary.timeline if self.primary else None

    def set_timeline(self, timeline: Timeline, label: str, at_end: bool = True) -> None:
        """Scrub ``timeline`` (replacing the previous primary run; overlays stay)."""
        self._remove_curves(self.primary)
        self.primary = CurveSet(timeline, label, Qt.PenStyle.SolidLine, {})
        self.index, self.following = -1, at_end
        self.cursor.show()
        self.refresh()
        if not at_end and len(self.steps):
            self.set_index(0)

    def add_overlay(self, timeline: Timeline, label: str) -> None:
        """Draw another run's loss curves (dashed) for comparison; it is not scrubbed."""
        style = OVERLAY_STYLES[len(self.overlays) % len(OVERLAY_STYLES)]
        self.overlays.append(CurveSet(timeline, label, style, {}))
        self._draw(self.overlays[-1])

    def clear_overlays(self) -> None:
        for curve_set in self.overlays:
            self._remove_curves(curve_set)
        self.overlays = []
        self._title()

    def refresh(self) -> None:
        """Re-read the primary run (a live run grows): slider range, curves, and, when following,
        move to the newest step."""
        if self.primary is None:
            return
        # one snapshot: a live run appends meanwhile, and the slider, the curves and the readout
        # must all describe the same rows
        snap = scalar_snapshot(self.primary.timeline)
        self.steps = snap.steps
        self._draw(self.primary, snap)          # overlays are finished runs: drawn once
        last = len(self.steps) - 1
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, last))
        self.slider.blockSignals(False)
        if last >= 0 and (self.following or self.index < 0 or self.index > last):
            self.live_update = True
            try:
                self.set_index(last)
            finally:
                self.live_update = False
        elif last < 0:
            self.index = -1
        self._show_position()
        self._enable()

    def _show_position(self) -> None:
        step = self.current_step
        self.step_label.setText("no steps yet" if step is None else f"step {step} / {int(self.steps[-1])}")

    # --- current step ------------------------------------------------------------------------
    @property
    def current_step(self) -> Optional[int]:
        return int(self.steps[self.index]) if 0 <= self.index < len(self.steps) else None

    def set_index(self, index: int) -> None:
        """Make the recorded step number ``index`` (0 = first) current."""
        if not len(self.steps):
            return
        index = max(0, min(len(self.steps) - 1, int(index)))
        self.following = index == len(self.steps) - 1
        if index == self.index:
            return
        self.index = index
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        step = int(self.steps[index])
        self.cursor.blockSignals(True)
        self.cursor.setValue(step)
        self.cursor.blockSignals(False)
        self._show_position()
        self._show_readout(step)
        self._enable()
        self.step_changed.emit(step)

    def set_step(self, step: int) -> None:
        """Make the recorded step nearest to ``step`` current."""
        self.seek_near(step)

    def seek_near(self, x: float) -> None:
        if len(self.steps):
            self.set_index(int(np.argmin(np.abs(self.steps - x))))

    def jump_to_best(self) -> None:
        step = best_step(self.primary.timeline) if self.primary else None
        if step is not None:
            self.seek_near(step)

    def _show_readout(self, step: int) -> None:
        values = scalars_at(self.primary.timeline, step)
        # "param/azimuth" reads as "azimuth" (the errors keep their prefix: they are not values)
        shown = [f"{name.removeprefix('param/')} {value:.4g}" for name, value in values.items()
                 if name.startswith(READOUT_PREFIXES) and np.isfinite(value)]
        self.readout.setText("   ".join(shown) or " ")

    def set_note(self, text: str) -> None:
        self.note.setText(text)

    # --- playback ----------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self.play_timer.isActive()

    def toggle_play(self) -> None:
        if self.playing:
            self.stop_playing()
            return
        if not len(self.steps):
            return
        if self.index >= len(self.steps) - 1:
            self.set_index(0)                   # play from the start when at the end
        self.play_timer.start()
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause))

    def stop_playing(self) -> None:
        self.play_timer.stop()
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))

    def _apply_speed(self) -> None:
        self.play_timer.setInterval(max(1, round(1000 / self.speed.currentData())))

    def _play_tick(self) -> None:
        if self.index >= len(self.steps) - 1:
            self.stop_playing()
        else:
            self.set_index(self.index + 1)

    # --- plot --------------------------------------------------------------------------------
    def _draw(self, curve_set: Optional[CurveSet], snap: Optional[ScalarSnapshot] = None) -> None:
        """Plot ``curve_set``'s loss curves from ``snap`` (default: a snapshot taken now), x and y
        from the same rows."""
        if curve_set is None:
            return
        snap = snap if snap is not None else scalar_snapshot(curve_set.timeline)
        steps = snap.steps.astype(np.float64)
        primary = curve_set is self.primary
        for k, name in enumerate(loss_names(snap.names)):
            curve = curve_set.curves.get(name)
            if curve is None:
                term = name.split("/", 1)[-1]
                label = term if primary else f"{term} ({STYLE_NAMES[curve_set.style]})"   # the title names the runs
                pen = pg.mkPen(TERM_COLORS[k % len(TERM_COLORS)], width=2.0 if name == "loss" else 1.2,
                               style=curve_set.style)
                curve = self.plot.plot([], [], pen=pen, name=label)
                curve_set.curves[name] = curve
            curve.setData(steps, positive(snap.column(name)), connect="finite")
        self._title()

    def _title(self) -> None:
        """Say which line style is which run (colours are the loss terms)."""
        runs = ([self.primary] if self.primary else []) + self.overlays
        described = "; ".join(f"{STYLE_NAMES[r.style]}: {r.label}" for r in runs)
        self.caption.setText(f"loss per step; {described}" if described else NO_RUN_HINT)

    def _remove_curves(self, curve_set: Optional[CurveSet]) -> None:
        if curve_set is None:
            return
        for curve in curve_set.curves.values():
            self.plot.removeItem(curve)
            self.legend.removeItem(curve)
        curve_set.curves.clear()

    def _plot_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.isAccepted() or not len(self.steps):
            return                          # (a legend entry takes its own clicks: it hides its curve)
        box = self.plot.getPlotItem().getViewBox()
        if not box.sceneBoundingRect().contains(event.scenePos()):
            return
        self.seek_near(box.mapSceneToView(event.scenePos()).x())

    def _enable(self) -> None:
        has = len(self.steps) > 0
        for w in (self.first_button, self.back_button, self.play_button, self.forward_button,
                  self.last_button, self.best_button, self.slider):
            w.setEnabled(has)
