"""Mesh loading (renderer.io) and the bundled assets (renderer.assets)."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from renderer import assets
from renderer.io import (EmptyMeshError, FaceIndexError, MeshFileNotFoundError, MeshLoadError,
                         MeshLoadWarning, MeshNoFacesError, MeshParseError, MeshUnreadableError,
                         NonFiniteMeshError, TooManyFacesError, UnsupportedMeshFormatError,
                         load_mesh)
from renderer.paths import shared_mesh

FORMATS = ("obj", "ply", "stl", "off", "glb", "gltf")
SPOT = shared_mesh("spot", "cow.obj")

# An irregular tetrahedron away from the origin: no symmetry, so any axis flip, reordering of
# coordinates or wrong winding changes the corner set below. Outward, counter-clockwise faces.
ASYM_VERTS = np.array([[1.0, -2.0, 0.5], [3.0, -2.0, 0.5], [1.0, 1.0, 0.5], [1.0, -2.0, 5.5]])
ASYM_FACES = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
ASYM_COLORS = np.array([[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255], [250, 200, 10, 255]],
                       dtype=np.uint8)


def asym_mesh(colors: bool = False) -> trimesh.Trimesh:
    mesh = trimesh.Trimesh(ASYM_VERTS, ASYM_FACES, process=False)
    if colors:
        mesh.visual.vertex_colors = ASYM_COLORS
    return mesh


def corner_set(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 9): each triangle's corners, rotated to start at its smallest corner (keeps the
    winding), rows sorted. Equal for equal geometry, whatever the vertex numbering."""
    tri = np.asarray(verts, dtype=np.float64)[np.asarray(faces)]
    keys = [tuple(np.round(c, 4)) for c in tri.reshape(-1, 3)]
    rows = []
    for f in range(len(tri)):
        start = min(range(3), key=lambda k: keys[3 * f + k])
        rows.append(np.roll(tri[f], -start, axis=0).reshape(-1))
    rows = np.array(rows)
    return rows[np.lexsort(np.round(rows, 4).T[::-1])]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def assert_normalised(mesh) -> None:
    assert mesh.verts.dtype == torch.float32 and mesh.faces.dtype == torch.int64
    assert mesh.verts.device.type == "cpu"
    assert mesh.verts.norm(dim=1).max().item() == pytest.approx(1.0, abs=1e-6)
    centre = (mesh.verts.min(0).values + mesh.verts.max(0).values) / 2
    assert centre.abs().max().item() < 1e-6
    assert mesh.weld is not None and mesh.weld.dtype == torch.int64
    assert mesh.weld.shape == (mesh.num_verts,)


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("ext", FORMATS)
def test_round_trip_geometry(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"asym.{ext}"
    asym_mesh().export(path)
    mesh = load_mesh(path)
    assert mesh.name == "asym"
    assert mesh.num_faces == 4 and mesh.num_verts == 4  # STL corners merged again
    assert_normalised(mesh)
    np.testing.assert_allclose(corner_set(mesh.original_verts().numpy(), mesh.faces.numpy()),
                               corner_set(ASYM_VERTS, ASYM_FACES), atol=1e-5)
    # AABB of the tetrahedron: (1..3, -2..1, 0.5..5.5); farthest vertex from its centre
    np.testing.assert_allclose(mesh.center, (2.0, -0.5, 3.0), atol=1e-6)
    assert 1.0 / mesh.scale == pytest.approx(np.linalg.norm([1.0, 1.5, 2.5]), rel=1e-6)


@pytest.mark.parametrize("ext", ("ply", "obj", "glb"))
def test_round_trip_vertex_colours(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"coloured.{ext}"
    asym_mesh(colors=True).export(path)
    mesh = load_mesh(path)
    assert mesh.colors is not None and mesh.colors.dtype == torch.float32
    assert mesh.colors.shape == (4, 3)
    # match loaded vertices to the originals by position, then compare their colours
    orig = mesh.original_verts().numpy()
    match = np.linalg.norm(orig[:, None] - ASYM_VERTS[None], axis=2).argmin(1)
    np.testing.assert_allclose(mesh.colors.numpy(), ASYM_COLORS[match, :3] / 255.0, atol=1e-3)


def test_uppercase_extension(tmp_path: Path) -> None:
    path = tmp_path / "LOUD.OBJ"
    path.write_text(trimesh.exchange.obj.export_obj(asym_mesh()))
    assert load_mesh(path).num_faces == 4


def test_quads_are_triangulated(tmp_path: Path) -> None:
    # an L made of two unit squares plus one 1x2 rectangle, as quads: area 4
    path = write(tmp_path / "quads.obj",
                 "v 0 0 0\nv 1 0 0\nv 2 0 0\nv 0 1 0\nv 1 1 0\nv 2 1 0\nv 0 3 0\nv 1 3 0\n"
                 "f 1 2 5 4\nf 2 3 6 5\nf 4 5 8 7\n")
    mesh = load_mesh(path)
    assert mesh.num_faces == 6
    orig = mesh.original_verts().double()
    doubled = torch.cross(orig[mesh.faces[:, 1]] - orig[mesh.faces[:, 0]],
                          orig[mesh.faces[:, 2]] - orig[mesh.faces[:, 0]], dim=1)
    assert (doubled[:, 2] > 0).all()  # counter-clockwise seen from +Z, as written
    assert doubled[:, 2].sum().item() / 2 == pytest.approx(4.0, abs=1e-5)


def test_scene_is_flattened_with_node_transforms(tmp_path: Path) -> None:
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.creation.box(extents=(1, 1, 1)), node_name="still")
    moved = trimesh.transformations.rotation_matrix(np.pi / 2, (0, 0, 1))
    moved[:3, 3] = (4.0, 0.0, 0.0)
    scene.add_geometry(trimesh.creation.box(extents=(1, 2, 1)), node_name="moved", transform=moved)
    path = tmp_path / "parts.glb"
    scene.export(path)
    mesh = load_mesh(path)
    assert mesh.num_faces == 24
    orig = mesh.original_verts().numpy()
    # the 1x2x1 box turned 90 degrees about Z spans x 3..5, y -0.5..0.5: its corner (5, .5, .5)
    # exists only if the node transform was applied
    assert np.linalg.norm(orig - [5.0, 0.5, 0.5], axis=1).min() < 1e-5
    assert np.linalg.norm(orig - [0.5, 1.0, 0.5], axis=1).min() > 0.4
    np.testing.assert_allclose(orig.min(0), [-0.5, -0.5, -0.5], atol=1e-5)
    np.testing.assert_allclose(orig.max(0), [5.0, 0.5, 0.5], atol=1e-5)
    tm = trimesh.Trimesh(mesh.verts.numpy(), mesh.faces.numpy(), process=False)
    assert tm.volume == pytest.approx((1 + 2) * mesh.scale ** 3, rel=1e-4)  # both outward


def test_scene_with_coloured_and_plain_parts_drops_colours(tmp_path: Path) -> None:
    scene = trimesh.Scene()
    scene.add_geometry(asym_mesh(colors=True), node_name="coloured")
    scene.add_geometry(trimesh.creation.box(), node_name="plain")
    path = tmp_path / "mixed.glb"
    scene.export(path)
    with pytest.warns(MeshLoadWarning, match="mixed.glb: .*colours were dropped"):
        mesh = load_mesh(path)
    assert mesh.colors is None and mesh.num_faces == 16
    assert any("colours" in w for w in mesh.warnings)


@pytest.mark.parametrize("ext", ("ply", "obj"))
def test_degenerate_faces_and_unused_vertices_are_dropped(tmp_path: Path, ext: str) -> None:
    # vertex 4: midpoint of edge 0-1 (used only by a zero-area face); vertex 5: used by none
    verts = np.vstack([ASYM_VERTS, [[2.0, -2.0, 0.5], [9.0, 9.0, 9.0]]])
    faces = np.vstack([ASYM_FACES, [[0, 0, 1], [0, 4, 1]]])  # repeated vertex; zero area
    path = tmp_path / f"messy.{ext}"
    trimesh.Trimesh(verts, faces, process=False).export(path)
    with pytest.warns(MeshLoadWarning) as record:
        mesh = load_mesh(path)
    messages = [str(w.message) for w in record]
    assert mesh.warnings == messages
    assert f"{path.name}: dropped 2 degenerate face(s) (zero area or a repeated vertex)" in messages
    # trimesh's OBJ reader already leaves out vertex 5, which no face uses; PLY keeps it
    unused = 2 if ext == "ply" else 1
    assert f"{path.name}: dropped {unused} unused vertex(es)" in messages
    assert mesh.num_faces == 4 and mesh.num_verts == 4
    np.testing.assert_allclose(corner_set(mesh.original_verts().numpy(), mesh.faces.numpy()),
                               corner_set(ASYM_VERTS, ASYM_FACES), atol=1e-5)


def test_texture_rows_and_uvs(tmp_path: Path) -> None:
    pixels = np.zeros((2, 4, 3), dtype=np.uint8)
    pixels[0] = (255, 0, 0)  # top row red
    pixels[1] = (0, 0, 255)  # bottom row blue
    mesh = asym_mesh()
    uv = np.array([[0.1, 0.2], [0.9, 0.2], [0.1, 0.8], [0.5, 0.5]])
    mesh.visual = trimesh.visual.TextureVisuals(uv=uv, image=Image.fromarray(pixels))
    for ext in ("obj", "glb"):
        path = tmp_path / f"textured.{ext}"
        mesh.export(path)
        loaded = load_mesh(path)
        assert loaded.texture is not None and loaded.texture.shape == (2, 4, 3)
        np.testing.assert_allclose(loaded.texture[0, 0].numpy(), [1, 0, 0])
        np.testing.assert_allclose(loaded.texture[1, 0].numpy(), [0, 0, 1])
        orig = loaded.original_verts().numpy()
        match = np.linalg.norm(orig[:, None] - ASYM_VERTS[None], axis=2).argmin(1)
        np.testing.assert_allclose(loaded.uvs.numpy(), uv[match], atol=1e-6)  # v up, as given
        assert loaded.colors is None


@pytest.mark.skipif(not SPOT.exists(), reason="Spot not available")
def test_spot_keeps_texture_and_uv_seams() -> None:
    mesh = load_mesh(SPOT)
    assert mesh.name == "cow" and mesh.num_faces == 5856
    assert mesh.texture.shape == (1024, 1024, 3) and mesh.texture.dtype == torch.float32
    assert 0.0 <= mesh.texture.min().item() and mesh.texture.max().item() <= 1.0
    file_rows = np.asarray(Image.open(SPOT.with_name("cow_texture.png")).convert("RGB")) / 255.0
    np.testing.assert_allclose(mesh.texture[0].numpy(), file_rows[0], atol=1e-6)
    assert mesh.uvs.shape == (mesh.num_verts, 2)
    # 2930 positions in the file; vertices split where UVs differ, the weld joins them again
    assert mesh.num_verts > 2930
    assert len(torch.unique(mesh.weld)) == 2930
    assert_normalised(mesh)


# ---------------------------------------------------------------- errors

PLY_HEADER = ("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
              "property float z\n")
PLY_FACES = ("element face 2\nproperty list uchar int vertex_indices\nend_header\n"
             "0 0 0\n1 0 0\n0 1 0\n")


def bad_glb(path: Path) -> None:
    trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2], [0, 1, 7]],
                    process=False).export(path)


