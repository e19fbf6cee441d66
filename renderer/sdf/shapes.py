"""Signed distance functions as a Scene shape: analytic primitives with CSG, a sampled grid, or a
user's ``torch.nn.Module``.

Sign convention: f < 0 inside, f > 0 outside, the surface is f = 0 (Quilez's primitives, DIST,
DVR with its occupancy shifted). Every source evaluates through ``evaluate(sdf, points)``:

- primitives (``SDF.primitives`` + the flat parameter tensor ``SDF.params``): sphere (cx, cy, cz,
  radius), box (cx, cy, cz, hx, hy, hz: half extents), torus around the y axis (cx, cy, cz,
  major, minor). Each primitive after the first is combined with the result so far by its ``op``:
  union min(a, b), smooth_union (Quilez's polynomial smooth minimum with width ``blend``),
  intersect max(a, b), subtract max(a, -b). ``params`` may require grad: every scalar is a
  differentiable parameter, named "sdf:I:<field>" (``param_names``).
- grid (``SDF.grid`` (Dx, Dy, Dz) values at the nodes of a box ``bounds`` (2, 3) lo/hi, node
  (i, j, k) at lo + (i, j, k) * (hi - lo) / (D - 1)); trilinear between nodes; outside the box,
  the value at the nearest box point plus the distance to it.
- module (``SDF.module``: any ``torch.nn.Module`` mapping (N, 3) -> (N,) or (N, 1); its own
  parameters are the differentiable ones; ``bound_radius`` bounds the surface, centred at 0).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Optional, Sequence

import torch

from ..shapes import register_shape

# The fields of each primitive type, in the order they sit in ``SDF.params``.
PRIMITIVE_FIELDS = {
    "sphere": ("cx", "cy", "cz", "radius"),
    "box": ("cx", "cy", "cz", "hx", "hy", "hz"),
    "torus": ("cx", "cy", "cz", "major", "minor"),
}
PRIMITIVE_CODES = {"sphere": 0, "box": 1, "torus": 2}        # also the GL uniforms' codes
OPS = ("union", "smooth_union", "intersect", "subtract")
OP_CODES = {op: i for i, op in enumerate(OPS)}
# How far the bounding sphere reaches beyond the surface bound (world units): the soft
# silhouette needs rays that pass near the surface to be traced too.
BOUND_MARGIN = 0.05


@dataclass(frozen=True)
class Primitive:
    """How one analytic primitive enters the scene (its numbers live in ``SDF.params``).

    type: "sphere", "box" or "torus"; op: how it combines with the primitives before it (ignored
    for the first); blend: the smooth union's width k (world units); albedo: optional RGB, else
    the material's."""

    type: str
    op: str = "union"
    blend: float = 0.0
    albedo: Optional[tuple[float, float, float]] = None

    @property
    def fields(self) -> tuple[str, ...]:
        return PRIMITIVE_FIELDS[self.type]


