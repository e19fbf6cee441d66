"""Regenerate the README screenshot: the real app on Spot, a pixel picked, an analysis mode shown.

    xvfb-run -a -s "-screen 0 1600x900x24" python scripts/make_screenshot.py --out docs/screenshot.png

Uses a throw-away settings folder, waits until every render and analysis is back, then saves the
window as drawn on the (virtual) screen. Keep the PNG under 300 KB (it is quantised if larger).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from renderer.paths import shared_mesh  # noqa: E402 - after the path set-up above

MAX_BYTES = 300_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mesh", default=str(shared_mesh("spot", "cow.obj")))
    parser.add_argument("--mode", default="vertex_grad", help="analysis mode to show (the README caption: |dL/dV|)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--pick", type=float, nargs=2, default=(0.62, 0.40), metavar=("U", "V"))
    parser.add_argument("--out", default="docs/screenshot.png")
    parser.add_argument("--loss-tab", action="store_true", help="show the Loss dock instead of Scene")
    args = parser.parse_args()

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    config = tempfile.mkdtemp(prefix="drd-screenshot-")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, config)

    from app.window.main_window import MainWindow
    from renderer.io import load_mesh

    store = QSettings(str(Path(config) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(load_mesh(args.mesh), settings=store, image_size=args.size,
                        mesh_path=args.mesh)
    window.show()
    if args.loss_tab:
        from PySide6.QtWidgets import QDockWidget

        window.findChild(QDockWidget, "loss").raise_()
    window.model.mode = args.mode
    window.model.pick = tuple(args.pick)

    def save_when_idle() -> None:
        if window.scheduler.busy():
            QTimer.singleShot(200, save_when_idle)
            return
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(out), "PNG")
        if out.stat().st_size > MAX_BYTES:
            _quantise(out)
        print(f"wrote {out} ({out.stat().st_size // 1024} KB)")
        app.quit()

    QTimer.singleShot(1000, save_when_idle)
    app.exec()
    window.close()
    return 0


def _quantise(path: Path) -> None:
    """Reduce to a 256-colour palette (the UI has few colours; the heatmaps keep their look)."""
    from PIL import Image

    Image.open(path).convert("RGB").quantize(colors=256, dither=Image.Dither.NONE).save(path, optimize=True)


if __name__ == "__main__":
    sys.exit(main())
