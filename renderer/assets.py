"""The meshes bundled in assets/ (made by scripts/make_assets.py, listed in its manifest.json)
and the scenes of the other representations (splats, voxels, SDFs), listed in assets/scenes.json
by the packages that made them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .io import load
from .shapes import Shape

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
MANIFEST_PATH = ASSETS_DIR / "manifest.json"
SCENES_PATH = ASSETS_DIR / "scenes.json"
DEFAULT_ASSET = "knot"


@dataclass(frozen=True)
class AssetInfo:
    """One bundled mesh or scene: its name, file, a one-line description, its element count
    (triangles of a mesh, splats, cells, primitives) and its representation."""

    name: str
    path: Path
    description: str
    faces: int
    kind: str = "mesh"


class UnknownAssetError(UserError, KeyError):
    """No bundled asset has this name; the message lists the names there are."""

    def __str__(self) -> str:
        # KeyError's own __str__ shows the repr (quoted); a message reads better plain
        return str(self.args[0]) if self.args else ""


def list_assets() -> list[AssetInfo]:
    """The bundled meshes, in manifest order (the default first), then the other scenes."""
    data = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    entries = list(data["assets"])
    if SCENES_PATH.is_file():
        entries += json.loads(SCENES_PATH.read_text(encoding="utf-8"))["scenes"]
    return [AssetInfo(name=e["name"], path=ASSETS_DIR / e["file"], description=e["description"],
                      faces=int(e.get("faces", e.get("elements", 0))), kind=e.get("kind", "mesh"))
            for e in entries]


def asset_path(name: str) -> Path:
    """Path of the bundled mesh called ``name``; raises UnknownAssetError for other names."""
    assets = list_assets()
    for info in assets:
        if info.name == name:
            return info.path
    raise UnknownAssetError(f"no bundled mesh or scene named {name!r}; available: "
                            f"{', '.join(a.name for a in assets)}")


def load_asset(name: str = DEFAULT_ASSET) -> Shape:
    """Load a bundled mesh or scene by name (normalised like any file, see ``renderer.io.load``)."""
    return load(asset_path(name))
