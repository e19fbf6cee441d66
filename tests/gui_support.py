"""Fixtures shared by the GUI tests (import them into a test module to use them).

Every window gets its own settings file under tmp_path, and the user-scope settings path is moved
there too, so no test reads or writes the real QSettings of the machine.
"""
from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent

IDLE_TIMEOUT_MS = 180_000      # renders are slow when the (2-core) machine is busy
WINDOW_SIZE = (1024, 700)      # the smallest screen the layout supports (the offscreen screen is 800 px)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path) -> QSettings:
    """A private settings store; also redirects ``app_settings()`` (user scope) into tmp_path."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "user-config"))
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def wait_idle(qtbot, window, timeout: int = IDLE_TIMEOUT_MS) -> None:
    """Until every requested render and analysis has come back."""
    qtbot.waitUntil(lambda: not window.scheduler.busy() and window.gl_pane.image is not None, timeout=timeout)
    qtbot.wait(30)             # queued result signals are delivered


@pytest.fixture
def make_window(qtbot, isolated_settings):
    """make_window(**MainWindow kwargs, size=(w, h)) -> an idle window of ``size`` (default the
    smallest supported screen) rendering at 64 px, with private settings."""
    from PySide6.QtCore import QSize

    from app.window.main_window import MainWindow

    def make(size=WINDOW_SIZE, **kwargs):
        kwargs.setdefault("settings", isolated_settings)
        kwargs.setdefault("image_size", 64)
        window = MainWindow(**kwargs)
        qtbot.addWidget(window)
        window.resize(*size)
        if hasattr(window, "size_docks"):      # (also runs against older checkouts, to compare)
            window.size_docks(QSize(*size))
        window.show()
        wait_idle(qtbot, window)
        return window

    return make


def drop_files(window, *paths) -> None:
    """A drop of ``paths`` onto the window, as Qt delivers it."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
