"""Reading and writing SDF scenes: analytic primitives as JSON, grids as .npz, grids from meshes.

JSON (``*.json``, e.g. ``assets/sphere_box.sdf.json``; docs/sdf.md has the full format)::

    {"name": "sphere_box",
     "primitives": [
        {"type": "sphere", "center": [-0.3, 0, 0], "radius": 0.45, "albedo": [0.9, 0.4, 0.3]},
        {"type": "box", "center": [0.35, 0, 0], "half_extents": [0.3, 0.25, 0.3], "op": "union"},
        {"type": "torus", "center": [0, 0, 0], "major": 0.6, "minor": 0.15,
         "op": "smooth_union", "blend": 0.1}]}

npz: ``sdf`` (Dx, Dy, Dz) node values (negative inside), ``bounds`` (2, 3) lo and hi corners
(default [[-1, -1, -1], [1, 1, 1]]). A voxel grid's .npz holds ``occupancy`` instead: the
sniffer (``is_sdf_npz``) claims only files with an ``sdf`` array.

Every failure raises ``SDFFileError`` (a UserError) with one line naming the file and the problem.
"""
from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Union

import numpy as np
import torch

from ..errors import UserError
from .shapes import OPS, PRIMITIVE_FIELDS, SDF, Primitive

PathLike = Union[str, Path]
MAX_GRID = 256          # nodes per axis
# The JSON keys of each primitive's parameters and how many numbers each holds.
JSON_KEYS = {
    "sphere": (("center", 3), ("radius", 1)),
    "box": (("center", 3), ("half_extents", 3)),
    "torus": (("center", 3), ("major", 1), ("minor", 1)),
}


class SDFFileError(UserError, ValueError):
    """An SDF file that cannot be read; the message names the file and the reason."""

    def __init__(self, path: PathLike, reason: str):
        self.path = Path(path)
        super().__init__(f"Cannot load SDF '{self.path}': {reason}")


def _open_text(path: Path) -> str:
    if not path.exists():
        raise SDFFileError(path, "the file does not exist")
    if path.is_dir():
        raise SDFFileError(path, "this is a folder, not an SDF file")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SDFFileError(path, f"the file cannot be read as UTF-8 text ({type(err).__name__})") from None


def _numbers(path: Path, where: str, value, count: int) -> list[float]:
    vals = value if isinstance(value, list) else [value]
    if len(vals) != count or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        raise SDFFileError(path, f"{where} must be {'a number' if count == 1 else f'{count} numbers'}, got {value!r}")
    if not all(math.isfinite(v) for v in vals):
        raise SDFFileError(path, f"{where} is not finite ({value!r})")
    return [float(v) for v in vals]


