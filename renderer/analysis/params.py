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

Other representations add their groups with ``register_param_group`` (e.g. splat means,
voxel occupancies, SDF primitive parameters); the group marked ``element`` is the one painted on
the shape, what dL/dV is for a mesh. ``groups_for(scene)`` lists the groups a scene has.

``group_value(scene, group)`` reads a group as a fresh tensor; ``with_groups(scene, {group: t})``
builds a scene copy that uses ``t`` (which may require grad or carry a forward-mode tangent), so
one render differentiates w.r.t. a whole group at once. The light direction is defined from its
angles with ``direction_from_angles`` (DESIGN.md §2), so the angles are differentiable; under
``sh`` lighting the light angles do not act (the SH coefficients are the light).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Union

import torch

from ..camera import direction_from_angles
from ..scene import Scene

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
        """Whether changing it moves edges in the image (camera and vertex parameters, and the
        groups registered as geometric)."""
        group = PARAM_GROUPS.get(self.group)
        return self.name in GEOMETRIC or (group is not None and group.geometric)

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


@dataclass(frozen=True)
class ParamGroup:
    """One tensor of scene parameters that can be made differentiable as a whole.

    name: the key ("verts", "splat_means"); kinds: the representations that have it (None:
    every scene: camera, light, material); read(scene) -> a fresh detached tensor; write(scene,
    tensor) -> a scene copy using ``tensor`` (keeping its autograd history and tangents);
    parse(name, scene or None) -> the index tuple of a scalar parameter of this group called
    ``name`` (e.g. "splat:3:x"), None when the name is not of this group (a ValueError for a
    bad index); unit: of its scalars ("world", "coefficient", "deg", "exponent"); geometric:
    moving it moves edges; element: the per-element group painted on the shape (dL/dV for a
    mesh), whose tensor is (N, ...) with N = ``shape.num_elements``; help: how its scalar names read ("vertex:I:x|y|z").
    """

    name: str
    kinds: Optional[tuple[str, ...]]
    read: Callable[[Scene], torch.Tensor]
    write: Callable[[Scene, torch.Tensor], Scene]
    parse: Optional[Callable[[str, Optional[Scene]], Optional[tuple[int, ...]]]] = None
    unit: str = "world"
    geometric: bool = False
    element: bool = False
    help: str = ""
    name_of: Optional[Callable[[Scene, tuple[int, ...]], str]] = None

    def applies(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


PARAM_GROUPS: dict[str, ParamGroup] = {}


def register_param_group(group: ParamGroup) -> ParamGroup:
    """Add a parameter group (a representation package's registration does this)."""
    if PARAM_GROUPS.get(group.name, group) is not group and PARAM_GROUPS[group.name] != group:
        raise ValueError(f"a parameter group named {group.name!r} is already registered")
    PARAM_GROUPS[group.name] = group
    return group


def _load_groups() -> None:
    from ..registry import load_plugins

    load_plugins()          # representation packages register their groups on import


def groups_for(scene: Scene) -> list[str]:
    """The names of the parameter groups ``scene`` has (its kind's and the shared ones)."""
    _load_groups()
    return [g.name for g in PARAM_GROUPS.values() if g.applies(scene.kind)]


def element_group(scene: Scene) -> Optional[str]:
    """The name of the per-element group of ``scene``'s representation ("verts" for a mesh)."""
    _load_groups()
    for g in PARAM_GROUPS.values():
        if g.element and g.applies(scene.kind):
            return g.name
    return None


def hardest_scalar(scene: Scene, group_grads: Mapping[str, torch.Tensor]) -> Optional[str]:
    """The name of the element-group scalar with the largest |dL/dtheta| (a vertex coordinate,
    a voxel cell...), or None when the group cannot name its scalars or has no gradient."""
    group = element_group(scene)
    spec = PARAM_GROUPS.get(group) if group else None
    grad = group_grads.get(group) if group else None
    if spec is None or spec.name_of is None or grad is None or not bool((grad != 0).any()):
        return None
    flat = int(grad.abs().reshape(-1).argmax())
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), grad.shape))
    return spec.name_of(scene, index)


def param_help() -> str:
    """Every scalar parameter name pattern, for error messages and --help."""
    _load_groups()
    extra = [g.help for g in PARAM_GROUPS.values() if g.help and g.name != "verts"]
    return ", ".join([PARAM_HELP, *extra])


def parse_param(name: str, scene: Scene | None = None) -> ParamSpec:
    """The ParamSpec called ``name``; raises ValueError listing the names there are. With a scene,
    an element index is checked against its element count."""
    if name in FIXED_PARAMS:
        return FIXED_PARAMS[name]
    _load_groups()
    for group in PARAM_GROUPS.values():
        if group.parse is None:
            continue
        index = group.parse(name, scene)
        if index is None:
            continue
        if scene is not None and not group.applies(scene.kind):
            raise ValueError(f"parameter {name!r} belongs to a {' or '.join(group.kinds or ())}; "
                             f"this scene holds a {scene.kind}")
        return ParamSpec(name, group.name, tuple(index), group.unit)
    raise ValueError(f"unknown parameter {name!r}; expected one of {param_help()}")


