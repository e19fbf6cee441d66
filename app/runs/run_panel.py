"""The run panel: choose a task and preset, adjust the main parameters, and Start / Pause / Resume /
Stop an optimization run, with a progress bar, an ETA and a log of what happened.

The panel only collects inputs (``start_requested(task, preset, overrides)``) and shows the
model's ``run_state``; ``run_view`` runs the optimization in its worker thread. Its renderer
choices are the registry's differentiable renderers for the scene's representation.
"""
from __future__ import annotations

import math
import time
from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGridLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from renderer import RenderSettings
from renderer.optimize.preset_table import DEFAULT_PRESETS, PRESETS, TASK_DESCRIPTIONS, task_names
from renderer.registry import renderer_names

from ..controls.widgets import compact_combo
from ..model.app_model import IDLE, PAUSED, PAUSING, RUNNING, STARTING, STOPPING, AppModel

TASK_HELP = {
    "pose": "Recover the camera (azimuth, elevation, distance) from one OpenGL image of the current mesh",
    "shape": "Deform a sphere until its silhouettes match OpenGL images of the current mesh",
    "color": "Recover the current mesh's vertex colours from OpenGL images of it",
    "light": "Recover the light (its direction, or the SH coefficients) from OpenGL images of the current mesh",
}
MULTI_VIEW_TASKS = ("shape", "color", "light")


def _multi_view(task: str) -> bool:
    """Whether ``task`` fits several target views (a registered task: its presets name num_views)."""
    return task in MULTI_VIEW_TASKS or (task in PRESETS and task not in TASK_HELP
                                        and "num_views" in PRESETS[task][DEFAULT_PRESETS[task]])
FIELD_WIDGETS = {"size": "size_box"}       # set_values names that differ from the attribute
__all__ = ["RunPanel", "parse_sigma", "format_eta", "IDLE", "STARTING", "RUNNING", "PAUSING", "PAUSED", "STOPPING"]


def parse_sigma(text: str):
    """'1e-4' -> 1e-4; 'S0,S1' -> a geometric anneal Schedule; ValueError saying what is expected."""
    from renderer.optimize.schedules import parse_anneal

    text = text.strip()
    if "," in text:
        return parse_anneal(text)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"sigma: expected a number (1e-4) or an anneal START,END (1e-3,1e-5), got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"sigma must be a positive number, got {text!r}")
    return value


