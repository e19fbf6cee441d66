"""What the app knows about the render work going on (no Qt): the job the panes wait for, a slow
render held back until the user says go, and how long a render will take.

A render's time grows about linearly with the (pixel, face) pairs it forms
(``renderer.rendering.estimate_pairs``, known in milliseconds before the work). ``RenderCost``
turns pairs into seconds with a rate learnt from the renders this app has timed on this machine,
seeded by a constant measured on a small laptop; so a renderer that gets faster (or a faster
machine) is predicted faster after a render or two.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional

DEFAULT_BUDGET_S = 2.0               # ask before a render predicted to take longer than this
# Seconds per (pixel, face) pair of a SoftRas forward render on a 2-core laptop CPU (the knot at
# 256 px, sigma 1e-4 .. 3e-3, phong: 80 .. 180 ns per pair); learnt from the app's renders after.
DEFAULT_SECONDS_PER_PAIR = 1.5e-7
RATE_RANGE = (1e-10, 1e-5)           # a learnt rate outside this is a measuring accident
LEARN_MIN_PAIRS = 300_000            # smaller renders are dominated by fixed costs, not pairs
LEARN_WEIGHT = 0.5                   # weight of a new measurement (in log space)
BUSY_SHOWN_AFTER_S = 0.5             # a job shorter than this shows no busy state (no flicker) ...
BUSY_SHOWN_IF_PREDICTED_S = 1.0      # ... unless it is predicted to be long: then at once


def describe_seconds(seconds: Optional[float]) -> str:
    """'0.4 s', '12 s', '2 min 5 s', or '?' for an unknown time."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    whole = int(round(seconds))
    return f"{whole // 60} min {whole % 60} s"


class RenderCost:
    """Predicts a render's seconds from its pair count; ``learn`` refines the rate from a timed
    render. ``seconds_per_pair``: the starting rate (e.g. the one saved by the last session)."""

    def __init__(self, seconds_per_pair: float = DEFAULT_SECONDS_PER_PAIR) -> None:
        self.seconds_per_pair = self._clamped(seconds_per_pair)
        self.learnt = 0                 # timed renders the rate has learnt from

    @staticmethod
    def _clamped(rate: float) -> float:
        try:
            rate = float(rate)
        except (TypeError, ValueError):
            return DEFAULT_SECONDS_PER_PAIR
        if not math.isfinite(rate):
            return DEFAULT_SECONDS_PER_PAIR
        return min(RATE_RANGE[1], max(RATE_RANGE[0], rate))

    def predict(self, pairs: Optional[int]) -> Optional[float]:
        """Seconds for a render of ``pairs`` pairs; None when the count is unknown."""
        return None if pairs is None else pairs * self.seconds_per_pair

    def learn(self, pairs: Optional[int], seconds: float) -> bool:
        """Fold a timed render into the rate (a geometric mean with the old one, so one odd
        measurement moves it at most halfway); returns whether it was used."""
        if pairs is None or pairs < LEARN_MIN_PAIRS or not (seconds > 0 and math.isfinite(seconds)):
            return False
        measured = self._clamped(seconds / pairs)
        self.seconds_per_pair = math.exp((1 - LEARN_WEIGHT) * math.log(self.seconds_per_pair)
                                         + LEARN_WEIGHT * math.log(measured))
        self.learnt += 1
        return True


@dataclass(frozen=True)
class Busy:
    """A job the panes wait for. stage: "render" (the soft render and its reference; the analysis
    follows) or "analysis"; label: what is being made (the renderer and the settings it reads,
    e.g. "softras, sigma=0.003, gamma=0.0001 · 256 px", or the analysis mode); started:
    ``time.monotonic()`` when it began; predicted_s: the expected seconds, if known."""

    stage: str
    label: str
    started: float
    predicted_s: Optional[float] = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def shown(self) -> bool:
        """Whether the panes show it (and Esc cancels it): it has lasted a while, or is predicted
        to."""
        predicted_long = self.predicted_s is not None and self.predicted_s >= BUSY_SHOWN_IF_PREDICTED_S
        return predicted_long or self.elapsed() >= BUSY_SHOWN_AFTER_S

    def describe(self) -> str:
        """E.g. 'rendering softras, sigma=0.003 · 256 px: 3.4 s of about 12 s'."""
        verb = "rendering" if self.stage == "render" else "computing"
        expected = "" if self.predicted_s is None else f" of about {describe_seconds(self.predicted_s)}"
        return f"{verb} {self.label}: {describe_seconds(self.elapsed())}{expected}"


@dataclass(frozen=True)
class HeldRender:
    """A render predicted to take longer than the budget, waiting for the user's go. label: the
    settings it would render; predicted_s, pairs: why it is held; reason: extra words (e.g. the
    settings were restored from the last session)."""

    label: str
    predicted_s: float
    pairs: Optional[int]
    budget_s: float
    reason: str = ""

    def message(self) -> str:
        pairs = f" ({self.pairs / 1e6:.1f} M pixel-face pairs)" if self.pairs else ""
        why = f"{self.reason}: " if self.reason else ""
        return (f"{why}rendering {self.label} is predicted to take about {describe_seconds(self.predicted_s)}"
                f"{pairs}, over the {describe_seconds(self.budget_s)} budget (Edit > Preferences)")
