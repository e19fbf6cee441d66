"""Every scalar scene parameter by name, grouped into tensors that can be made differentiable.

A parameter is one scalar of one *group* tensor:

====================  ===========  =====================================================
group                 shape        scalar names
====================  ===========  =====================================================
camera                (4,)         azimuth, elevation (deg), distance (world), fov (deg)
light                 (2,)         light_azimuth, light_elevation (deg), of the FIRST light
material              (4,)         ka, kd, ks, shininess
albedo                (3,)         albedo_r, albedo_g, albedo_b
sh                    (9, 3)       sh0_r ... sh8_b (SH lighting coefficients)
verts                 (V, 3)       vertex:I:x, vertex:I:y, vertex:I:z
====================  ===========  =====================================================

``group_value(scene, group)`` reads a group as a fresh tensor; ``with_groups(scene, {group: t})``
builds a scene copy that uses ``t`` (which may require grad or carry a forward-mode tangent), so
one render differentiates w.r.t. a whole group at once. The light direction is defined from its
angles with ``direction_from_angles`` (DESIGN.md §2), so the angles are differentiable; under
``sh`` lighting the light angles do not act (the SH coefficients are the light).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Union

import torch

from ..camera import direction_from_angles
from ..scene import Scene

GROUP_NAMES = ("camera", "light", "material", "albedo", "sh", "verts")
CAMERA_FIELDS = ("azimuth", "elevation", "distance", "fov")
LIGHT_FIELDS = ("light_azimuth", "light_elevation")
MATERIAL_FIELDS = ("ka", "kd", "ks", "shininess")
RGB = ("r", "g", "b")
AXES = ("x", "y", "z")
# Parameters that move the image's edges (silhouettes, texture and shading boundaries): their
# derivative has a visibility part that only soft rasterization carries.
GEOMETRIC = {"azimuth", "elevation", "distance", "fov"}
# Central-difference steps for the supersampled GL reference, chosen for S = 256 and k = 4 so
# that an edge moves about 1 px across the +-h stencil (see ``reference_step``).
REFERENCE_STEPS_256 = {"deg": 0.5, "world": 0.01, "distance": 0.03, "coefficient": 0.01,
                       "exponent": 1.0}

_VERTEX = re.compile(r"^vertex:(\d+):([xyz])$")


@dataclass(frozen=True)
class ParamSpec:
    """One scalar parameter: ``name``, its ``group`` tensor and ``index`` in it, and its ``unit``
    ("deg", "world", "coefficient", "exponent"); derivatives are per this unit (per degree)."""

    name: str
    group: str
    index: tuple[int, ...]
    unit: str

    @property
    def geometric(self) -> bool:
        """Whether changing it moves edges in the image (camera and vertex parameters)."""
        return self.group == "verts" or self.name in GEOMETRIC

    def one_hot(self, like: torch.Tensor) -> torch.Tensor:
        """A tensor shaped like the group, 1 at this parameter and 0 elsewhere."""
        e = torch.zeros_like(like)
        e[self.index] = 1.0
        return e


def _fixed_specs() -> dict[str, ParamSpec]:
    specs: dict[str, ParamSpec] = {}
    for i, n in enumerate(CAMERA_FIELDS):
        specs[n] = ParamSpec(n, "camera", (i,), "world" if n == "distance" else "deg")
    for i, n in enumerate(LIGHT_FIELDS):
        specs[n] = ParamSpec(n, "light", (i,), "deg")
    for i, n in enumerate(MATERIAL_FIELDS):
        specs[n] = ParamSpec(n, "material", (i,), "exponent" if n == "shininess" else "coefficient")
    for i, c in enumerate(RGB):
        specs[f"albedo_{c}"] = ParamSpec(f"albedo_{c}", "albedo", (i,), "coefficient")
    for k in range(9):
        for i, c in enumerate(RGB):
            specs[f"sh{k}_{c}"] = ParamSpec(f"sh{k}_{c}", "sh", (k, i), "coefficient")
    return specs


FIXED_PARAMS = _fixed_specs()
PARAM_HELP = ("azimuth, elevation, distance, fov, light_azimuth, light_elevation, ka, kd, ks, "
              "shininess, albedo_r|g|b, sh0_r .. sh8_b, vertex:I:x|y|z")


def parse_param(name: str, scene: Scene | None = None) -> ParamSpec:
    """The ParamSpec called ``name``; raises ValueError listing the names there are. With a scene,
    a vertex index is checked against its vertex count."""
    if name in FIXED_PARAMS:
        return FIXED_PARAMS[name]
    m = _VERTEX.match(name)
    if m:
        index = int(m.group(1))
        if scene is not None and index >= scene.mesh.num_verts:
            raise ValueError(f"parameter {name!r}: the mesh has only {scene.mesh.num_verts} "
                             f"vertices (0..{scene.mesh.num_verts - 1})")
        return ParamSpec(name, "verts", (index, AXES.index(m.group(2))), "world")
    raise ValueError(f"unknown parameter {name!r}; expected one of {PARAM_HELP}")


def scalar_params() -> list[ParamSpec]:
    """Every scalar scene parameter except vertex coordinates (those are dL/dV)."""
    return list(FIXED_PARAMS.values())


def scene_dtype(scene: Scene) -> torch.dtype:
    return scene.mesh.verts.dtype


def light_angles(direction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(3,) direction toward the light -> (azimuth, elevation) in degrees, the inverse of
    ``direction_from_angles``: az = atan2(x, z), el = atan2(y, sqrt(x^2 + z^2))."""
    x, y, z = direction.unbind(-1)
    az = torch.rad2deg(torch.atan2(x, z))
    el = torch.rad2deg(torch.atan2(y, torch.sqrt(x * x + z * z)))
    return az, el


