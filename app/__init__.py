"""The Qt desktop app: views of one model, wired to the renderer library. It computes nothing itself.

Following napari's model/view split, ``model.AppModel`` (no Qt) holds the state; every widget takes
it in its constructor, subscribes to its events and writes back through it.

model/      no Qt, no direct torch
  evented       Signal and EventedModel: a signal per field, emitted when an assignment changes it
  app_model     AppModel: scene, analysis mode, loss, target, theta, picked pixel, drag, run state,
                files, messages; edits through ``renderer.edits.apply_edit``
  modes         the analysis-mode registry (label, help, cost, compute function, shortcut scheme)
  jobs          plain data to and from the workers (requests, targets, results, scene fingerprint)
  render_work   the job the panes wait for (Busy), a slow render held for a go (HeldRender), and
                RenderCost: seconds from the pair count, learnt from this machine's renders
  scene_values  a Scene as control values and back (persistence, export)
workers/    everything off the GUI thread; the only package that imports torch directly
  scheduler     LatestWinsScheduler: one job in flight, only the newest waiting request kept
  cancel        CancelGate: stop a long torch call in a worker thread (Esc)
  render_worker the render and analysis thread; analysis_engine (caches, ModeContext) and
                mode_compute (the built-in modes' functions) run there
  reference_worker  the GL reference of a recorded step (rebuilt by the run's Task)
  run_worker    the optimisation run thread
  worker_thread, preload  starting/ending worker threads (GC on the GUI thread); early imports
panes/      image_pane (pane_marks: busy strip, zoom tag), analysis_pane, scene_panes (the three
            panes of the model's scene), inspector_panel, captions, colormaps
controls/   scene_controls (the Scene dock), loss_controls, widgets, sh_table
runs/       run_view (playback and run control), run_panel, timeline_dock (loss_plot), run_files,
            timeline_frames (what the views read from a Timeline, no Qt)
window/     main_window, menus, file_actions, export, persistence, live_render (model -> render
            requests, prediction, hold, cancel), banner, held_render_bar, preferences, startup
            (create_window, run_app)
platform_check  before Qt: a missing X11 library or no display, as one line (stdlib only)
"""


def run_app(mesh_path: "str | None" = None, run: "tuple | None" = None) -> int:
    """Start the GUI and run it until the window closes (see ``window.startup.run_app``). Imported
    lazily so that ``import app.<subpackage>`` does not start Qt."""
    from .window.startup import run_app as _run_app

    return _run_app(mesh_path, run=run)
