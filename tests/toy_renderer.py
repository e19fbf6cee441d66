"""A toy renderer in one module with one registration call: a flat-colour SoftRas silhouette.

It proves the registry is the one place a renderer has to be named: tests/test_registry.py
imports this module and finds "toy_flat" in the CLI choices, the GUI combos, the bench and the
agreement tests, with no other file edited. Also usable as a plugin: DRD_PLUGINS=tests.toy_renderer.
"""
from __future__ import annotations

import torch

from renderer.fragments import RenderOutput
from renderer.registry import RendererSpec, register_renderer
from renderer.scene import Scene, softras_edge_width_px
from renderer.soft.silhouette import render_silhouette


def render_toy_flat(scene: Scene) -> RenderOutput:
    """rgb = albedo where the soft silhouette covers, the background elsewhere: (S, S, 3);
    alpha (S, S) the SoftRas silhouette at the scene's sigma (differentiable in the geometry)."""
    alpha = render_silhouette(scene).alpha
    albedo = scene.material.albedo.to(alpha.device, alpha.dtype)
    bg = torch.tensor(scene.settings.background, dtype=alpha.dtype, device=alpha.device)
    rgb = alpha[..., None] * albedo + (1 - alpha[..., None]) * bg
    return RenderOutput(rgb=rgb, alpha=alpha)


SPEC = register_renderer(RendererSpec(
    name="toy_flat", render=render_toy_flat, wrt=("geometry", "material"), buffers=("rgb", "alpha"),
    uses=("sigma",), edge_width_px=softras_edge_width_px, bench_lightings=("none",),
    analysis_modes=("difference", "alpha", "dl_di", "di_soft", "di_ref", "agreement", "vertex_grad"),
    description="flat albedo over the SoftRas silhouette (a test's toy)"))
