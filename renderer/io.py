"""Loading triangle meshes from files (through trimesh) into normalised ``Mesh`` objects.

Every failure raises a subclass of ``MeshLoadError`` whose message names the file and says what
is wrong in words a user understands. Problems that can be repaired (degenerate faces, unused
vertices) are repaired with a ``MeshLoadWarning`` that is also recorded in ``Mesh.warnings``.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np
import torch
import trimesh
from trimesh.visual import ColorVisuals, TextureVisuals

from .errors import UserError
from .mesh import Mesh, weld_index
from .shapes import Shape

SUPPORTED_EXTENSIONS = (".obj", ".ply", ".stl", ".off", ".glb", ".gltf")
DEFAULT_MAX_FACES = 500_000

PathLike = Union[str, Path]


class MeshLoadError(UserError, ValueError):
    """A mesh file could not be loaded. ``path`` is the file; the message names it."""

    def __init__(self, path: PathLike, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"Cannot load mesh '{self.path}': {reason}")


class MeshFileNotFoundError(MeshLoadError):
    """The file does not exist."""


class MeshUnreadableError(MeshLoadError):
    """The path exists but cannot be read (a folder, no permission, I/O error)."""


class UnsupportedMeshFormatError(MeshLoadError):
    """The file extension is not one of ``SUPPORTED_EXTENSIONS``."""


class MeshParseError(MeshLoadError):
    """trimesh could not parse the file, or returned something that is not a mesh."""


class MeshNoFacesError(MeshLoadError):
    """The file has vertices but no faces (a point cloud)."""


class EmptyMeshError(MeshLoadError):
    """No vertices at all, or every face has zero area."""


class NonFiniteMeshError(MeshLoadError):
    """Some vertex coordinates are NaN or infinite."""


class FaceIndexError(MeshLoadError):
    """Some faces refer to vertices that do not exist (index out of range or negative)."""


class TooManyFacesError(MeshLoadError):
    """More faces than the configured budget."""


class MeshLoadWarning(UserWarning):
    """A problem that was repaired while loading (the mesh is still usable)."""


# OBJ indices are 1-based, so 0 is invalid; trimesh silently reads it as vertex 0 (a
# wrong face, not an error), which is why it is caught here before trimesh sees the file.
_OBJ_ZERO_INDEX = re.compile(rb"^f[ \t](?:[^\n]*[ \t/])?0(?=[ \t/\r\n]|$)", re.MULTILINE)


def load_mesh(path: PathLike, max_faces: int = DEFAULT_MAX_FACES) -> Mesh:
    """Load a triangle mesh (.obj .ply .stl .off .glb .gltf) and normalise it (DESIGN.md §2).

    Multi-part scenes are flattened with their node transforms; polygons are triangulated.
    Result: verts (V, 3) float32 centred on the AABB centre with max norm 1; faces (F, 3) int64;
    colors (V, 3) float32 in [0, 1] if the file has vertex or face colours; uvs (V, 2) float32
    and texture (H, W, 3) float32 (row 0 = top of the image) if it has a textured material;
    weld (V,) int64. All tensors on the CPU. Raises a ``MeshLoadError`` subclass on failure.
    """
    path = Path(path)
    ext = _check_file(path)
    scene = _read_scene(path, ext)
    parts = _validated_parts(path, ext, scene, max_faces)
    notes: list[str] = []
    tm, colors = _flatten(parts, path, notes)
    if ext == ".stl":
        # STL stores every triangle with its own three corners; merge them, or the mesh would
        # tear apart as soon as its vertices are optimised. (Merge by position alone: STL
        # normals are per face, and trimesh reads no STL colours.)
        tm.merge_vertices(merge_tex=True, merge_norm=True)
        colors = None
    return _to_mesh(path, tm, colors, notes)


class UnsupportedFileError(UserError, ValueError):
    """No loader reads files of this extension."""


# Extension -> loaders returning a Shape (see ``renderer.shapes``), each with an optional
# ``accepts(path) -> bool`` that looks at the file's contents: several representations share an
# extension (.ply: mesh, point cloud, Gaussian splats; .npz: voxel grid, SDF grid), so ``load``
# asks the sniffers of the later registrations first and falls back to one without a sniffer.
Sniffer = Callable[[Path], bool]
LOADERS: dict[str, list[tuple[Callable[[PathLike], Shape], Optional[Sniffer]]]] = {
    ext: [(load_mesh, None)] for ext in SUPPORTED_EXTENSIONS}


def register_loader(extensions: tuple[str, ...], loader: Callable[[PathLike], Shape],
                    accepts: Optional[Sniffer] = None) -> None:
    """Read files with these (lower-case, dotted) extensions with ``loader``. With ``accepts``,
    only the files it says yes to (it reads the header, must be cheap and must not raise);
    without, every file of the extension that no sniffing loader claims (replacing an earlier
    sniffer-less loader). Registering the same loader again is a no-op."""
    for ext in extensions:
        entries = LOADERS.setdefault(ext.lower(), [])
        if any(fn is loader for fn, _ in entries):
            continue
        if accepts is None:
            entries[:] = [(fn, sniff) for fn, sniff in entries if sniff is not None]
        entries.append((loader, accepts))


def loadable_extensions() -> tuple[str, ...]:
    """Every extension ``load`` reads (after the registered representation packages loaded)."""
    from .registry import load_plugins

    load_plugins()
    return tuple(sorted(LOADERS))


def loader_for(path: PathLike) -> Callable[[PathLike], Shape]:
    """The loader that reads ``path``: by extension, then by contents among the loaders that
    share the extension. UnsupportedFileError for an unknown extension or unclaimed contents."""
    ext = Path(path).suffix.lower()
    if ext not in loadable_extensions():
        shown = f"'{Path(path).suffix}'" if ext else "no extension"
        raise UnsupportedFileError(f"Cannot open '{path}': {shown} is not a supported file type; "
                                   f"supported: {', '.join(sorted(LOADERS))}")
    entries = LOADERS[ext]
    for fn, sniff in reversed(entries):
        if sniff is not None and Path(path).is_file():
            try:
                if sniff(Path(path)):
                    return fn
            except Exception:  # noqa: BLE001 - a sniffer that cannot read the file says no
                continue
    fallback = [fn for fn, sniff in entries if sniff is None]
    if fallback:
        return fallback[-1]
    if len(entries) == 1:
        return entries[0][0]     # its own checks give the specific error
    raise UnsupportedFileError(f"Cannot open '{path}': its contents match none of the "
                               f"{Path(path).suffix} layouts this tool reads")


def load(path: PathLike) -> Shape:
    """The shape in ``path``, of the type its extension and contents name (a Mesh for .obj .ply
    .stl .off .glb .gltf with faces). Raises UnsupportedFileError for an unknown extension, else
    the loader's own UserError subclass (``MeshLoadError`` for meshes)."""
    return loader_for(path)(path)


