"""The SoftRas silhouette alone, for silhouette losses: A = 1 - prod_j (1 - D) over the same pair
record as ``render_softras`` (``soft_pairs``), without the colour aggregation a silhouette loss
never reads (about half the time of a full render on the CPU; on the CPU pass 1 runs in C,
``softras_native``). Registered as softras's
``RendererSpec.silhouette``; tests/test_optimize_tasks.py checks it against the full render's
alpha and gradients."""
from __future__ import annotations

import torch

from ..fragments import RenderOutput
from ..scene import Scene
from .common import plan, prepare
from .soft_pairs import soft_tile, softras_cutoff
from .softras_native import MAX_RECORDED_PAIRS, face_list, kernels, soft_pairs_native


def render_silhouette(scene: Scene) -> RenderOutput:
    """SoftRas silhouette of ``scene`` at its sigma: alpha (S, S), differentiable in the vertices
    and the camera (no rgb)."""
    st = scene.settings
    sigma, s = float(st.sigma), st.image_size
    n = s * s + 1                                   # a spare slot absorbs tile padding
    prep = prepare(scene)
    # every face in a silhouette-only chunk: the silhouette counts all faces, back faces included
    chunks = plan(prep, scene, softras_cutoff(sigma), torch.zeros_like(prep.screen.valid))
    lib = kernels(prep.geo, chunks)
    if lib is not None:
        faces = face_list(chunks)
        if faces.elements <= MAX_RECORDED_PAIRS:
            cam = scene.camera
            pairs = soft_pairs_native(lib, prep.geo, faces, s, sigma, softras_cutoff(sigma), float(st.gamma), 0.0,
                                      cam.far, cam.far - cam.near, 0.0)
            return RenderOutput(alpha=-torch.expm1(pairs.log_uncovered[:-1]).reshape(s, s))
    log_uncovered = torch.zeros(n, dtype=prep.verts.dtype, device=prep.verts.device)
    for chunk, _ in chunks:
        tile = soft_tile(chunk, prep.geo.index_select(1, chunk.faces), s, sigma, with_bary=False)
        log_uncovered = log_uncovered + tile.log_uncovered(n)
    alpha = -torch.expm1(log_uncovered[:-1]).reshape(s, s)
    return RenderOutput(alpha=alpha)
