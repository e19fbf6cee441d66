"""Files in and out: what kind a dropped file is, and File > Export (each pane as PNG, the buffers
as NPY, the window as a screenshot, and the settings that produced them as JSON)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from renderer.io import SUPPORTED_EXTENSIONS

from renderer.images import TARGET_IMAGE_EXTENSIONS as IMAGE_EXTENSIONS

if TYPE_CHECKING:
    from .main_window import MainWindow


def file_kind(path: str | Path) -> str:
    """"image" for a target image, "mesh" for everything else (the mesh loader names the problem
    when it is not a mesh either)."""
    suffix = Path(path).suffix.lower()
    return "image" if suffix in IMAGE_EXTENSIONS and suffix not in SUPPORTED_EXTENSIONS else "mesh"


def _write_png(path: Path, rgb_uint8: np.ndarray) -> None:
    import imageio.v3 as iio

    iio.imwrite(str(path), np.ascontiguousarray(rgb_uint8), extension=".png")


def export_all(window: "MainWindow", folder: str | Path) -> list[Path]:
    """Write every pane, buffer and a window screenshot into ``folder`` (created if missing).
    Raises OSError / ValueError with the reason when the folder cannot be written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not folder.is_dir():
        raise ValueError(f"cannot export to {folder}: not a folder")
    written: list[Path] = []
    for name, pane in (("soft", window.soft_pane), ("reference", window.gl_pane),
                       ("analysis", window.analysis_pane)):
        rgb = pane.rendered_rgb()
        if rgb is not None:
            path = folder / f"{name}.png"
            _write_png(path, rgb)
            written.append(path)
    render = window.last_render
    if render is not None:
        for prefix, buffers in (("soft", render["soft"]), ("reference", render["gl"])):
            for key, array in buffers.items():
                path = folder / f"{prefix}_{key}.npy"
                np.save(path, np.asarray(array))
                written.append(path)
    analysis = window.analysis_pane.last_result
    if analysis is not None and analysis.heatmap is not None:
        path = folder / f"analysis_{analysis.request.mode}.npy"
        np.save(path, np.asarray(analysis.heatmap.values, np.float32))
        written.append(path)
    shot = folder / "window.png"
    if not window.grab().save(str(shot), "PNG"):
        raise OSError(f"could not write the window screenshot {shot}")
    written.append(shot)
    meta = folder / "settings.json"
    meta.write_text(json.dumps(export_metadata(window), indent=1))
    written.append(meta)
    return written


def export_metadata(window: "MainWindow") -> dict:
    """The settings the exported images were made with (the rendered scene, not the sliders)."""
    from .persistence import scene_values

    scene = window.last_render["scene"] if window.last_render is not None else window.scene
    out = {"mesh": scene.mesh.name, "mesh_path": window.mesh_path, "faces": scene.mesh.num_faces,
           "scene": scene_values(scene), "analysis_mode": window.analysis_pane.mode()}
    result = window.analysis_pane.last_result
    if result is not None:
        req = result.request
        out["analysis"] = {"mode": req.mode, "loss": req.loss, "param": req.param,
                           "target": req.target.describe(), "summary": result.lines}
    return out