def format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class RunPanel(QWidget):
    """Inputs of the optimization run and ``model.run_state``. Signals: ``start_requested(task,
    preset, overrides)`` (overrides as ``build_run`` takes them), ``pause_requested``,
    ``resume_requested``, ``stop_requested``."""

    start_requested = Signal(str, str, dict)
    pause_requested = Signal()
    resume_requested = Signal()
    stop_requested = Signal()

    def __init__(self, model: AppModel) -> None:
        super().__init__()
        self.model = model
        self.task = compact_combo(QComboBox())
        self._kind = model.scene.kind
        self.task.addItems(task_names(self._kind))
        self.preset = compact_combo(QComboBox())
        self.task_help = QLabel()
        self.task_help.setWordWrap(True)
        self.task_help.setStyleSheet("color: #555;")
        self.steps = self._spin(1, 100_000, "Most optimizer steps (a run may stop earlier when it converges)")
        self.lr = QLineEdit()
        self.lr.setToolTip("Learning rate, in the units of the task's parameters (see the presets)")
        self.renderer = compact_combo(QComboBox())
        self.renderer.addItems(renderer_names(representation=model.scene.kind, differentiable=True))
        self.renderer.setToolTip("The differentiable renderer that is optimized through")
        self.sigma = QLineEdit()
        self.sigma.setToolTip("SoftRas/DIB-R edge sharpness: one number (1e-4), or START,END (1e-3,1e-5) "
                              "to anneal it geometrically over the run")
        self.num_views = self._spin(1, 500, "Target views (cameras around the object)")
        self.views_per_step = self._spin(0, 500, "Target views drawn at random per step (0: all)")
        self.views_per_step.setSpecialValueText("all")
        # (not ``self.size``: that would hide QWidget.size())
        self.size_box = self._spin(8, 1024, "Render and target size S (S x S pixels)")
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)   # narrow dock: fields under labels
        form.addRow("task", self.task)
        form.addRow("preset", self.preset)
        form.addRow(self.task_help)
        form.addRow("steps", self.steps)
        form.addRow("learning rate", self.lr)
        form.addRow("renderer", self.renderer)
        form.addRow("sigma", self.sigma)
        form.addRow("target views", self.num_views)
        form.addRow("views per step", self.views_per_step)
        form.addRow("size (px)", self.size_box)

        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.stop_button = QPushButton("Stop")
        self.start_button.setToolTip("Build the targets and run the optimization in the background")
        self.stop_button.setToolTip("End the run after the current step (its history stays)")
        buttons = QGridLayout()                 # two by two: fits a narrow dock
        for k, b in enumerate((self.start_button, self.pause_button, self.resume_button, self.stop_button)):
            buttons.addWidget(b, k // 2, k % 2)
        self.start_button.clicked.connect(self._start)
        self.pause_button.clicked.connect(self.pause_requested)
        self.resume_button.clicked.connect(self.resume_requested)
        self.stop_button.clicked.connect(self.stop_requested)
        self.progress = QProgressBar()
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.status = QLabel("no run yet")
        self.status.setWordWrap(True)
        self.history = QPlainTextEdit()
        self.history.setReadOnly(True)
        self.history.setMaximumBlockCount(500)
        self.history.setPlaceholderText("runs, their outcome and any errors are listed here")
        self.history.setMinimumHeight(60)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.history, 1)
        self.task.currentTextChanged.connect(self._task_changed)
        self.preset.currentTextChanged.connect(self._preset_changed)
        self._task_changed(self.task.currentText())
        model.events.run_state.connect(self._show_state)
        model.events.scene.connect(self._scene_changed)
        self._show_state(model.run_state)

    def _scene_changed(self, scene) -> None:
        """Another representation opened: offer its tasks and renderers."""
        if scene.kind == self._kind:
            return
        self._kind = scene.kind
        for combo, items in ((self.task, task_names(scene.kind)),
                             (self.renderer, renderer_names(representation=scene.kind, differentiable=True))):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(items)
            combo.blockSignals(False)
        self._task_changed(self.task.currentText())

    @staticmethod
    def _spin(lo: int, hi: int, tooltip: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(lo, hi)
        box.setToolTip(tooltip)
        return box

    # --- inputs ------------------------------------------------------------------------------
    def _task_changed(self, task: str) -> None:
        if not task:                        # a representation without tasks
            self.preset.clear()
            self.task_help.setText("no optimization task is registered for this representation")
            return
        self.preset.blockSignals(True)
        self.preset.clear()
        self.preset.addItems(list(PRESETS[task]))
        self.preset.setCurrentText(DEFAULT_PRESETS[task])
        self.preset.blockSignals(False)
        self.task_help.setText(TASK_HELP.get(task) or TASK_DESCRIPTIONS.get(task, ""))
        multi = _multi_view(task)
        self.num_views.setEnabled(multi)
        self.views_per_step.setEnabled(multi)
        self._preset_changed(self.preset.currentText())

    def _preset_changed(self, name: str) -> None:
        """Fill the fields with the preset's values (the user edits from there)."""
        if not name:
            return
        p = PRESETS[self.task.currentText()][name]
        config = p["config"]
        self.steps.setValue(int(config["steps"]))
        self.lr.setText(f"{config['lr']:g}")
        self.renderer.setCurrentText(p.get("renderer", self.renderer.itemText(0) or RenderSettings().renderer))
        self.sigma.setText(f"{p.get('sigma', 1e-4):g}")
        self.num_views.setValue(int(p.get("num_views", 1)))
        self.views_per_step.setValue(int(config.get("views_per_step") or 0))
        self.size_box.setValue(int(p["size"]))

    def set_values(self, task: Optional[str] = None, preset: Optional[str] = None, **fields) -> None:
        """Set inputs by name (task, preset, steps, lr, renderer, sigma, num_views, views_per_step,
        size), e.g. from a test or a saved setup."""
        if task is not None:
            self.task.setCurrentText(task)
        if preset is not None:
            self.preset.setCurrentText(preset)
        for name, value in fields.items():
            widget = getattr(self, FIELD_WIDGETS.get(name, name))
            if isinstance(widget, QSpinBox):
                widget.setValue(int(value))
            elif isinstance(widget, QComboBox):
                widget.setCurrentText(str(value))
            else:
                widget.setText(str(value))

    def overrides(self) -> dict:
        """The parameters as ``build_run`` overrides; ValueError naming a bad field."""
        try:
            lr = float(self.lr.text())
        except ValueError:
            raise ValueError(f"learning rate: expected a number, got {self.lr.text()!r}") from None
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning rate must be a positive number, got {self.lr.text()!r}")
        values = dict(steps=self.steps.value(), lr=lr, renderer=self.renderer.currentText(),
                      sigma=parse_sigma(self.sigma.text()), size=self.size_box.value())
        if _multi_view(self.task.currentText()):
            values["num_views"] = self.num_views.value()
            per_step = self.views_per_step.value()
            values["views_per_step"] = per_step or None
        return values

    def _start(self) -> None:
        try:
            overrides = self.overrides()
        except ValueError as exc:
            self.log(f"not started: {exc}")
            self.status.setText(f"not started: {exc}")
            return
        self.start_requested.emit(self.task.currentText(), self.preset.currentText(), overrides)

    # --- state -------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """The run's state (``model.run_state``)."""
        return self.model.run_state

    def _show_state(self, state: str) -> None:
        """Enable the buttons that apply in ``state`` (idle, starting, running, pausing, paused, stopping)."""
        busy = state != IDLE
        self.start_button.setEnabled(not busy)
        self.pause_button.setEnabled(state == RUNNING)
        self.resume_button.setEnabled(state in (PAUSING, PAUSED))
        self.stop_button.setEnabled(state in (STARTING, RUNNING, PAUSING, PAUSED))
        for w in (self.task, self.preset, self.steps, self.lr, self.renderer, self.sigma, self.size_box):
            w.setEnabled(not busy)
        multi = _multi_view(self.task.currentText())
        self.num_views.setEnabled(not busy and multi)
        self.views_per_step.setEnabled(not busy and multi)
        if state == STARTING:
            self.progress.setRange(0, 0)                # busy indicator while the targets are drawn
            self.status.setText("drawing the targets...")

    def set_progress(self, done: int, total: int, seconds_per_step: float, state: str) -> None:
        """Show ``done`` of ``total`` steps and the time left at ``seconds_per_step``."""
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(min(done, total))
        eta = (total - done) * seconds_per_step if done else math.inf
        word = {PAUSED: "paused", PAUSING: "pausing", STOPPING: "stopping"}.get(state, f"ETA {format_eta(eta)}")
        self.progress.setFormat(f"{done} / {total} steps   {word}")

    def finish(self, text: str) -> None:
        self.progress.setRange(0, max(1, self.progress.maximum()))
        # the head of the summary ("pose: finished after 80 steps"); the status line has the rest
        self.progress.setFormat(text.split(";")[0].split(" (")[0][:60])
        self.status.setText(text)
        self.model.run_state = IDLE

    def log(self, message: str) -> None:
        self.history.appendPlainText(f"{time.strftime('%H:%M:%S')}  {message}")
