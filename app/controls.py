"""The controls dock: every knob of the Scene, each emitting ``edited(name, value)`` with the
names of ``renderer.edits.apply_edit``."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QLabel, QPushButton,
                               QScrollArea, QVBoxLayout, QWidget)

from renderer import GAMMA_RANGE, LIGHTING_MODELS, SIGMA_RANGE, Scene
from renderer.edits import SH_PRESETS, light_angles

from .widgets import ColorButton, LogSlider, ValueSlider

RESOLUTIONS = (64, 128, 256, 512, 1024)
HELP = {
    "renderer": "softras: soft silhouettes and depth-blended colour (SoftRas); dibr: hard interior "
                "with a soft halo outside (DIB-R); hard: a plain z-buffer, no geometry gradient",
    "sigma": "Edge sharpness of SoftRas in squared NDC units: larger blurs edges over more pixels "
             "(and spreads gradients further); the edge width in pixels is shown below",
    "gamma": "Depth blending temperature: small shows only the front surface, large makes "
             "surfaces see-through",
    "lighting": "Shading model, the same formulas in the torch renderer and the OpenGL reference",
    "image_size": "Render resolution S (S x S pixels); larger is slower",
    "device": "Where the torch renderer runs",
}


class ControlsPanel(QScrollArea):
    """All scene controls. ``edited`` carries a control name and its new value; ``dragging``
    is True while a slider is held (the window renders a fast preview meanwhile)."""

    edited = Signal(str, object)
    dragging = Signal(bool)
    reset_camera = Signal()

    def __init__(self, scene: Scene, devices: list[str]) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        body = QWidget()
        layout = QVBoxLayout(body)
        self.widgets: dict[str, QWidget] = {}
        st, cam, mat = scene.settings, scene.camera, scene.material
        light_az, light_el = light_angles(scene.lights)

        form = self._group(layout, "Renderer")
        self._combo(form, "renderer", ["softras", "dibr", "hard"], st.renderer)
        self._slider(form, "sigma", LogSlider(*SIGMA_RANGE, st.sigma, HELP["sigma"]))
        self.edge_label = QLabel()
        form.addRow("", self.edge_label)
        self._slider(form, "gamma", LogSlider(*GAMMA_RANGE, st.gamma, HELP["gamma"]))
        self._combo(form, "image_size", [str(r) for r in RESOLUTIONS], str(st.image_size), cast=int,
                    label="resolution")
        self._combo(form, "device", devices, st.device)
        self._check(form, "flat_shading", "flat shading (face normals)", st.flat_shading)
        self._check(form, "double_sided", "double-sided (shade back faces)", st.double_sided)
        self.widgets["background"] = bg = ColorButton(st.background, "Background colour")
        bg.colorChanged.connect(lambda rgb: self.edited.emit("background", tuple(rgb)))
        form.addRow("background", bg)

        form = self._group(layout, "Lighting")
        self._combo(form, "lighting", list(LIGHTING_MODELS), st.lighting)
        self._slider(form, "light_azimuth", ValueSlider(-180, 180, round(light_az), 1, "Light direction: azimuth, degrees"))
        self._slider(form, "light_elevation", ValueSlider(-90, 90, round(light_el), 1, "Light direction: elevation, degrees"))
        self.widgets["light_color"] = lc = ColorButton(tuple(scene.lights.colors[0].tolist()), "Light colour")
        lc.colorChanged.connect(lambda rgb: self.edited.emit("light_color", tuple(rgb)))
        form.addRow("light colour", lc)
        self._slider(form, "ka", ValueSlider(0, 1, float(mat.ka), 0.01, "Ambient coefficient ka"))
        self._slider(form, "kd", ValueSlider(0, 1, float(mat.kd), 0.01, "Diffuse coefficient kd"))
        self._slider(form, "ks", ValueSlider(0, 1, float(mat.ks), 0.01, "Specular coefficient ks (phong)"))
        self._slider(form, "shininess", ValueSlider(1, 256, float(mat.shininess), 1, "Phong exponent"))
        self._combo(form, "sh_preset", list(SH_PRESETS), SH_PRESETS[0], label="SH preset")

        form = self._group(layout, "Camera")
        self._slider(form, "azimuth", ValueSlider(-180, 180, float(cam.azimuth), 0.5, "Orbit azimuth, degrees (0 looks from +Z)"))
        self._slider(form, "elevation", ValueSlider(-89, 89, float(cam.elevation), 0.5, "Orbit elevation, degrees"))
        self._slider(form, "distance", ValueSlider(0.5, 20, float(cam.distance), 0.05, "Distance from the target"))
        self._slider(form, "fov", ValueSlider(5, 120, float(cam.fov), 0.5, "Vertical field of view, degrees"))
        reset = QPushButton("Reset camera")
        reset.clicked.connect(self.reset_camera)
        form.addRow("", reset)
        layout.addStretch(1)
        self.setWidget(body)
        self.show_edge_width(scene)

    def show_edge_width(self, scene: Scene) -> None:
        self.edge_label.setText(f"edge width {scene.settings.edge_width_px():.2f} px")

    def sync(self, scene: Scene) -> None:
        """Show ``scene``'s values without emitting edits (after orbit, reset, load)."""
        cam = scene.camera
        for name in ("azimuth", "elevation", "distance", "fov"):
            self.widgets[name].set_value(float(getattr(cam, name)), emit=False)
        for name in ("ka", "kd", "ks", "shininess"):
            self.widgets[name].set_value(float(getattr(scene.material, name)), emit=False)
        az, el = light_angles(scene.lights)
        self.widgets["light_azimuth"].set_value(round(az), emit=False)
        self.widgets["light_elevation"].set_value(round(el), emit=False)
        self.show_edge_width(scene)

    # --- builders -----------------------------------------------------------------------------
    def _group(self, layout: QVBoxLayout, title: str) -> QFormLayout:
        box = QGroupBox(title)
        form = QFormLayout(box)
        layout.addWidget(box)
        return form

    def _combo(self, form: QFormLayout, name: str, items: list[str], current: str, cast=str, label=None) -> None:
        combo = QComboBox()
        combo.addItems(items)
        combo.setCurrentText(current)
        combo.setToolTip(HELP.get(name, ""))
        combo.currentTextChanged.connect(lambda text: self.edited.emit(name, cast(text)))
        self.widgets[name] = combo
        form.addRow(label or name.replace("_", " "), combo)

    def _check(self, form: QFormLayout, name: str, text: str, value: bool) -> None:
        box = QCheckBox(text)
        box.setChecked(value)
        box.toggled.connect(lambda on: self.edited.emit(name, bool(on)))
        self.widgets[name] = box
        form.addRow("", box)

    def _slider(self, form: QFormLayout, name: str, widget) -> None:
        widget.valueChanged.connect(lambda v: self.edited.emit(name, v))
        widget.sliderPressed.connect(lambda: self.dragging.emit(True))
        widget.sliderReleased.connect(lambda: self.dragging.emit(False))
        self.widgets[name] = widget
        form.addRow(name.replace("_", " "), widget)
