"""Menus and keyboard shortcuts of the main window (one table, also shown under Help)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import QMessageBox

from .analysis_modes import MODES

if TYPE_CHECKING:
    from .main_window import MainWindow

SIGMA_STEP = 10 ** 0.25         # [ and ] move sigma by a quarter decade
ORBIT_STEP_DEG = 5.0
# Keys that act on the image panes only (so they do not steal arrows from sliders and boxes).
PANE_KEYS = (("Left", "orbit left"), ("Right", "orbit right"), ("Up", "orbit up"), ("Down", "orbit down"),
             ("+", "zoom in"), ("-", "zoom out"))


class Menus:
    """Builds the menu bar of ``window`` and keeps the recent-files submenu current."""

    def __init__(self, window: "MainWindow") -> None:
        self.window = window
        self.shortcut_help: list[tuple[str, str]] = []
        bar = window.menuBar()
        w = window

        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&Open mesh...", w.open_mesh_dialog, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Open &target image...", w.open_target_dialog, "Ctrl+T")
        runs = w.runs.files
        self._action(file_menu, "Open r&un...", runs.open_dialog, "Ctrl+Shift+O")
        self._action(file_menu, "O&verlay run...", runs.overlay_dialog)
        export_run = file_menu.addMenu("Export ru&n")
        self._action(export_run, "Save the run (.npz)...", runs.save_dialog)
        self._action(export_run, "Animation of chosen panes (GIF, MP4)...", runs.animation_dialog)
        self._action(export_run, "Mesh at the current step (OBJ, PLY)...", runs.mesh_dialog)
        self.recent_menu = file_menu.addMenu("&Recent files")
        file_menu.addSeparator()
        self._action(file_menu, "&Export panes and buffers...", w.export_dialog, "Ctrl+E")
        self._action(file_menu, "Save window &screenshot...", w.screenshot_dialog, "Ctrl+Shift+S")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", w.close, QKeySequence.StandardKey.Quit)

        view = bar.addMenu("&View")
        self.mode_group = QActionGroup(window)
        self.mode_actions: dict[str, QAction] = {}
        for i, mode in enumerate(MODES, start=1):
            act = self._action(view, mode.label, lambda m=mode.name: w.set_analysis_mode(m), f"Ctrl+{i}")
            act.setCheckable(True)
            act.setToolTip(mode.help)
            self.mode_group.addAction(act)
            self.mode_actions[mode.name] = act
        view.addSeparator()
        self._action(view, "&Fit images", w.fit_views, "F")
        self._action(view, "&Zoom to picked pixel", w.zoom_to_pick, "Z")
        self._action(view, "Clear picked pixel", w.clear_pick, "Esc")

        scene = bar.addMenu("&Scene")
        for i, kind in enumerate(("softras", "dibr", "hard"), start=1):
            self._action(scene, f"Renderer {kind}", lambda k=kind: w.edit("renderer", k), f"Ctrl+Shift+{i}")
        self._action(scene, "Sharper edges (sigma / 1.8)", lambda: w.scale_sigma(1 / SIGMA_STEP), "[")
        self._action(scene, "Softer edges (sigma x 1.8)", lambda: w.scale_sigma(SIGMA_STEP), "]")
        self._action(scene, "&Reset camera", w.reset_camera, "R")

        for key, what in PANE_KEYS:
            shortcut = QShortcut(QKeySequence(key), w.panes_widget)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self._pane_key(key))
            self.shortcut_help.append((f"{key} (over the images)", what))
        self.shortcut_help += [("drag", "orbit the camera"), ("Shift+drag", "move the light"),
                               ("wheel", "camera distance"), ("Ctrl+wheel", "magnify the images"),
                               ("click", "pick a pixel for the inspector"), ("double-click", "fit the images")]

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard and mouse", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)

    def _action(self, menu, text: str, slot: Callable, shortcut=None) -> QAction:
        act = QAction(text, self.window)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
            self.shortcut_help.append((act.shortcut().toString(QKeySequence.SequenceFormat.NativeText),
                                       text.replace("&", "").rstrip(".")))
        act.triggered.connect(lambda checked=False: slot())
        menu.addAction(act)
        return act

    def _pane_key(self, key: str) -> Callable[[], None]:
        w = self.window
        moves = {"Left": lambda: w.orbit_by(-ORBIT_STEP_DEG, 0), "Right": lambda: w.orbit_by(ORBIT_STEP_DEG, 0),
                 "Up": lambda: w.orbit_by(0, ORBIT_STEP_DEG), "Down": lambda: w.orbit_by(0, -ORBIT_STEP_DEG),
                 "+": lambda: w.zoom(1), "-": lambda: w.zoom(-1)}
        return moves[key]

    def check_mode(self, name: str) -> None:
        self.mode_actions[name].setChecked(True)

    def refresh_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.window.recent_files:
            act = QAction(Path(path).name, self.window)
            act.setToolTip(path)
            act.triggered.connect(lambda checked=False, p=path: self.window.open_path(p))
            self.recent_menu.addAction(act)
        self.recent_menu.setEnabled(bool(self.window.recent_files))

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;{v}</td></tr>" for k, v in self.shortcut_help)
        box = QMessageBox(QMessageBox.Icon.Information, "Keyboard and mouse", f"<table>{rows}</table>",
                          QMessageBox.StandardButton.Close, self.window)
        box.setModal(False)
        box.show()
