"""Runs a task step by step, records every step in a Timeline, and stops on request, at a loss
threshold, on a plateau, or at the first NaN/inf.

A GUI drives it from a worker thread either with ``run.run()`` (honours ``pause()``, ``resume()``
and ``stop()`` from any thread, and calls ``on_step`` after every step) or one ``run.step()`` at
a time; ``run.timeline`` can be read from the GUI thread meanwhile.

    run = Run(task, RunConfig(steps=300, lr=0.05), on_step=lambda rec: print(rec.step, rec.loss))
    run.run()
    run.timeline.save("run.npz")
"""
from __future__ import annotations

import datetime
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

import numpy as np
import torch

from .config import RunConfig
from ..rendering import render_for_loss
from .tasks.base import Task
from .timeline import Timeline

READY, RUNNING, PAUSED = "ready", "running", "paused"
FINISHED, CONVERGED, STOPPED, FAILED = "finished", "converged", "stopped", "failed"
DONE = (FINISHED, CONVERGED, STOPPED, FAILED)


def _value(t: torch.Tensor) -> float:
    return float(t.detach())


@dataclass(frozen=True)
class NonFinite:
    """Where a NaN or inf first appeared: step, quantity (e.g. "loss/laplacian",
    "grad/displace", "param/camera"), and the offending value."""

    step: int
    quantity: str
    value: float

    def __str__(self) -> str:
        return f"{self.value} in {self.quantity} at step {self.step}"


@dataclass
class StepRecord:
    """One finished step: its scalars (as recorded in the timeline), the frame panes when one was
    recorded, and the run's status after it."""

    step: int
    scalars: dict[str, float]
    frame: Optional[dict[str, np.ndarray]] = None
    status: str = RUNNING
    failure: Optional[NonFinite] = None

    @property
    def loss(self) -> float:
        return self.scalars["loss"]


@dataclass
class _Progress:
    best: float = math.inf
    best_step: int = 0
    elapsed: float = 0.0
    stamps: dict = field(default_factory=dict)


