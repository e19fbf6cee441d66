"""The error banner above the panes."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel


class Banner(QLabel):
    """A red strip above the panes with the latest error; a click dismisses it. It never blocks:
    the window keeps working underneath."""

    def __init__(self) -> None:
        super().__init__()
        self.setStyleSheet("color: white; background: #a33; padding: 4px;")
        self.setWordWrap(True)
        self.setToolTip("click to dismiss")
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.source = ""
        self.hide()

    def show_message(self, message: str, source: str = "") -> None:
        """``source``: who reported it, so that e.g. a later successful render can clear a
        render error without hiding a file error the user has not read yet."""
        self.setText(message)
        self.source = source
        self.show()

    def clear(self, source: str) -> None:
        if self.source == source:
            self.hide()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.hide()
