"""Sampled runs at scale: every kernel on large R-MAT matrices with `--sample auto` and a time
budget; wall time, share simulated and interval width per run.

    nice -n 10 .venv/bin/python benchmarks/sampling_scale.py                 # rmat 16 and 18, 2m
    .venv/bin/python benchmarks/sampling_scale.py --scales 14 --budget 30s
    .venv/bin/python benchmarks/sampling_scale.py --table-only

Equivalent to `smash sweep -m rmat:scale=16,ef=16 -m rmat:scale=18,ef=16 -k ... --sample auto
--budget 2m -j 1 -o smash-out/scale/records.jsonl` followed by the table; resumable the same
way (--fresh starts afresh).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Mapping

from simulator.cli._common import format_table
from simulator.reproduce import KERNELS
from simulator.sampling import budget_ops, parse_budget
from simulator.sweep import Point, read_records, run_sweep


def row(r: Mapping[str, Any]) -> dict[str, Any]:
    if r.get("status") != "ok":
        return {"kernel": r.get("kernel"), "matrix": r.get("matrix"), "note": r.get("error")}
    c = r["cycles"]
    return {"kernel": r["kernel"], "matrix": r["matrix"], "flops": r["flops"],
            "method": r.get("sample_method"), "fraction": r.get("sample_fraction"),
            "groups": f"{r.get('sample_groups_simulated', '-')}/{r.get('sample_groups', '-')}",
            "thin": r.get("sample_thin"), "cycles": c,
            "interval_pct": 100 * (r["cycles_ci_high"] - r["cycles_ci_low"]) / 2 / c if c else 0.0,
            "wall_s": r.get("wall_seconds"), "note": r.get("sample_warning") or ""}


COLS = ["kernel", "matrix", "flops", "method", "fraction", "groups", "thin", "cycles",
        "interval_pct", "wall_s", "note"]
HEAD = ["kernel", "matrix", "multiply-adds", "method", "simulated", "groups", "thin", "cycles",
        "± %", "wall s", "note"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="16,18")
    ap.add_argument("--kernels", nargs="*", default=KERNELS)
    ap.add_argument("--budget", default="2m", help="time budget per run (--sample auto)")
    ap.add_argument("--preset", default="piuma-die")
    ap.add_argument("--out", default=os.path.join("smash-out", "scale", "records.jsonl"))
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args(argv)
    ops = budget_ops(parse_budget(args.budget))
    points = [Point(matrix=f"rmat:scale={s},ef=16", kernel=k, preset=args.preset, sample="auto",
                    auto_ops=ops) for s in args.scales.split(",") for k in args.kernels]
    if not args.table_only:
        t0 = time.perf_counter()
        run_sweep(points, args.out, jobs=1, resume=not args.fresh, overwrite=args.fresh,
                  on_record=lambda r: print(f"{time.perf_counter() - t0:7.0f} s  {r.get('kernel')} "
                                            f"on {r.get('matrix')}: {r.get('status')}",
                                            file=sys.stderr, flush=True))
    keys = {p.key for p in points}
    latest = {r["point_key"]: r for r in read_records(args.out) if r.get("point_key") in keys}
    print(format_table([row(latest[p.key]) for p in points if p.key in latest], COLS, HEAD))
    return 0


if __name__ == "__main__":
    sys.exit(main())
