"""Shape: deform a template sphere until its silhouettes match multi-view target silhouettes.

Parametrizations:
- "offsets" (PyTorch3D fit_textured_mesh): v = v0 + d, d (V, 3) starting at 0.
- "softras" (SoftRas demo_deform): v = sigmoid(logit(|v0|) + d) * sign(v0), then a learnable
  centre c = tanh(b) (3,): v <- relu(v) (1 - c) - relu(-v) (1 + c) + c; keeps vertices in (-1, 1).
Regularizer weights apply to the means of ``renderer.analysis.losses`` (reduction "mean") or, to
follow SoftRas's summed losses, to the sums (reduction "sum": mean x count of vertices or edges).
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Optional

import numpy as np
import torch

from ...analysis.losses import (edge_length_loss, flatten_loss, interior_edges, normal_consistency_loss,
                                uniform_laplacian_loss, unique_edges)
from ...mesh import Mesh
from ...scene import Scene
from ..views import View
from .base import ParamGroup, Task

PARAMETRIZATIONS = ("offsets", "softras")
REGULARIZER_NAMES = ("laplacian", "laplacian-norm", "flatten", "edge", "normal")


def laplacian_norm_loss(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """PyTorch3D's uniform ``mesh_laplacian_smoothing``: mean over vertices of the NORM (not the
    squared norm) || v_i - mean_{j in N(i)} v_j ||. verts: (V, 3); faces: (F, 3) -> 0-d."""
    edges = unique_edges(faces)
    both = torch.cat([edges, edges.flip(1)], dim=0)
    nb_sum = torch.zeros_like(verts).index_add(0, both[:, 0], verts[both[:, 1]])
    degree = torch.zeros(verts.shape[0], dtype=verts.dtype, device=verts.device).index_add(
        0, both[:, 0], torch.ones(both.shape[0], dtype=verts.dtype, device=verts.device))
    has = degree > 0
    lap = verts[has] - nb_sum[has] / degree[has, None]
    return ((lap * lap).sum(-1) + 1e-12).sqrt().mean()


REGULARIZER_FNS = {"laplacian": uniform_laplacian_loss, "laplacian-norm": laplacian_norm_loss,
                   "flatten": flatten_loss, "edge": edge_length_loss, "normal": normal_consistency_loss}


def welded(mesh: Mesh) -> Mesh:
    """The mesh with vertices that share a position merged (files often split them at UV seams or
    per face), and without colours or texture: one vertex per surface point, so it deforms
    without tearing. verts (V', 3), faces (F, 3) reindexed."""
    if mesh.weld is None:
        return dataclasses.replace(mesh, colors=None, uvs=None, texture=None)
    weld = mesh.weld
    keep = torch.unique(weld)
    new_index = torch.full((mesh.num_verts,), -1, dtype=torch.int64)
    new_index[keep] = torch.arange(keep.numel())
    faces = new_index[weld[mesh.faces]]
    return dataclasses.replace(mesh, verts=mesh.verts[keep].clone(), faces=faces, colors=None, uvs=None,
                               texture=None, weld=None)


def chamfer_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Symmetric mean nearest-neighbour distance between point sets a (N, 3) and b (M, 3)."""
    d = torch.cdist(a.double(), b.double())
    return float(0.5 * (d.min(1).values.mean() + d.min(0).values.mean()))


class ShapeTask(Task):
    """base: scene whose mesh is the template (welded here; scaled by ``template_scale``); views:
    the target silhouettes; weights: regularizer name -> weight; reduction: "mean" or "sum";
    truth_verts: optional (N, 3) points of the true shape (for the chamfer error)."""

    name = "shape"
    primary_error = "error/chamfer"
    primary_unit = "world"

    def __init__(self, base: Scene, views: list[View], loss: str = "silhouette",
                 weights: Optional[Mapping[str, float]] = None, reduction: str = "mean",
                 parametrization: str = "offsets", template_scale: float = 1.0,
                 truth_verts: Optional[torch.Tensor] = None):
        if parametrization not in PARAMETRIZATIONS:
            raise ValueError(f"unknown parametrization {parametrization!r}; expected {', '.join(PARAMETRIZATIONS)}")
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be mean or sum, got {reduction!r}")
        weights = dict(weights or {})
        unknown = set(weights) - set(REGULARIZER_NAMES)
        if unknown:
            raise ValueError(f"unknown regularizer {sorted(unknown)[0]!r}; expected one of {', '.join(REGULARIZER_NAMES)}")
        template = welded(base.mesh)
        template = dataclasses.replace(template, verts=template.verts * template_scale)
        super().__init__(base.replace(shape=template), views, loss)
        self.weights = weights
        self.reduction = reduction
        self.parametrization = parametrization
        self.template_scale = template_scale
        self.truth_verts = None if truth_verts is None else truth_verts.detach().float()
        v0 = template.verts
        self.displace = torch.zeros_like(v0, requires_grad=True)
        self.center = torch.zeros(3, dtype=v0.dtype, requires_grad=True)
        if parametrization == "softras":
            mag = v0.abs().clamp(1e-6, 1 - 1e-6)
            if bool((v0.abs() >= 1).any()):
                raise ValueError("the softras parametrization needs template vertices inside (-1, 1): "
                                 "use a template scale below 1 (SoftRas uses 0.5)")
            self._base_logit = torch.log(mag / (1 - mag))
            self._sign = torch.sign(v0)
        faces = template.faces
        self._counts = {"laplacian": v0.shape[0], "laplacian-norm": v0.shape[0],
                        "flatten": int(interior_edges(faces)[0].shape[0]),
                        "edge": int(unique_edges(faces).shape[0]),
                        "normal": int(interior_edges(faces)[0].shape[0])}

    def verts(self) -> torch.Tensor:
        """(V, 3) current vertices (differentiable)."""
        v0 = self.base.mesh.verts
        if self.parametrization == "offsets":
            return v0 + self.displace
        v = torch.sigmoid(self._base_logit + self.displace) * self._sign
        c = torch.tanh(self.center)
        return torch.relu(v) * (1 - c) - torch.relu(-v) * (1 + c) + c

    def param_groups(self) -> list[ParamGroup]:
        groups = [ParamGroup("displace", self.displace)]
        if self.parametrization == "softras":
            groups.append(ParamGroup("center", self.center))
        return groups

    def scene_for(self, view: View) -> Scene:
        return self.base.replace(shape=self.base.mesh.with_verts(self.verts()), camera=view.camera)

    def regularizers(self) -> dict[str, torch.Tensor]:
        if not self.weights:
            return {}
        v, f = self.verts(), self.base.mesh.faces
        out = {}
        for name, w in self.weights.items():
            scale = w * (self._counts[name] if self.reduction == "sum" else 1.0)
            out[name] = scale * REGULARIZER_FNS[name](v, f)
        return out

    def error_scalars(self) -> dict[str, float]:
        if self.truth_verts is None:
            return {}
        with torch.no_grad():
            return {"error/chamfer": chamfer_distance(self.verts().float(), self.truth_verts)}

    def frame_extras(self) -> dict[str, np.ndarray]:
        return {"verts": self.verts().detach().float().cpu().numpy()}

    def arrays(self) -> dict[str, np.ndarray]:
        return {"faces": self.base.mesh.faces.cpu().numpy().astype(np.int64),
                "template_verts": self.base.mesh.verts.detach().float().cpu().numpy()}

    def summary(self, errors: Optional[Mapping[str, float]] = None) -> str:
        e = self.error_scalars() if errors is None else errors
        return f"chamfer distance to the true shape {e['error/chamfer']:.4f}" if e else ""

    def describe(self) -> dict:
        d = super().describe()
        d.update(weights=self.weights, reduction=self.reduction, parametrization=self.parametrization,
                 template_scale=self.template_scale, template_verts=self.base.mesh.num_verts,
                 template_faces=self.base.mesh.num_faces, truth_known=self.truth_verts is not None)
        return d

    @classmethod
    def _recorded_shape(cls, timeline, step: int, mesh_named, notes: list[str]) -> Mesh:
        """The vertices of the recorded frame nearest ``step`` on the run's faces (no mesh needed)."""
        from .base import nearest_recorded_frame

        frame_step, verts = nearest_recorded_frame(timeline, step, "verts", "shape")
        if "faces" not in timeline.arrays:
            raise ValueError("the shape run recorded no faces")
        if frame_step != step:
            notes.append(f"verts of step {frame_step}")
        return Mesh(verts=torch.from_numpy(np.asarray(verts, np.float32)),
                    faces=torch.from_numpy(np.asarray(timeline.arrays["faces"], np.int64)),
                    name=f"shape at step {frame_step}")

    def mesh(self) -> Mesh:
        """The current shape as a Mesh (detached)."""
        return self.base.mesh.with_verts(self.verts().detach())


@torch.no_grad()
def silhouette_ious(task: ShapeTask, renderer: str = "hard", threshold: float = 0.5,
                    sigma: Optional[float] = None) -> np.ndarray:
    """Per-view IoU of the current shape's binary silhouette against the target's (alpha >
    threshold) -> (N,) float. renderer: "hard" (z-buffer coverage: the mesh's own silhouette),
    "gl", or "softras" (the soft silhouette > threshold at ``sigma``, default the task's), which
    is what the optimizer sees: SoftRas silhouettes are wider than the mesh (several faces meet at
    the rim), so a fit at a large sigma shrinks the mesh and scores lower with "hard"."""
    from ...rendering import render_for_loss

    mesh = task.mesh()
    out = []
    for view in task.views:
        scene = task.base.replace(shape=mesh, camera=view.camera)
        scene = scene.with_settings(renderer=renderer, supersample=1, sigma=sigma or scene.settings.sigma)
        alpha = render_for_loss(scene, "alpha")["alpha"]
        a = alpha.float() > threshold
        t = view.target.alpha.float() > threshold
        union = (a | t).sum()
        out.append(float((a & t).sum()) / float(union) if union else 1.0)
    return np.asarray(out)
