"""The strip above the panes that asks before a slow render: a view of ``model.held_render``."""
from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from ..model.app_model import AppModel
from ..model.render_work import HeldRender, describe_seconds

BAR_STYLE = "QFrame#heldRender { background: #fff3cd; border: 1px solid #d9a400; } QLabel { color: #4d3800; }"


class HeldRenderBar(QFrame):
    """Says which render is held and why; "Render" approves it, "Go back" cancels it (Esc)."""

    def __init__(self, model: AppModel) -> None:
        super().__init__()
        self.model = model
        self.setObjectName("heldRender")
        self.setStyleSheet(BAR_STYLE)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.render_button = QPushButton("Render")
        self.render_button.setToolTip("Render these settings anyway (the panes show how long it takes; Esc stops it)")
        self.render_button.clicked.connect(model.approve_render)
        self.back_button = QPushButton("Go back (Esc)")
        self.back_button.setToolTip("Return to the settings the panes show")
        self.back_button.clicked.connect(model.cancel_render)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 3, 6, 3)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.render_button)
        layout.addWidget(self.back_button)
        model.events.held_render.connect(self._show)
        self._show(model.held_render)

    def _show(self, held: HeldRender | None) -> None:
        if held is None:
            self.hide()
            return
        self.text.setText(held.message() + ".")
        self.render_button.setText(f"Render (about {describe_seconds(held.predicted_s)})")
        self.show()
