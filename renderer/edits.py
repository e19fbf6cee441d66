"""Named edits of a Scene: what a GUI control or a script changes, as one pure function.

Each control has a name; ``apply_edit(scene, name, value)`` returns a new Scene (a shallow copy
with one part replaced), so the GUI keeps no state the Scene does not have.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch

from .camera import direction_from_angles
from .lighting import SH_BAND_FACTORS, SH_C, Lights, Material, sh_coeffs_from_light
from .scene import Scene

SETTINGS_EDITS = ("renderer", "lighting", "sigma", "gamma", "image_size", "device", "background",
                  "flat_shading", "double_sided")
CAMERA_EDITS = ("azimuth", "elevation", "distance", "fov")
MATERIAL_EDITS = ("ka", "kd", "ks", "shininess")
LIGHT_EDITS = ("light_azimuth", "light_elevation", "light_angles", "light_color", "sh_preset",
               "sh_coeff")
SH_PRESETS = ("from light", "ambient", "sky and ground")


def light_angles(lights: Lights) -> tuple[float, float]:
    """(azimuth, elevation) in degrees of the first light, in the camera's angle convention."""
    d = lights.directions[0].detach().double()
    d = d / d.norm()
    return math.degrees(math.atan2(d[0].item(), d[2].item())), math.degrees(math.asin(max(-1.0, min(1.0, d[1].item()))))


def sh_preset(name: str, lights: Lights) -> torch.Tensor:
    """(9, 3) SH coefficients: 'from light' (ambient plus the first light), 'ambient' (constant
    irradiance 1), 'sky and ground' (bright above, dark below)."""
    if name == "from light":
        return sh_coeffs_from_light(lights.directions[0].detach().float())
    coeffs = torch.zeros(9, 3)
    if name == "ambient":
        coeffs[0] = 1.0 / (SH_C[0] * SH_BAND_FACTORS[0])
    elif name == "sky and ground":
        coeffs[0] = 0.6 / (SH_C[0] * SH_BAND_FACTORS[0])
        # band 1, m = -1 is -c1 * y: a negative coefficient brightens +Y
        coeffs[1] = -0.4 / (SH_C[1] * SH_BAND_FACTORS[1])
    else:
        raise ValueError(f"unknown SH preset {name!r}; expected one of {', '.join(SH_PRESETS)}")
    return coeffs


def dragged_light_angles(scene: Scene, d_azimuth: float, d_elevation: float) -> tuple[float, float]:
    """The first light's (azimuth, elevation) after a drag by these many degrees: azimuth wraps
    to [-180, 180), elevation stops at the poles."""
    az, el = light_angles(scene.lights)
    return (az + d_azimuth + 180.0) % 360.0 - 180.0, max(-90.0, min(90.0, el + d_elevation))


def apply_edit(scene: Scene, name: str, value: Any) -> Scene:
    """The scene with control ``name`` set to ``value``. Raises ValueError for an unknown name or
    a value out of range."""
    if name in SETTINGS_EDITS:
        settings = replace(scene.settings, **{name: value})
        settings.validate()
        if name == "lighting":
            # each lighting model brings its DESIGN.md material defaults, keeping the albedo
            return replace(scene, settings=settings,
                           material=Material.for_lighting(value, albedo=scene.material.albedo))
        return replace(scene, settings=settings)
    if name in CAMERA_EDITS:
        value = float(value)
        if name == "distance" and value <= 0 or name == "fov" and not 0 < value < 180:
            raise ValueError(f"{name} out of range: {value}")
        return replace(scene, camera=replace(scene.camera, **{name: value}))
    if name in MATERIAL_EDITS:
        return replace(scene, material=replace(scene.material, **{name: torch.tensor(float(value))}))
    if name in LIGHT_EDITS:
        lights = scene.lights
        if name == "sh_preset":
            return replace(scene, lights=replace(lights, sh=sh_preset(value, lights)))
        if name == "sh_coeff":                       # value: (band index k, channel, new value)
            k, channel, v = value
            if not (0 <= int(k) < 9 and 0 <= int(channel) < 3):
                raise ValueError(f"SH coefficient ({k}, {channel}) does not exist (9 rows, 3 channels)")
            sh = lights.sh.detach().clone()
            sh[int(k), int(channel)] = float(v)
            return replace(scene, lights=replace(lights, sh=sh))
        az, el = light_angles(lights)
        if name == "light_azimuth":
            az = float(value)
        elif name == "light_elevation":
            el = float(value)
        elif name == "light_angles":                 # value: (azimuth, elevation)
            az, el = (float(v) for v in value)
        directions = lights.directions.detach().clone()
        directions[0] = direction_from_angles(az, el).to(directions.dtype)
        colors = lights.colors.detach().clone()
        if name == "light_color":
            colors[0] = torch.tensor(value, dtype=colors.dtype)
        return replace(scene, lights=replace(lights, directions=directions, colors=colors))
    raise ValueError(f"unknown scene control {name!r}")
