"""Small pieces of the main window: the error banner, pane captions and the timing readout."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from renderer import Scene


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


def caption(scene: Scene, title: str) -> str:
    """A pane caption: what it shows, then the settings it was made with (from the result's own
    scene, so a caption never describes a state the image is not of)."""
    st = scene.settings
    return (f"<b>{title}</b><br>{st.renderer} &middot; &sigma; {st.sigma:.2g} &middot; &gamma; {st.gamma:.2g} "
            f"&middot; edge {st.edge_width_px():.2f} px &middot; {st.image_size} px")


def timing_text(render_times: dict, analysis_times: Optional[dict], device: str) -> str:
    """forward (soft render), backward (loss gradients), GL reference and device, for the status bar."""
    forward = render_times.get("soft_ms", render_times.get("forward_ms"))
    parts = [f"forward {forward:.0f} ms" if forward is not None else "forward -"]
    extra = analysis_times or {}
    parts.append(f"backward {extra['backward_ms']:.0f} ms" if "backward_ms" in extra else "backward -")
    for key, name in (("jvp_ms", "dI/dtheta"), ("reference_ms", "GL FD"), ("inspector_ms", "inspector")):
        if key in extra:
            parts.append(f"{name} {extra[key]:.0f} ms")
    parts.append(f"GL {render_times.get('gl_ms', 0.0):.0f} ms")
    if render_times.get("cached"):
        parts.append("(render cached)")
    parts.append(f"device {device}")
    return "   ".join(parts)
