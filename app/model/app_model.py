"""The app's one model (no Qt): the scene every pane shows, what the analysis pane computes and
against which target, the picked pixel, whether a drag is going on, the optimisation run's state,
and the files in use. Widgets are views of it: they subscribe to ``model.events.<field>`` and
write back by assigning fields or calling the methods below; nothing else holds this state.

Only the GUI thread touches the model; the workers receive copies (``analysis_request``,
``scene.copy()``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Mapping, Optional

from renderer import OrbitCamera, Scene
from renderer.edits import apply_edit, dragged_light_angles
from renderer.errors import describe_error
from renderer.registry import RendererSpec, default_renderer, get_renderer
from renderer.shapes import Shape

from .evented import EventedModel
from .jobs import MAGNITUDE_SCALES, TARGET_KINDS, AnalysisRequest, TargetImage, TargetSpec
from .modes import DEFAULT_MODE, LOSS_CHOICES, get_mode, mode_applies, modes
from .render_work import DEFAULT_BUDGET_S, Busy, HeldRender

DEFAULT_CAMERA = dict(azimuth=30.0, elevation=20.0, distance=2.6, fov=60.0)
# the default loss target: the reference seen 15 degrees further round than the default camera
DEFAULT_TARGET_POSE = (("azimuth", DEFAULT_CAMERA["azimuth"] + 15.0), ("elevation", DEFAULT_CAMERA["elevation"]),
                       ("distance", DEFAULT_CAMERA["distance"]))
TARGET_POSE_NAMES = tuple(name for name, _ in DEFAULT_TARGET_POSE)
IDLE, STARTING, RUNNING, PAUSING, PAUSED, STOPPING = "idle", "starting", "running", "pausing", "paused", "stopping"
RUN_STATES = (IDLE, STARTING, RUNNING, PAUSING, PAUSED, STOPPING)
MAX_RECENT = 8
DISTANCE_RANGE = (0.5, 20.0)


class AppModel(EventedModel):
    """Fields (each with ``events.<name>``): scene; mode, loss, param (theta of dI/dtheta);
    target_kind ("pose", "image", "current"), target_pose ((name, value) pairs), target_image;
    pick ((u, v) fractions of the image, or None); magnitude_scale (how per-vertex magnitudes
    are coloured, ``jobs.MAGNITUDE_SCALES``); dragging (a slider or a pane is being dragged:
    renders are fast previews); run_state (``RUN_STATES``); playback (the panes show a recorded
    run instead of the live scene); mesh_path; recent_files; render work (``render_work``):
    busy (the job the panes wait for, or None), held_render (a render over the budget waiting
    for the user's go, or None), render_budget_s (the preference: ask before renders predicted
    to take longer; 0 never asks), rendered_scene (the scene the panes' live images are of).

    Extra events: ``error(message, source)``, ``error_cleared(source)`` (None: any) and
    ``status(message, timeout_ms)``: what the window's banner and status bar show;
    ``render_go()`` and ``render_cancel()``: the user's answer about a held or running render
    (the live-render controller acts on them)."""

    IDENTITY_FIELDS: ClassVar[tuple[str, ...]] = ("scene", "target_image", "rendered_scene")
    EXTRA_EVENTS: ClassVar[tuple[str, ...]] = ("error", "error_cleared", "status", "render_go", "render_cancel")

    scene: Scene
    mode: str = DEFAULT_MODE
    loss: str = LOSS_CHOICES[0]
    param: str = "azimuth"
    target_kind: str = "pose"
    target_pose: tuple = DEFAULT_TARGET_POSE
    target_image: Optional[TargetImage] = None
    pick: Optional[tuple] = None
    magnitude_scale: str = "log"
    dragging: bool = False
    run_state: str = IDLE
    playback: bool = False
    mesh_path: Optional[str] = None
    recent_files: tuple = ()
    busy: Optional[Busy] = None
    held_render: Optional[HeldRender] = None
    render_budget_s: float = DEFAULT_BUDGET_S
    rendered_scene: Optional[Scene] = None

    # --- validation (assignments from views, restore and tests all pass here) ------------------
    def _validate_mode(self, name: str) -> str:
        return get_mode(name).name

    def _validate_loss(self, name: str) -> str:
        if name not in LOSS_CHOICES:
            raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(LOSS_CHOICES)}")
        return name

    def _validate_param(self, text: str) -> str:
        return str(text).strip()

    def _validate_target_kind(self, kind: str) -> str:
        if kind not in TARGET_KINDS:
            raise ValueError(f"unknown target kind {kind!r}; expected one of {', '.join(TARGET_KINDS)}")
        return kind

    def _validate_target_pose(self, pose: Any) -> tuple:
        pairs = dict(pose.items() if isinstance(pose, Mapping) else pose)
        return tuple((name, float(pairs[name])) for name in TARGET_POSE_NAMES if name in pairs)

    def _validate_magnitude_scale(self, scale: str) -> str:
        if scale not in MAGNITUDE_SCALES:
            raise ValueError(f"unknown colour scale {scale!r}; expected one of {', '.join(MAGNITUDE_SCALES)}")
        return scale

    def _validate_pick(self, pick: Optional[tuple]) -> Optional[tuple]:
        return None if pick is None else (float(pick[0]), float(pick[1]))

    def _validate_run_state(self, state: str) -> str:
        if state not in RUN_STATES:
            raise ValueError(f"unknown run state {state!r}")
        return state

    def _validate_render_budget_s(self, seconds: Any) -> float:
        seconds = float(seconds)
        if not (seconds >= 0 and seconds < float("inf")):
            raise ValueError(f"the render time budget must be 0 (never ask) or a positive number of seconds, "
                             f"got {seconds}")
        return seconds

    def _validate_recent_files(self, paths: Any) -> tuple:
        return tuple(str(p) for p in paths)[:MAX_RECENT]

    # --- the scene -------------------------------------------------------------------------------
    @property
    def renderer_spec(self) -> RendererSpec:
        """The registry entry of the differentiable renderer the scene is drawn with."""
        return get_renderer(self.scene.settings.renderer)

    def edit(self, name: str, value: Any) -> bool:
        """Apply one named control change (``renderer.edits.apply_edit``). A refused value is an
        ``error`` event, and the scene is re-announced so the controls show the value in use."""
        try:
            scene = apply_edit(self.scene, name, value)
        except (ValueError, TypeError) as exc:
            self.report_error(describe_error(exc))
            self.refresh("scene")
            return False
        self.scene = scene
        return True

    def scale_sigma(self, factor: float) -> None:
        from renderer import SIGMA_RANGE

        sigma = min(SIGMA_RANGE[1], max(SIGMA_RANGE[0], self.scene.settings.sigma * factor))
        self.edit("sigma", float(f"{sigma:.3g}"))

    def reset_camera(self) -> None:
        self.scene = self.scene.replace(camera=OrbitCamera(**DEFAULT_CAMERA))

    def orbit_by(self, d_azimuth: float, d_elevation: float) -> None:
        """Turn the camera about the object (azimuth wraps, elevation stops short of the poles)."""
        cam = self.scene.camera
        self.scene = self.scene.with_camera(
            azimuth=(float(cam.azimuth) + d_azimuth + 180.0) % 360.0 - 180.0,
            elevation=max(-89.0, min(89.0, float(cam.elevation) + d_elevation)))

    def zoom(self, steps: float) -> None:
        """Move the camera 10% closer per step (negative: farther)."""
        distance = float(self.scene.camera.distance) * (0.9 ** steps)
        self.scene = self.scene.with_camera(distance=max(DISTANCE_RANGE[0], min(DISTANCE_RANGE[1], distance)))

    def move_light_by(self, d_azimuth: float, d_elevation: float) -> None:
        self.edit("light_angles", dragged_light_angles(self.scene, d_azimuth, d_elevation))

    # --- the analysis ----------------------------------------------------------------------------
    def set_target_pose(self, **values: float) -> None:
        """Change some of the target camera's azimuth, elevation, distance."""
        self.target_pose = dict(self.target_pose) | values

    def copy_pose_from_camera(self) -> None:
        cam = self.scene.camera
        self.set_target_pose(**{name: float(getattr(cam, name)) for name in TARGET_POSE_NAMES})

    def use_target_image(self, image: TargetImage) -> None:
        """Make ``image`` the loss target."""
        self.target_image = image
        self.target_kind = "image"

    def target_spec(self) -> TargetSpec:
        image = self.target_image
        return TargetSpec(kind=self.target_kind, pose=self.target_pose,
                          image=None if image is None else image.pixels,
                          image_name="" if image is None else image.name)

    def analysis_request(self) -> AnalysisRequest:
        """What the worker computes for the analysis pane and the inspector, now."""
        return AnalysisRequest(mode=self.mode, loss=self.loss, param=self.param, target=self.target_spec(),
                               pick=self.pick, magnitude_scale=self.magnitude_scale)

    # --- render work -----------------------------------------------------------------------------
    def approve_render(self) -> None:
        """Render the held (slow) settings anyway."""
        if self.held_render is not None:
            self.events.render_go.emit()

    def cancel_render(self) -> None:
        """Stop the running render or drop the held one; the scene goes back to what the panes
        show."""
        self.events.render_cancel.emit()

    def escape(self) -> None:
        """Esc: cancel a render that is held or shown as busy (a job of a moment is left to
        finish), else clear the picked pixel."""
        if self.held_render is not None or (self.busy is not None and self.busy.shown):
            self.cancel_render()
        else:
            self.pick = None

    # --- files and messages ----------------------------------------------------------------------
    def remember(self, path: str) -> None:
        """Put ``path`` first in the recent files."""
        self.recent_files = (path,) + tuple(p for p in self.recent_files if p != path)

    def open_mesh(self, mesh: Shape, path: str) -> None:
        """Show ``mesh`` or any other shape (read from ``path``): the picked pixel belongs to the
        old one. A shape of another representation switches to its first differentiable renderer
        when the current one cannot draw it, and to the first analysis mode when the current one
        does not apply there."""
        self.mesh_path = str(Path(path).resolve())
        self.remember(self.mesh_path)
        self.pick = None
        scene = self.scene.replace(shape=mesh)
        if not get_renderer(scene.settings.renderer).accepts(scene.kind):
            scene = scene.with_settings(renderer=default_renderer(scene.kind).name)
        spec = get_renderer(scene.settings.renderer)
        if not mode_applies(self.mode, spec, scene.kind):
            self.mode = next((m.name for m in modes() if mode_applies(m.name, spec, scene.kind)), self.mode)
        self.scene = scene

    def report_error(self, message: str, source: str = "") -> None:
        """``source``: who reports it, so that a later success of the same kind can clear it."""
        self.events.error.emit(message, source)

    def clear_error(self, source: Optional[str] = None) -> None:
        self.events.error_cleared.emit(source)

    def report_status(self, message: str, timeout_ms: int = 8000) -> None:
        self.events.status.emit(message, timeout_ms)
