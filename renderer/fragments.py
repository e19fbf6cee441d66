"""The typed hand-off between rendering stages (after PyTorch3D's ``Fragments``).

Every renderer returns a ``RenderOutput``; SoftRas's surviving (pixel, face) pairs travel as one
``SoftPairs`` record, made once per render and read by the pixel inspector and the diagnostics.
``RenderOutput`` also reads like a mapping of its buffers (``out["rgb"]``, ``out.items()``), so
code that only wants images can stay generic.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Iterator, Mapping, Optional

import torch


@dataclass
class SoftPairs:
    """SoftRas's (pixel, face) pairs within the cut-off, sorted by pixel then face.

    pix, face: (P,) int64 (pix = row * S + col); coverage: (P,) D; weight: (P,) colour softmax
    weight (0 for faces that take no part in colour); depth: (P,) view depth at the pixel (NaN for
    those faces).
    """

    pix: torch.Tensor
    face: torch.Tensor
    coverage: torch.Tensor
    weight: torch.Tensor
    depth: torch.Tensor

    def at(self, pixel: int) -> "SoftPairs":
        """The pairs of one flat pixel index."""
        sel = self.pix == pixel
        return SoftPairs(*(getattr(self, f.name)[sel] for f in fields(self)))


@dataclass
class RenderOutput(Mapping[str, Any]):
    """What a renderer returns, row 0 at the top of every image.

    rgb: (S, S, 3) float, linear, not clamped; alpha: (S, S) float coverage; depth: (S, S) view
    depth (0 on background); face_id: (S, S) int64 visible face (-1 on background) for renderers
    with a z-buffer; bg_weight: (S, S) the background's colour weight (SoftRas); dropped_weight:
    (S, S) the colour weight of pairs left unshaded under ``settings.weight_floor`` (SoftRas: the
    colour is exact to dropped_weight * max|C - I|); normal, position: (S, S, 3) world-space (GL
    reference); pairs: ``SoftPairs`` when asked for; num_pairs, num_shaded and tile_elements: 0-d
    int64 tensors, the (pixel, element) pairs kept, shaded and formed (cost figures); steps:
    (S, S) int64 SDF evaluations per pixel and converged: (S, S) bool, False where the march ran
    out of steps (sphere tracing).
    Torch renderers keep the autograd graph on rgb and alpha. A silhouette-only path fills
    alpha alone.
    """

    rgb: Optional[torch.Tensor] = None
    alpha: Optional[torch.Tensor] = None
    depth: Optional[torch.Tensor] = None
    face_id: Optional[torch.Tensor] = None
    bg_weight: Optional[torch.Tensor] = None
    dropped_weight: Optional[torch.Tensor] = None
    normal: Optional[torch.Tensor] = None
    position: Optional[torch.Tensor] = None
    num_pairs: Optional[torch.Tensor] = None
    num_shaded: Optional[torch.Tensor] = None
    tile_elements: Optional[torch.Tensor] = None
    steps: Optional[torch.Tensor] = None
    converged: Optional[torch.Tensor] = None
    pairs: Optional[SoftPairs] = None

    # --- the mapping view: tensor buffers only, absent ones skipped -------------------------
    def _names(self) -> list[str]:
        return [f.name for f in fields(self) if f.name != "pairs" and getattr(self, f.name) is not None]

    def __getitem__(self, name: str) -> torch.Tensor:
        if name == "pairs" or name not in {f.name for f in fields(self)} or getattr(self, name) is None:
            raise KeyError(f"this render has no buffer {name!r}; it has {', '.join(self._names())}")
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def numpy(self) -> dict[str, Any]:
        """The buffers detached to numpy arrays (for files and display)."""
        return {k: v.detach().cpu().numpy() for k, v in self.items()}
