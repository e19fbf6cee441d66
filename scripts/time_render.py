"""Time one SoftRas case in this process: forward and forward+backward medians (wall clock).

    python scripts/time_render.py knot 256 1e-3 phong 7      # MESH SIZE SIGMA LIGHTING REPEATS

MESH is "knot" (the bundled default) or "spot" (shared meshes). The loss is rgb.sum() +
alpha.sum(), as in the bench; one warm-up run precedes the timed ones.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import renderer as dr  # noqa: E402 - after the path set-up above; first: the thread policy
import torch  # noqa: E402
from renderer.assets import load_asset  # noqa: E402
from renderer.io import load_mesh  # noqa: E402
from renderer.paths import shared_mesh  # noqa: E402


def main() -> int:
    name, size, sigma, lighting = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    mesh = load_asset("knot") if name == "knot" else load_mesh(shared_mesh("spot", "cow.obj"))
    scene = dr.Scene.default(mesh, lighting=lighting, image_size=size, renderer="softras", sigma=sigma)
    verts = scene.mesh.verts.clone().requires_grad_()
    scene = scene.replace(shape=scene.mesh.with_verts(verts))

    def forward():
        with torch.no_grad():
            return dr.render(scene)

    def forward_backward():
        out = dr.render(scene)
        (out["rgb"].sum() + out["alpha"].sum()).backward()

    def median_ms(fn) -> float:
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times) * 1e3

    out = forward()
    print(f"{name} {size} sigma={sigma:g} {lighting}: pairs {int(out['num_pairs']):,} formed "
          f"{int(out['tile_elements']):,} shaded {int(out['num_shaded']):,}; forward {median_ms(forward):.0f} ms, "
          f"forward+backward {median_ms(forward_backward):.0f} ms; {torch.get_num_threads()} thread(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
