"""Where the project's shared real inputs live (test and benchmark meshes, the SoftRas data).

They sit in ``../shared`` beside the repository, never inside it. ``DRD_SHARED`` overrides the
location (e.g. for a clone elsewhere); /work/shared is the development machine's layout.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The shared folder: $DRD_SHARED, else ../shared beside the repository, else /work/shared
    (returned even if absent; callers say what is missing)."""
    candidates = [Path(os.environ["DRD_SHARED"])] if os.environ.get("DRD_SHARED") else []
    candidates += [REPO_ROOT.parent / "shared", Path("/work/shared")]
    for path in candidates:
        if (path / "meshes").is_dir():
            return path
    return candidates[0]


def shared_mesh(*parts: str) -> Path:
    """A file under shared/meshes, e.g. shared_mesh("spot", "cow.obj")."""
    return shared_dir() / "meshes" / Path(*parts)
