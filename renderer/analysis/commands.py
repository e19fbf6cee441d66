"""The ``grad`` and ``landscape`` command-line verbs (hooked into main.py by ``add_commands``).

    python main.py grad MESH --loss silhouette --target-azimuth 40 --param azimuth \\
        --renderer softras --sigma 1e-4 --out panel.png --npz grad.npz
    python main.py landscape MESH --param azimuth --range -90 90 --sigmas 1e-5,1e-4,1e-3 \\
        --out plot.png --npz landscape.npz

Bad input raises ValueError (main.py prints it as one line and exits with status 2).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

import numpy as np

from ..registry import differentiable_renderer, get_renderer, reference_renderer, renderer_names
from .progress import ProgressBar

VERBS = ("grad", "landscape")
TARGET_FLAGS = ("azimuth", "elevation", "distance", "fov", "light_azimuth", "light_elevation")
LOSS_NAMES = ("silhouette", "silhouette-mse", "l1", "l2", "l1-ssim")


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _sigmas(text: str) -> list[float]:
    from ..scene import SIGMA_RANGE

    values = [_float(t) for t in text.replace(" ", "").split(",") if t]
    if not values:
        raise argparse.ArgumentTypeError("expected a comma-separated list of sigma values")
    for v in values:
        if not SIGMA_RANGE[0] <= v <= SIGMA_RANGE[1]:
            raise argparse.ArgumentTypeError(f"sigma {v:g} is outside {SIGMA_RANGE[0]:g}..{SIGMA_RANGE[1]:g}")
    return values


def _assignment(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), _float(value)


def _add_target_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--loss", default="silhouette", choices=LOSS_NAMES,
                   help="silhouette = 1 - IoU of alpha; silhouette-mse; l1, l2 = photometric on rgb")
    for name in TARGET_FLAGS:
        p.add_argument(f"--target-{name.replace('_', '-')}", type=_float, dest=f"target_{name}",
                       help=f"the target's {name.replace('_', ' ')} (default: the scene's)")
    p.add_argument("--target-param", type=_assignment, action="append", default=[], metavar="NAME=VALUE",
                   help="any other target parameter, e.g. vertex:12:y=0.3 (repeatable)")
    p.add_argument("--target-image", help="target image file instead (.png RGBA/RGB/grey or .npy)")
    p.add_argument("--target-renderer", default=None, choices=renderer_names(),
                   help="renderer of the target image (default: the representation's reference, gl for "
                        "a mesh, supersampled 4x: a 'photograph')")
    p.add_argument("--param", default=None,
                   help="the scalar parameter theta (default azimuth; grad: where the renderer gives the "
                        "camera no gradient, e.g. DRC voxels, the element scalar pulled hardest)")
    p.add_argument("--npz", help="NPZ file to write with every array and the figure")


def add_commands(subparsers, add_scene_arguments: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the ``grad`` and ``landscape`` verbs to main.py's subparsers."""
    grad = subparsers.add_parser("grad", help="gradient panel: dL/dI, dI/dtheta, reference, diagnostics")
    add_scene_arguments(grad)
    _add_target_arguments(grad)
    grad.add_argument("--method", default="auto", choices=("auto", "jvp", "double_backward", "fd"),
                      help="how dI/dtheta is computed (auto: forward mode; hard: double backward)")
    grad.add_argument("--step", type=_float, help="reference central-difference step in theta's unit "
                      "(default 0.5 deg at 256 px, scaled by 256/S)")
    grad.add_argument("--reference-supersample", type=int, default=4, choices=range(1, 9), metavar="K",
                      help="supersampling of the OpenGL reference (default 4)")
    grad.add_argument("--no-reference", action="store_true", help="skip the OpenGL reference derivative")
    grad.add_argument("--pixel", type=int, nargs=2, metavar=("ROW", "COL"),
                      help="also print the pixel inspector for this pixel (row 0 at the top)")
    grad.add_argument("--out", help="PNG file to write (the labelled figure)")
    grad.set_defaults(renderer=None, want_differentiable=True)

    land = subparsers.add_parser("landscape", help="loss and dL/dtheta along a sweep (and a 2-D scan)")
    add_scene_arguments(land)
    _add_target_arguments(land)
    land.add_argument("--range", type=_float, nargs=2, default=[-90.0, 90.0], metavar=("LO", "HI"),
                      help="sweep offsets around the target's value (default -90 90)")
    land.add_argument("--steps", type=int, default=37, help="points along the sweep (default 37)")
    land.add_argument("--sigmas", type=_sigmas, help="comma-separated SoftRas sigmas, one curve each")
    land.add_argument("--param2", help="a second parameter: also write a 2-D scan")
    land.add_argument("--range2", type=_float, nargs=2, default=[-30.0, 30.0], metavar=("LO", "HI"))
    land.add_argument("--steps2", type=int, default=13, help="points along the second parameter")
    land.add_argument("--no-exact", action="store_true",
                      help="skip the exact curve (the box-filtered image's loss and exact derivative)")
    land.add_argument("--out", help="PNG file to write (the 1-D plot; the 2-D scan goes to OUT-scan.png)")
    land.set_defaults(renderer=None, want_differentiable=True)


