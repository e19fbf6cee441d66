"""A small cache of values derived from tensors (device copies, padded textures), valid while the
source tensor lives unmodified."""
from __future__ import annotations

import weakref
from typing import Callable, Hashable

import torch

_ENTRIES: dict = {}
MAX_ENTRIES = 32


def derived(t: torch.Tensor, tag: Hashable, make: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``make(t)``, computed once per (t, tag) and reused until ``t`` is modified in place or
    freed. Identity is checked through a weak reference, so a reused id cannot alias."""
    key = (id(t), t._version, tag)
    hit = _ENTRIES.get(key)
    if hit is not None and hit[0]() is t:
        return hit[1]
    if len(_ENTRIES) >= MAX_ENTRIES:
        _ENTRIES.clear()
    value = make(t)
    _ENTRIES[key] = (weakref.ref(t), value)
    return value
