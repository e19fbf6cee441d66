"""Publication figures of the gradient analysis (matplotlib, Agg backend, no pyplot state).

House rules (DESIGN.md §5): signed quantities use a diverging map symmetric about 0 over +-max|g|
(stated under the panel); magnitudes and losses use a sequential map; every heatmap has a colour
bar; titles say what is shown and in which unit.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DIVERGING = "RdBu_r"
SEQUENTIAL = "viridis"
UNIT_WORDS = {"deg": "per degree", "world": "per world unit", "coefficient": "per unit",
              "exponent": "per unit"}


def _wrapped(title: str, width: int) -> str:
    """A long title over several lines (one line was cut at the figure's edges)."""
    import textwrap

    return "\n".join(textwrap.wrap(title, width)) or title


def new_figure(width_in: float, height_in: float) -> Figure:
    fig = Figure(figsize=(width_in, height_in), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_rgba(fig: Figure) -> np.ndarray:
    """The drawn figure as an (H, W, 4) uint8 array (for npz files)."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def save_figure(fig: Figure, path: str | Path) -> None:
    fig.savefig(str(path), dpi=fig.dpi)


def show_image(ax, rgb: np.ndarray, title: str) -> None:
    """A colour image (linear, display-clamped to [0, 1])."""
    ax.imshow(np.clip(np.nan_to_num(rgb), 0, 1), interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def signed_heatmap(fig: Figure, ax, values: np.ndarray, title: str, unit_label: str) -> float:
    """A signed map on a diverging scale symmetric about 0 (+-max|v|); returns that max."""
    v = np.nan_to_num(np.asarray(values, np.float64))
    vmax = float(np.abs(v).max())
    scale = vmax if vmax > 0 else 1.0
    im = ax.imshow(v, cmap=DIVERGING, vmin=-scale, vmax=scale, interpolation="nearest")
    bar = fig.colorbar(im, ax=ax, shrink=0.85)
    bar.set_label(unit_label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(f"range +-{vmax:.3g}" + ("  (all zero)" if vmax == 0 else ""), fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    return vmax


def gradient_panel(render_rgb: np.ndarray, target_rgb: np.ndarray, dl_di: np.ndarray,
                   soft_d: Optional[np.ndarray], reference_d: Optional[np.ndarray],
                   contribution: Optional[np.ndarray], *,
                   titles: dict[str, str], param: str, unit: str, summary: Sequence[str]) -> Figure:
    """The ``grad`` figure: render, target, dL/dI (top row), dI/dtheta soft, dI/dtheta reference,
    the per-pixel contribution dL/dI . dI/dtheta (second row) and a text block (loss, cosines,
    diagnostics). dl_di, soft_d, reference_d, contribution: (S, S) maps already reduced to the
    channel the loss reads (soft_d and contribution None for a renderer without an image
    derivative: their titles say so). titles: "render", "target", "dl_di", "soft", "reference",
    "contribution" -> panel titles."""
    fig = new_figure(13.0, 10.0)
    grid = fig.add_gridspec(3, 3, height_ratios=[1.0, 1.0, 0.48])
    ax = {key: fig.add_subplot(grid[r, c]) for key, (r, c) in
          {"render": (0, 0), "target": (0, 1), "dl_di": (0, 2), "soft": (1, 0), "reference": (1, 1),
           "contribution": (1, 2)}.items()}
    per = UNIT_WORDS.get(unit, f"per {unit}")
    show_image(ax["render"], render_rgb, titles["render"])
    show_image(ax["target"], target_rgb, titles["target"])
    signed_heatmap(fig, ax["dl_di"], dl_di, titles["dl_di"], "dL/dI (per unit of I)")
    _heatmap_or_words(fig, ax["soft"], soft_d, titles["soft"], f"dI/d{param}, {per}")
    if reference_d is not None:
        signed_heatmap(fig, ax["reference"], reference_d, titles["reference"], f"dI/d{param}, {per}")
    else:
        ax["reference"].axis("off")
        ax["reference"].text(0.5, 0.5, "no OpenGL reference", ha="center", va="center")
    _heatmap_or_words(fig, ax["contribution"], contribution, titles["contribution"], f"dL/d{param}, {per}")
    text = fig.add_subplot(grid[2, :])
    text.axis("off")
    text.text(0.0, 1.0, "\n".join(summary), ha="left", va="top", fontsize=9, family="monospace",
              transform=text.transAxes)
    return fig


def _heatmap_or_words(fig: Figure, ax, values: Optional[np.ndarray], title: str, unit_label: str) -> None:
    """A signed heatmap, or where there is none (a renderer without an image derivative) the
    title's words in its place."""
    if values is not None:
        signed_heatmap(fig, ax, values, title, unit_label)
        return
    ax.axis("off")
    ax.text(0.5, 0.5, _wrapped(title, 40), ha="center", va="center", fontsize=9, transform=ax.transAxes)


def landscape_figure(sweep, title: str) -> Figure:
    """Loss (top) and dL/dtheta (bottom: the renderer's autograd derivative, solid; the slope of
    the loss curve by central differences, dotted) along a 1-D sweep, one colour per curve; the
    exact curve (label "exact ...", the box-filtered image) in black."""
    fig = new_figure(10.0, 7.5)
    top, bottom = fig.subplots(2, 1, sharex=True)
    per = UNIT_WORDS.get(sweep.unit, f"per {sweep.unit}")
    slope = sweep.slope()
    colors = [f"C{i}" for i in range(len(sweep.labels))]
    for i, label in enumerate(sweep.labels):
        # the exact curve (the box-filtered image's loss and exact derivative) in black, on top
        exact = label.startswith("exact")
        color, lw, z = ("black", 2.2, 3) if exact else (colors[i], 1.6, 2)
        top.plot(sweep.values, sweep.loss[i], color=color, lw=lw, label=label, zorder=z)
        bottom.plot(sweep.values, sweep.grad[i], color=color, lw=lw, zorder=z)
        bottom.plot(sweep.values, slope[i], color=color, lw=1.0, ls=":", zorder=z)
    unit_text = "deg" if sweep.unit == "deg" else sweep.unit
    for ax in (top, bottom):
        if sweep.target_value is not None:
            ax.axvline(sweep.target_value, color="0.3", ls="--", lw=0.9)
        ax.grid(alpha=0.3)
    bottom.axhline(0.0, color="0.2", lw=0.8)
    top.set_ylabel(f"loss ({sweep.loss_name})")
    bottom.set_ylabel(f"dL/d{sweep.param} ({per})")
    bottom.set_xlabel(f"{sweep.param} ({unit_text})" + ("; dashed: target" if sweep.target_value is not None else ""))
    top.set_title(_wrapped(title, 100), fontsize=10)
    # the legends sit beside the plots, never over a curve: colours are the curves (top), line
    # styles what each line of the derivative plot is (bottom)
    outside = dict(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8)
    top.legend(**outside)
    from matplotlib.lines import Line2D

    styles = [Line2D([], [], color="0.2", lw=1.6, label="autograd dL/dtheta"),
              Line2D([], [], color="0.2", lw=1.0, ls=":", label="slope of the loss curve")]
    bottom.legend(handles=styles, **outside)
    return fig


def scan_figure(scan, title: str) -> Figure:
    """A 2-D loss scan as a sequential heatmap with colour bar, the target (x) and the lowest
    loss found (o) marked."""
    fig = new_figure(7.5, 6.2)
    ax = fig.subplots()
    extent = [scan.values_x[0], scan.values_x[-1], scan.values_y[0], scan.values_y[-1]]
    im = ax.imshow(scan.loss, origin="lower", extent=extent, aspect="auto", cmap=SEQUENTIAL,
                   interpolation="nearest")
    bar = fig.colorbar(im, ax=ax)
    bar.set_label(f"loss ({scan.loss_name}), range {scan.loss.min():.3g} .. {scan.loss.max():.3g}")
    mx, my = scan.minimum()
    ax.plot([mx], [my], "o", mfc="none", mec="white", ms=10, label="lowest loss")
    if scan.target_value is not None:
        ax.plot([scan.target_value[0]], [scan.target_value[1]], "x", color="red", ms=10, label="target")
    ax.set_xlabel(f"{scan.param_x} ({scan.units[0]})" if scan.units[0] else scan.param_x)
    ax.set_ylabel(f"{scan.param_y} ({scan.units[1]})" if scan.units[1] else scan.param_y)
    ax.set_title(_wrapped(title, 80), fontsize=10)
    # under the plot, not over the map; grey, so the white "lowest loss" ring shows
    fig.legend(fontsize=8, loc="outside lower center", ncol=2, facecolor="0.55", framealpha=1.0)
    return fig


def shared_heatmap(fig: Figure, ax, values: np.ndarray, vmax: float, title: str, unit_label: str) -> None:
    """A signed map on the diverging scale +-vmax shared with other panels (values beyond it
    saturate), with its own colour bar of that scale."""
    v = np.nan_to_num(np.asarray(values, np.float64))
    scale = vmax if vmax > 0 else 1.0
    im = ax.imshow(v, cmap=DIVERGING, vmin=-scale, vmax=scale, interpolation="nearest")
    bar = fig.colorbar(im, ax=ax, shrink=0.85)
    bar.set_label(unit_label, fontsize=7)
    bar.ax.tick_params(labelsize=6)
    ax.set_title(title, fontsize=8)
    own = float(np.abs(v).max())
    ax.set_xlabel(f"own max |value| {own:.3g}" + ("  (all zero)" if own == 0 else
                                                  "  (clipped)" if own > 1.001 * scale else ""), fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])


def comparison_figure(comparison, curve=None, title: str = "", table: bool = True, columns: int = 4) -> Figure:
    """The gradient-methods comparison: one panel per method (the exact one first) with its
    dI/dtheta on the loss's channel (the colour a viewer sees summed over R, G, B, or alpha) on ONE
    colour scale shared by every panel (+- the exact derivative's max), each titled with the
    method, its agreement numbers and dL/dtheta; a method without an image derivative says so.
    Below: SoftRas's agreement with the exact derivative against sigma (``curve``, a SigmaCurve)
    and, with ``table``, the table (the GUI shows it as text instead, and draws ``columns`` = 3
    panels a row so that the figure stays legible in a small pane)."""
    from .compare import reduce_channel

    methods = comparison.all()
    cols = min(columns, len(methods))
    rows = -(-len(methods) // cols)
    extra = 1 if curve is not None else 0
    text_rows = 1 if table else 0
    fig = new_figure(3.6 * cols, 3.3 * rows + 3.4 * extra + 1.6 * text_rows + 0.4)
    grid = fig.add_gridspec(rows + extra + text_rows, cols,
                            height_ratios=[1.0] * rows + [1.05] * extra + [0.5] * text_rows)
    per = UNIT_WORDS.get(comparison.unit, f"per {comparison.unit}")
    what = "alpha" if comparison.channel == "alpha" else "viewed colour, R+G+B"
    truth_map = reduce_channel(comparison.truth.d_viewed, comparison.channel)
    vmax = float(np.abs(truth_map).max())
    for i, m in enumerate(methods):
        ax = fig.add_subplot(grid[i // cols, i % cols])
        head = f"{m.label}\ndL/d{comparison.param} = {m.dL_dtheta:+.3g}"
        if m is comparison.truth:
            head = f"{m.label}: EXACT (reference)\ndL/d{comparison.param} = {m.dL_dtheta:+.3g}"
        elif m.same_direction is not None:
            head += " (same way)" if m.same_direction else " (WRONG way)"
        if m.d_viewed is None:
            ax.axis("off")
            ax.set_title(head, fontsize=8)
            why = m.note if m.note.startswith("failed") else (
                f"{m.name} has no image derivative dI/d{comparison.param}: its backward is hand-made for the "
                "loss; only dL/dtheta and dL/dV are compared"
                + (f" (dL/dV cosine with exact {m.dL_dV_cosine:.2f})" if np.isfinite(m.dL_dV_cosine) else ""))
            ax.text(0.5, 0.5, _wrapped(why, 34),
                    ha="center", va="center", fontsize=8, transform=ax.transAxes)
            continue
        if m.per_pixel is not None:
            head += (f"\ncos px {m.per_pixel.cosine:.2f} / band {m.band.cosine:.2f}; "
                     f"alpha {m.per_pixel.cosine_alpha:.2f} / {m.band.cosine_alpha:.2f}")
        else:
            head += "\n(agreement 1 by definition)"
        shared_heatmap(fig, ax, reduce_channel(m.d_viewed, comparison.channel), vmax, head,
                       f"dI/d{comparison.param} ({what}), {per}")
    if curve is not None:
        ax = fig.add_subplot(grid[rows, :])
        ax.semilogx(curve.sigmas, curve.per_pixel, "o-", color="C0", label="per pixel, viewed colour")
        ax.semilogx(curve.sigmas, curve.per_pixel_alpha, "o--", color="C0", label="per pixel, alpha")
        ax.semilogx(curve.sigmas, curve.band, "s-", color="C1", label="band scale, viewed colour")
        ax.semilogx(curve.sigmas, curve.band_alpha, "s--", color="C1", label="band scale, alpha")
        ax.axhline(0.0, color="0.3", lw=0.8)
        ax.set_ylim(-0.1, 1.02)
        ax.set_xlabel("sigma (squared NDC)")
        ax.set_ylabel(f"cosine with exact dI/d{curve.param}")
        ax.set_title(f"{curve.renderer}: agreement with the exact derivative against sigma "
                     f"(best per pixel at sigma = {curve.best():g})", fontsize=9)
        ax.grid(alpha=0.3)
        # inside the plot: a legend beside it would widen the last column and push the heatmap
        # colour bars of that column away from their panels
        ax.legend(loc="best", fontsize=7, ncol=2, framealpha=0.85)
    if table:
        text = fig.add_subplot(grid[rows + extra, :])
        text.axis("off")
        text.text(0.0, 1.0, "\n".join(comparison.table()), ha="left", va="top", fontsize=6.5,
                  family="monospace", transform=text.transAxes)
    fig.suptitle(_wrapped(title or f"dI/d{comparison.param}: every method against the exact derivative "
                          f"(shared scale +-{vmax:.3g}, the exact one's max)", 140), fontsize=10)
    return fig
