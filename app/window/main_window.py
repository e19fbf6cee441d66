"""The main window: the differentiable render, its OpenGL reference and an analysis pane of the one
``AppModel`` the window holds, with the docks around them. The window composes views of the model
and routes the worker's results to them; every change goes through the model, whose events
reach the views and the live render requests."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QVBoxLayout, QWidget

from renderer import Mesh, OrbitCamera, Scene
from renderer.assets import DEFAULT_ASSET, load_asset
from renderer.errors import describe_error

from ..controls.loss_controls import LossPanel
from ..controls.scene_controls import ControlsPanel
from ..controls.widgets import scrollable
from ..model.app_model import DEFAULT_CAMERA, AppModel
from ..model.jobs import AnalysisResult, scene_key
from ..model.render_work import DEFAULT_SECONDS_PER_PAIR, RenderCost
from ..panes.captions import timing_text
from ..panes.inspector_panel import InspectorPanel
from ..panes.scene_panes import ScenePanes
from ..runs.run_view import RunView
from ..workers.preload import available_devices, preload_modules
from ..workers.render_worker import RenderScheduler
from .banner import Banner
from .export import export_all
from .file_actions import FileActions
from .held_render_bar import HeldRenderBar
from .live_render import LiveRenders
from .menus import Menus, WindowCommands
from .persistence import app_settings, restore_render_timing, save_layout, save_model, save_render_timing
from .preferences import PreferencesDialog

DEFAULT_SIZE = QSize(1560, 860)
SMALLEST_SCREEN = QSize(1024, 700)   # the smallest laptop screen the layout is made for
# (fraction of the window, least px, most px): the left docks' width and the bottom docks' height
LEFT_DOCK = (0.26, 270, 380)
BOTTOM_DOCK = (0.38, 270, 340)       # the scrubber rows, a readable plot and its readout


def _share(length: int, rule: tuple[float, int, int]) -> int:
    fraction, least, most = rule
    return max(least, min(most, round(fraction * length)))


class MainWindow(QMainWindow):
    """The window of ``model`` (built on ``mesh``, default the bundled knot). ``settings``: where
    layout and values persist (default: the user's settings file; tests pass their own)."""

    def __init__(self, mesh: Optional[Mesh] = None, settings: Optional[QSettings] = None,
                 image_size: int = 256, mesh_path: Optional[str] = None) -> None:
        super().__init__()
        preload_modules()                   # before the worker starts: see preload.py
        self.setWindowTitle("diffrender-debugger")
        self.setAcceptDrops(True)
        self.store = settings if settings is not None else app_settings()
        self.devices = available_devices()
        mesh = mesh if mesh is not None else load_asset(DEFAULT_ASSET)
        scene = Scene.default(mesh, image_size=image_size).replace(camera=OrbitCamera(**DEFAULT_CAMERA))
        self.model = model = AppModel(scene=scene, mesh_path=mesh_path)
        self.last_render: Optional[dict] = None     # the worker's latest render (exports read it)

        self.scene_panes = ScenePanes(model)
        self.soft_pane, self.gl_pane, self.analysis_pane = self.scene_panes.panes
        self.panes = self.scene_panes.panes
        self.banner = Banner()
        self.held_bar = HeldRenderBar(model)
        self.panes_widget = QWidget()
        layout = QVBoxLayout(self.panes_widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.held_bar)
        layout.addWidget(self.scene_panes, 1)
        self.setCentralWidget(self.panes_widget)

        self.scheduler = RenderScheduler(self)
        self.scheduler.rendered.connect(self._show_render)
        self.scheduler.analysed.connect(self._show_analysis)
        self.scheduler.error.connect(lambda message: model.report_error(message, source="worker"))
        rate, _ = restore_render_timing(self.store)
        self.live = LiveRenders(model, self.scheduler, RenderCost(rate or DEFAULT_SECONDS_PER_PAIR))
        self.runs = RunView(model, self.scene_panes, self)
        self.files = FileActions(model, self.runs.files, self)
        self.controls = ControlsPanel(model, self.devices)
        self.loss_panel = LossPanel(model, self.files.open_target_dialog)
        self.inspector = InspectorPanel(model)
        self.inspector.face_selected.connect(self.scene_panes.highlight_face)
        self._lay_out_docks()
        self.timings = QLabel()
        self.statusBar().addPermanentWidget(self.timings)
        self.menus = Menus(self, model, self._commands(), self.panes_widget)
        model.events.error.connect(self.show_error)
        model.events.error_cleared.connect(self._clear_error)
        model.events.status.connect(lambda message, ms: self.statusBar().showMessage(message, ms))
        self.fit_to_screen()
        self.live.request()

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)          # saveState/restoreState find docks by name
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _lay_out_docks(self) -> None:
        left, bottom = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
        self.scene_dock = self._dock("Scene", "controls", self.controls, left)
        loss_dock = self._dock("Loss", "loss", scrollable(self.loss_panel), left)
        run_dock = self._dock("Optimize", "run", scrollable(self.runs.panel), left)
        self.tabifyDockWidget(self.scene_dock, loss_dock)
        self.tabifyDockWidget(loss_dock, run_dock)
        self.scene_dock.raise_()                     # the Scene tab is the first one seen
        self.inspector_dock = self._dock("Pixel inspector", "inspector", self.inspector, bottom)
        self.timeline_dock = self._dock("Run timeline", "timeline", self.runs.dock, bottom)
        self.splitDockWidget(self.inspector_dock, self.timeline_dock, Qt.Orientation.Horizontal)
        self.runs.timeline_shown.connect(self.timeline_dock.raise_)

    def fit_to_screen(self) -> None:
        """The default size, or the screen's available area when that is smaller (the window
        never starts larger than the screen), with the docks sized for it."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        size = DEFAULT_SIZE
        if screen is not None:
            size = size.boundedTo(screen.availableGeometry().size())
        self.resize(size)
        self.size_docks(size)

    def size_docks(self, size: QSize) -> None:
        """Dock sizes for a window of ``size``: the left docks and the bottom docks take a share
        within limits, the panes the rest."""
        left = _share(size.width(), LEFT_DOCK)
        bottom = _share(size.height(), BOTTOM_DOCK)
        self.resizeDocks([self.scene_dock], [left], Qt.Orientation.Horizontal)
        rest = max(2, size.width())
        self.resizeDocks([self.inspector_dock, self.timeline_dock], [round(0.36 * rest), round(0.64 * rest)],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.inspector_dock], [bottom], Qt.Orientation.Vertical)

    def _commands(self) -> WindowCommands:
        runs = self.runs.files
        return WindowCommands(
            open_mesh_dialog=self.files.open_mesh_dialog, open_target_dialog=self.files.open_target_dialog,
            open_run_dialog=runs.open_dialog, overlay_run_dialog=runs.overlay_dialog,
            save_run_dialog=runs.save_dialog, animation_dialog=runs.animation_dialog,
            run_mesh_dialog=runs.mesh_dialog, export_dialog=self.export_dialog,
            screenshot_dialog=self.screenshot_dialog, open_path=self.files.open_path,
            fit_views=self.scene_panes.fit_views, zoom_to_pick=self.zoom_to_pick,
            preferences_dialog=self.preferences_dialog, quit=self.close)

    def request_render(self) -> None:
        """Ask again for the model's render and analysis (they are asked for on every change)."""
        self.live.request()

    def preferences_dialog(self) -> None:
        PreferencesDialog(self.model, self.live.cost.seconds_per_pair, self).exec()

    def zoom_to_pick(self) -> None:
        if not self.scene_panes.zoom_to_pick():
            self.statusBar().showMessage("click a pixel first", 4000)

    # --- results and messages --------------------------------------------------------------------
    @property
    def last_rendered_scene(self) -> Optional[Scene]:
        return None if self.last_render is None else self.last_render["scene"]

    def _show_render(self, result: dict) -> None:
        self.last_render = result
        if not result["preview"]:
            self.model.rendered_scene = result["scene"]      # what a cancelled render returns to
        if self.model.playback:
            return                          # the panes show a recorded run (see runs.run_view)
        self.scene_panes.show_render(result)
        self.timings.setText(timing_text(result["times"], None, result["scene"].settings.device))

    def _show_analysis(self, result: AnalysisResult) -> None:
        if self.model.playback:
            return
        self._clear_error("worker")                 # an earlier render or analysis error is resolved
        self.scene_panes.show_analysis(result)
        if result.inspector is not None:
            self.inspector.show_report(result.inspector)
        self.timings.setText(timing_text(result.times, result.times, result.scene.settings.device))

    def show_error(self, message: str, source: str = "") -> None:
        self.banner.show_message(message, source)
        self.statusBar().showMessage(message, 10000)

    def _clear_error(self, source: Optional[str]) -> None:
        if source is None:
            self.banner.hide()
        else:
            self.banner.clear(source)

    # --- export, drops, closing ------------------------------------------------------------------
    def export_to(self, folder: str) -> list[Path]:
        """Write panes, buffers, a screenshot and settings to ``folder``; [] and a message on failure."""
        try:
            written = export_all(folder, self.model, self.scene_panes, self.last_render, self)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.model.report_error(f"export failed: {describe_error(exc)}", source="file")
            return []
        self.model.report_status(f"exported {len(written)} files to {folder}", 8000)
        return written

    def export_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export panes and buffers to folder")
        if folder:
            self.export_to(folder)

    def screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save window screenshot", "window.png", "PNG (*.png)")
        if path and not self.grab().save(path, "PNG"):
            self.model.report_error(f"could not write the screenshot {path}", source="file")

    def _last_render_seconds(self) -> Optional[float]:
        """How long the soft render of the scene in use took, if it was rendered in full."""
        result = self.last_render
        if result is None or result["preview"] or scene_key(result["scene"]) != scene_key(self.model.scene):
            return None
        ms = result["times"].get("soft_ms")
        return None if ms is None else ms / 1e3

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        for url in event.mimeData().urls()[:2]:      # a mesh and a target image may come together
            self.files.open_path(url.toLocalFile())

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        try:
            save_layout(self.store, self)
            save_model(self.store, self.model)
            save_render_timing(self.store, self.live.cost.seconds_per_pair, self._last_render_seconds())
        except Exception as exc:  # noqa: BLE001 - never keep the window from closing
            print(f"diffrender-debugger: could not save settings: {describe_error(exc)}", file=sys.stderr)
        self.runs.shutdown()
        self.scheduler.stop()
        super().closeEvent(event)
