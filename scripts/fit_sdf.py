"""The SDF fit of issue 12: recover a sphere-and-box scene's parameters from multi-view
silhouettes (the "sdf_fit" task, preset "primitives"), and print steps, CPU time and errors.

    OMP_NUM_THREADS=1 python scripts/fit_sdf.py [SCENE.sdf.json] [--preset primitives|grid]
                                                [--steps N] [--lr LR] [--sigma S0,S1] [--out run.npz]

Default scene: assets/sphere_box.sdf.json. The targets are gl_sdf renders (4x supersampled);
the start is the truth with sizes x 0.85 and centres moved by 0.06; the run stops once every
parameter is within 0.5 % (see renderer/sdf/fit.py for how the errors are measured).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import renderer as dr  # noqa: E402 - after the path set-up above; first: the thread policy
import torch  # noqa: E402
from renderer.optimize.presets import build_run  # noqa: E402
from renderer.optimize.runner import Run  # noqa: E402
from renderer.optimize.schedules import parse_anneal  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene", nargs="?", default=str(ROOT / "assets" / "sphere_box.sdf.json"))
    parser.add_argument("--preset", default="primitives")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--sigma", default=None, help="S or S0,S1 (annealed geometrically)")
    parser.add_argument("--out", default=None, help="save the timeline (.npz)")
    args = parser.parse_args()
    scene = dr.Scene.default(dr.load(args.scene), image_size=64)
    t0 = time.process_time()
    w0 = time.perf_counter()
    sigma = None
    if args.sigma:
        sigma = parse_anneal(args.sigma) if "," in args.sigma else float(args.sigma)
    task, config = build_run("sdf_fit", scene=scene, preset_name=args.preset, steps=args.steps, lr=args.lr,
                             sigma=sigma)
    setup_cpu = time.process_time() - t0
    print(f"targets: {len(task.views)} views at {task.base.settings.image_size} px "
          f"({setup_cpu:.1f} s CPU); start errors: {task.summary() or '-'}", flush=True)

    def report(rec) -> None:
        if rec.step % 20 == 0:
            err = rec.scalars.get("error/max_rel")
            shown = "" if err is None else f" max rel error {err:.3f} %"
            print(f"step {rec.step:4d} loss {rec.loss:.3e}{shown}", flush=True)

    run = Run(task, config, on_step=report).run()
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    print(run.summary())
    if task.truth is not None:
        final = task.error_scalars()
        for name, value in task.param_scalars().items():
            key = name.replace("param/", "error/")
            print(f"  {name[6:]:14s} {value: .5f}  rel error {100 * final[key]: .3f} %")
    print(f"steps {run.next_step}, CPU time {cpu:.1f} s, wall {wall:.1f} s, torch threads {torch.get_num_threads()}")
    if args.out:
        run.timeline.save(args.out)
        print(f"timeline: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
