"""The main window: the differentiable render beside the OpenGL reference of the same scene."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QHBoxLayout, QLabel,
                               QMainWindow, QVBoxLayout, QWidget)

from renderer import Mesh, OrbitCamera, Scene
from renderer.assets import DEFAULT_ASSET, load_asset
from renderer.edits import apply_edit
from renderer.errors import describe_error
from renderer.io import SUPPORTED_EXTENSIONS, load_mesh

from .controls import ControlsPanel
from .image_pane import ImagePane
from .render_worker import RenderScheduler

ORBIT_DEG_PER_PX = 0.4
PREVIEW_SIZE = 128          # resolution of the fast preview while a slider is dragged
DEFAULT_CAMERA = dict(azimuth=30.0, elevation=20.0, distance=2.6, fov=60.0)


def available_devices() -> list[str]:
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


class MainWindow(QMainWindow):
    """Holds the one Scene both views show; every change goes through ``set_scene``."""

    def __init__(self, mesh: Optional[Mesh] = None) -> None:
        super().__init__()
        self.setWindowTitle("diffrender-debugger")
        self.setAcceptDrops(True)
        self.soft_pane = ImagePane("differentiable render")
        self.gl_pane = ImagePane("OpenGL reference")
        self.banner = QLabel()
        self.banner.setStyleSheet("color: white; background: #a33; padding: 4px;")
        self.banner.setWordWrap(True)
        self.banner.hide()
        panes = QHBoxLayout()
        panes.addWidget(self.soft_pane)
        panes.addWidget(self.gl_pane)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.banner)
        layout.addLayout(panes, 1)
        self.setCentralWidget(central)
        self._build_menu()
        self.scheduler = RenderScheduler(self)
        self.scheduler.rendered.connect(self._show_result)
        self.scheduler.error.connect(self.show_error)
        for pane in (self.soft_pane, self.gl_pane):
            pane.dragged.connect(self._orbit)
            pane.wheeled.connect(self._zoom)
        mesh = mesh if mesh is not None else load_asset(DEFAULT_ASSET)
        self.scene = Scene.default(mesh, image_size=256)
        self.scene.camera = OrbitCamera(**DEFAULT_CAMERA)
        self.dragging = False
        self.last_rendered_scene: Optional[Scene] = None
        self.controls = ControlsPanel(self.scene, available_devices())
        self.controls.edited.connect(self.edit)
        self.controls.dragging.connect(self._set_dragging)
        self.controls.reset_camera.connect(self._reset_camera)
        dock = QDockWidget("Controls", self)
        dock.setObjectName("controls")
        dock.setWidget(self.controls)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.resize(1400, 700)
        self.request_render()

    # --- model -----------------------------------------------------------------------------
    def set_scene(self, scene: Scene) -> None:
        self.scene = scene
        self.request_render()

    def edit(self, name: str, value) -> None:
        """Apply one named control change (see renderer.edits) and re-render."""
        try:
            scene = apply_edit(self.scene, name, value)
        except ValueError as exc:
            self.show_error(describe_error(exc))
            return
        self.set_scene(scene)
        self.controls.show_edge_width(scene)

    def request_render(self) -> None:
        scene = self.scene.copy()
        if self.dragging and scene.settings.image_size > PREVIEW_SIZE:
            scene = scene.with_settings(image_size=PREVIEW_SIZE)
        self.scheduler.request(scene)

    def _set_dragging(self, on: bool) -> None:
        self.dragging = on
        if not on:
            self.request_render()          # the full-resolution render on release

    def _reset_camera(self) -> None:
        self.set_scene(self.scene.replace(camera=OrbitCamera(**DEFAULT_CAMERA)))
        self.controls.sync(self.scene)

    def open_mesh(self, path: str) -> bool:
        """Load ``path``; on failure show why and keep the current mesh."""
        try:
            mesh = load_mesh(path)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the scene stays as it was
            self.show_error(describe_error(exc))
            return False
        self.banner.hide()
        self.set_scene(self.scene.replace(mesh=mesh))
        self.statusBar().showMessage(f"loaded {Path(path).name}: {mesh.num_faces:,} faces", 5000)
        return True

    def show_error(self, message: str) -> None:
        self.banner.setText(message)
        self.banner.show()
        self.statusBar().showMessage(message, 10000)

    # --- views -------------------------------------------------------------------------------
    def _show_result(self, result: dict) -> None:
        self.last_rendered_scene = result["scene"]
        st = result["scene"].settings
        caption = (f"{st.renderer}  sigma {st.sigma:.1e}  gamma {st.gamma:.1e}  "
                   f"edge {st.edge_width_px():.2f} px")
        self.soft_pane.set_image(result["soft"]["rgb"], caption)
        self.gl_pane.set_image(result["gl"]["rgb"], f"OpenGL reference ({st.lighting})")
        t = result["times"]
        self.statusBar().showMessage(
            f"{result['scene'].mesh.name}: {result['scene'].mesh.num_faces:,} faces   "
            f"{st.renderer} {t['soft_ms']:.0f} ms   GL {t['gl_ms']:.0f} ms   device {st.device}")

    def _orbit(self, dx: float, dy: float) -> None:
        cam = self.scene.camera
        self.set_scene(self.scene.with_camera(
            azimuth=(float(cam.azimuth) - dx * ORBIT_DEG_PER_PX + 180.0) % 360.0 - 180.0,
            elevation=max(-89.0, min(89.0, float(cam.elevation) + dy * ORBIT_DEG_PER_PX))))
        self.controls.sync(self.scene)

    def _zoom(self, steps: float) -> None:
        distance = float(self.scene.camera.distance) * (0.9 ** steps)
        self.set_scene(self.scene.with_camera(distance=max(0.5, min(20.0, distance))))
        self.controls.sync(self.scene)

    # --- files and menus ---------------------------------------------------------------------
    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open mesh...", self, shortcut=QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._open_dialog)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        menu.addAction(open_action)
        menu.addAction(quit_action)

    def _open_dialog(self) -> None:
        patterns = " ".join(f"*{e}" for e in SUPPORTED_EXTENSIONS)
        path, _ = QFileDialog.getOpenFileName(self, "Open mesh", "", f"Meshes ({patterns})")
        if path:
            self.open_mesh(path)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        urls = event.mimeData().urls()
        if urls:
            self.open_mesh(urls[0].toLocalFile())

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.scheduler.stop()
        super().closeEvent(event)


def run_app(mesh_path: Optional[str] = None) -> int:
    """Start the GUI, on ``mesh_path`` or the default asset. A broken start-up file opens the
    default mesh and shows why."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    error = None
    mesh = None
    if mesh_path:
        try:
            mesh = load_mesh(mesh_path)
        except Exception as exc:  # noqa: BLE001
            error = describe_error(exc)
    window = MainWindow(mesh)
    if error:
        window.show_error(error)
    window.show()
    return app.exec()
