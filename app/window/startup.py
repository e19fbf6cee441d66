"""Opening the window the way a user starts the app: on a mesh from the command line, else the
last mesh used, with the saved layout and values; a bad start-up file is a message, not a crash."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from renderer.errors import describe_error
from renderer.io import load

from .main_window import MainWindow
from ..model.render_work import describe_seconds
from ..model.scene_values import restore_scene
from .persistence import (app_settings, last_mesh_path, read_json, restore_layout, restore_model,
                          restore_render_timing)


def create_window(mesh_path: Optional[str] = None, store: Optional[QSettings] = None,
                  image_size: int = 256) -> MainWindow:
    """The window on ``mesh_path``, else the last mesh, else the default asset, with the saved
    layout and values restored (``image_size`` applies when none is saved). A broken or missing
    file opens the default mesh and shows why."""
    store = store if store is not None else app_settings()
    path = mesh_path or last_mesh_path(store)
    error, mesh = None, None
    if path:
        try:
            mesh = load(path)
        except Exception as exc:  # noqa: BLE001 - shown in the window instead
            error = describe_error(exc) + ("" if mesh_path else " (the last mesh used)")
            path = None
    window = MainWindow(mesh, settings=store, image_size=image_size,
                        mesh_path=str(Path(path).resolve()) if path else None)
    model = window.model
    restore_layout(store, window)
    _, last_render_s = restore_render_timing(store)
    values = read_json(store, "scene/values", None)
    if last_render_s is not None and isinstance(values, dict):
        # the restored settings are held (and say so) when they rendered slower than the budget
        # last time, whatever the prediction says
        restored, _ = restore_scene(model.scene, values, window.devices)
        window.live.expect(last_render_s, f"restored from the last session, where a render took "
                                          f"{describe_seconds(last_render_s)}", restored)
    problems = restore_model(store, model, window.devices, window.files.open_target_image)
    if model.mesh_path and model.mesh_path not in model.recent_files:
        model.remember(model.mesh_path)
    if error or problems:
        model.report_error("; ".join(([error] if error else []) + problems))
    return window


def run_app(mesh_path: Optional[str] = None, run: Optional[tuple] = None) -> int:
    """Start the GUI and run it until the window closes; ``run``: (Timeline, file path) of a
    recorded run to show."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = create_window(mesh_path)
    if run is not None:
        window.runs.files.show_loaded(*run)

    def report(kind, exc, tb) -> None:
        # a bug in a slot must not end the session: say what happened, keep the window
        window.model.report_error(describe_error(exc))
        if os.environ.get("DRD_DEBUG"):
            sys.__excepthook__(kind, exc, tb)

    sys.excepthook = report
    window.show()
    return app.exec()
