"""The recorded history of a run: per-step scalars and per-frame arrays, stamped with the settings
that produced them, under a memory budget.

- Scalars: one row per recorded step, one column per name ("loss", "loss/laplacian",
  "param/azimuth", "error/azimuth", "grad_norm/camera", "sigma", "gamma", "time", ...). A name first
  seen at a later step reads NaN before it. Scalars are never dropped.
- Frames: at some steps, a dict of arrays ("panes"), the same names and shapes in every frame:
  render, target, difference, dL_dI as (S, S) or (S, S, 3) float32, and task extras such as verts
  (V, 3). Frames are thinned to keep ``nbytes`` within ``memory_budget``: a frame is kept when its
  step is a multiple of ``frame_stride`` (doubled whenever the budget is exceeded), and the newest
  frame is always kept, for live display, as long as it fits at all.

Thread safety: a worker thread may append while the GUI thread reads; every method takes the
timeline's lock, and readers get copies. A reader that needs several scalars that belong together
(the steps and the curves plotted against them) takes one ``snapshot()``: separate calls may see
different numbers of rows while a run appends.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np

from .config import DEFAULT_MEMORY_BUDGET

FRAME_DTYPE = np.float32


def _json_ready(meta: Mapping) -> dict:
    """meta normalised to what JSON gives back (tuples -> lists, numpy scalars -> floats)."""
    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        raise TypeError(f"metadata value of type {type(o).__name__} is not JSON serialisable")

    return json.loads(json.dumps(dict(meta), default=default, allow_nan=True))


@dataclass(frozen=True)
class ScalarSnapshot:
    """Every scalar of a timeline at one moment: ``steps`` (T,) int64, ``names`` (K,) and
    ``values`` (T, K) float64, all with the same T (taken under the timeline's lock)."""

    steps: np.ndarray
    names: tuple[str, ...]
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.steps)

    def column(self, name: str) -> np.ndarray:
        """(T,) values of ``name``; KeyError naming the recorded scalars otherwise."""
        if name not in self.names:
            raise KeyError(f"no scalar {name!r}; recorded: {', '.join(self.names) or 'none'}")
        return self.values[:, self.names.index(name)]

    def at(self, step: int) -> dict[str, float]:
        """Every scalar recorded at ``step`` (empty when that step was not recorded)."""
        row = int(np.searchsorted(self.steps, step))
        if row >= len(self.steps) or self.steps[row] != step:
            return {}
        return dict(zip(self.names, self.values[row].tolist()))

    def last(self) -> dict[str, float]:
        """The newest row (empty before the first step)."""
        return dict(zip(self.names, self.values[-1].tolist())) if len(self.steps) else {}


