"""Calibration of sampled simulation: full and sampled runs side by side, and the table.

Every matrix x kernel is simulated in full and sampled at a few fractions with a few seeds
(`smash run --sample F --seed S`); the table gives estimate / full and whether the interval
[cycles_ci_low, cycles_ci_high] covers the full run's cycles. Targets (issue 10): |estimate /
full - 1| <= 10 % wherever the sample is not flagged too small (`sample_warning` empty), and
the interval covers the full value in >= 90 % of cases.

    nice -n 10 .venv/bin/python benchmarks/calibrate_sampling.py          # the study (hours)
    .venv/bin/python benchmarks/calibrate_sampling.py --quick             # small set (minutes)
    .venv/bin/python benchmarks/calibrate_sampling.py --table-only        # table from records
    .venv/bin/python benchmarks/calibrate_sampling.py --fresh             # after a model change

Records are `smash sweep` records appended to --out (JSONL) as each run finishes, so an
interrupted study resumes where it stopped; --fresh starts afresh (do it after changing the
model: the records do not know the code version). --markdown writes the table (docs/).
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

import matrices
from simulator.cli._common import format_table
from simulator.machine import load_config
from simulator.programs import get_kernel
from simulator import sampling
from simulator.sampling import shape
from simulator.reproduce import KERNELS
from simulator.sweep import Point, _warm_up, read_records, run_sweep

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "matrices"

#: The generated matrices of the study: R-MAT scales 10-14 and the families of reproduce.
GENERATED = [f"rmat:scale={s},ef=16" for s in range(10, 15)] + [
    "er:n=16384,nnz_per_row=16",
    "powerlaw:n=16384,nnz_per_row=8",
    "imbalanced:n=16384,nnz_per_row=8,n_long=16,long_len=4096",
]
#: Three real matrices (when ../shared/matrices is there): a skewed collaboration graph, a
#: FEM matrix with dense rows, an unsymmetric DNA-electrophoresis matrix.
REAL = ["ca-CondMat-nr.mtx.gz", "bcsstk13.mtx.gz", "cage10.mtx.gz"]
QUICK = ["rmat:scale=11,ef=16", "powerlaw:n=4096,nnz_per_row=8",
         "imbalanced:n=4096,nnz_per_row=8,n_long=8,long_len=1024"]
FRACTIONS = [0.375, 0.15, 0.05]
SEEDS = [0, 1, 2]
#: Full runs of the study may be large (the inner product on 16K-32K rows). Today's engine keeps
#: about 14 bytes per simulated operation resident: lower it (--full-max-ops) on a small host.
FULL_MAX_OPS = 3_000_000_000
TARGET_ERROR = 0.10
TARGET_COVERAGE = 0.90


def full_points(mats: Sequence[str], kernels: Sequence[str], preset: str,
                max_ops: int) -> list[Point]:
    return [Point(matrix=m, kernel=k, preset=preset, max_ops=max_ops) for m in mats for k in kernels]


def distinct(kernel: str, fractions: Sequence[float], preset: str) -> list[float]:
    """The fractions whose plans differ, the largest first: a plan that cannot shrink (SMASH's
    windows and static schedules simulate whole miniatures) is the same at every fraction below
    k / S, so it is run, and counted in the table, once."""
    cfg = load_config(preset)
    kn = get_kernel(kernel).resolve_knobs({})
    seen, out = set(), []
    for f in sorted(fractions, reverse=True):
        s = shape(kernel, cfg, f, knobs=kn)
        if s not in seen:
            seen.add(s)
            out.append(f)
    return out


def sampled_points(mats: Sequence[str], kernels: Sequence[str], fractions: Sequence[float],
                   seeds: Sequence[int], preset: str, max_ops: int,
                   extra: Mapping[str, Sequence[float]] | None = None) -> list[Point]:
    """Every matrix x kernel x distinct fraction x seed; `extra`: more fractions per kernel
    (the outer product simulates two task units, so its whole miniatures need 2 x 3/8)."""
    return [Point(matrix=m, kernel=k, preset=preset, sample=f, seed=s, max_ops=max_ops)
            for m in mats for k in kernels
            for f in distinct(k, list(fractions) + list((extra or {}).get(k, ())), preset)
            for s in seeds]


def thinned_fraction(matrix: str, kernel: str, preset: str, tasks: float) -> float | None:
    """The `--sample` whose plan thins rows to about `tasks` tasks per miniature thread, on the
    smallest miniature: keeps 1.02 x tasks / t0 of them (2 % over: a group keeps its share
    give or take a task), t0 the fewest tasks per thread of a whole simulated group over the
    kernel's task units. None: no such thinned plan (fewer than 1.25 x
    `tasks` whole, a static schedule, or SMASH, thinned by windows)."""
    from simulator.run import bound_operands
    cfg = load_config(preset)
    kn = get_kernel(kernel).resolve_knobs({})
    if sampling.by_windows(kn) or sampling.unthinnable(kn):
        return None
    A = matrices.load(matrix)
    ops = bound_operands(A, A if A.shape[0] == A.shape[1] else A.T)[0]
    units = sampling.units_of(kernel)
    S, k, _ = sampling.choose(0.0, sampling.miniature_sizes(cfg))
    if S <= 1:
        return None
    plan = sampling.make_plan(kernel, cfg, ops, k * len(units) / S, knobs=kn)
    t0 = min(float(np.count_nonzero(plan.units[u] == g)) for u in units
             for g, _ in plan.simulated) / (cfg.threads // S)
    return None if t0 < 1.25 * tasks else k * len(units) / S * 1.02 * tasks / t0


def parse_extra(items: Sequence[str]) -> dict[str, list[float]]:
    """{"outer": [0.75]} from ["outer=0.75"] (KERNEL=F[,F...])."""
    out: dict[str, list[float]] = {}
    for it in items:
        k, _, fs = it.partition("=")
        if not fs:
            raise SystemExit(f"--extra-fractions: expected KERNEL=F[,F...], got {it!r}")
        out.setdefault(k, []).extend(float(x) for x in fs.split(",") if x)
    return out


def interval(r: Mapping[str, Any]) -> tuple[float, float]:
    """A sampled record's interval as today's `sampling.SYSTEMATIC` makes it: on a machine cut
    into miniatures (sample_groups > 1) nothing pulls the estimate down, so the interval is
    cycles x (1 - below) to cycles + hypot(sampling error, above x cycles), and records written
    before the systematic error was re-derived are re-judged with the new one (the miniatures'
    cycles do not depend on it). Replicates of a machine that cannot be cut: as recorded."""
    if (r.get("sample_groups") or 1) <= 1 or "sample_sampling_error" not in r:
        return float(r["cycles_ci_low"]), float(r["cycles_ci_high"])
    c = float(r["cycles"])
    below, above = sampling.systematic_for(r.get("sample_thin") or 1.0, _by_windows(r))
    return max(0.0, c * (1 - below)), c + math.hypot(r["sample_sampling_error"] * c, above * c)


def _by_windows(r: Mapping[str, Any]) -> bool:
    """A sample thinned by whole windows (SMASH), not by rows."""
    return str(r.get("sample_method") or "").endswith("+windows")


def implied_systematic(rows: Sequence[Mapping[str, Any]], thinned: bool,
                       windows: bool = False) -> tuple[float, float]:
    """(below, above): the smallest systematic error that makes every valid miniature's interval
    (whole, or thinned: by rows, or by windows) hold its full run: the full run is at most
    1 / min(estimate / full) - 1 above the estimate and 1 - 1 / max(estimate / full) below it
    (nan: no such row)."""
    rs = [r["ratio"] for r in rows if r["valid"] and ((r["thin"] or 1.0) < 1) == thinned
          and (not thinned or bool(r.get("windows")) == windows) and (r["groups"] or 1) > 1]
    if not rs:
        return float("nan"), float("nan")
    return max(0.0, 1 - 1 / max(rs)), max(0.0, 1 / min(rs) - 1)


def rows_of(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per sampled run whose full run is there: estimate / full, covered, interval."""
    recs = [r for r in records if r.get("status", "ok") == "ok"]
    full = {}
    for r in recs:
        if r.get("sample_fraction", 1.0) >= 1:
            full[(r["matrix"], r["kernel"], r["preset"])] = r
    rows = []
    seen = set()
    for r in recs:
        if r.get("sample_fraction", 1.0) >= 1:
            continue
        plan = (r["matrix"], r["kernel"], r["preset"], r["seed"],
                round(r["sample_fraction"], 9), r.get("sample_method"))
        if plan in seen:        # the same runs asked for at a smaller fraction: counted once
            continue
        seen.add(plan)
        f = full.get((r["matrix"], r["kernel"], r["preset"]))
        if f is None:
            continue
        ratio = r["cycles"] / f["cycles"]
        lo, hi = interval(r)
        rows.append({
            "matrix": r["matrix"], "kernel": r["kernel"], "preset": r["preset"],
            "requested": r.get("requested_sample"), "seed": r["seed"],
            "fraction": r["sample_fraction"], "groups": r.get("sample_groups"),
            "thin": r.get("sample_thin"), "windows": _by_windows(r), "full_cycles": f["cycles"],
            "ratio": ratio, "low": lo / f["cycles"], "high": hi / f["cycles"],
            "covered": lo <= f["cycles"] <= hi,
            "dram_ratio": (r["dram_transferred_bytes"] / f["dram_transferred_bytes"]
                           if f.get("dram_transferred_bytes") else float("nan")),
            "mesh_full": f.get("mesh_busiest_link_utilization", float("nan")),
            "mesh_mini": r.get("sample_mesh_utilization", float("nan")),
            "mesh_stall": (f["mesh_queue_cycles"] / f["thread_stall_cycles"]
                           if f.get("thread_stall_cycles") and "mesh_queue_cycles" in f
                           else float("nan")),
            "mesh_queue_ratio": (r["mesh_queue_cycles"] / f["mesh_queue_cycles"]
                                 if f.get("mesh_queue_cycles") and "mesh_queue_cycles" in r
                                 else float("nan")),
            "valid": not r.get("sample_warning"),
            "warning": r.get("sample_warning") or "",
            "speedup": f["wall_seconds"] / r["wall_seconds"] if r.get("wall_seconds") else float("nan"),
        })
    return rows


