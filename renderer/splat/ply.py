"""PLY files of splats: the 3D Gaussian splatting layout (read and written) and plain vertex-only
point clouds (read, turned into splats by a documented size rule).

3DGS layout (one ``vertex`` element, float32 properties, as 3DGS's ``save_ply`` writes it):
``x y z nx ny nz f_dc_0..2 f_rest_0..(3(K-1)-1) opacity scale_0..2 rot_0..3``, with the opacity
as a logit, the scales as logs, the quaternion in wxyz order and the higher SH coefficients
channel-major (f_rest_0..K-2 are red's bands 1.., then green's, then blue's).

A PLY with faces is a mesh and is left to the mesh loader; one with only vertices is a point
cloud or, with the 3DGS properties, a Gaussian cloud. Every broken file raises a
``SplatLoadError`` subclass whose one-line message names the file and the problem.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import torch

from ..errors import UserError
from .cloud import GaussianCloud, sh_coefficient_count, sh_degree_of, rgb_to_sh_dc

PathLike = Union[str, Path]
GAUSSIAN_MARKERS = ("f_dc_0", "scale_0", "rot_0", "opacity")
PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
             "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
             "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}
MAX_HEADER_BYTES = 1 << 16
# Point clouds become splats with this opacity; their size is the 3DGS initial rule (see
# ``point_cloud_scales``), surfels (with normals) are this much thinner along the normal.
POINT_OPACITY = 0.9
SURFEL_THICKNESS = 0.1
POINT_DEFAULT_COLOR = 0.7


class SplatLoadError(UserError, ValueError):
    """A splat / point-cloud file could not be loaded; the message names the file."""

    def __init__(self, path: PathLike, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"Cannot load splats '{self.path}': {reason}")


class SplatHeaderError(SplatLoadError):
    """Not a PLY file, or a header this reader does not understand."""


class SplatPropertyError(SplatLoadError):
    """The 3DGS properties are missing, misnamed or of the wrong count."""


class SplatTruncatedError(SplatLoadError):
    """The file ends before the data its header announces."""


class SplatNonFiniteError(SplatLoadError):
    """Some values are NaN or infinite."""


class SplatScaleError(SplatLoadError):
    """Some scales are zero, negative or infinite after exp (a splat with no extent)."""


@dataclass
class PlyHeader:
    """format ("ascii", "binary_little_endian", "binary_big_endian"); elements: [(name, count,
    [(property name, numpy type or "list")])]; data_offset: first byte after the header."""

    format: str
    elements: list
    data_offset: int

    def element(self, name: str):
        return next((e for e in self.elements if e[0] == name), None)

    def vertex_properties(self) -> list[str]:
        vertex = self.element("vertex")
        return [] if vertex is None else [p for p, _ in vertex[2]]

    def face_count(self) -> int:
        return sum(e[1] for e in self.elements if e[0] in ("face", "tristrips"))


def read_header(path: Path) -> PlyHeader:
    """Parse a PLY header; SplatHeaderError when it is not one."""
    with open(path, "rb") as f:
        head = f.read(MAX_HEADER_BYTES)
    if not head.startswith(b"ply"):
        raise SplatHeaderError(path, "the file does not start with 'ply' (not a PLY file)")
    end = re.search(rb"end_header\r?\n", head)
    if end is None:
        raise SplatHeaderError(path, "the PLY header has no end_header line (truncated or not a PLY file)")
    fmt, elements = None, []
    for raw in head[:end.start()].decode("ascii", "replace").splitlines()[1:]:
        words = raw.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format" and len(words) >= 2:
            fmt = words[1]
        elif words[0] == "element" and len(words) == 3 and words[2].isdigit():
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property" and elements:
            if words[1] == "list":
                elements[-1][2].append((words[-1], "list"))
            elif len(words) == 3 and words[1] in PLY_TYPES:
                elements[-1][2].append((words[2], PLY_TYPES[words[1]]))
            else:
                raise SplatHeaderError(path, f"unknown PLY property line {raw.strip()!r}")
        else:
            raise SplatHeaderError(path, f"unexpected PLY header line {raw.strip()!r}")
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise SplatHeaderError(path, f"unknown PLY format {fmt!r}")
    return PlyHeader(fmt, elements, end.end())


def is_splat_ply(path: Path) -> bool:
    """The sniffer: a PLY whose vertex element carries 3DGS properties, or a vertex-only PLY
    (a point cloud). A PLY with faces is a mesh (False)."""
    header = read_header(Path(path))
    props = header.vertex_properties()
    if any(p in props for p in GAUSSIAN_MARKERS) or any(p.startswith("f_rest_") for p in props):
        return True
    return header.face_count() == 0 and all(p in props for p in "xyz")


def _read_vertices(path: Path, header: PlyHeader) -> dict[str, np.ndarray]:
    """The vertex element's properties as float64 arrays (N,) each. The vertex element must come
    first (the only element, or followed by empty ones)."""
    name, count, props = header.elements[0]
    if name != "vertex":
        raise SplatHeaderError(path, f"the first PLY element is {name!r}, expected 'vertex'")
    if any(t == "list" for _, t in props):
        raise SplatHeaderError(path, "the vertex element has a list property (not a point cloud)")
    if header.format == "ascii":
        text = path.read_bytes()[header.data_offset:].decode("ascii", "replace").split("\n")
        rows = [line.split() for line in text[:count]]
        if len(rows) < count or any(len(r) != len(props) for r in rows):
            raise SplatTruncatedError(path, f"the header announces {count} vertices of {len(props)} "
                                            "values, but the ASCII data is shorter or ragged")
        try:
            data = np.asarray(rows, dtype=np.float64).reshape(count, len(props))
        except ValueError:
            raise SplatHeaderError(path, "the ASCII vertex data has a value that is not a number") from None
        return {p: data[:, i] for i, (p, _) in enumerate(props)}
    endian = "<" if header.format == "binary_little_endian" else ">"
    dtype = np.dtype([(p, endian + t) for p, t in props])
    raw = path.read_bytes()[header.data_offset:]
    need = count * dtype.itemsize
    if len(raw) < need:
        raise SplatTruncatedError(path, f"the file is truncated: {count} vertices of {dtype.itemsize} "
                                        f"bytes need {need} bytes of data, it has {len(raw)}")
    table = np.frombuffer(raw[:need], dtype=dtype, count=count)
    return {p: table[p].astype(np.float64) for p, _ in props}


def _check_finite(path: Path, values: dict[str, np.ndarray]) -> None:
    bad = {k: int((~np.isfinite(v)).sum()) for k, v in values.items()}
    bad = {k: v for k, v in bad.items() if v}
    if bad:
        first = next(iter(bad))
        raise SplatNonFiniteError(path, f"{sum(bad.values())} value(s) are NaN or infinite "
                                        f"(first in property '{first}')")


def _normalisation(means: np.ndarray) -> tuple[np.ndarray, float]:
    """As meshes (DESIGN.md §2): centre of the bounding box to the origin, farthest mean at 1."""
    lo, hi = means.min(axis=0), means.max(axis=0)
    center = (lo + hi) / 2
    radius = float(np.linalg.norm(means - center, axis=1).max())
    return center, (1.0 / radius if radius > 0 else 1.0)


def load_splat_ply(path: PathLike) -> GaussianCloud:
    """A Gaussian cloud from a 3DGS PLY or a vertex-only point cloud (see the module docstring),
    normalised like meshes: means = (file - center) * scale, scales * scale."""
    path = Path(path)
    if not path.is_file():
        raise SplatLoadError(path, "the file does not exist" if not path.exists() else "not a file")
    header = read_header(path)
    if header.element("vertex") is None or header.element("vertex")[1] == 0:
        raise SplatPropertyError(path, "the file has no vertices")
    values = _read_vertices(path, header)
    for axis in "xyz":
        if axis not in values:
            raise SplatPropertyError(path, f"the vertex element has no '{axis}' property")
    _check_finite(path, values)
    props = header.vertex_properties()
    is_gaussian = any(p in props for p in GAUSSIAN_MARKERS) or any(p.startswith("f_rest_") for p in props)
    cloud = _gaussians(path, values, props) if is_gaussian else _points(path, values)
    return cloud


def _gaussians(path: Path, values: dict[str, np.ndarray], props: list[str]) -> GaussianCloud:
    required = ["f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
                "rot_0", "rot_1", "rot_2", "rot_3"]
    missing = [p for p in required if p not in values]
    if missing:
        raise SplatPropertyError(path, f"a 3DGS file needs {', '.join(missing)} (missing); found "
                                       f"{len(props)} vertex properties")
    rest = sorted((p for p in props if p.startswith("f_rest_")), key=lambda p: int(p[7:]) if p[7:].isdigit() else -1)
    if [p for p in rest] != [f"f_rest_{i}" for i in range(len(rest))]:
        raise SplatPropertyError(path, "the f_rest_* properties are not numbered 0, 1, 2, ... without gaps")
    if len(rest) % 3 or len(rest) // 3 + 1 not in (1, 4, 9, 16):
        raise SplatPropertyError(path, f"{len(rest)} f_rest properties; 3DGS writes 3 x (K - 1) = 0, "
                                       "9, 24 or 45 for SH degree 0..3")
    n = len(values["x"])
    k = len(rest) // 3 + 1
    means = np.stack([values[a] for a in "xyz"], axis=1)
    with np.errstate(over="ignore", under="ignore"):
        scales = np.exp(np.stack([values[f"scale_{i}"] for i in range(3)], axis=1))
    bad = ~(np.isfinite(scales) & (scales > 0)).all(axis=1)
    if bad.any():
        raise SplatScaleError(path, f"{int(bad.sum())} of {n} splats have a zero, negative or "
                                    "infinite scale after exp (log-scales out of range)")
    quats = np.stack([values[f"rot_{i}"] for i in range(4)], axis=1)
    zero_q = np.linalg.norm(quats, axis=1) == 0
    if zero_q.any():
        raise SplatPropertyError(path, f"{int(zero_q.sum())} splats have an all-zero rotation quaternion")
    opacities = 1.0 / (1.0 + np.exp(-values["opacity"]))
    sh = np.zeros((n, k, 3))
    sh[:, 0] = np.stack([values[f"f_dc_{i}"] for i in range(3)], axis=1)
    if k > 1:
        restv = np.stack([values[p] for p in rest], axis=1).reshape(n, 3, k - 1)
        sh[:, 1:] = restv.transpose(0, 2, 1)
    center, scale = _normalisation(means)
    f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    return GaussianCloud(means=f32((means - center) * scale), scales=f32(scales * scale), quats=f32(quats),
                         opacities=f32(opacities), sh=f32(sh), name=path.stem,
                         center=tuple(float(c) for c in center), scale=scale)


def point_cloud_scales(points: np.ndarray, neighbours: int = 3, exact_up_to: int = 5_000,
                       per_cell: int = 16) -> np.ndarray:
    """The 3DGS initial size: sigma_i = sqrt(mean squared distance to the 3 nearest other points).
    points: (N, 3) -> (N,). Exact (brute force) up to ``exact_up_to`` points; above, the
    neighbours are searched in the 27 cells of a grid around each point (cells of twice the
    typical spacing, at most ``per_cell`` points taken from a cell), so a million points take
    seconds. Zero distances (duplicates) are skipped; sigma is floored at 0.1 x its median."""
    pts = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
    n = len(pts)
    if n < 2:
        return np.full(n, 0.01)
    k = min(neighbours, n - 1)
    if n <= exact_up_to:
        sigma = _knn_brute(pts, pts, k)
    else:
        sigma = _knn_grid(pts, k, per_cell)
    finite = sigma[np.isfinite(sigma) & (sigma > 0)]
    floor = float(np.median(finite)) * 0.1 if len(finite) else 0.01
    return np.maximum(np.nan_to_num(sigma, nan=floor, posinf=floor), floor)


def _knn_brute(pts: torch.Tensor, ref: torch.Tensor, k: int, chunk: int = 256) -> np.ndarray:
    """RMS distance to the k nearest of ``ref`` at distance > 0 (so not the point itself), by
    differences (cdist's matmul form loses small distances to rounding)."""
    out = torch.empty(len(pts))
    for start in range(0, len(pts), chunk):
        d2 = ((pts[start:start + chunk, None, :] - ref[None]) ** 2).sum(-1)
        d2[d2 == 0] = float("inf")                 # the point itself (and exact duplicates)
        out[start:start + chunk] = d2.topk(k, dim=1, largest=False).values.mean(1).sqrt()
    return out.numpy().astype(np.float64)


def _knn_grid(pts: torch.Tensor, k: int, per_cell: int) -> np.ndarray:
    """k nearest among the points of the 3 x 3 x 3 grid cells around each point (see above)."""
    n = len(pts)
    sample = pts[torch.randperm(n, generator=torch.Generator().manual_seed(0))[:4000]]
    spacing = float(np.median(_knn_brute(sample, sample, k))) * (4000 / n) ** 0.5
    cell = max(2.0 * spacing, 1e-9)
    ijk = torch.floor((pts - pts.min(0).values) / cell).long()
    dims = ijk.max(0).values + 3
    key = ((ijk[:, 0] + 1) * dims[1] + ijk[:, 1] + 1) * dims[2] + ijk[:, 2] + 1
    order = torch.argsort(key)
    sorted_key, sorted_pts = key[order], pts[order]
    offsets = torch.tensor([(a * dims[1] + b) * dims[2] + c for a in (-1, 0, 1) for b in (-1, 0, 1)
                            for c in (-1, 0, 1)])
    out = torch.empty(n)
    for start in range(0, n, 16384):
        q = pts[start:start + 16384]
        cells = key[start:start + 16384, None] + offsets[None]                       # (B, 27)
        first = torch.searchsorted(sorted_key, cells)
        last = torch.searchsorted(sorted_key, cells, right=True)
        idx = first[:, :, None] + torch.arange(per_cell)[None, None]                  # (B, 27, c)
        valid = idx < last[:, :, None]
        cand = sorted_pts[idx.clamp_max(n - 1)]
        d2 = ((cand - q[:, None, None]) ** 2).sum(-1)
        d2 = torch.where(valid & (d2 > 0), d2, torch.full_like(d2, float("inf"))).reshape(len(q), -1)
        out[start:start + 16384] = d2.topk(k, dim=1, largest=False).values.mean(1).sqrt()
    return out.numpy().astype(np.float64)


def _rotation_to_normal(normals: np.ndarray) -> np.ndarray:
    """Quaternions (wxyz) turning +z onto each unit normal ((N, 3) -> (N, 4))."""
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, normals)
    w = 1.0 + normals @ z
    q = np.concatenate([w[:, None], axis], axis=1)
    flip = w < 1e-8                    # normal = -z: a half turn about x
    q[flip] = (0.0, 1.0, 0.0, 0.0)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _points(path: Path, values: dict[str, np.ndarray]) -> GaussianCloud:
    """Point cloud -> splats: isotropic sigma by ``point_cloud_scales``; with normals, surfels
    (that sigma in the tangent plane, SURFEL_THICKNESS x sigma along the normal); colours from
    red/green/blue (0..255 integers or 0..1 floats), else grey; opacity POINT_OPACITY."""
    means = np.stack([values[a] for a in "xyz"], axis=1)
    center, scale = _normalisation(means)
    means = (means - center) * scale
    n = len(means)
    sigma = point_cloud_scales(means)
    scales = np.repeat(sigma[:, None], 3, axis=1)
    quats = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    if all(k in values for k in ("nx", "ny", "nz")):
        normals = np.stack([values[k] for k in ("nx", "ny", "nz")], axis=1)
        length = np.linalg.norm(normals, axis=1)
        if (length > 0).all():
            quats = _rotation_to_normal(normals / length[:, None])
            scales[:, 2] *= SURFEL_THICKNESS
    colors = np.full((n, 3), POINT_DEFAULT_COLOR)
    names = next((c for c in (("red", "green", "blue"), ("r", "g", "b")) if all(k in values for k in c)), None)
    if names is not None:
        colors = np.stack([values[k] for k in names], axis=1)
        if colors.max() > 1.0:
            colors = colors / 255.0
    f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    sh = rgb_to_sh_dc(f32(np.clip(colors, 0, 1)))[:, None, :]
    return GaussianCloud(means=f32(means), scales=f32(scales), quats=f32(quats),
                         opacities=torch.full((n,), POINT_OPACITY), sh=sh.contiguous(), name=path.stem,
                         center=tuple(float(c) for c in center), scale=scale)