ERROR_CASES = {
    "missing": ("gone.obj", None, MeshFileNotFoundError, "does not exist"),
    "unsupported": ("mesh.fbx", "whatever", UnsupportedMeshFormatError, ".obj, .ply, .stl"),
    "no_extension": ("mesh", "v 0 0 0", UnsupportedMeshFormatError, "no extension"),
    "parse_ply": ("bad.ply", "hello world\n", MeshParseError, "not a valid .ply"),
    "parse_off": ("bad.off", "OFF\nabc\n", MeshParseError, "not a valid .off"),
    "parse_glb": ("bad.glb", "glTF\x02\x00\x00\x00garbage", MeshParseError, "not a valid .glb"),
    "point_cloud": ("points.ply", PLY_HEADER + "end_header\n0 0 0\n1 0 0\n0 1 0\n",
                    MeshNoFacesError, "no faces"),
    "point_cloud_obj": ("points.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\n", MeshNoFacesError, "no faces"),
    "empty": ("empty.obj", "", EmptyMeshError, "no vertices"),
    "zero_area": ("flat.obj", "v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\nf 3 2 1\n", EmptyMeshError,
                  "all 2 faces have zero area"),
    "nan": ("nan.obj", "v 0 0 nan\nv 1 0 0\nv 0 1 inf\nf 1 2 3\n", NonFiniteMeshError, "2 of 3"),
    "nan_ply": ("nan.ply", PLY_HEADER + PLY_FACES.replace("0 0 0\n1 0 0", "nan 0 0\n1 0 0")
                + "3 0 1 2\n3 0 2 1\n", NonFiniteMeshError, "1 of 3"),
    "index_obj": ("far.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 1 2 7\n", FaceIndexError,
                  "does not exist"),
    "index_obj_zero": ("zero.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", FaceIndexError,
                       "index 0"),
    "index_obj_negative": ("neg.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf -1 -2 -5\n", FaceIndexError,
                           "does not exist"),
    "index_off": ("far.off", "OFF\n3 2 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n3 0 1 7\n",
                  FaceIndexError, "does not exist"),
    "index_ply": ("far.ply", PLY_HEADER + PLY_FACES + "3 0 1 2\n3 0 1 7\n", FaceIndexError,
                  "1 face(s)"),
    "index_ply_negative": ("neg.ply", PLY_HEADER + PLY_FACES + "3 0 1 2\n3 0 1 -1\n",
                           FaceIndexError, "1 face(s)"),
    "index_glb": ("far.glb", bad_glb, FaceIndexError, "1 face(s)"),
}


