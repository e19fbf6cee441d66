"""The cost estimates of the splat and voxel renderers (asked on the GUI thread before every
render, so they must not do the render's work) stay close to what the render really forms."""
from __future__ import annotations

import pytest
import torch

import renderer as dr
from renderer.assets import load_asset
from renderer.rendering import estimate_pairs
from renderer.splat.render import planned_pairs


@pytest.mark.parametrize("size", [64, 256])
def test_estimate_is_within_a_factor_of_two_of_the_pairs_formed(size):
    scene = dr.Scene(load_asset("spot_splats")).with_settings(image_size=size)
    with torch.no_grad():
        formed = int(dr.render(scene)["tile_elements"])
    assert formed == planned_pairs(scene)                      # the exact count is the render's
    assert 0.8 * formed <= estimate_pairs(scene) <= 2.0 * formed
    far = scene.with_camera(distance=6.0)                      # smaller on screen: fewer pairs
    assert estimate_pairs(far) < estimate_pairs(scene)
    assert 0.8 * planned_pairs(far) <= estimate_pairs(far) <= 2.0 * planned_pairs(far)


@pytest.mark.parametrize("size, distance", [(64, 3.0), (256, 3.0), (256, 1.5)])
def test_voxel_estimate_is_close_to_the_segments_traversed(size, distance):
    from renderer.voxel.traversal import grid_segments

    scene = dr.Scene(load_asset("torus")).with_settings(image_size=size).with_camera(distance=distance)
    segments = grid_segments(scene.shape, scene.camera, size).num_segments
    assert 0.7 * segments <= estimate_pairs(scene) <= 1.5 * segments
