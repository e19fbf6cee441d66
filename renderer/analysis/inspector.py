"""The pixel inspector: what makes one pixel's value, and which vertices it pulls.

For pixel (row, col) of a torch render: its rgb and alpha; every face with a (pixel, face) pair,
sorted by softmax weight, with its coverage D, weight w, view depth, perspective-correct
barycentrics (clipped to the triangle, as SoftRas shades) and shaded colour C; the background
weight; and d(pixel)/dV for r, g, b and alpha. SoftRas's aggregation is reproduced exactly:
rgb = sum_j w_j C_j + w_bg C_bg, with sum_j w_j + w_bg = 1. For the hard and DIB-R renderers the
one visible face has weight 1 (and the background 1 where none is).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..registry import differentiable_renderer
from ..rendering import render
from ..scene import Scene
from .element_inspector import ElementTable, inspect_element_pixel
from ..soft.common import background, prepare
from ..soft.hard import shade_pairs

DEFAULT_MIN_WEIGHT = 1e-4


@dataclass
class FaceInfluence:
    """One face at the pixel: D = sigmoid(delta d2 / sigma) coverage, weight = softmax colour
    weight (0 for faces that only enter the silhouette: back faces), depth = view depth at the
    pixel, bary (3,) perspective-correct barycentrics, color (3,) its shaded colour there."""

    face: int
    coverage: float
    weight: float
    depth: float
    bary: np.ndarray
    color: np.ndarray


@dataclass
class PixelReport:
    """Everything about one pixel. grad_rgb (3, V, 3): d(r, g, b)/dV; grad_alpha (V, 3)."""

    row: int
    col: int
    renderer: str
    rgb: np.ndarray
    alpha: float
    bg_weight: float
    bg_color: np.ndarray
    faces: list[FaceInfluence]
    grad_rgb: np.ndarray
    grad_alpha: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def weight_sum(self) -> float:
        """sum_j w_j + w_bg (1 up to rounding)."""
        return float(sum(f.weight for f in self.faces) + self.bg_weight)

    @property
    def reconstructed_rgb(self) -> np.ndarray:
        """sum_j w_j C_j + w_bg C_bg, which equals ``rgb``."""
        acc = self.bg_weight * self.bg_color
        for f in self.faces:
            acc = acc + f.weight * f.color
        return acc

    def significant(self, min_weight: float = DEFAULT_MIN_WEIGHT) -> list[FaceInfluence]:
        """Faces with non-negligible influence: colour weight or coverage above ``min_weight``."""
        return [f for f in self.faces if f.weight >= min_weight or f.coverage >= min_weight]

    def vertex_pull(self, channel: str = "rgb") -> np.ndarray:
        """(V,) how hard this pixel pulls each vertex: |d value / dV| with value = r + g + b
        ("rgb") or alpha."""
        g = self.grad_rgb.sum(0) if channel == "rgb" else self.grad_alpha
        return np.linalg.norm(g, axis=-1)

    def top_vertices(self, count: int = 10, channel: str = "rgb") -> list[tuple[int, float, np.ndarray]]:
        """The ``count`` vertices pulled hardest: (vertex id, magnitude, gradient (3,))."""
        pull = self.vertex_pull(channel)
        g = self.grad_rgb.sum(0) if channel == "rgb" else self.grad_alpha
        order = np.argsort(-pull)[:count]
        return [(int(i), float(pull[i]), g[i]) for i in order if pull[i] > 0]

    def lines(self, min_weight: float = DEFAULT_MIN_WEIGHT, max_faces: int = 12) -> list[str]:
        """A plain-text report, one fact per line."""
        out = [f"pixel (row {self.row}, col {self.col}), {self.renderer}: rgb "
               f"{np.array2string(self.rgb, precision=4)}, alpha {self.alpha:.4f}",
               f"background weight {self.bg_weight:.4g}; weights sum to {self.weight_sum:.6f}; "
               f"reconstructed rgb {np.array2string(self.reconstructed_rgb, precision=4)}"]
        faces = self.significant(min_weight)
        out.append(f"{len(faces)} face(s) with weight or coverage >= {min_weight:g} "
                   f"(of {len(self.faces)} pairs):")
        for f in faces[:max_faces]:
            out.append(f"  face {f.face:>6}  D {f.coverage:.4f}  w {f.weight:.4f}  depth {f.depth:.4f}  "
                       f"bary {np.array2string(f.bary, precision=3)}  C {np.array2string(f.color, precision=3)}")
        top = self.top_vertices(5)
        if top:
            out.append("vertices pulled hardest by r+g+b: " + ", ".join(f"{i} ({m:.3g})" for i, m, _ in top))
        else:
            out.append("this pixel's colour pulls no vertex (no geometry gradient here)")
        return out + self.notes


def _face_colors(scene: Scene, faces: torch.Tensor, row: int, col: int, clip: bool):
    """Shaded colour (M, 3), barycentrics (M, 3) and depth (M,) of ``faces`` at the pixel centre,
    by the renderers' own per-pair shading."""
    s = scene.settings.image_size
    with torch.no_grad():
        prep = prepare(scene)
        faces = faces.to(prep.verts.device)
        pix = torch.full_like(faces, row * s + col)
        color, weights, z = shade_pairs(scene, prep, pix, faces, clip=clip)
    return color.T.double().cpu().numpy(), weights.T.double().cpu().numpy(), z.double().cpu().numpy()