@pytest.mark.parametrize("case", ERROR_CASES)
def test_each_failure_has_its_own_error(tmp_path: Path, case: str) -> None:
    name, content, error, phrase = ERROR_CASES[case]
    path = tmp_path / name
    if callable(content):
        content(path)
    elif content is not None:
        path.write_bytes(content.encode("latin-1"))
    with pytest.raises(error) as caught:
        load_mesh(path)
    assert type(caught.value) is error and isinstance(caught.value, MeshLoadError)
    assert name in str(caught.value) and phrase in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_gltf_with_missing_buffer_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "box.gltf"
    trimesh.creation.box().export(path)
    for buffer in tmp_path.glob("*.bin"):
        buffer.unlink()
    with pytest.raises(MeshParseError, match="box.gltf.*missing"):
        load_mesh(path)


def test_folder_is_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "folder.obj"
    folder.mkdir()
    with pytest.raises(MeshUnreadableError, match="folder.obj.*folder"):
        load_mesh(folder)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads everything")
def test_permission_denied_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "locked.obj"
    asym_mesh().export(path)
    path.chmod(0)
    with pytest.raises(MeshUnreadableError, match="locked.obj"):
        load_mesh(path)


def test_face_budget(tmp_path: Path) -> None:
    path = tmp_path / "asym.ply"
    asym_mesh().export(path)
    with pytest.raises(TooManyFacesError) as caught:
        load_mesh(path, max_faces=3)
    message = str(caught.value)
    assert "asym.ply" in message and "4 faces" in message and "3" in message
    assert "configurable" in message
    assert load_mesh(path, max_faces=4).num_faces == 4


