"""The splat package's entries in the analysis registries: parameter groups (so ``grad``,
``landscape``, derivative images and loss gradients work for ``splat:I:x``, ``splat:I:opacity``,
...), the pixel inspector (an ``ElementTable``) and the per-splat gradient painter.

=================  =========  ===============================================================
group              shape      scalar names
=================  =========  ===============================================================
splat_means        (N, 3)     splat:I:x|y|z (world; the element group, painted on the splats)
splat_scales       (N, 3)     splat:I:scale_x|y|z (world, linear standard deviations)
splat_quats        (N, 4)     splat:I:qw|qx|qy|qz (wxyz, normalised when used)
splat_opacities    (N,)       splat:I:opacity (in (0, 1); above 1 the 0.99 cap still applies)
splat_sh           (N, K, 3)  splat:I:sh{k}_r|g|b (SH colour coefficient k of channel r, g, b)
=================  =========  ===============================================================
"""
from __future__ import annotations

import re
from typing import Optional

import numpy as np
import torch

from ..analysis.element_inspector import ElementTable, fmt, register_pixel_inspector
from ..analysis.diagnostics import Finding, register_check
from ..analysis.element_view import ElementView, register_element_painter
from ..analysis.params import ParamGroup, register_param_group
from ..scene import Scene
from .inspect import dead_splats, footprint_ellipses, inspect_splat_pixel, paint_splats, splat_gradients
from .project import project_splats
from .render import scene_cloud

_NAME = re.compile(r"^splat:(\d+):([a-z_0-9]+)$")
MAX_OUTLINED = 40          # footprints drawn for a picked pixel (the rows list more)
FIELDS = {
    "splat_means": ("means", ("x", "y", "z"), "world", True),
    "splat_scales": ("scales", ("scale_x", "scale_y", "scale_z"), "world", True),
    "splat_quats": ("quats", ("qw", "qx", "qy", "qz"), "coefficient", True),
    "splat_opacities": ("opacities", ("opacity",), "coefficient", False),
}


def _check_index(name: str, index: int, scene: Optional[Scene]) -> None:
    if scene is not None and scene.kind == "splats" and index >= scene.shape.num_splats:
        raise ValueError(f"parameter {name!r}: the cloud has only {scene.shape.num_splats} splats "
                         f"(0..{scene.shape.num_splats - 1})")


def _parser(group: str):
    _, suffixes, _, _ = FIELDS[group]

    def parse(name: str, scene: Optional[Scene]) -> Optional[tuple[int, ...]]:
        m = _NAME.match(name)
        if not m or m.group(2) not in suffixes:
            return None
        index = int(m.group(1))
        _check_index(name, index, scene)
        return (index,) if len(suffixes) == 1 else (index, suffixes.index(m.group(2)))
    return parse


def parse_sh(name: str, scene: Optional[Scene]) -> Optional[tuple[int, ...]]:
    """"splat:I:sh{k}_{r|g|b}" -> (I, k, channel); k checked against the cloud's SH degree."""
    m = _NAME.match(name)
    if not m:
        return None
    sh = re.match(r"^sh(\d+)_([rgb])$", m.group(2))
    if not sh:
        return None
    index, k = int(m.group(1)), int(sh.group(1))
    _check_index(name, index, scene)
    if scene is not None and scene.kind == "splats" and k >= scene.shape.sh.shape[1]:
        raise ValueError(f"parameter {name!r}: the cloud has SH coefficients 0..{scene.shape.sh.shape[1] - 1}")
    return (index, k, "rgb".index(sh.group(2)))


def _reader(field: str):
    return lambda scene: getattr(scene.shape, field)


def _writer(field: str):
    return lambda scene, value: scene.replace(shape=scene.shape.with_params(**{field: value}))


for _group, (_field, _suffixes, _unit, _geometric) in FIELDS.items():
    register_param_group(ParamGroup(
        _group, ("splats",), _reader(_field), _writer(_field), parse=_parser(_group), unit=_unit,
        geometric=_geometric, element=_group == "splat_means",
        help="splat:I:" + "|".join(_suffixes)))
register_param_group(ParamGroup("splat_sh", ("splats",), _reader("sh"), _writer("sh"), parse=parse_sh,
                                unit="coefficient", help="splat:I:sh0_r|g|b .. sh15_b"))


