"""Menus and keyboard shortcuts of the main window (one table, also shown under Help).

The analysis modes and the renderers come from their registries (``app.model.modes``,
``renderer.registry``): a registered mode or renderer gets its menu entry and shortcut. The mode
entries are a view of ``model.mode`` and are greyed out where the scene's renderer does not apply.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from renderer.registry import get_renderer, renderers

from ..model.app_model import AppModel
from ..model.modes import SHORTCUT_SCHEME, mode_applies, mode_shortcut, modes

SIGMA_STEP = 10 ** 0.25         # [ and ] move sigma by a quarter decade
ORBIT_STEP_DEG = 5.0
# Keys that act on the image panes only (so they do not steal arrows from sliders and boxes).
PANE_KEYS = (("Left", "orbit left"), ("Right", "orbit right"), ("Up", "orbit up"), ("Down", "orbit down"),
             ("+", "zoom in"), ("-", "zoom out"))


@dataclass(frozen=True)
class WindowCommands:
    """What the menus trigger besides the model's own methods: dialogs and views of the window."""

    open_mesh_dialog: Callable[[], None]
    open_target_dialog: Callable[[], None]
    open_run_dialog: Callable[[], None]
    overlay_run_dialog: Callable[[], None]
    save_run_dialog: Callable[[], None]
    animation_dialog: Callable[[], None]
    run_mesh_dialog: Callable[[], None]
    export_dialog: Callable[[], None]
    screenshot_dialog: Callable[[], None]
    open_path: Callable[[str], object]
    fit_views: Callable[[], None]
    zoom_to_pick: Callable[[], None]
    preferences_dialog: Callable[[], None]
    quit: Callable[[], object]


