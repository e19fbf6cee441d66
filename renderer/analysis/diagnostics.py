"""Plain-words diagnosis of why a render-and-compare optimization may not converge.

``diagnose(scene, target, loss)`` runs every check and returns ``Finding``s, most severe first.
Each check looks for one cause users report (ux_and_style.md §A.2): hard rasterization (no
visibility gradient), a sigma so small that the sigmoid saturates or so large that the render is
biased, NaN or exploding vertex gradients from faces degenerate in screen space, a target that
the render does not overlap or that lies beyond the reach of any face, nothing visible, and, when
the true parameter values are known, gradients that pull the wrong way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import numpy as np
import torch

from ..fragments import SoftPairs
from ..registry import SOFTRAS_CUTOFF_FACTOR, get_renderer, renderers
from ..rendering import render
from ..scene import Scene
from ..soft.project import project_mesh
from .gradients import GradientBuffers, loss_gradients
from .losses import Target, get_loss
from .params import param_value, parse_param

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
SATURATED_EDGE_PX = 0.5           # soft edge narrower than this: the sigmoid saturates
BLURRED_EDGE_FRACTION = 0.05      # soft edge wider than this fraction of the image: biased render
SLOPE_FLOOR = 1e-4                # D (1 - D) above this: the pair's coverage has a usable slope
# An exploding dL/dV is measured against the scene's own gradient scale: the RMS of |dL/dV| over
# the vertices that get any, leaving out the largest 1% (at least 3: one face). Silhouette
# gradients are sparse with long soft tails, so a median is tiny and unstable (it flagged healthy
# scenes); this scale is what a vertex on the silhouette typically gets. Healthy scenes measured
# (Spot, teapot, knot, axes, dumbbell; sigma 1e-5..1e-3; 128 and 256 px; silhouette and l2;
# targets 15 and 40 deg away) peak at 4 to 80 times it; a screen-degenerate face at 10^4 and more.
SPIKE_RATIO = 300.0               # peak beyond this many times the scale: a warning
EXPLODE_RATIO = 3000.0            # ... beyond this: an error
SCALE_LEAVE_OUT = 0.01            # share of the largest magnitudes left out of the scale
OUT_OF_REACH_NOTED = 0.02         # share of the target beyond every soft edge: worth a note ...
OUT_OF_REACH_WARNING = 0.25       # ... and a warning beyond this
DEGENERATE_AREA_PX2 = 1e-2        # doubled screen area (px^2) below this: degenerate on screen
COVERED = 0.5


@dataclass
class Finding:
    """One diagnosis: ``code`` (stable, for tests and tools), ``severity`` (error: the loss cannot
    converge as set up; warning: it may not; info: for the record) and a plain-words message."""

    code: str
    severity: str
    message: str

    def __str__(self) -> str:
        return f"[{self.severity}] {self.message}"


def _pct(x: float) -> str:
    return f"{100 * x:.2g}%" if x < 0.1 else f"{100 * x:.0f}%"


def sigma_for_width(width_px: float, image_size: int) -> float:
    """The SoftRas sigma whose edge band is ``width_px`` wide: sqrt(C sigma) S / 2 = width, with
    C = SOFTRAS_CUTOFF_FACTOR."""
    return (2 * width_px / image_size) ** 2 / SOFTRAS_CUTOFF_FACTOR


def check_hard_renderer(scene: Scene, loss: str) -> list[Finding]:
    """A renderer without geometry gradients (the hard z-buffer detaches geometry): no visibility
    (edge) gradient at all."""
    spec = get_renderer(scene.settings.renderer)
    if spec.geometry_gradients:
        return []
    channel = get_loss(loss).channel
    tail = ("the silhouette loss has no gradient at all" if channel == "alpha" else
            "only light, material and colour parameters get gradient")
    others = [s.name for s in renderers(scene.kind, differentiable=True) if s.geometry_gradients]
    return [Finding("hard-no-visibility-gradient", "error" if channel == "alpha" else "warning",
                    f"{spec.name} renderer: no visibility gradient: dL/dV and the camera derivatives "
                    f"are exactly zero and {tail}; use {' or '.join(others)}")]


def check_sigma(scene: Scene, pairs: Optional[SoftPairs], hard_alpha: Optional[torch.Tensor],
                soft_alpha: torch.Tensor) -> list[Finding]:
    """SoftRas's edge band against the pixel grid: saturated (too narrow) or biased (too wide)."""
    st = scene.settings
    if pairs is None:
        return []
    width = st.edge_width_px()
    d = pairs.coverage.double()
    live = d * (1 - d) >= SLOPE_FLOOR
    carrying = torch.unique(pairs.pix[live]).numel() / float(st.image_size ** 2)
    out = []
    if width < SATURATED_EDGE_PX:
        out.append(Finding("sigma-saturated", "error" if carrying < 0.01 else "warning",
                           f"sigma {st.sigma:g} is {width:.2g} px wide at this resolution: the sigmoid "
                           f"saturates and only {_pct(carrying)} of pixels carry geometry (coverage) "
                           f"gradient; raise sigma to about {sigma_for_width(2.0, st.image_size):.1g} "
                           f"for a 2 px band"))
    elif width > BLURRED_EDGE_FRACTION * st.image_size and hard_alpha is not None:
        grown = float(soft_alpha.sum()) / max(float(hard_alpha.sum()), 1.0) - 1
        out.append(Finding("sigma-blurred", "warning",
                           f"sigma {st.sigma:g} is {width:.3g} px wide ({_pct(width / st.image_size)} "
                           f"of the image): the soft silhouette is {_pct(max(grown, 0.0))} larger than "
                           f"the hard one and detail finer than the band is lost, so the optimum is "
                           f"biased; lower sigma as the fit improves"))
    return out


