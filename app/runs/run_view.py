"""Optimization runs in the window: the run panel and timeline dock's controller, the run and
reference threads, and playback (``model.playback``), in which the three panes show the recorded
state of the timeline's step:

- the soft pane: the render recorded at that step (the nearest recorded frame if it was thinned,
  and the caption says so);
- the reference pane: the OpenGL reference of the mesh and camera at that step, drawn in the
  reference thread (a shape run's recorded vertices, a pose run's recorded camera, ...);
- the analysis pane: the recorded difference, dL/dI or target of that frame.

Editing the scene leaves playback (the panes show the live scene again); scrubbing, playing or
ticking "show the run in the panes" returns to it.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from renderer.optimize import Timeline
from renderer.registry import get_renderer

from ..model.app_model import IDLE, PAUSED, PAUSING, RUNNING, STARTING, STOPPING, AppModel
from ..panes.scene_panes import ScenePanes
from ..workers.reference_worker import ReferenceScheduler
from ..workers.run_worker import RunRequest, RunScheduler
from .run_files import RunFiles
from .run_panel import RunPanel
from .timeline_dock import TimelineDock
from .timeline_frames import ReferenceRequest, as_rgb, nearest_frame_step, run_label, scalars_at, signed_levels

POLL_MS = 100                  # live-run refresh: at most 10 UI updates per second
PANE_LABELS = {"difference": "difference (render - target)", "dL_dI": "dL/dI", "target": "target"}
THINNED_STYLE = "color: #b36b00"


SYMBOLS = {"sigma": "&sigma;", "gamma": "&gamma;"}


def run_caption(title: str, settings: dict, values: dict, note: str = "") -> str:
    """A pane caption for a recorded state: what it shows, then the settings stamped in the run:
    the renderer, the settings it reads (``RendererSpec.uses``) as recorded at that step (sigma
    and gamma only for a renderer that reads them), the image size."""
    extra = f" <span style='{THINNED_STYLE}'>({note})</span>" if note else ""
    name = str(settings.get("renderer", "?"))
    try:
        uses = get_renderer(name).uses
    except ValueError:                       # a run of a renderer not registered here
        uses = ()
    parts = [name] + [f"{SYMBOLS.get(k, k)} {values[k]:.2g}" for k in uses if k in values and np.isfinite(values[k])]
    parts.append(f"{settings.get('image_size', '?')} px")
    return f"<b>{title}</b>{extra}<br>" + " &middot; ".join(parts)


class RunView(QObject):
    """Owns the run panel and the timeline dock (``panel``, ``dock``: the window docks them), run
    files (``files``) and the threads behind them; shows a run in ``panes`` while
    ``model.playback`` is on (the live renders are not shown meanwhile). ``window``: the parent
    of file dialogs. ``timeline_shown`` asks the window to bring the timeline dock forward."""

    timeline_shown = Signal()

    def __init__(self, model: AppModel, panes: ScenePanes, window: QWidget) -> None:
        super().__init__(window)
        self.model = model
        self.panes = panes
        self.dock = TimelineDock()
        self.panel = RunPanel(model)
        self.runs = RunScheduler(self)
        self.references = ReferenceScheduler(self)
        self.files = RunFiles(model, self, window)
        self.timeline: Optional[Timeline] = None
        self.run_mesh = None                 # the object of the run on show (None: find it by name)
        self.analysis_pane_name = "difference"
        self.runs_started = 0
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(POLL_MS)
        self.poll_timer.timeout.connect(self._poll)

        self.dock.step_changed.connect(self._step_chosen)
        self.dock.show_run_toggled.connect(self.set_playback)
        self.dock.pane_changed.connect(self._pane_chosen)
        self.panel.start_requested.connect(self.start_run)
        self.panel.pause_requested.connect(self.pause)
        self.panel.resume_requested.connect(self.resume)
        self.panel.stop_requested.connect(self.stop)
        self.runs.started.connect(self._run_started)
        self.runs.finished.connect(self._run_finished)
        self.runs.failed.connect(self._run_failed)
        self.references.rendered.connect(self._reference_ready)
        self.references.failed.connect(self._reference_failed)
        model.events.playback.connect(self._playback_changed)
        self._scene = model.scene
        model.events.scene.connect(self._scene_changed)

    # --- playback ----------------------------------------------------------------------------
    @property
    def playback(self) -> bool:
        return self.model.playback

    def set_playback(self, on: bool) -> None:
        """Show the run (True; only when there is one) or the live scene (False) in the panes."""
        on = on and self.timeline is not None
        self.model.playback = on
        self._show_checkbox(on)

    def _show_checkbox(self, on: bool) -> None:
        self.dock.show_run.blockSignals(True)
        self.dock.show_run.setChecked(on)
        self.dock.show_run.blockSignals(False)

    def _playback_changed(self, on: bool) -> None:
        self._show_checkbox(on)
        if on:
            self.show_step(self.dock.current_step)
        else:
            self.dock.stop_playing()
            self.dock.set_note("")

    def _scene_changed(self, scene) -> None:
        if scene is not self._scene:        # (the same scene re-announced after a refused edit is no edit)
            self._scene = scene
            self.leave_playback()

    def leave_playback(self) -> None:
        """The scene was edited: the panes go back to the live scene."""
        self.set_playback(False)

    def show_timeline(self, timeline: Timeline, name: str, mesh: Optional[object] = None, at_end: bool = True) -> None:
        """Scrub ``timeline`` in the dock and show it in the panes. ``mesh``: the run's object
        (None: the window's mesh if it has the run's mesh name, else the bundled asset of it)."""
        self.timeline, self.run_mesh = timeline, mesh
        self.dock.set_timeline(timeline, run_label(timeline, name), at_end=at_end)
        self.timeline_shown.emit()
        if self.playback:
            self.show_step(self.dock.current_step)
        else:
            self.set_playback(True)

    def _step_chosen(self, step: int) -> None:
        if not self.playback and self.timeline is not None and not self.dock.live_update:
            self.set_playback(True)                  # scrubbing means: show me that step
        else:
            self.show_step(step)

    def _pane_chosen(self, name: str) -> None:
        self.analysis_pane_name = name
        self.show_step(self.dock.current_step)

    def show_step(self, step: Optional[int]) -> None:
        """Fill the panes with the recorded state of ``step``."""
        if not self.playback or self.timeline is None or step is None:
            return
        tl, panes = self.timeline, self.panes
        settings = dict(tl.meta.get("settings") or {})
        frame_step = nearest_frame_step(tl.frame_steps, step)
        if frame_step is None:
            self.dock.set_note("this run recorded no frames")
        else:
            frame = tl.frame(frame_step)
            note = "" if frame_step == step else f"nearest recorded frame; step {step} was thinned out"
            self.dock.set_note(f"showing frame {frame_step}: {note}" if note else "")
            values = scalars_at(tl, frame_step)
            panes.soft.set_image(as_rgb(frame["render"]), run_caption(f"recorded render, step {frame_step}",
                                                                       settings, values, note),
                                 source=self._source(frame["render"]))
            self._show_analysis_frame(frame, step, frame_step, settings, values, note)
        self._request_reference(tl, step)

    def _show_analysis_frame(self, frame: dict, step: int, frame_step: int, settings: dict, values: dict,
                             note: str) -> None:
        pane, name = self.panes.analysis, self.analysis_pane_name
        if name not in frame:
            name = "difference"
        data = frame[name]
        caption = run_caption(f"recorded {PANE_LABELS[name]}, step {frame_step}", settings, values, note)
        source = self._source(data)
        if name == "target":
            pane.set_image(as_rgb(data), caption, source=source)
        else:
            signed = data.sum(-1) if data.ndim == 3 else data       # RGB summed, as the exported animation
            label = PANE_LABELS[name] + (" (RGB summed)" if data.ndim == 3 else "")
            pane.set_heatmap(signed, "diverging", signed_levels(signed), label, caption, source=source)
        pane.set_overlays()
        shown = {k: v for k, v in scalars_at(self.timeline, step).items() if np.isfinite(v)}
        pane.notes.setPlainText(f"recorded run, step {step}\n"
                                + "\n".join(f"{k} = {v:.6g}" for k, v in shown.items()))

    def _source(self, image: np.ndarray) -> tuple:
        """The source key of the run's images in the panes (see ``ImagePane.set_image``): a
        view magnified on the live scene fits again on the run's images, and back."""
        return ("run", id(self.timeline), tuple(np.shape(image)[:2]))

    def _request_reference(self, tl: Timeline, step: int) -> None:
        mesh = self.run_mesh
        if mesh is None:                     # the window's mesh, when it is the run's object
            name = (tl.meta.get("task") or {}).get("mesh")
            shown = self.model.scene.shape
            mesh = shown if name and getattr(shown, "name", None) == name else None
        self.references.request(ReferenceRequest(tl, step, mesh))

    def _is_current(self, request: ReferenceRequest) -> bool:
        return self.playback and self.timeline is not None and request.timeline is self.timeline

    def _reference_ready(self, request: ReferenceRequest, notes: list[str], rgb: np.ndarray) -> None:
        if not self._is_current(request):
            return
        settings = request.timeline.meta.get("settings") or {}
        caption = (f"<b>OpenGL reference, step {request.step}</b>"
                   + (f" <span style='{THINNED_STYLE}'>({'; '.join(notes)})</span>" if notes else "")
                   + f"<br>{settings.get('lighting', '?')} lighting &middot; the state recorded at that step "
                     f"&middot; {settings.get('image_size', '?')} px")
        self.panes.reference.set_image(rgb, caption, source=("run", id(request.timeline), tuple(rgb.shape[:2])))

    def _reference_failed(self, request: ReferenceRequest, message: str) -> None:
        if not self._is_current(request):
            return
        size = int((request.timeline.meta.get("settings") or {}).get("image_size", 64))
        self.panes.reference.set_image(np.zeros((size, size, 3), np.float32),
                                       f"<b>OpenGL reference, step {request.step}: not available</b><br>{message}",
                                       source=("run", id(request.timeline), (size, size)))

    # --- runs --------------------------------------------------------------------------------
    def start_run(self, task: str, preset: str, overrides: dict) -> bool:
        """Start a run of ``task`` on the window's current scene; False (and a message) when one
        is already going."""
        if self.runs.active:
            self.model.report_error("a run is still going: stop it first", source="run")
            return False
        request = RunRequest(task=task, preset=preset, scene=self.model.scene.copy(), overrides=dict(overrides),
                             mesh_path=self.model.mesh_path)
        self.runs.start(request)
        self.model.run_state = STARTING
        shown = ", ".join(f"{k} {getattr(v, 'describe', lambda: v)()}" for k, v in overrides.items())
        self.panel.log(f"starting {task}/{preset} on {request.scene.shape.name}: {shown}")
        return True

    def pause(self) -> None:
        self.runs.pause()
        self.model.run_state = PAUSING

    def resume(self) -> None:
        self.runs.resume()
        self.model.run_state = RUNNING

    def stop(self) -> None:
        self.runs.stop()
        self.model.run_state = STOPPING

    def _run_started(self, run, request: RunRequest) -> None:
        self.runs_started += 1
        name = f"{request.task} run {self.runs_started}"
        # the run's object, for the references (a shape run's frames hold their own vertices)
        self.show_timeline(run.timeline, name, mesh=request.scene.shape)
        if self.model.run_state == STARTING:
            self.model.run_state = RUNNING
        self.panel.status.setText(f"{name}: running")
        self.poll_timer.start()

    def _poll(self) -> None:
        """The live run's progress, at most every POLL_MS: curves, scrubber, panes, progress bar."""
        run = self.runs.run
        if run is None:
            return
        self.dock.refresh()                       # follows the newest step unless scrubbed back
        state = self.model.run_state
        if state == PAUSING and run.status == "paused":
            self.model.run_state = state = PAUSED
        self.panel.status.setText(f"{self.dock.primary.label if self.dock.primary else 'run'}: {state}")
        done = run.next_step
        elapsed = run.timeline.last().get("time", 0.0)
        self.panel.set_progress(done, run.config.steps, elapsed / done if done else float("nan"), state)

    def _run_finished(self, run, summary: str) -> None:
        self.poll_timer.stop()
        self._poll()
        self.panel.finish(summary)
        self.panel.log(summary)
        if run.status == "failed":
            self.model.report_error(f"run failed: {run.message}", source="run")
        else:
            self.model.report_status(f"run {run.status}: {run.message}", 10000)

    def _run_failed(self, message: str, run) -> None:
        self.poll_timer.stop()
        if run is not None:
            self._poll()
        text = f"run error: {message}" + ("" if run is None else f" (history of {run.next_step} steps kept)")
        self.panel.finish(text)
        self.panel.log(text)
        self.model.report_error(text, source="run")

    @property
    def running(self) -> bool:
        """A run is being built or stepped (not paused, not over)."""
        return self.runs.active and self.model.run_state not in (PAUSED, IDLE)

    def shutdown(self) -> None:
        self.poll_timer.stop()
        self.dock.stop_playing()
        self.runs.shutdown()
        self.references.stop()