def _check_outputs(verb: str, args) -> None:
    if not args.out and not args.npz:
        raise ValueError(f"{verb}: nothing to write; give --out FILE.png and/or --npz FILE.npz")
    for path in (args.out, args.npz):
        if path and not Path(path).resolve().parent.is_dir():
            raise ValueError(f"{verb}: cannot write {path}: folder {Path(path).parent} does not exist")


def _target_values(args, scene) -> dict[str, float]:
    from .params import parse_param

    values = {n: getattr(args, f"target_{n}") for n in TARGET_FLAGS if getattr(args, f"target_{n}") is not None}
    for name, value in args.target_param:
        values[parse_param(name, scene).name] = value
    return values


def _make_target(args, scene):
    from .targets import load_target_image, render_target

    differentiable_renderer(scene.settings.renderer, args.verb)
    values = _target_values(args, scene)
    if args.target_image:
        if values:
            raise ValueError("give either --target-image or target parameters (--target-...), not both")
        return load_target_image(args.target_image, scene.settings.image_size, scene.settings.background), {}
    if args.target_renderer is None:
        args.target_renderer = reference_renderer(scene.kind).name
    return render_target(scene, values, renderer=args.target_renderer), values


def _reduce(maps: np.ndarray, channel: str) -> np.ndarray:
    """(S, S, 4) -> (S, S): alpha, or the sum over r, g, b."""
    return maps[..., 3] if channel == "alpha" else maps[..., :3].sum(-1)


