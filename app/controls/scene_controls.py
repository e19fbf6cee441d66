"""The scene controls dock: every knob of the Scene, a view of ``model.scene``. A knob writes
through ``model.edit(name, value)`` (the names of ``renderer.edits.apply_edit``); every scene
change, wherever it comes from (a drag in a pane, a shortcut, a restore), is shown back here.
Knobs the renderer or the lighting model does not read are disabled, and their tooltip says why."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QFrame, QGroupBox, QLabel, QPushButton,
                               QScrollArea, QVBoxLayout, QWidget)

from renderer import GAMMA_RANGE, LIGHTING_MODELS, SIGMA_RANGE, Scene
from renderer.edits import SH_PRESETS, light_angles
from renderer.registry import renderer_names, renderers

from ..model.app_model import AppModel
from .sh_table import ShTable
from .widgets import ColorButton, LogSlider, ValueSlider, compact_combo, guard_wheel

RESOLUTIONS = (64, 128, 256, 512, 1024)
RENDERER_SETTINGS = ("sigma", "gamma")     # knobs that only some renderers read (RendererSpec.uses)
LIGHTING_USES = {"light_azimuth": ("lambertian", "phong"), "light_elevation": ("lambertian", "phong"),
                 "light_color": ("lambertian", "phong"), "ka": ("lambertian", "phong"),
                 "kd": ("lambertian", "phong"), "ks": ("phong",), "shininess": ("phong",),
                 "sh_preset": ("sh",), "sh_coeffs": ("sh",)}
HELP = {
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
    """All scene controls of ``model``; ``devices``: the choices of the device combo."""

    def __init__(self, model: AppModel, devices: Sequence[str]) -> None:
        super().__init__()
        self.model = model
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        # scroll down, never sideways: every row shrinks to the dock's width instead
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        layout = QVBoxLayout(body)
        self.widgets: dict[str, QWidget] = {}
        scene = model.scene
        st, cam, mat = scene.settings, scene.camera, scene.material
        light_az, light_el = light_angles(scene.lights)

        form = self._group(layout, "Renderer")
        names = renderer_names(representation=scene.kind, differentiable=True)
        self._combo(form, "renderer", names, st.renderer)
        self.widgets["renderer"].setToolTip(renderer_help(scene.kind))
        self._slider(form, "sigma", LogSlider(*SIGMA_RANGE, st.sigma, HELP["sigma"]))
        self.edge_label = QLabel()
        self.edge_label.setWordWrap(True)
        form.addRow("", self.edge_label)
        self._slider(form, "gamma", LogSlider(*GAMMA_RANGE, st.gamma, HELP["gamma"]))
        self._combo(form, "image_size", [str(r) for r in RESOLUTIONS], str(st.image_size), cast=int,
                    label="resolution")
        self._combo(form, "device", list(devices), st.device)
        self._check(form, "flat_shading", "flat shading", st.flat_shading)
        self._check(form, "double_sided", "double-sided", st.double_sided)
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
        self.sh_table.coefficient_changed.connect(lambda k, c, v: model.edit("sh_coeff", (k, c, v)))
        self.widgets["sh_coeffs"] = self.sh_table
        form.addRow("SH coefficients", self.sh_table)

        form = self._group(layout, "Camera")
        self._slider(form, "azimuth", ValueSlider(-180, 180, float(cam.azimuth), 0.5))
        self._slider(form, "elevation", ValueSlider(-89, 89, float(cam.elevation), 0.5))
        self._slider(form, "distance", ValueSlider(0.5, 20, float(cam.distance), 0.05))
        self._slider(form, "fov", ValueSlider(5, 120, float(cam.fov), 0.5))
        reset = QPushButton("Reset camera")
        reset.setToolTip("Back to the starting view (R)")
        reset.clicked.connect(model.reset_camera)
        form.addRow(reset)
        layout.addStretch(1)
        self.setWidget(body)
        guard_wheel(self)
        self._shown: Scene | None = None
        model.events.scene.connect(self._show_scene)
        self._show_scene(scene)

    # --- the model's scene, shown ---------------------------------------------------------------
    def _show_scene(self, scene: Scene) -> None:
        """Show ``scene``'s values without writing them back. Edits replace only the part of the
        scene they change, so only the widgets of replaced parts are looked at (a camera drag
        costs four sliders, not the whole dock); the same scene announced again (a refused edit)
        is shown in full. Only widgets that show another value are touched."""
        shown, self._shown = self._shown, scene
        full = shown is None or shown is scene
        if full or scene.settings is not shown.settings:
            self._show_settings(scene)
        if full or scene.camera is not shown.camera:
            self._show_values({n: float(getattr(scene.camera, n)) for n in ("azimuth", "elevation", "distance", "fov")})
        if full or scene.material is not shown.material:
            self._show_values({n: float(getattr(scene.material, n)) for n in ("ka", "kd", "ks", "shininess")})
        if full or scene.lights is not shown.lights:
            self._show_lights(scene)

    def _show_values(self, values: dict[str, float]) -> None:
        for name, value in values.items():
            if self.widgets[name].value() != value:
                self.widgets[name].set_value(value, emit=False)

    def _show_settings(self, scene: Scene) -> None:
        st, w = scene.settings, self.widgets
        for name in ("renderer", "lighting", "device"):
            self._quiet(w[name], lambda c, v=getattr(st, name): c.setCurrentText(v))
        self._quiet(w["image_size"], lambda c: c.setCurrentText(str(st.image_size)))
        self._quiet(w["flat_shading"], lambda c: c.setChecked(st.flat_shading))
        self._quiet(w["double_sided"], lambda c: c.setChecked(st.double_sided))
        self._show_values({"sigma": st.sigma, "gamma": st.gamma})
        if tuple(w["background"].rgb) != tuple(float(c) for c in st.background):
            w["background"].set_rgb(st.background, emit=False)
        self._enable_for(scene)

    def _show_lights(self, scene: Scene) -> None:
        az, el = light_angles(scene.lights)
        self._show_values({"light_azimuth": round(az), "light_elevation": round(el)})
        rgb = tuple(float(c) for c in scene.lights.colors[0].tolist())
        if tuple(self.widgets["light_color"].rgb) != rgb:
            self.widgets["light_color"].set_rgb(rgb, emit=False)
        sh = scene.lights.sh.detach().cpu().numpy()
        if not np.array_equal(self.sh_table.coefficients(), np.asarray(sh, np.float64)):
            self.sh_table.set_coefficients(sh)

    def _enable_for(self, scene: Scene) -> None:
        """Disable the knobs the renderer or the lighting model does not read, saying why."""
        st = scene.settings
        spec = self.model.renderer_spec
        for name in RENDERER_SETTINGS:
            used = name in spec.uses
            users = [s.name for s in renderers(scene.kind, differentiable=True) if name in s.uses]
            self.widgets[name].setEnabled(used)
            self.widgets[name].setToolTip(HELP[name] if used else
                                          f"The {spec.name} renderer does not read {name}; "
                                          f"{', '.join(users) or 'no renderer'} does.\n\n{HELP[name]}")
        for name, models in LIGHTING_USES.items():
            self.widgets[name].setEnabled(st.lighting in models)
        width = spec.edge_width_px(st)
        self.edge_label.setText(f"edge width {width:.2f} px at {st.image_size} px" if width > 0
                                else f"{spec.name}: hard edges, no soft band")

    # --- builders -----------------------------------------------------------------------------
    @staticmethod
    def _quiet(widget: QWidget, action: Callable[[QWidget], None]) -> None:
        widget.blockSignals(True)
        action(widget)
        widget.blockSignals(False)

    def _group(self, layout: QVBoxLayout, title: str) -> QFormLayout:
        box = QGroupBox(title)
        form = QFormLayout(box)
        # a long label wraps above its field instead of pushing the field out of a narrow dock
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        layout.addWidget(box)
        return form

    def _combo(self, form: QFormLayout, name: str, items: list[str], current: str, cast=str, label=None) -> None:
        combo = compact_combo(QComboBox())
        combo.addItems(items)
        combo.setCurrentText(current)
        combo.setToolTip(HELP.get(name, ""))
        combo.currentTextChanged.connect(lambda text: self.model.edit(name, cast(text)))
        self.widgets[name] = combo
        form.addRow(label or name.replace("_", " "), combo)

    def _check(self, form: QFormLayout, name: str, text: str, value: bool) -> None:
        box = QCheckBox(text)
        box.setChecked(value)
        box.setToolTip(HELP.get(name, ""))
        box.toggled.connect(lambda on: self.model.edit(name, bool(on)))
        self.widgets[name] = box
        form.addRow(box)                      # the whole row: its text is its label

    def _color(self, form: QFormLayout, name: str, rgb: tuple, label=None) -> None:
        button = ColorButton(rgb, HELP.get(name, ""))
        button.colorChanged.connect(lambda value: self.model.edit(name, tuple(value)))
        self.widgets[name] = button
        form.addRow(label or name.replace("_", " "), button)

    def _slider(self, form: QFormLayout, name: str, widget) -> None:
        widget.setToolTip(HELP.get(name, ""))
        widget.valueChanged.connect(lambda v: self.model.edit(name, v))
        widget.sliderPressed.connect(lambda: setattr(self.model, "dragging", True))
        widget.sliderReleased.connect(lambda: setattr(self.model, "dragging", False))
        self.widgets[name] = widget
        form.addRow(name.replace("_", " "), widget)


def renderer_help(kind: str) -> str:
    """The renderer combo's tooltip: each registered renderer in one line, and its shortcut."""
    lines = [f"{s.name}: {s.description}" for s in renderers(kind, differentiable=True)]
    return "\n".join(lines) + "\n(Ctrl+Shift+1, 2, ... in this order)"
