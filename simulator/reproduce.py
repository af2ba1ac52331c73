"""The thesis-style experiment: every kernel on a built-in matrix set on `piuma-die`.

    recs = reproduce_records(default_points(quick=True), "out/records.jsonl", jobs=2)
    text = format_report(recs)          # the CLI prints it

SMASH (arXiv 2105.14156) compares its row-wise, atomically hashed kernel (V1 atomic hashing,
V2 tokenization, V3 fragmenting memory) with inner- and outer-product SpGEMM on PIUMA and reports
speedup, DRAM traffic, arithmetic intensity, cache behaviour, workload distribution and IPC.
This module picks the matrices, runs the sweep (simulator.sweep) and turns the records into the
per-matrix tables and the summary; plots come from simulator.plots. Nothing here prints.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import matrices
from simulator.sampling import (cycles_interval, geomean_interval, is_sampled, speedup_interval)
from simulator.sweep import Point, read_records, run_sweep

#: Kernels of the experiment, baselines first.
KERNELS = ["inner", "inner-candidates", "outer", "rowwise-dense", "rowwise-hash", "smash-v1",
           "smash-v2", "smash-v3"]
SMASH = ["smash-v1", "smash-v2", "smash-v3"]
BASELINES = ["inner", "inner-candidates", "outer"]
PRESET = "piuma-die"

#: The ablation: SMASH's ingredients turned on one at a time from the row-wise baseline
#: (cumulative steps), then two variations of the whole (label, kernel, knobs). The steps with
#: a preset's own knobs are the experiment's main runs (their records are shared).
ABLATION: list[tuple[str, str, dict[str, str]]] = [
    ("row-wise, private tables in DRAM", "rowwise-hash", {}),
    ("+ tables in the scratchpad", "rowwise-hash", {"placement": "spad"}),
    ("+ windows, shared table, locks", "smash-v1", {"atomics": "false"}),
    ("+ atomics (= v1)", "smash-v1", {}),
    ("+ dynamic windows (= v2)", "smash-v2", {}),
    ("+ fragments (= v3)", "smash-v3", {}),
    ("v3, heaviest window first", "smash-v3", {"order": "heaviest"}),
    ("v3, tables in DRAM", "smash-v3", {"placement": "dram"}),
]
ABLATION_STEPS = 6          # the first six rows are cumulative

#: Built-in matrices: generated so the full run takes a few minutes on 2 cores. The families the
#: thesis' question needs: skewed power-law graphs (R-MAT), uniform random (Erdős–Rényi),
#: a regular mesh (2-D Poisson) and a few very long rows among short ones (imbalance).
DEFAULT_MATRICES = [
    "rmat:scale=13,ef=16",
    "er:n=8192,nnz_per_row=16",
    "poisson2d:n=96",
    "powerlaw:n=8192,nnz_per_row=8",
    "imbalanced:n=8192,nnz_per_row=8,n_long=8,long_len=2048",
]
#: --quick: the same families, tiny (the whole run is JIT-compile time plus a few seconds).
QUICK_MATRICES = [
    "rmat:scale=8,ef=8",
    "er:n=512,nnz_per_row=8",
    "poisson2d:n=24",
    "imbalanced:n=512,nnz_per_row=4,n_long=4,long_len=256",
]
#: Reproduce's policy (not `simulator.sampling.AUTO_SAMPLE_OPS`, smash run's default): runs
#: estimated above this many simulated operations are estimated from a sample (the inner
#: product on the larger matrices; marked `*` in the tables, with their interval).
REPRODUCE_SAMPLE_OPS = 150_000_000

#: The scaling study (`smash reproduce --scaling`): every kernel on piuma-node sliced to 1, 2,
#: 4, 8 and 16 dies (`--set dies=N`; the HyperX shape follows), on one matrix small enough that
#: the 40 whole (unsampled) runs take minutes.
SCALING_PRESET = "piuma-node"
SCALING_DIES = (1, 2, 4, 8, 16)
SCALING_MATRIX = "rmat:scale=10,ef=16"
SCALING_MATRIX_QUICK = "rmat:scale=7,ef=8"


def default_points(quick: bool = False, extra: Sequence[str] = (), *, preset: str = PRESET,
                   kernels: Sequence[str] = KERNELS, auto_ops: int = REPRODUCE_SAMPLE_OPS,
                   ablation: bool = True) -> list[Point]:
    """The experiment's points: built-in matrices (+ `extra` specs, sets or folders) x kernels,
    and the ablation's variants (kernels with knobs) on every matrix."""
    mats = list(QUICK_MATRICES if quick else DEFAULT_MATRICES)
    if extra:
        mats += matrices.resolve(list(extra))
    pts = [Point(matrix=m, kernel=k, preset=preset, sample="auto", auto_ops=auto_ops)
           for m in mats for k in kernels]
    if ablation:
        have = {p.key for p in pts}
        for m in mats:
            for _, k, kn in ABLATION:
                p = Point(matrix=m, kernel=k, preset=preset, knobs=tuple(kn.items()),
                          sample="auto", auto_ops=auto_ops)
                if p.key not in have:
                    have.add(p.key)
                    pts.append(p)
    return pts


