"""diffrender-debugger: the desktop app and its command-line verbs.

    python main.py [MESH]          open the GUI (on MESH, or the bundled default mesh)
    python main.py render ...      render a mesh to PNG / NPY without a screen
    python main.py assets          list the bundled meshes
    python main.py grad ...        gradient panel: dL/dI, dI/dtheta against the GL reference
    python main.py landscape ...   loss and dL/dtheta along a parameter sweep
    python main.py compare-gradients ...  every gradient method against the exact edge derivative
    python main.py optimize ...    optimize pose, shape, colours or light; record the run (.npz, .gif)
    python main.py open RUN.npz    open the GUI on a recorded run (scrub it in the timeline dock)

Every bad input ends with one line on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

PROG = "diffrender-debugger"
VERBS = ("render", "assets", "bench", "gui", "grad", "landscape", "compare-gradients", "optimize", "open")


class UsageError(Exception):
    """A bad command line or input file: reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one line (no usage dump) and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _rgb(text: str) -> tuple[float, float, float]:
    parts = text.replace(" ", "").split(",")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers R,G,B in [0, 1], got {text!r}")
    values = tuple(_finite_float(p) for p in parts)
    if not all(0.0 <= v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"colour components must lie in [0, 1], got {text!r}")
    return values  # type: ignore[return-value]


