"""Time the exact edge reference: Spot at 256 px, dL/dV for an image loss (l2 against a GL target
at another azimuth), idle and with one core kept busy (``renderer.bench.one_core_busy``).

    python scripts/bench_exact.py [--size 256] [--repeats 5]

Prints the median of forward + backward (render, loss, dL/dV), its parts (interior shading render,
boundary edges and point queries) and the node counts.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import renderer  # noqa: E402,F401  (thread policy first)
import torch  # noqa: E402

from renderer import Scene  # noqa: E402
from renderer.analysis.gradients import loss_gradients  # noqa: E402
from renderer.analysis.targets import render_target  # noqa: E402
from renderer.bench import one_core_busy  # noqa: E402
from renderer.exact import render_edge_parts  # noqa: E402
from renderer.io import load_mesh  # noqa: E402
from renderer.paths import shared_mesh  # noqa: E402


def median_s(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--mesh", default=str(shared_mesh("spot", "cow.obj")))
    args = p.parse_args()
    scene = Scene.default(load_mesh(args.mesh), image_size=args.size, renderer="edge")
    scene = scene.with_camera(azimuth=torch.tensor(40.0), elevation=torch.tensor(20.0))
    target = render_target(scene, {"azimuth": 45.0})
    _, data = render_edge_parts(scene)
    print(f"{Path(args.mesh).name} at {args.size} px, {torch.get_num_threads()} torch threads: "
          f"{data.edges.count} discontinuity edges, {data.num_nodes} quadrature nodes")

    def dl_dv():
        return loss_gradients(scene, target, "l2").dL_dV

    def forward():
        with torch.no_grad():
            render_edge_parts(scene)

    for label, ctx in (("idle", None), ("one core busy", one_core_busy())):
        if ctx is None:
            f, g = median_s(forward, args.repeats), median_s(dl_dv, args.repeats)
        else:
            with ctx:
                f, g = median_s(forward, args.repeats), median_s(dl_dv, args.repeats)
        print(f"{label:>14}: forward {f:.3f} s, render + loss + dL/dV {g:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