def scaling_points(quick: bool = False, matrix: str | None = None,
                   kernels: Sequence[str] = KERNELS) -> list[Point]:
    """The scaling study's points: every kernel on `SCALING_PRESET` with 1 .. 16 dies."""
    m = matrix or (SCALING_MATRIX_QUICK if quick else SCALING_MATRIX)
    return [Point(matrix=m, kernel=k, preset=SCALING_PRESET, overrides=(f"dies={d}",))
            for k in kernels for d in SCALING_DIES]


def _dies_of(rec: Mapping[str, Any]) -> int | None:
    for o in (rec.get("overrides") or "").split():
        key, _, val = o.partition("=")
        if key == "dies":
            return int(val)
    return None


def scaling_rows(recs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per kernel and die count (records with a `dies=N` override): cycles, speedup over the
    kernel's 1-die run on the same matrix, parallel efficiency (speedup / dies), accesses that
    crossed dies (DRAM requests and scratchpad accesses) per 100 DRAM requests, steals, link
    bytes and link queueing."""
    runs: dict[tuple[str, str], dict[int, Mapping[str, Any]]] = {}
    for r in _ok(recs):
        d = _dies_of(r)
        if d is not None:
            runs.setdefault((r["matrix"], r["kernel"]), {})[d] = r
    rows = []
    for (m, k), by_d in sorted(runs.items(), key=lambda kv: (kv[0][0], _kernel_order(kv[0][1]))):
        one = by_d.get(1)
        for d in sorted(by_d):
            r = by_d[d]
            speed = one["cycles"] / r["cycles"] if one and r["cycles"] else float("nan")
            reqs = r.get("dram_requests", 0)
            rows.append({"matrix": m, "kernel": k, "dies": d, "mcycles": r["cycles"] / 1e6,
                         "speedup": speed, "efficiency": speed / d,
                         "remote_pct": 100 * r.get("remote_die_accesses", 0) / reqs if reqs else 0.0,
                         "steals": r.get("steals", 0), "link_mb": r.get("link_bytes", 0) / 1e6,
                         "link_queue_mcycles": r.get("link_queue_cycles", 0.0) / 1e6})
    return rows


SCALING_COLUMNS = ["kernel", "dies", "mcycles", "speedup", "efficiency", "remote_pct", "steals",
                   "link_mb", "link_queue_mcycles"]
SCALING_HEADERS = ["kernel", "dies", "Mcycles", "x 1 die", "efficiency", "remote %", "steals",
                   "link MB", "link queue Mcyc"]


def format_scaling(recs: Sequence[Mapping[str, Any]]) -> str:
    """The scaling study's table, per matrix."""
    from simulator.cli._common import format_table      # a pure text helper
    rows = scaling_rows(recs)
    parts = []
    for m in dict.fromkeys(r["matrix"] for r in rows):
        parts.append(f"== Scaling on {SCALING_PRESET} sliced to 1-16 dies: {m} (speedup over "
                     f"the kernel's 1-die run; efficiency = speedup / dies; remote %: accesses "
                     f"that crossed dies, DRAM and scratchpad, per 100 DRAM requests; link "
                     f"queueing summed over requests)")
        parts.append(format_table([r for r in rows if r["matrix"] == m], SCALING_COLUMNS,
                                  SCALING_HEADERS))
    return "\n".join(parts) + ("\n" if parts else "")


def point_knobs(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The knobs a record's point asked for (from its `point_key`; {} for a preset's own)."""
    try:
        return {k: v for k, v in json.loads(rec["point_key"])[4]}
    except (KeyError, ValueError, TypeError, IndexError):
        return {}


def main_records(recs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The runs of kernels with their presets' knobs (the ablation's variants left out)."""
    return [r for r in recs if not point_knobs(r)]


def reproduce_records(points: Sequence[Point], out: str | os.PathLike, *, jobs: int | None = None,
                      dask: str | None = None, on_record=None,
                      fresh: bool = False) -> list[dict[str, Any]]:
    """Run (or resume; fresh: start afresh) the experiment into `out` (JSONL); return the
    records of `points`."""
    run_sweep(points, out, jobs=jobs, dask=dask, resume=not fresh, overwrite=fresh,
              on_record=on_record)
    keys = {p.key for p in points}
    latest = {}
    for r in read_records(out):
        if r.get("point_key") in keys:
            latest[r["point_key"]] = r
    return [latest[p.key] for p in points if p.key in latest]


# ----------------------------------------------------------------------------------------------
# tables


def _ok(recs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in recs if r.get("status", "ok") == "ok"]


def _by_matrix(recs: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Mapping[str, Any]]]:
    out: dict[str, dict[str, Mapping[str, Any]]] = {}
    for r in recs:
        out.setdefault(r["matrix"], {})[r["kernel"]] = r
    return out


