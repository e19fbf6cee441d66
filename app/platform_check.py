"""Before the GUI starts: is there a screen, and can Qt's X11 plugin load? (stdlib only: this runs
before Qt is touched).

When a system library of Qt's xcb plugin is missing, Qt aborts the process (exit 134) with a
hint that names libxcb-cursor0 whatever is actually missing; without a display it aborts too.
``gui_problem()`` finds out first, exactly: ``ldd`` lists the plugin's unresolved libraries, and
each maps to its Debian/Ubuntu package, so the message is one line with the apt command to run.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional

# Shared libraries of Qt's xcb plugin -> the Debian/Ubuntu package that has them (the ones whose
# names do not follow the usual soname -> package rule, and the common ones, for certainty)
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0", "libxcb-xkb.so.1": "libxcb-xkb1", "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0", "libxcb-shm.so.0": "libxcb-shm0", "libxcb-render.so.0": "libxcb-render0",
    "libxcb-util.so.1": "libxcb-util1", "libxcb.so.1": "libxcb1", "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-xinput.so.0": "libxcb-xinput0", "libxcb-glx.so.0": "libxcb-glx0", "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6", "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0", "libdbus-1.so.3": "libdbus-1-3", "libSM.so.6": "libsm6", "libICE.so.6": "libice6",
    "libglib-2.0.so.0": "libglib2.0-0",
}
NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def package_for(soname: str) -> str:
    """The Debian/Ubuntu package of a shared library (its usual name when not in ``PACKAGES``:
    libfoo-bar.so.4 -> libfoo-bar4, libfoo-x11.so.0 -> libfoo-x11-0)."""
    if soname in PACKAGES:
        return PACKAGES[soname]
    stem, _, version = soname.partition(".so.")
    version = version.split(".")[0]
    if not version:
        return stem.lower()
    return (stem + ("-" if stem[-1].isdigit() else "") + version).lower()


def xcb_plugin_files() -> list[Path]:
    """The xcb platform plugin of the installed PySide6 and the Qt library it loads."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return []
    qt = Path(list(spec.submodule_search_locations)[0]) / "Qt"
    return [p for p in (qt / "plugins" / "platforms" / "libqxcb.so", *sorted((qt / "lib").glob("libQt6XcbQpa.so*")))
            if p.exists()][:2]


def ldd_output(path: Path) -> str:
    """``ldd path`` (empty when ldd is not there or fails)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return ""
    try:
        return subprocess.run([ldd, str(path)], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def missing_libraries(files: list[Path], ldd: Callable[[Path], str] = ldd_output) -> list[str]:
    """The shared libraries ``files`` need that the system does not have, in order, once each."""
    missing: list[str] = []
    for path in files:
        for name in NOT_FOUND.findall(ldd(path)):
            if name not in missing:
                missing.append(name)
    return missing


def display_reachable(display: str) -> Optional[bool]:
    """Whether an X server answers on ``display`` (None: cannot tell, libxcb is not loadable)."""
    name = ctypes.util.find_library("xcb")
    if name is None:
        return None
    try:
        xcb = ctypes.CDLL(name)
        xcb.xcb_connect.restype = ctypes.c_void_p
        xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
        xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
        connection = xcb.xcb_connect(display.encode(), None)
        broken = xcb.xcb_connection_has_error(connection)
        xcb.xcb_disconnect(connection)
        return broken == 0
    except (OSError, AttributeError):
        return None


def gui_problem(environ: Optional[dict] = None, ldd: Optional[Callable[[Path], str]] = None,
                platform: str = sys.platform) -> Optional[str]:
    """Why the GUI cannot start here, as one sentence, or None when it can (or when it cannot be
    told: then Qt itself decides). ``environ``: the environment (default this process's; given,
    the X server is not contacted); ``ldd``: how a library's dependencies are listed."""
    env = os.environ if environ is None else environ
    ldd = ldd if ldd is not None else ldd_output
    if not platform.startswith("linux"):
        return None
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen and not chosen.startswith("xcb"):
        return None                     # offscreen, wayland, vnc ...: the user chose
    if not chosen and env.get("WAYLAND_DISPLAY"):
        return None                     # Qt takes its Wayland plugin
    display = env.get("DISPLAY", "")
    if not display:
        return ("no display: DISPLAY is not set (no X11 or Wayland session here); start the GUI from a "
                "desktop session, or use the verbs that need no screen: render, grad, landscape, optimize")
    missing = missing_libraries(xcb_plugin_files(), ldd)
    if missing:
        packages = " ".join(dict.fromkeys(package_for(m) for m in missing))
        return (f"Qt's X11 window plugin cannot load: {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} missing; install with: sudo apt-get install {packages}")
    if environ is None and display_reachable(display) is False:
        return (f"no display: no X server answers on DISPLAY={display}; start the GUI from a desktop "
                "session (or over ssh -X), or use the verbs that need no screen: render, grad, landscape, optimize")
    return None
