"""The splat renderer's cost estimate (asked on the GUI thread before every render) stays close
to the pairs the render really forms, without projecting the footprints row by row."""
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
