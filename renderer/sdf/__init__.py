"""Signed distance functions: the ``SDF`` shape (analytic primitives with CSG, grids, torch
modules), the differentiable sphere-tracing renderers ``sdf`` and ``sdf_dist``, the GL reference
``gl_sdf``, and the inspector's helpers. See docs/sdf.md."""
from .bench import bench_scene
from .files import SDFFileError, load_sdf_json, load_sdf_npz, save_sdf_json, save_sdf_npz
from .mesh_sdf import MeshNotWatertightError, sdf_from_mesh
from .render import render_sdf, render_sdf_dist, render_sdf_silhouette, render_sdf_traced
from .shapes import SDF, Primitive, evaluate, make_sdf, module_sdf
from .trace import DEFAULT_OPTIONS, DIST_OPTIONS, TraceOptions, TraceResult, camera_rays, trace

__all__ = ["bench_scene", "SDFFileError", "load_sdf_json", "load_sdf_npz", "save_sdf_json", "save_sdf_npz",
           "MeshNotWatertightError", "sdf_from_mesh", "render_sdf", "render_sdf_dist",
           "render_sdf_silhouette", "render_sdf_traced", "SDF", "Primitive", "evaluate", "make_sdf",
           "module_sdf", "DEFAULT_OPTIONS", "DIST_OPTIONS", "TraceOptions", "TraceResult",
           "camera_rays", "trace"]
