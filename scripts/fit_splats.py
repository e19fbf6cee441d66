"""Fit Gaussian splats to multi-view renders of a mesh (the issue-11 fit benchmark) and report
PSNR on held-out views, steps and CPU time.

    python scripts/fit_splats.py                       # 5k splats, 20 views of Spot at 128 px
    python scripts/fit_splats.py --steps 3000 --save assets/spot_splats.ply

Targets: the mesh drawn by the GL reference (lambertian, supersampled x4) from 20 cameras on a
Fibonacci spiral (distance 2.7, fov 60); held out: 5 cameras between them. Start: splats sampled
on the mesh surface with its texture colours (3DGS size rule); Adam with 3DGS's per-group rates,
one view per step, loss 0.8 L1 + 0.2 (1 - SSIM).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import renderer  # noqa: E402,F401  (first: the thread policy, before torch loads)
import torch  # noqa: E402
from renderer.io import load_mesh  # noqa: E402
from renderer.paths import shared_mesh  # noqa: E402
from renderer.scene import RenderSettings, Scene  # noqa: E402
from renderer.lighting import Material  # noqa: E402
from renderer.splat.fit import (evaluate, fit_cloud, held_out_cameras, mesh_targets,  # noqa: E402
                                surface_cloud, training_cameras)
from renderer.splat.ply import save_gaussians  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mesh", default=str(shared_mesh("spot", "cow.obj")))
    ap.add_argument("--splats", type=int, default=5000)
    ap.add_argument("--views", type=int, default=20)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--lr-scale", type=float, default=1.0)
    ap.add_argument("--ssim", type=float, default=0.2, help="SSIM weight (0: plain L1)")
    ap.add_argument("--lighting", default="lambertian")
    ap.add_argument("--save", default=None, help="write the fitted cloud (3DGS PLY)")
    ap.add_argument("--json", default=None, help="write the figures as JSON")
    args = ap.parse_args(argv)

    mesh = load_mesh(args.mesh)
    settings = RenderSettings(image_size=args.size, renderer="gl", lighting=args.lighting)
    mesh_scene = Scene(shape=mesh, material=Material.for_lighting(args.lighting), settings=settings)
    t0 = time.perf_counter()
    train = mesh_targets(mesh_scene, training_cameras(args.views))
    test = mesh_targets(mesh_scene, held_out_cameras(5))
    start = surface_cloud(mesh, args.splats, seed=0)
    base = Scene(shape=start, settings=RenderSettings(image_size=args.size, renderer="softras"))
    print(f"targets and start cloud: {time.perf_counter() - t0:.1f} s; start held-out PSNR "
          f"{sum(evaluate(start, test, base)) / len(test):.2f} dB", flush=True)

    def log(step, loss, elapsed):
        print(f"step {step:5d}  loss {loss:.4f}  {elapsed:7.1f} s", flush=True)

    cpu0 = time.process_time()
    result = fit_cloud(start, train, base, steps=args.steps, lr_scale=args.lr_scale, ssim_weight=args.ssim,
                       on_log=log)
    cpu = time.process_time() - cpu0
    train_psnr = evaluate(result.cloud, train, base)
    test_psnr = evaluate(result.cloud, test, base)
    figures = {"splats": args.splats, "views": args.views, "size": args.size, "steps": result.steps,
               "wall_s": round(result.seconds, 1), "cpu_s": round(cpu, 1),
               "threads": torch.get_num_threads(),
               "train_psnr_db": round(sum(train_psnr) / len(train_psnr), 2),
               "held_out_psnr_db": round(sum(test_psnr) / len(test_psnr), 2),
               "held_out_psnr_each": [round(p, 2) for p in test_psnr]}
    print(json.dumps(figures))
    if args.save:
        cloud = result.cloud
        cloud.name = "spot_splats"
        save_gaussians(cloud, args.save)
        print(f"wrote {args.save} ({Path(args.save).stat().st_size / 1e3:.0f} kB)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