# ---------------------------------------------------------------- bundled assets


def test_bundled_assets_load_cleanly() -> None:
    infos = assets.list_assets()
    assert len(infos) >= 3 and infos[0].name == assets.DEFAULT_ASSET
    others = [info for info in infos if info.kind != "mesh"]
    assert {info.kind for info in others} == {"splats", "voxels", "sdf"}
    for info in others:                           # the scenes load as their representation
        shape = assets.load_asset(info.name)
        assert shape.kind == info.kind and shape.num_elements == info.faces, info.name
    for info in infos:
        if info.kind != "mesh":
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error", MeshLoadWarning)
            mesh = assets.load_asset(info.name)
        assert mesh.num_faces == info.faces and mesh.warnings == []
        assert_normalised(mesh)
        tm = trimesh.Trimesh(mesh.verts.numpy(), mesh.faces.numpy(), process=False)
        assert tm.is_winding_consistent and tm.volume > 0, info.name  # closed, outward
    default = assets.load_asset()
    assert default.colors is not None and default.colors.shape == (default.num_verts, 3)
    assert default.colors.std(0).min().item() > 0.1  # a gradient, not one flat colour


def test_asset_lookup() -> None:
    assert assets.asset_path("sphere").is_file()
    with pytest.raises(KeyError) as caught:
        assets.asset_path("teapot")
    assert isinstance(caught.value, assets.UnknownAssetError)
    assert "teapot" in str(caught.value) and "knot" in str(caught.value)


def test_assets_are_small() -> None:
    total = sum(p.stat().st_size for p in assets.ASSETS_DIR.rglob("*") if p.is_file())
    assert total < 2 * 1024 * 1024
