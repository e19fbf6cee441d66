"""diffrender-debugger's rendering library: scene model, mesh loading, renderers, gradients.

No Qt here, ever: everything is usable from scripts, tests and the command line.
"""
from .camera import OrbitCamera, direction_from_angles, project_points
from .lighting import LIGHTING_MODELS, Lights, Material, sh_basis, sh_irradiance
from .mesh import Mesh, face_normals, vertex_normals
from .scene import GAMMA_RANGE, RENDERER_KINDS, SIGMA_RANGE, RenderSettings, Scene

__all__ = [
    "OrbitCamera", "direction_from_angles", "project_points", "LIGHTING_MODELS", "Lights",
    "Material", "sh_basis", "sh_irradiance", "Mesh", "face_normals", "vertex_normals",
    "GAMMA_RANGE", "RENDERER_KINDS", "SIGMA_RANGE", "RenderSettings", "Scene",
]