def load_sdf_json(path: PathLike) -> SDF:
    """An analytic SDF scene (see the module docstring) -> SDF with float32 params."""
    path = Path(path)
    try:
        doc = json.loads(_open_text(path))
    except json.JSONDecodeError as err:
        raise SDFFileError(path, f"not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("primitives"), list):
        raise SDFFileError(path, 'expected a JSON object with a "primitives" list')
    if not doc["primitives"]:
        raise SDFFileError(path, "the primitives list is empty")
    prims, values = [], []
    for i, entry in enumerate(doc["primitives"]):
        where = f"primitive {i}"
        if not isinstance(entry, dict):
            raise SDFFileError(path, f"{where} is not a JSON object")
        kind = entry.get("type")
        if kind not in PRIMITIVE_FIELDS:
            raise SDFFileError(path, f"{where} has unknown type {kind!r}; expected one of "
                                     f"{', '.join(PRIMITIVE_FIELDS)}")
        op = entry.get("op", "union")
        if op not in OPS:
            raise SDFFileError(path, f"{where} has unknown op {op!r}; expected one of {', '.join(OPS)}")
        known = {"type", "op", "blend", "albedo"} | {k for k, _ in JSON_KEYS[kind]}
        extra = sorted(set(entry) - known)
        if extra:
            raise SDFFileError(path, f"{where} ({kind}) has unknown key(s) {', '.join(extra)}; "
                                     f"a {kind} has {', '.join(k for k, _ in JSON_KEYS[kind])}")
        for key, count in JSON_KEYS[kind]:
            if key not in entry:
                raise SDFFileError(path, f"{where} ({kind}) is missing {key!r}")
            values += _numbers(path, f"{where} {key}", entry[key], count)
        blend = _numbers(path, f"{where} blend", entry.get("blend", 0.0), 1)[0]
        if op == "smooth_union" and blend <= 0:
            raise SDFFileError(path, f"{where}: a smooth_union needs a positive blend width")
        albedo = entry.get("albedo")
        if albedo is not None:
            albedo = tuple(_numbers(path, f"{where} albedo", albedo, 3))
        prims.append(Primitive(kind, op, blend, albedo))
    sizes = [v for p in prims for v in _sizes(p, values, prims)]
    if any(v <= 0 for v in sizes):
        raise SDFFileError(path, "radii, half extents and torus radii must be positive")
    name = doc.get("name", path.name.split(".")[0])
    return SDF(primitives=tuple(prims), params=torch.tensor(values, dtype=torch.float32), name=str(name))


def _sizes(p: Primitive, values: list[float], prims: list[Primitive]) -> list[float]:
    """The size parameters (everything but the centre) of primitive ``p``."""
    at = 0
    for q in prims:
        if q is p:
            return values[at + 3:at + len(q.fields)]
        at += len(q.fields)
    return []


def save_sdf_json(sdf: SDF, path: PathLike) -> None:
    """Write an analytic SDF in the format ``load_sdf_json`` reads."""
    values = sdf.params.detach().double().cpu().tolist()
    out = []
    for p, at in zip(sdf.primitives, sdf.param_offsets()):
        entry: dict = {"type": p.type}
        i = at
        for key, count in JSON_KEYS[p.type]:
            chunk = values[i:i + count]
            entry[key] = chunk if count > 1 else chunk[0]
            i += count
        if p.op != "union":
            entry["op"] = p.op
        if p.blend:
            entry["blend"] = p.blend
        if p.albedo is not None:
            entry["albedo"] = list(p.albedo)
        out.append(entry)
    Path(path).write_text(json.dumps({"name": sdf.name, "primitives": out}, indent=1) + "\n")


def is_sdf_json(path: Path) -> bool:
    """Sniffer for .json: an object with a "primitives" key (read only the first 64 KiB)."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    return b'"primitives"' in head


def is_sdf_npz(path: Path) -> bool:
    """Sniffer for .npz: an archive with an ``sdf`` array (the zip directory only)."""
    with zipfile.ZipFile(path) as archive:
        return "sdf.npy" in archive.namelist()


def load_sdf_npz(path: PathLike) -> SDF:
    """A grid SDF from .npz (keys ``sdf``, optional ``bounds``) -> SDF, float32 on the CPU."""
    path = Path(path)
    if not path.exists():
        raise SDFFileError(path, "the file does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as err:  # noqa: BLE001 - numpy raises many kinds on a damaged archive
        raise SDFFileError(path, f"not a readable .npz archive ({type(err).__name__})") from None
    if "sdf" not in arrays:
        raise SDFFileError(path, f"no 'sdf' array (it has {', '.join(arrays) or 'none'})")
    values = arrays["sdf"]
    if values.ndim != 3 or min(values.shape) < 2:
        raise SDFFileError(path, f"'sdf' must be a (D, D, D) grid with D >= 2, got shape {values.shape}")
    if max(values.shape) > MAX_GRID:
        raise SDFFileError(path, f"'sdf' is {values.shape}; at most {MAX_GRID} nodes per axis")
    if values.dtype.kind not in "fiu":
        raise SDFFileError(path, f"'sdf' must hold numbers, got dtype {values.dtype}")
    bad = int((~np.isfinite(values)).sum())
    if bad:
        raise SDFFileError(path, f"{bad} of {values.size} 'sdf' values are NaN or infinite")
    bounds = arrays.get("bounds", np.array([[-1.0] * 3, [1.0] * 3]))
    if bounds.shape == (6,):
        bounds = bounds.reshape(2, 3)
    if bounds.shape != (2, 3) or bounds.dtype.kind not in "fiu" or not np.isfinite(bounds).all():
        raise SDFFileError(path, f"'bounds' must be finite (2, 3) lo/hi corners, got shape {bounds.shape}")
    if not (bounds[1] > bounds[0]).all():
        raise SDFFileError(path, "'bounds' hi corner must exceed the lo corner on every axis")
    if not ((values < 0).any() and (values > 0).any()):
        raise SDFFileError(path, "'sdf' has no sign change: there is no surface in the grid")
    return SDF(grid=torch.from_numpy(values.astype(np.float32)),
               bounds=torch.from_numpy(bounds.astype(np.float32)), name=path.name.split(".")[0])


def save_sdf_npz(sdf: SDF, path: PathLike) -> None:
    np.savez(path, sdf=sdf.grid.detach().cpu().numpy(), bounds=sdf.bounds.detach().cpu().numpy())