def geomean(values: Iterable[float]) -> float:
    vals = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, vals)) / len(vals)) if vals else float("nan")


def matrix_rows(recs: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per matrix, one row per kernel: time, speedups over inner/outer, traffic, rates."""
    out = {}
    for m, by_k in _by_matrix(_ok(main_records(recs))).items():
        rows = []
        for k, r in sorted(by_k.items(), key=lambda kv: _kernel_order(kv[0])):
            sampled = is_sampled(r)
            us = r["seconds"] * 1e6 / r["cycles"] if r["cycles"] else 0.0
            _, lo, hi = cycles_interval(r)
            row = {
                "kernel": k + (" *" if sampled else ""),
                "time_us": r["seconds"] * 1e6,
                "interval_us": _interval_text(lo * us, hi * us) if sampled else "",
                "vs_inner": _speedup(by_k, "inner", r),
                "vs_inner_c": _speedup(by_k, "inner-candidates", r),
                "vs_outer": _speedup(by_k, "outer", r),
                "vs_inner_interval": _speedup_text(by_k, "inner", r),
                "vs_inner_c_interval": _speedup_text(by_k, "inner-candidates", r),
                "vs_outer_interval": _speedup_text(by_k, "outer", r),
                "dram_read_mb": r["dram_bytes_read"] / 1e6,
                "dram_written_mb": r["dram_bytes_written"] / 1e6,
                "useful_pct": 100 * r["dram_useful_bytes"] / r["dram_transferred_bytes"]
                if r["dram_transferred_bytes"] else float("nan"),
                "flop_per_byte": r["arithmetic_intensity"],
                "cache_hit_pct": 100 * r["cache_hit_rate"],
                "imbalance": r["load_imbalance"],
                "ipc": r["ipc"],
                "bw_util_pct": 100 * r["dram_bandwidth_utilization"],
            }
            rows.append(row)
        out[m] = rows
    return out


TABLE_COLUMNS = ["kernel", "time_us", "interval_us", "vs_inner", "vs_inner_interval",
                 "vs_inner_c", "vs_inner_c_interval", "vs_outer", "vs_outer_interval",
                 "dram_read_mb", "dram_written_mb", "useful_pct", "flop_per_byte",
                 "cache_hit_pct", "imbalance", "ipc", "bw_util_pct"]
TABLE_HEADERS = ["kernel", "time us", "95% interval", "x inner", "(interval)", "x inner-c",
                 "(interval)", "x outer", "(interval)", "DRAM rd MB", "DRAM wr MB", "useful %",
                 "flop/B", "cache hit %", "imbalance", "IPC", "BW util %"]


def _kernel_order(k: str) -> tuple[int, str]:
    return (KERNELS.index(k) if k in KERNELS else len(KERNELS), k)


def _speedup(by_k: Mapping[str, Mapping[str, Any]], base: str, r: Mapping[str, Any]) -> float:
    b = by_k.get(base)
    return b["cycles"] / r["cycles"] if b and r["cycles"] else float("nan")


def _speedup_text(by_k: Mapping[str, Mapping[str, Any]], base: str, r: Mapping[str, Any]) -> str:
    """The speedup's interval as text when either run was sampled, else empty."""
    b = by_k.get(base)
    if not b or not (is_sampled(b) or is_sampled(r)):
        return ""
    return _interval_text(*speedup_interval(b, r)[1:])


def _interval_text(lo: float, hi: float) -> str:
    from simulator.cli._common import format_value      # a pure text helper
    return f"{format_value(lo)}-{format_value(hi)}"


def speedup_rows(recs: Sequence[Mapping[str, Any]], versions: Sequence[str] = SMASH,
                 baselines: Sequence[str] = BASELINES) -> list[dict[str, Any]]:
    """The thesis summary: speedup of each SMASH version over each baseline per matrix, and the
    geometric mean over matrices (last row, matrix = "geomean"). Each `<v>/<b>` value comes
    with `<v>/<b>_low` and `<v>/<b>_high`: its interval when a run was sampled (the sampled
    records' cycles_ci_low / cycles_ci_high), the value itself otherwise; the geomean's are the
    geometric means of the lows and of the highs. `sampled`: whether a run of the row was."""
    rows = []
    for m, by_k in _by_matrix(_ok(main_records(recs))).items():
        row: dict[str, Any] = {"matrix": m, "sampled": any(is_sampled(r) for r in by_k.values())}
        for v in versions:
            for b in baselines:
                s = (speedup_interval(by_k[b], by_k[v]) if v in by_k and b in by_k
                     else (float("nan"),) * 3)
                row[f"{v}/{b}"], row[f"{v}/{b}_low"], row[f"{v}/{b}_high"] = s
        rows.append(row)
    if rows:
        g: dict[str, Any] = {"matrix": "geomean", "sampled": any(r["sampled"] for r in rows)}
        for v in versions:
            for b in baselines:
                key = f"{v}/{b}"
                g[key], g[key + "_low"], g[key + "_high"] = geomean_interval(
                    [(r[key], r[key + "_low"], r[key + "_high"]) for r in rows])
        rows.append(g)
    return rows


def speedup_table_rows(rows: Sequence[Mapping[str, Any]], versions: Sequence[str] = SMASH,
                       baselines: Sequence[str] = BASELINES) -> list[dict[str, Any]]:
    """`speedup_rows` for printing: a cell is the speedup, followed by its interval in
    brackets when a run of the row was sampled."""
    from simulator.cli._common import format_value      # a pure text helper
    out = []
    for r in rows:
        row = {"matrix": r["matrix"] + (" *" if r["sampled"] and r["matrix"] != "geomean" else "")}
        for v in versions:
            for b in baselines:
                key = f"{v}/{b}"
                val, lo, hi = r[key], r[key + "_low"], r[key + "_high"]
                text = format_value(val)
                if r["sampled"] and lo != hi and all(map(math.isfinite, (val, lo, hi))):
                    text += f" [{format_value(lo)}-{format_value(hi)}]"
                row[key] = text
        out.append(row)
    return out


def metric_rows(recs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per kernel, averaged over matrices: DRAM MB, arithmetic intensity (geomean), cache hit
    rate, load imbalance, IPC, bandwidth utilization (arithmetic means)."""
    by_k: dict[str, list[Mapping[str, Any]]] = {}
    for r in _ok(main_records(recs)):
        by_k.setdefault(r["kernel"], []).append(r)
    rows = []
    for k in sorted(by_k, key=_kernel_order):
        rs = by_k[k]
        mean = lambda f: sum(f(r) for r in rs) / len(rs)
        rows.append({
            "kernel": k,
            "dram_read_mb": mean(lambda r: r["dram_bytes_read"] / 1e6),
            "dram_written_mb": mean(lambda r: r["dram_bytes_written"] / 1e6),
            "flop_per_byte": geomean(r["arithmetic_intensity"] for r in rs),
            "cache_hit_pct": mean(lambda r: 100 * r["cache_hit_rate"]),
            "imbalance": mean(lambda r: r["load_imbalance"]),
            "ipc": mean(lambda r: r["ipc"]),
            "bw_util_pct": mean(lambda r: 100 * r["dram_bandwidth_utilization"]),
        })
    return rows


def ablation_rows(recs: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per matrix, one row per ablation step (ABLATION): cycles, speedup over the step before
    (the variations: over v3) and over the row-wise baseline, DRAM traffic, atomics, their
    stall cycles, failed claims, spilled entries, load imbalance."""
    found: dict[str, dict[int, Mapping[str, Any]]] = {}
    for r in _ok(recs):
        kn = point_knobs(r)
        for i, (_, k, want) in enumerate(ABLATION):
            if r["kernel"] == k and kn == want:
                found.setdefault(r["matrix"], {})[i] = r
    out = {}
    for m, steps in found.items():
        rows = []
        base = steps.get(0)
        for i, (label, k, kn) in enumerate(ABLATION):
            r = steps.get(i)
            if r is None:
                continue
            prev = steps.get(i - 1 if i < ABLATION_STEPS else ABLATION_STEPS - 1)
            rows.append({
                "step": label + (" *" if r.get("sample_fraction", 1.0) < 1 else ""),
                "mcycles": r["cycles"] / 1e6,
                "vs_prev": prev["cycles"] / r["cycles"] if prev and i and r["cycles"] else float("nan"),
                "vs_base": base["cycles"] / r["cycles"] if base and r["cycles"] else float("nan"),
                "dram_mb": (r["dram_bytes_read"] + r["dram_bytes_written"]) / 1e6,
                "matomics": r.get("atomics", 0) / 1e6,
                "stall_mcycles": r.get("atomic_stall_cycles", 0.0) / 1e6,
                "cas_retries": r.get("cas_retries", 0),
                "spilled": r.get("spilled_entries", 0),
                "imbalance": r["load_imbalance"],
            })
        out[m] = rows
    return out


ABLATION_COLUMNS = ["step", "mcycles", "vs_prev", "vs_base", "dram_mb", "matomics",
                    "stall_mcycles", "cas_retries", "spilled", "imbalance"]
ABLATION_HEADERS = ["step", "Mcycles", "x prev", "x base", "DRAM MB", "M atomics",
                    "stall Mcyc", "CAS retries", "spilled", "imbalance"]


def format_report(recs: Sequence[Mapping[str, Any]]) -> str:
    """The printed report: a table per matrix, then the speedup summary, per-kernel means and
    the ablation per matrix."""
    from simulator.cli._common import format_table      # a pure text helper
    everything = recs
    recs = main_records(recs)
    parts = []
    for m, rows in matrix_rows(recs).items():
        # an unsampled record, when there is one: a sampled record's n_rows is extrapolated
        mine = [r for r in _ok(recs) if r.get("matrix") == m]
        r0 = min(mine, key=is_sampled)
        parts.append(f"== {m}  ({int(round(r0['n_rows']))} rows, {r0['flops']} multiply-adds, "
                     f"nnz(C) {r0['nnz_c']}; {r0['preset']})")
        parts.append(format_table(rows, TABLE_COLUMNS, TABLE_HEADERS))
        parts.append("")
    errors = [r for r in recs if r.get("status") == "error"]
    for r in errors:
        parts.append(f"failed: {r['kernel']} on {r['matrix']}: {r['error']}")
    warned = [r for r in _ok(recs) if r.get("sample_warning")]
    for r in warned:
        parts.append(f"warning: {r['kernel']} on {r['matrix']}: {r['sample_warning']}")
    if errors or warned:
        parts.append("")
    sp = speedup_rows(recs)
    if sp:
        parts.append("== Speedup of SMASH over the inner product (every (i, j), and candidates "
                     "only) and the outer product (cycles of the baseline / cycles of SMASH; "
                     "geomean over matrices; [95% interval] where a run was sampled)")
        cells = speedup_table_rows(sp)
        cols = list(cells[0])
        parts.append(format_table(cells, cols, [c.replace("smash-", "").replace("inner-candidates", "inner-c")
                                                for c in cols]))
        parts.append("")
        parts.append("== Per kernel over the matrices: DRAM traffic, arithmetic intensity "
                     "(geomean), cache hit rate, load imbalance (max/mean thread busy), IPC")
        parts.append(format_table(metric_rows(recs),
                                  ["kernel", "dram_read_mb", "dram_written_mb", "flop_per_byte",
                                   "cache_hit_pct", "imbalance", "ipc", "bw_util_pct"],
                                  ["kernel", "DRAM rd MB", "DRAM wr MB", "flop/B", "cache hit %",
                                   "imbalance", "IPC", "BW util %"]))
    abl = ablation_rows(everything)
    if abl:
        parts.append("")
        parts.append("== Ablation: SMASH's ingredients on one at a time from the row-wise baseline "
                     "(x prev: speedup over the step before; the last two rows vary v3)")
        for m, rows in abl.items():
            parts.append(f"-- {m}")
            parts.append(format_table(rows, ABLATION_COLUMNS, ABLATION_HEADERS))
    if any(is_sampled(r) for r in _ok(everything)):
        parts.append("")
        parts.append("* estimated from a sample: miniatures of the run simulated on a machine cut "
                     "to match (docs/sampling.md); time and speedups with their 95% interval "
                     "(cycles_ci_low, cycles_ci_high in the records)")
    return "\n".join(parts).rstrip() + "\n"


def write_scaling(recs: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike,
                  formats: Sequence[str] = ("png", "pdf"), figures: bool = True) -> list[Path]:
    """Write scaling.csv and figures/scaling-dies.* (speedup over 1 die against dies, from the
    records) into `out_dir`; return the paths written."""
    from simulator import plots
    from simulator.sweep import write_csv
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = scaling_rows(recs)
    if not rows:
        return []
    write_csv(out / "scaling.csv", rows)
    written = [out / "scaling.csv"]
    if figures:
        written += plots.plot("scaling", [r for r in _ok(recs) if _dies_of(r) is not None],
                              out / "figures" / "scaling-dies", formats=formats)
    return written


def write_outputs(recs: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike,
                  formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write report.txt, summary.csv (speedups) and the figures into `out_dir`; return the
    paths written."""
    from simulator import plots
    from simulator.sweep import write_csv
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    (out / "report.txt").write_text(format_report(recs), encoding="utf-8")
    written.append(out / "report.txt")
    main = main_records(recs)
    write_csv(out / "speedup.csv", speedup_rows(main))
    written.append(out / "speedup.csv")
    abl = [dict(matrix=m, **row) for m, rows in ablation_rows(recs).items() for row in rows]
    if abl:
        write_csv(out / "ablation.csv", abl)
        written.append(out / "ablation.csv")
    fig_dir = out / "figures"
    for kind in ("speedup", "dram", "workload", "ipc", "roofline"):
        written += plots.plot(kind, main, fig_dir / kind, formats=formats)
    if abl:
        written += plots.plot("ablation", recs, fig_dir / "ablation", formats=formats)
    return written


__all__ = ["ABLATION", "REPRODUCE_SAMPLE_OPS", "DEFAULT_MATRICES", "KERNELS", "QUICK_MATRICES",
           "SCALING_DIES", "SCALING_MATRIX", "SCALING_PRESET", "ablation_rows", "default_points",
           "format_report", "format_scaling", "scaling_points", "scaling_rows", "write_scaling", "geomean", "main_records",
           "matrix_rows", "metric_rows", "point_knobs", "reproduce_records", "speedup_rows",
           "speedup_table_rows", "write_outputs"]
