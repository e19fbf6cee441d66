"""The scene controls dock: every knob of the Scene, each emitting ``edited(name, value)`` with the
names of ``renderer.edits.apply_edit``."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QLabel, QPushButton,
                               QScrollArea, QVBoxLayout, QWidget)

from renderer import GAMMA_RANGE, LIGHTING_MODELS, SIGMA_RANGE, Scene
from renderer.edits import SH_PRESETS, light_angles

from .sh_table import ShTable
from .widgets import ColorButton, LogSlider, ValueSlider

RESOLUTIONS = (64, 128, 256, 512, 1024)
HELP = {
    "renderer": "softras: soft silhouettes and depth-blended colour (SoftRas); dibr: sharp interior "
                "with a soft halo outside (DIB-R); hard: a plain z-buffer, which has no gradient "
                "for moving edges (Ctrl+Shift+1/2/3)",
    "sigma": "How blurry the edges are ([ and ] step it). Larger spreads each edge, and its gradient, "
             "over more pixels but biases the image; smaller is sharper until the gradient vanishes. "
             "The edge width in pixels is shown below",
    "gamma": "How see-through the surfaces are. Small: only the front surface shows; large: hidden "
             "surfaces blend in (and receive gradient)",
    "image_size": "Render resolution S (S x S pixels). Larger is sharper and slower",
    "device": "Where the differentiable renderer runs (cuda appears when a GPU is present)",
    "flat_shading": "Shade each triangle with its own normal (faceted) instead of smooth vertex normals",
    "double_sided": "Shade the back faces too, instead of hiding them",
    "background": "Colour behind the mesh, in both renders",
    "lighting": "Shading model, the same formulas in the differentiable and the OpenGL renderer: "
                "none (flat colour), lambertian (matte), phong (matte + highlight), sh (soft "
                "environment light)",
    "light_azimuth": "Where the light comes from, around the vertical axis (degrees); Shift+drag in "
                     "a pane moves it",
    "light_elevation": "Height of the light above the horizon (degrees); Shift+drag moves it",
    "light_color": "Colour of the directional light",
    "ka": "Ambient: how bright surfaces facing away from the light still are",
    "kd": "Diffuse: how much surfaces facing the light brighten",
    "ks": "Specular: strength of the shiny highlight (phong only)",
    "shininess": "Highlight tightness: larger gives a smaller, sharper highlight (phong only)",
    "sh_preset": "A starting point for the nine spherical-harmonics light coefficients (sh only)",
    "azimuth": "Orbit the camera around the vertical axis (degrees; 0 looks from +Z). Drag in any "
               "pane, or Left/Right",
    "elevation": "Orbit the camera up or down (degrees). Drag in any pane, or Up/Down",
    "distance": "Distance from the camera to the mesh centre. The mouse wheel, or +/-",
    "fov": "Vertical field of view in degrees: larger is wider-angle",
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
        self._color(form, "background", st.background)

        form = self._group(layout, "Lighting")
        self._combo(form, "lighting", list(LIGHTING_MODELS), st.lighting)
        self._slider(form, "light_azimuth", ValueSlider(-180, 180, round(light_az), 1))
        self._slider(form, "light_elevation", ValueSlider(-90, 90, round(light_el), 1))
        self._color(form, "light_color", tuple(scene.lights.colors[0].tolist()), "light colour")
        self._slider(form, "ka", ValueSlider(0, 1, float(mat.ka), 0.01))
        self._slider(form, "kd", ValueSlider(0, 1, float(mat.kd), 0.01))
        self._slider(form, "ks", ValueSlider(0, 1, float(mat.ks), 0.01))
        self._slider(form, "shininess", ValueSlider(1, 256, float(mat.shininess), 1))
        self._combo(form, "sh_preset", list(SH_PRESETS), SH_PRESETS[0], label="SH preset")
        self.sh_table = ShTable(scene.lights.sh.detach().cpu().numpy())
        self.sh_table.coefficient_changed.connect(lambda k, c, v: self.edited.emit("sh_coeff", (k, c, v)))
        self.widgets["sh_coeffs"] = self.sh_table
        form.addRow("SH coefficients", self.sh_table)

        form = self._group(layout, "Camera")
        self._slider(form, "azimuth", ValueSlider(-180, 180, float(cam.azimuth), 0.5))
        self._slider(form, "elevation", ValueSlider(-89, 89, float(cam.elevation), 0.5))
        self._slider(form, "distance", ValueSlider(0.5, 20, float(cam.distance), 0.05))
        self._slider(form, "fov", ValueSlider(5, 120, float(cam.fov), 0.5))
        reset = QPushButton("Reset camera")
        reset.setToolTip("Back to the starting view (R)")
        reset.clicked.connect(self.reset_camera)
        form.addRow("", reset)
        layout.addStretch(1)
        self.setWidget(body)
        self.sync(scene)

    def show_edge_width(self, scene: Scene) -> None:
        st = scene.settings
        text = f"edge width {st.edge_width_px():.2f} px at {st.image_size} px"
        if st.renderer != "softras":
            text += " (sigma acts on softras only)"
        self.edge_label.setText(text)

    def sync(self, scene: Scene) -> None:
        """Show ``scene``'s values without emitting edits (after orbit, reset, load, restore)."""
        st, cam, mat = scene.settings, scene.camera, scene.material
        w = self.widgets
        for name in ("renderer", "lighting", "device"):
            self._quiet(w[name], lambda c, v=getattr(st, name): c.setCurrentText(v))
        self._quiet(w["image_size"], lambda c: c.setCurrentText(str(st.image_size)))
        self._quiet(w["flat_shading"], lambda c: c.setChecked(st.flat_shading))
        self._quiet(w["double_sided"], lambda c: c.setChecked(st.double_sided))
        w["sigma"].set_value(st.sigma, emit=False)
        w["gamma"].set_value(st.gamma, emit=False)
        w["background"].set_rgb(st.background, emit=False)
        w["light_color"].set_rgb(tuple(scene.lights.colors[0].tolist()), emit=False)
        for name in ("azimuth", "elevation", "distance", "fov"):
            w[name].set_value(float(getattr(cam, name)), emit=False)
        for name in ("ka", "kd", "ks", "shininess"):
            w[name].set_value(float(getattr(mat, name)), emit=False)
        az, el = light_angles(scene.lights)
        w["light_azimuth"].set_value(round(az), emit=False)
        w["light_elevation"].set_value(round(el), emit=False)
        self.sh_table.set_coefficients(scene.lights.sh.detach().cpu().numpy())
        self._enable_for_lighting(st.lighting)
        self.show_edge_width(scene)

    def _enable_for_lighting(self, model: str) -> None:
        """Grey out the knobs the lighting model does not read."""
        uses = {"light_azimuth": model in ("lambertian", "phong"), "light_elevation": model in ("lambertian", "phong"),
                "light_color": model in ("lambertian", "phong"), "ka": model in ("lambertian", "phong"),
                "kd": model in ("lambertian", "phong"), "ks": model == "phong", "shininess": model == "phong",
                "sh_preset": model == "sh", "sh_coeffs": model == "sh"}
        for name, on in uses.items():
            self.widgets[name].setEnabled(on)

    # --- builders -----------------------------------------------------------------------------
    @staticmethod
    def _quiet(widget: QWidget, action: Callable[[QWidget], None]) -> None:
        widget.blockSignals(True)
        action(widget)
        widget.blockSignals(False)

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
        box.setToolTip(HELP.get(name, ""))
        box.toggled.connect(lambda on: self.edited.emit(name, bool(on)))
        self.widgets[name] = box
        form.addRow("", box)

    def _color(self, form: QFormLayout, name: str, rgb: tuple, label=None) -> None:
        button = ColorButton(rgb, HELP.get(name, ""))
        button.colorChanged.connect(lambda value: self.edited.emit(name, tuple(value)))
        self.widgets[name] = button
        form.addRow(label or name.replace("_", " "), button)

    def _slider(self, form: QFormLayout, name: str, widget) -> None:
        widget.setToolTip(HELP.get(name, ""))
        widget.valueChanged.connect(lambda v: self.edited.emit(name, v))
        widget.sliderPressed.connect(lambda: self.dragging.emit(True))
        widget.sliderReleased.connect(lambda: self.dragging.emit(False))
        self.widgets[name] = widget
        form.addRow(name.replace("_", " "), widget)