def add_scene_arguments(p: argparse.ArgumentParser) -> None:
    """Flags shared by every verb that builds a Scene (mesh, camera, light, material, settings)."""
    src = p.add_mutually_exclusive_group()
    src.add_argument("mesh", nargs="?", help="file to open: a mesh (.obj .ply .stl .off .glb .gltf) or "
                                              "another representation (see README: splats, voxels, SDFs)")
    src.add_argument("--asset", help="a bundled mesh or scene by name (see `assets`)")
    from renderer.registry import get_renderer, renderer_names

    names = renderer_names()
    p.add_argument("--renderer", default=None, choices=names, metavar="{" + ",".join(names) + "}",
                   help="default: the representation's reference (gl for a mesh); "
                        + "; ".join(f"{n}: {get_renderer(n).description}" for n in names))
    p.add_argument("--lighting", default="phong", choices=("none", "lambertian", "phong", "sh"))
    p.add_argument("--size", type=_positive_int, default=256, help="image size S (square), pixels")
    p.add_argument("--azimuth", type=_finite_float, default=30.0, help="camera azimuth, degrees")
    p.add_argument("--elevation", type=_finite_float, default=20.0, help="camera elevation, degrees")
    p.add_argument("--distance", type=_finite_float, default=3.0, help="camera distance to target")
    p.add_argument("--fov", type=_finite_float, default=60.0, help="vertical field of view, degrees")
    p.add_argument("--light-azimuth", type=_finite_float, default=30.0)
    p.add_argument("--light-elevation", type=_finite_float, default=40.0)
    p.add_argument("--light-color", type=_rgb, default=(1.0, 1.0, 1.0), help="R,G,B")
    p.add_argument("--background", type=_rgb, default=(0.0, 0.0, 0.0), help="R,G,B")
    p.add_argument("--sigma", type=_finite_float, default=1e-4, help="SoftRas sharpness (squared NDC)")
    p.add_argument("--gamma", type=_finite_float, default=1e-4, help="SoftRas depth temperature")
    p.add_argument("--flat", action="store_true", help="flat shading (face normals)")
    p.add_argument("--double-sided", action="store_true", help="shade back faces too")
    p.add_argument("--supersample", type=_positive_int, default=1,
                   help="GL only: render at K*S and box-filter down (anti-aliased reference)")
    p.add_argument("--device", default="cpu", help="torch device for the soft renderers (cpu, cuda)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="verb", parser_class=_Parser)

    gui = sub.add_parser("gui", help="open the desktop debugger")
    gui.add_argument("mesh", nargs="?", help="mesh file to open")

    open_run = sub.add_parser("open", help="open the desktop debugger on a recorded run (.npz)")
    open_run.add_argument("run", help="timeline file written by `optimize --out` or File > Export run")

    render = sub.add_parser("render", help="render a mesh to PNG and/or NPY")
    add_scene_arguments(render)
    render.add_argument("--out", help="PNG file to write (display-clamped 8-bit RGB)")
    render.add_argument("--npy", help="NPY file to write: raw float32 RGBA (S, S, 4)")

    sub.add_parser("assets", help="list the bundled meshes and scenes")

    bench = sub.add_parser("bench", help="time the torch renderers (prints a table)")
    bench.add_argument("--json", help="also write the rows to this JSON file")
    bench.add_argument("--sizes", default="256,512", help="image sizes, comma-separated")
    bench.add_argument("--repeats", type=_positive_int, default=5, help="timed runs per case (median)")
    bench.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    bench.add_argument("--mesh", help="only meshes (and registered splat/voxel/SDF scenes) whose name contains this")
    bench.add_argument("--idle-only", action="store_true",
                       help="skip the second run of each case with one core kept busy")
    from renderer.registry import renderer_names

    bench.add_argument("--renderer", choices=renderer_names(differentiable=True), help="only this renderer")

    from renderer.analysis.commands import add_commands

    add_commands(sub, add_scene_arguments)  # grad, landscape
    from renderer.analysis.compare_commands import add_command as add_compare_command

    add_compare_command(sub, add_scene_arguments)  # compare-gradients
    from renderer.optimize.commands import add_command as add_optimize_command

    add_optimize_command(sub, add_scene_arguments)  # optimize
    return parser


def scene_from_args(args: argparse.Namespace):
    """Build a Scene from parsed scene flags. Raises a UserError (bad file) or ValueError."""
    import torch

    from renderer import Lights, Material, OrbitCamera, RenderSettings, Scene
    from renderer.registry import default_renderer, reference_renderer
    from renderer.assets import DEFAULT_ASSET, load_asset
    from renderer.io import load

    if args.mesh:
        shape = load(args.mesh)                    # the file's extension picks the representation
    else:
        shape = load_asset(args.asset or DEFAULT_ASSET)
    if args.distance <= 0:
        raise ValueError(f"--distance must be positive, got {args.distance}")
    if not 0 < args.fov < 180:
        raise ValueError(f"--fov must lie strictly between 0 and 180 degrees, got {args.fov}")
    if args.supersample > 8:
        raise ValueError(f"--supersample must be at most 8, got {args.supersample}")
    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA GPU is available here; use --device cpu")
    renderer = args.renderer
    if renderer is None:      # the verbs that need a gradient start on a differentiable renderer
        pick = default_renderer if getattr(args, "want_differentiable", False) else reference_renderer
        renderer = pick(shape.kind).name
    from renderer.registry import get_renderer, renderer_names

    if not get_renderer(renderer).accepts(shape.kind):
        raise ValueError(f"--renderer {renderer} cannot draw a {shape.kind}; renderers for a {shape.kind}: "
                         f"{', '.join(renderer_names(shape.kind))}")
    settings = RenderSettings(image_size=args.size, renderer=renderer, lighting=args.lighting,
                              sigma=args.sigma, gamma=args.gamma, background=args.background,
                              flat_shading=args.flat, double_sided=args.double_sided,
                              supersample=args.supersample, device=device)
    camera = OrbitCamera(azimuth=args.azimuth, elevation=args.elevation, distance=args.distance,
                         fov=args.fov)
    lights = Lights.from_angles(args.light_azimuth, args.light_elevation, args.light_color)
    return Scene(shape=shape, camera=camera, lights=lights,
                 material=Material.for_lighting(args.lighting), settings=settings)


def cmd_render(args: argparse.Namespace) -> int:
    import numpy as np

    from renderer.images import save_png
    from renderer.rendering import render_numpy

    if not args.out and not args.npy:
        raise UsageError("render: nothing to write; give --out FILE.png and/or --npy FILE.npy")
    for path in (args.out, args.npy):
        if path and not Path(path).resolve().parent.is_dir():
            raise UsageError(f"render: cannot write {path}: folder {Path(path).parent} does not exist")
    from renderer.analysis.progress import ticking

    scene = scene_from_args(args)
    start = time.perf_counter()
    with ticking(f"rendering {scene.settings.renderer} at {scene.settings.image_size} px"):
        buffers = render_numpy(scene)
    seconds = time.perf_counter() - start
    rgba = np.concatenate([buffers["rgb"], buffers["alpha"][..., None]], axis=-1).astype(np.float32)
    written = []
    if args.out:
        save_png(args.out, buffers["rgb"])
        written.append(args.out)
    if args.npy:
        np.save(args.npy, rgba)
        written.append(args.npy)
    st = scene.settings
    print(f"wrote {' and '.join(written)}: {st.image_size}x{st.image_size}, {st.renderer}, "
          f"rendered in {seconds:.2f} s")
    return 0


def cmd_assets(args: argparse.Namespace) -> int:
    from renderer.assets import DEFAULT_ASSET, list_assets

    for info in list_assets():
        mark = " (default)" if info.name == DEFAULT_ASSET else ""
        print(f"{info.name:<12} {info.kind:<7} {info.path.name:<18} {info.description}{mark}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import json

    import torch

    from renderer.bench import rows_as_dicts, run_bench

    try:
        sizes = tuple(int(v) for v in args.sizes.split(","))
    except ValueError:
        raise UsageError(f"--sizes: expected whole numbers separated by commas, got {args.sizes!r}") from None
    if args.device and args.device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {args.device}: no CUDA GPU is available here")
    rows = run_bench(sizes=sizes, repeats=args.repeats, device=args.device,
                     mesh_filter=args.mesh, renderer_filter=args.renderer, contended=not args.idle_only)
    if args.json:
        Path(args.json).write_text(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                                               "rows": rows_as_dicts(rows)}, indent=1))
    return 0


