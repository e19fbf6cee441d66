"""How a run optimizes: ``RunConfig`` (optimizer, steps, schedules, stopping, recording).

What is optimized, against which targets, with which loss terms, is the task's business
(``renderer.optimize.tasks``); the config is everything else, and is stamped into the Timeline.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

import torch

from .schedules import Schedule

OPTIMIZERS = ("adam", "sgd")
DEFAULT_MEMORY_BUDGET = 1 << 30            # bytes: 1 GiB of recorded history


@dataclass
class RunConfig:
    """steps: most optimizer steps; optimizer: adam or sgd; lr: learning rate (in the units of the
    task's parameters, see each task); betas: Adam's; momentum: SGD's; views_per_step: target views
    per step (None: all), drawn at random without replacement from a generator seeded with
    ``seed``; sigma, gamma: schedules over the run; stop_loss: stop once the total loss is at or
    below it; stop_error: stop once the task's primary parameter error (its unit) is at or below
    it (only where the truth is known); patience: stop when the loss has not improved by a
    relative ``min_delta`` for this many steps (None: never); frame_every: record a frame every so
    many steps (the last step always); frame_view: the target view the frames show;
    memory_budget: bytes of recorded history (frames are thinned beyond it, scalars never)."""

    steps: int = 300
    optimizer: str = "adam"
    lr: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.0
    views_per_step: Optional[int] = None
    seed: int = 0
    sigma: Schedule = field(default_factory=lambda: Schedule.constant(1e-4))
    gamma: Schedule = field(default_factory=lambda: Schedule.constant(1e-4))
    stop_loss: Optional[float] = None
    stop_error: Optional[float] = None
    patience: Optional[int] = None
    min_delta: float = 1e-4
    frame_every: int = 1
    frame_view: int = 0
    memory_budget: int = DEFAULT_MEMORY_BUDGET

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the field for a value out of range."""
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps must be a positive whole number, got {self.steps!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"learning rate must be a positive finite number, got {self.lr!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"Adam betas must be two numbers in [0, 1), got {self.betas!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {self.momentum!r}")
        if self.views_per_step is not None and self.views_per_step < 1:
            raise ValueError(f"views per step must be at least 1, got {self.views_per_step}")
        for name in ("stop_loss", "stop_error"):
            v = getattr(self, name)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"{name} must be finite, got {v!r}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be at least 1 step, got {self.patience}")
        if self.frame_every < 1:
            raise ValueError(f"frame_every must be at least 1, got {self.frame_every}")
        if self.memory_budget < 0:
            raise ValueError(f"memory budget must not be negative, got {self.memory_budget}")
        for name in ("sigma", "gamma"):
            if not isinstance(getattr(self, name), Schedule):
                raise ValueError(f"{name} must be a Schedule, got {getattr(self, name)!r}")

    def replace(self, **changes) -> "RunConfig":
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return RunConfig(**values)

    def make_optimizer(self, groups: list[dict]) -> torch.optim.Optimizer:
        """The torch optimizer over ``groups`` (dicts with "params" and "lr")."""
        if self.optimizer == "adam":
            return torch.optim.Adam(groups, lr=self.lr, betas=tuple(self.betas))
        return torch.optim.SGD(groups, lr=self.lr, momentum=self.momentum)

    def to_dict(self) -> dict:
        """JSON-ready dict (schedules as {"start", "end"})."""
        d = asdict(self)
        d["sigma"], d["gamma"] = self.sigma.to_dict(), self.gamma.to_dict()
        d["betas"] = list(self.betas)
        return d

    @staticmethod
    def from_dict(d: dict) -> "RunConfig":
        d = dict(d)
        d["sigma"], d["gamma"] = Schedule.from_dict(d["sigma"]), Schedule.from_dict(d["gamma"])
        d["betas"] = tuple(d["betas"])
        known = {f.name for f in fields(RunConfig)}
        return RunConfig(**{k: v for k, v in d.items() if k in known})
