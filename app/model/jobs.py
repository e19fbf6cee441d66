"""What the GUI asks the worker for, and what comes back: plain data, no Qt, no autograd.

A ``RenderJob`` is one scene (already a private copy) plus, optionally, an ``AnalysisRequest``.
The worker answers with a render result (dict, see ``app.workers.render_worker``) and then an
``AnalysisResult``; both carry the scene they were computed for, so the panes never mix states.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Optional

import numpy as np

from renderer import Scene

TARGET_KINDS = ("pose", "image", "current")
MAGNITUDE_SCALES = {"log": "log10", "percentile": "to the 99th percentile", "linear": "linear"}
TARGET_LABELS = {"pose": "reference at another camera pose", "image": "an image file",
                 "current": "the current reference itself"}


@dataclass(frozen=True, eq=False)
class TargetImage:
    """A target image read from a file: ``pixels`` (H, W[, C]) float32, the file's ``name`` and
    resolved ``path``. Compared by identity: the array is never modified."""

    pixels: np.ndarray = field(repr=False)
    name: str
    path: str

    def describe(self) -> str:
        return f"{self.name} ({self.pixels.shape[1]}x{self.pixels.shape[0]})"


@dataclass(frozen=True)
class TargetSpec:
    """The loss target. kind "pose": the GL reference (x4 supersampled) of the same scene with
    the camera parameters in ``pose`` (name -> value pairs); "image": ``image`` (H, W[, C]) float32
    read from ``image_name`` (resized to the render in the worker); "current": the GL reference of
    the current scene, so the loss shows nothing but the soft renderer's bias."""

    kind: str = "pose"
    pose: tuple[tuple[str, float], ...] = (("azimuth", 45.0),)
    image: Optional[np.ndarray] = field(default=None, compare=False, repr=False)
    image_name: str = ""

    def key(self) -> tuple:
        """Hashable identity (an image counts by its array's identity: it is never modified)."""
        return (self.kind, self.pose if self.kind == "pose" else (),
                id(self.image) if self.kind == "image" else None)

    def describe(self) -> str:
        if self.kind == "pose":
            return "reference at " + ", ".join(f"{n} {v:g}" for n, v in self.pose)
        if self.kind == "image":
            return f"image {self.image_name}"
        return "the current reference (pure soft-rasterization bias)"


@dataclass(frozen=True)
class AnalysisRequest:
    """What the analysis pane and the inspector need. pick: the picked pixel as fractions
    (u across, v down) of the image, so it survives resolution changes; None when nothing is
    picked."""

    mode: str
    loss: str = "silhouette"
    param: str = "azimuth"
    target: TargetSpec = TargetSpec()
    pick: Optional[tuple[float, float]] = None
    magnitude_scale: str = "log"

    def pick_pixel(self, image_size: int) -> Optional[tuple[int, int]]:
        """The picked (row, col) at ``image_size``, or None."""
        if self.pick is None:
            return None
        u, v = self.pick
        clamp = lambda t: min(image_size - 1, max(0, int(t * image_size)))  # noqa: E731
        return clamp(v), clamp(u)


@dataclass
class RenderJob:
    """One request to the worker. preview: a fast low-resolution render while a control is
    dragged; the worker then skips the expensive analyses."""

    scene: Scene
    analysis: Optional[AnalysisRequest] = None
    preview: bool = False


@dataclass
class Heatmap:
    """A scalar image for a pane. values (S, S) what hovering reads; rgb (S, S, 3) an image to show
    instead of colour-mapping ``values`` (the painted mesh); cmap "diverging" | "sequential";
    levels the colour-bar range; overlays in pixel coordinates (x = column, y = row, pixel
    centres at +0.5): arrows (K, 2, 2) tail and head, outlines (M, 3, 2) triangles, contour
    (N, 2) a polyline, NaN rows between its pieces."""

    values: np.ndarray
    cmap: str
    levels: tuple[float, float]
    label: str
    rgb: Optional[np.ndarray] = None
    arrows: Optional[np.ndarray] = None
    outlines: Optional[np.ndarray] = None
    contour: Optional[np.ndarray] = None


@dataclass
class AnalysisResult:
    """The worker's answer for the analysis pane and the inspector panel."""

    scene: Scene
    request: AnalysisRequest
    heatmap: Optional[Heatmap] = None
    lines: list[str] = field(default_factory=list)
    inspector: Optional[object] = None          # renderer.analysis.PixelReport
    face_outlines: Optional[np.ndarray] = None  # (M, 3, 2) the inspected faces, pixel coordinates
    times: dict[str, float] = field(default_factory=dict)


def shape_key(shape) -> tuple:
    """The identity of a shape and of its tensors (shapes are never modified in place: an edit
    makes a new one, or swaps a tensor, as ``Mesh.with_verts`` does)."""
    tensors = [id(v) for v in vars(shape).values() if hasattr(v, "detach")] if hasattr(shape, "__dict__") else []
    return (id(shape), *tensors)


def scene_key(scene: Scene) -> tuple:
    """A hashable fingerprint of everything that changes a render of ``scene`` (the shape by
    identity, see ``shape_key``)."""
    def values(obj) -> tuple:
        out = []
        for f in fields(obj):
            v = getattr(obj, f.name)
            if hasattr(v, "detach"):
                v = tuple(np.asarray(v.detach().cpu(), dtype=np.float64).ravel().tolist())
            out.append(v)
        return tuple(out)

    return (shape_key(scene.shape), values(scene.camera), values(scene.lights),
            values(scene.material), values(scene.settings))
