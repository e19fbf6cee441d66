"""Schedules for sigma and gamma: constant, or annealed geometrically from coarse to fine.

A blurry (large sigma) render gives a smooth loss landscape far from the optimum; a sharp one an
accurate optimum (SoftRas README: "scheduled blurry renderings"). ``Schedule.geometric(1e-3, 1e-5)``
goes from 1e-3 at the first step to 1e-5 at the last, multiplying by the same factor each step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Schedule:
    """start: the value at step 0; end: the value at the last step (None: constant ``start``).
    Between them the value is start * (end / start) ** (step / (steps - 1))."""

    start: float
    end: Optional[float] = None

    def __post_init__(self) -> None:
        for name, v in (("start", self.start), ("end", self.end)):
            if v is None and name == "end":
                continue
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"schedule {name} must be a positive finite number, got {v!r}")

    @staticmethod
    def constant(value: float) -> "Schedule":
        return Schedule(float(value))

    @staticmethod
    def geometric(start: float, end: float) -> "Schedule":
        return Schedule(float(start), float(end))

    @property
    def annealed(self) -> bool:
        return self.end is not None and self.end != self.start

    def value(self, step: int, steps: int) -> float:
        """The value at ``step`` (0-based) of a run of ``steps`` steps."""
        if not self.annealed or steps <= 1:
            return self.start
        t = min(max(step / (steps - 1), 0.0), 1.0)
        return self.start * (self.end / self.start) ** t  # type: ignore[operator]

    def describe(self) -> str:
        return f"{self.start:g}" if not self.annealed else f"{self.start:g} -> {self.end:g} (geometric)"

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end}

    @staticmethod
    def from_dict(d: dict) -> "Schedule":
        return Schedule(float(d["start"]), None if d.get("end") is None else float(d["end"]))


def parse_anneal(text: str) -> Schedule:
    """'S0,S1' -> Schedule.geometric(S0, S1); ValueError with the expected form otherwise."""
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"expected two numbers START,END (e.g. 1e-3,1e-5), got {text!r}") from None
    if len(values) != 2:
        raise ValueError(f"expected two numbers START,END (e.g. 1e-3,1e-5), got {text!r}")
    return Schedule.geometric(*values)
