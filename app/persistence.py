"""What survives a restart (QSettings, INI format): the last mesh, every control's value, the
analysis mode, the loss target, recent files and the window layout.

Values are stored as JSON strings, so types come back as they went in on every platform.
Tests point QSettings elsewhere (``QSettings.setPath``) or pass their own QSettings object.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings

from renderer import Scene
from renderer.edits import apply_edit, light_angles

if TYPE_CHECKING:
    from .main_window import MainWindow

ORGANIZATION = "diffrender-debugger"
APPLICATION = "diffrender-debugger"
SETTINGS_FIELDS = ("renderer", "sigma", "gamma", "image_size", "device", "background",
                   "flat_shading", "double_sided")
CAMERA_FIELDS = ("azimuth", "elevation", "distance", "fov")
MATERIAL_FIELDS = ("ka", "kd", "ks", "shininess")
MAX_RECENT = 8


def app_settings() -> QSettings:
    """The user's settings store (an INI file in the platform's config folder)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def read_json(settings: QSettings, key: str, default: Any) -> Any:
    raw = settings.value(key)
    if raw is None:
        return default
    try:
        return json.loads(str(raw))
    except ValueError:
        return default


def write_json(settings: QSettings, key: str, value: Any) -> None:
    settings.setValue(key, json.dumps(value))


def scene_values(scene: Scene) -> dict[str, Any]:
    """Every control's value, as the named edits of ``renderer.edits.apply_edit`` take them."""
    st = scene.settings
    values: dict[str, Any] = {"lighting": st.lighting}
    values.update({n: getattr(st, n) for n in SETTINGS_FIELDS})
    values["background"] = list(st.background)
    values.update({n: float(getattr(scene.camera, n)) for n in CAMERA_FIELDS})
    values.update({n: float(getattr(scene.material, n)) for n in MATERIAL_FIELDS})
    az, el = light_angles(scene.lights)
    values.update(light_azimuth=az, light_elevation=el,
                  light_color=[float(c) for c in scene.lights.colors[0].tolist()],
                  sh=[[float(c) for c in row] for row in scene.lights.sh.detach().tolist()])
    return values


def restore_scene(scene: Scene, values: dict[str, Any], devices: list[str]) -> tuple[Scene, list[str]]:
    """``scene`` with saved ``values`` applied; values that no longer apply are skipped and named."""

    problems = []
    order = ["lighting"] + [n for n in values if n not in ("lighting", "sh")]   # lighting resets the material
    for name in order:
        if name not in values:
            continue
        value = values[name]
        if name == "device" and value not in devices:
            problems.append(f"device {value} is not available here")
            continue
        if name in ("background", "light_color"):
            value = tuple(value)
        try:
            scene = apply_edit(scene, name, value)
        except (ValueError, TypeError) as exc:
            problems.append(f"{name}: {exc}")
    sh = values.get("sh")
    if isinstance(sh, list) and len(sh) == 9:
        for k, row in enumerate(sh):
            for c, v in enumerate(row[:3]):
                scene = apply_edit(scene, "sh_coeff", (k, c, float(v)))
    return scene, problems


def save_window(window: "MainWindow") -> None:
    """Write the window's state (called when it closes)."""
    s = window.store
    s.setValue("window/geometry", window.saveGeometry())
    s.setValue("window/state", window.saveState())
    write_json(s, "scene/values", scene_values(window.scene))
    write_json(s, "analysis/mode", window.analysis_pane.mode())
    panel = window.loss_panel
    write_json(s, "analysis/loss", {"loss": panel.loss(), "kind": panel.target_kind(),
                                    "pose": dict(panel.pose()), "param": panel.param()})
    write_json(s, "files/last_mesh", window.mesh_path)
    write_json(s, "files/target_image", window.target_image_path)
    write_json(s, "files/recent", window.recent_files)
    s.sync()


def restore_window(window: "MainWindow") -> list[str]:
    """Restore layout, controls and analysis settings; returns what could not be restored.
    (The last mesh is opened by ``run_app``, which knows whether one was given on the command line.)"""
    s = window.store
    geometry, state = s.value("window/geometry"), s.value("window/state")
    if geometry is not None:
        window.restoreGeometry(geometry)
    if state is not None:
        window.restoreState(state)
    problems: list[str] = []
    values = read_json(s, "scene/values", None)
    if isinstance(values, dict):
        scene, problems = restore_scene(window.scene, values, window.devices)
        window.set_scene(scene)
        window.controls.sync(scene)
    mode = read_json(s, "analysis/mode", None)
    if isinstance(mode, str):
        try:
            window.set_analysis_mode(mode)
        except ValueError as exc:
            problems.append(str(exc))
    loss = read_json(s, "analysis/loss", {})
    if isinstance(loss, dict):
        window.loss_panel.set_values(loss.get("loss"), loss.get("kind") if loss.get("kind") != "image" else "pose",
                                     loss.get("pose"), loss.get("param"))
    target = read_json(s, "files/target_image", None)
    if isinstance(target, str) and target:
        if not window.open_target_image(target, add_to_recent=False):
            problems.append(f"the last target image {target} could not be opened")
        elif loss.get("kind") != "image":
            window.loss_panel.set_values(kind=loss.get("kind"))
    recent = read_json(s, "files/recent", [])
    if isinstance(recent, list):
        window.recent_files = [str(p) for p in recent][:MAX_RECENT]
        window.menus.refresh_recent()
    window.request_render()
    return problems


def last_mesh_path(settings: QSettings) -> str | None:
    path = read_json(settings, "files/last_mesh", None)
    return path if isinstance(path, str) and path else None
