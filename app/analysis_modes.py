"""The analysis pane's modes: what each shows, in a user's words, and what it costs."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnalysisMode:
    """name: stable key; label: the menu text; help: tooltip; cheap: computed from the two renders
    alone (so also while a slider is dragged); needs_target: uses the loss target."""

    name: str
    label: str
    help: str
    cheap: bool = False
    needs_target: bool = False


MODES: tuple[AnalysisMode, ...] = (
    AnalysisMode("difference", "soft - reference",
                 "Signed difference of the differentiable render and the OpenGL reference (mean of "
                 "R, G, B): red where the soft render is brighter, blue where darker", cheap=True),
    AnalysisMode("alpha", "soft alpha vs hard mask",
                 "Soft silhouette minus the reference's hard coverage mask (outlined): red is the "
                 "soft halo outside the shape, blue is coverage missing inside", cheap=True),
    AnalysisMode("dl_di", "dL/dI",
                 "Gradient of the loss with respect to every pixel (alpha for silhouette losses, "
                 "the sum over R, G, B for photometric ones): where the loss wants the image to change",
                 needs_target=True),
    AnalysisMode("di_soft", "dI/dtheta soft",
                 "How the differentiable render changes per unit of the chosen parameter "
                 "(forward-mode derivative, composited over the background)"),
    AnalysisMode("di_ref", "dI/dtheta reference",
                 "The honest derivative: central differences of the 4x supersampled OpenGL render"),
    AnalysisMode("agreement", "dI/dtheta agreement",
                 "Where the soft and reference derivatives agree (red) or disagree (blue), at the "
                 "scale of the soft edge band; the map sums to their cosine similarity"),
    AnalysisMode("influence", "face influence of picked pixel",
                 "Click a pixel: each face is painted with its colour weight at that pixel, and the "
                 "faces that reach it are outlined"),
    AnalysisMode("vertex_grad", "|dL/dV| on the mesh",
                 "Per-vertex gradient magnitude painted on the mesh by the OpenGL renderer; arrows "
                 "show where a gradient-descent step moves the vertices pulled hardest",
                 needs_target=True),
    AnalysisMode("diagnostics", "diagnostics",
                 "Why the gradient may be zero, NaN or misleading, in plain words, over dL/dI",
                 needs_target=True),
)
MODE_NAMES = tuple(m.name for m in MODES)
BY_NAME = {m.name: m for m in MODES}
DEFAULT_MODE = "difference"
# Parameters offered for dI/dtheta (any name renderer.analysis.parse_param accepts can be typed).
PARAM_CHOICES = ("azimuth", "elevation", "distance", "fov", "light_azimuth", "light_elevation",
                 "ka", "kd", "ks", "shininess", "vertex:0:y")
LOSS_CHOICES = ("silhouette", "silhouette-mse", "l1", "l2")