@register_shape
@dataclass
class SDF:
    """A signed distance function (see the module docstring for the three sources).

    primitives: the analytic primitives, in order; params: (P,) float, their parameters
    concatenated (``param_offsets``); grid: (Dx, Dy, Dz) float node values; bounds: (2, 3) float
    lo/hi corners of the grid; module: an nn.Module (N, 3) -> (N,); module_values: None (the
    module's own parameters), or (M,) all its parameters flattened in ``named_parameters``
    order, used in their place (``torch.func.functional_call``), so the analysis tools can
    differentiate a module as one tensor (``with_module_values``); bound_radius: radius of a
    sphere at the origin that contains a module's surface; name: what the user loaded.
    """

    kind: ClassVar[str] = "sdf"
    element_name: ClassVar[str] = "parameter"

    primitives: tuple[Primitive, ...] = ()
    params: Optional[torch.Tensor] = None
    grid: Optional[torch.Tensor] = None
    bounds: Optional[torch.Tensor] = None
    module: Optional[torch.nn.Module] = None
    module_values: Optional[torch.Tensor] = None
    bound_radius: float = 1.0
    name: str = "sdf"
    warnings: list = field(default_factory=list)

    def __post_init__(self) -> None:
        sources = [bool(self.primitives), self.grid is not None, self.module is not None]
        if sum(sources) != 1:
            raise ValueError("an SDF has exactly one source: primitives, a grid or a module")
        if self.primitives:
            for p in self.primitives:
                if p.type not in PRIMITIVE_FIELDS:
                    raise ValueError(f"unknown SDF primitive {p.type!r}; expected one of "
                                     f"{', '.join(PRIMITIVE_FIELDS)}")
                if p.op not in OPS:
                    raise ValueError(f"unknown SDF operation {p.op!r}; expected one of {', '.join(OPS)}")
            wanted = sum(len(p.fields) for p in self.primitives)
            if self.params is None or tuple(self.params.shape) != (wanted,):
                got = None if self.params is None else tuple(self.params.shape)
                raise ValueError(f"the primitives need {wanted} parameters, got shape {got}")
        if self.grid is not None:
            if self.grid.dim() != 3 or min(self.grid.shape) < 2:
                raise ValueError(f"an SDF grid is (Dx, Dy, Dz) with every D >= 2, got {tuple(self.grid.shape)}")
            if self.bounds is None or tuple(self.bounds.shape) != (2, 3):
                raise ValueError("an SDF grid needs bounds of shape (2, 3) (lo and hi corners)")

    # ---------------------------------------------------------------- the Shape protocol
    @property
    def source(self) -> str:
        """"primitives", "grid" or "module"."""
        return "primitives" if self.primitives else ("grid" if self.grid is not None else "module")

    @property
    def num_elements(self) -> int:
        """The differentiable scalars: primitive parameters, grid nodes or module weights."""
        if self.source == "primitives":
            return int(self.params.numel())
        if self.source == "grid":
            return int(self.grid.numel())
        return sum(p.numel() for p in self.module.parameters())

    @property
    def dtype(self) -> torch.dtype:
        if self.source == "module":
            first = next(iter(self.module.parameters()), None)
            return torch.float32 if first is None else first.dtype
        return (self.params if self.source == "primitives" else self.grid).dtype

    @property
    def device(self) -> torch.device:
        if self.source == "module":
            first = next(iter(self.module.parameters()), None)
            return torch.device("cpu") if first is None else first.device
        return (self.params if self.source == "primitives" else self.grid).device

    def to(self, device: torch.device | str) -> "SDF":
        if self.source == "module":
            return replace(self, module=self.module.to(device))
        moved = {k: getattr(self, k).to(device) for k in ("params", "grid", "bounds")
                 if getattr(self, k) is not None}
        return replace(self, **moved)

    def with_params(self, params: torch.Tensor) -> "SDF":
        """The same primitives with ``params`` (P,) (which may carry autograd history)."""
        return replace(self, params=params)

    def with_grid(self, grid: torch.Tensor) -> "SDF":
        return replace(self, grid=grid)

    def module_flat(self) -> torch.Tensor:
        """(M,) the module's parameters flattened (``module_values`` when set), detached."""
        if self.module_values is not None:
            return self.module_values.detach().clone()
        params = [p.detach().reshape(-1) for p in self.module.parameters()]
        return torch.cat(params) if params else torch.zeros(0)

    def with_module_values(self, values: torch.Tensor) -> "SDF":
        """The module evaluated with ``values`` (M,) as its parameters (keeps their graph)."""
        return replace(self, module_values=values)

    # ---------------------------------------------------------------- parameter names
    def param_offsets(self) -> list[int]:
        """Where each primitive's parameters start in ``params``."""
        offsets, at = [], 0
        for p in self.primitives:
            offsets.append(at)
            at += len(p.fields)
        return offsets

    def param_names(self) -> list[str]:
        """"sdf:I:<field>" for every entry of ``params``, in order (e.g. "sdf:0:radius")."""
        return [f"sdf:{i}:{name}" for i, p in enumerate(self.primitives) for name in p.fields]

    def param_index(self, name: str) -> int:
        """The position of "sdf:I:<field>" in ``params``; ValueError saying what exists."""
        parts = name.split(":")
        if len(parts) != 3 or parts[0] != "sdf" or not parts[1].isdigit():
            raise ValueError(f"an SDF parameter is named sdf:I:<field>, got {name!r}")
        i = int(parts[1])
        if not self.primitives:
            raise ValueError(f"parameter {name!r}: this SDF is a {self.source}, it has no primitives")
        if i >= len(self.primitives):
            raise ValueError(f"parameter {name!r}: the SDF has {len(self.primitives)} primitives "
                             f"(0..{len(self.primitives) - 1})")
        fields_ = self.primitives[i].fields
        if parts[2] not in fields_:
            raise ValueError(f"parameter {name!r}: a {self.primitives[i].type} has "
                             f"{', '.join(fields_)}")
        return self.param_offsets()[i] + fields_.index(parts[2])

    # ---------------------------------------------------------------- bounds
    def bounding_sphere(self) -> tuple[list[float], float]:
        """(centre, radius) of a sphere containing the surface plus BOUND_MARGIN (floats)."""
        if self.source == "grid":
            lo, hi = self.bounds.detach().double().cpu().unbind(0)
            centre = (lo + hi) / 2
            return centre.tolist(), float((hi - lo).norm() / 2) + BOUND_MARGIN
        if self.source == "module":
            return [0.0, 0.0, 0.0], float(self.bound_radius) + BOUND_MARGIN
        values = self.params.detach().double().cpu()
        spheres = []
        for p, at in zip(self.primitives, self.param_offsets()):
            v = values[at:at + len(p.fields)]
            reach = {"sphere": lambda: v[3].abs(), "box": lambda: v[3:6].norm(),
                     "torus": lambda: v[3].abs() + v[4].abs()}[p.type]()
            spheres.append((v[:3], float(reach) + p.blend))
        centre = torch.stack([c for c, _ in spheres]).mean(0)
        radius = max(float((c - centre).norm()) + r for c, r in spheres)
        return centre.tolist(), radius + BOUND_MARGIN


