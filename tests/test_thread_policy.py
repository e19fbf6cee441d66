"""The thread policy (renderer/thread_policy.py): chosen before torch loads, the user's settings
respected."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from renderer.thread_policy import apply_thread_policy, default_threads

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("cores, threads", [(1, 1), (2, 1), (4, 2), (16, 8), (64, 8)])
def test_default_threads_is_half_the_cores_within_1_and_8(cores, threads):
    assert default_threads(cores) == threads


def test_policy_fills_only_what_the_user_left_unset():
    assert apply_thread_policy(env := {}) == env == {"OMP_WAIT_POLICY": "PASSIVE",
                                                     "OMP_NUM_THREADS": str(default_threads())}
    env = {"OMP_NUM_THREADS": "3", "OMP_WAIT_POLICY": "ACTIVE"}
    assert apply_thread_policy(env) == {} and env["OMP_NUM_THREADS"] == "3"
    env = {"DRD_THREADS": "5"}
    apply_thread_policy(env)
    assert env["OMP_NUM_THREADS"] == "5"
    env = {"DRD_THREADS": "many"}                        # not a number: the default
    apply_thread_policy(env)
    assert env["OMP_NUM_THREADS"] == str(default_threads())


def torch_threads(**env: str) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "DRD_THREADS")}
    code = "import os, renderer, torch; print(torch.get_num_threads(), os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean | env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    return int(out[0]), out[1]


def test_a_fresh_process_runs_torch_with_the_policy():
    assert torch_threads() == (default_threads(), "PASSIVE")
    assert torch_threads(DRD_THREADS="2") == (2, "PASSIVE")
    assert torch_threads(OMP_NUM_THREADS="2", OMP_WAIT_POLICY="ACTIVE") == (2, "ACTIVE")