def scalar_params() -> list[ParamSpec]:
    """Every scalar scene parameter of the shared groups (camera, light, material); per-element
    parameters (vertex coordinates, splat means...) are read as their whole group (dL/dV)."""
    return list(FIXED_PARAMS.values())


def _first_float_tensor(shape) -> Optional[torch.Tensor]:
    for value in vars(shape).values() if hasattr(shape, "__dict__") else ():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return value
    return None


def scene_dtype(scene: Scene) -> torch.dtype:
    """The float dtype of the scene's shape (its vertices for a mesh)."""
    t = scene.mesh.verts if scene.kind == "mesh" else _first_float_tensor(scene.shape)
    return torch.float32 if t is None else t.dtype


def scene_device(scene: Scene) -> torch.device:
    t = scene.mesh.verts if scene.kind == "mesh" else _first_float_tensor(scene.shape)
    return torch.device("cpu") if t is None else t.device


def light_angles(direction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(3,) direction toward the light -> (azimuth, elevation) in degrees, the inverse of
    ``direction_from_angles``: az = atan2(x, z), el = atan2(y, sqrt(x^2 + z^2))."""
    x, y, z = direction.unbind(-1)
    az = torch.rad2deg(torch.atan2(x, z))
    el = torch.rad2deg(torch.atan2(y, torch.sqrt(x * x + z * z)))
    return az, el


def _group(scene: Scene, group: str) -> ParamGroup:
    _load_groups()
    spec = PARAM_GROUPS.get(group)
    if spec is None or not spec.applies(scene.kind):
        raise ValueError(f"unknown parameter group {group!r} for a {scene.kind}; expected one of "
                         f"{', '.join(groups_for(scene))}")
    return spec


def group_value(scene: Scene, group: str) -> torch.Tensor:
    """The current values of one group as a fresh, detached tensor of the scene's dtype."""
    value = _group(scene, group).read(scene)
    return value.detach().to(device=scene_device(scene), dtype=scene_dtype(scene)).clone()


def with_groups(scene: Scene, values: Mapping[str, torch.Tensor]) -> Scene:
    """A scene copy whose parameters of each named group are taken from ``values`` (tensors shaped
    as ``group_value`` returns them; they keep their autograd history and tangents)."""
    out = scene
    for group, v in values.items():
        out = _group(scene, group).write(out, v)
    return out


# --- the shared groups and the mesh's vertices ----------------------------------------------
def _t(scene: Scene, x) -> torch.Tensor:
    return torch.as_tensor(x).detach().to(device=scene_device(scene), dtype=scene_dtype(scene))


def _write_light(scene: Scene, v: torch.Tensor) -> Scene:
    direction = direction_from_angles(v[0], v[1])
    dirs = scene.lights.directions.reshape(-1, 3).to(v.dtype)
    dirs = torch.cat([direction[None], dirs[1:]], dim=0)
    return scene.replace(lights=scene.lights.replace(directions=dirs))


def _parse_vertex(name: str, scene: Optional[Scene]) -> Optional[tuple[int, ...]]:
    m = _VERTEX.match(name)
    if not m:
        return None
    index = int(m.group(1))
    if scene is not None and scene.kind == "mesh" and index >= scene.mesh.num_verts:
        raise ValueError(f"parameter {name!r}: the mesh has only {scene.mesh.num_verts} "
                         f"vertices (0..{scene.mesh.num_verts - 1})")
    return (index, AXES.index(m.group(2)))


for _builtin in (
    ParamGroup("camera", None, lambda s: torch.stack([_t(s, getattr(s.camera, n)) for n in CAMERA_FIELDS]),
               lambda s, v: s.with_camera(**{n: v[i] for i, n in enumerate(CAMERA_FIELDS)}),
               unit="deg", geometric=False),
    ParamGroup("light", None, lambda s: torch.stack(light_angles(_t(s, s.lights.directions).reshape(-1, 3)[0])),
               _write_light, unit="deg"),
    ParamGroup("material", None, lambda s: torch.stack([_t(s, getattr(s.material, n)) for n in MATERIAL_FIELDS]),
               lambda s, v: s.replace(material=s.material.replace(**{n: v[i] for i, n in enumerate(MATERIAL_FIELDS)})),
               unit="coefficient"),
    ParamGroup("albedo", None, lambda s: _t(s, s.material.albedo).reshape(3),
               lambda s, v: s.replace(material=s.material.replace(albedo=v)), unit="coefficient"),
    ParamGroup("sh", None, lambda s: _t(s, s.lights.sh).reshape(9, 3),
               lambda s, v: s.replace(lights=s.lights.replace(sh=v)), unit="coefficient"),
    ParamGroup("verts", ("mesh",), lambda s: s.mesh.verts, lambda s, v: s.replace(shape=s.mesh.with_verts(v)),
               parse=_parse_vertex, unit="world", geometric=True, element=True, help="vertex:I:x|y|z",
               name_of=lambda s, index: f"vertex:{index[0]}:{AXES[index[1]]}"),
):
    register_param_group(_builtin)


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
