"""The SDF package's entries: the shape, its file loaders and its renderers (``renderer.registry``)."""
from __future__ import annotations

from ..bench import register_bench_scene
from ..io import register_loader
from ..registry import RendererSpec, register_renderer
from ..scene import softras_edge_width_px
from .bench import bench_scene
from .files import is_sdf_json, is_sdf_npz, load_sdf_json, load_sdf_npz
from .render import SEARCH_BUFFERS, render_sdf, render_sdf_dist, render_sdf_silhouette
from .shapes import SDF  # noqa: F401 - registers the shape kind "sdf"

register_loader((".json",), load_sdf_json, accepts=is_sdf_json)
register_loader((".npz",), load_sdf_npz, accepts=is_sdf_npz)

SDF_MODES = ("difference", "alpha", "dl_di", "di_soft", "di_ref", "agreement")

register_renderer(RendererSpec(
    name="sdf", render=render_sdf, representations=("sdf",),
    wrt=("geometry", "appearance", "lighting", "material"),
    buffers=("rgb", "alpha", "depth", "normal", "position", *SEARCH_BUFFERS), reference="gl_sdf",
    uses=("sigma",), edge_width_px=softras_edge_width_px, silhouette=render_sdf_silhouette,
    bench_lightings=("phong",),
    description="sphere tracing, implicit depth derivative (DVR), soft silhouette from the minimum SDF"))
register_renderer(RendererSpec(
    name="sdf_dist", render=render_sdf_dist, representations=("sdf",),
    wrt=("geometry", "appearance", "lighting", "material"),
    buffers=("rgb", "alpha", "depth", "normal", "position", *SEARCH_BUFFERS), reference="gl_sdf",
    uses=("sigma",), edge_width_px=softras_edge_width_px, bench_lightings=("phong",),
    description="DIST's sphere tracing (over-stepping, 4/2/1 pyramid) and DIST's depth derivative"))


def render_gl_sdf_reference(scene, with_pairs: bool = False):
    """The GL sphere-traced reference as a RenderOutput of CPU tensors (moderngl loads lazily)."""
    from .gl_reference import render_reference_sdf

    return render_reference_sdf(scene)


register_renderer(RendererSpec(
    name="gl_sdf", render=render_gl_sdf_reference, representations=("sdf",), reference=None,
    is_reference=True, buffers=("rgb", "alpha", "depth", "normal", "position"), uses=("supersample",),
    analysis_modes=("difference", "alpha"), bench_lightings=(),
    description="the OpenGL reference for SDFs: fragment-shader sphere tracing, exact floats"))


# The parameter group and the fit task live in modules that import renderer.analysis and
# renderer.optimize (their registries).
from . import fit as _fit  # noqa: E402,F401 - registers the "sdf_fit" task
from . import params as _params  # noqa: E402,F401 - registers the "sdf_params" group

register_bench_scene("sphere_box_sdf", "sdf", bench_scene)
from . import hooks as _hooks  # noqa: E402,F401 - the pixel inspector and the gradient painter
