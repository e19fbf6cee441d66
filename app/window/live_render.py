"""The live render requests: whenever something a render or an analysis depends on changes in the
model, ask the render worker for the model's current state (requests coalesce there, latest
wins). While a drag goes on the renders are fast previews; its release asks for the full one."""
from __future__ import annotations

from ..model.app_model import AppModel
from ..model.jobs import RenderJob
from ..workers.render_worker import RenderScheduler

PREVIEW_SIZE = 128          # resolution of the fast preview while a slider or the camera is dragged
DEPENDS_ON = ("scene", "mode", "loss", "param", "target_kind", "target_pose", "target_image", "pick")


class LiveRenders:
    """Connects ``model`` to ``scheduler``."""

    def __init__(self, model: AppModel, scheduler: RenderScheduler) -> None:
        self.model = model
        self.scheduler = scheduler
        for name in DEPENDS_ON:
            getattr(model.events, name).connect(lambda value: self.request())
        # the full-resolution render and analysis on release; the live scene again after playback
        model.events.dragging.connect(lambda on: None if on else self.request())
        model.events.playback.connect(lambda on: None if on else self.request())

    def request(self) -> None:
        """Ask for the render and analysis of the model's current state (a private copy)."""
        model = self.model
        scene = model.scene.copy()
        if model.dragging and scene.settings.image_size > PREVIEW_SIZE:
            scene = scene.with_settings(image_size=PREVIEW_SIZE)
        self.scheduler.request(RenderJob(scene, model.analysis_request(), preview=model.dragging))
