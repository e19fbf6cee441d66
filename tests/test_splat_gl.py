"""The torch splat renderer against the GL splat reference (the same conics, drawn as instanced
quads and blended back to front): a few hundred splats at 256 px, three cameras."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import renderer as dr
from renderer.splat.cloud import make_cloud


@pytest.fixture(scope="module")
def gl_splat():
    from renderer.gl import create_context
    from renderer.splat.gl_splat import GLSplatRenderer

    ctx = create_context("egl")
    gl = GLSplatRenderer(ctx)
    yield gl
    gl.release()
    ctx.release()


def cloud_of(n: int = 300, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=gen) * 2 - 1) * 0.6
    scales = torch.rand(n, 3, generator=gen) * 0.06 + 0.01
    quats = torch.randn(n, 4, generator=gen)
    cloud = make_cloud(means, scales, torch.rand(n, 3, generator=gen),
                       opacities=torch.rand(n, generator=gen) * 0.95 + 0.04, quats=quats, sh_degree=2)
    return cloud.with_params(sh=cloud.sh + 0.2 * torch.randn(cloud.sh.shape, generator=gen))


@pytest.mark.parametrize("camera", [dict(azimuth=0.0, elevation=0.0, distance=2.5),
                                    dict(azimuth=63.0, elevation=25.0, distance=2.0, fov=45.0),
                                    dict(azimuth=-140.0, elevation=-35.0, distance=3.2, fov=70.0)])
def test_torch_matches_gl(gl_splat, camera):
    scene = dr.Scene(shape=cloud_of(), settings=dr.RenderSettings(image_size=256, background=(0.1, 0.2, 0.3)))
    scene = scene.with_camera(**camera)
    with torch.no_grad():
        mine = dr.render(scene)
    ref = gl_splat.render(scene)
    diff = np.abs(mine.rgb.numpy() - ref["rgb"])
    assert diff.mean() <= 2e-3 and diff.max() < 1e-3, (diff.mean(), diff.max())
    a, b = mine.alpha.numpy() > 0.5, ref["alpha"] > 0.5
    assert a.any() and (a & b).sum() / (a | b).sum() >= 0.99
    covered = ref["alpha"] > 0.05
    assert np.abs(mine.depth.numpy() - ref["depth"])[covered].max() < 1e-3


def test_registered_reference_renders_through_the_registry():
    scene = dr.Scene(shape=cloud_of(50), settings=dr.RenderSettings(image_size=64))
    out = dr.render(scene, renderer="gl_splat")
    with torch.no_grad():
        mine = dr.render(scene)
    assert np.abs(out.rgb.numpy() - mine.rgb.numpy()).max() < 1e-3