def cmd_grad(args, scene_from_args) -> int:
    from .agreement import band_scale_px, compare_derivatives, rgb_composited, viewed_colour_derivative
    from .derivatives import derivative_image, gl_fd_derivative, reference_derivative, reference_method
    from .diagnostics import diagnose
    from .figures import figure_rgba, gradient_panel, save_figure
    from .gradients import loss_gradients, render_rgba
    from .losses import get_loss
    from .params import hardest_scalar, param_value, parse_param, reference_step

    _check_outputs("grad", args)
    scene = scene_from_args(args)
    spec = parse_param(args.param or "azimuth", scene)        # a clear error before the work
    size = scene.settings.image_size
    if args.pixel and not all(0 <= v < size for v in args.pixel):
        raise ValueError(f"--pixel {args.pixel[0]} {args.pixel[1]} is outside the {size}x{size} image")
    stages = ProgressBar(3 if args.no_reference else 5, "grad stages")
    stages.update(0, "target and loss gradients")
    target, true_values = _make_target(args, scene)
    loss = get_loss(args.loss)
    grads = loss_gradients(scene, target, args.loss)
    if args.param is None and grads.dL_dtheta.get("azimuth") == 0.0:
        # the renderer gives the camera no gradient (DRC): theta is the element scalar pulled hardest
        spec = parse_param(hardest_scalar(scene, grads.group_grads) or "azimuth", scene)
    stages.update(1, "diagnostics")
    findings = diagnose(scene, target, args.loss, true_values=true_values, grads=grads)
    stages.update(2, f"dI/d{spec.name} ({args.method})")
    bg = scene.settings.background
    composited = rgb_composited(scene.settings.renderer)
    # NMR's backward is made for a loss: it has dL/dtheta but no dI/dtheta, which is said, not zeroed
    d = derivative_image(scene, spec, method=args.method) if get_renderer(scene.settings.renderer).image_derivative else None
    if d is not None:
        image, soft_d = d.image.double().cpu().numpy(), d.d_image.double().cpu().numpy()
        soft_comp = viewed_colour_derivative(image, soft_d, bg, composited)
    else:
        image, soft_d, soft_comp = render_rgba(scene).detach().double().cpu().numpy(), None, None
    step = args.step if args.step is not None else reference_step(spec, scene.settings.image_size)
    ref_name = reference_method("auto", scene)       # "edge" (exact) for meshes, else "gl_fd"
    ref = gl_ref = None
    if not args.no_reference:
        stages.update(3, f"reference dI/dtheta ({ref_name})")
        ref = reference_derivative(scene, spec, step=step, supersample=args.reference_supersample)
        stages.update(4, "second check: GL central differences")
        gl_ref = ref if ref_name == "gl_fd" else gl_fd_derivative(scene, spec, step=step,
                                                                   supersample=args.reference_supersample)
    stages.update(stages.total)
    stages.close()
    st = scene.settings
    label = get_renderer(st.renderer).label(st)
    theta = f"theta = {spec.name} = {param_value(scene, spec):.4g} {spec.unit}"
    g_theta = grads.dL_dtheta[spec.name] if spec.name in grads.dL_dtheta else grads.group_grads[spec.group][spec.index]
    summary = [f"loss {loss.name} = {loss.formula}: L = {grads.loss:.5g}",
               f"{theta}; dL/dtheta = {float(g_theta):+.4g} per {spec.unit}",
               f"dI/dtheta by {d.method}" if d is not None else
               f"dI/dtheta: none, {st.renderer}'s backward is hand-made for the loss (dL/dtheta and dL/dV only)"]
    agreement = {}
    if ref is not None and soft_d is not None:
        for key, scale in (("pixel", 0.0), ("band", band_scale_px(st))):
            agreement[key] = compare_derivatives(image, soft_d, ref, bg, scale, composited)
        agreement["gl_pixel"] = compare_derivatives(image, soft_d, gl_ref, bg, 0.0, composited)
        pa, ba = agreement["pixel"], agreement["band"]
        summary += [("reference: the exact derivative of the box-filtered image (edge integrals)" if ref_name == "edge"
                     else f"reference: GL x{args.reference_supersample} supersampled, step +-{step:g} {spec.unit}"),
                    f"cosine (composited colour): {pa.cosine:.3f} per pixel, {ba.cosine:.3f} at band scale "
                    f"({ba.scale_px:.2g} px)",
                    f"cosine (alpha): {pa.cosine_alpha:.3f} per pixel, {ba.cosine_alpha:.3f} at band scale",
                    f"sign agreement (colour): {pa.sign_agreement:.3f} per pixel"]
        if ref_name != "gl_fd":          # where the reference is GL's difference, it is the check
            summary.append(f"second check, GL x{args.reference_supersample} central differences +-{step:g} "
                           f"{spec.unit}: cosine {agreement['gl_pixel'].cosine:.3f} per pixel (colour)")
    if findings:
        summary += ["diagnostics:"] + [f"- {f}" for f in findings]
    else:
        summary.append("diagnostics: no problems found")
    panel_soft = None if soft_d is None else _reduce(np.concatenate([soft_comp, soft_d[..., 3:]], -1), loss.channel)
    panel_ref = None if ref is None else _reduce(ref, loss.channel)
    dl_di = grads.dL_dI.double().cpu().numpy()
    # the loss's own channel(s), raw render
    contribution = None if soft_d is None else (dl_di * soft_d).sum(-1)
    method = d.method if d is not None else "none"
    what = "alpha" if loss.channel == "alpha" else "viewed colour, sum of R,G,B"
    titles = {"render": f"render: {label}\n{spec.name} = {param_value(scene, spec):g} {spec.unit}",
              "target": "target: " + (Path(args.target_image).name if args.target_image else
                                      f"{args.target_renderer}" + (" x4" if get_renderer(args.target_renderer).is_reference else "")
                                      + "".join(f", {k}={v:g}" for k, v in true_values.items())),
              "dl_di": f"dL/dI, L = {loss.formula}\n({'alpha' if loss.channel == 'alpha' else 'sum over R,G,B'})",
              "soft": (f"dI/d{spec.name}: {st.renderer} ({method})\n{what}" if d is not None else
                       f"{st.renderer} has no image derivative dI/d{spec.name}: its backward pass is "
                       "hand-made for the loss (see compare-gradients for its dL/dtheta and dL/dV)"),
              "reference": (f"dI/d{spec.name}: exact (edge integrals, box-filtered image)\n{what}" if ref_name == "edge"
                            else f"dI/d{spec.name}: OpenGL x{args.reference_supersample}, central diff. "
                                 f"+-{step:g} {spec.unit}\n{what}"),
              "contribution": f"per-pixel dL/dI . dI/d{spec.name} ({method})\n" + (
                  f"sums to dL/d{spec.name} = {float(contribution.sum()):+.4g}" if contribution is not None else
                  f"{st.renderer} has no image derivative: dL/d{spec.name} = {float(g_theta):+.4g} comes "
                  "from its hand-made backward")}
    fig = gradient_panel(image[..., :3], target.rgb.double().cpu().numpy(), _reduce(dl_di, loss.channel),
                         panel_soft, panel_ref, contribution, titles=titles, param=spec.name, unit=spec.unit,
                         summary=[_wrap(line) for line in summary])
    for line in summary:
        print(line)
    pixel = None
    if args.pixel:
        from .inspector import inspect_pixel

        pixel = inspect_pixel(scene, *args.pixel)     # a PixelReport, or another kind's ElementTable
        for line in pixel.lines():
            print(line)
    if args.out:
        save_figure(fig, args.out)
    if args.npz:
        arrays = {**{f"grad_{k}": v for k, v in grads.arrays().items()},
                  "target_rgb": target.rgb.double().cpu().numpy(), "target_alpha": target.alpha.double().cpu().numpy(),
                  "soft_image": image, "panel_dL_dI": _reduce(dl_di, loss.channel), "figure": figure_rgba(fig)}
        if soft_d is not None:
            arrays.update(soft_dI=soft_d, soft_dI_composite=soft_comp, panel_soft_dI=panel_soft,
                          panel_contribution=contribution)
        if ref is not None:
            arrays.update(reference_dI=ref, panel_reference_dI=panel_ref, gl_fd_dI=gl_ref,
                          **{f"{k}_{name}": np.float64(v) for k, a in agreement.items()
                             for name, v in vars(a).items()})
        if pixel is not None and hasattr(pixel, "faces"):
            arrays.update(pixel_faces=np.array([f.face for f in pixel.faces], dtype=np.int64),
                          pixel_weights=np.array([f.weight for f in pixel.faces]),
                          pixel_coverage=np.array([f.coverage for f in pixel.faces]),
                          pixel_colors=np.array([f.color for f in pixel.faces]).reshape(-1, 3),
                          pixel_bg_weight=np.float64(pixel.bg_weight),
                          pixel_grad_rgb=pixel.grad_rgb, pixel_grad_alpha=pixel.grad_alpha)
        meta = {"param": spec.name, "unit": spec.unit, "loss": args.loss, "renderer": st.renderer,
                "sigma": st.sigma, "gamma": st.gamma, "method": method, "reference_step": step, "reference": ref_name,
                "findings": [vars(f) for f in findings], "true_values": true_values}
        np.savez_compressed(args.npz, meta=np.array(json.dumps(meta)), **arrays)
    return 0


