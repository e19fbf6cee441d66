"""The meshes bundled in assets/ (made by scripts/make_assets.py, listed in its manifest.json)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .io import load_mesh
from .mesh import Mesh

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
MANIFEST_PATH = ASSETS_DIR / "manifest.json"
DEFAULT_ASSET = "knot"


@dataclass(frozen=True)
class AssetInfo:
    """One bundled mesh: its name, file, a one-line description and its triangle count."""

    name: str
    path: Path
    description: str
    faces: int


class UnknownAssetError(UserError, KeyError):
    """No bundled asset has this name; the message lists the names there are."""

    def __str__(self) -> str:
        # KeyError's own __str__ shows the repr (quoted); a message reads better plain
        return str(self.args[0]) if self.args else ""


def list_assets() -> list[AssetInfo]:
    """The bundled meshes, in manifest order (the default first)."""
    data = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    return [AssetInfo(name=e["name"], path=ASSETS_DIR / e["file"], description=e["description"],
                      faces=int(e["faces"])) for e in data["assets"]]


def asset_path(name: str) -> Path:
    """Path of the bundled mesh called ``name``; raises UnknownAssetError for other names."""
    assets = list_assets()
    for info in assets:
        if info.name == name:
            return info.path
    raise UnknownAssetError(f"no bundled mesh named {name!r}; available: "
                            f"{', '.join(a.name for a in assets)}")


def load_asset(name: str = DEFAULT_ASSET) -> Mesh:
    """Load a bundled mesh by name (normalised like any file, see ``renderer.io.load_mesh``)."""
    return load_mesh(asset_path(name))
