"""Small reusable input widgets: a log-scale slider with an editable number, a labelled linear
slider, and a colour button."""
from __future__ import annotations

import math

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QDoubleValidator
from PySide6.QtWidgets import (QAbstractSlider, QAbstractSpinBox, QColorDialog, QComboBox, QFrame,
                               QHBoxLayout, QLineEdit, QPushButton, QScrollArea, QSlider, QWidget)

STEPS = 1000
NUMBER_BOX_PX = 68          # wide enough for "0.000143" and "-180.5"
COMBO_MIN_CHARS = 8         # a combo may shrink to this many characters (its list shows all)


def compact_combo(combo: QComboBox, chars: int = COMBO_MIN_CHARS) -> QComboBox:
    """Let ``combo`` shrink below its longest item (the popup still shows items in full), so a
    narrow dock never needs a horizontal scroll bar to reach its arrow."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)
    return combo


def scrollable(body: QWidget) -> QScrollArea:
    """``body`` in a vertical scroll area for a dock: a short window scrolls the dock instead of
    squeezing its controls over each other (or over the dock's tab bar)."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(body)
    guard_wheel(area)
    return area


class _WheelGuard(QObject):
    """The wheel over a combo, spin box or slider that has no focus scrolls the dock instead of
    changing the value under the cursor (scrolling a dock must not edit the scene)."""

    def __init__(self, area: QScrollArea) -> None:
        super().__init__(area)
        self.area = area

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            QCoreApplication.sendEvent(self.area.verticalScrollBar(), event)
            return True
        return False


def guard_wheel(area: QScrollArea) -> None:
    """Install the wheel guard on every value control inside ``area`` (call once it is filled)."""
    guard = _WheelGuard(area)
    for control in area.widget().findChildren(QWidget):
        if isinstance(control, (QComboBox, QAbstractSpinBox, QAbstractSlider)):
            control.setFocusPolicy(Qt.FocusPolicy.StrongFocus)      # a click focuses, the wheel alone does not
            control.installEventFilter(guard)


class _NumberSlider(QWidget):
    """A slider beside a text box that accepts any number in [lo, hi]. Emits
    ``valueChanged(float)`` when the value changes; ``sliderPressed``/``sliderReleased`` pass
    through for preview-while-dragging. Subclasses map values to slider positions."""

    valueChanged = Signal(float)
    sliderPressed = Signal()
    sliderReleased = Signal()

    def __init__(self, lo: float, hi: float, value: float, positions: int, decimals: int,
                 tooltip: str) -> None:
        super().__init__()
        self.lo, self.hi = lo, hi
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, positions)
        self.slider.setMinimumWidth(60)
        self.edit = QLineEdit()
        self.edit.setFixedWidth(NUMBER_BOX_PX)
        self.edit.setValidator(QDoubleValidator(lo, hi, decimals))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.edit)
        self.setToolTip(tooltip)
        self._value = None
        self.set_value(value, emit=False)
        self.slider.valueChanged.connect(lambda pos: self.set_value(self._from_pos(pos)))
        self.slider.sliderPressed.connect(self.sliderPressed)
        self.slider.sliderReleased.connect(self.sliderReleased)
        self.edit.editingFinished.connect(self._from_edit)

    def _to_pos(self, value: float) -> int:
        raise NotImplementedError

    def _from_pos(self, pos: int) -> float:
        raise NotImplementedError

    def _text(self, value: float) -> str:
        return f"{value:g}"

    def value(self) -> float:
        return self._value

    def set_value(self, value: float, emit: bool = True) -> None:
        value = min(self.hi, max(self.lo, float(value)))
        changed = value != self._value
        self._value = value
        self.slider.blockSignals(True)
        self.slider.setValue(self._to_pos(value))
        self.slider.blockSignals(False)
        self.edit.setText(self._text(value))
        if emit and changed:
            self.valueChanged.emit(value)

    def _from_edit(self) -> None:
        try:
            self.set_value(float(self.edit.text()))
        except ValueError:
            self.edit.setText(self._text(self._value))


class LogSlider(_NumberSlider):
    """A slider over [lo, hi] on a log scale (values from the slider rounded to 3 significant
    digits), beside an editable number."""

    def __init__(self, lo: float, hi: float, value: float, tooltip: str = "") -> None:
        super().__init__(lo, hi, value, STEPS, 10, tooltip)

    def _span(self) -> tuple[float, float]:
        return math.log10(self.lo), math.log10(self.hi) - math.log10(self.lo)

    def _to_pos(self, value: float) -> int:
        start, width = self._span()
        return round(min(1.0, max(0.0, (math.log10(value) - start) / width)) * STEPS)

    def _from_pos(self, pos: int) -> float:
        start, width = self._span()
        return float(f"{10 ** (start + pos / STEPS * width):.3g}")

    def _text(self, value: float) -> str:
        return f"{value:.3g}"


class ValueSlider(_NumberSlider):
    """A linear slider over [lo, hi] with a given step, beside an editable number."""

    def __init__(self, lo: float, hi: float, value: float, step: float = 1.0, tooltip: str = "") -> None:
        self.step = step
        super().__init__(lo, hi, value, round((hi - lo) / step), 6, tooltip)

    def _to_pos(self, value: float) -> int:
        return round((value - self.lo) / self.step)

    def _from_pos(self, pos: int) -> float:
        return self.lo + pos * self.step


class ColorButton(QPushButton):
    """A button showing an RGB colour in [0, 1]; clicking opens a colour dialog."""

    colorChanged = Signal(tuple)

    def __init__(self, rgb: tuple[float, float, float], tooltip: str = "") -> None:
        super().__init__()
        self.setToolTip(tooltip)
        self.rgb = rgb
        self._paint()
        self.clicked.connect(self._pick)

    def set_rgb(self, rgb: tuple[float, float, float], emit: bool = True) -> None:
        self.rgb = tuple(float(c) for c in rgb)
        self._paint()
        if emit:
            self.colorChanged.emit(self.rgb)

    def _paint(self) -> None:
        c = QColor.fromRgbF(*self.rgb)
        self.setStyleSheet(f"background-color: {c.name()}; min-width: 40px;")
        self.setText(f"{self.rgb[0]:.2f}, {self.rgb[1]:.2f}, {self.rgb[2]:.2f}")

    def _pick(self) -> None:
        c = QColorDialog.getColor(QColor.fromRgbF(*self.rgb), self)
        if c.isValid():
            self.set_rgb((c.redF(), c.greenF(), c.blueF()))
