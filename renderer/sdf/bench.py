"""The SDF row of the bench: the bundled sphere-and-box scene (assets/sphere_box.sdf.json) seen
from azimuth 30, elevation 20, distance 2.2 (it fills about a third of the image), phong."""
from __future__ import annotations

from pathlib import Path

import torch

from ..scene import Scene
from .files import load_sdf_json

ASSET = Path(__file__).resolve().parents[2] / "assets" / "sphere_box.sdf.json"


def bench_scene(size: int) -> Scene:
    """The bench's SDF scene at ``size`` x ``size`` px, renderer ``sdf`` (the bench makes the
    element group, the primitive parameters, require grad)."""
    sdf = load_sdf_json(ASSET)
    scene = Scene.default(sdf, lighting="phong", image_size=int(size), renderer="sdf")
    return scene.with_camera(azimuth=30.0, elevation=20.0, distance=2.2)


def time_render(size: int = 256, repeats: int = 5) -> dict[str, float]:
    """Median forward and forward+backward wall times (ms) of ``bench_scene(size)``."""
    import statistics
    import time

    from ..rendering import render

    scene = bench_scene(size)
    params = scene.shape.params.clone().requires_grad_(True)
    scene = scene.replace(shape=scene.shape.with_params(params))

    def forward():
        with torch.no_grad():
            render(scene)

    def forward_backward():
        params.grad = None
        out = render(scene)
        (out.rgb.sum() + out.alpha.sum()).backward()

    times = {}
    for name, fn in (("forward_ms", forward), ("forward_backward_ms", forward_backward)):
        fn()
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            samples.append(1000 * (time.perf_counter() - t0))
        times[name] = statistics.median(samples)
    return times