def _pixel_gradients(scene: Scene, row: int, col: int) -> tuple[np.ndarray, np.ndarray]:
    verts = scene.mesh.verts.detach().clone().requires_grad_()
    out = render(scene.replace(shape=scene.mesh.with_verts(verts)))
    values = [out["rgb"][row, col, c] for c in range(3)] + [out["alpha"][row, col]]
    grads = []
    for i, v in enumerate(values):
        if v.requires_grad:
            (g,) = torch.autograd.grad(v, verts, retain_graph=i < 3, allow_unused=True)
        else:
            g = None
        grads.append(np.zeros(tuple(verts.shape)) if g is None else g.double().cpu().numpy())
    return np.stack(grads[:3]), grads[3]


def inspect_pixel(scene: Scene, row: int, col: int, with_gradients: bool = True) -> PixelReport | ElementTable:
    """The pixel inspector for (row, col), row 0 at the top, of the scene's torch renderer.
    with_gradients: also d(pixel)/dV (four reverse passes through the full render; without it
    grad_rgb and grad_alpha are zeros). A scene of another representation gets its own
    inspector's ``ElementTable`` (``element_inspector``)."""
    if scene.kind != "mesh":
        return inspect_element_pixel(scene, row, col)
    st = scene.settings
    s = st.image_size
    if not (0 <= row < s and 0 <= col < s):
        raise ValueError(f"pixel (row {row}, col {col}) is outside the {s}x{s} image")
    renderer = differentiable_renderer(st.renderer, "the pixel inspector")
    with torch.no_grad():
        out = render(scene, with_pairs=True)
    rgb = out["rgb"][row, col].double().cpu().numpy()
    alpha = float(out["alpha"][row, col])
    bg = background(scene, torch.float64, torch.device("cpu")).numpy()
    notes: list[str] = []
    if out.pairs is not None:
        pairs = out.pairs.at(row * s + col)
        faces, coverage, weight = pairs.face, pairs.coverage, pairs.weight
        bg_weight = float(out["bg_weight"][row, col])
        clip = True
    else:
        # the face at the pixel centre; a renderer without a z-buffer at this resolution (NMR
        # renders at 2x) gets the hard renderer's
        face_ids = out.face_id if out.face_id is not None else render(scene, "hard")["face_id"]
        face_id = int(face_ids[row, col])
        faces = torch.tensor([face_id] if face_id >= 0 else [], dtype=torch.long)
        coverage = torch.ones(faces.numel(), dtype=torch.float64)
        weight = torch.ones(faces.numel(), dtype=torch.float64)
        bg_weight = 0.0 if face_id >= 0 else 1.0
        clip = False
        if renderer.antialiased:
            notes.append(f"{renderer.name}: the pixel's colour blends the faces and background that "
                         f"share it; listed is the face at the pixel centre")
        else:
            notes.append(f"{renderer.name}: hard visibility, the nearest face takes the whole pixel colour")
    colors, bary, depth = _face_colors(scene, faces, row, col, clip)
    infl = [FaceInfluence(int(f), float(c), float(w), float(z), b, col_)
            for f, c, w, z, b, col_ in zip(faces.tolist(), coverage.tolist(), weight.tolist(),
                                         depth.tolist(), bary, colors)]
    infl.sort(key=lambda f: (-f.weight, -f.coverage, f.face))
    if with_gradients:
        grad_rgb, grad_alpha = _pixel_gradients(scene, row, col)
    else:
        grad_rgb, grad_alpha = np.zeros((3, scene.mesh.num_verts, 3)), np.zeros((scene.mesh.num_verts, 3))
    return PixelReport(row, col, st.renderer, rgb, alpha, bg_weight, bg, infl, grad_rgb, grad_alpha, notes)
