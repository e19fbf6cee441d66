"""Generate the bundled meshes in assets/ (deterministic: numpy + trimesh only, no randomness).

    python scripts/make_assets.py

Writes knot.ply, axes.obj, sphere.obj, dumbbell.glb and manifest.json (read by
renderer.assets). Every mesh is closed with outward-facing, counter-clockwise front faces;
the script checks that before writing.
"""
from __future__ import annotations

import colorsys
import json
from pathlib import Path

import numpy as np
import trimesh

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"


def _tube_faces(rings: int, sides: int) -> np.ndarray:
    """(2 * rings * sides, 3) triangles of a closed tube whose vertex (i, j) is i * sides + j."""
    i, j = np.meshgrid(np.arange(rings), np.arange(sides), indexing="ij")
    a = i * sides + j
    b = ((i + 1) % rings) * sides + j
    c = ((i + 1) % rings) * sides + (j + 1) % sides
    d = i * sides + (j + 1) % sides
    # (N, B, T) is right-handed, so j runs counter-clockwise seen along the tangent: a, d, c
    # then turns counter-clockwise seen from outside
    return np.concatenate([np.stack([a, d, c], -1), np.stack([a, c, b], -1)]).reshape(-1, 3)


def make_knot(rings: int = 256, sides: int = 16, tube_radius: float = 0.38) -> trimesh.Trimesh:
    """A tube around the (2, 3) torus knot (trefoil), hue gradient along the knot."""
    t = np.linspace(0.0, 2 * np.pi, rings, endpoint=False)
    big, small = 2.0, 1.0

    def curve(t: np.ndarray) -> np.ndarray:
        ring = big + small * np.cos(3 * t)
        # the knot lies around the Y axis (Y up), so it is seen from the default camera on +Z
        return np.stack([ring * np.cos(2 * t), -small * np.sin(3 * t), ring * np.sin(2 * t)], -1)

    # Frenet frame from finite differences: periodic, so the tube closes without a twist
    h = 1e-4
    d1 = (curve(t + h) - curve(t - h)) / (2 * h)
    d2 = (curve(t + h) - 2 * curve(t) + curve(t - h)) / h ** 2
    tangent = d1 / np.linalg.norm(d1, axis=1, keepdims=True)
    normal = d2 - (d2 * tangent).sum(1, keepdims=True) * tangent
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    binormal = np.cross(tangent, normal)
    # the tube must be thinner than the tightest bend, or its inner side folds over itself
    bend_radius = np.linalg.norm(d1, axis=1) ** 3 / np.linalg.norm(np.cross(d1, d2), axis=1)
    assert bend_radius.min() > tube_radius, bend_radius.min()

    angle = np.linspace(0.0, 2 * np.pi, sides, endpoint=False)
    offsets = (np.cos(angle)[None, :, None] * normal[:, None] +
               np.sin(angle)[None, :, None] * binormal[:, None])
    verts = (curve(t)[:, None] + tube_radius * offsets).reshape(-1, 3)
    hues = np.repeat(np.arange(rings) / rings, sides)
    colors = np.array([colorsys.hsv_to_rgb(h, 0.7, 0.95) for h in hues])
    rgba = np.concatenate([np.round(colors * 255), np.full((len(verts), 1), 255)], 1)
    return trimesh.Trimesh(verts, _tube_faces(rings, sides), vertex_colors=rgba.astype(np.uint8),
                           process=False)


def make_axes() -> trimesh.Trimesh:
    """A grey cube with arms of different lengths along +X (red), +Y (green), +Z (blue).

    No mirror symmetry, so a flipped axis or handedness error shows at a glance.
    """
    blocks = [  # (min corner, max corner, RGB)
        ((-0.3, -0.3, -0.3), (0.3, 0.3, 0.3), (200, 200, 200)),
        ((0.3, -0.12, -0.12), (2.0, 0.12, 0.12), (220, 40, 40)),
        ((-0.12, 0.3, -0.12), (0.12, 1.4, 0.12), (40, 190, 60)),
        ((-0.12, -0.12, 0.3), (0.12, 0.12, 0.9), (50, 80, 230)),
    ]
    parts = []
    for lo, hi, rgb in blocks:
        lo, hi = np.array(lo), np.array(hi)
        centre = trimesh.transformations.translation_matrix((lo + hi) / 2)
        box = trimesh.creation.box(extents=hi - lo, transform=centre)
        box.visual.vertex_colors = (*rgb, 255)
        parts.append(box)
    return trimesh.util.concatenate(parts)


def make_sphere() -> trimesh.Trimesh:
    """An icosphere (subdivision 4), no colours."""
    return trimesh.creation.icosphere(subdivisions=4, radius=1.0)


def make_dumbbell() -> trimesh.Scene:
    """A glTF scene: a bar and two weights, each weight moved into place by its node transform."""
    weight = trimesh.creation.icosphere(subdivisions=2, radius=0.45)
    weight.visual.vertex_colors = (40, 60, 160, 255)
    along_x = trimesh.transformations.rotation_matrix(np.pi / 2, (0, 1, 0))
    bar = trimesh.creation.cylinder(radius=0.12, height=2.0, sections=24, transform=along_x)
    bar.visual.vertex_colors = (170, 170, 175, 255)
    scene = trimesh.Scene()
    scene.add_geometry(bar, geom_name="bar", node_name="bar")
    for side, x in (("left", -1.0), ("right", 1.0)):
        scene.add_geometry(weight, geom_name="weight", node_name=f"weight_{side}",
                           transform=trimesh.transformations.translation_matrix((x, 0.0, 0.0)))
    return scene


def _check_closed_outward(name: str, mesh: trimesh.Trimesh) -> None:
    """Every connected piece must be watertight, consistently wound, with positive volume."""
    for piece in mesh.split(only_watertight=False):
        assert piece.is_watertight and piece.is_winding_consistent, name
        assert piece.volume > 0, f"{name}: a piece is inside out"


ASSETS = {
    "knot": ("knot.ply", "Trefoil torus knot tube with a rainbow hue gradient (vertex colours)",
             make_knot),
    "axes": ("axes.obj", "Cube with unequal arms along +X red, +Y green, +Z blue "
                         "(asymmetric; for orientation checks)", make_axes),
    "sphere": ("sphere.obj", "Icosphere, subdivision 4, no colours", make_sphere),
    "dumbbell": ("dumbbell.glb", "glTF scene: two weights placed by node transforms "
                                 "and a bar (vertex colours)", make_dumbbell),
}


def main() -> None:
    ASSETS_DIR.mkdir(exist_ok=True)
    manifest = []
    for name, (file_name, description, make) in ASSETS.items():
        made = make()
        flat = made.to_mesh() if isinstance(made, trimesh.Scene) else made
        _check_closed_outward(name, flat)
        path = ASSETS_DIR / file_name
        if path.suffix == ".obj":
            # normals are recomputed on load; leaving them out halves the file
            made.export(path, include_normals=False)
        else:
            made.export(path)
        manifest.append({"name": name, "file": file_name, "description": description,
                         "faces": int(len(flat.faces))})
        print(f"{file_name}: {len(flat.faces)} faces, {path.stat().st_size / 1024:.0f} KiB")
    (ASSETS_DIR / "manifest.json").write_text(json.dumps({"default": "knot", "assets": manifest},
                                                         indent=2) + "\n")


if __name__ == "__main__":
    main()
