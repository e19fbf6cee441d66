"""Point clouds as 3D Gaussian splats: the ``GaussianCloud`` shape, its PLY loaders, the torch
renderers ``splat`` (gsplat semantics) and ``splat_disk`` (PyTorch3D disks), the GL reference
``gl_splat``, and the splat debugging functions (docs/splats.md)."""
from .cloud import GaussianCloud, make_cloud
from .project import ProjectedSplats, project_splats
from .render import render_splat, render_splat_disk

__all__ = ["GaussianCloud", "make_cloud", "ProjectedSplats", "project_splats", "render_splat",
           "render_splat_disk"]
