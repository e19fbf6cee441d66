"""The analysis modes, one registry: what each shows in a user's words, what it costs, and the
function that computes it in the worker thread. The menu, the pane's combo, the shortcuts, the
model's validation and the worker all read it, so a mode registered here is a working mode.

The compute function takes one ``app.workers.analysis_engine.ModeContext`` and fills its
``result``. Built-in modes name theirs as "module:function" (the way napari's plugin manifests
do), so this registry can be read without importing torch; a registered mode may also pass the
function itself.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

Compute = Union[str, Callable[[Any], None]]
_BUILTIN = "app.workers.mode_compute"


@dataclass(frozen=True)
class AnalysisMode:
    """name: stable key; label: the menu text; help: tooltip; cheap: computed from the two renders
    alone (so also while a slider is dragged); needs_target: uses the loss target; compute: the
    worker-side function, or "module:function"; zoom_to_pick: the pane shows the neighbourhood of
    the picked pixel (its content is that small); kinds: the representations it means something
    for (None: every one)."""

    name: str
    label: str
    help: str
    compute: Compute
    cheap: bool = False
    needs_target: bool = False
    zoom_to_pick: bool = False
    shows_text: bool = False
    magnitude_scales: bool = False
    kinds: Optional[tuple[str, ...]] = None

    def compute_function(self) -> Callable[[Any], None]:
        """The compute function (importing its module on first use: call it in the worker)."""
        if callable(self.compute):
            return self.compute
        module, _, name = self.compute.partition(":")
        return getattr(importlib.import_module(module), name)


_REGISTRY: dict[str, AnalysisMode] = {}


def register_mode(mode: AnalysisMode) -> AnalysisMode:
    """Add ``mode`` after the others (menu order); a taken name raises ValueError."""
    if mode.name in _REGISTRY:
        raise ValueError(f"an analysis mode named {mode.name!r} is already registered")
    _REGISTRY[mode.name] = mode
    return mode


def unregister_mode(name: str) -> None:
    """Remove a mode (tests that register one clean up with this)."""
    _REGISTRY.pop(name, None)


def modes() -> list[AnalysisMode]:
    """The registered modes in menu order."""
    return list(_REGISTRY.values())


def mode_applies(name: str, spec, kind: str) -> bool:
    """Whether mode ``name`` means something for renderer ``spec`` (a RendererSpec) drawing a
    shape of representation ``kind``."""
    kinds = get_mode(name).kinds
    return spec.applies(name) and (kinds is None or kind in kinds)


def mode_names() -> list[str]:
    return list(_REGISTRY)


def get_mode(name: str) -> AnalysisMode:
    """The mode called ``name``; ValueError naming the choices otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown analysis mode {name!r}; expected one of {', '.join(_REGISTRY)}") from None


def mode_shortcut(index: int) -> Optional[str]:
    """The key of the mode at menu position ``index`` (0-based): Ctrl+1 .. Ctrl+9 for the first
    nine, Ctrl+0 for the tenth, then Ctrl+Alt+1 .. Ctrl+Alt+9; None after that."""
    if index < 9:
        return f"Ctrl+{index + 1}"
    if index == 9:
        return "Ctrl+0"
    if index < 19:
        return f"Ctrl+Alt+{index - 9}"
    return None


SHORTCUT_SCHEME = "analysis modes in menu order: Ctrl+1 .. Ctrl+9, Ctrl+0 for the 10th, Ctrl+Alt+1 .. for more"

for _mode in (
    AnalysisMode("difference", "soft - reference",
                 "Signed difference of the differentiable render and the OpenGL reference (mean of "
                 "R, G, B): red where the soft render is brighter, blue where darker",
                 f"{_BUILTIN}:difference", cheap=True),
    AnalysisMode("alpha", "soft alpha vs hard mask",
                 "Soft silhouette minus the reference's hard coverage mask (its edge is the black "
                 "line): red is the soft halo outside the shape, blue is coverage missing inside",
                 f"{_BUILTIN}:alpha", cheap=True),
    AnalysisMode("dl_di", "dL/dI",
                 "Gradient of the loss with respect to every pixel (alpha for silhouette losses, "
                 "the sum over R, G, B for photometric ones): where the loss wants the image to change; "
                 "blue asks for more (for a silhouette loss: the target's shape not yet covered)",
                 f"{_BUILTIN}:dl_di", needs_target=True),
    AnalysisMode("di_soft", "dI/dtheta soft",
                 "How the differentiable render changes per unit of the chosen parameter "
                 "(forward-mode derivative, composited over the background)", f"{_BUILTIN}:di_soft"),
    AnalysisMode("di_ref", "dI/dtheta reference",
                 "The honest derivative: for a mesh the exact derivative of the box-filtered image (edge "
                 "integrals); for the other representations central differences of the 4x "
                 "supersampled OpenGL reference",
                 f"{_BUILTIN}:di_ref"),
    AnalysisMode("agreement", "dI/dtheta agreement",
                 "Where the soft and reference derivatives agree (red) or disagree (blue), at the "
                 "scale of the soft edge band; the map sums to their cosine similarity",
                 f"{_BUILTIN}:agreement"),
    AnalysisMode("influence", "face influence of picked pixel",
                 "Click a pixel: each face is painted with its colour weight at that pixel, and the "
                 "faces that reach it are outlined", f"{_BUILTIN}:influence", zoom_to_pick=True, kinds=("mesh",)),
    AnalysisMode("vertex_grad", "|dL/dV| on the shape",
                 "Per-element gradient magnitude: per vertex painted on the mesh by the OpenGL "
                 "renderer (arrows show where a gradient-descent step moves the vertices pulled "
                 "hardest), per splat on the splats, a slice of dL/dx through a voxel grid, per "
                 "parameter for an SDF",
                 f"{_BUILTIN}:vertex_grad", needs_target=True, magnitude_scales=True),
    AnalysisMode("diagnostics", "diagnostics",
                 "Why the gradient may be zero, NaN or misleading, in plain words, each finding with "
                 "its severity (dL/dI itself is mode 3)",
                 f"{_BUILTIN}:diagnostics", needs_target=True, shows_text=True),
    # after the first wave's nine, so that their shortcuts stay Ctrl+1 .. Ctrl+9
    AnalysisMode("compare", "gradient methods vs exact",
                 "Every gradient method (SoftRas at the current sigma and gamma, DIB-R, NMR, AA, hard) "
                 "beside the exact derivative of the box-filtered image on one colour scale, each "
                 "with its cosine, sign agreement and magnitude ratio, and SoftRas's agreement "
                 "against sigma: which gradient is right, and what sigma to choose (slow: a few "
                 "seconds per method)", "app.workers.compare_mode:compare_methods", needs_target=True,
                 kinds=("mesh",)),
    AnalysisMode("sdf_convergence", "sphere tracing: did not converge",
                 "SDF evaluations per pixel of the sphere tracer; the pixels whose march ran out of "
                 "steps are outlined (grazing rays near the silhouette, or an SDF that is not a true "
                 "distance)", "app.workers.representation_modes:sdf_convergence", kinds=("sdf",)),
):
    register_mode(_mode)

DEFAULT_MODE = "difference"
# Parameters offered for dI/dtheta (any name renderer.analysis.parse_param accepts can be typed).
PARAM_CHOICES = ("azimuth", "elevation", "distance", "fov", "light_azimuth", "light_elevation",
                 "ka", "kd", "ks", "shininess", "vertex:0:y")
LOSS_CHOICES = ("silhouette", "silhouette-mse", "l1", "l2", "l1-ssim")
