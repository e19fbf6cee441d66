"""Gradient buffers of a loss: dL/dI per pixel, dL/dV per vertex, dL/dtheta per scalar parameter.

The loss is evaluated in two stages so that each buffer is exact and cheap: the render's rgb and
alpha are detached into leaves, the loss is differentiated w.r.t. them (dL/dI), and dL/dI is then
pushed back through the renderer once (a vector-Jacobian product) into every scene parameter
group of the scene at the same time (``params.groups_for``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np
import torch

from ..rendering import render
from ..scene import Scene
from .losses import REGULARIZERS, Target, get_loss, topology_faces
from .params import ParamSpec, element_group, group_value, groups_for, scalar_params, with_groups


def render_rgba(scene: Scene) -> torch.Tensor:
    """Render with the scene's torch renderer -> (S, S, 4): rgb then alpha, graph kept."""
    out = render(scene)
    return torch.cat([out["rgb"], out["alpha"][..., None].to(out["rgb"].dtype)], dim=-1)


def leaf_groups(scene: Scene, groups: Optional[Sequence[str]] = None) -> dict[str, torch.Tensor]:
    """Every parameter group of ``scene`` (or those named) as a fresh leaf tensor that requires
    grad."""
    return {g: group_value(scene, g).requires_grad_() for g in (groups or groups_for(scene))}


