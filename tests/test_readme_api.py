"""The README's Python API block runs as written and produces a render and a dL/dV."""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_api_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the Python API section should hold one python block"
    return blocks[0]


def test_readme_python_api_block_runs(monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(readme_api_block(), "README.md (Python API)", "exec"), namespace)
    out, g = namespace["out"], namespace["g"]
    assert tuple(out.rgb.shape) == (128, 128, 3) and 0.05 < float(out.alpha.mean()) < 0.9
    assert tuple(g.dL_dV.shape) == (namespace["scene"].mesh.num_verts, 3)
    assert float(g.dL_dV_norm.max()) > 0 and g.loss > 0
    assert namespace["report"].band.cosine > 0.5
    assert "['softras', 'dibr', 'hard', 'aa', 'edge', 'nmr', 'gl']" in printed.getvalue()
    assert "splat gl_splat" in printed.getvalue()
    splat_out = namespace["splat_out"]
    assert tuple(splat_out.rgb.shape) == (64, 64, 3) and 0.05 < float(splat_out.alpha.mean()) < 0.9
