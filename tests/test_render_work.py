"""Render-time prediction and cancelling a long call in a worker thread (issue 13, defect 4),
without a window."""
from __future__ import annotations

import threading
import time

import pytest

from app.model.render_work import (DEFAULT_SECONDS_PER_PAIR, LEARN_MIN_PAIRS, Busy, HeldRender, RenderCost,
                                   describe_seconds)
from app.workers.cancel import CancelGate, Cancelled


def test_prediction_is_linear_in_pairs_and_learns_from_timed_renders():
    cost = RenderCost()
    assert cost.predict(None) is None
    assert cost.predict(10_000_000) == pytest.approx(10_000_000 * DEFAULT_SECONDS_PER_PAIR)
    # a machine (or renderer) four times faster than the seed: halfway in log space per render
    fast = DEFAULT_SECONDS_PER_PAIR / 4
    assert cost.learn(20_000_000, 20_000_000 * fast)
    assert cost.seconds_per_pair == pytest.approx(DEFAULT_SECONDS_PER_PAIR / 2)
    for _ in range(20):
        cost.learn(20_000_000, 20_000_000 * fast)
    assert cost.seconds_per_pair == pytest.approx(fast, rel=1e-3)
    # small renders are fixed costs, not pairs; nonsense timings are ignored
    before = cost.seconds_per_pair
    assert not cost.learn(LEARN_MIN_PAIRS - 1, 10.0)
    assert not cost.learn(20_000_000, float("nan")) and not cost.learn(None, 1.0)
    assert cost.seconds_per_pair == before
    assert RenderCost(float("inf")).seconds_per_pair == DEFAULT_SECONDS_PER_PAIR


def test_messages_say_what_and_how_long():
    assert describe_seconds(0.42) == "0.4 s" and describe_seconds(125) == "2 min 5 s"
    held = HeldRender("softras, sigma=0.003, gamma=0.0001 \u00b7 256 px", 41.0, 19_000_000, 2.0, "restored")
    text = held.message()
    assert "sigma=0.003" in text and "41 s" in text and "19.0 M" in text and "2.0 s budget" in text
    assert text.startswith("restored:")
    busy = Busy("render", "softras, sigma=0.003", time.monotonic() - 3.0, 12.0)
    assert busy.shown and "rendering softras, sigma=0.003: 3.0 s of about 12 s" == busy.describe()


def test_cancel_gate_interrupts_a_long_call_in_another_thread():
    gate = CancelGate()
    outcome = {}
    started = threading.Event()

    def long_call() -> str:
        started.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:       # like a renderer's chunks: Python between ops
            time.sleep(0.01)
        return "finished"

    def worker() -> None:
        try:
            outcome["value"] = gate.run(7, long_call)
        except Cancelled:
            outcome["value"] = "cancelled"
        outcome["after"] = gate.run(8, lambda: "next job runs")    # nothing left pending

    thread = threading.Thread(target=worker)
    thread.start()
    assert started.wait(5)
    assert not gate.interrupt(6)                 # another job: nothing happens
    t0 = time.monotonic()
    assert gate.interrupt(7)
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - t0 < 2
    assert outcome == {"value": "cancelled", "after": "next job runs"}
    assert not gate.interrupt(7)                 # once only, and not outside run
