"""Small C kernels for the CPU paths, compiled on first use with the system C compiler.

Why C and not torch.compile or a torch C++ extension: a kernel here is a plain C file with no
torch headers, so it compiles in a second or two with ``cc`` (a torch extension takes about a
minute, inductor tens of seconds per shape) and needs nothing at install time. The shared object
is cached per source, compiler and machine under ``$XDG_CACHE_HOME/diffrender-debugger/native``
(``DRD_NATIVE_CACHE`` overrides), written atomically so concurrent processes are safe.

Every caller keeps its pure-torch path: ``library(name)`` returns None, and the caller falls back,
when there is no compiler, the build fails, the tensors are not on the CPU, or ``DRD_NATIVE=0``
(the tests set that to compare the two paths). The failure reason is kept in ``unavailable``.

Kernels take raw pointers (``ptr``) to contiguous tensors and release the GIL (ctypes does) while
they run, so a GUI thread stays responsive.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Optional

import torch

SOURCE_DIR = Path(__file__).resolve().parent
# -O3 vectorises the inner pixel loops (-fno-trapping-math lets it turn float comparisons into
# selects); no -ffast-math and no contraction into FMA: the kernels must give torch's values
# (rounding, inf alike) so the tests can compare the two paths. DRD_EXTRA_CFLAGS adds flags.
CFLAGS = [*os.environ.get("DRD_EXTRA_CFLAGS", "").split(), "-O3", "-std=c99", "-ffp-contract=off",
          "-fno-trapping-math", "-fno-math-errno", "-shared", "-fPIC", "-lm"]

_lock = threading.Lock()
_loaded: dict[str, Optional[ctypes.CDLL]] = {}
unavailable: dict[str, str] = {}          # kernel name -> why it could not be used


def enabled() -> bool:
    """False when the user (or a test) set DRD_NATIVE=0."""
    return os.environ.get("DRD_NATIVE", "1").strip() not in ("0", "false", "no", "off")


def cache_dir() -> Path:
    if os.environ.get("DRD_NATIVE_CACHE"):
        return Path(os.environ["DRD_NATIVE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "diffrender-debugger" / "native"


def _compiler() -> Optional[str]:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _build(name: str) -> ctypes.CDLL:
    source = SOURCE_DIR / f"{name}.c"
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler (cc, gcc or clang) on PATH")
    # the file and every header beside it (a .c may include them)
    text = source.read_bytes() + b"".join(h.read_bytes() for h in sorted(SOURCE_DIR.glob("*.h")))
    key = hashlib.sha256(text + " ".join([cc, *CFLAGS, platform.machine(), sys.platform]).encode()).hexdigest()[:16]
    target = cache_dir() / f"{name}-{key}.so"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError:                         # a read-only home: a private folder in the temp dir
        target = Path(tempfile.gettempdir()) / f"diffrender-debugger-native-{os.getuid()}" / target.name
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not target.exists():
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            built = Path(tmp) / target.name
            proc = subprocess.run([cc, *CFLAGS[:-1], str(source), "-o", str(built), CFLAGS[-1]],
                                  capture_output=True, text=True, timeout=120)
            if proc.returncode != 0:
                raise RuntimeError(f"{Path(cc).name} failed on {source.name}: {proc.stderr.strip()[:400]}")
            os.replace(built, target)           # atomic: a concurrent build wins or loses whole
    return ctypes.CDLL(str(target))


def library(name: str) -> Optional[ctypes.CDLL]:
    """The compiled kernel file ``renderer/native/<name>.c``, or None (see ``unavailable``)."""
    if not enabled():
        return None
    with _lock:
        if name not in _loaded:
            try:
                _loaded[name] = _build(name)
            except Exception as exc:  # noqa: BLE001 - any failure means: use the torch path
                _loaded[name] = None
                unavailable[name] = str(exc)
        return _loaded[name]


def status(name: str) -> str:
    """One line for reports: whether kernel file ``name`` is in use, and why not."""
    if not enabled():
        return "off (DRD_NATIVE=0)"
    return "on" if library(name) is not None else f"unavailable ({unavailable.get(name, 'unknown')})"


def usable(*tensors: torch.Tensor) -> bool:
    """Whether tensors can go to a C kernel: on the CPU, float32 or float64 alike, no
    forward-mode tangent (the kernels have no jvp)."""
    import torch.autograd.forward_ad as fwad

    dtypes = {t.dtype for t in tensors if t.is_floating_point()}
    return enabled() and all(t.device.type == "cpu" for t in tensors) and len(dtypes) <= 1 \
        and dtypes <= {torch.float32, torch.float64} \
        and all(fwad.unpack_dual(t).tangent is None for t in tensors if t.is_floating_point())


def ptr(t: torch.Tensor) -> ctypes.c_void_p:
    """The data pointer of a contiguous tensor (the caller keeps the tensor alive)."""
    assert t.is_contiguous(), "native kernels take contiguous tensors"
    return ctypes.c_void_p(t.data_ptr())


def suffix(dtype: torch.dtype) -> str:
    """The kernels come in a float and a double variant: ``name_f32`` / ``name_f64``."""
    return "f64" if dtype == torch.float64 else "f32"
