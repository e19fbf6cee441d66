"""The Qt desktop app: widgets wired to the renderer library. It computes nothing itself.

main_window     the window: one Scene, three panes, docks; every change -> a worker request
render_worker   the QThread that renders and analyses (torch and OpenGL live only there)
analysis_compute  what each analysis mode computes (runs in the worker), with caches
jobs            the plain data that goes to and comes back from the worker
image_pane, analysis_pane, inspector_panel   the views
controls, sh_table, loss_controls, widgets   the docks' inputs
menus, files, persistence, startup, preload, window_parts, target_images, colormaps,
worker_thread
run_view        optimization runs in the window: playback of a recorded step in the three panes
run_panel, timeline_dock   the run's inputs and buttons; the scrubber and loss curves
run_worker, reference_worker   the run thread; the thread drawing the GL reference of a recorded step
run_files, timeline_frames     open/overlay/export runs; what the views read from a Timeline (no Qt)
"""


def run_app(mesh_path=None, run=None) -> int:
    """Start the GUI and run it until the window closes (see ``main_window.run_app``). Imported
    lazily so that ``import app.<subpackage>`` does not start Qt."""
    from .main_window import run_app as _run_app

    return _run_app(mesh_path, run=run)
