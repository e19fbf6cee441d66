"""Antialiased hard rendering: the z-buffer image with differentiable barycentrics (as
nvdiffrast's rasterize + interpolate), then nvdiffrast's analytic antialias of silhouette edges
(``antialias.py``), applied to rgb and alpha together."""
from __future__ import annotations

import torch

from ..fragments import RenderOutput
from ..scene import Scene
from ..tensor_cache import derived
from ..soft.common import plan, prepare
from ..soft.hard import shade_visible, visible_faces
from .antialias import antialias, wing_corners


def render_aa(scene: Scene) -> RenderOutput:
    """rgb (S, S, 3), alpha (S, S) (coverage, fractional on antialiased silhouette pixels), depth
    (S, S), face_id (S, S) int64, num_pairs, tile_elements. Differentiable in the geometry through
    the interior barycentrics and the antialias blend, and in colours, lights and material."""
    st = scene.settings
    s = st.image_size
    prep = prepare(scene)
    chunks = plan(prep, scene, 0.0, None if st.double_sided else prep.screen.front)
    vis = visible_faces(prep, chunks, s)
    hard = shade_visible(scene, prep, vis, vis.covered[:-1].to(prep.verts.dtype),
                         sum(c.elements for c, _ in chunks), vis.num_pairs)
    mesh = scene.mesh
    weld = None if mesh.weld is None else mesh.weld.to(prep.faces.device)
    # the mesh's topology, once per faces tensor (and weld): the render's only O(F log F) step
    tag = ("aa_wings", None if weld is None else (id(mesh.weld), mesh.weld._version))
    wing_face, wing_corner = derived(prep.faces, tag, lambda faces: torch.stack(wing_corners(faces, weld)))
    image = torch.cat([hard.rgb, hard.alpha[..., None]], dim=-1)
    smooth = antialias(image, hard.face_id, hard.depth, prep.screen.tri, wing_face, wing_corner)
    return RenderOutput(rgb=smooth[..., :3], alpha=smooth[..., 3], depth=hard.depth, face_id=hard.face_id,
                        num_pairs=hard.num_pairs, tile_elements=hard.tile_elements)
