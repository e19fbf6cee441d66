"""Run files: File > Open Run, Overlay Run, and Export Run (the .npz, an animation of chosen panes,
the mesh at the current step).

A file that cannot be read is a message in the banner and the window keeps what it showed.
Exports run in a background thread (a long GIF must not freeze the window) and report back
through a Qt signal; they read a run that is not being stepped (a paused or finished one), so
the frames they write belong together.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QLabel, QVBoxLayout,
                               QWidget)

from renderer.errors import describe_error
from renderer.optimize import Timeline, TimelineFileError, load_timeline

from ..model.app_model import AppModel
from .timeline_frames import run_label

if TYPE_CHECKING:
    from .run_view import RunView        # which creates this: its module imports this one

ANIMATION_PANES = ("render", "target", "difference", "dL_dI")
PANE_WORDS = {"render": "render", "target": "target", "difference": "difference (render - target)",
              "dL_dI": "dL/dI (loss gradient per pixel)"}
DEFAULT_ANIMATION_PANES = ("render", "target", "difference")
RUN_FILTER = "Recorded runs (*.npz)"


class RunFiles(QObject):
    """Run files of ``view`` (the run on show); messages go through ``model``; ``dialog_parent``
    owns the file dialogs. ``exported(message)`` / ``export_failed(message)`` when a background
    export ends; ``exporting``: whether one is in progress."""

    exported = Signal(str)
    export_failed = Signal(str)

    def __init__(self, model: AppModel, view: "RunView", dialog_parent: QWidget) -> None:
        super().__init__(view)
        self.model = model
        self.view = view
        self.dialog_parent = dialog_parent
        self.exporting = False
        self.exported.connect(self._export_done)
        self.export_failed.connect(self._export_error)

    # --- opening -----------------------------------------------------------------------------
    def _load(self, path: str) -> Optional[Timeline]:
        try:
            return load_timeline(path)
        except TimelineFileError as exc:
            self.model.report_error(str(exc), source="file")
            return None

    def open_run(self, path: str) -> bool:
        """Show the run recorded in ``path`` in the timeline dock and the panes; on failure say
        why and keep what is shown."""
        if self.view.runs.active:
            self.model.report_error("a run is going: stop it before opening another", source="file")
            return False
        timeline = self._load(path)
        if timeline is None:
            return False
        self.show_loaded(timeline, path)
        return True

    def show_loaded(self, timeline: Timeline, path: str) -> None:
        """Show a run read from ``path`` (also how ``main.py open RUN.npz`` starts)."""
        self.model.clear_error("file")
        self.model.remember(str(Path(path).resolve()))      # File > Recent files reopens it
        self.view.show_timeline(timeline, Path(path).name)
        self.model.report_status(
            f"opened {Path(path).name}: {len(timeline)} steps, {len(timeline.frame_steps)} frames, "
            f"{timeline.meta.get('status', '?')}", 8000)

    def overlay_run(self, path: str) -> bool:
        """Add the loss curves of the run in ``path`` to the plot (opens it when none is shown)."""
        if self.view.timeline is None:
            return self.open_run(path)
        timeline = self._load(path)
        if timeline is None:
            return False
        self.model.clear_error("file")
        self.view.dock.add_overlay(timeline, run_label(timeline, Path(path).name))
        return True

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.dialog_parent, "Open recorded run", "", RUN_FILTER)
        if path:
            self.open_run(path)

    def overlay_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.dialog_parent, "Overlay a recorded run on the curves", "", RUN_FILTER)
        if path:
            self.overlay_run(path)

    # --- exporting ---------------------------------------------------------------------------
    def _exportable(self) -> Optional[Timeline]:
        """The run on show, if it can be exported now; else None and a message."""
        if self.view.timeline is None:
            self.model.report_error("no run to export: start one or open a recorded run", source="file")
            return None
        if self.view.running:
            self.model.report_error("pause or stop the run before exporting it", source="file")
            return None
        if self.exporting:
            self.model.report_error("an export is still being written", source="file")
            return None
        return self.view.timeline

    def _in_background(self, what: str, job: Callable[[], str]) -> bool:
        self.exporting = True
        self.model.report_status(f"writing {what}...", 0)

        def work() -> None:
            try:
                self.exported.emit(job())
            except Exception as exc:  # noqa: BLE001 - shown to the user
                self.export_failed.emit(f"could not write {what}: {describe_error(exc)}")

        threading.Thread(target=work, name="run-export", daemon=True).start()
        return True

    def save_run(self, path: str) -> bool:
        timeline = self._exportable()
        if timeline is None:
            return False

        def job() -> str:
            timeline.save(path)
            return f"saved the run to {path}"
        return self._in_background(Path(path).name, job)

    def export_animation(self, path: str, panes: Optional[list[str]] = None) -> bool:
        from renderer.optimize import export_animation

        timeline = self._exportable()
        if timeline is None:
            return False
        chosen = panes or [p for p in DEFAULT_ANIMATION_PANES if p in timeline.pane_names]

        def job() -> str:
            frames = export_animation(timeline, path, panes=chosen)
            return f"wrote {path}: {frames} frames of {', '.join(chosen)}"
        return self._in_background(Path(path).name, job)

    def export_mesh(self, path: str) -> bool:
        from renderer.optimize import export_mesh

        timeline = self._exportable()
        if timeline is None:
            return False
        step = self.view.dock.current_step

        def job() -> str:
            written = export_mesh(timeline, path, step)
            return f"wrote the mesh of step {written} to {path}" + ("" if written == step else
                                                                  f" (the nearest recorded frame before step {step})")
        return self._in_background(Path(path).name, job)

    def _export_done(self, message: str) -> None:
        self.exporting = False
        self.model.report_status(message, 10000)
        self.view.panel.log(message)

    def _export_error(self, message: str) -> None:
        self.exporting = False
        self.model.report_error(message, source="file")
        self.view.panel.log(message)

    def save_dialog(self) -> None:
        if self._exportable() is not None:
            path, _ = QFileDialog.getSaveFileName(self.dialog_parent, "Save the run", "run.npz", RUN_FILTER)
            if path:
                self.save_run(path)

    def animation_dialog(self) -> None:
        timeline = self._exportable()
        if timeline is None:
            return
        path, _ = QFileDialog.getSaveFileName(self.dialog_parent, "Export an animation of the run", "run.gif",
                                              "Animations (*.gif *.mp4)")
        if not path:
            return
        panes = choose_panes(self.dialog_parent, [p for p in ANIMATION_PANES if p in timeline.pane_names])
        if panes:
            self.export_animation(path, panes)

    def mesh_dialog(self) -> None:
        if self._exportable() is not None:
            path, _ = QFileDialog.getSaveFileName(self.dialog_parent, "Export the mesh at the current step", "shape.obj",
                                                  "Meshes (*.obj *.ply)")
            if path:
                self.export_mesh(path)


def choose_panes(parent, available: list[str], dialog: Optional[QDialog] = None) -> list[str]:
    """Ask which panes the animation shows (beside the loss curve); [] when cancelled. ``dialog``:
    the dialog to fill (tests pass one and answer it)."""
    dialog = dialog if dialog is not None else QDialog(parent)
    dialog.setWindowTitle("Panes of the animation")
    layout = QVBoxLayout(dialog)
    layout.addWidget(QLabel("Panes shown side by side, with the loss curve:"))
    boxes = []
    for name in available:
        box = QCheckBox(PANE_WORDS.get(name, name))     # the recorded key stays behind the words
        box.setProperty("pane", name)
        box.setChecked(name in DEFAULT_ANIMATION_PANES)
        layout.addWidget(box)
        boxes.append(box)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return []
    return [b.property("pane") for b in boxes if b.isChecked()]
