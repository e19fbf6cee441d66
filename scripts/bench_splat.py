"""Time the splat renderer: N synthetic splats at S px, forward and forward+backward, idle and
with one core busy (a spinning process, as the bench does), in this process's thread setting.

    python scripts/bench_splat.py                    # 100k splats at 512 px (the issue-11 figure)
    python scripts/bench_splat.py --splats 10000 --size 256 --repeats 3

Loss: rgb.sum() + alpha.sum(), gradients to every splat parameter. Reported: median wall and
process-CPU seconds, and the 1-minute load average (a shared machine's figures need it). Splats: a ball of radius 0.8,
1-sigma footprints of about 1-3 px at 512 px (``renderer.splat.bench.synthetic_cloud``).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import renderer  # noqa: E402,F401  (first: the thread policy, before torch loads)
import torch  # noqa: E402
from renderer.bench import one_core_busy  # noqa: E402
from renderer.camera import OrbitCamera  # noqa: E402
from renderer.scene import RenderSettings, Scene  # noqa: E402
from renderer.splat.bench import synthetic_cloud  # noqa: E402
from renderer.splat.render import render_gaussians_full  # noqa: E402

FIELDS = ("means", "scales", "quats", "opacities", "sh")


def time_case(scene: Scene, repeats: int, fused: bool = True) -> dict:
    def forward():
        with torch.no_grad():
            return render_gaussians_full(scene, fused=fused).out

    def forward_backward():
        leaves = {k: getattr(scene.shape, k).detach().clone().requires_grad_(True) for k in FIELDS}
        out = render_gaussians_full(scene.replace(shape=scene.shape.with_params(**leaves)), fused=fused).out
        (out.rgb.sum() + out.alpha.sum()).backward()
        return out

    def median_s(fn):
        """Median wall and CPU (this process) seconds: the machine is shared, so CPU time says
        what the work costs and wall time what a user waits."""
        fn()
        wall, cpu = [], []
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            fn()
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        return round(statistics.median(wall), 3), round(statistics.median(cpu), 3)

    out = forward()
    (fw, fc), (bw, bc) = median_s(forward), median_s(forward_backward)
    return {"forward_s": fw, "forward_cpu_s": fc, "forward_backward_s": bw, "forward_backward_cpu_s": bc,
            "pairs_kept": int(out.num_pairs), "pairs_formed": int(out.tile_elements),
            "load_average": round(os.getloadavg()[0], 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splats", type=int, default=100_000)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--footprint", type=float, default=2.0, help="typical 1-sigma radius, px")
    ap.add_argument("--autograd", action="store_true", help="also time the plain-autograd compositing")
    ap.add_argument("--no-busy", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    cloud = synthetic_cloud(args.splats, footprint_px=args.footprint, size=args.size)
    scene = Scene(shape=cloud, camera=OrbitCamera(azimuth=30.0, elevation=20.0, distance=2.7),
                  settings=RenderSettings(image_size=args.size, renderer="splat"))
    result = {"splats": args.splats, "size": args.size, "threads": torch.get_num_threads(),
              "idle": time_case(scene, args.repeats)}
    print(json.dumps(result), flush=True)
    if args.autograd:
        result["idle_autograd"] = time_case(scene, args.repeats, fused=False)
        print(json.dumps(result["idle_autograd"]), flush=True)
    if not args.no_busy:
        with one_core_busy():
            result["one_core_busy"] = time_case(scene, args.repeats)
        print(json.dumps(result["one_core_busy"]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
