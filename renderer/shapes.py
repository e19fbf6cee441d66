"""What a Scene can hold: a small closed set of shape dataclasses, one per representation.

A shape type has a class attribute ``kind`` (the representation's name, e.g. "mesh"), a ``name``
(what the user loaded), ``num_elements`` and ``element_name`` (faces, splats, voxels: what a
per-element gradient is painted on) and ``to(device)``. ``Mesh`` is the first; Gaussian clouds,
voxel grids and SDFs register theirs with ``register_shape``. Renderers declare which kinds they
accept (``renderer.registry``), so a scene with a shape a renderer cannot draw is one clear error.
"""
from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import torch


@runtime_checkable
class Shape(Protocol):
    """The protocol every representation's dataclass follows."""

    kind: ClassVar[str]
    element_name: ClassVar[str]
    name: str

    @property
    def num_elements(self) -> int: ...

    def to(self, device: torch.device | str) -> "Shape": ...


SHAPE_TYPES: dict[str, type] = {}


def register_shape(cls: type) -> type:
    """Add a shape dataclass to the closed set (usable as a class decorator)."""
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{cls.__name__} needs a class attribute 'kind' naming its representation")
    if SHAPE_TYPES.get(kind, cls) is not cls:
        raise ValueError(f"representation {kind!r} is already registered by {SHAPE_TYPES[kind].__name__}")
    SHAPE_TYPES[kind] = cls
    return cls


def shape_kind(shape: object) -> str:
    """The representation name of ``shape``; TypeError (naming the known ones) for anything else."""
    kind = getattr(type(shape), "kind", None)
    if kind not in SHAPE_TYPES or not isinstance(shape, SHAPE_TYPES[kind]):
        raise TypeError(f"a scene holds one of {', '.join(sorted(SHAPE_TYPES))}; got {type(shape).__name__}")
    return kind
