"""One image view: a pyqtgraph image with a caption, an optional colour bar, overlays and a
readout of the value under the cursor.

Images are drawn into the unit square (x = u across, y = v down), whatever their resolution, so a
low-resolution preview and a full render line up, and overlays given in pixel coordinates of one
resolution land on the same spot in every pane.

A magnified view belongs to the images it was chosen on: when the pane's image source changes (the
live scene, a recorded run, another resolution; see ``set_image``'s ``source``) the view fits the
whole image again, and while it is magnified a mark in the corner says so (a zoomed 64 px target
looks like a blank white square).
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QLabel, QSizePolicy, QVBoxLayout, QWidget

from renderer.images import to_uint8

from .colormaps import colormap
from .pane_marks import ZOOMED_ABOVE, PaneMarks

CLICK_SLOP_PX = 4           # a press and release closer than this is a click (pick), not a drag
ARROW_HEAD = 0.25           # arrow head length, as a fraction of the arrow


class ImagePane(QWidget):
    """Shows an (S, S, 3) float image or an (S, S) heatmap with its colour bar.

    Signals: ``dragged(dx, dy, shift)`` in screen pixels while the left button drags;
    ``drag_started()``/``drag_finished()`` around a drag; ``wheeled(steps)``; ``picked(u, v)``
    for a click, as fractions of the image (u across, v down), sent once the double-click
    interval has passed without a second click; ``magnified(factor, u, v)`` on Ctrl+wheel and
    ``fitted()`` on a double click, which picks nothing (the window applies them to every pane).
    """

    dragged = Signal(float, float, bool)
    drag_started = Signal()
    drag_finished = Signal()
    wheeled = Signal(float)
    picked = Signal(float, float)
    magnified = Signal(float, float, float)     # factor, centre u, centre v
    fitted = Signal()

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = QLabel(title)             # two lines: what it shows, the settings it was made with
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setWordWrap(True)            # a narrow pane wraps its caption instead of cutting it
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("#3a3a3a")      # grey, so a black image background shows its edge
        self.box = self.view.addViewBox(row=0, col=0, lockAspect=True, invertY=True, enableMouse=False)
        self.box.disableAutoRange()         # the view is the unit square; only Ctrl+wheel changes it
        self.box.setRange(QRectF(0, 0, 1, 1), padding=0)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.item)
        # no axis title on the bar: rotated along a short pane it was cut off; ``scale_label``
        # under the image says what the colours mean and their range instead
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=colormap("sequential"),
                                        interactive=False, width=14, colorMapMenu=False)
        self._bar_shown = False
        self._contour = pg.PlotCurveItem(pen=pg.mkPen("#202020", width=1.5), connect="finite")
        self.box.addItem(self._contour)
        self._outlines = self._curve("#ffd21f", 1.2)
        self._selected = self._curve("#00e5ff", 2.5)
        self._arrows = self._curve("#ff2d55", 1.8)
        self._marker = pg.ScatterPlotItem(symbol="+", size=16, pen=pg.mkPen("#ff2d55", width=2), brush=None)
        self.box.addItem(self._marker)
        self.readout = QLabel(" ")
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.readout.setStyleSheet("color: #555; font-family: monospace;")
        # two lines kept free: a long label wraps and the value stays in view, and the panes do not
        # jump in height as the cursor moves
        self.readout.setWordWrap(True)
        self.readout.ensurePolished()           # the style sheet's font decides the line height
        self.readout.setFixedHeight(2 * self.readout.fontMetrics().lineSpacing() + 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.scale_label = QLabel()
        self.scale_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.scale_label.setWordWrap(True)
        self.scale_label.setStyleSheet("color: #444;")
        self.scale_label.hide()
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.scale_label)
        layout.addWidget(self.readout)
        self.image: Optional[np.ndarray] = None       # the float image (rgb) or heatmap values
        self.values: Optional[np.ndarray] = None      # heatmap values (None for rgb panes)
        self.value_label = ""
        self.levels: Optional[tuple[float, float]] = None
        self.cmap_kind: Optional[str] = None
        self.hover_text = ""
        self._hover_uv: Optional[tuple[float, float]] = None   # where the cursor is, if over the pane
        self._press: Optional[QPointF] = None
        self._last: Optional[QPointF] = None
        self._dragging = False
        self._press_shift = False
        self.source: object = None              # what the image shows (see set_image)
        self.zoom = 1.0                         # magnification of the view; 1 = the whole image
        self.marks = PaneMarks(self, self.view, self.title)
        self.zoom_mark, self.busy_mark = self.marks.zoom, self.marks.busy
        self._pending_pick: Optional[tuple[float, float]] = None
        self._pick_timer = QTimer(self)
        self._pick_timer.setSingleShot(True)
        self._pick_timer.timeout.connect(self._send_pick)
        self.view.viewport().setMouseTracking(True)
        self.view.viewport().installEventFilter(self)

    def _curve(self, color: str, width: float) -> pg.PlotCurveItem:
        curve = pg.PlotCurveItem(pen=pg.mkPen(color, width=width), connect="pairs")
        self.box.addItem(curve)
        return curve

    # --- content ---------------------------------------------------------------------------
    def set_image(self, image: np.ndarray, caption: Optional[str] = None, source: object = None) -> None:
        """Show an (S, S, 3) float colour image (clamped for display only). ``source``: what the
        image is of (e.g. ("live", 256), ("run", id, 64)); when it differs from the previous
        image's the view fits the whole image. None: the image's own size is its source."""
        self._new_source(source, image)
        self.image, self.values, self.levels, self.cmap_kind = image, None, None, None
        self.item.setImage(to_uint8(image), autoLevels=False, levels=(0, 255), lut=None)
        self._fit_item()
        self._show_bar(False)
        self._contour.setData([], [])
        if caption is not None:
            self.title.setText(caption)
            self.title.setToolTip(caption)      # the whole caption, where a narrow pane clips it
        self._refresh_readout()

    def set_heatmap(self, values: np.ndarray, kind: str, levels: tuple[float, float], label: str,
                    caption: Optional[str] = None, rgb: Optional[np.ndarray] = None,
                    contour: Optional[np.ndarray] = None, source: object = None) -> None:
        """Show a scalar image through the ``kind`` colour map over ``levels`` with a colour bar;
        with ``rgb`` that image is shown instead (already colour-mapped) and ``values`` still feed
        the hover readout. ``contour``: an (N, 2) polyline in pixel coordinates (NaN rows
        between pieces) drawn on top. ``source``: as for ``set_image``."""
        self._new_source(source, values)
        cmap = colormap(kind)
        self.image = self.values = values
        self.levels, self.cmap_kind, self.value_label = levels, kind, label
        if rgb is not None:
            self.item.setImage(to_uint8(rgb), autoLevels=False, levels=(0, 255), lut=None)
        else:
            shown = np.nan_to_num(np.asarray(values, np.float32), nan=levels[0])
            self.item.setImage(shown, autoLevels=False, levels=levels, lut=cmap.getLookupTable(nPts=256))
        self._fit_item()
        self.colorbar.setColorMap(cmap)
        self.colorbar.setLevels(levels)
        self.scale_label.setText(f"colours: {label}, from {levels[0]:.3g} to {levels[1]:.3g}")
        self._show_bar(True)
        if contour is None or len(contour) == 0:
            self._contour.setData([], [])
        else:
            line = np.asarray(contour, np.float64) / values.shape[0]
            self._contour.setData(line[:, 0], line[:, 1])
        if caption is not None:
            self.title.setText(caption)
            self.title.setToolTip(caption)      # the whole caption, where a narrow pane clips it
        self._refresh_readout()

    def set_overlays(self, size: Optional[int] = None, arrows: Optional[np.ndarray] = None,
                     outlines: Optional[np.ndarray] = None) -> None:
        """Arrows (K, 2, 2) and triangle outlines (M, 3, 2) in pixel coordinates of a ``size``
        image (x = column, y = row); None clears them."""
        self._arrows.setData(*self._arrow_segments(arrows, size))
        self._outlines.setData(*self._triangle_segments(outlines, size))

    def set_selected_face(self, triangle: Optional[np.ndarray], size: Optional[int] = None) -> None:
        """Highlight one triangle (3, 2) in pixel coordinates, or clear with None."""
        self._selected.setData(*self._triangle_segments(None if triangle is None else triangle[None], size))

    def set_marker(self, pick: Optional[tuple[float, float]]) -> None:
        """Mark the picked pixel (u, v fractions), or clear with None."""
        self._marker.setData([] if pick is None else [{"pos": pick}])

    @staticmethod
    def _triangle_segments(tris: Optional[np.ndarray], size: Optional[int]):
        if tris is None or len(tris) == 0 or not size:
            return [], []
        t = np.asarray(tris, np.float64) / size
        seg = np.stack([t, np.roll(t, -1, axis=1)], axis=2).reshape(-1, 2)   # edges as point pairs
        return seg[:, 0], seg[:, 1]

    @staticmethod
    def _arrow_segments(arrows: Optional[np.ndarray], size: Optional[int]):
        if arrows is None or len(arrows) == 0 or not size:
            return [], []
        a = np.asarray(arrows, np.float64) / size
        tail, head = a[:, 0], a[:, 1]
        d = head - tail
        normal = np.stack([-d[:, 1], d[:, 0]], axis=1)
        barb1 = head - ARROW_HEAD * d + 0.5 * ARROW_HEAD * normal
        barb2 = head - ARROW_HEAD * d - 0.5 * ARROW_HEAD * normal
        pts = np.stack([tail, head, head, barb1, head, barb2], axis=1).reshape(-1, 2)
        return pts[:, 0], pts[:, 1]

    def _fit_item(self) -> None:
        self.item.setRect(QRectF(0, 0, 1, 1))

    def _new_source(self, source: object, image: np.ndarray) -> None:
        """Fit the view when the image about to be shown comes from elsewhere than the last one:
        a magnified view of one image is meaningless on another."""
        source = ("size", tuple(np.shape(image)[:2])) if source is None else source
        if source != self.source and self.image is not None:
            self.fit_view()
        self.source = source

    def _show_bar(self, on: bool) -> None:
        self.scale_label.setVisible(on and self.view.isVisibleTo(self))   # (not where text replaces the image)
        if on and not self._bar_shown:
            self.view.addItem(self.colorbar, row=0, col=1)
        elif not on and self._bar_shown:
            self.view.ci.removeItem(self.colorbar)
        self._bar_shown = on

    @property
    def colorbar_visible(self) -> bool:
        return self._bar_shown

    def fit_view(self) -> None:
        self.box.setRange(QRectF(0, 0, 1, 1), padding=0)
        self._set_zoom(1.0)

    def zoom_to(self, u: float, v: float, half: float) -> None:
        """Show the square of half-width ``half`` (a fraction of the image) around (u, v)."""
        self.box.setRange(QRectF(u - half, v - half, 2 * half, 2 * half), padding=0)
        self._set_zoom(0.5 / half)

    def magnify(self, factor: float, u: float, v: float) -> None:
        """Scale the view by ``factor`` (< 1 magnifies) about the point (u, v)."""
        self.box.scaleBy(s=(factor, factor), center=QPointF(u, v))
        self._set_zoom(self.zoom / factor)

    # --- busy state --------------------------------------------------------------------------
    def set_busy(self, text: Optional[Callable[[], Optional[str]]]) -> None:
        """While ``text`` is set the pane shows a strip over its image with ``text()`` (None: not
        yet, e.g. a job of a moment), refreshed as time passes; None removes it."""
        self.marks.set_busy(text)

    @property
    def busy_text(self) -> str:
        """What the busy strip says now ('' when it is not shown)."""
        return self.marks.busy_text()

    @property
    def zoomed(self) -> bool:
        return self.zoom > ZOOMED_ABOVE

    def _set_zoom(self, zoom: float) -> None:
        self.zoom = zoom
        self.marks.set_zoom(zoom)

    def rendered_rgb(self) -> Optional[np.ndarray]:
        """What the pane shows as uint8 (S, S, 3) (heatmaps colour-mapped), for export."""
        if self.image is None:
            return None
        if self.values is None or self.cmap_kind is None:
            return to_uint8(self.image)
        from .colormaps import map_to_rgb

        return to_uint8(map_to_rgb(self.values, self.cmap_kind, self.levels))

    # --- mouse -----------------------------------------------------------------------------
    def _to_unit(self, pos: QPointF) -> QPointF:
        return self.box.mapSceneToView(self.view.mapToScene(pos.toPoint()))

    def describe_at(self, u: float, v: float) -> str:
        """The readout for the point (u, v) of the image (fractions), or '' outside it: where and
        the value (what the value is, the line above says: ``scale_label``), short enough for a
        narrow pane."""
        if self.image is None or not (0 <= u < 1 and 0 <= v < 1):
            return ""
        s = self.image.shape[0]
        row, col = int(v * s), int(u * self.image.shape[1])
        if self.values is not None:
            value = float(self.values[row, col])
            shown = f"{value:.4g}" if np.isfinite(value) else "none (no surface here)"
            return f"row {row}, col {col}:  value = {shown}"
        rgb = np.asarray(self.image[row, col], np.float64).ravel()
        return f"row {row}, col {col}:  rgb " + " ".join(f"{c:.3f}" for c in rgb)

    def _refresh_readout(self) -> None:
        """The readout follows the cursor and the content: a new image under a resting cursor
        updates it too, so it never describes an image no longer shown."""
        self.hover_text = "" if self._hover_uv is None else self.describe_at(*self._hover_uv)
        self.readout.setText(self.hover_text or " ")

    def _send_pick(self) -> None:
        if self._pending_pick is not None:
            u, v = self._pending_pick
            self._pending_pick = None
            self.picked.emit(u, v)

    def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._press = self._last = event.position()
            self._press_shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self._dragging = False
            self.view.setFocus()           # so the pane's arrow keys work after a click
            return True
        if kind == QEvent.Type.MouseMove:
            pos = event.position()
            if self._press is not None:
                if not self._dragging and (pos - self._press).manhattanLength() >= CLICK_SLOP_PX:
                    self._dragging = True
                    self.drag_started.emit()
                if self._dragging:
                    # Shift held at the press or now: a drag keeps moving the light once started
                    shift = self._press_shift or bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
                    self.dragged.emit(pos.x() - self._last.x(), pos.y() - self._last.y(), shift)
                    self._last = pos
                return True
            p = self._to_unit(pos)
            self._hover_uv = (p.x(), p.y())
            self._refresh_readout()
            return False
        if kind == QEvent.Type.MouseButtonRelease and self._press is not None:
            if self._dragging:
                self.drag_finished.emit()
            else:
                p = self._to_unit(event.position())
                if 0 <= p.x() < 1 and 0 <= p.y() < 1:
                    # a click picks once it is clear no second click follows (a double click fits)
                    self._pending_pick = (p.x(), p.y())
                    self._pick_timer.start(QApplication.doubleClickInterval())
            self._press = None
            self._dragging = False
            return True
        if kind == QEvent.Type.MouseButtonDblClick:
            self._pick_timer.stop()
            self._pending_pick = None
            self._press = None              # the second press does not start a drag either
            self.fitted.emit()
            return True
        if kind == QEvent.Type.Wheel:
            steps = event.angleDelta().y() / 120.0
            if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                c = self._to_unit(event.position())
                self.magnified.emit(0.85 ** steps, c.x(), c.y())
            else:
                self.wheeled.emit(steps)
            return True
        if kind == QEvent.Type.Leave:
            self._hover_uv = None
            self._refresh_readout()
        if kind == QEvent.Type.Resize:
            self.marks.place()
        return super().eventFilter(obj, event)
