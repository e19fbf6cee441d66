"""One image view: a pyqtgraph image with a caption, square pixels, row 0 at the top."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from renderer.images import to_uint8


class ImagePane(QWidget):
    """Shows an (S, S, 3) float image. Emits ``dragged(dx, dy)`` in pixels while the left mouse
    button drags over it, and ``wheeled(steps)`` on the wheel."""

    dragged = Signal(float, float)
    wheeled = Signal(float)

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = QLabel(title)
        self.view = pg.GraphicsLayoutWidget()
        self.box = self.view.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.item)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)
        self.image: np.ndarray | None = None
        self._last = None
        self.view.viewport().installEventFilter(self)

    def set_image(self, image: np.ndarray, caption: str | None = None) -> None:
        self.image = image
        self.item.setImage(to_uint8(image), autoLevels=False, levels=(0, 255))
        self.box.autoRange(padding=0)
        if caption is not None:
            self.title.setText(caption)

    def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
        from PySide6.QtCore import QEvent, Qt

        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._last = event.position()
            return True
        if kind == QEvent.Type.MouseMove and self._last is not None:
            pos = event.position()
            self.dragged.emit(pos.x() - self._last.x(), pos.y() - self._last.y())
            self._last = pos
            return True
        if kind == QEvent.Type.MouseButtonRelease:
            self._last = None
            return True
        if kind == QEvent.Type.Wheel:
            self.wheeled.emit(event.angleDelta().y() / 120.0)
            return True
        return super().eventFilter(obj, event)
