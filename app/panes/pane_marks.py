"""The two marks an image pane lays over its picture: a strip saying what is being made for it
and for how long (the busy state), and a corner tag saying the view is magnified.

They are plain labels over the pane's widgets, placed again whenever the pane resizes; the pane
owns them (``ImagePane.busy_mark``, ``ImagePane.zoom_mark``)."""
from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget

MARK_STYLE = "color: white; background: rgba(179, 107, 0, 210); padding: 1px 4px; border-radius: 3px;"
BUSY_STYLE = "color: white; background: rgba(20, 20, 20, 200); padding: 3px 6px;"
BUSY_TICK_MS = 200          # the busy strip's elapsed time is refreshed this often
ZOOMED_ABOVE = 1.05         # magnification beyond which the "zoomed" tag shows


class PaneMarks(QObject):
    """The marks of one pane: ``busy`` over the top of ``view`` (or under ``title`` where the
    view is hidden), ``zoom`` in the view's lower left corner."""

    def __init__(self, pane: QWidget, view: QWidget, title: QWidget) -> None:
        super().__init__(pane)
        self.pane, self.view, self.title = pane, view, title
        self.zoom = QLabel(view)
        self.zoom.setStyleSheet(MARK_STYLE)
        self.zoom.setToolTip("The view is magnified: double-click the image or press F to see all of it")
        self.zoom.hide()
        self.busy = QLabel(pane)
        self.busy.setStyleSheet(BUSY_STYLE)
        self.busy.setWordWrap(True)
        self.busy.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.busy.hide()
        self._busy_text: Optional[Callable[[], Optional[str]]] = None
        self._timer = QTimer(self)
        self._timer.setInterval(BUSY_TICK_MS)
        self._timer.timeout.connect(self._show_busy)

    def set_busy(self, text: Optional[Callable[[], Optional[str]]]) -> None:
        """While ``text`` is set the strip shows ``text()`` (None: not yet), refreshed as time
        passes; None removes it."""
        self._busy_text = text
        if text is None:
            self._timer.stop()
            self.busy.hide()
        else:
            self._timer.start()
            self._show_busy()

    def busy_text(self) -> str:
        return self.busy.text() if self.busy.isVisible() else ""

    def _show_busy(self) -> None:
        text = self._busy_text() if self._busy_text is not None else None
        if not text:
            self.busy.hide()
            return
        self.busy.setText(text)
        self.place()
        self.busy.show()
        self.busy.raise_()

    def set_zoom(self, zoom: float) -> None:
        if zoom > ZOOMED_ABOVE:
            self.zoom.setText(f"zoomed \u00d7{zoom:.3g}")
            self.place()
            self.zoom.show()
            self.zoom.raise_()
        else:
            self.zoom.hide()

    def place(self) -> None:
        """Lay the marks over the pane as it is now."""
        shown = self.view.isVisible()
        area = self.view.geometry() if shown else self.title.geometry()
        top = area.top() if shown else area.bottom() + 2
        width = max(40, area.width())
        self.busy.setMinimumSize(0, 0)                  # (a fixed size would bias heightForWidth)
        self.busy.setMaximumSize(16_777_215, 16_777_215)
        needed = self.busy.heightForWidth(width) + 6    # every wrapped line ...
        limit = max(24, (self.view.height() if shown else self.pane.height()) // 2)
        self.busy.setFixedSize(width, min(needed, limit))   # ... but never more than half the image
        self.busy.move(area.left(), top)
        self.busy.raise_()
        self.zoom.adjustSize()
        self.zoom.move(4, max(0, self.view.height() - self.zoom.height() - 4))