def _wrap(line: str, width: int = 92) -> str:
    import textwrap

    return "\n  ".join(textwrap.wrap(line, width)) or line


def cmd_landscape(args, scene_from_args) -> int:
    from .figures import figure_rgba, save_figure, landscape_figure, scan_figure
    from .landscape import loss_scan_2d, loss_sweep
    from .params import param_value, parse_param

    _check_outputs("landscape", args)
    if args.range[0] >= args.range[1]:
        raise ValueError(f"--range: LO must be below HI, got {args.range[0]:g} {args.range[1]:g}")
    if args.steps < 3:
        raise ValueError(f"--steps must be at least 3, got {args.steps}")
    scene = scene_from_args(args)
    spec = parse_param(args.param or "azimuth", scene)
    target, true_values = _make_target(args, scene)
    centre = true_values.get(spec.name, param_value(scene, spec))
    known = spec.name in true_values or not args.target_image
    values = centre + np.linspace(args.range[0], args.range[1], args.steps)
    from .derivatives import EXACT_RENDERER, exact_available

    exact = not args.no_exact and exact_available(scene) and scene.settings.renderer != EXACT_RENDERER
    curves = (len(args.sigmas or [None]) if "sigma" in get_renderer(scene.settings.renderer).uses else 1) + exact
    spec2 = parse_param(args.param2, scene) if args.param2 else None
    if spec2 is not None and args.steps2 < 2:
        raise ValueError(f"--steps2 must be at least 2, got {args.steps2}")
    scan_points = max(2, min(args.steps, 25)) * args.steps2 if spec2 is not None else 0
    bar = ProgressBar(curves * args.steps + scan_points, "landscape points")
    try:
        sweep = loss_sweep(scene, target, args.loss, spec.name, values, args.sigmas, exact=exact,
                           target_value=centre if known else None,
                           progress=lambda done, total: bar.update(done, "sweep"))
    finally:
        if spec2 is None:
            bar.close()
    st = scene.settings
    made = (f"image {Path(args.target_image).name}" if args.target_image else
            f"{args.target_renderer} render" + "".join(f", {k}={v:g}" for k, v in true_values.items()))
    title = f"{args.loss} loss along {spec.name}, renderer {st.renderer}; target: {made}"
    for label, m in zip(sweep.labels, sweep.minima()):
        print(f"{label}: lowest loss at {spec.name} = {m:.4g} {spec.unit}")
    arrays = dict(sweep.arrays())
    fig = landscape_figure(sweep, title)
    scan_fig = None
    if spec2 is not None:
        centre2 = true_values.get(spec2.name, param_value(scene, spec2))
        xs = centre + np.linspace(args.range[0], args.range[1], max(2, min(args.steps, 25)))
        ys = centre2 + np.linspace(args.range2[0], args.range2[1], args.steps2)
        swept = curves * args.steps
        try:
            scan = loss_scan_2d(scene, target, args.loss, spec.name, xs, spec2.name, ys,
                                target_value=(centre, centre2),
                                progress=lambda done, total: bar.update(swept + done, "2-D scan"))
        finally:
            bar.close()
        print(f"2-D scan: lowest loss at {spec.name} = {scan.minimum()[0]:.4g}, {spec2.name} = {scan.minimum()[1]:.4g}")
        arrays.update(scan.arrays())
        scan_fig = scan_figure(scan, f"{args.loss} loss over {spec.name} x {spec2.name}, "
                                     f"renderer {get_renderer(st.renderer).label(st)}; target: {made}")
        arrays["figure_scan"] = figure_rgba(scan_fig)
    if args.out:
        save_figure(fig, args.out)
        if scan_fig is not None:
            out = Path(args.out)
            save_figure(scan_fig, out.with_name(out.stem + "-scan" + out.suffix))
    if args.npz:
        arrays["figure"] = figure_rgba(fig)
        meta = {"param": spec.name, "unit": spec.unit, "loss": args.loss, "renderer": scene.settings.renderer,
                "true_values": true_values}
        np.savez_compressed(args.npz, meta=np.array(json.dumps(meta)), **arrays)
    return 0


HANDLERS = {"grad": cmd_grad, "landscape": cmd_landscape}


def run_command(args, scene_from_args) -> int:
    """Dispatch a parsed ``grad`` or ``landscape`` command line."""
    return HANDLERS[args.verb](args, scene_from_args)
