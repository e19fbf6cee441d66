"""The pixel inspector dock: the faces that make the picked pixel, with coverage D and weight w.

It follows ``model.pick`` (cleared while a new pixel is inspected) and shows the worker's report;
selecting a row highlights that face in the reference view (``face_selected``)."""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ..model.app_model import AppModel

COLUMNS = ("face", "D (coverage)", "w (colour weight)", "depth", "barycentrics", "shaded colour")
MAX_ROWS = 200
NO_PICK = "Click a pixel in any pane to inspect it."


class InspectorPanel(QWidget):
    """Shows a ``renderer.analysis.PixelReport``; emits the row index of a selected face (or -1)."""

    face_selected = Signal(int)

    def __init__(self, model: AppModel) -> None:
        super().__init__()
        self.header = QLabel(NO_PICK)
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip("D = sigmoid(delta d^2 / sigma): how much the face covers the pixel; "
                              "w: its softmax share of the pixel's colour (SoftRas). Select a row to "
                              "outline that face in the reference view.")
        self.table.itemSelectionChanged.connect(self._on_selection)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.table, 1)
        self.report = None
        self.faces: list[int] = []
        model.events.pick.connect(lambda pick: self.clear(NO_PICK if pick is None else "inspecting..."))

    def show_report(self, report) -> None:
        """Fill the table from a PixelReport (faces already sorted by weight, then coverage), or
        from another representation's ElementTable (splats, cells, tracing steps)."""
        if hasattr(report, "columns"):
            self._show_table(report)
            return
        self.table.setColumnCount(len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.report = report
        faces = report.significant()[:MAX_ROWS]
        self.faces = [f.face for f in faces]
        rgb = " ".join(f"{c:.3f}" for c in np.asarray(report.rgb).ravel())
        lines = [f"<b>pixel (row {report.row}, col {report.col})</b>, {report.renderer}: rgb {rgb}, "
                 f"alpha {report.alpha:.4f}; background weight {report.bg_weight:.4g}; "
                 f"{len(report.significant())} face(s) with D or w >= 1e-4 (of {len(report.faces)} pairs)"]
        lines += report.notes
        self.header.setText("<br>".join(lines))
        self.table.blockSignals(True)
        self.table.setRowCount(len(faces))
        for row, f in enumerate(faces):
            cells = (str(f.face), f"{f.coverage:.4g}", f"{f.weight:.4g}", f"{f.depth:.4f}",
                     " ".join(f"{b:.3f}" for b in f.bary), " ".join(f"{c:.3f}" for c in f.color))
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.blockSignals(False)
        self.table.resizeColumnsToContents()

    def _show_table(self, report) -> None:
        self.report = report
        rows = report.rows[:MAX_ROWS]
        self.faces = list(report.elements[:MAX_ROWS])
        self.header.setText("<br>".join([f"<b>{report.header[0]}</b>" if report.header else "",
                                         *report.header[1:], *report.notes]))
        self.table.blockSignals(True)
        self.table.setColumnCount(len(report.columns))
        self.table.setHorizontalHeaderLabels(list(report.columns))
        self.table.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.blockSignals(False)
        self.table.resizeColumnsToContents()

    def clear(self, message: str = NO_PICK) -> None:
        self.report = None
        self.faces = []
        self.header.setText(message)
        self.table.setRowCount(0)

    def selected_row(self) -> Optional[int]:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def _on_selection(self) -> None:
        row = self.selected_row()
        self.face_selected.emit(-1 if row is None else row)