@dataclass
class GradientBuffers:
    """Everything one loss evaluation says about its gradient.

    loss: L; rgb (S, S, 3), alpha (S, S): the render; dL_dI (S, S, 4): signed dL/d(r, g, b, alpha);
    dL_dV (V, 3): per-vertex gradient (image loss plus regularizers); for another representation,
    the gradient of its element group (``params.element_group``: (N, ...) per splat, cell,
    primitive); dL_dV_norm (V,) or (N,): its magnitude per element; dL_dtheta: name -> dL/dtheta for every scalar parameter (per degree for angles).
    """

    loss: float
    loss_name: str
    rgb: torch.Tensor
    alpha: torch.Tensor
    dL_dI: torch.Tensor
    dL_dV: torch.Tensor
    dL_dV_norm: torch.Tensor
    dL_dtheta: dict[str, float]
    group_grads: dict[str, torch.Tensor] = field(repr=False, default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        """The buffers as numpy arrays (for npz files)."""
        return {"rgb": self.rgb.cpu().numpy(), "alpha": self.alpha.cpu().numpy(), "dL_dI": self.dL_dI.cpu().numpy(),
                "dL_dV": self.dL_dV.cpu().numpy(), "dL_dV_norm": self.dL_dV_norm.cpu().numpy(),
                "dL_dtheta_names": np.array(list(self.dL_dtheta)),
                "dL_dtheta": np.array(list(self.dL_dtheta.values()), dtype=np.float64)}


def image_loss_and_grad(rgb: torch.Tensor, alpha: torch.Tensor, target: Target, loss: str):
    """L and dL/dI for a render given as plain tensors. rgb (S, S, 3), alpha (S, S) -> (L 0-d,
    dL/dI (S, S, 4)). Raises ValueError when the target's size differs from the render's."""
    if target.image_size != alpha.shape[0]:
        raise ValueError(f"the target is {target.image_size}x{target.image_size} pixels but the "
                         f"render is {alpha.shape[0]}x{alpha.shape[1]}")
    rgb_leaf = rgb.detach().clone().requires_grad_()
    alpha_leaf = alpha.detach().clone().requires_grad_()
    value = get_loss(loss)(rgb_leaf, alpha_leaf, target)
    g_rgb, g_alpha = torch.autograd.grad(value, [rgb_leaf, alpha_leaf], allow_unused=True)
    g_rgb = torch.zeros_like(rgb_leaf) if g_rgb is None else g_rgb
    g_alpha = torch.zeros_like(alpha_leaf) if g_alpha is None else g_alpha
    return value.detach(), torch.cat([g_rgb, g_alpha[..., None]], dim=-1)


def loss_gradients(scene: Scene, target: Target, loss: str = "silhouette",
                   regularizers: Optional[Mapping[str, float]] = None) -> GradientBuffers:
    """Render ``scene``, evaluate ``loss`` against ``target`` (plus weighted ``regularizers``,
    name -> weight, names from ``losses.REGULARIZERS``) and return every gradient buffer.

    The hard renderer detaches geometry on purpose, so its dL/dV and camera derivatives are
    exactly zero: that is reported, not an error.
    """
    leaves = leaf_groups(scene)
    diff_scene = with_groups(scene, leaves)
    out = render(diff_scene)
    rgb, alpha = out["rgb"], out["alpha"].to(out["rgb"].dtype)
    value, dl_di = image_loss_and_grad(rgb, alpha, target.to(rgb.dtype, rgb.device), loss)
    outputs, grads = [], []
    for tensor, g in ((rgb, dl_di[..., :3]), (alpha, dl_di[..., 3])):
        if tensor.requires_grad:
            outputs.append(tensor)
            grads.append(g)
    reg_total = torch.zeros((), dtype=rgb.dtype)
    if regularizers:
        faces = topology_faces(scene.mesh)
        for name, weight in regularizers.items():
            if name not in REGULARIZERS:
                raise ValueError(f"unknown regularizer {name!r}; expected one of {', '.join(REGULARIZERS)}")
            reg_total = reg_total + weight * REGULARIZERS[name](leaves["verts"], faces)
        outputs.append(reg_total)
        grads.append(torch.ones_like(reg_total))
    names = list(leaves)
    if outputs:
        got = torch.autograd.grad(outputs, [leaves[n] for n in names], grads, allow_unused=True)
    else:
        got = [None] * len(names)
    group_grads = {n: torch.zeros_like(leaves[n]) if g is None else g.detach() for n, g in zip(names, got)}
    dl_dtheta = {spec.name: float(group_grads[spec.group][spec.index]) for spec in scalar_params()}
    element = element_group(scene)
    dl_dv = group_grads[element] if element else torch.zeros(0, 3, dtype=rgb.dtype)
    per_element = dl_dv.reshape(dl_dv.shape[0], -1) if dl_dv.dim() > 1 else dl_dv[:, None]
    return GradientBuffers(
        loss=float(value) + float(reg_total.detach()), loss_name=loss, rgb=rgb.detach(),
        alpha=alpha.detach(), dL_dI=dl_di, dL_dV=dl_dv, dL_dV_norm=per_element.norm(dim=-1),
        dL_dtheta=dl_dtheta, group_grads=group_grads)


def loss_value(scene: Scene, target: Target, loss: str) -> float:
    """L for one render, without any gradient."""
    with torch.no_grad():
        out = render(scene)
        return float(get_loss(loss)(out["rgb"], out["alpha"].to(out["rgb"].dtype),
                                    target.to(out["rgb"].dtype, out["rgb"].device)))


def loss_and_param_grads(scene: Scene, target: Target, loss: str,
                         specs: Sequence[ParamSpec]) -> tuple[float, list[float]]:
    """(L, [dL/dtheta for each spec]) by one reverse pass through the renderer."""
    groups = sorted({s.group for s in specs})
    leaves = {g: group_value(scene, g).requires_grad_() for g in groups}
    out = render(with_groups(scene, leaves))
    value = get_loss(loss)(out["rgb"], out["alpha"].to(out["rgb"].dtype),
                           target.to(out["rgb"].dtype, out["rgb"].device))
    if not value.requires_grad:
        return float(value), [0.0] * len(specs)
    got = torch.autograd.grad(value, [leaves[g] for g in groups], allow_unused=True)
    by_group = dict(zip(groups, got))
    return float(value.detach()), [0.0 if by_group[s.group] is None else float(by_group[s.group][s.index])
                                   for s in specs]
