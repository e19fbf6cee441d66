"""`render` says where it wrote and how long it took (issue 13, defect 11)."""
from __future__ import annotations

import re

from main import main


def test_render_prints_where_and_how_long(tmp_path, capsys):
    out, npy = tmp_path / "knot.png", tmp_path / "knot.npy"
    assert main(["render", "--asset", "knot", "--size", "32", "--out", str(out), "--npy", str(npy)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1, printed
    line = printed[0]
    assert str(out) in line and str(npy) in line and "32x32" in line
    assert re.search(r"in \d+\.\d\d s", line), line
    assert out.exists() and npy.exists()
