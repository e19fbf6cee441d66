"""NMR's edge sweep (``sweep.sweep_gradient``) as one C kernel (renderer/native/nmr_sweep.c, with
nmr_sweep_runs.h and nmr_sweep_impl.h).

The torch path sums the out runs (a run per visible edge crossing, to the image border: about 50
pixels per pixel of the image at 512x512) as padded line slices, bucketed by length; the kernel
enumerates the same crossings and sums the same terms in one pass, with the runs of a line read
from one gathered copy of it, and skips the blocks of 16 pixels where no pixel can count (an
upper bound of A_P - g_P . ref below zero: the sign gating, checked a block at a time).

Used on the CPU when the kernel compiled (``renderer.native``); the torch path stays for CUDA,
``DRD_NATIVE=0`` and a failed allocation in the kernel. tests/test_nmr_native.py compares them.
"""
from __future__ import annotations

import ctypes
import threading
from typing import Optional

import torch

from .. import native

_I64, _P = ctypes.c_int64, ctypes.c_void_p
_declared: set[str] = set()
# The kernel's workspace, kept between calls: fresh pages cost about 1.3 us each, more than the
# sums themselves at 512x512 (~8000 pages a call). One caller at a time uses it (the others let
# the kernel allocate); it grows to the largest size asked for, at most MAX_KEPT_WORKSPACE.
MAX_KEPT_WORKSPACE = 256 << 20
_workspace_lock = threading.Lock()
_workspace: list[Optional[torch.Tensor]] = [None]


def _kernel(lib: ctypes.CDLL, suf: str):
    f = getattr(lib, f"nmr_sweep_{suf}")
    if suf not in _declared:
        # s, num_faces, tri, face_map, c0, image0, grad0, c1, image1, grad1, eps, num_swept, swept,
        # out, work, work_bytes, work_need
        f.restype = ctypes.c_int
        f.argtypes = [_I64, _I64, _P, _P, _I64, _P, _P, _I64, _P, _P, ctypes.c_double, _I64, _P, _P, _P, _I64,
                      ctypes.POINTER(ctypes.c_int64)]
        _declared.add(suf)
    return f


def native_sweep_gradient(tri: torch.Tensor, face_map: torch.Tensor, image: torch.Tensor, grad: torch.Tensor,
                          eps: float, faces: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
    """``sweep.sweep_gradient`` in C (same arguments), or None where the kernel cannot be used
    (not on the CPU, not float32/float64, no compiler, DRD_NATIVE=0, out of memory)."""
    return native_sweep_parts(tri, face_map, [image], [grad], eps, faces)


def native_sweep_parts(tri: torch.Tensor, face_map: torch.Tensor, images: list[torch.Tensor],
                       grads: list[torch.Tensor], eps: float,
                       faces: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
    """``native_sweep_gradient`` of the image ``torch.cat(images, -1)`` and its gradient
    ``torch.cat(grads, -1)``, without making them: one or two parts, (S, S, C_k) or (S, S) each
    (rgb and alpha, as the renderer has them). -> (F, 3, 2) or None."""
    if not 1 <= len(images) <= 2 or len(grads) != len(images):
        return None
    if not native.usable(tri.detach(), *images, *grads) or face_map.device.type != "cpu":
        return None
    lib = native.library("nmr_sweep")
    if lib is None:
        return None
    s = face_map.shape[0]
    dtype = images[0].dtype
    parts = []
    for image, grad in zip(images, grads):
        image = image if image.dim() == 3 else image[..., None]
        parts.append((image.shape[-1], image.contiguous(), grad.to(dtype).reshape(image.shape).contiguous()))
    if len(parts) == 1:
        parts.append((0, parts[0][1], parts[0][2]))           # no second part: valid pointers, unused
    tri_c = tri.detach().to(dtype).contiguous()
    fmap = face_map.to(torch.int64).contiguous()
    out = torch.zeros(tri.shape[0] * 6, dtype=dtype)
    swept = None if faces is None else torch.unique(faces.to(torch.int64)).contiguous()
    if swept is not None:
        swept = swept[(swept >= 0) & (swept < tri.shape[0])].contiguous()
    kernel = _kernel(lib, native.suffix(dtype))
    args = (s, tri.shape[0], native.ptr(tri_c), native.ptr(fmap),
            *(x for c, image, grad in parts for x in (c, native.ptr(image), native.ptr(grad))),
            float(eps), 0 if swept is None else swept.numel(), None if swept is None else native.ptr(swept),
            native.ptr(out))
    need = ctypes.c_int64(0)
    if _workspace_lock.acquire(blocking=False):
        try:
            work = _workspace[0]
            status = kernel(*args, None if work is None else native.ptr(work), 0 if work is None else work.numel(),
                            ctypes.byref(need))
            if need.value > (0 if work is None else work.numel()) and need.value <= MAX_KEPT_WORKSPACE:
                _workspace[0] = torch.empty(need.value, dtype=torch.uint8)    # for the next call
        finally:
            _workspace_lock.release()
    else:
        status = kernel(*args, None, 0, ctypes.byref(need))
    if status != 0:
        return None
    return out.reshape(-1, 3, 2)
