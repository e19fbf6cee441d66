"""The third pane: an ImagePane whose content is chosen by an analysis mode, with the mode's
summary (loss, cosines, diagnostics in plain words) written underneath."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTextBrowser

from .analysis_modes import BY_NAME, DEFAULT_MODE, MODES
from .image_pane import ImagePane
from .jobs import AnalysisResult


class AnalysisPane(ImagePane):
    """Emits ``mode_changed(name)`` when the user picks another mode."""

    mode_changed = Signal(str)

    def __init__(self) -> None:
        super().__init__("analysis")
        self.mode_combo = QComboBox()
        for mode in MODES:
            self.mode_combo.addItem(mode.label, mode.name)
            self.mode_combo.setItemData(self.mode_combo.count() - 1, mode.help, Qt.ItemDataRole.ToolTipRole)
        self.mode_combo.setToolTip("What the analysis pane shows (Ctrl+1 .. Ctrl+9)")
        self.mode_combo.currentIndexChanged.connect(
            lambda i: self.mode_changed.emit(self.mode_combo.itemData(i)))
        header = QHBoxLayout()
        header.addWidget(QLabel("analysis:"))
        header.addWidget(self.mode_combo, 1)
        self.notes = QTextBrowser()
        self.notes.setMaximumHeight(110)
        self.notes.setPlaceholderText("the analysis summary appears here")
        layout = self.layout()
        layout.insertLayout(0, header)
        layout.addWidget(self.notes)
        self.set_mode(DEFAULT_MODE, emit=False)
        self.last_result: AnalysisResult | None = None

    def mode(self) -> str:
        return self.mode_combo.currentData()

    def set_mode(self, name: str, emit: bool = True) -> None:
        index = self.mode_combo.findData(name)
        if index < 0:
            raise ValueError(f"unknown analysis mode {name!r}")
        self.mode_combo.blockSignals(not emit)
        self.mode_combo.setCurrentIndex(index)
        self.mode_combo.blockSignals(False)
        self.mode_combo.setToolTip(BY_NAME[name].help)

    def show_result(self, result: AnalysisResult, caption: str) -> None:
        """Draw ``result`` (its heatmap, overlays and summary lines)."""
        self.last_result = result
        heat = result.heatmap
        size = result.scene.settings.image_size
        if heat is not None:
            self.set_heatmap(heat.values, heat.cmap, heat.levels, heat.label, caption,
                             rgb=heat.rgb, contour=heat.contour)
            self.set_overlays(size, arrows=heat.arrows, outlines=heat.outlines)
        self.notes.setPlainText("\n".join(result.lines))

    def mark_stale(self, why: str) -> None:
        """Say the heatmap belongs to an earlier state (e.g. while a slider is dragged)."""
        text = self.title.text()
        if "(" + why + ")" not in text:
            self.title.setText(f"{text}  ({why})")