def group_value(scene: Scene, group: str) -> torch.Tensor:
    """The current values of one group as a fresh, detached tensor of the scene's dtype."""
    dtype = scene_dtype(scene)
    device = scene.mesh.verts.device

    def t(x) -> torch.Tensor:
        return torch.as_tensor(x).detach().to(device=device, dtype=dtype)

    if group == "camera":
        return torch.stack([t(getattr(scene.camera, n)) for n in CAMERA_FIELDS])
    if group == "light":
        return torch.stack(light_angles(t(scene.lights.directions).reshape(-1, 3)[0]))
    if group == "material":
        return torch.stack([t(getattr(scene.material, n)) for n in MATERIAL_FIELDS])
    if group == "albedo":
        return t(scene.material.albedo).reshape(3).clone()
    if group == "sh":
        return t(scene.lights.sh).reshape(9, 3).clone()
    if group == "verts":
        return t(scene.mesh.verts).clone()
    raise ValueError(f"unknown parameter group {group!r}; expected one of {GROUP_NAMES}")


def with_groups(scene: Scene, values: Mapping[str, torch.Tensor]) -> Scene:
    """A scene copy whose parameters of each named group are taken from ``values`` (tensors shaped
    as ``group_value`` returns them; they keep their autograd history and tangents)."""
    out = scene
    for group, v in values.items():
        if group == "camera":
            out = out.with_camera(**{n: v[i] for i, n in enumerate(CAMERA_FIELDS)})
        elif group == "light":
            direction = direction_from_angles(v[0], v[1])
            dirs = out.lights.directions.reshape(-1, 3).to(v.dtype)
            dirs = torch.cat([direction[None], dirs[1:]], dim=0)
            out = out.replace(lights=out.lights.replace(directions=dirs))
        elif group == "material":
            out = out.replace(material=out.material.replace(**{n: v[i] for i, n in enumerate(MATERIAL_FIELDS)}))
        elif group == "albedo":
            out = out.replace(material=out.material.replace(albedo=v))
        elif group == "sh":
            out = out.replace(lights=out.lights.replace(sh=v))
        elif group == "verts":
            out = out.replace(shape=out.mesh.with_verts(v))
        else:
            raise ValueError(f"unknown parameter group {group!r}; expected one of {GROUP_NAMES}")
    return out


def param_value(scene: Scene, param: Union[str, ParamSpec]) -> float:
    """The current value of one scalar parameter."""
    spec = parse_param(param, scene) if isinstance(param, str) else param
    return float(group_value(scene, spec.group)[spec.index])


def with_param(scene: Scene, param: Union[str, ParamSpec], value: Union[float, torch.Tensor]) -> Scene:
    """A scene copy with one scalar parameter set to ``value`` (a float or a 0-d tensor)."""
    spec = parse_param(param, scene) if isinstance(param, str) else param
    base = group_value(scene, spec.group)
    e = spec.one_hot(base)
    value = torch.as_tensor(value, dtype=base.dtype, device=base.device)
    return with_groups(scene, {spec.group: base * (1 - e) + value * e})


def with_params(scene: Scene, values: Mapping[str, float]) -> Scene:
    """A scene copy with several scalar parameters set (name -> value)."""
    for name, value in values.items():
        scene = with_param(scene, name, value)
    return scene


def reference_step(spec: ParamSpec, image_size: int) -> float:
    """The default central-difference step of the GL reference derivative, in the parameter's
    unit: 0.5 deg for angles, 0.01 world units for a vertex coordinate, 0.03 for the camera
    distance, 0.01 for coefficients, 1 for the shininess exponent. Geometric steps are scaled by
    256 / S so that an edge moves about one pixel across the +-h stencil at any resolution: with
    k-times supersampling the image changes in steps of 1/k px, so the difference quotient of a
    moving edge is well resolved when 2h moves it by >= 1 px, and still local."""
    if spec.name == "distance":
        base = REFERENCE_STEPS_256["distance"]
    else:
        base = REFERENCE_STEPS_256[spec.unit]
    if spec.geometric:
        base *= 256.0 / image_size
    return base


def self_step(spec: ParamSpec, dtype: torch.dtype) -> float:
    """Central-difference step for checking a renderer against its own forward-mode derivative:
    small enough to stay on one smooth piece (the soft renderers are piecewise smooth: pair
    cut-offs and clamps are kinks), large enough for rounding (float64: 1e-5, float32: 1e-2)."""
    scale = 1.0 if spec.unit in ("deg", "exponent") else 0.01
    return (1e-5 if dtype == torch.float64 else 1e-2) * scale