def _face_problem(scene: Scene, face: int) -> str:
    verts = scene.mesh.verts.detach()
    corners = verts[scene.mesh.faces[face]]
    if not torch.isfinite(corners).all():
        return "non-finite vertex coordinates"
    with torch.no_grad():
        screen = project_mesh(verts, scene.mesh.faces[face:face + 1], scene.camera)
    if not bool(screen.valid[0]):
        return "behind the near plane"
    s = scene.settings.image_size
    tri = screen.tri[0].double() * s / 2
    area2 = abs(float((tri[1, 0] - tri[0, 0]) * (tri[2, 1] - tri[0, 1]) -
                      (tri[1, 1] - tri[0, 1]) * (tri[2, 0] - tri[0, 0])))
    if area2 < DEGENERATE_AREA_PX2:
        return f"degenerate in screen space: doubled area {area2:.2g} px^2"
    n = torch.cross(corners[1] - corners[0], corners[2] - corners[0], dim=0)
    if float(n.norm()) < 1e-12:
        return "zero area in 3D"
    return f"screen area {area2 / 2:.3g} px^2"


def _worst_face(scene: Scene, vertex_mask: torch.Tensor) -> tuple[int, str]:
    """Among faces touching flagged vertices, the most suspicious (non-finite, then smallest)."""
    faces = scene.mesh.faces
    touching = torch.nonzero(vertex_mask[faces].any(-1), as_tuple=True)[0].tolist()
    if not touching:
        return -1, "no face uses these vertices"
    ranked = []
    for f in touching[:2000]:
        problem = _face_problem(scene, f)
        rank = 0 if problem.startswith("non-finite") else 1 if problem.startswith("degenerate") else \
            2 if problem.startswith(("zero", "behind")) else 3
        ranked.append((rank, f, problem))
    rank, face, problem = min(ranked)
    return face, problem


