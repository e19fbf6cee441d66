"""The run summary and the record agree, and a pose error in degrees is the angle between the
view directions (issue 13, defect 10)."""
from __future__ import annotations

import math
import re

import pytest
import torch

from renderer.assets import load_asset
from renderer.camera import direction_from_angles
from renderer.optimize import Run, build_run


def true_angle(az_a: float, el_a: float, az_b: float, el_b: float) -> float:
    a, b = direction_from_angles(az_a, el_a).double(), direction_from_angles(az_b, el_b).double()
    return math.degrees(math.acos(float(torch.clamp((a * b).sum(), -1, 1))))


@pytest.mark.parametrize("a, b", [((45, 30), (75, 45)), ((0, 0), (90, 0)), ((10, 89), (190, 89)),
                                  ((-170, 5), (170, -5))])
def test_view_angle_is_the_angle_between_directions(a, b):
    from renderer.optimize.tasks.pose import view_angle_deg

    assert view_angle_deg(*a, *b) == pytest.approx(true_angle(*a, *b), abs=1e-4)


def test_pose_error_angle_at_the_start_is_the_real_angle(gl_renderer):
    task, _ = build_run("pose", load_asset("axes"), size=32, steps=1, gl=gl_renderer)
    errors = task.error_scalars()
    t, s = task.truth, task.start
    expected = true_angle(float(s.azimuth), float(s.elevation), float(t.azimuth), float(t.elevation))
    assert errors["error/angle"] == pytest.approx(expected, abs=1e-4)
    # the default preset starts 30 deg round and 15 up from azimuth 45, elevation 30: 27.9 deg, not 30
    assert errors["error/angle"] == pytest.approx(27.89, abs=0.01)


def test_summary_and_metadata_are_the_last_recorded_step(gl_renderer):
    task, config = build_run("pose", load_asset("axes"), size=32, steps=5, lr=0.05, gl=gl_renderer)
    run = Run(task, config).run()
    snap = run.timeline.snapshot()
    last = snap.last()
    line = run.summary()
    assert f"at step {int(snap.steps[-1])}" in line
    assert f"final loss {last['loss']:.5g}" in line
    for name in ("angle", "azimuth", "elevation", "distance"):
        shown = re.search(rf"{name} ([+-]?[0-9.e+-]+)", line.split("error:", 1)[1])
        assert shown, (name, line)
        assert float(shown.group(1)) == pytest.approx(last[f"error/{name}"], rel=1e-3, abs=1e-4), (name, line)
    meta = run.timeline.meta
    assert meta["final_step"] == int(snap.steps[-1])
    assert meta["final_errors"] == {k: v for k, v in last.items() if k.startswith("error/")}
    assert meta["summary"] in line
