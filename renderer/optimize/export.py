"""Exports of a recorded run: an animation (GIF, or MP4 with the imageio-ffmpeg package) of chosen
panes beside the loss curve, and the mesh at any recorded step (OBJ or PLY).

Colour conventions (DESIGN.md §5): render and target are shown as images (grey for silhouettes,
clamped for display only); difference and dL_dI are signed, on a diverging map symmetric about 0
with the range +-max|x| over the whole run, stated in the pane's title.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..images import to_uint8
from .timeline import Timeline

IMAGE_PANES = ("render", "target", "difference", "dL_dI")
SIGNED_PANES = ("difference", "dL_dI")
PANE_TITLES = {"render": "render", "target": "target", "difference": "render - target", "dL_dI": "dL/dI"}
TITLE_PX, HEADER_PX = 14, 16
ANIMATION_FORMATS = (".gif", ".mp4")


def _signed_rgb(x: np.ndarray, limit: float) -> np.ndarray:
    """(H, W) signed -> (H, W, 3) uint8 on a diverging map (blue < 0 < red), range +-limit."""
    from matplotlib import colormaps

    t = np.clip(0.5 + 0.5 * x / limit, 0.0, 1.0)
    return (colormaps["RdBu_r"](t)[..., :3] * 255 + 0.5).astype(np.uint8)


def _pane_rgb(x: np.ndarray, signed: bool, limit: float) -> np.ndarray:
    """One pane's array (S, S) or (S, S, 3) -> (S, S, 3) uint8."""
    if signed:
        return _signed_rgb(x if x.ndim == 2 else x.sum(-1), limit)
    img = to_uint8(x)
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img