class Menus:
    """Builds the menu bar of ``window`` for ``model``; ``pane_area``: the widget whose children
    take the pane-only keys (arrows, + and -)."""

    def __init__(self, window: QMainWindow, model: AppModel, commands: WindowCommands, pane_area: QWidget) -> None:
        self.window = window
        self.model = model
        self.commands = commands
        self.shortcut_help: list[tuple[str, str]] = []
        bar = window.menuBar()
        c = commands

        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&Open mesh...", c.open_mesh_dialog, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Open &target image...", c.open_target_dialog, "Ctrl+T")
        self._action(file_menu, "Open r&un...", c.open_run_dialog, "Ctrl+Shift+O")
        self._action(file_menu, "O&verlay run...", c.overlay_run_dialog)
        export_run = file_menu.addMenu("Export ru&n")
        self._action(export_run, "Save the run (.npz)...", c.save_run_dialog)
        self._action(export_run, "Animation of chosen panes (GIF, MP4)...", c.animation_dialog)
        self._action(export_run, "Mesh at the current step (OBJ, PLY)...", c.run_mesh_dialog)
        self.recent_menu = file_menu.addMenu("&Recent files")
        file_menu.addSeparator()
        self._action(file_menu, "&Export panes and buffers...", c.export_dialog, "Ctrl+E")
        self._action(file_menu, "Save window &screenshot...", c.screenshot_dialog, "Ctrl+Shift+S")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", c.quit, QKeySequence.StandardKey.Quit)

        edit = bar.addMenu("&Edit")
        self._action(edit, "&Preferences...", c.preferences_dialog, QKeySequence.StandardKey.Preferences)
        self._action(edit, "Cancel the render (or clear the picked pixel)", model.escape, "Esc")

        view = bar.addMenu("&View")
        self.mode_group = QActionGroup(window)
        self.mode_actions: dict[str, QAction] = {}
        for i, mode in enumerate(modes()):
            act = self._action(view, mode.label, lambda m=mode.name: setattr(model, "mode", m), mode_shortcut(i))
            act.setCheckable(True)
            act.setToolTip(mode.help)
            self.mode_group.addAction(act)
            self.mode_actions[mode.name] = act
        view.setToolTipsVisible(True)
        view.addSeparator()
        self._action(view, "&Fit images", c.fit_views, "F")
        self._action(view, "&Zoom to picked pixel", c.zoom_to_pick, "Z")
        self._action(view, "Clear picked pixel", lambda: setattr(model, "pick", None))

        scene = bar.addMenu("&Scene")
        # every differentiable renderer; those that cannot draw the open representation are greyed
        self.renderer_actions: dict[str, QAction] = {}
        for i, spec in enumerate(renderers(differentiable=True), start=1):
            act = self._action(scene, f"Renderer {spec.name}", lambda name=spec.name: model.edit("renderer", name),
                               f"Ctrl+Shift+{i}" if i <= 9 else None)
            act.setToolTip(f"{spec.description} (draws: {', '.join(spec.representations)})")
            self.renderer_actions[spec.name] = act
        self._action(scene, "Sharper edges (sigma / 1.8)", lambda: model.scale_sigma(1 / SIGMA_STEP), "[")
        self._action(scene, "Softer edges (sigma x 1.8)", lambda: model.scale_sigma(SIGMA_STEP), "]")
        self._action(scene, "&Reset camera", model.reset_camera, "R")

        moves = {"Left": lambda: model.orbit_by(-ORBIT_STEP_DEG, 0), "Right": lambda: model.orbit_by(ORBIT_STEP_DEG, 0),
                 "Up": lambda: model.orbit_by(0, ORBIT_STEP_DEG), "Down": lambda: model.orbit_by(0, -ORBIT_STEP_DEG),
                 "+": lambda: model.zoom(1), "-": lambda: model.zoom(-1)}
        for key, what in PANE_KEYS:
            shortcut = QShortcut(QKeySequence(key), pane_area)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(moves[key])
            self.shortcut_help.append((f"{key} (over the images)", what))
        self.shortcut_help += [("drag", "orbit the camera"), ("Shift+drag", "move the light"),
                               ("wheel", "camera distance"), ("Ctrl+wheel", "magnify the images"),
                               ("click", "pick a pixel for the inspector"), ("double-click", "fit the images"),
                               ("Ctrl+digit", SHORTCUT_SCHEME)]

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard and mouse", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)

        model.events.mode.connect(self._check_mode)
        model.events.scene.connect(self._enable_modes)
        model.events.recent_files.connect(self._show_recent)
        self._check_mode(model.mode)
        self._enable_modes(model.scene)
        self._show_recent(model.recent_files)

    def _action(self, menu, text: str, slot: Callable, shortcut=None) -> QAction:
        act = QAction(text, self.window)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
            self.shortcut_help.append((act.shortcut().toString(QKeySequence.SequenceFormat.NativeText),
                                       text.replace("&", "").rstrip(".")))
        act.triggered.connect(lambda checked=False: slot())
        menu.addAction(act)
        return act

    # --- views of the model ----------------------------------------------------------------------
    def _check_mode(self, name: str) -> None:
        self.mode_actions[name].setChecked(True)

    def _enable_modes(self, scene) -> None:
        spec = self.model.renderer_spec
        for name, act in self.mode_actions.items():
            act.setEnabled(mode_applies(name, spec, scene.kind))
        for name, act in self.renderer_actions.items():
            act.setEnabled(get_renderer(name).accepts(scene.kind))

    def _show_recent(self, paths: tuple[str, ...]) -> None:
        self.recent_menu.clear()
        for path in paths:
            act = QAction(Path(path).name, self.window)
            act.setToolTip(path)
            act.triggered.connect(lambda checked=False, p=path: self.commands.open_path(p))
            self.recent_menu.addAction(act)
        self.recent_menu.setEnabled(bool(paths))

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;{v}</td></tr>" for k, v in self.shortcut_help)
        box = QMessageBox(QMessageBox.Icon.Information, "Keyboard and mouse", f"<table>{rows}</table>",
                          QMessageBox.StandardButton.Close, self.window)
        box.setModal(False)
        box.show()