def check_gui_can_start() -> None:
    """Before Qt: a missing X11 library or no display is one line and exit 2, not Qt's abort."""
    from app.platform_check import gui_problem

    problem = gui_problem()
    if problem:
        raise UsageError(problem)


def cmd_gui(args: argparse.Namespace) -> int:
    from app import run_app

    check_gui_can_start()
    return run_app(args.mesh)


def cmd_open(args: argparse.Namespace) -> int:
    from renderer.optimize.timeline_file import TimelineFileError, load_timeline

    try:
        timeline = load_timeline(args.run)         # before the window: a bad file is one line, exit 2
    except TimelineFileError as exc:
        raise UsageError(str(exc)) from None
    from app import run_app

    check_gui_can_start()
    # the run's object opens with it when the run recorded where it came from (else the last mesh)
    recorded = timeline.meta.get("mesh_path")
    mesh_path = recorded if isinstance(recorded, str) and Path(recorded).is_file() else None
    return run_app(mesh_path, run=(timeline, args.run))


def main(argv: Optional[Sequence[str]] = None) -> int:
    import renderer  # noqa: F401 - first, before torch: renderer/thread_policy.py

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in VERBS and not argv[0].startswith("-")):
        argv = ["gui", *argv]  # `python main.py [MESH]` opens the GUI
    try:
        args = build_parser().parse_args(argv)
        if args.verb is None:
            raise UsageError(f"expected a verb: {', '.join(VERBS)} (or a mesh file to open)")
        if args.verb in ("grad", "landscape"):
            from renderer.analysis.commands import run_command

            return run_command(args, scene_from_args)
        if args.verb == "compare-gradients":
            from renderer.analysis.compare_commands import run_compare

            return run_compare(args, scene_from_args)
        if args.verb == "optimize":
            from renderer.optimize.commands import run_optimize

            return run_optimize(args, scene_from_args)
        handler = {"render": cmd_render, "assets": cmd_assets, "bench": cmd_bench,
                   "gui": cmd_gui, "open": cmd_open}[args.verb]
        return handler(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure must be one readable line
        from renderer.errors import describe_error

        print(f"{PROG}: error: {describe_error(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
