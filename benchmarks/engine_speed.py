"""Engine speed of this checkout against another one, side by side in one session.

    git worktree add --detach /tmp/smash-base <old commit>
    .venv/bin/python benchmarks/engine_speed.py --base /tmp/smash-base --rounds 10

Runs `smash validate --speed --json` (piuma-die, mixed DRAM / scratchpad / atomic trace on all
528 threads, JIT warmed, best of 3 inside each run) alternately in the checkouts (`--base` may
be given more than once: each is compared with this one), each in a fresh process with its own
numba cache, and prints every round and the medians. The machine is shared and noisy: only the
ratio of medians taken in one session means anything. `--cpu` times each run by the process's
CPU time instead of the wall clock (a process that waits for a core is not charged for it; it
still shares caches and memory bandwidth with the others), and `--repeats` sets the runs inside
each measurement (best of them). Measure from fresh exports (`git archive <commit> | tar -x -C
<dir>`), not from a long-lived development checkout, whose numba cache was measured slower.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def one_run(tree: Path, preset: str, cpu: bool = False, repeats: int = 3) -> float:
    """ops per second of one `validate --speed` run of the checkout at `tree` (timed by the
    process's CPU time when `cpu`)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    clock = "import time; time.perf_counter = time.process_time; " if cpu else ""
    code = (clock + "import json; from simulator.machine import validate as V; "
            "from simulator.machine.config import load_config; "
            f"print(json.dumps(V.speed_benchmark(load_config({preset!r}), repeats={repeats})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tree, check=True,
                         capture_output=True, text=True).stdout
    return float(json.loads(out.strip().splitlines()[-1])["ops_per_second"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, type=Path, action="append",
                    help="another checkout (an old commit); repeatable")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--preset", default="piuma-die")
    ap.add_argument("--cpu", action="store_true", help="time by process CPU time, not wall clock")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement (best taken)")
    args = ap.parse_args()
    trees = {f"base{k}" if len(args.base) > 1 else "base": b.resolve()
             for k, b in enumerate(args.base)}
    trees["this"] = HERE
    for tree in trees.values():                 # compile (or load) each numba cache first
        one_run(tree, args.preset, args.cpu, 1)
    runs: dict[str, list[float]] = {k: [] for k in trees}
    for r in range(args.rounds):
        order = list(trees) if r % 2 == 0 else list(trees)[::-1]
        for k in order:
            runs[k].append(one_run(trees[k], args.preset, args.cpu, args.repeats))
        print(f"round {r + 1}: " + "  ".join(f"{k} {runs[k][-1] / 1e6:.3f}" for k in trees)
              + f" M ops/s (load average {os.getloadavg()[0]:.1f})", flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    for k, tree in trees.items():
        if k != "this":
            print(f"median: {k} ({tree}) {med[k] / 1e6:.3f} M ops/s, this {med['this'] / 1e6:.3f}"
                  f" M ops/s, ratio {med['this'] / med[k]:.3f}")

if __name__ == "__main__":
    main()