class Run:
    """An optimization run of ``task`` under ``config``; records into ``timeline`` (a new one,
    stamped with the task's description and the config, when None)."""

    def __init__(self, task: Task, config: RunConfig, timeline: Optional[Timeline] = None,
                 on_step: Optional[Callable[[StepRecord], None]] = None):
        config.validate()
        if config.frame_view >= len(task.views):
            raise ValueError(f"frame view {config.frame_view} does not exist: the task has {len(task.views)} views")
        self.task, self.config, self.on_step = task, config, on_step
        torch.manual_seed(config.seed)
        self._views_rng = torch.Generator().manual_seed(config.seed)
        self.groups = task.param_groups()
        self.optimizer = config.make_optimizer(
            [{"params": [g.tensor], "lr": config.lr * g.lr_scale, "name": g.name} for g in self.groups])
        self.timeline = timeline if timeline is not None else Timeline(
            memory_budget=config.memory_budget, frame_stride=config.frame_every, arrays=task.arrays())
        st = task.base.settings
        self.timeline.set_meta(task=task.describe(), config=config.to_dict(), status=READY,
                               settings={"renderer": st.renderer, "image_size": st.image_size,
                                         "lighting": st.lighting, "background": list(st.background),
                                         "double_sided": st.double_sided, "flat_shading": st.flat_shading},
                               created=datetime.datetime.now().isoformat(timespec="seconds"),
                               torch=torch.__version__)
        self.status = READY
        self.message = ""
        self.failure: Optional[NonFinite] = None
        self.next_step = 0
        self._progress = _Progress()
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()

    # ------------------------------------------------------------------ control (any thread)

    def pause(self) -> None:
        """Pause ``run()``/``iterate()`` after the current step."""
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def stop(self) -> None:
        """End the run after the current step (its history stays, and can be saved)."""
        self._stop.set()
        self._resume.set()

    def interrupt(self, message: str) -> None:
        """Mark the run stopped from outside a step (e.g. after Ctrl-C); its history stays."""
        if not self.done:
            self._finish(STOPPED, message)

    @property
    def done(self) -> bool:
        return self.status in DONE

    # ------------------------------------------------------------------ driving

    def iterate(self) -> Iterator[StepRecord]:
        """Step until done, yielding each StepRecord; blocks while paused."""
        while not self.done:
            if not self._resume.is_set():
                self.status = PAUSED
                self._resume.wait()
            if self._stop.is_set():
                self._finish(STOPPED, f"stopped at step {self.next_step} of {self.config.steps}")
                return
            yield self.step()

    def run(self) -> "Run":
        """Step until done; returns self (see ``status``, ``message``, ``failure``)."""
        for _ in self.iterate():
            pass
        return self

    def step(self) -> StepRecord:
        """One optimizer step, recorded in the timeline."""
        if self.done:
            raise RuntimeError(f"the run is over ({self.status}: {self.message})")
        cfg, task, k = self.config, self.task, self.next_step
        self.status = RUNNING
        t0 = time.perf_counter()
        sigma, gamma = cfg.sigma.value(k, cfg.steps), cfg.gamma.value(k, cfg.steps)
        batch = self._pick_views()
        want_frame = k == cfg.steps - 1 or (k % cfg.frame_every == 0 and self.timeline.wants_frame(k))
        self.optimizer.zero_grad(set_to_none=True)
        terms, frame_image = [], None
        for vi in batch:
            scene = task.scene_for(task.views[vi]).with_settings(sigma=sigma, gamma=gamma)
            image = render_for_loss(scene, task.channel)[task.channel]
            terms.append((f"view {vi}", self._image_loss(image, vi)))
            if vi == cfg.frame_view:
                frame_image = image
        image_loss = torch.stack([t for _, t in terms]).mean()
        regs = task.regularizers()
        total = image_loss + sum(regs.values()) if regs else image_loss
        scalars: dict[str, float] = {"loss": _value(total), f"loss/{task.image_loss.name}": _value(image_loss)}
        scalars.update({f"loss/{n}": _value(v) for n, v in regs.items()})
        scalars.update(task.param_scalars())
        scalars.update(task.error_scalars())
        frame = None
        if frame_image is not None or want_frame:
            frame = self._frame(frame_image, sigma, gamma)
        checks = [(f"loss/{task.image_loss.name} ({name})", _value(v)) for name, v in terms]
        checks += [(f"loss/{n}", _value(v)) for n, v in regs.items()] + [("loss", _value(total))]
        failure = self._first_nonfinite(k, checks)
        if failure is None:
            if total.requires_grad:
                total.backward()
            failure = self._first_nonfinite(k, self._grad_norms(scalars))
        if failure is None:
            self.optimizer.step()
            with torch.no_grad():
                task.after_step()
            failure = self._first_nonfinite(k, [(f"param/{g.name}", float(g.tensor.detach().abs().max()))
                                                for g in self.groups if not torch.isfinite(g.tensor).all()])
        dt = time.perf_counter() - t0
        self._progress.elapsed += dt
        scalars.update(sigma=sigma, gamma=gamma, lr=float(self.optimizer.param_groups[0]["lr"]),
                       views=float(len(batch)), step_time=dt, time=self._progress.elapsed)
        self.timeline.add_step(k, scalars)
        if frame is not None:
            self.timeline.add_frame(k, frame)
        self.next_step = k + 1
        self._update_status(k, scalars, failure)
        record = StepRecord(k, scalars, frame, self.status, failure)
        if self.on_step is not None:
            self.on_step(record)
        return record

    # ------------------------------------------------------------------ parts of a step

    def _pick_views(self) -> list[int]:
        n, per = len(self.task.views), self.config.views_per_step
        if per is None or per >= n:
            return list(range(n))
        return sorted(torch.randperm(n, generator=self._views_rng)[:per].tolist())

    def _image_loss(self, image: torch.Tensor, view: int) -> torch.Tensor:
        target = self.task.views[view].target
        wanted = (target.alpha if self.task.channel == "alpha" else target.rgb).to(image.device, image.dtype)
        mask = self.task.loss_mask(view) if self.task.channel == "rgb" else None
        if mask is None:
            return self.task.image_loss.fn(image, wanted)
        return self.task.image_loss.fn(image, wanted, mask.to(image.device))

    def _frame(self, image: Optional[torch.Tensor], sigma: float, gamma: float) -> dict[str, np.ndarray]:
        """Panes of the frame view: render, target, difference (render - target), dL_dI (the
        gradient of that view's image loss with respect to its image), and the task's extras."""
        task, vi = self.task, self.config.frame_view
        if image is None:
            with torch.no_grad():
                scene = task.scene_for(task.views[vi]).with_settings(sigma=sigma, gamma=gamma)
                image = render_for_loss(scene, task.channel)[task.channel]
        img = image.detach().clone().requires_grad_(True)
        (d_image,) = torch.autograd.grad(self._image_loss(img, vi), img)
        target = task.views[vi].target
        wanted = (target.alpha if task.channel == "alpha" else target.rgb).to(img.dtype)
        panes = {"render": img.detach(), "target": wanted, "difference": img.detach() - wanted, "dL_dI": d_image}
        out = {k: v.detach().float().cpu().numpy() for k, v in panes.items()}
        out.update(task.frame_extras())
        return out

    def _grad_norms(self, scalars: dict[str, float]) -> list[tuple[str, float]]:
        checks = []
        for g in self.groups:
            grad = g.tensor.grad
            norm = 0.0 if grad is None else float(grad.detach().norm())
            if grad is None:
                g.tensor.grad = torch.zeros_like(g.tensor)       # e.g. the hard renderer: no gradient
            scalars[f"grad_norm/{g.name}"] = norm
            checks.append((f"grad/{g.name}", norm))
        return checks

    @staticmethod
    def _first_nonfinite(step: int, checks: list[tuple[str, float]]) -> Optional[NonFinite]:
        for name, value in checks:
            if not math.isfinite(value):
                return NonFinite(step, name, value)
        return None

    def _update_status(self, k: int, scalars: dict[str, float], failure: Optional[NonFinite]) -> None:
        cfg, p = self.config, self._progress
        loss = scalars["loss"]
        if failure is not None:
            self.failure = failure
            self._finish(FAILED, f"{failure.value} appeared in {failure.quantity} at step {failure.step}; "
                                 "the run was stopped (history kept)")
            return
        if cfg.stop_loss is not None and loss <= cfg.stop_loss:
            self._finish(CONVERGED, f"loss {loss:.4g} reached the threshold {cfg.stop_loss:g} at step {k}")
            return
        err_name = self.task.primary_error
        if cfg.stop_error is not None and err_name in scalars and abs(scalars[err_name]) <= cfg.stop_error:
            self._finish(CONVERGED, f"{err_name} {abs(scalars[err_name]):.4g} reached the tolerance "
                                    f"{cfg.stop_error:g} at step {k}")
            return
        if loss < p.best * (1 - cfg.min_delta) or k == 0:
            p.best, p.best_step = loss, k
        elif cfg.patience is not None and k - p.best_step >= cfg.patience:
            self._finish(CONVERGED, f"loss stopped improving (best {p.best:.4g} at step {p.best_step}, "
                                    f"none better by {cfg.min_delta:g} in {cfg.patience} steps)")
            return
        if k + 1 >= cfg.steps:
            self._finish(FINISHED, f"ran all {cfg.steps} steps")

    def final_record(self) -> tuple[Optional[int], dict[str, float]]:
        """(step, scalars) of the newest recorded step, (None, {}) before the first: the one
        place the summary line and the run's final metadata read, so they agree with the record
        (the loss and errors of a row belong to the same parameters; the optimizer's last update
        comes after them and is never evaluated)."""
        snap = self.timeline.snapshot()
        return (int(snap.steps[-1]), snap.last()) if len(snap) else (None, {})

    def _finish(self, status: str, message: str) -> None:
        self.status, self.message = status, message
        step, last = self.final_record()
        errors = {k: v for k, v in last.items() if k.startswith("error/")}
        self.timeline.set_meta(status=status, message=message, steps_done=self.next_step,
                               failure=None if self.failure is None else
                               {"step": self.failure.step, "quantity": self.failure.quantity,
                                "value": str(self.failure.value)},
                               final_step=step,
                               final_errors={k: (v if math.isfinite(v) else str(v)) for k, v in errors.items()},
                               final_params={k: v for k, v in last.items() if k.startswith("param/")},
                               summary=self.task.summary(errors) if errors else "",
                               elapsed_s=self._progress.elapsed)

    def summary(self) -> str:
        """One line: status, steps, and the loss and parameter error of the last recorded step
        (``final_record``)."""
        step, last = self.final_record()
        if step is None:
            return f"{self.task.name}: {self.status} after 0 steps ({self.message}); no steps; 0.0 s"
        errors = {k: v for k, v in last.items() if k.startswith("error/")}
        described = self.task.summary(errors) if errors else ""
        return (f"{self.task.name}: {self.status} after {self.next_step} steps ({self.message}); "
                f"final loss {last['loss']:.5g} at step {step}" + (f"; error: {described}" if described else "")
                + f"; {self._progress.elapsed:.1f} s")
