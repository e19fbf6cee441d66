"""The loss dock: which loss, against which target, and the parameter theta of dI/dtheta."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QLabel, QPushButton, QVBoxLayout,
                               QWidget)

from .analysis_modes import LOSS_CHOICES, PARAM_CHOICES
from .jobs import TARGET_KINDS, TARGET_LABELS
from .widgets import ValueSlider

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
    """Emits ``changed()`` whenever the loss, target or parameter changes, and ``choose_image()``
    when the user asks for a target image file."""

    changed = Signal()
    choose_image = Signal()

    def __init__(self, pose: dict[str, float]) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        box = QGroupBox("Loss and target")
        form = QFormLayout(box)
        self.loss_combo = QComboBox()
        self.loss_combo.addItems(LOSS_CHOICES)
        self.loss_combo.setToolTip(HELP["loss"])
        self.loss_combo.currentTextChanged.connect(lambda _: self.changed.emit())
        form.addRow("loss", self.loss_combo)
        self.target_combo = QComboBox()
        for kind in TARGET_KINDS:
            self.target_combo.addItem(TARGET_LABELS[kind], kind)
        self.target_combo.setToolTip(HELP["target"])
        self.target_combo.currentIndexChanged.connect(self._on_kind)
        form.addRow("target", self.target_combo)
        self.pose_sliders: dict[str, ValueSlider] = {}
        for name, (lo, hi, step) in POSE_SLIDERS.items():
            slider = ValueSlider(lo, hi, pose.get(name, lo), step, HELP["pose"].format(name=name))
            slider.valueChanged.connect(lambda _: self.changed.emit())
            self.pose_sliders[name] = slider
            form.addRow(f"target {name}", slider)
        self.copy_pose = QPushButton("Target pose = current camera")
        self.copy_pose.setToolTip("Start the target pose from the current view, then move one slider")
        form.addRow("", self.copy_pose)
        self.image_button = QPushButton("Choose target image...")
        self.image_button.setToolTip("A PNG/JPG (RGBA, RGB on the background colour, or grey mask) or an "
                                     "NPY image; it is resized to the render (Ctrl+T)")
        self.image_button.clicked.connect(self.choose_image)
        self.image_label = QLabel("no image loaded")
        self.image_label.setWordWrap(True)
        form.addRow("", self.image_button)
        form.addRow("image", self.image_label)
        layout.addWidget(box)

        box = QGroupBox("Derivative dI/dtheta")
        form = QFormLayout(box)
        self.param_combo = QComboBox()
        self.param_combo.setEditable(True)
        self.param_combo.addItems(PARAM_CHOICES)
        self.param_combo.setToolTip(HELP["param"])
        self.param_combo.currentTextChanged.connect(lambda _: self.changed.emit())
        form.addRow("theta", self.param_combo)
        layout.addWidget(box)
        layout.addStretch(1)
        self._on_kind()

    # --- values ------------------------------------------------------------------------------
    def loss(self) -> str:
        return self.loss_combo.currentText()

    def target_kind(self) -> str:
        return self.target_combo.currentData()

    def pose(self) -> tuple[tuple[str, float], ...]:
        return tuple((name, float(s.value())) for name, s in self.pose_sliders.items())

    def param(self) -> str:
        return self.param_combo.currentText().strip()

    def set_values(self, loss: str | None = None, kind: str | None = None,
                   pose: dict[str, float] | None = None, param: str | None = None) -> None:
        """Set controls without emitting ``changed`` (restore, tests); the caller re-requests."""
        self.blockSignals(True)
        try:
            if loss in LOSS_CHOICES:
                self.loss_combo.setCurrentText(loss)
            if kind in TARGET_KINDS:
                self.target_combo.setCurrentIndex(self.target_combo.findData(kind))
            for name, value in (pose or {}).items():
                if name in self.pose_sliders:
                    self.pose_sliders[name].set_value(float(value), emit=False)
            if param:
                self.param_combo.setCurrentText(param)
        finally:
            self.blockSignals(False)
        self._enable()

    def set_image_name(self, name: str) -> None:
        self.image_label.setText(name or "no image loaded")

    def _on_kind(self) -> None:
        self._enable()
        self.changed.emit()

    def _enable(self) -> None:
        kind = self.target_kind()
        for slider in self.pose_sliders.values():
            slider.setEnabled(kind == "pose")
        self.copy_pose.setEnabled(kind == "pose")
        self.image_button.setEnabled(True)
        self.image_label.setEnabled(kind == "image")
