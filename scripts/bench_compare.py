"""Old and new code side by side in one run, idle and with one core busy.

    python scripts/bench_compare.py --old ../old-checkout [--rounds 2] -- --sizes 256 --mesh spot --repeats 7

Runs ``python main.py bench --json ...`` (with the arguments after ``--``) in each checkout,
alternating old and new so that drifts in machine load hit both alike, first on the idle machine
and then while a second process spins on one core (started and stopped here). Prints one table:
per case, the median over rounds of each checkout's forward and forward+backward medians.
A checkout runs its own code: ``main.py`` puts its folder first on sys.path.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

NEW = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(NEW))

from renderer.bench import one_core_busy  # noqa: E402 - after the path set-up above


def bench(tree: Path, args: list[str]) -> dict[tuple, tuple[float, float]]:
    # this script makes the busy condition itself: a bench that would add its own contended run
    # of every case is asked not to
    help_text = subprocess.run([sys.executable, str(tree / "main.py"), "bench", "--help"], cwd=tree,
                               capture_output=True, text=True).stdout
    args = args + (["--idle-only"] if "--idle-only" in help_text else [])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        subprocess.run([sys.executable, str(tree / "main.py"), "bench", "--json", str(out), *args],
                       cwd=tree, check=True, stdout=subprocess.DEVNULL)
        rows = json.loads(out.read_text())["rows"]
    return {(r["renderer"], r["lighting"], r["mesh"], r["size"]): (r["forward_ms"], r["forward_backward_ms"])
            for r in rows}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old", required=True, help="the old checkout (e.g. a git worktree of main)")
    p.add_argument("--new", default=str(NEW), help="the new checkout (default: this one)")
    p.add_argument("--rounds", type=int, default=2, help="alternating runs per checkout and condition")
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments for `main.py bench` after --")
    a = p.parse_args()
    args = [x for x in a.bench_args if x != "--"]
    trees = {"old": Path(a.old).resolve(), "new": Path(a.new).resolve()}
    results: dict[tuple[str, str], list[dict]] = {}
    for condition in ("idle", "busy"):
        with one_core_busy() if condition == "busy" else nullcontext():
            for _ in range(a.rounds):
                for name, tree in trees.items():
                    results.setdefault((name, condition), []).append(bench(tree, args))
    cases = sorted(set().union(*(r.keys() for runs in results.values() for r in runs)))
    cols = [(n, c) for c in ("idle", "busy") for n in ("old", "new")]
    head = f"{'case':<34}" + "".join(f"{n + ' ' + c:>20}" for n, c in cols)
    print("forward / forward+backward, ms (median over rounds of the bench's medians)")
    print(head)
    print("-" * len(head))
    for case in cases:
        cells = []
        for col in cols:
            pairs = [run[case] for run in results[col] if case in run]
            f = statistics.median(x[0] for x in pairs) if pairs else float("nan")
            fb = statistics.median(x[1] for x in pairs) if pairs else float("nan")
            cells.append(f"{f:>9.1f} /{fb:>8.1f}")
        print(f"{'/'.join(map(str, case)):<34}" + "".join(f"{c:>20}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