def check_nonfinite(scene: Scene, grads: GradientBuffers) -> list[Finding]:
    """NaN or infinite values in the render or dL/dV, and exploding dL/dV, traced to a face."""
    out = []
    if not torch.isfinite(grads.rgb).all() or not torch.isfinite(grads.alpha).all():
        bad = int((~torch.isfinite(grads.rgb).all(-1) | ~torch.isfinite(grads.alpha)).sum())
        out.append(Finding("nan-render", "error", f"NaN or inf in the render itself ({bad} pixels)"))
    g = grads.dL_dV
    bad_v = ~torch.isfinite(g).all(-1)
    if bad_v.any():
        face, problem = _worst_face(scene, bad_v)
        kind = "NaN" if torch.isnan(g).any() else "inf"
        out.append(Finding("nan-gradient", "error",
                           f"{kind} in dL/dV at {int(bad_v.sum())} vertices, from face {face} ({problem})"))
        return out
    mag = grads.dL_dV_norm
    scale = gradient_scale(mag)
    if scale is not None and scale > 0:
        peak, vertex = float(mag.max()), int(mag.argmax())
        ratio = peak / scale
        if ratio > SPIKE_RATIO:
            mask = torch.zeros_like(mag, dtype=torch.bool)
            mask[vertex] = True
            face, problem = _worst_face(scene, mask)
            severe = ratio > EXPLODE_RATIO
            out.append(Finding("exploding-gradient", "error" if severe else "warning",
                               f"dL/dV {'explodes' if severe else 'spikes'} at vertex {vertex}: |g| = {peak:.3g}, "
                               f"{ratio:.3g} times this scene's typical vertex gradient {scale:.3g} (healthy "
                               f"scenes stay under {SPIKE_RATIO:.0f} times); from face {face} ({problem})"))
    return out


def gradient_scale(magnitudes: torch.Tensor) -> Optional[float]:
    """The scene's own per-vertex gradient scale: the RMS of the non-zero |dL/dV| without the
    largest ``SCALE_LEAVE_OUT`` share (at least 3); None when fewer than 10 vertices get any."""
    nonzero = torch.sort(magnitudes[magnitudes > 0].double()).values
    if nonzero.numel() < 10:
        return None
    leave_out = max(3, int(SCALE_LEAVE_OUT * nonzero.numel()))
    rest = nonzero[:-leave_out]
    return float(rest.pow(2).mean().sqrt())


def check_visibility_and_overlap(scene: Scene, target: Target, grads: GradientBuffers, loss: str) -> list[Finding]:
    """Nothing visible; render and target disjoint; target pixels no face can reach."""
    alpha = grads.alpha.double()
    t_alpha = target.alpha.double()
    if float(alpha.max()) < 1e-6:
        return [Finding("nothing-visible", "error", "nothing is visible: the mesh is outside the view "
                        "or behind the camera (alpha is 0 everywhere), so no loss can pull it back")]
    out = []
    geometric = float(grads.dL_dV_norm.max()) if torch.isfinite(grads.dL_dV_norm).all() else float("nan")
    overlap = float((alpha * t_alpha).sum()) / max(min(float(alpha.sum()), float(t_alpha.sum())), 1e-12)
    if float(t_alpha.sum()) > 0 and overlap < 1e-3:
        if geometric == 0.0:
            tail = "silhouette gradient is zero everywhere"
        elif get_loss(loss).channel == "alpha":
            tail = "the gradient only shrinks the render where it is, it does not pull it toward the target"
        else:
            tail = "the photometric gradient only sees colour differences where each image is, not where to move"
        out.append(Finding("no-overlap", "error", f"the target and render do not overlap: {tail}; "
                           f"start closer (or blur both images / raise sigma)"))
        return out
    unreachable = (t_alpha > COVERED) & (alpha < 1e-6)
    frac = float(unreachable.sum()) / max(float((t_alpha > COVERED).sum()), 1.0)
    if frac > OUT_OF_REACH_NOTED:
        # a pose or shape error always leaves some of the target uncovered; the edges still pull
        # toward it. Only when much of it is beyond reach is the gradient starved.
        severe = frac > OUT_OF_REACH_WARNING
        tail = ("so the loss sees little of the target: start closer or raise sigma" if severe else
                "normal while the fit is off: the nearest edges still pull toward them")
        out.append(Finding("target-out-of-reach", "warning" if severe else "info",
                           f"{_pct(frac)} of the target's covered pixels lie beyond every face's soft edge "
                           f"and add no gradient themselves; {tail}"))
    return out