class Timeline:
    """meta: JSON-ready settings stamp (task, config, scene, truth); arrays: arrays stored once
    (e.g. "faces" (F, 3)); memory_budget: bytes for scalars + frames."""

    def __init__(self, meta: Optional[Mapping] = None, arrays: Optional[Mapping[str, np.ndarray]] = None,
                 memory_budget: int = DEFAULT_MEMORY_BUDGET, frame_stride: int = 1):
        self._lock = threading.RLock()
        self.meta: dict = _json_ready(meta or {})
        self.arrays: dict[str, np.ndarray] = {k: np.asarray(v) for k, v in (arrays or {}).items()}
        self.memory_budget = int(memory_budget)
        self.frame_stride = max(1, int(frame_stride))
        self._steps: list[int] = []
        self._columns: dict[str, list[float]] = {}
        self._frames: dict[int, dict[str, np.ndarray]] = {}     # step -> panes, in step order
        self._pane_shapes: Optional[dict[str, tuple]] = None
        self._frame_bytes = 0

    # ------------------------------------------------------------------ writing

    def set_meta(self, **entries) -> None:
        """Add or replace metadata entries (JSON-ready values)."""
        with self._lock:
            self.meta.update(_json_ready(entries))

    def add_step(self, step: int, scalars: Mapping[str, float]) -> None:
        """Record one step's scalars. Steps must increase."""
        with self._lock:
            if self._steps and step <= self._steps[-1]:
                raise ValueError(f"step {step} recorded after step {self._steps[-1]}: steps must increase")
            row = len(self._steps)
            self._steps.append(int(step))
            for name, value in scalars.items():
                if name not in self._columns:
                    self._columns[name] = [float("nan")] * row
                self._columns[name].append(float(value))
            for column in self._columns.values():
                if len(column) == row:
                    column.append(float("nan"))
            self._thin()

    def wants_frame(self, step: int) -> bool:
        """Whether a frame at ``step`` would be kept (beyond the always-kept newest one)."""
        with self._lock:
            return step % self.frame_stride == 0

    def add_frame(self, step: int, panes: Mapping[str, np.ndarray]) -> bool:
        """Record a frame; returns whether it was kept. Every frame must have the same pane names
        and shapes as the first."""
        arrays = {k: np.array(v, dtype=np.int64 if np.issubdtype(np.asarray(v).dtype, np.integer) else FRAME_DTYPE)
                  for k, v in panes.items()}
        shapes = {k: a.shape for k, a in arrays.items()}
        with self._lock:
            if self._pane_shapes is None:
                self._pane_shapes = shapes
            elif shapes != self._pane_shapes:
                raise ValueError(f"frame panes {sorted(shapes)} with shapes {shapes} differ from the "
                                 f"timeline's {self._pane_shapes}")
            newest = max(self._frames) if self._frames else None
            if newest is not None and step <= newest:
                raise ValueError(f"frame at step {step} recorded after step {newest}: steps must increase")
            if newest is not None and newest % self.frame_stride != 0:
                self._drop(newest)                          # the old newest was only kept as newest
            self._frames[int(step)] = arrays
            self._frame_bytes += sum(a.nbytes for a in arrays.values())
            self._thin()
            return int(step) in self._frames

    def _drop(self, step: int) -> None:
        panes = self._frames.pop(step)
        self._frame_bytes -= sum(a.nbytes for a in panes.values())

    def _thin(self) -> None:
        """Drop frames until nbytes <= memory_budget (scalars stay, however large)."""
        while self._frames and self._nbytes() > self.memory_budget:
            newest = max(self._frames)
            older = [s for s in self._frames if s != newest]
            if older and max(older) > 0:
                self.frame_stride *= 2
                for s in older:
                    if s % self.frame_stride != 0:
                        self._drop(s)
            elif older:                                      # only step 0 left besides the newest
                self._drop(older[0])
            else:
                self._drop(newest)

    # ------------------------------------------------------------------ reading

    def _nbytes(self) -> int:
        return 8 * len(self._steps) * (len(self._columns) + 1) + self._frame_bytes

    @property
    def nbytes(self) -> int:
        """Bytes held by scalars (float64, plus the step column) and frames."""
        with self._lock:
            return self._nbytes()

    @property
    def frame_nbytes(self) -> int:
        with self._lock:
            return self._frame_bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._steps)

    @property
    def steps(self) -> np.ndarray:
        """(T,) int64 recorded steps."""
        with self._lock:
            return np.asarray(self._steps, dtype=np.int64)

    @property
    def scalar_names(self) -> list[str]:
        with self._lock:
            return list(self._columns)

    def scalar(self, name: str) -> np.ndarray:
        """(T,) float64 values of one scalar (NaN where it was not recorded)."""
        with self._lock:
            if name not in self._columns:
                raise KeyError(f"no scalar {name!r}; recorded: {', '.join(self._columns) or 'none'}")
            return np.asarray(self._columns[name], dtype=np.float64)

    def scalars_array(self) -> np.ndarray:
        """(T, K) float64, columns in ``scalar_names`` order."""
        with self._lock:
            if not self._columns:
                return np.zeros((len(self._steps), 0))
            return np.stack([np.asarray(c, dtype=np.float64) for c in self._columns.values()], axis=1)

    def snapshot(self) -> ScalarSnapshot:
        """Steps and every scalar column, consistent with each other (one lock)."""
        with self._lock:
            return ScalarSnapshot(np.asarray(self._steps, dtype=np.int64), tuple(self._columns),
                                  self.scalars_array())

    def last(self) -> dict[str, float]:
        """The newest step's scalars (empty before the first step)."""
        with self._lock:
            return {k: c[-1] for k, c in self._columns.items()} if self._steps else {}

    @property
    def frame_steps(self) -> list[int]:
        with self._lock:
            return sorted(self._frames)

    @property
    def pane_names(self) -> list[str]:
        with self._lock:
            return list(self._pane_shapes or {})

    def frame(self, step: int) -> dict[str, np.ndarray]:
        """The frame recorded at exactly ``step`` (copies); KeyError naming the steps there are."""
        with self._lock:
            if step not in self._frames:
                raise KeyError(f"no frame at step {step}; frames at {_ranges(sorted(self._frames))}")
            return {k: v.copy() for k, v in self._frames[step].items()}

    def frame_at(self, step: int) -> tuple[int, dict[str, np.ndarray]]:
        """The newest frame at or before ``step`` (the first frame if none is) -> (its step, panes)."""
        with self._lock:
            if not self._frames:
                raise KeyError("this timeline holds no frames")
            steps = sorted(self._frames)
            earlier = [s for s in steps if s <= step]
            chosen = earlier[-1] if earlier else steps[0]
            return chosen, {k: v.copy() for k, v in self._frames[chosen].items()}

    def frame_stack(self, pane: str) -> np.ndarray:
        """(N, ...) one pane over all frames, in step order."""
        with self._lock:
            if self._pane_shapes is None or pane not in self._pane_shapes:
                raise KeyError(f"no pane {pane!r}; panes: {', '.join(self._pane_shapes or {}) or 'none'}")
            return np.stack([self._frames[s][pane] for s in sorted(self._frames)])

    # ------------------------------------------------------------------ files

    def save(self, path) -> None:
        """Write a versioned .npz atomically (see ``timeline_file``)."""
        from .timeline_file import save_timeline

        save_timeline(self, path)

    def _restore(self, steps: np.ndarray, names: list[str], scalars: np.ndarray, frame_steps: np.ndarray,
                 panes: Mapping[str, np.ndarray]) -> None:
        """Fill an empty timeline from loaded arrays (used by ``load_timeline``)."""
        self._steps = [int(s) for s in steps]
        self._columns = {n: scalars[:, k].astype(np.float64).tolist() for k, n in enumerate(names)}
        self._frames = {int(s): {p: np.array(a[i]) for p, a in panes.items()} for i, s in enumerate(frame_steps)}
        self._pane_shapes = {p: a.shape[1:] for p, a in panes.items()} if len(frame_steps) else None
        self._frame_bytes = sum(a.nbytes for f in self._frames.values() for a in f.values())


def _ranges(steps: list[int]) -> str:
    if not steps:
        return "none"
    if len(steps) <= 6:
        return ", ".join(map(str, steps))
    return f"{steps[0]}, {steps[1]}, ..., {steps[-1]} ({len(steps)} frames)"
