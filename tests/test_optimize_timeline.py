"""Timeline: exact save/load round trip, atomic writes, refusal of damaged or foreign files, the
memory budget, and a run stopped half-way."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from renderer.optimize import FORMAT_VERSION, Timeline, TimelineFileError, load_timeline
from renderer.optimize import timeline_file


def synthetic_timeline(steps: int = 12, size: int = 8, budget: int = 1 << 30) -> Timeline:
    rng = np.random.default_rng(3)
    tl = Timeline(meta={"task": {"task": "shape", "truth": (1.0, 2.0)}, "config": {"lr": 0.1}},
                  arrays={"faces": np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int64)}, memory_budget=budget)
    for k in range(steps):
        scalars = {"loss": float(rng.random()), "sigma": 1e-4 * 0.9 ** k}
        if k >= 3:
            scalars["loss/laplacian"] = float(rng.random())        # a term that appears later
        if k == 5:
            scalars["loss"] = float("nan")
        tl.add_step(k, scalars)
        if k % 2 == 0:
            tl.add_frame(k, {"render": rng.random((size, size)), "dL_dI": rng.standard_normal((size, size)),
                             "verts": rng.random((4, 3))})
    return tl


def assert_same(a: Timeline, b: Timeline) -> None:
    assert a.meta == b.meta
    assert np.array_equal(a.steps, b.steps)
    assert a.scalar_names == b.scalar_names
    assert np.array_equal(a.scalars_array(), b.scalars_array(), equal_nan=True)
    assert a.frame_steps == b.frame_steps and a.pane_names == b.pane_names
    for step in a.frame_steps:
        fa, fb = a.frame(step), b.frame(step)
        for pane in a.pane_names:
            assert fa[pane].dtype == fb[pane].dtype and np.array_equal(fa[pane], fb[pane])
    assert a.arrays.keys() == b.arrays.keys()
    for k in a.arrays:
        assert np.array_equal(a.arrays[k], b.arrays[k]) and a.arrays[k].dtype == b.arrays[k].dtype
    assert (a.frame_stride, a.memory_budget, a.nbytes) == (b.frame_stride, b.memory_budget, b.nbytes)


def test_round_trip_is_exact(tmp_path):
    tl = synthetic_timeline()
    path = tmp_path / "run.npz"
    tl.save(path)
    back = load_timeline(path)
    assert_same(tl, back)
    assert np.isnan(back.scalar("loss/laplacian")[:3]).all() and np.isnan(back.scalar("loss")[5])
    # loading, then saving again, gives the same timeline once more
    back.save(tmp_path / "again.npz")
    assert_same(tl, load_timeline(tmp_path / "again.npz"))
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_empty_timeline_round_trips(tmp_path):
    tl = Timeline(meta={"status": "ready"})
    tl.save(tmp_path / "empty.npz")
    back = load_timeline(tmp_path / "empty.npz")
    assert len(back) == 0 and back.frame_steps == [] and back.meta == {"status": "ready"}


def test_tiny_memory_budget_thins_frames_and_keeps_every_scalar():
    frame_bytes = 2 * 16 * 16 * 4                                # two (16, 16) float32 panes
    budget = 6 * frame_bytes
    tl = Timeline(memory_budget=budget)
    for k in range(200):
        tl.add_step(k, {"loss": 1.0 / (k + 1), "param/x": float(k)})
        tl.add_frame(k, {"render": np.full((16, 16), k), "target": np.zeros((16, 16))})
        assert tl.nbytes <= budget
    assert len(tl) == 200 and np.array_equal(tl.scalar("param/x"), np.arange(200))
    steps = tl.frame_steps
    assert steps[-1] == 199                                      # the newest frame is always there
    assert 2 <= len(steps) <= 6 and tl.frame_stride > 1
    assert all(s % tl.frame_stride == 0 for s in steps[:-1])     # evenly thinned
    assert tl.frame(steps[0])["render"][0, 0] == steps[0]


def test_budget_below_one_frame_keeps_no_frames_but_all_scalars():
    tl = Timeline(memory_budget=1000)
    for k in range(20):
        tl.add_step(k, {"loss": float(k)})
        assert not tl.add_frame(k, {"render": np.zeros((32, 32))})
    assert tl.frame_steps == [] and len(tl) == 20 and np.array_equal(tl.scalar("loss"), np.arange(20))


def test_frames_must_keep_their_panes():
    tl = Timeline()
    tl.add_frame(0, {"render": np.zeros((4, 4))})
    with pytest.raises(ValueError, match="differ"):
        tl.add_frame(1, {"render": np.zeros((5, 5))})
    tl.add_step(3, {})
    with pytest.raises(ValueError, match="increase"):
        tl.add_step(2, {})


@pytest.mark.parametrize("damage", ["truncated", "corrupted", "garbage", "empty"])
def test_damaged_file_is_refused_with_a_clear_message(tmp_path, damage):
    path = tmp_path / "run.npz"
    synthetic_timeline(size=32).save(path)
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "corrupted":
        for i in range(len(data) // 3, len(data) // 3 + 64):
            data[i] ^= 0x5A
    elif damage == "garbage":
        data = bytearray(b"not a zip file at all" * 10)
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(TimelineFileError) as info:
        load_timeline(path)
    message = str(info.value)
    assert "run.npz" in message and ("damaged" in message or "not a" in message)
    assert "\n" not in message
    assert path.read_bytes() == bytes(data)                      # loading changes nothing


def test_newer_version_and_foreign_files_are_refused(tmp_path):
    path = tmp_path / "run.npz"
    synthetic_timeline().save(path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with np.load(path) as data:
        header = json.loads(str(data["meta"]))
    header["version"] = FORMAT_VERSION + 1
    newer = tmp_path / "newer.npz"
    arrays = dict(np.load(path))
    arrays["meta"] = np.array(json.dumps(header))
    np.savez(newer, **arrays)
    with pytest.raises(TimelineFileError, match="newer"):
        load_timeline(newer)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, images=np.zeros((2, 4, 4)))
    with pytest.raises(TimelineFileError, match="not a diffrender-debugger timeline"):
        load_timeline(foreign)
    with pytest.raises(TimelineFileError, match="does not exist"):
        load_timeline(tmp_path / "missing.npz")
    assert members                                               # the original was a readable zip


def test_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    synthetic_timeline(steps=4).save(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(timeline_file.np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        synthetic_timeline(steps=9).save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]


def test_run_stopped_half_way_saves_a_valid_file(tmp_path):
    from renderer.assets import load_asset
    from renderer.optimize import STOPPED, Run, build_run

    task, config = build_run("pose", load_asset("axes"), size=32, steps=20)

    def stop_at_four(record):
        if record.step == 4:
            run.stop()

    run = Run(task, config, on_step=stop_at_four)
    run.run()
    assert run.status == STOPPED and run.next_step == 5
    path = tmp_path / "half.npz"
    run.timeline.save(path)
    back = load_timeline(path)
    assert list(back.steps) == [0, 1, 2, 3, 4]
    assert back.meta["status"] == "stopped" and back.meta["steps_done"] == 5
    assert back.meta["config"]["steps"] == 20 and back.meta["task"]["task"] == "pose"
    assert back.pane_names[:4] == ["render", "target", "difference", "dL_dI"]
    assert np.isfinite(back.scalar("error/azimuth")).all()
