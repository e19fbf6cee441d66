"""What a new user reads first (issue 13, defects 1 and 8): the install block starts with the
system packages, CI installs with the same pip line, the landscape range is explained, and every
example says how long it takes (under a minute)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def block_after(heading: str) -> list[str]:
    text = readme()
    section = text[text.index(heading):]
    body = section[section.index("```") + 3:]
    return [line for line in body[:body.index("```")].strip().splitlines() if line.strip()]


def test_install_block_starts_with_the_system_packages():
    lines = block_after("## Install and run")
    assert lines[0].startswith("sudo apt-get install")
    for package in ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libegl1"):
        assert package in lines[0].split()
    assert lines[1].startswith("pip install")
    ci = (ROOT / ".ci" / "run").read_text()
    pip = next(line for line in ci.splitlines() if line.startswith("pip install"))
    assert pip in lines[1]                      # CI installs as the README says


def test_landscape_range_is_explained():
    row = next(line for line in readme().splitlines() if line.startswith("| `python main.py landscape"))
    assert "offsets from the target's value" in row and "-60 .. 120" in row
    assert "about a minute" in row


def test_examples_say_how_long_and_are_quick():
    lines = block_after("### Examples")
    assert len(lines) >= 4
    for line in lines:
        assert line.startswith("python main.py "), line
        comment = line.split("#", 1)[1] if "#" in line else ""
        seconds = re.search(r"(\d+) s\b", comment)
        assert seconds or "GUI" in comment, line
        if seconds:
            assert int(seconds.group(1)) < 60, line