def _text(image: np.ndarray, xy: tuple[int, int], text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    pil = Image.fromarray(image)
    ImageDraw.Draw(pil).text(xy, text, fill=(20, 20, 20))
    return np.array(pil)


def loss_figure(timeline: Timeline, width: int, height: int):
    """The loss curves of ``timeline`` as a matplotlib figure of ``width`` x ``height`` px ->
    (figure, axes, whether the y axis is logarithmic)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    snap = timeline.snapshot()
    steps = snap.steps
    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    # room on the left for labels like "0.003" (a narrower margin clipped "10^-1" to "0^-1")
    ax = fig.add_axes((0.2, 0.2, 0.76, 0.7))
    names = [n for n in snap.names if n == "loss" or n.startswith("loss/")]
    positive = True
    shown = []
    for name in names:
        y = snap.column(name)
        positive &= bool(np.nanmin(y) > 0) if np.isfinite(y).any() else True
        shown.append(y[np.isfinite(y)])
        ax.plot(steps, y, lw=1.6 if name == "loss" else 0.8, label=name.replace("loss/", ""))
    if positive:
        ax.set_yscale("log")
        values = np.concatenate(shown) if shown else np.zeros(0)
        decades = float(np.log10(values.max() / values.min())) if values.size else 0.0
        # plain numbers, as many as a small frame holds: within a decade 1, 2, 3, 5 of it, over
        # a few 1 and 3, else the decades (no mathtext: small fonts cut "10^-1" to "0^-1")
        subs = (1.0, 2.0, 3.0, 5.0) if decades < 1.2 else (1.0, 3.0) if decades < 2.5 else (1.0,)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs, numticks=6))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("step", fontsize=7, labelpad=1)
    ax.tick_params(labelsize=6)
    if names:
        ax.legend(fontsize=6, loc="best", frameon=True, framealpha=0.7)
    ax.set_xlim(steps[0] if len(steps) else 0, max(steps[-1] if len(steps) else 1, 1))
    return fig, ax, positive


def _loss_curve(timeline: Timeline, width: int, height: int):
    """The loss curve drawn once -> (RGB uint8 (height, width, 3), function step -> pixel column,
    (top, bottom) pixel rows of the plot area)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig, ax, positive = loss_figure(timeline, width, height)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    image = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    bbox = ax.get_window_extent()
    top, bottom = int(height - bbox.y1), int(height - bbox.y0)

    def column(step: float) -> int:
        x, _ = ax.transData.transform((step, 1.0 if positive else 0.0))
        return int(round(x))

    return image, column, (top, bottom)


def export_animation(timeline: Timeline, path: str | Path, panes: Optional[Sequence[str]] = None,
                     loss_curve: bool = True, fps: float = 10.0, pane_px: int = 160,
                     max_frames: Optional[int] = 300) -> int:
    """Write an animation of the recorded frames: each chosen pane (default: the image panes
    there are) scaled to about ``pane_px``, and the loss curve with the frame's step marked.
    .gif or .mp4 by the suffix; at most ``max_frames`` frames, evenly spread over the run (the
    first and last included). Returns the number of frames written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ANIMATION_FORMATS:
        raise ValueError(f"cannot write {path.name}: animations are {' or '.join(ANIMATION_FORMATS)}")
    if suffix == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        raise ValueError("MP4 export needs the imageio-ffmpeg package (pip install imageio-ffmpeg); "
                         "GIF export works without it")
    if not path.resolve().parent.is_dir():
        raise ValueError(f"cannot write {path}: folder {path.parent} does not exist")
    available = [p for p in timeline.pane_names if p in IMAGE_PANES]
    panes = list(panes) if panes else available
    for p in panes:
        if p not in available:
            raise ValueError(f"pane {p!r} is not an image pane of this run; choose from {', '.join(available) or 'none'}")
    steps = timeline.frame_steps
    if not steps:
        raise ValueError("this timeline holds no frames to animate")
    keep = np.arange(len(steps))
    if max_frames is not None and len(steps) > max_frames:
        keep = np.unique(np.round(np.linspace(0, len(steps) - 1, max(2, max_frames))).astype(int))
    steps = [steps[i] for i in keep]
    stacks = {p: timeline.frame_stack(p)[keep] for p in panes}
    limits = {p: float(np.nanmax(np.abs(stacks[p]))) or 1.0 for p in panes if p in SIGNED_PANES}
    size = stacks[panes[0]].shape[1] if panes else 64
    scale = max(1, round(pane_px / size))
    side = size * scale
    curve = _loss_curve(timeline, int(side * 1.6), side + TITLE_PX) if loss_curve else None
    snap = timeline.snapshot()
    loss = dict(zip(snap.steps.tolist(), snap.column("loss").tolist())) if "loss" in snap.names else {}
    width = len(panes) * (side + 4) + (curve[0].shape[1] if curve else 0)
    width += (-width) % 16
    height = HEADER_PX + TITLE_PX + side
    height += (-height) % 16                                  # video encoders want multiples of 16
    frames = []
    for i, step in enumerate(steps):
        canvas = np.full((height, width, 3), 255, np.uint8)
        x = 0
        for p in panes:
            img = _pane_rgb(stacks[p][i], p in SIGNED_PANES, limits.get(p, 1.0))
            img = img.repeat(scale, 0).repeat(scale, 1)
            canvas[HEADER_PX + TITLE_PX:HEADER_PX + TITLE_PX + side, x:x + side] = img
            name = PANE_TITLES.get(p, p)
            title = name if p not in limits else f"{name} (+-{limits[p]:.2g})"
            canvas = _text(canvas, (x + 2, HEADER_PX + 1), title)
            x += side + 4
        if curve:
            image, column, (top, bottom) = curve
            canvas[HEADER_PX:HEADER_PX + image.shape[0], x:x + image.shape[1]] = image
            c = x + column(step)
            if x <= c < width:
                canvas[HEADER_PX + top:HEADER_PX + bottom, c] = (220, 30, 30)
        header = f"step {step}" + (f"   loss {loss[step]:.5g}" if step in loss else "")
        frames.append(_text(canvas, (4, 2), header))
    _write_frames(path, np.stack(frames), fps)
    return len(frames)


def _write_frames(path: Path, frames: np.ndarray, fps: float) -> None:
    import imageio.v2 as imageio

    if path.suffix.lower() == ".gif":
        import imageio.v3 as iio

        iio.imwrite(path, frames, extension=".gif", duration=int(round(1000 / fps)), loop=0)
    else:
        imageio.mimwrite(path, list(frames), format="FFMPEG", fps=fps, macro_block_size=16)


def export_mesh(timeline: Timeline, path: str | Path, step: Optional[int] = None) -> int:
    """Write the mesh of the newest frame at or before ``step`` (default: the last frame) as .obj
    or .ply, in the run's scene coordinates. Returns the step written."""
    import trimesh

    path = Path(path)
    if path.suffix.lower() not in (".obj", ".ply"):
        raise ValueError(f"cannot write {path.name}: meshes are written as .obj or .ply")
    if "verts" not in timeline.pane_names or "faces" not in timeline.arrays:
        raise ValueError("this timeline holds no vertices (shape runs record them)")
    if not path.resolve().parent.is_dir():
        raise ValueError(f"cannot write {path}: folder {path.parent} does not exist")
    chosen, frame = timeline.frame_at(timeline.frame_steps[-1] if step is None else step)
    mesh = trimesh.Trimesh(vertices=frame["verts"], faces=timeline.arrays["faces"], process=False)
    mesh.export(path)
    return chosen
