"""Voxel carving in DRC's setup (32^3 grid, 20 views of 64^2, event-cost loss) on the torus and
on Spot: steps and CPU time until the held-out silhouette IoU reaches 0.95 (issue 12).

    OMP_NUM_THREADS=1 python scripts/carve_voxels.py [--mode mask|depth] [--steps 300] [--json out.json]

Held-out views: 10 cameras between the training ones (the spiral shifted by half a step). The
ceiling is the IoU of the mesh's own 32^3 voxelisation (what a perfect carve could reach).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from renderer.io import load_mesh  # noqa: E402
from renderer.mesh import Mesh  # noqa: E402
from renderer.paths import shared_mesh  # noqa: E402
from renderer.voxel.carve import (DRC_IMAGE_SIZE, DRC_VIEWS, carve, mask_iou, mesh_views,  # noqa: E402
                                  scaled_mesh, spiral_cameras, voxel_silhouettes)
from renderer.voxel.bench import torus_mesh  # noqa: E402
from renderer.voxel.files import voxelize  # noqa: E402
from renderer.voxel.grid import DEFAULT_BOUNDS as DRC_BOUNDS  # noqa: E402


def objects() -> dict[str, Mesh]:
    found = {"torus": torus_mesh()}
    spot = shared_mesh("spot", "cow.obj")
    if Path(spot).exists():
        found["spot"] = load_mesh(spot)
    return found


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", default="mask", choices=("mask", "depth", "both"))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--only", help="torus or spot")
    p.add_argument("--resolution", type=int, default=32, help="grid cells per side (DRC: 32)")
    p.add_argument("--size", type=int, default=DRC_IMAGE_SIZE, help="image size (DRC: 64)")
    p.add_argument("--init-logit", type=float, default=0.0, help="starting logit (0: occupancy 0.5)")
    p.add_argument("--bg-weight", type=float, default=0.2, help="weight of background rays (DRC: 0.2)")
    p.add_argument("--json", help="write the histories here")
    args = p.parse_args()
    torch.manual_seed(0)
    train_cams = spiral_cameras(DRC_VIEWS)
    held_cams = spiral_cameras(10, offset=0.5)
    rows = {}
    for name, mesh in objects().items():
        if args.only and name != args.only:
            continue
        inside = scaled_mesh(mesh)
        train = mesh_views(inside, train_cams, args.size)
        held = mesh_views(inside, held_cams, args.size)
        ceiling = mask_iou(voxel_silhouettes(voxelize(inside, args.resolution, bounds=DRC_BOUNDS),
                                             held_cams, args.size), held.alpha)
        print(f"{name}: voxelised-mesh ceiling IoU {ceiling:.4f}", flush=True)
        first = {}

        def note(step, loss, iou, cpu, name=name):
            print(f"  {name} step {step:4d}  loss {loss:.5f}  held-out IoU {iou:.4f}  cpu {cpu:.1f} s", flush=True)
            if iou >= 0.95 and "step" not in first:
                first.update(step=step, cpu=cpu)

        res = carve(train, mode=args.mode, resolution=args.resolution, steps=args.steps, lr=args.lr, heldout=held,
                    record_every=10, bg_weight=args.bg_weight, init_logit=args.init_logit,
                    on_record=note)
        rows[name] = {"ceiling_iou": ceiling, "history": res.history, "reached_095": first or None,
                      "final_iou": res.final_iou}
        print(f"{name}: final IoU {res.final_iou:.4f}; IoU >= 0.95 first at "
              f"{first.get('step', 'never')} steps, {first.get('cpu', float('nan')):.1f} s CPU", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
