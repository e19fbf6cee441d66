"""Files: target images, export, recent files, what persists between runs, and start-up with a
broken or missing mesh."""
from __future__ import annotations

import json

import numpy as np
from PySide6.QtCore import QSettings

from app.window.startup import create_window
from renderer.assets import asset_path
from tests.gui_support import drop_files, isolated_settings, make_window, wait_idle  # noqa: F401


def _write_png(path, image: np.ndarray) -> None:
    import imageio.v3 as iio

    iio.imwrite(str(path), image, extension=".png")


def test_dropped_target_image_becomes_the_loss_target(qtbot, make_window, tmp_path):
    window = make_window()
    window.model.mode = "dl_di"
    disc = np.zeros((100, 100, 4), np.uint8)                 # another size: resized to the render
    yy, xx = np.mgrid[:100, :100]
    disc[(yy - 50) ** 2 + (xx - 50) ** 2 < 30 ** 2] = 255
    path = tmp_path / "disc.png"
    _write_png(path, disc)
    drop_files(window, path)
    wait_idle(qtbot, window)
    result = window.analysis_pane.last_result
    assert result.request.target.kind == "image" and result.request.target.image_name == "disc.png"
    assert "disc.png" in result.lines[0]
    assert window.loss_panel.target_kind() == "image"
    assert str(path.resolve()) in window.model.recent_files

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    drop_files(window, broken)
    assert "broken.png" in window.banner.text() and not window.banner.isHidden()
    assert window.model.target_image.name == "disc.png"        # the previous target is kept

    window.files.open_mesh(str(asset_path("axes")))            # recent files reopen either kind
    window.menus.recent_menu.actions()[1].trigger()
    assert window.model.target_image.name == "disc.png" and window.model.recent_files[0] == str(path.resolve())


def test_export_writes_panes_buffers_and_screenshot(qtbot, make_window, tmp_path):
    window = make_window()
    window.model.mode = "alpha"
    wait_idle(qtbot, window)
    out = tmp_path / "export"
    written = {p.name for p in window.export_to(str(out))}
    for name in ("soft.png", "reference.png", "analysis.png", "window.png", "settings.json",
                 "soft_rgb.npy", "soft_alpha.npy", "reference_rgb.npy", "reference_face_id.npy",
                 "analysis_alpha.npy"):
        assert name in written and (out / name).stat().st_size > 0, name
    assert np.load(out / "soft_rgb.npy").shape == (64, 64, 3)
    meta = json.loads((out / "settings.json").read_text())
    assert meta["scene"]["sigma"] == window.model.scene.settings.sigma and meta["analysis"]["mode"] == "alpha"

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert window.export_to(str(blocker / "sub")) == []        # cannot create a folder in a file
    assert "export failed" in window.banner.text()


def test_values_layout_and_mesh_persist_between_runs(qtbot, isolated_settings, tmp_path):
    store = isolated_settings
    first = create_window(store=store, image_size=64)
    qtbot.addWidget(first)
    assert first.files.open_mesh(str(asset_path("axes")))
    first.model.edit("sigma", 3e-3)
    first.model.edit("azimuth", -40.0)
    first.model.edit("lighting", "lambertian")
    first.model.mode = "alpha"
    first.loss_panel.loss_combo.setCurrentText("l1")                 # as the user sets them
    first.loss_panel.pose_sliders["azimuth"].set_value(12.0)
    target = tmp_path / "target.npy"
    np.save(target, np.zeros((32, 32), np.float32))
    assert first.files.open_target_image(str(target))
    wait_idle(qtbot, first)
    first.close()

    reread = QSettings(store.fileName(), QSettings.Format.IniFormat)
    second = create_window(store=reread)
    qtbot.addWidget(second)
    wait_idle(qtbot, second)
    scene = second.model.scene
    assert scene.mesh.name == "axes"
    assert scene.settings.image_size == 64
    assert scene.settings.sigma == 3e-3 and scene.settings.lighting == "lambertian"
    assert float(scene.camera.azimuth) == -40.0
    assert second.controls.widgets["sigma"].value() == 3e-3
    assert second.analysis_pane.mode() == "alpha"
    assert second.loss_panel.loss() == "l1" and dict(second.loss_panel.pose())["azimuth"] == 12.0
    assert second.model.target_image.name == "target.npy" and second.loss_panel.target_kind() == "image"
    assert list(second.model.recent_files[:2]) == [str(target.resolve()), str(asset_path("axes").resolve())]
    assert second.banner.isHidden()


def test_start_with_broken_or_missing_mesh_opens_default_and_says_why(qtbot, isolated_settings, tmp_path):
    bad = tmp_path / "broken.obj"
    bad.write_text("v 1 2\nf 1 2 3 4 5\n")
    for path, name in ((bad, "broken.obj"), (tmp_path / "missing.ply", "missing.ply")):
        window = create_window(str(path), store=isolated_settings, image_size=64)
        qtbot.addWidget(window)
        assert window.model.scene.mesh.name == "knot"
        assert name in window.banner.text() and not window.banner.isHidden()
        wait_idle(qtbot, window)
        assert window.gl_pane.image is not None
        window.close()


def test_start_with_a_mesh_argument(qtbot, isolated_settings):
    window = create_window(str(asset_path("sphere")), store=isolated_settings, image_size=64)
    qtbot.addWidget(window)
    assert window.model.scene.mesh.name == "sphere" and window.banner.isHidden()
    assert window.menus.recent_menu.actions()[0].text() == asset_path("sphere").name
    wait_idle(qtbot, window)