def _check_file(path: Path) -> str:
    """Raise for a missing, unreadable or unsupported file; return the lower-case extension."""
    try:
        is_dir = path.is_dir()
        if not is_dir:
            path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise MeshFileNotFoundError(path, "the file does not exist") from None
    except OSError as err:
        raise MeshUnreadableError(path, f"the file cannot be accessed ({err.strerror or err})"
                                  ) from None
    if is_dir:
        raise MeshUnreadableError(path, "this is a folder, not a mesh file")
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        shown = f"'{path.suffix}'" if path.suffix else "no extension"
        raise UnsupportedMeshFormatError(path, f"{shown} is not a supported mesh format; "
                                               f"supported: {', '.join(SUPPORTED_EXTENSIONS)}")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as err:
        raise MeshUnreadableError(path, f"the file cannot be read ({err.strerror or err})"
                                  ) from None
    return ext


def _short(err: BaseException, limit: int = 160) -> str:
    """One line describing an exception, for messages (no traceback)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    text = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_scene(path: Path, ext: str) -> trimesh.Scene:
    """Parse with trimesh, as a Scene, without any of its silent repairs (process=False)."""
    if ext == ".obj" and _OBJ_ZERO_INDEX.search(path.read_bytes()):
        raise FaceIndexError(path, "a face uses vertex index 0, but OBJ indices start at 1")
    # maintain_order=False only matters for OBJ: with True, trimesh gives each position a
    # single UV, which breaks textures along UV seams; with False it splits vertices there.
    try:
        # broken files (an infinite coordinate) make trimesh's numpy calls warn; the problem is
        # reported once, as the MeshLoadError of the checks below, not as numpy noise on stderr
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            scene = trimesh.load_scene(str(path), file_type=ext[1:], process=False,
                                       maintain_order=False)
    except Exception as err:  # trimesh raises many kinds on malformed input
        raise _parse_failure(path, ext, err) from None
    if not isinstance(scene, trimesh.Scene):
        raise MeshParseError(path, f"trimesh returned {type(scene).__name__}, not a mesh")
    return scene


def _parse_failure(path: Path, ext: str, err: Exception) -> MeshLoadError:
    """The MeshLoadError for an exception trimesh raised while parsing."""
    text = str(err).lower()
    # The OBJ loader indexes its vertex array with the file's face indices (IndexError); the
    # OFF loader checks the range itself (ValueError "... face index outside the range ...").
    if (isinstance(err, IndexError) and ext == ".obj") or (
            isinstance(err, ValueError) and "face index" in text):
        return FaceIndexError(path, "a face refers to a vertex that does not exist "
                                    f"({_short(err)})")
    if isinstance(err, FileNotFoundError):  # e.g. a .gltf whose .bin buffer is missing
        return MeshParseError(path, f"a file it refers to is missing ({_short(err)})")
    if isinstance(err, ImportError):
        # trimesh reaches for an optional module (charset_normalizer for text it cannot decode)
        # only after the file failed to parse: the file is the problem, not the module
        what = ("neither a binary STL (whose size must match its triangle count) nor ASCII STL text"
                if ext == ".stl" else "it could not be parsed")
        return MeshParseError(path, f"the file is not a valid {ext} file ({what})")
    return MeshParseError(path, f"the file is not a valid {ext} file ({_short(err)})")


def _validated_parts(path: Path, ext: str, scene: trimesh.Scene,
                     max_faces: int) -> list[trimesh.Trimesh]:
    """Check the raw parts (before any transform touches them); return the parts moved by
    their node transforms."""
    geoms = scene.geometry
    num_points = sum(len(getattr(g, "vertices", ())) for g in geoms.values())
    if num_points == 0:
        raise EmptyMeshError(path, "it contains no vertices (the file is empty or not a valid "
                                   f"{ext} file)")
    meshes = {k: g for k, g in geoms.items() if isinstance(g, trimesh.Trimesh)}
    if sum(len(g.faces) for g in meshes.values()) == 0:
        raise MeshNoFacesError(path, f"it has {num_points} vertices but no faces (a point cloud?); "
                                     "a triangle mesh is needed")
    bad_index = non_finite = total_verts = 0
    for g in meshes.values():
        faces = np.asarray(g.faces)
        bad_index += int(((faces < 0) | (faces >= len(g.vertices))).any(axis=1).sum())
        non_finite += int((~np.isfinite(np.asarray(g.vertices))).any(axis=1).sum())
        total_verts += len(g.vertices)
    if bad_index:
        raise FaceIndexError(path, f"{bad_index} face(s) refer to vertices that do not exist "
                                   "(index negative or past the last vertex)")
    if non_finite:
        raise NonFiniteMeshError(path, f"{non_finite} of {total_verts} vertices have NaN or "
                                       "infinite coordinates")
    instances = [scene.graph[node][1] for node in scene.graph.nodes_geometry]
    num_faces = sum(len(meshes[name].faces) for name in instances if name in meshes)
    if num_faces > max_faces:
        raise TooManyFacesError(path, f"it has {num_faces:,} faces, more than the budget of "
                                      f"{max_faces:,} (the budget is configurable: max_faces)")
    return [g for g in scene.dump() if isinstance(g, trimesh.Trimesh) and len(g.faces)]


def _texture_of(material):
    """The PIL image of a trimesh material (SimpleMaterial from OBJ/MTL, PBRMaterial from
    glTF), or None."""
    image = getattr(material, "image", None)
    return getattr(material, "baseColorTexture", None) if image is None else image


def _material_image(material) -> Optional[np.ndarray]:
    """(H, W, 3) float32 in [0, 1] from a trimesh material's texture, or None."""
    image = _texture_of(material)
    if image is None:
        return None
    try:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    except Exception:  # not a PIL image, or an exotic mode PIL cannot convert
        return None


