"""The ``optimize`` command-line verb (hooked into main.py by ``add_command``).

    python main.py optimize --task pose teapot.obj --steps 300 --renderer softras --sigma 1e-4 \\
        --out run.npz --gif run.gif
    python main.py optimize --task shape spot.obj --preset pytorch3d --template sphere --out shape.npz
    python main.py optimize --task shape --targets views.npz --anneal 1e-3,1e-5 --out shape.npz

Bad input raises ValueError (main.py prints it as one line and exits with status 2). A run that
meets a NaN/inf is saved, reported on stderr, and exits with status 1; Ctrl-C saves what was
recorded and exits with 130.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from .preset_table import DEFAULT_PRESETS, PRESETS, TASK_KINDS, task_names

VERB = "optimize"
LOSS_NAMES = ("silhouette", "silhouette-mse", "l1", "l2")     # renderer.analysis.losses.IMAGE_LOSSES
SCENE_DEFAULTS = {"azimuth": 30.0, "elevation": 20.0, "distance": 3.0, "size": 128, "lighting": "phong",
                  "sigma": 1e-4, "gamma": 1e-4}


def _triple(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three numbers A,B,C, got {text!r}") from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers A,B,C, got {text!r}")
    return values  # type: ignore[return-value]


def _anneal(text: str):
    from .schedules import parse_anneal

    try:
        return parse_anneal(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_command(subparsers, add_scene_arguments: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the ``optimize`` verb to main.py's subparsers."""
    p = subparsers.add_parser(VERB, help="optimize pose, shape, colours or light; record the run")
    add_scene_arguments(p)
    # None = "take the preset's value"; explicit flags override the preset
    p.set_defaults(renderer=None, want_differentiable=True, size=None, lighting=None, azimuth=None, elevation=None, distance=None,
                   sigma=None, gamma=None)
    p.add_argument("--task", required=True, choices=task_names())
    p.add_argument("--preset", help="published setup: " + "; ".join(
        f"{t}: {', '.join(PRESETS[t])} (default {DEFAULT_PRESETS[t]})" for t in task_names()))
    p.add_argument("--targets", help="shape: targets file (.npz with images (N,S,S[,4]), cameras (N,3) "
                                     "distance, elevation, azimuth, optional fov) instead of a mesh")
    p.add_argument("--template", default="sphere", help="shape: template mesh file or bundled asset (default sphere)")
    p.add_argument("--views", type=int, help="number of target views (shape, color, light)")
    p.add_argument("--layout", choices=("pytorch3d", "softras", "ring"), help="camera layout of the target views")
    p.add_argument("--loss", choices=LOSS_NAMES, help="image loss (default: the preset's)")
    p.add_argument("--steps", type=int, help="most optimizer steps")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--optimizer", choices=("adam", "sgd"))
    p.add_argument("--momentum", type=float, help="SGD momentum")
    p.add_argument("--views-per-step", type=int, help="target views drawn per step (default: all)")
    p.add_argument("--seed", type=int, help="seed of the view sampling (runs are deterministic on the CPU)")
    p.add_argument("--anneal", type=_anneal, metavar="S0,S1", help="anneal sigma geometrically from S0 to S1")
    p.add_argument("--anneal-gamma", type=_anneal, metavar="G0,G1", help="anneal gamma likewise")
    p.add_argument("--stop-loss", type=float, help="stop once the loss is at or below this")
    p.add_argument("--patience", type=int, help="stop when the loss has not improved for this many steps")
    p.add_argument("--start-offset", type=_triple, metavar="DAZ,DEL,DDIST",
                   help="pose: start this far from the true camera (default 30,15,0)")
    p.add_argument("--object-pose", action="store_true", help="pose: also optimize an object rotation + translation")
    p.add_argument("--light-mode", choices=("direction", "sh"), help="light: what to recover")
    p.add_argument("--frame-every", type=int, help="record a frame every N steps (default 1)")
    p.add_argument("--memory-budget", type=float, help="MB of recorded history (default 1024)")
    p.add_argument("--out", help="timeline file to write (.npz)")
    p.add_argument("--gif", help="animation to write (.gif)")
    p.add_argument("--mp4", help="animation to write (.mp4; needs imageio-ffmpeg)")
    p.add_argument("--panes", help="panes of the animation, comma-separated (render,target,difference,dL_dI)")
    p.add_argument("--mesh-out", help="shape: the final mesh (.obj or .ply)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _check_outputs(args) -> None:
    if not (args.out or args.gif or args.mp4 or args.mesh_out):
        raise ValueError("optimize: nothing to write; give --out FILE.npz (and/or --gif, --mp4, --mesh-out)")
    for flag, path, suffixes in (("--out", args.out, (".npz",)), ("--gif", args.gif, (".gif",)),
                                 ("--mp4", args.mp4, (".mp4",)), ("--mesh-out", args.mesh_out, (".obj", ".ply"))):
        if not path:
            continue
        if Path(path).suffix.lower() not in suffixes:
            raise ValueError(f"{flag} {path}: expected a {' or '.join(suffixes)} file")
        if not Path(path).resolve().parent.is_dir():
            raise ValueError(f"{flag}: cannot write {path}: folder {Path(path).parent} does not exist")
    if args.mesh_out and args.task != "shape":
        raise ValueError("--mesh-out is for --task shape (the other tasks do not change the mesh)")
    if args.mp4:
        import importlib.util

        if importlib.util.find_spec("imageio_ffmpeg") is None:
            raise ValueError("--mp4 needs the imageio-ffmpeg package (pip install imageio-ffmpeg); --gif works without it")


def _load_mesh_or_asset(name: str):
    from ..assets import list_assets, load_asset
    from ..io import load_mesh

    if name in {a.name for a in list_assets()}:
        return load_asset(name)
    return load_mesh(name)


def _build(args, scene_from_args):
    from .presets import build_run, preset
    from .views import load_targets

    p = preset(args.task, args.preset)
    if args.targets and args.task != "shape":
        raise ValueError("--targets is for --task shape; pose, color and light render their targets from the mesh")
    if args.targets and (args.mesh or args.asset):
        raise ValueError("give the target as a mesh (MESH or --asset) or as --targets FILE.npz, not both")
    values = dict(vars(args))
    for key, default in SCENE_DEFAULTS.items():
        if values.get(key) is None:
            values[key] = p.get(key, default)
    namespace = argparse.Namespace(**values)
    if args.task == "shape":
        namespace.mesh, namespace.asset = None, "sphere"      # only its lights, background, flags are used
    scene = scene_from_args(namespace)
    overrides = dict(size=args.size, renderer=args.renderer, lighting=args.lighting, loss=args.loss,
                     sigma=args.anneal or args.sigma, gamma=args.anneal_gamma or args.gamma, steps=args.steps,
                     lr=args.lr, optimizer=args.optimizer, momentum=args.momentum,
                     views_per_step=args.views_per_step, seed=args.seed, stop_loss=args.stop_loss,
                     patience=args.patience, num_views=args.views, layout=args.layout,
                     start_offset=args.start_offset, object_pose=args.object_pose or None,
                     mode=args.light_mode, frame_every=args.frame_every,
                     memory_budget=None if args.memory_budget is None else int(args.memory_budget * 2 ** 20))
    if args.task == "pose" and any(v is not None for v in (args.azimuth, args.elevation, args.distance)):
        truth = p["truth"]
        overrides["truth"] = tuple(t if v is None else v for t, v in
                                   zip(truth, (args.azimuth, args.elevation, args.distance)))
    if args.task == "light" and args.light_mode == "sh" and args.lighting is None:
        overrides["lighting"] = "sh"
    if TASK_KINDS.get(args.task) != ("mesh",):       # a representation package's task
        return build_run(args.task, preset_name=args.preset, scene=scene, **overrides)
    if args.task != "shape":
        return build_run(args.task, scene.mesh, preset_name=args.preset, scene=scene, **overrides)
    template = _load_mesh_or_asset(args.template)
    if args.targets:
        views, _ = load_targets(args.targets)
        return build_run("shape", template, preset_name=args.preset, views=views, scene=scene, **overrides)
    target = _load_mesh_or_asset(args.asset) if args.asset else _load_mesh_or_asset(args.mesh) if args.mesh else None
    if target is None:
        raise ValueError("shape: give the target as MESH, --asset NAME or --targets FILE.npz")
    return build_run("shape", template, preset_name=args.preset, truth_mesh=target, scene=scene, **overrides)


class _StepProgress:
    """The optimize verb's progress bar: steps, the time left, the loss and the first errors."""

    def __init__(self, total: int, enabled: bool):
        from ..analysis.progress import ProgressBar

        self.bar = ProgressBar(total, "steps", enabled=None if enabled else False)

    def __call__(self, record) -> None:
        err = [f"{k.split('/', 1)[1]} {v:.3g}" for k, v in record.scalars.items() if k.startswith("error/")][:2]
        self.bar.update(record.step + 1, f"loss {record.loss:.5g}" + ("  " + ", ".join(err) if err else ""))

    def close(self) -> None:
        self.bar.close()


def run_optimize(args, scene_from_args) -> int:
    """Handle a parsed ``optimize`` command line."""
    from .export import export_animation, export_mesh
    from .runner import FAILED, Run
    from .tasks.shape import ShapeTask, silhouette_ious

    _check_outputs(args)
    task, config = _build(args, scene_from_args)
    bar = _StepProgress(config.steps, not args.quiet)
    run = Run(task, config, on_step=bar)
    if args.mesh and args.task != "shape":           # where a reopened run finds its object again
        run.timeline.set_meta(mesh_path=str(Path(args.mesh).resolve()))
    interrupted = False
    try:
        run.run()
    except KeyboardInterrupt:
        interrupted = True
        run.interrupt(f"interrupted at step {run.next_step}")
    finally:
        bar.close()
    written = []
    if args.out:
        run.timeline.save(args.out)
        written.append(args.out)
    if run.timeline.frame_steps:
        panes = [p for p in (args.panes or "").replace(" ", "").split(",") if p] or None
        for path in (args.gif, args.mp4):
            if path:
                export_animation(run.timeline, path, panes=panes)
                written.append(path)
    if args.mesh_out:
        step = export_mesh(run.timeline, args.mesh_out)
        written.append(f"{args.mesh_out} (step {step})")
    line = run.summary()
    if isinstance(task, ShapeTask):
        ious = silhouette_ious(task)
        line += f"; silhouette IoU mean {ious.mean():.4f} (min {ious.min():.4f}) over {len(ious)} views"
    print(line + (f"; wrote {', '.join(written)}" if written else ""))
    if interrupted:
        return 130
    if run.status == FAILED:
        print(f"diffrender-debugger: optimize: {run.message}", file=sys.stderr)
        return 1
    return 0


