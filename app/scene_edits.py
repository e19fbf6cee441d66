"""The controls' named edits: ``renderer.edits.apply_edit`` plus the few the library does not
name (single SH coefficients, the light moved by a drag), so the window keeps one code path."""
from __future__ import annotations

from typing import Any

from renderer import Scene
from renderer.edits import apply_edit, light_angles


def apply_control(scene: Scene, name: str, value: Any) -> Scene:
    """``scene`` with control ``name`` set to ``value``. Raises ValueError with a readable message
    for an unknown name or a value out of range."""
    if name == "sh_coeff":
        k, channel, v = value
        if not (0 <= int(k) < 9 and 0 <= int(channel) < 3):
            raise ValueError(f"SH coefficient ({k}, {channel}) does not exist (9 rows, 3 channels)")
        sh = scene.lights.sh.detach().clone()
        sh[int(k), int(channel)] = float(v)
        return scene.replace(lights=scene.lights.replace(sh=sh))
    if name == "light_angles":
        az, el = value
        scene = apply_edit(scene, "light_azimuth", float(az))
        return apply_edit(scene, "light_elevation", float(el))
    return apply_edit(scene, name, value)


def move_light(scene: Scene, d_azimuth: float, d_elevation: float) -> tuple[float, float]:
    """The light's new (azimuth, elevation) after a drag by these many degrees (azimuth wraps,
    elevation stops at the poles)."""
    az, el = light_angles(scene.lights)
    az = (az + d_azimuth + 180.0) % 360.0 - 180.0
    el = max(-90.0, min(90.0, el + d_elevation))
    return az, el