def _color_array(values: np.ndarray) -> np.ndarray:
    """Colours as stored by trimesh or glTF (uint8, uint16 or float, RGB or RGBA) ->
    (N, 3) float32 in [0, 1]."""
    values = np.asarray(values)
    if values.dtype.kind in "ui":
        values = values / float(np.iinfo(values.dtype).max)
    return np.clip(values[:, :3], 0.0, 1.0).astype(np.float32)


def _part_colors(part: trimesh.Trimesh) -> Optional[np.ndarray]:
    """(V, 3) per-vertex colours of a part that is not textured, or None if it has none."""
    visual, n = part.visual, len(part.vertices)
    if isinstance(visual, ColorVisuals):
        # face colours are converted to vertex colours by trimesh (vertex_colors property)
        return _color_array(visual.vertex_colors) if visual.kind in ("vertex", "face") else None
    if isinstance(visual, TextureVisuals):
        # glTF COLOR_0 next to a material lands in vertex_attributes
        stored = visual.vertex_attributes.get("color")
        if stored is not None and len(stored) == n:
            return _color_array(stored)
        factor = getattr(visual.material, "baseColorFactor", None)
        if factor is not None:  # an untextured glTF material with an explicit colour
            return np.tile(_color_array(np.asarray(factor)[None]), (n, 1))
    return None


