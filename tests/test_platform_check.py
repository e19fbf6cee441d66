"""The first start on a stock desktop (issue 13, defect 1): a missing library of Qt's X11 plugin,
or no display, is one line naming the fix, and exit status 2, before Qt can abort."""
from __future__ import annotations

from pathlib import Path

import pytest

from app import platform_check
from app.platform_check import gui_problem, package_for

LDD_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)
"""


def fake_ldd(path: Path) -> str:
    return LDD_MISSING


def test_packages_of_libraries():
    assert package_for("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert package_for("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert package_for("libxcb-foo.so.2") == "libxcb-foo2"          # the usual rule
    assert package_for("libbar-3.so.1") == "libbar-3-1"


def test_missing_xcb_libraries_name_the_apt_command(monkeypatch):
    monkeypatch.setattr(platform_check, "xcb_plugin_files", lambda: [Path("libqxcb.so")])
    problem = gui_problem({"DISPLAY": ":0"}, ldd=fake_ldd, platform="linux")
    assert problem is not None
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1 are missing" in problem
    assert problem.endswith("sudo apt-get install libxcb-icccm4 libxcb-keysyms1")
    assert "cursor" not in problem                   # not Qt's guess, what is actually missing
    assert gui_problem({"DISPLAY": ":0"}, ldd=lambda p: "", platform="linux") is None


@pytest.mark.parametrize("env, expected", [
    ({}, "no display"),
    ({"QT_QPA_PLATFORM": "xcb"}, "no display"),
    ({"QT_QPA_PLATFORM": "offscreen"}, None),
    ({"WAYLAND_DISPLAY": "wayland-0"}, None),
])
def test_no_display_is_said(env, expected):
    problem = gui_problem(env, ldd=lambda p: "", platform="linux")
    assert (problem is None) if expected is None else problem.startswith(expected)
    assert gui_problem({}, platform="darwin") is None


def _run_main(monkeypatch, capsys, argv, env):
    from main import main

    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(platform_check, "display_reachable", lambda display: True)
    code = main(argv)
    return code, capsys.readouterr().err.strip().splitlines()


def test_gui_verb_without_display_is_one_line(monkeypatch, capsys):
    code, err = _run_main(monkeypatch, capsys, ["gui"], {})
    assert code == 2 and len(err) == 1 and "no display" in err[0] and "Traceback" not in err[0]


def test_gui_verb_with_missing_libraries_prints_the_apt_command(monkeypatch, capsys):
    monkeypatch.setattr(platform_check, "ldd_output", fake_ldd)
    monkeypatch.setattr(platform_check, "xcb_plugin_files", lambda: [Path("libqxcb.so")])
    code, err = _run_main(monkeypatch, capsys, ["gui"], {"DISPLAY": ":99"})
    assert code == 2 and len(err) == 1
    assert err[0].endswith("sudo apt-get install libxcb-icccm4 libxcb-keysyms1"), err


def test_the_real_plugin_resolves_here():
    """On this machine (the tests' own) the xcb plugin's libraries are all installed."""
    files = platform_check.xcb_plugin_files()
    assert files and files[0].name == "libqxcb.so"
    assert platform_check.missing_libraries(files) == []
