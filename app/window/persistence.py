"""What survives a restart (QSettings, INI format): the last mesh, every control's value, the
analysis mode, the loss target, recent files (all read from and written to the model) and the
window layout.

Values are stored as JSON strings, so types come back as they went in on every platform.
Tests point QSettings elsewhere (``QSettings.setPath``) or pass their own QSettings object.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMainWindow

from ..model.app_model import AppModel
from ..model.scene_values import restore_scene, scene_values

ORGANIZATION = "diffrender-debugger"
APPLICATION = "diffrender-debugger"


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


def save_layout(store: QSettings, window: QMainWindow) -> None:
    store.setValue("window/geometry", window.saveGeometry())
    store.setValue("window/state", window.saveState())


def restore_layout(store: QSettings, window: QMainWindow) -> None:
    geometry, state = store.value("window/geometry"), store.value("window/state")
    if geometry is not None:
        window.restoreGeometry(geometry)
    if state is not None:
        window.restoreState(state)


def save_model(store: QSettings, model: AppModel) -> None:
    """Write the model's lasting state (called when the window closes)."""
    write_json(store, "render/budget_s", model.render_budget_s)
    write_json(store, "scene/values", scene_values(model.scene))
    write_json(store, "analysis/mode", model.mode)
    write_json(store, "analysis/magnitude_scale", model.magnitude_scale)
    write_json(store, "analysis/loss", {"loss": model.loss, "kind": model.target_kind,
                                        "pose": dict(model.target_pose), "param": model.param})
    write_json(store, "files/last_mesh", model.mesh_path)
    write_json(store, "files/target_image", None if model.target_image is None else model.target_image.path)
    write_json(store, "files/recent", list(model.recent_files))
    store.sync()


def restore_model(store: QSettings, model: AppModel, devices: Sequence[str],
                  open_target_image: Callable[..., bool]) -> list[str]:
    """Restore controls, analysis settings and recent files into ``model``; returns what could
    not be restored. ``open_target_image(path, add_to_recent=False)`` reads the saved target.
    (The last mesh is opened by start-up, which knows whether one was given on the command line.)"""
    problems: list[str] = []
    budget = read_json(store, "render/budget_s", None)
    if budget is not None:                  # first: the restored scene is checked against it
        _assign(model, "render_budget_s", budget, problems)
    values = read_json(store, "scene/values", None)
    if isinstance(values, dict):
        model.scene, problems = restore_scene(model.scene, values, devices)
    mode = read_json(store, "analysis/mode", None)
    if isinstance(mode, str):
        _assign(model, "mode", mode, problems)
    scale = read_json(store, "analysis/magnitude_scale", None)
    if isinstance(scale, str):
        _assign(model, "magnitude_scale", scale, problems)
    loss = read_json(store, "analysis/loss", {})
    loss = loss if isinstance(loss, dict) else {}
    for name, value in (("loss", loss.get("loss")), ("param", loss.get("param")),
                        ("target_pose", loss.get("pose"))):
        if value:
            _assign(model, name, value, problems)
    kind = loss.get("kind")
    if kind and kind != "image":            # an image target comes back only with its file
        _assign(model, "target_kind", kind, problems)
    target = read_json(store, "files/target_image", None)
    if isinstance(target, str) and target:
        if not open_target_image(target, add_to_recent=False):
            problems.append(f"the last target image {target} could not be opened")
        elif kind and kind != "image":
            _assign(model, "target_kind", kind, problems)
    recent = read_json(store, "files/recent", [])
    if isinstance(recent, list):
        model.recent_files = [str(p) for p in recent]
    return problems


def _assign(model: AppModel, name: str, value: Any, problems: list[str]) -> None:
    try:
        setattr(model, name, value)
    except (ValueError, TypeError, KeyError) as exc:
        problems.append(f"{name}: {exc}")


def save_render_timing(store: QSettings, seconds_per_pair: float, last_render_s: float | None) -> None:
    """The render rate learnt this session (the next one predicts with it) and how long the last
    full render of the saved scene took (start-up asks before rendering it again if that was over
    the budget)."""
    write_json(store, "render/seconds_per_pair", float(seconds_per_pair))
    write_json(store, "render/last_render_s", None if last_render_s is None else float(last_render_s))
    store.sync()


def restore_render_timing(store: QSettings) -> tuple[float | None, float | None]:
    """(seconds per pair, seconds of the last session's last render), None where unknown."""
    def number(key: str) -> float | None:
        value = read_json(store, key, None)
        return float(value) if isinstance(value, (int, float)) and value > 0 else None

    return number("render/seconds_per_pair"), number("render/last_render_s")


def last_mesh_path(settings: QSettings) -> str | None:
    path = read_json(settings, "files/last_mesh", None)
    return path if isinstance(path, str) and path else None