def check_zero_gradient(scene: Scene, grads: GradientBuffers, findings: list[Finding]) -> list[Finding]:
    """A loss above zero whose geometry gradient vanishes, when no other check explained it."""
    explained = any(f.severity != "info" for f in findings)
    if explained or grads.loss <= 1e-12 or not get_renderer(scene.settings.renderer).geometry_gradients:
        return []
    geo = [grads.dL_dtheta[n] for n in ("azimuth", "elevation", "distance", "fov")]
    if float(grads.dL_dV_norm.max()) == 0.0 and all(v == 0.0 for v in geo):
        return [Finding("zero-gradient", "error", f"the loss is {grads.loss:.4g} but dL/dV and every "
                        f"camera derivative are exactly zero")]
    return []


def check_direction(scene: Scene, grads: GradientBuffers, true_values: Mapping[str, float]) -> list[Finding]:
    """With known target values: does a gradient-descent step move each parameter toward them?"""
    out = []
    for name, true in true_values.items():
        spec = parse_param(name, scene)
        if spec.name not in grads.dL_dtheta:      # a per-element parameter (vertex, splat...)
            continue
        current = param_value(scene, spec)
        delta = true - current
        g = grads.dL_dtheta[spec.name]
        if abs(delta) < 1e-9:
            continue
        where = f"(now {current:.4g}, target {true:.4g})"
        if g == 0.0:
            out.append(Finding("no-param-gradient", "warning", f"dL/d{name} is exactly 0 {where}: "
                               f"gradient descent does not move {name} at all"))
        elif np.sign(-g) != np.sign(delta):
            out.append(Finding("wrong-direction", "warning",
                               f"dL/d{name} = {g:+.3g} per {spec.unit} {where}: a gradient-descent step "
                               f"moves {name} away from the target (a local minimum or a biased loss "
                               f"lies between; see the loss landscape)"))
        else:
            out.append(Finding("right-direction", "info", f"dL/d{name} = {g:+.3g} per {spec.unit} "
                               f"{where}: gradient descent moves {name} toward the target"))
    return out


# Checks a representation adds (e.g. the splats' dead-splat finding): kind -> check(scene,
# target, loss, grads) -> findings. Its package registers them with ``register_check``.
RepresentationCheck = Callable[[Scene, Target, str, GradientBuffers], list[Finding]]
REPRESENTATION_CHECKS: dict[str, list[RepresentationCheck]] = {}


def register_check(kind: str, check: RepresentationCheck) -> None:
    """Run ``check`` in ``diagnose`` for scenes of representation ``kind``."""
    REPRESENTATION_CHECKS.setdefault(kind, []).append(check)


def diagnose(scene: Scene, target: Target, loss: str = "silhouette",
             true_values: Optional[Mapping[str, float]] = None,
             grads: Optional[GradientBuffers] = None) -> list[Finding]:
    """Run every check on ``scene`` against ``target`` with ``loss``; most severe first.
    true_values: optional name -> value of the parameters the target was made with.
    grads: ``loss_gradients`` output if already computed."""
    grads = grads if grads is not None else loss_gradients(scene, target, loss)
    pairs = hard_alpha = None
    spec = get_renderer(scene.settings.renderer)
    if spec.pairs and "sigma" in spec.uses:          # the sigma checks read the soft pair record
        with torch.no_grad():
            pairs = render(scene, with_pairs=True).pairs
            if scene.settings.edge_width_px() > BLURRED_EDGE_FRACTION * scene.settings.image_size \
                    and spec.reference is not None:
                # the mesh's own coverage: the reference's, without supersampling
                hard_alpha = render(scene.with_settings(supersample=1), renderer=spec.reference)["alpha"]
    findings = check_hard_renderer(scene, loss)
    findings += check_nonfinite(scene, grads)
    findings += check_visibility_and_overlap(scene, target.to(grads.alpha.dtype), grads, loss)
    findings += check_sigma(scene, pairs, hard_alpha, grads.alpha)
    findings += check_zero_gradient(scene, grads, findings)
    if true_values:
        findings += check_direction(scene, grads, true_values)
    for check in REPRESENTATION_CHECKS.get(scene.kind, ()):
        findings += check(scene, target, loss, grads)
    findings.sort(key=lambda f: SEVERITY_ORDER[f.severity])
    return findings