# ----------------------------------------------------------------------------- inspector
def splat_pixel_table(scene: Scene, row: int, col: int) -> ElementTable:
    """The pixel inspector's table: one row per splat composited (alpha, T, w, depth, colour),
    then the fragments dropped below 1/255."""
    report = inspect_splat_pixel(scene, row, col)
    rows, elements = [], []
    for frag in report.contributing:
        rows.append((str(frag.splat), fmt(frag.alpha), fmt(frag.transmittance), fmt(frag.weight),
                     fmt(frag.depth), fmt(frag.color, 3), fmt(frag.mahalanobis, 3), "composited"))
        elements.append(frag.splat)
    for frag in report.dropped:
        rows.append((str(frag.splat), fmt(frag.alpha), fmt(frag.transmittance), "0",
                     fmt(frag.depth), fmt(frag.color, 3), fmt(frag.mahalanobis, 3), "dropped < 1/255"))
        elements.append(frag.splat)
    # each listed splat's 3-sigma footprint, drawn on the reference (pixel centres at +0.5)
    ellipses = [f.outlines[3.0] + 0.5 for f in footprint_ellipses(scene, elements[:MAX_OUTLINED], points=32)]
    return ElementTable(row, col, scene.settings.renderer, report.lines[:2],
                        ("splat", "alpha", "T", "w = alpha T", "depth", "colour", "sigmas", "fate"),
                        rows, elements, report.lines[2:],
                        outlines=np.stack(ellipses) if ellipses else None)


def dead_splat_finding(scene: Scene, target, loss: str, grads) -> list[Finding]:
    """The diagnostics' dead-splat finding: splats whose every fragment is below 1/255."""
    report = dead_splats(scene)
    return [Finding("dead-splats", "warning" if len(report.dead) else "info", report.sentence)]


def paint_splat_gradients(scene: Scene, grad: np.ndarray, magnitude: np.ndarray, top: int = 20) -> ElementView:
    """|dL/dmu| painted with the splats' footprints, and -dL/dmu_2D arrows on the ``top`` splats
    pulled hardest (screen gradient from the image gradient is not known here: the arrows are
    the world gradient projected with the camera Jacobian)."""
    values = paint_splats(scene, torch.as_tensor(np.asarray(magnitude), dtype=torch.float32))
    cloud = scene_cloud(scene).detached()
    size = scene.settings.image_size
    g = torch.as_tensor(np.asarray(grad), dtype=cloud.dtype).reshape(cloud.num_splats, 3)
    with torch.no_grad():
        proj = project_splats(cloud, scene.camera.detached(), size)
        ahead = project_splats(cloud.with_params(means=cloud.means - 1e-3 * g / max(float(g.norm(dim=1).max()), 1e-30)),
                               scene.camera.detached(), size)
    order = np.argsort(-np.asarray(magnitude))[:top]
    order = [int(i) for i in order if magnitude[i] > 0 and bool(proj.valid[i])]
    arrows = None
    if order:
        tail = proj.mean2d[order].numpy() + 0.5
        step = ahead.mean2d[order].numpy() + 0.5 - tail
        length = np.linalg.norm(step, axis=1, keepdims=True)
        head = tail + 0.08 * size * step / np.maximum(length, 1e-12) * (np.asarray(magnitude)[order, None] / magnitude[order[0]])
        arrows = np.stack([tail, head], axis=1).astype(np.float32)
    lines = [f"|dL/dmu| of {cloud.num_splats} splats painted with their footprints; arrows: -dL/dmu on the screen "
             f"of the {len(order)} pulled hardest"]
    zero = int((np.asarray(magnitude) == 0).sum())
    if zero:
        lines.append(f"{zero} splats have exactly zero gradient (dead, hidden or out of view)")
    return ElementView(values, "|dL/d splat position|", arrows=arrows, lines=lines)


register_pixel_inspector("splats", splat_pixel_table)
register_check("splats", dead_splat_finding)
register_element_painter("splats", paint_splat_gradients)

__all__ = ["splat_pixel_table", "paint_splat_gradients", "parse_sh", "splat_gradients", "footprint_ellipses"]
