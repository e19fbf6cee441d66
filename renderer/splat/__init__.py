"""Point clouds as 3D Gaussian splats: the ``GaussianCloud`` shape, its PLY loaders and writer,
the torch renderers ``splat`` (gsplat semantics) and ``splat_disk`` (PyTorch3D disks), the GL
reference ``gl_splat`` (``renderer.splat.gl_splat``, loaded on demand), and the splat debugging
functions (docs/splats.md)."""
from .cloud import GaussianCloud, make_cloud
from .inspect import dead_splats, footprint_ellipses, inspect_splat_pixel, paint_splats, splat_gradients
from .ply import SplatLoadError, load_splat_ply, save_gaussians, save_point_cloud
from .project import ProjectedSplats, project_splats
from .render import render_gaussians_full, render_splat, render_splat_disk

__all__ = ["GaussianCloud", "make_cloud", "dead_splats", "footprint_ellipses", "inspect_splat_pixel",
           "paint_splats", "splat_gradients", "SplatLoadError", "load_splat_ply", "save_gaussians",
           "save_point_cloud", "ProjectedSplats", "project_splats", "render_gaussians_full", "render_splat",
           "render_splat_disk"]
