"""File > Export: each pane as PNG, the buffers as NPY, the window as a screenshot, and the
settings that produced them as JSON."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtWidgets import QWidget

from ..model.app_model import AppModel
from ..model.scene_values import scene_values
from ..panes.scene_panes import ScenePanes


def _write_png(path: Path, rgb_uint8: np.ndarray) -> None:
    import imageio.v3 as iio

    iio.imwrite(str(path), np.ascontiguousarray(rgb_uint8), extension=".png")


def export_all(folder: str | Path, model: AppModel, panes: ScenePanes, last_render: Optional[dict],
               window: QWidget) -> list[Path]:
    """Write every pane, the buffers of ``last_render`` (the worker's latest render) and a
    screenshot of ``window`` into ``folder`` (created if missing). Raises OSError / ValueError
    with the reason when the folder cannot be written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not folder.is_dir():
        raise ValueError(f"cannot export to {folder}: not a folder")
    written: list[Path] = []
    for name, pane in (("soft", panes.soft), ("reference", panes.reference), ("analysis", panes.analysis)):
        rgb = pane.rendered_rgb()
        if rgb is not None:
            path = folder / f"{name}.png"
            _write_png(path, rgb)
            written.append(path)
    if last_render is not None:
        for prefix, buffers in (("soft", last_render["soft"]), ("reference", last_render["gl"])):
            for key, array in buffers.items():
                path = folder / f"{prefix}_{key}.npy"
                np.save(path, np.asarray(array))
                written.append(path)
    analysis = panes.analysis.last_result
    if analysis is not None and analysis.heatmap is not None:
        path = folder / f"analysis_{analysis.request.mode}.npy"
        np.save(path, np.asarray(analysis.heatmap.values, np.float32))
        written.append(path)
    shot = folder / "window.png"
    if not window.grab().save(str(shot), "PNG"):
        raise OSError(f"could not write the window screenshot {shot}")
    written.append(shot)
    meta = folder / "settings.json"
    meta.write_text(json.dumps(export_metadata(model, panes, last_render), indent=1))
    written.append(meta)
    return written


def export_metadata(model: AppModel, panes: ScenePanes, last_render: Optional[dict]) -> dict:
    """The settings the exported images were made with (the rendered scene, not the sliders)."""
    scene = last_render["scene"] if last_render is not None else model.scene
    out = {"mesh": scene.shape.name, "mesh_path": model.mesh_path, "representation": scene.kind,
           f"{scene.shape.element_name}s": scene.shape.num_elements,
           "scene": scene_values(scene), "analysis_mode": model.mode}
    result = panes.analysis.last_result
    if result is not None:
        req = result.request
        out["analysis"] = {"mode": req.mode, "loss": req.loss, "param": req.param,
                           "target": req.target.describe(), "summary": result.lines}
    return out
