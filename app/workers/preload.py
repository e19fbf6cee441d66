"""Import, on the GUI thread and before the window shows, the modules the worker would otherwise
import on its first render or analysis.

An import holds Python's global interpreter lock while the module runs; done first in the worker
thread, the imports torch makes lazily (sympy through torch.fx's symbolic shapes on the first
render; torch._dynamo through checkpointing on the first gradient) froze the GUI for hundreds of
milliseconds. Importing is not computing: no torch work runs on the GUI thread.
"""
from __future__ import annotations

import gc
import importlib
import time

import torch

LAZY_MODULES = (
    "renderer.rendering", "renderer.soft", "renderer.gl", "renderer.analysis",
    "app.workers.analysis_engine", "app.workers.mode_compute",
    "torch.utils.checkpoint",
    "torch.fx.experimental.symbolic_shapes",   # pulls in sympy (first render)
    "torch._dynamo",                           # first checkpointed backward
    "torch.autograd.forward_ad",
    "imageio.v3",
)
_done = False


def preload_modules() -> float:
    """Import ``LAZY_MODULES`` once per process; returns the seconds it took. A module that fails
    to import is left for the worker, which then reports the error in the window."""
    global _done
    if _done:
        return 0.0
    start = time.perf_counter()
    for name in LAZY_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the worker meets the same error and shows it
            pass
    # torch and Qt leave ~10^6 long-lived objects that every full (generation 2) collection walks:
    # 50-200 ms on the GUI thread, where collections run (see worker_thread). Moving what exists
    # now out of the collector's sight keeps those pauses out of slider drags.
    gc.collect()
    gc.freeze()
    _done = True
    return time.perf_counter() - start


def available_devices() -> list[str]:
    """Where the differentiable renderer can run here: "cpu", and "cuda" with a GPU."""
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