def make_sdf(primitives: Sequence[tuple[Primitive, Sequence[float]]], name: str = "sdf",
             dtype: torch.dtype = torch.float32) -> SDF:
    """An analytic SDF from (Primitive, its parameter values) pairs."""
    prims = tuple(p for p, _ in primitives)
    values = [float(x) for _, vals in primitives for x in vals]
    return SDF(primitives=prims, params=torch.tensor(values, dtype=dtype), name=name)


def module_sdf(module: torch.nn.Module, bound_radius: float = 1.0, name: str = "module") -> SDF:
    """An SDF given by a user's network: ``module`` maps (N, 3) points to (N,) (or (N, 1))
    signed distances, negative inside; its surface lies within ``bound_radius`` of the origin.
    Its parameters are the differentiable ones (gradients land in ``module.parameters()``)."""
    return SDF(module=module, bound_radius=float(bound_radius), name=name)


# -------------------------------------------------------------------------- evaluation

def sphere_sdf(p: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """|p - c| - r. p: (N, 3); v: (4,) cx cy cz r -> (N,)."""
    return (p - v[:3]).norm(dim=-1) - v[3]


def box_sdf(p: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """q = |p - c| - h; |max(q, 0)| + min(max(q_x, q_y, q_z), 0). v: (6,) c, h -> (N,)."""
    q = (p - v[:3]).abs() - v[3:6]
    qx, qy, qz = q.unbind(-1)
    ox, oy, oz = qx.clamp_min(0), qy.clamp_min(0), qz.clamp_min(0)
    squared = ox * ox + oy * oy + oz * oz
    # the norm of an all-zero row has an undefined derivative; inside rows add 0 either way
    out_len = torch.where(squared > 0, squared.clamp_min(1e-30).sqrt(), squared)
    return out_len + torch.maximum(torch.maximum(qx, qy), qz).clamp_max(0)


def torus_sdf(p: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Torus around the y axis: q = (|p_xz| - R, p_y); |q| - r. v: (5,) c, R, r -> (N,)."""
    d = p - v[:3]
    ring = (d[:, 0] ** 2 + d[:, 2] ** 2).clamp_min(1e-30).sqrt() - v[3]
    return (ring ** 2 + d[:, 1] ** 2).clamp_min(1e-30).sqrt() - v[4]


PRIMITIVE_FUNCTIONS = {"sphere": sphere_sdf, "box": box_sdf, "torus": torus_sdf}


def combine(op: str, a: torch.Tensor, b: torch.Tensor, blend: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(the combined distance, the weight of b's colour) of a (so far) and b (the new one)."""
    if op == "union":
        return torch.minimum(a, b), (b < a).to(a.dtype)
    if op == "intersect":
        return torch.maximum(a, b), (b > a).to(a.dtype)
    if op == "subtract":
        return torch.maximum(a, -b), torch.zeros_like(a)
    # Quilez's polynomial smooth minimum: h = clamp(0.5 + 0.5 (a - b) / k, 0, 1),
    # d = mix(a, b, h) - k h (1 - h); the colour mixes with the same h.
    k = max(float(blend), 1e-12)
    h = (0.5 + 0.5 * (a - b) / k).clamp(0, 1)
    return a + (b - a) * h - k * h * (1 - h), h


def grid_sdf(points: torch.Tensor, grid: torch.Tensor, bounds: torch.Tensor) -> torch.Tensor:
    """Trilinear interpolation of node values, plus the distance to the box outside it.

    points: (N, 3); grid: (Dx, Dy, Dz); bounds: (2, 3) -> (N,), differentiable in all three.
    """
    lo, hi = bounds[0].to(points.dtype), bounds[1].to(points.dtype)
    inside = torch.maximum(torch.minimum(points, hi), lo)
    outside = (points - inside).pow(2).sum(-1)
    dims = torch.tensor(grid.shape, device=points.device)
    u = (inside - lo) / (hi - lo) * (dims - 1).to(points.dtype)
    i0 = u.detach().floor().long()
    i0 = torch.minimum(i0.clamp_min(0), dims - 2)
    w = u - i0.to(u.dtype)                                        # (N, 3) in [0, 1]
    flat = grid.reshape(-1).to(points.dtype)
    sy, sz = grid.shape[1] * grid.shape[2], grid.shape[2]
    base = i0[:, 0] * sy + i0[:, 1] * sz + i0[:, 2]
    value = torch.zeros_like(w[:, 0])
    for dx in (0, 1):
        wx = w[:, 0] if dx else 1 - w[:, 0]
        for dy in (0, 1):
            wy = w[:, 1] if dy else 1 - w[:, 1]
            for dz in (0, 1):
                wz = w[:, 2] if dz else 1 - w[:, 2]
                value = value + wx * wy * wz * flat[base + dx * sy + dy * sz + dz]
    far = torch.where(outside > 0, outside.clamp_min(1e-30).sqrt(), torch.zeros_like(outside))
    return value + far


def _unflatten(module: torch.nn.Module, values: torch.Tensor) -> dict[str, torch.Tensor]:
    out, at = {}, 0
    for name, p in module.named_parameters():
        out[name] = values[at:at + p.numel()].reshape(p.shape).to(p.dtype)
        at += p.numel()
    return out


def evaluate(sdf: SDF, points: torch.Tensor, params: Optional[torch.Tensor] = None) -> torch.Tensor:
    """f at ``points`` (N, 3) -> (N,) in the points' dtype. params: replaces ``sdf.params``
    (e.g. detached, to evaluate without a graph to the parameters)."""
    if sdf.source == "grid":
        return grid_sdf(points, sdf.grid, sdf.bounds)
    if sdf.source == "module":
        if sdf.module_values is None:
            out = sdf.module(points)
        else:
            out = torch.func.functional_call(sdf.module, _unflatten(sdf.module, sdf.module_values), (points,))
        return out.reshape(points.shape[0]).to(points.dtype)
    return evaluate_with_albedo(sdf, points, None, params)[0]


def evaluate_with_albedo(sdf: SDF, points: torch.Tensor, default_albedo: Optional[torch.Tensor],
                         params: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """(f (N,), albedo (N, 3) or None when ``default_albedo`` is None). A primitive without its
    own albedo has ``default_albedo`` (3,); the colours combine with the distances (the union's
    nearer primitive, the smooth union's mix, the subtracted one never)."""
    if sdf.source != "primitives":
        f = evaluate(sdf, points)
        colour = None if default_albedo is None else default_albedo.to(points.dtype).expand(len(points), 3)
        return f, colour
    values = (sdf.params if params is None else params).to(points.dtype)
    dist, colour = None, None
    for p, at in zip(sdf.primitives, sdf.param_offsets()):
        d = PRIMITIVE_FUNCTIONS[p.type](points, values[at:at + len(p.fields)])
        c = None
        if default_albedo is not None:
            c = torch.tensor(p.albedo, dtype=points.dtype, device=points.device) \
                if p.albedo is not None else default_albedo.to(points.dtype)
        if dist is None:
            dist = d
            colour = None if c is None else c.expand(len(points), 3)
            continue
        dist, w = combine(p.op, dist, d, p.blend)
        if c is not None:
            colour = colour + (c - colour) * w[:, None]
    return dist, colour
