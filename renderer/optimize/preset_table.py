"""The task presets as plain data (no torch import, so the command line parses quickly); see
``presets`` for what each one follows and ``build_run`` for how they are used.
"""
from __future__ import annotations

from typing import Any

TASKS = ("pose", "shape", "color", "light")        # the mesh tasks; task_names() lists them all
# The representations each task optimizes; other representations' packages add theirs with
# ``presets.register_task``.
TASK_KINDS: dict[str, tuple[str, ...]] = {task: ("mesh",) for task in TASKS}
# One line on what a registered task does, for the run panel and --help.
TASK_DESCRIPTIONS: dict[str, str] = {}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "pose": {
        "default": dict(truth=(45.0, 30.0, 2.2), start_offset=(30.0, 15.0, 0.0), loss="silhouette",
                        size=128, lighting="none",
                        config=dict(steps=300, optimizer="adam", lr=0.05, patience=40, min_delta=1e-4)),
        "pytorch3d": dict(truth=(0.0, 50.0, 3.0), start_position=(3.0, 6.9, 2.5), loss="silhouette-mse",
                          size=128, lighting="none",
                          config=dict(steps=200, optimizer="adam", lr=0.05, stop_loss=200 / 256 ** 2)),
    },
    "shape": {
        "softras": dict(layout="softras", num_views=120, size=64, loss="silhouette", lighting="none",
                        weights={"laplacian": 0.03, "flatten": 0.0003}, reduction="sum",
                        parametrization="softras", template_scale=0.5,
                        config=dict(steps=2000, optimizer="adam", lr=0.01, betas=(0.5, 0.99))),
        "pytorch3d": dict(layout="pytorch3d", num_views=20, size=128, loss="silhouette-mse", lighting="none",
                          weights={"edge": 1.0, "normal": 0.01, "laplacian-norm": 1.0}, reduction="mean",
                          parametrization="offsets", template_scale=1.0,
                          config=dict(steps=2000, optimizer="sgd", lr=1.0, momentum=0.9, views_per_step=2)),
    },
    "color": {
        "default": dict(layout="ring", num_views=4, size=128, loss="l2", lighting="lambertian",
                        config=dict(steps=200, optimizer="adam", lr=0.05)),
    },
    "light": {
        "default": dict(layout="ring", num_views=4, size=128, loss="l2", lighting="lambertian", mode="direction",
                        config=dict(steps=200, optimizer="adam", lr=0.05)),
        "sh": dict(layout="ring", num_views=4, size=128, loss="l2", lighting="sh", mode="sh",
                   config=dict(steps=200, optimizer="adam", lr=0.05)),
    },
}
DEFAULT_PRESETS = {"pose": "default", "shape": "softras", "color": "default", "light": "default"}


def task_names(kind: str | None = None) -> list[str]:
    """Every task (the mesh ones, then those the representation packages registered), or only
    those for representation ``kind``."""
    from ..registry import load_plugins

    load_plugins()
    return [t for t in PRESETS if kind is None or kind in TASK_KINDS.get(t, ("mesh",))]