def gaussian_ply_bytes(cloud: GaussianCloud, original_units: bool = False) -> bytes:
    """The cloud in the 3DGS binary PLY layout (see the module docstring). ``original_units``:
    undo the load-time normalisation (means / scale + center, scales / scale)."""
    c = cloud.detached().to("cpu")
    means = c.means.double().numpy()
    scales = c.scales.double().abs().numpy()
    if original_units:
        means = means / cloud.scale + np.asarray(cloud.center)
        scales = scales / cloud.scale
    n, k = c.num_splats, c.sh.shape[1]
    sh = c.sh.double().numpy()
    opac = np.clip(c.opacities.double().numpy(), 1e-7, 1 - 1e-7)
    columns = [means, np.zeros((n, 3)), sh[:, 0], sh[:, 1:].transpose(0, 2, 1).reshape(n, 3 * (k - 1)),
               np.log(opac / (1 - opac))[:, None], np.log(np.maximum(scales, 1e-30)), c.quats.double().numpy()]
    table = np.concatenate(columns, axis=1).astype("<f4")
    names = (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
             + [f"f_rest_{i}" for i in range(3 * (k - 1))] + ["opacity", "scale_0", "scale_1", "scale_2",
                                                            "rot_0", "rot_1", "rot_2", "rot_3"])
    header = "\n".join(["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
                       + [f"property float {p}" for p in names] + ["end_header"]) + "\n"
    return header.encode("ascii") + table.tobytes()


def save_gaussians(cloud: GaussianCloud, path: PathLike, original_units: bool = False) -> Path:
    """Write ``cloud`` as a 3DGS binary PLY (readable by 3DGS viewers and ``load_splat_ply``)."""
    path = Path(path)
    path.write_bytes(gaussian_ply_bytes(cloud, original_units))
    return path


def save_point_cloud(points: np.ndarray, path: PathLike, colors: np.ndarray | None = None,
                     normals: np.ndarray | None = None, binary: bool = True) -> Path:
    """A vertex-only PLY (x y z [nx ny nz] [red green blue as uchar]) for tests and exports."""
    path = Path(path)
    n = len(points)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if normals is not None:
        fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
    if colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    table = np.zeros(n, dtype=np.dtype(fields))
    for i, a in enumerate("xyz"):
        table[a] = points[:, i]
    if normals is not None:
        for i, a in enumerate(("nx", "ny", "nz")):
            table[a] = normals[:, i]
    if colors is not None:
        for i, a in enumerate(("red", "green", "blue")):
            table[a] = np.clip(np.round(colors[:, i] * 255), 0, 255)
    kinds = {"<f4": "float", "u1": "uchar"}
    fmt = "binary_little_endian" if binary else "ascii"
    header = "\n".join(["ply", f"format {fmt} 1.0", f"element vertex {n}"]
                       + [f"property {kinds[t]} {p}" for p, t in fields] + ["end_header"]) + "\n"
    if binary:
        body = table.tobytes()
    else:
        body = "".join(" ".join(str(v) for v in row) + "\n" for row in table.tolist()).encode("ascii")
    path.write_bytes(header.encode("ascii") + body)
    return path


__all__ = ["SplatLoadError", "load_splat_ply", "save_gaussians", "save_point_cloud", "is_splat_ply",
           "sh_coefficient_count", "sh_degree_of"]
