"""What the run views read from a recorded Timeline (no Qt): the loss curves, the best step, the
nearest recorded frame, a label for a run, the scalars at a step, and ``ReferenceRequest``: which
step the reference thread should draw with OpenGL (the run's Task rebuilds that step's scene,
``renderer.optimize.tasks.Task.recorded_scene``, so nothing here knows one task from another).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from renderer.optimize import Timeline
from renderer.optimize.timeline import ScalarSnapshot

# timeline -> its scalars: rows are only ever appended, so a snapshot is retaken only when the
# timeline has grown (scrubbing a long run would otherwise rebuild it every step)
_TABLES: "weakref.WeakKeyDictionary[Timeline, ScalarSnapshot]" = weakref.WeakKeyDictionary()


def loss_names(names: Sequence[str]) -> list[str]:
    """Of the scalar ``names`` of a run: the total loss first, then each loss term, in recording
    order."""
    return (["loss"] if "loss" in names else []) + [n for n in names if n.startswith("loss/")]


def best_step(timeline: Timeline) -> Optional[int]:
    """The step with the lowest finite total loss (the first of equals), or None."""
    snap = scalar_snapshot(timeline)
    if "loss" not in snap.names or len(snap) == 0:
        return None
    loss = snap.column("loss")
    finite = np.isfinite(loss)
    if not finite.any():
        return None
    return int(snap.steps[int(np.argmin(np.where(finite, loss, np.inf)))])


def nearest_frame_step(frame_steps: Sequence[int], step: int) -> Optional[int]:
    """The recorded frame step closest to ``step`` (the earlier one on a tie), or None."""
    if len(frame_steps) == 0:
        return None
    steps = np.asarray(frame_steps, dtype=np.int64)
    return int(steps[int(np.argmin(np.abs(steps - step)))])


def scalar_snapshot(timeline: Timeline) -> ScalarSnapshot:
    """Steps and scalars of ``timeline`` read together (``Timeline.snapshot``), cached while the
    timeline does not grow."""
    cached = _TABLES.get(timeline)
    if cached is not None and len(cached) == len(timeline):
        return cached
    snap = timeline.snapshot()
    _TABLES[timeline] = snap
    return snap


def scalars_at(timeline: Timeline, step: int) -> dict[str, float]:
    """Every scalar recorded at ``step`` (empty when the step was not recorded)."""
    return scalar_snapshot(timeline).at(step)


def schedule_text(schedule: Optional[dict]) -> str:
    """A config's sigma/gamma schedule ({"start", "end"}) as '1e-04' or '1e-03 -> 1e-05'."""
    if not isinstance(schedule, dict) or "start" not in schedule:
        return "?"
    end = schedule.get("end")
    start = f"{float(schedule['start']):.0e}"
    return start if end is None or end == schedule["start"] else f"{start} -> {float(end):.0e}"


def run_label(timeline: Timeline, name: str) -> str:
    """A legend label: the file (or run) name, the task and sigma, e.g. 'run.npz (pose, sigma 1e-04)'."""
    from renderer.registry import get_renderer

    task = timeline.meta.get("task", {})
    kind = task.get("task", "run") if isinstance(task, dict) else "run"
    renderer = str((timeline.meta.get("settings") or task or {}).get("renderer", ""))
    try:
        reads_sigma = "sigma" in get_renderer(renderer).uses
    except ValueError:
        reads_sigma = True                  # a renderer not registered here: say what was recorded
    if not reads_sigma:
        return f"{name} ({kind}, {renderer})"
    sigma = schedule_text(timeline.meta.get("config", {}).get("sigma"))
    return f"{name} ({kind}, sigma {sigma})"


@dataclass(frozen=True, eq=False)
class ReferenceRequest:
    """What the reference thread draws: ``step`` of ``timeline``; ``mesh``: the run's object when
    the window has it open (else the worker loads the bundled asset of the run's mesh name). The
    scene itself is rebuilt in that thread by the run's Task (``Task.recorded_scene``)."""

    timeline: Timeline
    step: int
    mesh: Optional[object] = None


def signed_levels(values: np.ndarray) -> tuple[float, float]:
    """A colour range symmetric about 0 for a signed pane: +-max|x| (1 when all zero)."""
    finite = np.abs(values[np.isfinite(values)])
    limit = float(finite.max()) if finite.size else 0.0
    return (-limit, limit) if limit > 0 else (-1.0, 1.0)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A recorded render or target, (S, S) grey or (S, S, 3), as (S, S, 3) float32 (values unchanged)."""
    image = np.asarray(image, np.float32)
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
