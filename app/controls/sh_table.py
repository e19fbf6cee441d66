"""An editable 9 x 3 table of spherical-harmonics light coefficients (rows: basis functions in
Kaolin's order, columns: R, G, B)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

ROW_NAMES = ("Y0 const", "Y1 -y", "Y2 z", "Y3 -x", "Y4 xy", "Y5 -yz", "Y6 z^2", "Y7 -xz", "Y8 x^2-y^2")


class ShTable(QTableWidget):
    """Emits ``coefficient_changed(k, channel, value)`` when a cell is edited to a valid number;
    anything else puts the old value back."""

    coefficient_changed = Signal(int, int, float)

    def __init__(self, coeffs: np.ndarray) -> None:
        super().__init__(9, 3)
        self.setHorizontalHeaderLabels(["R", "G", "B"])
        self.setVerticalHeaderLabels(list(ROW_NAMES))
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setDefaultSectionSize(20)
        self.setFixedHeight(20 * 9 + 28)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
                             | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.setToolTip("The nine SH light coefficients per colour channel (sh lighting only): row 0 "
                        "is uniform light, rows 1-3 light from one side, rows 4-8 finer variation. "
                        "Double-click a cell to type a value")
        self._coeffs = np.zeros((9, 3))
        self.set_coefficients(coeffs)
        self.itemChanged.connect(self._on_item)

    def set_coefficients(self, coeffs: np.ndarray) -> None:
        self._coeffs = np.asarray(coeffs, np.float64).reshape(9, 3).copy()
        self.blockSignals(True)
        for k in range(9):
            for c in range(3):
                self.setItem(k, c, QTableWidgetItem(f"{self._coeffs[k, c]:.4g}"))
        self.blockSignals(False)

    def coefficients(self) -> np.ndarray:
        return self._coeffs.copy()

    def _on_item(self, item: QTableWidgetItem) -> None:
        k, c = item.row(), item.column()
        try:
            value = float(item.text())
            if not np.isfinite(value):
                raise ValueError
        except ValueError:
            self.blockSignals(True)
            item.setText(f"{self._coeffs[k, c]:.4g}")
            self.blockSignals(False)
            return
        if value != self._coeffs[k, c]:
            self._coeffs[k, c] = value
            self.coefficient_changed.emit(k, c, value)
