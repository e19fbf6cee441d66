"""The main window: the differentiable render, the OpenGL reference and an analysis pane, all of
the one Scene the window holds; every change goes through ``set_scene`` and a worker request."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QLabel, QMainWindow, QSplitter,
                               QVBoxLayout, QWidget)

from renderer import Mesh, OrbitCamera, Scene
from renderer.assets import DEFAULT_ASSET, load_asset
from renderer.errors import describe_error
from renderer.io import SUPPORTED_EXTENSIONS, load_mesh

from .analysis_modes import BY_NAME, DEFAULT_MODE
from .analysis_pane import AnalysisPane
from .controls import ControlsPanel
from .files import export_all, file_kind
from .image_pane import ImagePane
from .inspector_panel import InspectorPanel
from .jobs import AnalysisRequest, RenderJob, TargetSpec
from .loss_controls import LossPanel
from .menus import Menus
from .persistence import MAX_RECENT, app_settings, save_window
from .preload import preload_modules
from .render_worker import RenderScheduler
from .run_view import RunView
from renderer.edits import apply_edit, dragged_light_angles
from renderer.images import TARGET_IMAGE_EXTENSIONS as IMAGE_EXTENSIONS, read_target_image as read_target_file
from .window_parts import Banner, caption, timing_text

ORBIT_DEG_PER_PX = 0.4
PREVIEW_SIZE = 128          # resolution of the fast preview while a slider or the camera is dragged
DEFAULT_CAMERA = dict(azimuth=30.0, elevation=20.0, distance=2.6, fov=60.0)


def available_devices() -> list[str]:
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


class MainWindow(QMainWindow):
    """Holds the one Scene all three panes show. ``settings``: where layout and values persist
    (default: the user's settings file; tests pass their own)."""

    def __init__(self, mesh: Optional[Mesh] = None, settings: Optional[QSettings] = None,
                 image_size: int = 256, mesh_path: Optional[str] = None) -> None:
        super().__init__()
        preload_modules()                   # before the worker starts: see preload.py
        self.setWindowTitle("diffrender-debugger")
        self.setAcceptDrops(True)
        self.store = settings if settings is not None else app_settings()
        self.devices = available_devices()
        self.mesh_path = mesh_path
        self.recent_files: list[str] = []
        self.target_image = None            # (H, W[, C]) float32 read from a file
        self.target_image_name = ""
        self.target_image_path: Optional[str] = None
        self.pick: Optional[tuple[float, float]] = None
        self._influence_zoomed = False
        self.dragging = False
        self.last_rendered_scene: Optional[Scene] = None
        self.last_render: Optional[dict] = None
        mesh = mesh if mesh is not None else load_asset(DEFAULT_ASSET)
        self.scene = Scene.default(mesh, image_size=image_size)
        self.scene.camera = OrbitCamera(**DEFAULT_CAMERA)

        self.soft_pane = ImagePane("differentiable render")
        self.gl_pane = ImagePane("OpenGL reference")
        self.analysis_pane = AnalysisPane()
        self.panes = (self.soft_pane, self.gl_pane, self.analysis_pane)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        for pane in self.panes:
            splitter.addWidget(pane)
            pane.dragged.connect(self._on_drag)
            pane.drag_started.connect(lambda: self._set_dragging(True))
            pane.drag_finished.connect(lambda: self._set_dragging(False))
            pane.wheeled.connect(self.zoom)
            pane.picked.connect(self.pick_pixel)
            pane.magnified.connect(self._magnify)     # the three views stay aligned
            pane.fitted.connect(self.fit_views)
        self.banner = Banner()
        self.panes_widget = QWidget()
        layout = QVBoxLayout(self.panes_widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(self.panes_widget)

        self.scheduler = RenderScheduler(self)
        self.scheduler.rendered.connect(self._show_render)
        self.scheduler.analysed.connect(self._show_analysis)
        self.scheduler.error.connect(lambda message: self.show_error(message, source="worker"))
        self.controls = ControlsPanel(self.scene, self.devices)
        self.controls.edited.connect(self.edit)
        self.controls.dragging.connect(self._set_dragging)
        self.controls.reset_camera.connect(self.reset_camera)
        self.loss_panel = LossPanel(DEFAULT_CAMERA | {"azimuth": DEFAULT_CAMERA["azimuth"] + 15.0})
        self.loss_panel.changed.connect(self.request_render)
        self.loss_panel.choose_image.connect(self.open_target_dialog)
        self.loss_panel.copy_pose.clicked.connect(self._copy_pose)
        self.inspector = InspectorPanel()
        self.inspector.face_selected.connect(self._highlight_face)
        self.analysis_pane.mode_changed.connect(self.set_analysis_mode)
        scene_dock = self._dock("Scene", "controls", self.controls, Qt.DockWidgetArea.LeftDockWidgetArea)
        loss_dock = self._dock("Loss and gradients", "loss", self.loss_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(scene_dock, loss_dock)
        scene_dock.raise_()
        inspector_dock = self._dock("Pixel inspector", "inspector", self.inspector, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.resizeDocks([scene_dock], [360], Qt.Orientation.Horizontal)
        self.resizeDocks([inspector_dock], [190], Qt.Orientation.Vertical)
        self.timings = QLabel()
        self.statusBar().addPermanentWidget(self.timings)
        self.runs = RunView(self)           # the run panel and timeline docks, playback of runs
        self.menus = Menus(self)
        self.menus.check_mode(DEFAULT_MODE)
        self.menus.refresh_recent()
        self.resize(1560, 860)
        self.request_render()

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)          # saveState/restoreState find docks by name
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # --- model -----------------------------------------------------------------------------
    def set_scene(self, scene: Scene) -> None:
        self.scene = scene
        self.runs.leave_playback()          # an edited scene is shown live, not the recorded run
        self.request_render()

    def edit(self, name: str, value) -> None:
        """Apply one named control change (see renderer.edits) and re-render."""
        try:
            scene = apply_edit(self.scene, name, value)
        except (ValueError, TypeError) as exc:
            self.show_error(describe_error(exc))
            self.controls.sync(self.scene)          # the control shows the value actually in use
            return
        self.set_scene(scene)
        if name in ("lighting", "sh_preset", "renderer", "image_size"):
            self.controls.sync(scene)               # these change other controls' values or meaning
        else:
            self.controls.show_edge_width(scene)

    def analysis_request(self) -> AnalysisRequest:
        panel = self.loss_panel
        target = TargetSpec(kind=panel.target_kind(), pose=panel.pose(), image=self.target_image,
                            image_name=self.target_image_name)
        return AnalysisRequest(mode=self.analysis_pane.mode(), loss=panel.loss(), param=panel.param(),
                               target=target, pick=self.pick)

    def request_render(self) -> None:
        scene = self.scene.copy()
        preview = self.dragging and scene.settings.image_size > PREVIEW_SIZE
        if preview:
            scene = scene.with_settings(image_size=PREVIEW_SIZE)
        self.scheduler.request(RenderJob(scene, self.analysis_request(), preview=self.dragging))

    def _set_dragging(self, on: bool) -> None:
        self.dragging = on
        if not on:
            self.request_render()          # the full-resolution render and analysis on release

    def set_analysis_mode(self, name: str) -> None:
        if name not in BY_NAME:
            raise ValueError(f"unknown analysis mode {name!r}")
        self.analysis_pane.set_mode(name, emit=False)
        self.menus.check_mode(name)
        if name != "influence" and self._influence_zoomed:
            self.analysis_pane.fit_view()
            self._influence_zoomed = False
        self.request_render()

    def scale_sigma(self, factor: float) -> None:
        from renderer import SIGMA_RANGE

        sigma = min(SIGMA_RANGE[1], max(SIGMA_RANGE[0], self.scene.settings.sigma * factor))
        self.edit("sigma", float(f"{sigma:.3g}"))
        self.controls.sync(self.scene)

    def reset_camera(self) -> None:
        self.set_scene(self.scene.replace(camera=OrbitCamera(**DEFAULT_CAMERA)))
        self.controls.sync(self.scene)

    def orbit_by(self, d_azimuth: float, d_elevation: float) -> None:
        cam = self.scene.camera
        self.set_scene(self.scene.with_camera(
            azimuth=(float(cam.azimuth) + d_azimuth + 180.0) % 360.0 - 180.0,
            elevation=max(-89.0, min(89.0, float(cam.elevation) + d_elevation))))
        self.controls.sync(self.scene)

    def zoom(self, steps: float) -> None:
        distance = float(self.scene.camera.distance) * (0.9 ** steps)
        self.set_scene(self.scene.with_camera(distance=max(0.5, min(20.0, distance))))
        self.controls.sync(self.scene)

    def _on_drag(self, dx: float, dy: float, shift: bool) -> None:
        if shift:                      # Shift+drag moves the light the way the camera orbits
            az, el = dragged_light_angles(self.scene, dx * ORBIT_DEG_PER_PX, -dy * ORBIT_DEG_PER_PX)
            self.edit("light_angles", (az, el))
            self.controls.sync(self.scene)
        else:
            self.orbit_by(-dx * ORBIT_DEG_PER_PX, dy * ORBIT_DEG_PER_PX)

    def _copy_pose(self) -> None:
        cam = self.scene.camera
        self.loss_panel.set_values(pose={n: float(getattr(cam, n)) for n in ("azimuth", "elevation", "distance")})
        self.request_render()

    def pick_pixel(self, u: float, v: float) -> None:
        """Inspect the pixel at fractions (u across, v down) of the image."""
        self.pick = (u, v)
        for pane in self.panes:
            pane.set_marker(self.pick)
        self.inspector.clear("inspecting...")
        self.request_render()

    def clear_pick(self) -> None:
        self.pick = None
        for pane in self.panes:
            pane.set_marker(None)
        self.gl_pane.set_overlays()
        self.gl_pane.set_selected_face(None)
        self.inspector.clear()
        self.request_render()

    def _magnify(self, factor: float, u: float, v: float) -> None:
        for pane in self.panes:
            pane.magnify(factor, u, v)

    def zoom_to_pick(self) -> None:
        """Magnify every pane to the neighbourhood of the picked pixel (the outlined faces)."""
        if self.pick is None:
            self.statusBar().showMessage("click a pixel first", 4000)
            return
        half = max(12.0, 3.0 * self.scene.settings.edge_width_px()) / self.scene.settings.image_size
        for pane in self.panes:
            pane.zoom_to(*self.pick, half)

    def fit_views(self) -> None:
        for pane in self.panes:
            pane.fit_view()

    # --- results ---------------------------------------------------------------------------
    def _show_render(self, result: dict) -> None:
        scene = result["scene"]
        self.last_rendered_scene, self.last_render = scene, result
        if self.runs.playback:
            return                          # the panes show a recorded run (see run_view)
        self.soft_pane.set_image(result["soft"]["rgb"], caption(scene, f"differentiable render: {scene.settings.renderer}"))
        self.gl_pane.set_image(result["gl"]["rgb"], caption(scene, f"OpenGL reference ({scene.settings.lighting})"))
        if result["preview"]:
            self.gl_pane.set_overlays()         # the outlined faces have moved; back on release
            if not BY_NAME[self.analysis_pane.mode()].cheap:
                self.analysis_pane.mark_stale("updates on release")
        self.timings.setText(timing_text(result["times"], None, scene.settings.device))

    def _show_analysis(self, result) -> None:
        if self.runs.playback:
            return
        scene = result.scene
        self.banner.clear("worker")                 # an earlier render or analysis error is resolved
        label = BY_NAME[result.request.mode].label
        self.analysis_pane.show_result(result, caption(scene, f"analysis: {label}"))
        size = scene.settings.image_size
        if result.inspector is not None:
            self.inspector.show_report(result.inspector)
            self.gl_pane.set_overlays(size, outlines=result.face_outlines)
        if result.request.mode == "influence" and result.request.pick is not None:
            # the faces that reach one pixel span a few pixels: show that neighbourhood
            half = max(8.0, 2.0 * scene.settings.edge_width_px() + 4.0) / size
            self.analysis_pane.zoom_to(*result.request.pick, half)
            self._influence_zoomed = True
        self.timings.setText(timing_text(result.times, result.times, scene.settings.device))

    def _highlight_face(self, row: int) -> None:
        result = self.analysis_pane.last_result
        if row < 0 or result is None or result.face_outlines is None or row >= len(result.face_outlines):
            self.gl_pane.set_selected_face(None)
            return
        self.gl_pane.set_selected_face(result.face_outlines[row], result.scene.settings.image_size)

    def show_error(self, message: str, source: str = "") -> None:
        self.banner.show_message(message, source)
        self.statusBar().showMessage(message, 10000)

    # --- files -----------------------------------------------------------------------------
    def open_path(self, path: str) -> bool:
        """Open a mesh or a target image, by its extension."""
        if Path(path).suffix.lower() == ".npz":
            return self.runs.files.open_run(path)
        return self.open_target_image(path) if file_kind(path) == "image" else self.open_mesh(path)

    def open_mesh(self, path: str) -> bool:
        """Load ``path``; on failure show why and keep the current mesh."""
        try:
            mesh = load_mesh(path)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the scene stays as it was
            self.show_error(describe_error(exc))
            return False
        self.banner.hide()
        self.mesh_path = str(Path(path).resolve())
        self.remember(self.mesh_path)
        self.clear_pick()
        self.set_scene(self.scene.replace(shape=mesh))
        notes = "; ".join(mesh.warnings)
        self.statusBar().showMessage(f"loaded {Path(path).name}: {mesh.num_faces:,} faces"
                                     + (f" ({notes})" if notes else ""), 8000)
        return True

    def open_target_image(self, path: str, add_to_recent: bool = True) -> bool:
        """Use the image at ``path`` as the loss target; on failure show why and keep the target."""
        try:
            image = read_target_file(path)
        except ValueError as exc:
            self.show_error(describe_error(exc))
            return False
        self.banner.hide()
        self.target_image, self.target_image_name = image, Path(path).name
        self.target_image_path = str(Path(path).resolve())
        if add_to_recent:
            self.remember(self.target_image_path)
        self.loss_panel.set_image_name(f"{Path(path).name} ({image.shape[1]}x{image.shape[0]})")
        self.loss_panel.set_values(kind="image")
        self.request_render()
        return True

    def remember(self, path: str) -> None:
        """Put ``path`` first in File > Recent files."""
        self.recent_files = [path] + [p for p in self.recent_files if p != path][:MAX_RECENT - 1]
        self.menus.refresh_recent()

    def open_mesh_dialog(self) -> None:
        patterns = " ".join(f"*{e}" for e in SUPPORTED_EXTENSIONS)
        path, _ = QFileDialog.getOpenFileName(self, "Open mesh", "", f"Meshes ({patterns})")
        if path:
            self.open_mesh(path)

    def open_target_dialog(self) -> None:
        patterns = " ".join(f"*{e}" for e in IMAGE_EXTENSIONS)
        path, _ = QFileDialog.getOpenFileName(self, "Open target image", "", f"Images ({patterns})")
        if path:
            self.open_target_image(path)

    def export_to(self, folder: str) -> list[Path]:
        """Write panes, buffers, a screenshot and settings to ``folder``; [] and a message on failure."""
        try:
            written = export_all(self, folder)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.show_error(f"export failed: {describe_error(exc)}")
            return []
        self.statusBar().showMessage(f"exported {len(written)} files to {folder}", 8000)
        return written

    def export_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export panes and buffers to folder")
        if folder:
            self.export_to(folder)

    def screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save window screenshot", "window.png", "PNG (*.png)")
        if path and not self.grab().save(path, "PNG"):
            self.show_error(f"could not write the screenshot {path}")

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        for url in event.mimeData().urls()[:2]:      # a mesh and a target image may come together
            self.open_path(url.toLocalFile())

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        try:
            save_window(self)
        except Exception as exc:  # noqa: BLE001 - never keep the window from closing
            print(f"diffrender-debugger: could not save settings: {describe_error(exc)}", file=sys.stderr)
        self.runs.shutdown()
        self.scheduler.stop()
        super().closeEvent(event)


def run_app(mesh_path: Optional[str] = None, run=None) -> int:
    """Start the GUI (see ``startup.create_window``) and run it until the window closes;
    ``run``: (Timeline, file path) of a recorded run to show."""
    from .startup import create_window

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = create_window(mesh_path)
    if run is not None:
        window.runs.files.show_loaded(*run)

    def report(kind, exc, tb) -> None:
        # a bug in a slot must not end the session: say what happened, keep the window
        window.show_error(describe_error(exc))
        if os.environ.get("DRD_DEBUG"):
            sys.__excepthook__(kind, exc, tb)

    sys.excepthook = report
    window.show()
    return app.exec()
