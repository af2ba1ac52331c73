"""The native performance target: best row-wise method, 2 threads, vs scipy, C = A·A.

Target set: every real matrix in the shared folder (SuiteSparse .mtx.gz) plus
``rmat:scale=14,ef=16`` and ``er:n=16384,nnz_per_row=16``. Goal: geometric-mean throughput
>= 2.5x scipy's for the best native row-wise method with 2 threads.

    .venv/bin/python benchmarks/native_target.py [--folder /path/to/matrices] [--repeats 7]
        [--json out.json] [--all-methods]

Equivalent CLI: ``smash bench /path/to/matrices rmat:scale=14,ef=16 er:n=16384,nnz_per_row=16
--method rowwise --threads 1,2``. Benchmark numbers are noisy on a shared 2-core machine:
compare ratios within one run and repeat.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import matrices
from simulator.cli._common import format_table, records_to_json
from spgemm import bench

GENERATED = ["rmat:scale=14,ef=16", "er:n=16384,nnz_per_row=16"]
DEFAULT_FOLDER = Path(__file__).resolve().parents[1].parent / "shared" / "matrices"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", default=os.environ.get("SMASH_MATRICES", str(DEFAULT_FOLDER)))
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.05)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--all-methods", action="store_true", help="also inner and outer")
    ap.add_argument("--json", default=None, help="write the records here")
    args = ap.parse_args(argv)

    specs = (matrices.resolve([args.folder]) if Path(args.folder).is_dir() else []) + GENERATED
    methods = None if args.all_methods else bench.select_methods(["rowwise"])
    threads = [int(t) for t in args.threads.split(",")]
    records = []
    for rec in bench.run(specs, methods=methods, threads=threads, repeats=args.repeats,
                         min_time=args.min_time, external=True):
        records.append(rec)
        if rec["method"] == "scipy":
            print(f"  {rec['matrix']}: scipy {rec['seconds'] * 1e3:.3f} ms", file=sys.stderr)
    rows = [dict(r, ms=r["seconds"] * 1e3 if r["seconds"] else None) for r in records]
    print(format_table(rows, ["matrix", "method", "accumulator", "threads", "ms", "gflops",
                              "speedup_vs_scipy", "verified"],
                       ["matrix", "method", "acc", "thr", "ms", "GFLOP/s", "vs scipy", "ok"]))
    print()
    summary = bench.summarize(records)
    print(format_table(summary, ["method", "accumulator", "threads", "matrices",
                                 "geomean_speedup_vs_scipy", "geomean_gflops", "all_verified"],
                       ["method", "acc", "thr", "n", "geomean vs scipy", "geomean GFLOP/s",
                        "all ok"]))
    if args.json:
        Path(args.json).write_text(records_to_json(records))
    two = [s for s in summary if s["method"] == "rowwise" and s["threads"] == 2]
    if two:
        best = max(two, key=lambda s: s["geomean_speedup_vs_scipy"])
        print(f"\nbest row-wise method with 2 threads: rowwise/{best['accumulator']} "
              f"{best['geomean_speedup_vs_scipy']:.2f}x scipy (geomean over "
              f"{best['matrices']} matrices; target >= 2.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
