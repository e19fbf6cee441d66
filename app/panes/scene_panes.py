"""The three panes of the live scene side by side: the differentiable render, its reference and
the analysis. Mouse input on any pane writes the model (drag orbits the camera, Shift+drag moves
the light, the wheel zooms, a click picks a pixel); magnifying and fitting keep the three views
aligned. ``show_render``/``show_analysis`` draw the worker's results."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter

from renderer.registry import get_renderer

from ..model.app_model import AppModel
from ..model.jobs import AnalysisResult
from ..model.modes import get_mode
from ..model.render_work import describe_seconds
from .analysis_pane import AnalysisPane
from .captions import reference_caption, render_caption
from .image_pane import ImagePane

ORBIT_DEG_PER_PX = 0.4


class ScenePanes(QSplitter):
    """``soft``, ``reference`` and ``analysis`` panes of ``model``'s scene (``panes``: all three)."""

    def __init__(self, model: AppModel) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.model = model
        self.soft = ImagePane("differentiable render")
        self.reference = ImagePane("OpenGL reference")
        self.analysis = AnalysisPane(model)
        self.panes = (self.soft, self.reference, self.analysis)
        self._zoomed_to_pick = False
        for pane in self.panes:
            self.addWidget(pane)
            pane.dragged.connect(self._dragged)
            pane.drag_started.connect(lambda: setattr(model, "dragging", True))
            pane.drag_finished.connect(lambda: setattr(model, "dragging", False))
            pane.wheeled.connect(model.zoom)
            pane.picked.connect(lambda u, v: setattr(model, "pick", (u, v)))
            pane.magnified.connect(self.magnify)
            pane.fitted.connect(self.fit_views)
        model.events.pick.connect(self._show_pick)
        model.events.mode.connect(self._mode_changed)
        model.events.playback.connect(self._playback_changed)
        for event in (model.events.busy, model.events.held_render, model.events.playback):
            event.connect(lambda value: self._show_work())

    # --- input -------------------------------------------------------------------------------
    def _dragged(self, dx: float, dy: float, shift: bool) -> None:
        if shift:                      # Shift+drag moves the light the way the camera orbits
            self.model.move_light_by(dx * ORBIT_DEG_PER_PX, -dy * ORBIT_DEG_PER_PX)
        else:
            self.model.orbit_by(-dx * ORBIT_DEG_PER_PX, dy * ORBIT_DEG_PER_PX)

    def _show_pick(self, pick: Optional[tuple[float, float]]) -> None:
        for pane in self.panes:
            pane.set_marker(pick)
        if pick is None:
            self.reference.set_overlays()
            self.reference.set_selected_face(None)

    def _mode_changed(self, name: str) -> None:
        if self._zoomed_to_pick and not get_mode(name).zoom_to_pick:
            self.analysis.fit_view()
            self._zoomed_to_pick = False

    def _playback_changed(self, on: bool) -> None:
        if on:                         # live-scene overlays belong to another image
            self.reference.set_overlays()
            self.reference.set_selected_face(None)
            self.analysis.set_overlays()
        for pane in self.panes:        # the picked pixel is a pixel of the live scene
            pane.set_marker(None if on else self.model.pick)

    def _show_work(self) -> None:
        """The busy strip on each pane whose image is being made (the soft render and its
        reference first, then the analysis), or the held render's question on all three."""
        model = self.model
        if model.playback:                 # the panes show a recorded run, not the live jobs
            for pane in self.panes:
                pane.set_busy(None)
            return
        held, busy = model.held_render, model.busy
        if held is not None:
            text = (f"not rendered yet: {held.label} would take about {describe_seconds(held.predicted_s)}; "
                    "Render, or Esc to go back (bar above)")
            for pane in self.panes:
                pane.set_busy(lambda text=text: text)
            return
        for pane in self.panes:
            waits = busy is not None and (busy.stage == "render" or pane is self.analysis)
            pane.set_busy(None if not waits else lambda: self._busy_line())

    def _busy_line(self) -> Optional[str]:
        busy = self.model.busy
        if busy is None or not busy.shown:
            return None
        return f"{busy.describe()}  \u00b7  Esc cancels"

    # --- views -------------------------------------------------------------------------------
    def magnify(self, factor: float, u: float, v: float) -> None:
        for pane in self.panes:
            pane.magnify(factor, u, v)

    def fit_views(self) -> None:
        for pane in self.panes:
            pane.fit_view()

    def zoom_to_pick(self) -> bool:
        """Magnify every pane to the neighbourhood of the picked pixel; False when none is picked."""
        if self.model.pick is None:
            return False
        st = self.model.scene.settings
        half = max(12.0, 3.0 * self.model.renderer_spec.edge_width_px(st)) / st.image_size
        for pane in self.panes:
            pane.zoom_to(*self.model.pick, half)
        return True

    def highlight_face(self, row: int) -> None:
        """Outline the inspector's face number ``row`` in the reference (-1: none)."""
        result = self.analysis.last_result
        if row < 0 or result is None or result.face_outlines is None or row >= len(result.face_outlines):
            self.reference.set_selected_face(None)
            return
        self.reference.set_selected_face(result.face_outlines[row], result.scene.settings.image_size)

    # --- results -----------------------------------------------------------------------------
    def live_source(self) -> tuple:
        """The source key of live images: the scene at the resolution the user chose (a drag's
        low-resolution preview is the same source: the view the user magnified stays)."""
        return ("live", self.model.scene.settings.image_size)

    def show_render(self, result: dict) -> None:
        """The worker's two renders ({"scene", "soft", "gl", "preview", ...})."""
        scene = result["scene"]
        source = self.live_source()
        self.soft.set_image(result["soft"]["rgb"], render_caption(scene, "differentiable render"), source=source)
        self.reference.set_image(result["gl"]["rgb"],
                                 reference_caption(scene, f"OpenGL reference ({scene.settings.lighting})"),
                                 source=source)
        if result["preview"]:
            self.reference.set_overlays()        # the outlined faces have moved; back on release
            if not get_mode(self.model.mode).cheap:
                self.analysis.mark_stale("updates on release")

    def show_analysis(self, result: AnalysisResult) -> None:
        scene = result.scene
        mode = get_mode(result.request.mode)
        self.analysis.show_result(result, render_caption(scene, f"analysis: {mode.label}"), self.live_source())
        if result.inspector is not None:
            self.reference.set_overlays(scene.settings.image_size, outlines=result.face_outlines)
        if mode.zoom_to_pick and result.request.pick is not None:
            # the faces that reach one pixel span a few pixels: show that neighbourhood
            spec = get_renderer(scene.settings.renderer)
            half = max(8.0, 2.0 * spec.edge_width_px(scene.settings) + 4.0) / scene.settings.image_size
            self.analysis.zoom_to(*result.request.pick, half)
            self._zoomed_to_pick = True
