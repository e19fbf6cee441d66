"""The live render requests: whenever something a render or an analysis depends on changes in the
model, ask the render worker for the model's current state (requests coalesce there, latest
wins). While a drag goes on the renders are fast previews; its release asks for the full one.

Before asking, the render's time is predicted from its pair count (``estimate_pairs``, a few
milliseconds) and the rate ``RenderCost`` has learnt from the renders timed so far. A render
predicted to exceed ``model.render_budget_s`` is held (``model.held_render``) until the user says
go (``model.approve_render``) or back (``model.cancel_render``); a drag's preview over the budget
is skipped. While a job runs, ``model.busy`` says what is being made and since when (the panes
show it); cancelling stops the job in the worker and puts the scene back to what the panes show.
"""
from __future__ import annotations

import time
from typing import Optional

from renderer.errors import describe_error
from renderer.registry import get_renderer

from ..model.app_model import AppModel
from ..model.jobs import RenderJob, scene_key, shape_key
from ..model.modes import get_mode
from ..model.render_work import Busy, HeldRender, RenderCost, describe_seconds
from ..workers.render_worker import RenderScheduler

PREVIEW_SIZE = 128          # resolution of the fast preview while a slider or the camera is dragged
DEPENDS_ON = ("scene", "mode", "loss", "param", "target_kind", "target_pose", "target_image", "pick",
              "magnitude_scale")


def settings_label(scene) -> str:
    """What a render of ``scene`` is, in the captions' words: 'softras, sigma=0.003, gamma=0.0001
    · 256 px'."""
    st = scene.settings
    return f"{get_renderer(st.renderer).label(st)} \u00b7 {st.image_size} px"


def approval_key(scene) -> tuple:
    """What a "render it anyway" covers: the shape and the render settings (orbiting the camera
    or changing the analysis does not ask again)."""
    return (shape_key(scene.shape), scene.settings)


class LiveRenders:
    """Connects ``model`` to ``scheduler``; ``cost`` predicts render times (and learns from the
    renders timed here)."""

    def __init__(self, model: AppModel, scheduler: RenderScheduler, cost: Optional[RenderCost] = None) -> None:
        self.model = model
        self.scheduler = scheduler
        self.cost = cost if cost is not None else RenderCost()
        self._approved: Optional[tuple] = None
        self._pairs: dict[int, Optional[int]] = {}      # request id -> its pair count (to learn from)
        self._latest: Optional[RenderJob] = None
        self._hint: Optional[tuple[tuple, float, str]] = None   # (approval key, seconds, why)
        self._warm = False                  # the first timed render also pays the worker's warm-up
        for name in DEPENDS_ON:
            getattr(model.events, name).connect(lambda value: self.request())
        # the full-resolution render and analysis on release; the live scene again after playback
        model.events.dragging.connect(lambda on: None if on else self.request())
        model.events.playback.connect(lambda on: None if on else self.request())
        model.events.render_budget_s.connect(lambda seconds: self.request() if model.held_render else None)
        model.events.render_go.connect(self._approve)
        model.events.render_cancel.connect(self.cancel)
        scheduler.stage_done.connect(self._stage_done)
        scheduler.rendered.connect(self._learn)
        scheduler.idle.connect(lambda: setattr(model, "busy", None))

    def expect(self, seconds: float, why: str, scene) -> None:
        """A render of ``scene``'s mesh and settings takes at least ``seconds`` (measured in the
        last session, for settings restored at start-up); ``why`` goes into the question if that
        is over the budget. Used once, by the first full request for those settings."""
        self._hint = (approval_key(scene), float(seconds), why)

    def predict(self, scene) -> tuple[Optional[int], Optional[float]]:
        """(pairs, seconds) of a render of ``scene``; (None, None) when its renderer cannot say."""
        from renderer.rendering import estimate_pairs

        try:
            pairs = estimate_pairs(scene)
        except Exception:  # noqa: BLE001 - a scene the renderer refuses: the render will say why
            return None, None
        return pairs, self.cost.predict(pairs)

    def request(self) -> None:
        """Ask for the render and analysis of the model's current state (a private copy), unless
        it is predicted to be too slow and the user has not said go."""
        model = self.model
        scene = model.scene.copy()
        preview = model.dragging
        if preview and scene.settings.image_size > PREVIEW_SIZE:
            scene = scene.with_settings(image_size=PREVIEW_SIZE)
        pairs, seconds = self.predict(scene)
        reason = ""
        if self._hint is not None and not preview and self._hint[0] == approval_key(scene):
            _, measured, why = self._hint
            self._hint = None
            seconds = measured if seconds is None else max(seconds, measured)
            reason = why                            # said whenever restored settings are held
        budget = model.render_budget_s
        if budget > 0 and seconds is not None and seconds > budget and approval_key(scene) != self._approved:
            self.scheduler.drop_pending()           # an older request waiting must not render either
            if preview:
                model.report_status(f"preview skipped: it would take about {describe_seconds(seconds)}; "
                                    "the full render is asked for on release", 4000)
                return
            model.busy = None
            model.held_render = HeldRender(settings_label(scene), seconds, pairs, budget, reason)
            return
        model.held_render = None
        job = RenderJob(scene, model.analysis_request(), preview=preview)
        request_id = self.scheduler.request(job)
        self._latest = job
        self._pairs = {k: v for k, v in self._pairs.items() if k >= request_id - 4}
        self._pairs[request_id] = pairs
        # a job still running delays this one: the panes have been waiting since it started
        started = model.busy.started if model.busy is not None else time.monotonic()
        model.busy = Busy("render", settings_label(scene), started, seconds)

    def _approve(self) -> None:
        if self.model.held_render is not None:
            self._approved = approval_key(self.model.scene)
            self.request()

    def cancel(self) -> None:
        """Stop the running job and drop a held one; the scene returns to what the panes show."""
        model = self.model
        held, busy = model.held_render, model.busy
        self.scheduler.cancel()
        model.update(busy=None, held_render=None)
        what = held.label if held is not None else busy.label if busy is not None else None
        shown = model.rendered_scene
        if shown is not None and scene_key(shown) != scene_key(model.scene):
            model.scene = shown                     # asks again: the worker has it cached
            model.report_status(f"cancelled {what or 'the render'}; the settings are back to what the "
                                "panes show", 10000)
        elif what is not None:
            model.report_status(f"cancelled: {what}; the panes show the last finished result", 10000)

    def _stage_done(self, request_id: int, stage: str) -> None:
        """Advance ``model.busy`` when the newest job moves on (an older job's results say
        nothing about the one the panes wait for)."""
        if request_id != self.scheduler.latest_request:
            return
        job, model = self._latest, self.model
        if stage == "rendered" and job is not None and job.analysis is not None \
                and (not job.preview or get_mode(job.analysis.mode).cheap):
            mode = get_mode(job.analysis.mode)
            model.busy = Busy("analysis", f"{mode.label} of {settings_label(job.scene)}", time.monotonic())
        else:
            model.busy = None

    def _learn(self, result: dict) -> None:
        times = result.get("times", {})
        if times.get("cached") or "soft_ms" not in times:
            return
        if not self._warm:
            self._warm = True
            return
        pairs = self._pairs.get(result.get("request_id", -1))
        try:
            self.cost.learn(pairs, times["soft_ms"] / 1e3)
        except Exception as exc:  # noqa: BLE001 - a prediction aid must never break the window
            self.model.report_status(f"render timing not learnt: {describe_error(exc)}", 4000)