def case_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Seeds folded: per matrix x kernel x requested fraction, the worst ratio and coverage."""
    by: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in rows:
        by.setdefault((r["matrix"], r["kernel"], r["requested"]), []).append(r)
    out = []
    for (m, k, req), rs in by.items():
        worst = max(rs, key=lambda r: abs(r["ratio"] - 1))
        out.append({
            "matrix": m, "kernel": k, "sample": req,
            "fraction": sum(r["fraction"] for r in rs) / len(rs),
            "seeds": len(rs),
            "ratio_mean": sum(r["ratio"] for r in rs) / len(rs),
            "ratio_worst": worst["ratio"],
            "interval": f"{min(r['low'] for r in rs):.2f}-{max(r['high'] for r in rs):.2f}",
            "covered": f"{sum(r['covered'] for r in rs)}/{len(rs)}",
            "dram": sum(r["dram_ratio"] for r in rs) / len(rs),
            "mesh": f"{100 * rs[0]['mesh_full']:.0f}/{100 * max(r['mesh_mini'] for r in rs):.0f}",
            "mesh_queue": sum(r["mesh_queue_ratio"] for r in rs) / len(rs),
            "mesh_stall": 100 * rs[0]["mesh_stall"],
            "valid": "yes" if all(r["valid"] for r in rs) else "no",
            "x faster": sum(r["speedup"] for r in rs) / len(rs),
        })
    out.sort(key=lambda r: (r["kernel"], r["matrix"], -(r["sample"] or 0)))
    return out


def kernel_summary(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per kernel over the valid runs: worst |estimate / full - 1|, coverage; and overall."""
    out = []
    kernels = sorted({r["kernel"] for r in rows}, key=lambda k: KERNELS.index(k) if k in KERNELS else 99)
    for k in kernels + ["all"]:
        rs = [r for r in rows if (k == "all" or r["kernel"] == k)]
        valid = [r for r in rs if r["valid"]]
        if not rs:
            continue
        worst = max(valid, key=lambda r: abs(r["ratio"] - 1)) if valid else None
        out.append({
            "kernel": k, "runs": len(rs), "valid": len(valid),
            "worst_error_pct": 100 * abs(worst["ratio"] - 1) if worst else float("nan"),
            "worst_case": f"{worst['matrix']} @ {worst['requested']}" if worst else "",
            "within_10pct": f"{sum(abs(r['ratio'] - 1) <= TARGET_ERROR for r in valid)}/{len(valid)}",
            "coverage_pct": 100 * sum(r["covered"] for r in rs) / len(rs),
            "coverage_valid_pct": 100 * sum(r["covered"] for r in valid) / len(valid) if valid else float("nan"),
        })
    return out


