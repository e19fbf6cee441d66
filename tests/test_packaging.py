"""The installed distribution's generic top-level names (renderer, app, main) belong to this
repository and to no other distribution in the environment (README, "Install and run")."""
from __future__ import annotations

import importlib.util
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL = ("renderer", "app", "main")


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_name_is_ours_alone(name):
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None
    assert Path(spec.origin).resolve().is_relative_to(ROOT), f"{name} resolves to {spec.origin}"
    owners = set(packages_distributions().get(name, ["diffrender-debugger"]))
    assert owners == {"diffrender-debugger"}, f"{name} is also installed by {owners - {'diffrender-debugger'}}"
