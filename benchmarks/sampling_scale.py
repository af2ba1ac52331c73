"""Sampled runs at scale: every kernel on large R-MAT matrices with `--sample auto` and a time
budget; wall time, share simulated, interval width and peak host memory per run.

    nice -n 10 .venv/bin/python benchmarks/sampling_scale.py                 # rmat 16 and 18, 2m
    .venv/bin/python benchmarks/sampling_scale.py --scales 14 --budget 30s
    .venv/bin/python benchmarks/sampling_scale.py --table-only

Each run is `smash run -k K -m rmat:scale=S,ef=16 --budget B --json` in a child process (its
peak resident memory, from the kernel's accounting of the child, is the run's own), one at a
time; the records (the run's JSON, or its one-line refusal) go to --out as each finishes, so an
interrupted study resumes where it stopped (--fresh starts afresh).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

from simulator.cli._common import format_table
from simulator.reproduce import KERNELS


def run_point(kernel: str, matrix: str, budget: str, preset: str,
              max_ops: str | None = None) -> dict[str, Any]:
    """One `smash run` in a child process: its record, wall time and peak RSS (os.wait4)."""
    smash = Path(sys.executable).with_name("smash")
    cmd = [str(smash), "run", "-k", kernel, "-m", matrix, "--preset", preset, "--budget",
           budget, "--json", "--out", ""] + (["--max-ops", max_ops] if max_ops else [])
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, errors = out.read(), err.read()
    base = {"kernel": kernel, "matrix": matrix, "budget": budget, "preset": preset,
            "wall_seconds_total": time.perf_counter() - t0,
            "peak_rss_mb": usage.ru_maxrss / 1024}          # Linux: kilobytes
    if child.returncode != 0:
        lines = [ln for ln in errors.strip().splitlines() if ln.strip()]
        return {**base, "status": "refused",
                "error": lines[-1] if lines else f"exit {child.returncode}"}
    return {**base, "status": "ok", **json.loads(text)}


def row(r: Mapping[str, Any]) -> dict[str, Any]:
    base = {"kernel": r.get("kernel"), "matrix": r.get("matrix"),
            "wall_s": r.get("wall_seconds_total"), "rss": r.get("peak_rss_mb")}
    if r.get("status") != "ok":
        return {**base, "note": r.get("error")}
    c = r["cycles"]
    return {**base, "flops": r["flops"],
            "method": r.get("sample_method"), "fraction": r.get("sample_fraction"),
            "groups": f"{r.get('sample_groups_simulated', '-')}/{r.get('sample_groups', '-')}",
            "thin": r.get("sample_thin"), "tpt": r.get("sample_tasks_per_thread"), "cycles": c,
            "interval_pct": 100 * (r["cycles_ci_high"] - r["cycles_ci_low"]) / 2 / c if c else 0.0,
            "note": r.get("sample_warning") or ""}


COLS = ["kernel", "matrix", "flops", "method", "fraction", "groups", "thin", "tpt", "cycles",
        "interval_pct", "wall_s", "rss", "note"]
HEAD = ["kernel", "matrix", "multiply-adds", "method", "simulated", "groups", "thin",
        "tasks per thread", "cycles",
        "± %", "wall s", "peak MB", "note"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="16,18")
    ap.add_argument("--kernels", nargs="*", default=KERNELS)
    ap.add_argument("--budget", default="2m", help="time budget per run (--sample auto)")
    ap.add_argument("--preset", default="piuma-die")
    ap.add_argument("--max-ops", default=None,
                    help="smash run --max-ops (a budget above ~2 min needs more than its default)")
    ap.add_argument("--out", default=os.path.join("smash-out", "scale", "records.jsonl"))
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args(argv)
    points = [(k, f"rmat:scale={s},ef=16") for s in args.scales.split(",") for k in args.kernels]
    key = lambda r: (r["kernel"], r["matrix"], r["budget"], r["preset"])
    out = Path(args.out)
    if args.fresh and out.exists() and not args.table_only:
        out.unlink()
    have = {}
    if out.exists():
        have = {key(r): r for r in map(json.loads, out.read_text().splitlines()) if r}
    if not args.table_only:
        out.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        for k, m in points:
            if (k, m, args.budget, args.preset) in have:
                continue
            r = run_point(k, m, args.budget, args.preset, args.max_ops)
            have[key(r)] = r
            with out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(r, default=str) + "\n")
            print(f"{time.perf_counter() - t0:7.0f} s  {k} on {m}: {r['status']} "
                  f"({r['wall_seconds_total']:.0f} s, {r['peak_rss_mb'] or 0:.0f} MB)",
                  file=sys.stderr, flush=True)
    rows = [row(have[(k, m, args.budget, args.preset)]) for k, m in points
            if (k, m, args.budget, args.preset) in have]
    print(format_table(rows, COLS, HEAD))
    return 0


if __name__ == "__main__":
    sys.exit(main())