CASE_COLS = ["kernel", "matrix", "sample", "fraction", "seeds", "ratio_mean", "ratio_worst",
             "interval", "covered", "dram", "mesh", "mesh_stall", "mesh_queue", "valid",
             "x faster"]
CASE_HEAD = ["kernel", "matrix", "--sample", "simulated", "seeds", "est/full mean",
             "est/full worst", "interval / full", "covered", "DRAM est/full",
             "busiest mesh link % full/mini", "mesh queue % of stalls (full)",
             "mesh queue est/full", "valid", "x faster"]
SUM_COLS = ["kernel", "runs", "valid", "worst_error_pct", "worst_case", "within_10pct",
            "coverage_pct", "coverage_valid_pct"]
SUM_HEAD = ["kernel", "runs", "valid", "worst error %", "worst case", "within 10 %",
            "covered %", "covered % (valid)"]


def _pair(p: tuple[float, float]) -> str:
    return "-" if any(math.isnan(v) for v in p) else f"{100 * p[0]:.1f} % / {100 * p[1]:.1f} %"


def markdown(rows: Sequence[Mapping[str, Any]], cols: Sequence[str], head: Sequence[str]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "nan" if math.isnan(v) else f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def report(records: Sequence[Mapping[str, Any]], preset: str, command: str) -> tuple[str, str]:
    """(text for the terminal, markdown for docs) of the study's records."""
    rows = rows_of(records)
    cases = case_rows(rows)
    summ = kernel_summary(rows)
    implied = (f"Systematic error implied by the valid samples (below, above the estimate): "
               f"whole miniatures {_pair(implied_systematic(rows, False))}, thinned by rows "
               f"{_pair(implied_systematic(rows, True))}, thinned by windows "
               f"{_pair(implied_systematic(rows, True, windows=True))}; intervals use "
               f"SYSTEMATIC {_pair(sampling.SYSTEMATIC)}, SYSTEMATIC_THINNED "
               f"{_pair(sampling.SYSTEMATIC_THINNED)}, SYSTEMATIC_WINDOWS "
               f"{_pair(sampling.SYSTEMATIC_WINDOWS)}.")
    text = "\n".join([format_table(cases, CASE_COLS, CASE_HEAD), "",
                      format_table(summ, SUM_COLS, SUM_HEAD), "", implied])
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        commit = "?"
    md = "\n".join([
        "# Sampled simulation: calibration",
        "",
        f"Generated by `{command}` (commit {commit or '?'}, preset {preset}, "
        f"{time.strftime('%Y-%m-%d')}). Each row: one matrix x kernel x `--sample`, over the "
        f"seeds; `est/full` is the estimated cycles over the full run's, `interval / full` the "
        f"range of [cycles_ci_low, cycles_ci_high] over the full cycles, `covered` how many "
        f"seeds' intervals hold the full value, `busiest mesh link` the utilization of the busiest "
        f"mesh link in the full run and in the busiest simulated miniature, `mesh queue % of "
        f"stalls` the cycles packets queued at mesh links in the full run over its threads' "
        f"stall cycles, `mesh queue est/full` the estimate's over the full run's, `valid` whether "
        f"the sample met the minimum size (no `sample_warning`), `x faster` the full run's wall "
        f"time over the sampled run's.",
        "",
        "## Summary per kernel",
        "",
        markdown(summ, SUM_COLS, SUM_HEAD),
        "",
        implied,
        "",
        "## Every case",
        "",
        markdown(cases, CASE_COLS, CASE_HEAD),
        "",
    ])
    return text, md


def study_args(argv: Sequence[str]) -> list[str]:
    """The arguments that define the study (for the table's caption): without --table-only,
    --markdown, --out and --jobs."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--markdown", "--out", "-j", "--jobs"):
            skip = True
            continue
        if a == "--table-only" or a.startswith(("--markdown=", "--out=", "--jobs=")):
            continue
        out.append(a)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join("smash-out", "calibration", "records.jsonl"))
    ap.add_argument("--quick", action="store_true", help="three small matrices")
    ap.add_argument("--matrices", nargs="*", default=None, help="matrix specs instead of the set")
    ap.add_argument("--kernels", nargs="*", default=KERNELS)
    ap.add_argument("--fractions", default=",".join(map(str, FRACTIONS)))
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--extra-fractions", nargs="*", default=[],
                    help="more fractions for a kernel, e.g. outer=0.75")
    ap.add_argument("--thinned-tasks", default="",
                    help="also sample each matrix x kernel thinned to about N tasks per "
                         "miniature thread (N[,N...]; the fraction from the plan)")
    ap.add_argument("--preset", default="piuma-die")
    ap.add_argument("--full-max-ops", type=float, default=FULL_MAX_OPS,
                    help="refuse full runs estimated above this many operations")
    ap.add_argument("-j", "--jobs", type=int, default=1)
    ap.add_argument("--fresh", action="store_true", help="discard the records in --out")
    ap.add_argument("--table-only", action="store_true", help="only the table of --out")
    ap.add_argument("--markdown", default=None, help="write the table here (e.g. docs/...)")
    args = ap.parse_args(argv)

    if args.matrices:
        mats = matrices.resolve(args.matrices)
    elif args.quick:
        mats = QUICK
    else:
        mats = GENERATED + [str(SHARED / m) for m in REAL if (SHARED / m).exists()]
    fractions = [float(x) for x in args.fractions.split(",") if x]
    seeds = [int(x) for x in args.seeds.split(",") if x]
    max_ops = int(args.full_max_ops)
    full = full_points(mats, args.kernels, args.preset, max_ops)
    t0 = time.perf_counter()
    done = [0]

    def tick(rec: Mapping[str, Any]) -> None:
        done[0] += 1
        what = ("full" if rec.get("requested_sample") is None
                else f"sample {rec.get('requested_sample')} seed {rec.get('seed')}")
        extra = (f"{rec.get('cycles', 0):.4g} cycles" if rec.get("status") == "ok"
                 else f"FAILED: {rec.get('error')}")
        print(f"[{done[0]}] {time.perf_counter() - t0:7.0f} s  {rec.get('kernel')} on "
              f"{rec.get('matrix')} {what}: {extra}", file=sys.stderr, flush=True)

    def latest(points: Sequence[Point]) -> dict[str, dict[str, Any]]:
        keys = {p.key for p in points}
        if not os.path.exists(args.out):
            return {}
        return {r["point_key"]: r for r in read_records(args.out) if r.get("point_key") in keys}

    if not args.table_only:     # full runs first; samples only where the full run succeeded
        _warm_up(list(args.kernels))        # compile first: wall times compare runs, not the JIT
        run_sweep(full, args.out, jobs=args.jobs, resume=not args.fresh, overwrite=args.fresh,
                  on_record=tick)
    fulls = latest(full)
    ok = [(p.matrix, p.kernel) for p in full if fulls.get(p.key, {}).get("status") == "ok"]
    extra = parse_extra(args.extra_fractions)
    tasks = [float(x) for x in args.thinned_tasks.split(",") if x]
    sampled = [p for m, k in ok
               for p in sampled_points([m], [k], fractions + [
                   f for t in tasks for f in [thinned_fraction(m, k, args.preset, t)]
                   if f is not None], seeds, args.preset, max_ops, extra)]
    if not args.table_only:
        run_sweep(sampled, args.out, jobs=args.jobs, resume=True, on_record=tick)
    recs = list(fulls.values()) + list(latest(sampled).values())
    command = " ".join(["python benchmarks/calibrate_sampling.py"]
                       + study_args(sys.argv[1:] if argv is None else argv))
    text, md = report(recs, args.preset, command)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(md, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
