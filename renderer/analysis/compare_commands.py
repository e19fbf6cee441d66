"""The ``compare-gradients`` command-line verb (hooked into main.py by ``add_command``).

    python main.py compare-gradients --asset spot --loss silhouette --target-azimuth 45 \\
        --param azimuth --sigma 1e-4 --out compare.png --npz compare.npz

Every registered differentiable renderer (softras at --sigma/--gamma, dibr, hard, nmr, aa, ...)
against the exact derivative of the box-filtered image (the "edge" renderer): a labelled figure on
one shared colour scale, SoftRas's agreement against sigma, a table on stdout, every array in
the npz. Bad input raises ValueError (main.py prints it as one line and exits with status 2).
"""
from __future__ import annotations

import argparse
import json
from typing import Callable

import numpy as np

from .progress import ProgressBar

VERB = "compare-gradients"


def _methods(text: str) -> list[str]:
    names = [t for t in text.replace(" ", "").split(",") if t]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of renderer names")
    return names


def add_command(subparsers, add_scene_arguments: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the ``compare-gradients`` verb to main.py's subparsers."""
    from .commands import _add_target_arguments, _sigmas

    p = subparsers.add_parser(VERB, help="every gradient method side by side against the exact one")
    add_scene_arguments(p)
    _add_target_arguments(p)
    p.add_argument("--methods", type=_methods, help="comma-separated renderers to compare (default: every "
                   "registered differentiable one); the exact edge derivative is always the reference")
    p.add_argument("--curve-sigmas", type=_sigmas, metavar="S1,S2,...",
                   help="sigmas of SoftRas's agreement curve (default 1e-6 .. 1e-2, 9 values)")
    p.add_argument("--no-curve", action="store_true", help="skip the agreement-against-sigma curve")
    p.add_argument("--out", help="PNG file to write (the labelled figure)")
    p.set_defaults(renderer=None, want_differentiable=True)


def run_compare(args, scene_from_args) -> int:
    """Run a parsed ``compare-gradients`` command line."""
    from .commands import _check_outputs, _make_target
    from .compare import DEFAULT_SIGMAS, compare_gradient_methods, default_methods, sigma_agreement_curve
    from .figures import comparison_figure, figure_rgba, save_figure
    from .params import param_value, parse_param

    _check_outputs(VERB, args)
    scene = scene_from_args(args)
    spec = parse_param(args.param or "azimuth", scene)
    target, true_values = _make_target(args, scene)
    methods = args.methods or default_methods(scene)
    sigmas = [] if args.no_curve else list(args.curve_sigmas or DEFAULT_SIGMAS)
    bar = ProgressBar(len(methods) + 1 + len(sigmas), "compare-gradients")
    try:
        comparison = compare_gradient_methods(scene, target, args.loss, spec, methods=args.methods,
                                              progress=lambda done, total, name: bar.update(done, name))
        curve = None
        if sigmas:
            done = len(methods) + 1
            curve = sigma_agreement_curve(scene, spec, sigmas, reference_d=comparison.truth.d_image,
                                          progress=lambda i, n, note: bar.update(done + i, note))
    finally:
        bar.close()
    st = scene.settings
    made = (f"image {args.target_image}" if args.target_image else
            f"{args.target_renderer} render" + "".join(f", {k}={v:g}" for k, v in true_values.items()))
    title = (f"{args.loss} loss, theta = {spec.name} = {param_value(scene, spec):.4g} {spec.unit}, "
             f"{st.image_size} px; target: {made}. dI/dtheta of every method against the exact derivative "
             f"of the box-filtered image")
    for line in comparison.table():
        print(line)
    if curve is not None:
        print(f"{curve.renderer} against sigma (per-pixel / band-scale cosine, viewed colour):")
        for s, a, b in zip(curve.sigmas, curve.per_pixel, curve.band):
            print(f"  sigma={s:<8g} {a:.3f} / {b:.3f}")
        print(f"  best per pixel at sigma = {curve.best():g}, at band scale at sigma = {curve.best('band'):g}")
    fig = comparison_figure(comparison, curve, title)
    if args.out:
        save_figure(fig, args.out)
    if args.npz:
        arrays = {**comparison.arrays(), "target_rgb": target.rgb.double().cpu().numpy(),
                  "target_alpha": target.alpha.double().cpu().numpy(), "figure": figure_rgba(fig)}
        if curve is not None:
            arrays.update(curve.arrays())
        meta = {"param": spec.name, "unit": spec.unit, "loss": args.loss, "channel": comparison.channel,
                "sigma": st.sigma, "gamma": st.gamma, "true_values": true_values, "rows": comparison.rows()}
        np.savez_compressed(args.npz, meta=np.array(json.dumps(meta, default=_json_default)), **arrays)
    return 0


def _json_default(value):
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
