"""The CUDA path, checked in one run on a machine with an NVIDIA GPU (scripts/gpu_check.sh):

1. agreement: each registered torch renderer on CUDA against itself on the CPU (Spot, 256 px):
   max |d rgb|, |d alpha| of the forward and the relative difference of dL/dV;
2. the bench on CUDA: Spot, Spot-23k and Spot-93k at 256, 512 and 1024 px (medians, peak memory);
3. the GUI's render worker, headless (offscreen Qt), rendering and analysing a job on CUDA.

Prints one table per part; exits 1 when a check fails. ``--device cpu`` runs the same checks on
the CPU (the script itself, tested without a GPU).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import renderer as dr  # noqa: E402 - after the path set-up above; first: the thread policy
import torch  # noqa: E402

AGREE_RGB = 1e-4            # float32 on two devices: summation order differs, nothing else
AGREE_GRAD = 1e-3


def spot_scene(device: str, renderer: str, size: int = 256) -> dr.Scene:
    from renderer.io import load_mesh
    from renderer.paths import shared_mesh

    scene = dr.Scene.default(load_mesh(shared_mesh("spot", "cow.obj")), image_size=size, renderer=renderer)
    return scene.with_settings(device=device)


def agreement(device: str) -> bool:
    print(f"\n1. {device} against cpu, Spot 256 px, phong")
    print(f"{'renderer':<10} {'max|d rgb|':>11} {'max|d alpha|':>13} {'dL/dV rel':>10} {'ok':>4}")
    ok = True
    for name in dr.renderer_names("mesh", differentiable=True):
        results = []
        for dev in ("cpu", device):
            scene = spot_scene(dev, name)
            verts = scene.mesh.verts.to(dev).clone().requires_grad_()
            out = dr.render(scene.replace(shape=scene.mesh.to(dev).with_verts(verts)))
            loss = out["rgb"].sum() + out["alpha"].sum()
            if loss.requires_grad:                         # the hard renderer has no geometry gradient
                loss.backward()
            grad = verts.grad if verts.grad is not None else torch.zeros_like(verts)
            results.append((out["rgb"].detach().cpu(), out["alpha"].detach().cpu(), grad.cpu()))
        (rgb0, a0, g0), (rgb1, a1, g1) = results
        d_rgb, d_a = float((rgb0 - rgb1).abs().max()), float((a0 - a1).abs().max())
        d_g = float((g0 - g1).norm() / g0.norm().clamp_min(1e-30)) if g0.any() else float((g1 != 0).any())
        good = d_rgb <= AGREE_RGB and d_a <= AGREE_RGB and d_g <= AGREE_GRAD
        ok &= good
        print(f"{name:<10} {d_rgb:>11.2e} {d_a:>13.2e} {d_g:>10.2e} {'yes' if good else 'NO':>4}")
    return ok


def bench(device: str, sizes: str) -> bool:
    from renderer.bench import run_bench

    print(f"\n2. bench on {device}")
    run_bench(sizes=tuple(int(s) for s in sizes.split(",")), repeats=7, device=device, mesh_filter="spot",
              contended=False)
    return True


def gui_worker(device: str) -> bool:
    from PySide6.QtWidgets import QApplication

    from app.model.jobs import AnalysisRequest, RenderJob
    from app.workers.render_worker import RenderWorker

    print(f"\n3. the GUI's render worker on {device}, headless")
    QApplication.instance() or QApplication([])
    worker, seen = RenderWorker(), {}
    worker.rendered.connect(lambda i, r: seen.__setitem__("rendered", r))
    worker.analysed.connect(lambda i, r: seen.__setitem__("analysed", r))
    worker.failed.connect(lambda i, m: seen.__setitem__("failed", m))
    job = RenderJob(spot_scene(device, "softras"), AnalysisRequest(mode="dl_di"))
    start = time.perf_counter()
    worker.run_job(1, job)
    wall = time.perf_counter() - start
    worker.shutdown()
    good = "failed" not in seen and "rendered" in seen and "analysed" in seen
    times = seen.get("rendered", {}).get("times", {})
    print(f"render + dL/dI job: {wall * 1e3:.0f} ms (soft {times.get('soft_ms', float('nan')):.0f} ms, "
          f"GL {times.get('gl_ms', float('nan')):.0f} ms): {'ok' if good else 'FAILED ' + seen.get('failed', '')}")
    return good


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--sizes", default="256,512,1024")
    args = p.parse_args()
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            print("no CUDA GPU here: nothing to check", file=sys.stderr)
            return 2
        print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    results = [agreement(args.device), bench(args.device, args.sizes), gui_worker(args.device)]
    print("\nall checks passed" if all(results) else "\nSOME CHECKS FAILED")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
