"""The SDF's entries in the analysis views: the pixel inspector (one pixel's sphere-tracing
steps as a table) and the per-element gradient view (dL/dtheta per primitive parameter, painted
on the primitive each pixel sees; a grid's node gradients as a slice)."""
from __future__ import annotations

import numpy as np
import torch

from ..analysis.element_inspector import ElementTable, fmt, register_pixel_inspector
from ..analysis.element_view import ElementView, register_element_painter
from ..scene import Scene
from .inspect import trace_steps
from .shapes import PRIMITIVE_FUNCTIONS, SDF
from .trace import trace

MAX_ROWS = 300


def inspect_sdf_pixel(scene: Scene, row: int, col: int) -> ElementTable:
    """Pixel (row, col)'s march: one row per SDF query (step, t, f(t), the step taken)."""
    rec = trace_steps(scene, row, col)
    steps = np.diff(np.append(rec.t, rec.t[-1] if rec.count else 0.0))
    outcome = ("hit" if rec.hit else "started inside the shape" if rec.inside
               else "missed" if rec.converged else "did not converge")
    header = [f"{outcome} after {rec.count} SDF queries (threshold {rec.threshold:.3g}, overstep {rec.overstep:g})",
              f"bounding sphere: t from {rec.t_enter:.5g} to {rec.t_exit:.5g}" if rec.t_exit > 0
              else "the ray misses the bounding sphere: not traced"]
    if rec.count:
        header.append(f"last t {rec.t[-1]:.6g}, f there {rec.distance[-1]:.3g}")
    rows = [(str(k), fmt(t, 7), fmt(f, 4), fmt(s, 4))
            for k, (t, f, s) in enumerate(zip(rec.t, rec.distance, steps))][:MAX_ROWS]
    notes = []
    if rec.count and not rec.converged:
        notes.append(f"still marching after {rec.count} steps: the ray grazes a surface (steps shrink "
                     "geometrically); the renderer finishes it by bisection if it enters the shape")
    if rec.count > MAX_ROWS:
        notes.append(f"first {MAX_ROWS} of {rec.count} steps listed")
    return ElementTable(row=row, col=col, renderer=scene.settings.renderer, header=header,
                        columns=("step", "t", "f(t)", "step"), rows=rows, elements=[-1] * len(rows),
                        notes=notes)


def nearest_primitive_image(scene: Scene) -> np.ndarray:
    """(S, S) int: the primitive nearest each pixel's hit point (-1: no hit)."""
    sdf: SDF = scene.shape
    size = scene.settings.image_size
    rays, tr = trace(sdf, scene.camera, size)
    out = np.full(size * size, -1, np.int64)
    idx = tr.hit.nonzero().squeeze(1)
    if idx.numel():
        with torch.no_grad():
            x = rays.origin.detach() + tr.t[idx, None] * rays.dirs.detach()[idx]
            values = sdf.params.detach().to(x.dtype)
            dist = torch.stack([PRIMITIVE_FUNCTIONS[p.type](x, values[at:at + len(p.fields)]).abs()
                                for p, at in zip(sdf.primitives, sdf.param_offsets())])
        out[idx.cpu().numpy()] = dist.argmin(0).cpu().numpy()
    return out.reshape(size, size)


def paint_sdf_gradient(scene: Scene, grad: np.ndarray, magnitude: np.ndarray) -> ElementView:
    """Primitives: each pixel shows the summed |dL/dtheta| of the primitive it sees, the lines
    list every parameter with its dL/dtheta (largest first). Grid: the z slice of |dL/d node|
    through the largest one. Module: the lines say where its gradients are."""
    sdf: SDF = scene.shape
    size = scene.settings.image_size
    if sdf.source == "primitives":
        names = sdf.param_names()
        values = sdf.params.detach().double().cpu().numpy()
        per_prim = np.array([np.abs(grad[at:at + len(p.fields)]).sum()
                             for p, at in zip(sdf.primitives, sdf.param_offsets())])
        ids = nearest_primitive_image(scene)
        image = np.where(ids >= 0, per_prim[np.clip(ids, 0, None)], np.nan).astype(np.float32)
        order = np.argsort(-np.abs(grad))
        lines = ["dL/dtheta per primitive parameter (largest first):"]
        lines += [f"  {names[i]:14s} = {values[i]: .4f}   dL/dtheta {grad[i]: .4g}" for i in order]
        return ElementView(image, "sum |dL/dtheta| of the primitive seen", lines=lines)
    if sdf.source == "grid":
        dx, dy, dz = sdf.grid.shape
        cube = magnitude.reshape(dx, dy, dz)
        k = int(np.unravel_index(np.argmax(cube), cube.shape)[2]) if cube.size else 0
        # rows: y from the top, columns: x
        image = cube[:, ::-1, k].T.astype(np.float32)
        return ElementView(image, f"|dL/d node| on the z slice k = {k} of {dz}",
                           lines=[f"grid {dx}x{dy}x{dz}: slice k = {k} (the node pulled hardest), y up"])
    return ElementView(np.full((size, size), np.nan, np.float32), "|dL/dtheta|",
                       lines=["a module SDF's gradients are in its parameters: "
                              "renderer.sdf.inspect.parameter_gradients lists them per tensor"])


register_pixel_inspector("sdf", inspect_sdf_pixel)
register_element_painter("sdf", paint_sdf_gradient)
