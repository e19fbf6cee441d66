"""The third pane: an ImagePane whose content is chosen by an analysis mode, with the mode's
summary (loss, cosines, diagnostics in plain words) written underneath. Its mode combo is a view
of ``model.mode``; modes the scene's renderer does not apply to are greyed out."""
from __future__ import annotations

import html
import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTextBrowser

from ..model.app_model import AppModel
from ..model.jobs import MAGNITUDE_SCALES, AnalysisResult
from ..model.modes import SHORTCUT_SCHEME, get_mode, mode_applies, modes
from .image_pane import ImagePane

NOTES_LINES = 4            # the summary under a picture: this many lines, then it scrolls
SEVERITY_COLOURS = {"error": "#b00020", "warning": "#b36b00", "info": "#2e7d32"}
PLAYBACK_TIP = ("the pane shows the recorded run: choose what in the timeline dock "
                "(editing the scene shows the live scene again)")


class AnalysisPane(ImagePane):
    """The analysis pane of ``model``: the combo writes ``model.mode`` and follows it."""

    def __init__(self, model: AppModel) -> None:
        super().__init__("analysis")
        self.model = model
        self.mode_combo = QComboBox()
        # narrow panes: the combo shrinks (its list shows the labels in full)
        self.mode_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode_combo.setMinimumContentsLength(8)
        for mode in modes():
            self.mode_combo.addItem(mode.label, mode.name)
            self.mode_combo.setItemData(self.mode_combo.count() - 1, mode.help, Qt.ItemDataRole.ToolTipRole)
        self.mode_combo.currentIndexChanged.connect(self._chosen)
        self.scale_combo = QComboBox()
        for name, text in MAGNITUDE_SCALES.items():
            self.scale_combo.addItem(text, name)
        self.scale_combo.setToolTip("How magnitudes are coloured: log10 (every vertex that gets a "
                                    "gradient shows), linear up to the 99th percentile (a few extreme "
                                    "vertices do not leave the rest dark), or linear up to the max")
        self.scale_combo.currentIndexChanged.connect(
            lambda i: setattr(model, "magnitude_scale", self.scale_combo.itemData(i)))
        self.scale_caption = QLabel("colours:")
        header = QHBoxLayout()
        header.addWidget(QLabel("analysis:"))
        header.addWidget(self.mode_combo, 1)
        # a row of its own (shown for the modes that colour magnitudes): the header never widens
        # the pane at the expense of the other two
        scale_row = QHBoxLayout()
        scale_row.addWidget(self.scale_caption)
        scale_row.addWidget(self.scale_combo, 1)
        self.notes = QTextBrowser()
        self.notes.setPlaceholderText("the analysis summary appears here")
        self._notes_height = NOTES_LINES * self.notes.fontMetrics().lineSpacing() + 12
        layout = self.layout()
        layout.insertLayout(0, header)
        layout.insertLayout(1, scale_row)
        layout.addWidget(self.notes)
        self._text_first = None
        self.last_result: AnalysisResult | None = None
        self._renderer = None
        model.events.mode.connect(self._show_mode)
        model.events.magnitude_scale.connect(self._show_scale)
        self._show_scale(model.magnitude_scale)
        model.events.scene.connect(self._show_applicable)
        model.events.playback.connect(self._show_playback)
        self._show_mode(model.mode)
        self._show_applicable(model.scene)

    def mode(self) -> str:
        """The mode the combo shows (the model's, see ``model.mode``)."""
        return self.mode_combo.currentData()

    def _chosen(self, index: int) -> None:
        self.model.mode = self.mode_combo.itemData(index)

    def _show_mode(self, name: str) -> None:
        self.mode_combo.blockSignals(True)
        self.mode_combo.setCurrentIndex(self.mode_combo.findData(name))
        self.mode_combo.blockSignals(False)
        self._tooltip()
        self._lay_out_for(get_mode(name).shows_text and not self.model.playback)
        scales = get_mode(name).magnitude_scales
        self.scale_combo.setVisible(scales)
        self.scale_caption.setVisible(scales)

    def _show_scale(self, scale: str) -> None:
        self.scale_combo.blockSignals(True)
        self.scale_combo.setCurrentIndex(self.scale_combo.findData(scale))
        self.scale_combo.blockSignals(False)

    def _lay_out_for(self, text_first: bool) -> None:
        """A mode whose words are the point gets the pane for them (its picture is hidden); the
        others show their picture with a few lines of summary under it."""
        if text_first == self._text_first:
            return
        self._text_first = text_first
        layout = self.layout()
        self.view.setVisible(not text_first)
        self.scale_label.setVisible(not text_first and self.colorbar_visible)
        self.readout.setVisible(not text_first)
        self.notes.setMaximumHeight(16_777_215 if text_first else self._notes_height)
        self.notes.setMinimumHeight(0)
        layout.setStretchFactor(self.view, 0 if text_first else 1)
        layout.setStretchFactor(self.notes, 1 if text_first else 0)

    def _tooltip(self) -> None:
        if self.model.playback:
            self.mode_combo.setToolTip(PLAYBACK_TIP)
        else:
            self.mode_combo.setToolTip(f"{get_mode(self.mode()).help}\n\n{SHORTCUT_SCHEME}")

    def _show_applicable(self, scene) -> None:
        """Grey out the modes the renderer does not apply to (only when the renderer changed)."""
        if scene.settings.renderer == self._renderer:
            return
        self._renderer = scene.settings.renderer
        spec = self.model.renderer_spec
        items = self.mode_combo.model()
        if not isinstance(items, QStandardItemModel):
            return
        for row in range(self.mode_combo.count()):
            name = self.mode_combo.itemData(row)
            item = items.item(row)
            applies = mode_applies(name, spec, scene.kind)
            item.setEnabled(applies)
            tip = get_mode(name).help
            if not applies:
                tip += f"\n\n(does not apply to the {spec.name} renderer drawing a {scene.kind})"
            item.setToolTip(tip)

    def _show_playback(self, on: bool) -> None:
        self.mode_combo.setEnabled(not on)      # the mode applies to the live scene only
        self._tooltip()
        self._lay_out_for(get_mode(self.model.mode).shows_text and not on)

    def show_result(self, result: AnalysisResult, caption: str, source: object = None) -> None:
        """Draw ``result`` (its heatmap, overlays and summary lines); ``source`` as for
        ``set_image``."""
        self.last_result = result
        heat = result.heatmap
        size = result.scene.settings.image_size
        if heat is not None:
            self.set_heatmap(heat.values, heat.cmap, heat.levels, heat.label, caption,
                             rgb=heat.rgb, contour=heat.contour, source=source)
            self.set_overlays(size, arrows=heat.arrows, outlines=heat.outlines)
        if get_mode(result.request.mode).shows_text:
            self.notes.setHtml(findings_html(result.lines))
        else:
            self.notes.setPlainText("\n".join(result.lines))

    def mark_stale(self, why: str) -> None:
        """Say the heatmap belongs to an earlier state (e.g. while a slider is dragged)."""
        text = self.title.text()
        if "(" + why + ")" not in text:
            self.title.setText(f"{text}  ({why})")


def findings_html(lines: list[str]) -> str:
    """Summary lines as paragraphs, "[severity] ..." findings with their severity in colour."""
    parts = []
    for line in lines:
        found = re.match(r"\[(error|warning|info)\]\s*(.*)", line)
        if found:
            severity, text = found.groups()
            parts.append(f"<p><b style='color:{SEVERITY_COLOURS[severity]}'>{severity}</b>: {html.escape(text)}</p>")
        else:
            parts.append(f"<p>{html.escape(line)}</p>")
    return "".join(parts)
