"""The SDF's parameter group (``renderer.analysis.params.register_param_group``):

==========  =======  ===========================================================
group       shape    scalar names
==========  =======  ===========================================================
sdf_params  (P,)     sdf:I:<field> for primitives (sdf:0:radius, sdf:1:cx, ...);
                     sdf_node:I:J:K for a grid's node values (flat (I Dy + J) Dz + K);
                     a module's parameters flattened (named_parameters order), no names
==========  =======  ===========================================================

It is the element group (painted on the shape: the per-parameter table for primitives). For a
module SDF the group is its weights flattened, evaluated through ``torch.func.functional_call``
(``SDF.with_module_values``), so the analysis tools differentiate a network like any group.
"""
from __future__ import annotations

import re
from typing import Optional

import torch

from ..analysis.params import ParamGroup, register_param_group
from ..scene import Scene
from .shapes import PRIMITIVE_FIELDS, SDF

_PRIMITIVE = re.compile(r"^sdf:(\d+):([a-z]+)$")
_NODE = re.compile(r"^sdf_node:(\d+):(\d+):(\d+)$")
ALL_FIELDS = sorted({f for fields in PRIMITIVE_FIELDS.values() for f in fields})


def read_sdf_params(scene: Scene) -> torch.Tensor:
    """(P,) the primitives' parameters, (Dx Dy Dz,) a grid's node values, (0,) for a module."""
    sdf: SDF = scene.shape
    if sdf.source == "primitives":
        return sdf.params.detach().clone()
    if sdf.source == "grid":
        return sdf.grid.detach().reshape(-1).clone()
    return sdf.module_flat()


def write_sdf_params(scene: Scene, value: torch.Tensor) -> Scene:
    """The scene with its SDF's parameters (or grid values) taken from ``value`` (keeps its graph)."""
    sdf: SDF = scene.shape
    if sdf.source == "primitives":
        return scene.replace(shape=sdf.with_params(value))
    if sdf.source == "grid":
        return scene.replace(shape=sdf.with_grid(value.reshape(sdf.grid.shape)))
    return scene.replace(shape=sdf.with_module_values(value))


def parse_sdf_param(name: str, scene: Optional[Scene]) -> Optional[tuple[int, ...]]:
    """"sdf:I:<field>" or "sdf_node:I:J:K" -> (flat index,), checked against the scene's SDF;
    (-1,) without a scene (syntax checked only); None for other names."""
    m = _PRIMITIVE.match(name)
    if m:
        if m.group(2) not in ALL_FIELDS:
            raise ValueError(f"parameter {name!r}: an SDF primitive's fields are {', '.join(ALL_FIELDS)}")
        if scene is None or scene.kind != "sdf":
            return (-1,)
        return (scene.shape.param_index(name),)
    m = _NODE.match(name)
    if m:
        if scene is None or scene.kind != "sdf":
            return (-1,)
        sdf: SDF = scene.shape
        if sdf.source != "grid":
            raise ValueError(f"parameter {name!r}: this SDF is made of {sdf.source}, not a grid")
        i, j, k = (int(g) for g in m.groups())
        dx, dy, dz = sdf.grid.shape
        if i >= dx or j >= dy or k >= dz:
            raise ValueError(f"parameter {name!r}: the grid has {dx}x{dy}x{dz} nodes")
        return ((i * dy + j) * dz + k,)
    return None


def sdf_param_names(scene: Scene) -> list[str]:
    """The scalar names of the group's entries, in order (primitives: ``SDF.param_names``)."""
    sdf: SDF = scene.shape
    if sdf.source == "primitives":
        return sdf.param_names()
    if sdf.source == "grid":
        dx, dy, dz = sdf.grid.shape
        return [f"sdf_node:{i}:{j}:{k}" for i in range(dx) for j in range(dy) for k in range(dz)]
    return []


SDF_PARAMS = register_param_group(ParamGroup(
    name="sdf_params", kinds=("sdf",), read=read_sdf_params, write=write_sdf_params,
    parse=parse_sdf_param, unit="world", geometric=True, element=True,
    help="sdf:I:cx|cy|cz|radius|hx|hy|hz|major|minor, sdf_node:I:J:K"))
