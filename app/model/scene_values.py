"""A Scene as the JSON-ready values of its controls, and back: what persists between sessions and
what an export records. The names are those of ``renderer.edits.apply_edit``."""
from __future__ import annotations

from typing import Any, Sequence

from renderer import Scene
from renderer.edits import apply_edit, light_angles

SETTINGS_FIELDS = ("renderer", "sigma", "gamma", "image_size", "device", "background",
                   "flat_shading", "double_sided")
CAMERA_FIELDS = ("azimuth", "elevation", "distance", "fov")
MATERIAL_FIELDS = ("ka", "kd", "ks", "shininess")


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


def restore_scene(scene: Scene, values: dict[str, Any], devices: Sequence[str]) -> tuple[Scene, list[str]]:
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
