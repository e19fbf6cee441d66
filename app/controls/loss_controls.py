"""The loss dock: which loss, against which target, and the parameter theta of dI/dtheta; a view
of the model's ``loss``, ``target_kind``, ``target_pose``, ``target_image`` and ``param``."""
from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QLabel, QPushButton, QVBoxLayout,
                               QWidget)

WRAP = QFormLayout.RowWrapPolicy.WrapLongRows      # a narrow dock puts a field under its label

from ..model.app_model import AppModel
from ..model.jobs import TARGET_KINDS, TARGET_LABELS, TargetImage
from ..model.modes import LOSS_CHOICES, PARAM_CHOICES
from .widgets import ValueSlider, compact_combo

POSE_SLIDERS = {"azimuth": (-180, 180, 0.5), "elevation": (-89, 89, 0.5), "distance": (0.5, 20, 0.05)}
HELP = {
    "loss": "What the optimisation would minimise: silhouette = 1 - IoU of the coverage masks; "
            "silhouette-mse = mean squared coverage error; l1 / l2 = photometric colour error",
    "target": "The image the render is compared with: the OpenGL reference seen from another camera "
              "pose (set below), an image file (Ctrl+T), or the current reference itself, which "
              "leaves only the bias that soft rasterization adds",
    "param": "The scalar parameter theta of the dI/dtheta views: a camera or light angle, a material "
             "coefficient, or one vertex coordinate typed as vertex:INDEX:x|y|z",
    "pose": "The target camera's {name}; the target is the 4x supersampled OpenGL render from there",
}


class LossPanel(QWidget):
    """The loss controls of ``model``; ``choose_image()`` is called when the user asks for a
    target image file (the window's file dialog)."""

    def __init__(self, model: AppModel, choose_image: Callable[[], None]) -> None:
        super().__init__()
        self.model = model
        layout = QVBoxLayout(self)
        box = QGroupBox("Loss and target")
        form = QFormLayout(box)
        form.setRowWrapPolicy(WRAP)
        self.loss_combo = compact_combo(QComboBox())
        self.loss_combo.addItems(LOSS_CHOICES)
        self.loss_combo.setToolTip(HELP["loss"])
        self.loss_combo.currentTextChanged.connect(lambda text: setattr(model, "loss", text))
        form.addRow("loss", self.loss_combo)
        self.target_combo = compact_combo(QComboBox())
        for kind in TARGET_KINDS:
            self.target_combo.addItem(TARGET_LABELS[kind], kind)
        self.target_combo.setToolTip(HELP["target"])
        self.target_combo.currentIndexChanged.connect(
            lambda i: setattr(model, "target_kind", self.target_combo.itemData(i)))
        form.addRow("target", self.target_combo)
        self.pose_sliders: dict[str, ValueSlider] = {}
        pose = dict(model.target_pose)
        for name, (lo, hi, step) in POSE_SLIDERS.items():
            slider = ValueSlider(lo, hi, pose.get(name, lo), step, HELP["pose"].format(name=name))
            slider.valueChanged.connect(lambda value, n=name: model.set_target_pose(**{n: value}))
            self.pose_sliders[name] = slider
            form.addRow(f"target {name}", slider)
        self.copy_pose = QPushButton("Target pose = camera")
        self.copy_pose.setToolTip("Start the target pose from the current view, then move one slider")
        self.copy_pose.clicked.connect(model.copy_pose_from_camera)
        form.addRow(self.copy_pose)
        self.image_button = QPushButton("Choose target image...")
        self.image_button.setToolTip("A PNG/JPG (RGBA, RGB on the background colour, or grey mask) or an "
                                     "NPY image; it is resized to the render (Ctrl+T)")
        self.image_button.clicked.connect(lambda checked=False: choose_image())
        self.image_label = QLabel()
        self.image_label.setWordWrap(True)
        form.addRow(self.image_button)
        form.addRow("image", self.image_label)
        layout.addWidget(box)

        box = QGroupBox("Derivative dI/dtheta")
        form = QFormLayout(box)
        form.setRowWrapPolicy(WRAP)
        self.param_combo = compact_combo(QComboBox())
        self.param_combo.setEditable(True)
        self.param_combo.addItems(PARAM_CHOICES)
        self.param_combo.setToolTip(HELP["param"])
        self.param_combo.currentTextChanged.connect(lambda text: setattr(model, "param", text))
        form.addRow("theta", self.param_combo)
        layout.addWidget(box)
        layout.addStretch(1)
        model.events.loss.connect(lambda loss: self._quiet(self.loss_combo, lambda c: c.setCurrentText(loss)))
        model.events.target_kind.connect(self._show_kind)
        model.events.target_pose.connect(self._show_pose)
        model.events.target_image.connect(self._show_image)
        model.events.param.connect(self._show_param)
        self._quiet(self.loss_combo, lambda c: c.setCurrentText(model.loss))
        self._show_kind(model.target_kind)
        self._show_pose(model.target_pose)
        self._show_image(model.target_image)
        self._show_param(model.param)

    # --- what the widgets show -------------------------------------------------------------------
    def loss(self) -> str:
        return self.loss_combo.currentText()

    def target_kind(self) -> str:
        return self.target_combo.currentData()

    def pose(self) -> tuple[tuple[str, float], ...]:
        return tuple((name, float(s.value())) for name, s in self.pose_sliders.items())

    def param(self) -> str:
        return self.param_combo.currentText().strip()

    # --- the model, shown --------------------------------------------------------------------------
    @staticmethod
    def _quiet(widget: QWidget, action: Callable[[QWidget], None]) -> None:
        widget.blockSignals(True)
        try:
            action(widget)
        finally:
            widget.blockSignals(False)

    def _show_kind(self, kind: str) -> None:
        self._quiet(self.target_combo, lambda c: c.setCurrentIndex(c.findData(kind)))
        for slider in self.pose_sliders.values():
            slider.setEnabled(kind == "pose")
        self.copy_pose.setEnabled(kind == "pose")
        self.image_label.setEnabled(kind == "image")

    def _show_pose(self, pose: tuple) -> None:
        for name, value in pose:
            slider = self.pose_sliders.get(name)
            if slider is not None and slider.value() != value:
                slider.set_value(value, emit=False)

    def _show_image(self, image: Optional[TargetImage]) -> None:
        self.image_label.setText("no image loaded" if image is None else image.describe())

    def _show_param(self, param: str) -> None:
        if self.param() != param:              # typing in the box writes the model: leave it be
            self._quiet(self.param_combo, lambda c: c.setCurrentText(param))
