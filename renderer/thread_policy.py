"""How many threads torch's CPU kernels use, and how they wait: chosen before torch loads.

OpenMP's default is one spinning thread per core. The moment anything else wants a core (the
GUI thread, the GL reference, a browser, another test), a spinning team fights it and a 250 ms
render takes seconds (measured: the knot at 256 px, SoftRas forward, 7.3 s with two spinning
threads and one core busy, 250 ms with one thread). The renderers are memory-bound, so on a small
machine one thread is also the fastest when idle (72 ms against 80 ms with two, same case).

Policy, applied when this module is imported (``renderer/__init__.py`` imports it first, so every
entry point that imports ``renderer`` before torch gets it), only when this process has
not loaded torch yet (a notebook that imported torch first keeps its own settings) and only for
what the user has not set:
- OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning;
- OMP_NUM_THREADS: DRD_THREADS if set (the user's preference), else half the cores, between
  1 and 8 (``default_threads``).
Stdlib only: it must run before torch is imported.
"""
from __future__ import annotations

import os
import sys

MAX_DEFAULT_THREADS = 8


def default_threads(cores: int | None = None) -> int:
    """Half the cores (logical cores on most CPUs come in pairs), at least 1, at most 8."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_THREADS, cores // 2))


def apply_thread_policy(environ: dict | None = None) -> dict[str, str]:
    """Set the policy's environment variables that are unset; returns what it set (empty when
    torch is already loaded or everything was set by the user)."""
    env = os.environ if environ is None else environ
    if environ is None and "torch" in sys.modules:
        return {}
    chosen: dict[str, str] = {}
    if "OMP_WAIT_POLICY" not in env:
        chosen["OMP_WAIT_POLICY"] = "PASSIVE"
    if "OMP_NUM_THREADS" not in env:
        preference = env.get("DRD_THREADS", "").strip()
        chosen["OMP_NUM_THREADS"] = preference if preference.isdigit() and int(preference) > 0 \
            else str(default_threads())
    env.update(chosen)
    return chosen


APPLIED = apply_thread_policy()
