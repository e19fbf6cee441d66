"""diffrender-debugger's rendering library: scene model, loading, renderers, gradients.

No Qt here, ever: everything is usable from scripts, notebooks, tests and the command line.

    import renderer as dr
    scene = dr.Scene(dr.load("spot.obj"))
    out = dr.render(scene)                                   # RenderOutput: rgb, alpha, depth...
    g = dr.gradients(scene, loss="silhouette", target_pose={"azimuth": 45})
    d = dr.derivative_image(scene, "azimuth")
    report = dr.compare_with_reference(scene, "azimuth")
"""
# first, before anything imports torch: sets the thread count and the OpenMP wait policy
from . import thread_policy  # noqa: F401  (isort: skip)
from .api import compare_with_reference, derivative_image, gradients, load, to_device
from .camera import OrbitCamera, direction_from_angles, project_points
from .errors import UserError
from .fragments import RenderOutput, SoftPairs
from .lighting import LIGHTING_MODELS, Lights, Material, sh_basis, sh_irradiance
from .mesh import Mesh, face_normals, vertex_normals
from .registry import (RendererSpec, default_renderer, get_renderer, reference_renderer,
                       register_renderer, renderer_names, renderers, unregister_renderer)
from .rendering import render, render_for_loss, render_numpy
from .scene import GAMMA_RANGE, SIGMA_RANGE, RenderSettings, Scene
from .shapes import SHAPE_TYPES, Shape, register_shape

__all__ = [
    "compare_with_reference", "derivative_image", "gradients", "load", "to_device",
    "OrbitCamera", "direction_from_angles", "project_points", "UserError", "RenderOutput",
    "SoftPairs", "LIGHTING_MODELS", "Lights", "Material", "sh_basis", "sh_irradiance", "Mesh",
    "face_normals", "vertex_normals", "RendererSpec", "default_renderer", "get_renderer", "reference_renderer", "register_renderer",
    "renderer_names", "renderers", "unregister_renderer", "render", "render_for_loss",
    "render_numpy", "GAMMA_RANGE", "SIGMA_RANGE", "RenderSettings", "Scene", "SHAPE_TYPES",
    "Shape", "register_shape",
]
