"""Edit > Preferences: the render-time budget (a view of ``model.render_budget_s``)."""
from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QWidget

from ..model.app_model import AppModel
from ..model.render_work import describe_seconds

BUDGET_RANGE = (0.0, 3600.0)


class PreferencesDialog(QDialog):
    """Edits the model's preferences; OK writes them, Cancel leaves them."""

    def __init__(self, model: AppModel, seconds_per_pair: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setWindowTitle("Preferences")
        self.budget = QDoubleSpinBox()
        self.budget.setRange(*BUDGET_RANGE)
        self.budget.setDecimals(1)
        self.budget.setSingleStep(0.5)
        self.budget.setSuffix(" s")
        self.budget.setSpecialValueText("never ask")
        self.budget.setValue(model.render_budget_s)
        self.budget.setToolTip("A render predicted (from its pixel-face pair count) to take longer than this "
                               "waits for your go; 0 renders everything at once")
        note = QLabel(f"Predicted from the renders timed on this machine: about "
                      f"{describe_seconds(seconds_per_pair * 1e7)} per 10 M pixel-face pairs.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Ask before renders longer than", self.budget)
        form.addRow(note)
        form.addRow(buttons)

    def accept(self) -> None:
        self.model.render_budget_s = self.budget.value()
        super().accept()
