"""Timeline files: a versioned .npz with JSON metadata, written atomically.

Layout (format version 1), all arrays stored without pickling:
    meta          0-d unicode: JSON {"format": "diffrender-debugger timeline", "version": 1,
                  "scalar_names": [...], "pane_names": [...], "frame_stride": n,
                  "memory_budget": n, "meta": {the timeline's own metadata}}
    steps         (T,) int64
    scalars       (T, K) float64, columns in scalar_names order
    frame_steps   (N,) int64
    frame.<pane>  (N, ...) one array per pane (float32, or int64)
    array.<name>  arrays stored once (e.g. array.faces (F, 3))

Saving writes a temporary file in the destination's folder and renames it over the destination,
so a crash never leaves a half-written file under the final name. Loading reads everything into
a new Timeline, or raises ``TimelineFileError`` with a one-line reason and builds nothing.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from .timeline import Timeline

FORMAT_NAME = "diffrender-debugger timeline"
FORMAT_VERSION = 1


class TimelineFileError(UserError, ValueError):
    """A timeline file that cannot be read: missing, damaged, not a timeline, or too new."""


def save_timeline(timeline: Timeline, path: str | os.PathLike) -> None:
    """Write ``timeline`` to ``path`` (.npz; the suffix is added if missing) atomically."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        path = path.with_name(path.name + ".npz")
    folder = path.resolve().parent
    if not folder.is_dir():
        raise ValueError(f"cannot write {path}: folder {folder} does not exist")
    with timeline._lock:                       # a consistent snapshot while a worker appends
        names = timeline.scalar_names
        header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "scalar_names": names,
                  "pane_names": timeline.pane_names, "frame_stride": timeline.frame_stride,
                  "memory_budget": timeline.memory_budget, "meta": timeline.meta}
        arrays = {"meta": np.array(json.dumps(header, allow_nan=True)), "steps": timeline.steps,
                  "scalars": timeline.scalars_array(), "frame_steps": np.asarray(timeline.frame_steps, np.int64)}
        for pane in timeline.pane_names:
            arrays[f"frame.{pane}"] = timeline.frame_stack(pane)
        for name, value in timeline.arrays.items():
            arrays[f"array.{name}"] = np.asarray(value)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file private (0600); give it the mode a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_timeline(path: str | os.PathLike) -> Timeline:
    """Read a timeline file written by ``save_timeline`` (the GUI's ``open run.npz`` calls this).
    Raises TimelineFileError with a clear one-line message for a missing, truncated, corrupted,
    foreign or newer-version file."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise TimelineFileError(f"timeline file {where!r} does not exist or is not a file")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()                   # reads every member and checks its CRC-32
        if bad is not None:
            raise TimelineFileError(f"{where!r} is damaged (corrupted data in {bad}) and was not loaded")
        with np.load(path, allow_pickle=False) as data:
            files = set(data.files)
            if "meta" not in files:
                raise TimelineFileError(f"{where!r} is not a diffrender-debugger timeline (no metadata)")
            header = json.loads(str(data["meta"]))
            _check_header(header, where)
            arrays = {k: data[k] for k in files if k != "meta"}      # reads (and CRC-checks) every member
    except TimelineFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - zip, zlib, npy and JSON errors all mean a damaged file
        raise TimelineFileError(f"{where!r} is damaged (truncated or corrupted) and was not loaded: "
                                f"{type(exc).__name__}: {' '.join(str(exc).split())}") from None
    return _build(header, arrays, where)


def _check_header(header, where: str) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise TimelineFileError(f"{where!r} is not a diffrender-debugger timeline")
    version = header.get("version")
    if not isinstance(version, int) or version < 1:
        raise TimelineFileError(f"{where!r} has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise TimelineFileError(f"{where!r} was written by a newer diffrender-debugger (timeline format "
                                f"{version}; this version reads up to {FORMAT_VERSION}); update to open it")


def _build(header: dict, arrays: dict, where: str) -> Timeline:
    def damaged(why: str) -> TimelineFileError:
        return TimelineFileError(f"{where!r} is damaged and was not loaded: {why}")

    try:
        names, panes = list(header["scalar_names"]), list(header["pane_names"])
        steps, scalars, frame_steps = arrays["steps"], arrays["scalars"], arrays["frame_steps"]
        frames = {p: arrays[f"frame.{p}"] for p in panes}
        stride, budget, meta = int(header["frame_stride"]), int(header["memory_budget"]), header["meta"]
    except (KeyError, TypeError, ValueError) as exc:
        raise damaged(f"missing entry {exc}") from None
    if steps.ndim != 1 or scalars.shape != (steps.shape[0], len(names)):
        raise damaged(f"scalars have shape {scalars.shape} for {steps.shape[0]} steps and {len(names)} names")
    if frame_steps.ndim != 1 or any(a.shape[:1] != frame_steps.shape for a in frames.values()):
        raise damaged("frame arrays and frame steps disagree in length")
    if steps.size > 1 and not (np.diff(steps) > 0).all():
        raise damaged("steps are not increasing")
    timeline = Timeline(meta=meta, memory_budget=budget, frame_stride=stride,
                        arrays={k[len("array."):]: v for k, v in arrays.items() if k.startswith("array.")})
    timeline._restore(steps, names, scalars, frame_steps, frames)
    return timeline
