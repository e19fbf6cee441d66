"""Optimization runs (no Qt): tasks, schedules, the step-by-step runner, the recorded Timeline,
and exports.

    from renderer.optimize import Run, build_run, load_timeline
    task, config = build_run("pose", load_mesh("teapot.obj"))       # preset "default"
    run = Run(task, config, on_step=lambda rec: print(rec.step, rec.loss)).run()
    print(run.summary())
    run.timeline.save("run.npz")
    export_animation(load_timeline("run.npz"), "run.gif")

A GUI drives a Run from a worker thread (``run.run()`` with ``pause()``/``resume()``/``stop()``
from the GUI thread, or ``run.step()`` per click) and reads ``run.timeline`` meanwhile.
"""
from .config import DEFAULT_MEMORY_BUDGET, OPTIMIZERS, RunConfig
from .export import export_animation, export_mesh
from .presets import DEFAULT_PRESETS, PRESETS, TASKS, build_run, preset
from .runner import (CONVERGED, DONE, FAILED, FINISHED, PAUSED, READY, RUNNING, STOPPED, NonFinite, Run,
                     StepRecord)
from .schedules import Schedule, parse_anneal
from ..rendering import render_for_loss
from ..soft.silhouette import render_silhouette
from .tasks import ColorTask, LightTask, ParamGroup, PoseTask, ShapeTask, Task, silhouette_ious
from .timeline import Timeline
from .timeline_file import FORMAT_VERSION, TimelineFileError, load_timeline, save_timeline
from .views import View, camera_grid, load_targets, render_views, save_targets

__all__ = [
    "DEFAULT_MEMORY_BUDGET", "OPTIMIZERS", "RunConfig", "export_animation", "export_mesh", "DEFAULT_PRESETS",
    "PRESETS", "TASKS", "build_run", "preset", "CONVERGED", "DONE", "FAILED", "FINISHED", "PAUSED", "READY",
    "RUNNING", "STOPPED", "NonFinite", "Run", "StepRecord", "Schedule", "parse_anneal", "render_for_loss",
    "render_silhouette", "ColorTask", "LightTask", "ParamGroup", "PoseTask", "ShapeTask", "Task",
    "silhouette_ious", "Timeline", "FORMAT_VERSION", "TimelineFileError", "load_timeline", "save_timeline",
    "View", "camera_grid", "load_targets", "render_views", "save_targets",
]