def _is_textured(part: trimesh.Trimesh) -> bool:
    visual = part.visual
    return (isinstance(visual, TextureVisuals) and visual.uv is not None
            and len(visual.uv) == len(part.vertices)
            and _texture_of(visual.material) is not None)


def _flatten(parts: list[trimesh.Trimesh], path: Path,
             notes: list[str]) -> tuple[trimesh.Trimesh, Optional[np.ndarray]]:
    """Concatenate the parts into one Trimesh. Returns it with (V, 3) vertex colours, or None
    (the texture, if any, stays in the Trimesh's visual)."""
    if all(_is_textured(p) for p in parts):
        # one texture, or several packed into an atlas by trimesh
        return (parts[0] if len(parts) == 1 else trimesh.util.concatenate(parts)), None
    colors = []
    for p in parts:
        if _is_textured(p):
            # textured next to untextured: sample the texture at the vertices (trimesh)
            colors.append(_color_array(p.visual.to_color().vertex_colors))
        else:
            colors.append(_part_colors(p))
    if any(c is None for c in colors):
        if any(c is not None for c in colors):
            _warn(path, notes, "some parts have colours and others do not; colours were dropped")
        colors = None
    # plain visuals: nothing for trimesh to merge (texture packing is costly)
    for p in parts:  # the dumped parts are copies: free to modify
        p.visual = ColorVisuals()
    merged = parts[0] if len(parts) == 1 else trimesh.util.concatenate(parts)
    return merged, (None if colors is None else np.concatenate(colors))


def _as_tensor(array: Optional[np.ndarray]) -> Optional[torch.Tensor]:
    return None if array is None else torch.from_numpy(np.ascontiguousarray(array))


def _warn(path: Path, sink: list[str], message: str) -> None:
    text = f"{path.name}: {message}"
    warnings.warn(text, MeshLoadWarning, stacklevel=4)
    sink.append(text)


def _to_mesh(path: Path, tm: trimesh.Trimesh, colors: Optional[np.ndarray],
             notes: list[str]) -> Mesh:
    """Drop degenerate faces and unused vertices, normalise, and wrap as a Mesh."""
    verts = np.asarray(tm.vertices, dtype=np.float64)
    faces = np.asarray(tm.faces, dtype=np.int64)
    uvs = image = None
    if _is_textured(tm):
        image = _material_image(tm.visual.material)
        uvs = None if image is None else np.asarray(tm.visual.uv, dtype=np.float32)

    extent = float(np.ptp(verts, axis=0).max()) if len(verts) else 0.0
    doubled_area = np.linalg.norm(np.cross(verts[faces[:, 1]] - verts[faces[:, 0]],
                                           verts[faces[:, 2]] - verts[faces[:, 0]]), axis=1)
    repeated = ((faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2])
                | (faces[:, 0] == faces[:, 2]))
    # relative threshold: "zero" area means zero at the precision of the coordinates
    degenerate = repeated | (doubled_area <= 1e-12 * extent ** 2)
    if degenerate.all():
        raise EmptyMeshError(path, f"all {len(faces)} faces have zero area")
    if degenerate.any():
        _warn(path, notes, f"dropped {int(degenerate.sum())} degenerate face(s) "
                           "(zero area or a repeated vertex)")
        faces = faces[~degenerate]

    used = np.zeros(len(verts), dtype=bool)
    used[faces.reshape(-1)] = True
    if not used.all():
        _warn(path, notes, f"dropped {int((~used).sum())} unused vertex(es)")
        new_index = np.cumsum(used) - 1
        faces = new_index[faces]
        verts = verts[used]
        colors = None if colors is None else colors[used]
        uvs = None if uvs is None else uvs[used]

    lo, hi = verts.min(axis=0), verts.max(axis=0)
    center = (lo + hi) / 2
    radius = float(np.linalg.norm(verts - center, axis=1).max())
    if not np.isfinite(radius):
        raise NonFiniteMeshError(path, "the coordinates are too large to handle")
    scale = 1.0 / radius
    unit = ((verts - center) * scale).astype(np.float32)

    return Mesh(verts=_as_tensor(unit), faces=_as_tensor(faces.astype(np.int64)),
                colors=_as_tensor(None if colors is None else colors.astype(np.float32)),
                uvs=_as_tensor(uvs), texture=_as_tensor(image),
                weld=_as_tensor(weld_index(unit)),
                center=(float(center[0]), float(center[1]), float(center[2])), scale=scale,
                name=path.stem, warnings=notes)
