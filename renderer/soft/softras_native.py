"""SoftRas on the CPU as three C-backed autograd nodes (renderer/native/softras_impl.h).

- ``_SoftPairsFunction``, pass 1 over every (pixel, face) pair. Over every pair SoftRas needs
  only a few numbers: the coverage logit x, log(1 - D) summed per pixel, and the colour
  softmax's maximum, denominator and weighted depth. In torch each is a dozen elementwise ops
  over every pair, each a pass over memory; the kernel forms one pair at a time in registers. It
  hands back the per-pixel sums and the pairs whose normalised colour weight reaches
  ``weight_floor`` (the ones ``softras.py`` shades), and keeps each kept pair's closest-point
  data so that its backward (the closest-point rule of ``geometry._TileGeometry``) is one pass
  over those records.
- ``_ColourFunction``: the shaded pairs' perspective-correct attributes and softmax weights.
- ``_AggregateFunction``: the softmax's numerator and denominator per pixel.

The shading between the last two stays torch (renderer/shading.py). Under ``create_graph`` each
node's backward recomputes through torch (double backward). Used on the CPU when the kernels
compiled (``renderer.native``) and no forward-mode tangent is present; the torch tile path
(``soft_pairs``) stays for CUDA, forward mode, ``DRD_NATIVE=0`` and renders whose pixel boxes
exceed ``MAX_RECORDED_PAIRS``. tests/test_soft_native.py compares the two paths.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Optional

import torch

from .. import native
from ..camera import pixel_centre_ndc
from .geometry import derived_rows, pair_geometry, perspective_weights, shaded_barycentrics
from .soft_pairs import soft_tile
from .tiles import TileChunk

# The kernel records every pair it forms (30-50 bytes each); above this many the render takes the
# torch tile path, which bounds its memory by chunks
MAX_RECORDED_PAIRS = 12_000_000
_I64, _P = ctypes.c_int64, ctypes.c_void_p
_ROWS = ctypes.POINTER(ctypes.c_void_p)          # an array of row pointers


@dataclass
class FaceList:
    """The faces a render forms pairs for, ascending by face id: face, c0, r0, w, h (n,) int64
    (first column and row of the face's pixel box, its width and height); is_color (n,) uint8."""

    face: torch.Tensor
    c0: torch.Tensor
    r0: torch.Tensor
    w: torch.Tensor
    h: torch.Tensor
    is_color: torch.Tensor
    chunks: list                        # the tile plan it came from (the torch recomputation's)

    @property
    def elements(self) -> int:
        """Pairs the kernel forms (pixel boxes, no padding)."""
        return int((self.w * self.h).sum())


def face_list(chunks: list[tuple[TileChunk, bool]]) -> FaceList:
    """The tile plan's faces and pixel boxes as one list sorted by face id."""
    cat = [torch.cat([getattr(c, k) for c, _ in chunks]) for k in ("faces", "c0", "r0", "w", "h")]
    color = torch.cat([torch.full((c.faces.numel(),), int(is_color), dtype=torch.uint8) for c, is_color in chunks])
    order = torch.argsort(cat[0])
    face, c0, r0, w, h = (t[order].contiguous() for t in cat)
    return FaceList(face, c0, r0, w, h, color[order].contiguous(), chunks)


# Colour-table rows per corner the interpolation backward keeps on its stack (MAX_ATTRS in C)
MAX_ATTRS = 64


def kernels(geo: torch.Tensor, chunks: list, num_attrs: int = 0) -> Optional[ctypes.CDLL]:
    """The compiled kernels when this render can use them, else None (take the torch path)."""
    if not chunks or num_attrs > MAX_ATTRS or not native.usable(geo):
        return None
    return native.library("softras")


_DECLARED: dict = {}


def _declare(lib: ctypes.CDLL, suf: str):
    """name -> the kernel ``name_suf`` of ``lib``, its ctypes signature set once."""
    if (id(lib), suf) not in _DECLARED:
        _DECLARED[id(lib), suf] = _signatures(lib, suf)
    return _DECLARED[id(lib), suf]


def _signatures(lib: ctypes.CDLL, suf: str):
    real = ctypes.c_float if suf == "f32" else ctypes.c_double
    signatures = {
        "soft_forward": (_I64, [_P, _I64, _I64, _P, _P, _P, _P, _P, _P, _I64, _P, _P, real, real, real, real,
                                _P, _P, _I64, _P, _P, _P, _P, _P, _P, _P, _P, _P]),
        "soft_softmax": (None, [_I64, _P, _P, _P, _P, _P, _P, _P, real, _P, _P, _P]),
        "soft_select": (_I64, [_I64, _P, _P, _P, _P, _P, real, _P, _P, _P]),
        "soft_backward": (None, [_I64, _I64, _P, _P, _P, _P, _P, _P, _P, _P, real, _P, _P, _P]),
        "soft_aggregate": (None, [_I64, _I64, _P, _P, _P, _P, _P]),
        "soft_aggregate_backward": (None, [_I64, _I64, _P, _P, _P, _P, _P, _P, _P]),
        "soft_interpolate": (None, [_P, _I64, _I64, _P, _P, _I64, _P, _P, _P, _I64, real, real, _P, _P, real,
                                    _P, _P, _ROWS]),
        "soft_interpolate_backward": (None, [_P, _I64, _I64, _P, _P, _I64, _P, _P, _P, _I64, real, _P, _P,
                                             real, _P, _ROWS, _P, _P, _P]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, f"{name}_{suf}")
        fn.restype, fn.argtypes = restype, argtypes
    return lambda name: getattr(lib, f"{name}_{suf}")


def _box_args(fl: FaceList):
    return [native.ptr(t) for t in (fl.face, fl.c0, fl.r0, fl.w, fl.h, fl.is_color)]


def _opt(t: Optional[torch.Tensor]):
    return None if t is None else native.ptr(t)


@dataclass
class SoftPairs:
    """What pass 1 hands to the shading: per pixel (S*S + 1 slots, the last one spare)
    log_uncovered (differentiable), shift (softmax maximum), denom and zsum (softmax denominator
    and weighted depth of all pairs), total (denom + background weight), dropped (normalised weight
    of the unshaded pairs); the shaded pairs, ascending by face: face, pix (M,) int64 and x (M,)
    their coverage logits (differentiable); num_kept: pairs within the cut-off."""

    log_uncovered: torch.Tensor
    x: torch.Tensor
    face: torch.Tensor
    pix: torch.Tensor
    shift: torch.Tensor
    denom: torch.Tensor
    zsum: torch.Tensor
    total: torch.Tensor
    dropped: torch.Tensor
    num_kept: int


class _SoftPairsFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, corners, geo, fl, lib, s, sigma, cutoff, gamma, floor, far, zrange, bg_depth):
        call = _declare(lib, native.suffix(geo.dtype))
        dtype, n = geo.dtype, s * s + 1
        log_unc = torch.zeros(n, dtype=dtype)
        shift = torch.full((n,), bg_depth, dtype=dtype)
        cap = int((fl.w * fl.h).sum())
        start = torch.empty(fl.face.numel() + 1, dtype=torch.int64)
        pix, edge = torch.empty(cap, dtype=torch.int32), torch.empty(cap, dtype=torch.uint8)
        x, t, dx, dy, z, zbar = (torch.empty(cap, dtype=dtype) for _ in range(6))
        cx, cy = pixel_centres(s, dtype)
        m = call("soft_forward")(native.ptr(geo), geo.shape[1], fl.face.numel(), *_box_args(fl), s, native.ptr(cx),
                                 native.ptr(cy), sigma, cutoff, far, zrange, native.ptr(log_unc), native.ptr(shift), cap,
                                 *(native.ptr(a) for a in (start, pix, x, edge, t, dx, dy, z, zbar)))
        assert m >= 0, "the kernel's pair record overflowed its capacity"
        e = torch.empty(m, dtype=dtype)
        denom, zsum = torch.zeros(n, dtype=dtype), torch.zeros(n, dtype=dtype)
        color = fl.is_color
        call("soft_softmax")(fl.face.numel(), native.ptr(color), native.ptr(start), native.ptr(pix), native.ptr(x),
                             native.ptr(z), native.ptr(zbar), native.ptr(shift), gamma, native.ptr(e),
                             native.ptr(denom), native.ptr(zsum))
        total = denom + torch.exp((bg_depth - shift) / gamma)
        selected, entry = torch.empty(m, dtype=torch.int64), torch.empty(m, dtype=torch.int64)
        dropped = torch.zeros(n, dtype=dtype)
        count = call("soft_select")(fl.face.numel(), native.ptr(color), native.ptr(start), native.ptr(pix),
                                    native.ptr(e), native.ptr(total), floor, native.ptr(selected),
                                    native.ptr(entry), native.ptr(dropped))
        selected = selected[:count]
        face = fl.face.index_select(0, entry[:count])
        sel_pix = pix.index_select(0, selected).long()
        ctx.save_for_backward(corners, geo, selected, sel_pix, face)
        ctx.records = (start, pix, x, edge, t, dx, dy)
        ctx.info = (fl, lib, s, sigma)
        ctx.set_materialize_grads(False)
        outs = (face, sel_pix, shift, denom, zsum, total, dropped)
        ctx.mark_non_differentiable(*outs)
        return (log_unc, x.index_select(0, selected), *outs, torch.tensor(m))

    @staticmethod
    def backward(ctx, g_log, g_x, *_):
        corners, geo, selected, sel_pix, sel_face = ctx.saved_tensors
        fl, lib, s, sigma = ctx.info
        if g_log is None and g_x is None:
            return (None,) * 12
        if torch.is_grad_enabled():
            grad = _recompute_backward(corners, geo, fl, s, sigma, sel_face, sel_pix, g_log, g_x)
            return (grad,) + (None,) * 11
        call = _declare(lib, native.suffix(geo.dtype))
        start, pix, x, edge, t, dx, dy = ctx.records
        g_rec = None
        if g_x is not None:
            g_rec = torch.zeros(int(start[-1]), dtype=geo.dtype).index_copy_(0, selected, g_x.contiguous())
        g_log = None if g_log is None else g_log.contiguous()
        grad = torch.zeros(6, geo.shape[1], dtype=geo.dtype)
        call("soft_backward")(geo.shape[1], fl.face.numel(), native.ptr(fl.face), native.ptr(start), native.ptr(pix),
                              native.ptr(x), native.ptr(edge), native.ptr(t), native.ptr(dx), native.ptr(dy), sigma,
                              _opt(g_log), _opt(g_rec), native.ptr(grad))
        return (grad,) + (None,) * 11


def pixel_centres(s: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(S,) NDC x of each column and (S,) y of each row, from the one pixel-centre convention."""
    idx = torch.arange(s, dtype=dtype)
    return pixel_centre_ndc(idx, idx, s)


def _row_pointers(groups: list[Optional[torch.Tensor]], sizes: tuple[int, ...]):
    """A C array of row pointers over attribute groups (rows, M) (None: NULL rows)."""
    rows = []
    for t, size in zip(groups, sizes):
        if t is None:
            rows += [None] * size
        else:
            step = t.stride(0) * t.element_size()
            rows += [t.data_ptr() + r * step for r in range(size)]
    return (ctypes.c_void_p * max(1, len(rows)))(*rows)


class _ColourFunction(torch.autograd.Function):
    """The shaded pairs' softmax weights e (M,) and perspective-correct attributes, one (rows, M)
    tensor per attribute group (``sizes``: rows per group, summing to the table's C), from geo
    (21, F), the colour table (3, C, F) and the pairs' coverage logits x (M,); backward in C,
    double backward through torch (``colour_torch``). Separate outputs per group spare autograd
    the zero-filled full-size gradient that slicing one (C, M) output would cost."""

    @staticmethod
    def forward(ctx, geo, table, x, face, pix, shift, lib, s, far, zrange, gamma, sizes):
        call = _declare(lib, native.suffix(geo.dtype))
        geo_v, table_v, x_v = geo.detach().contiguous(), table.detach().contiguous(), x.detach().contiguous()
        m, c = face.numel(), table.shape[1]
        e, sg = torch.empty(m, dtype=geo.dtype), torch.empty(m, dtype=geo.dtype)
        groups = [torch.empty(size, m, dtype=geo.dtype) for size in sizes]
        cx, cy = pixel_centres(s, geo.dtype)
        call("soft_interpolate")(native.ptr(geo_v), geo.shape[1], m, native.ptr(face), native.ptr(pix), s,
                                 native.ptr(cx), native.ptr(cy), native.ptr(table_v), c, far, zrange, native.ptr(x_v),
                                 native.ptr(shift), gamma, native.ptr(e), native.ptr(sg),
                                 _row_pointers(groups, sizes))
        ctx.save_for_backward(geo, table, x, face, pix, shift, e, sg)
        ctx.info = (lib, s, far, zrange, gamma, sizes)
        ctx.set_materialize_grads(False)
        return (e, *groups)

    @staticmethod
    def backward(ctx, g_e, *g_groups):
        geo, table, x, face, pix, shift, e, sg = ctx.saved_tensors
        lib, s, far, zrange, gamma, sizes = ctx.info
        none = (None,) * 9
        if torch.is_grad_enabled():
            # differentiate w.r.t. aliases: x itself depends on geo (pass 1), and a gradient
            # w.r.t. geo would also count the path through x, which g_x already carries
            inputs = tuple(t.view_as(t) for t in (geo, table, x))
            e_t, attrs = colour_torch(*inputs, face, pix, shift, s, far, zrange, gamma)
            outs = (e_t, *attrs.split(list(sizes)))
            pairs = [(o, g) for o, g in zip(outs, (g_e, *g_groups)) if g is not None]
            wanted = [t for t in inputs if t.requires_grad]
            grads = iter(torch.autograd.grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                                             create_graph=True, allow_unused=True))
            return (*(next(grads) if t.requires_grad else None for t in inputs), *none)
        call = _declare(lib, native.suffix(geo.dtype))
        grad_geo, grad_table, g_x = torch.zeros_like(geo), torch.zeros_like(table), torch.zeros_like(x)
        cx, cy = pixel_centres(s, geo.dtype)
        g_groups = [None if g is None else g.contiguous() for g in g_groups]
        call("soft_interpolate_backward")(
            native.ptr(geo.detach().contiguous()), geo.shape[1], face.numel(), native.ptr(face), native.ptr(pix), s,
            native.ptr(cx), native.ptr(cy), native.ptr(table.detach().contiguous()), table.shape[1], zrange,
            native.ptr(e), native.ptr(sg), gamma, _opt(None if g_e is None else g_e.contiguous()),
            _row_pointers(g_groups, sizes), native.ptr(g_x), native.ptr(grad_geo), native.ptr(grad_table))
        return (grad_geo, grad_table, g_x, *none)


class _AggregateFunction(torch.autograd.Function):
    """numer (3, n) = sum of e color and denom (n,) = sum of e over each pixel's shaded pairs;
    e (M,), color (3, M), pix (M,); backward in C, double backward through torch."""

    @staticmethod
    def forward(ctx, e, color, pix, n, lib):
        call = _declare(lib, native.suffix(e.dtype))
        e_v, color_v = e.detach().contiguous(), color.detach().contiguous()
        numer, denom = torch.zeros(3, n, dtype=e.dtype), torch.zeros(n, dtype=e.dtype)
        call("soft_aggregate")(e.numel(), n, native.ptr(pix), native.ptr(e_v), native.ptr(color_v),
                               native.ptr(numer), native.ptr(denom))
        ctx.save_for_backward(e, color, pix)
        ctx.info = (n, lib)
        ctx.set_materialize_grads(False)
        return numer, denom

    @staticmethod
    def backward(ctx, g_numer, g_denom):
        e, color, pix = ctx.saved_tensors
        n, lib = ctx.info
        if torch.is_grad_enabled():
            ee, cc = e.view_as(e), color.view_as(color)
            numer = torch.zeros(3, n, dtype=e.dtype).index_add(1, pix, ee * cc)
            denom = torch.zeros(n, dtype=e.dtype).index_add(0, pix, ee)
            pairs = [(o, g) for o, g in ((numer, g_numer), (denom, g_denom)) if g is not None and o.requires_grad]
            wanted = [t for t in (ee, cc) if t.requires_grad]
            grads = iter(torch.autograd.grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                                             create_graph=True, allow_unused=True) if pairs and wanted else ())
            return (*(next(grads, None) if t.requires_grad else None for t in (ee, cc)), None, None, None)
        call = _declare(lib, native.suffix(e.dtype))
        g_e, g_color = torch.empty_like(e), torch.empty(3, e.numel(), dtype=e.dtype)
        call("soft_aggregate_backward")(e.numel(), n, native.ptr(pix), native.ptr(e.detach().contiguous()),
                                        native.ptr(color.detach().contiguous()),
                                        _opt(None if g_numer is None else g_numer.contiguous()),
                                        _opt(None if g_denom is None else g_denom.contiguous()),
                                        native.ptr(g_e), native.ptr(g_color))
        return g_e, g_color, None, None, None


def aggregate_native(lib, e: torch.Tensor, color: torch.Tensor, pix: torch.Tensor, n: int):
    """e (M,), color (3, M), pix (M,) int64 -> numer (3, n), denom (n,): the colour softmax's sums."""
    return _AggregateFunction.apply(e, color, pix.contiguous(), n, lib)


def colour_torch(geo, table, x, face, pix, shift, s, far, zrange, gamma):
    """``_ColourFunction``'s values through torch ops (its double backward)."""
    rows = geo.index_select(1, face)
    bary = shaded_barycentrics(pix, rows[:12].unbind(0), s)
    weights, z = perspective_weights(bary, rows[18:21], clip=True)
    t = table.index_select(2, face)
    attrs = torch.addcmul(torch.addcmul(weights[0] * t[0], weights[1], t[1]), weights[2], t[2])
    e = torch.sigmoid(x) * torch.exp(((far - z) / zrange - shift[pix]) / gamma)
    return e, attrs


def colour_native(lib, geo: torch.Tensor, table: torch.Tensor, x: torch.Tensor, face: torch.Tensor,
                  pix: torch.Tensor, shift: torch.Tensor, s: int, far: float, zrange: float, gamma: float,
                  sizes: tuple[int, ...]):
    """geo (21, F), table (3, C, F), the pairs' coverage logits x, face and flat pixel (M,), the
    per-pixel softmax maximum shift -> e (M,) and the attributes as one (rows, M) tensor per
    group of ``sizes`` rows (summing to C), differentiable in geo, table and x."""
    out = _ColourFunction.apply(geo, table, x, face.contiguous(), pix.contiguous(), shift.contiguous(), lib, s,
                                far, zrange, gamma, tuple(sizes))
    return out[0], list(out[1:])


def _recompute_backward(corners, geo, fl, s, sigma, sel_face, pix, g_log, g_x):
    """Double backward: the same derivative through torch's differentiable tile path, so the
    returned gradient is itself differentiable in the corners."""
    with torch.enable_grad():
        full = torch.cat([corners, derived_rows(corners), geo[18:21]])
        outs, grads = [], []
        if g_log is not None:
            total = 0
            for chunk, _ in fl.chunks:
                tile = soft_tile(chunk, full.index_select(1, chunk.faces), s, sigma, fused=False, with_bary=False)
                total = total + tile.log_uncovered(s * s + 1)
            outs.append(total)
            grads.append(g_log)
        if g_x is not None:
            rows = full.index_select(1, sel_face)
            col = torch.remainder(pix, s).to(geo.dtype)
            row = torch.div(pix, s, rounding_mode="floor").to(geo.dtype)
            pxs, pys = pixel_centre_ndc(col, row, s)
            d2, inside, _ = pair_geometry(pxs, pys, rows[:18], with_bary=False)
            outs.append(d2 * ((inside.to(geo.dtype) * 2 - 1) / sigma))
            grads.append(g_x)
        (grad,) = torch.autograd.grad(outs, corners, grads, create_graph=True)
    return grad


def soft_pairs_native(lib: ctypes.CDLL, geo: torch.Tensor, fl: FaceList, s: int, sigma: float, cutoff: float,
                      gamma: float, floor: float, far: float, zrange: float, bg_depth: float) -> SoftPairs:
    """Pass 1 in C. geo: (21, F) ``FaceTables.geo`` (its corner rows carry the gradient)."""
    values = geo.detach().contiguous()
    out = _SoftPairsFunction.apply(geo[:6], values, fl, lib, s, sigma, cutoff, gamma, floor, far, zrange,
                                   bg_depth)
    log_unc, x, face, pix, shift, denom, zsum, total, dropped, kept = out
    return SoftPairs(log_unc, x, face, pix, shift, denom, zsum, total, dropped, int(kept))
