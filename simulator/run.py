"""Run a kernel program on the machine: guard, simulate, verify, record.

    rec = run_kernel("smash-v3", "rmat:scale=10,ef=8", preset="piuma-die")
    rec["cycles"], rec["dram_bytes_read"], rec["verified"]

The record is one flat dict: the machine's `SimResult.to_row()` plus the kernel, matrix
(canonical spec), preset, knobs (`knob_<name>`), the symbolic pass's flops and nnz(C), the
program's counters (hash probes, collisions, spills, partial-product bytes...) and derived rates.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Mapping, Sequence

import numpy as np

import matrices
import spgemm
from simulator.machine import Simulation, load_config
from simulator.programs import KERNELS, Operands, get_kernel
from simulator.programs.base import IDX_BYTES, PTR_BYTES, VAL_BYTES

log = logging.getLogger(__name__)

#: The data structures the DRAM traffic is broken down into (record keys
#: `dram_bytes_<group>_<read|written>_<useful|transferred>`), in plotting order.
DRAM_GROUPS = ("A", "B", "C", "partials", "hash", "other")
DRAM_GROUP_LABELS = {"A": "A", "B": "B", "C": "C", "partials": "partial products",
                     "hash": "hash tables, spills, dense accumulators", "other": "other (counters)"}


def dram_group(region: str) -> str:
    """The data structure a kernel program's DRAM region belongs to (see DRAM_GROUPS): A / At
    (A transposed), B / Bt, C, the outer product's partial products and their row pointers
    ("pp.records", "pp.indptr"), accumulator state (hash tables, spill areas, dense accumulators
    placed in DRAM), and "other": counters updated by atomics (C's allocation counter "C.alloc",
    the outer product's bin cursors "pp.cursor", scheduler counters placed in DRAM) and any
    region of unknown name. The outer product's merge phase prefixes its regions with "merge."."""
    name = region[len("merge."):] if region.startswith("merge.") else region
    if name in ("C.alloc", "pp.cursor"):
        return "other"
    head = name.split(".", 1)[0]
    if head in ("A", "At"):
        return "A"
    if head in ("B", "Bt"):
        return "B"
    if head == "C":
        return "C"
    if head == "pp":
        return "partials"
    if head in ("table", "spill", "spa", "pool"):
        return "hash"
    return "other"


def dram_group_keys(res) -> dict[str, int]:
    """Record keys `dram_bytes_<group>_<read|written>_<useful|transferred>` for every group."""
    by = res.dram_bytes_by(dram_group)
    out = {}
    for g in DRAM_GROUPS:
        b = by.get(g, {})
        for key in ("read_useful", "read_transferred", "written_useful", "written_transferred"):
            out[f"dram_bytes_{g}_{key}"] = int(b.get(key, 0))
    return out


#: Default work guard: estimated simulated operations (trace rows) above which a run is refused.
DEFAULT_MAX_OPS = 200_000_000


class VerificationError(AssertionError):
    """A simulated kernel's C differs from scipy's (a bug, never a user error)."""


def estimate_ops(kernel: str, ops: Operands, threads: int = 66) -> int:
    """About how many trace operations `kernel` emits on these operands (for the work guard)."""
    n_row, n_col = ops.sym.shape
    flops, nnz_c, nnz_a = ops.flops, ops.nnz_c, int(ops.A.nnz)
    rows_busy = int(np.count_nonzero(ops.sym.row_flops))
    if kernel == "inner":
        rows_a = int(np.count_nonzero(np.diff(ops.A.indptr)))
        return int(rows_a * (2.2 * n_col + ops.B.nnz / 16) + 2 * flops + nnz_c / 4 + 8 * n_row)
    if kernel == "outer":
        return int(3.5 * flops + 4 * nnz_a + nnz_c + 8 * n_row + 4 * ops.A.shape[1])
    if kernel == "rowwise-dense":
        return int(4 * flops + 4 * nnz_a + 2 * nnz_c + 6 * n_row)
    scan = 0
    if kernel in ("smash-v1", "smash-v2"):
        scan = rows_busy * (4 * 2**20 // threads // 16) // 4
    return int(2.4 * flops + 4 * nnz_a + nnz_c + 8 * n_row + scan)


# record fields that are ratios or identities: not extrapolated by --sample
_NO_SCALE = {"ipc", "ipc_pipeline_mean", "ipc_pipeline_max", "dram_bandwidth_utilization",
             "load_imbalance", "config_hash", "config_name", "host_seconds", "n_rows", "barriers",
             "seed"}


def run_kernel(kernel: str, matrix: str | Any, *, preset: str = "piuma-die",
               overrides: Sequence[str] = (), knobs: Mapping[str, Any] | None = None,
               max_ops: int | None = DEFAULT_MAX_OPS, sample: float | None = None,
               seed: int = 0, B: Any = None) -> dict[str, Any]:
    """Simulate C = A·B (B = A unless given) with `kernel` on the machine `preset`.

    Refuses (ValueError) when the estimated operation count exceeds `max_ops` (None: no guard)
    unless `sample` (a fraction of rows, simulated twice with seeds `seed`, `seed + 1` and
    extrapolated by the flops ratio) is given. Raises VerificationError if C differs from scipy.
    """
    t0 = time.perf_counter()
    k = get_kernel(kernel)
    kn = k.resolve_knobs(knobs)
    if isinstance(matrix, str):
        name = matrices.canonical_name(matrix)
        A = matrices.load(matrix)
    else:
        name = "<array>"
        A = matrix
    if B is None:
        Bm = A if A.shape[0] == A.shape[1] else A.T     # A·A, or A·A^T when not square
    else:
        Bm = B
    cfg = load_config(preset, list(overrides))
    ops = Operands.build(A, Bm)
    est = estimate_ops(kernel, ops, cfg.core.threads)
    if sample is not None:
        if not 0 < sample <= 1:
            raise ValueError(f"--sample: expected a fraction in (0, 1], got {sample}")
    elif max_ops is not None and est > max_ops:
        n_row = ops.sym.shape[0]
        frac = max(min(0.5 * max_ops / est, 1.0), 1.0 / max(n_row, 1))
        raise ValueError(
            f"{kernel} on {name} needs about {est:.3g} simulated operations, above the budget "
            f"{max_ops:.3g}: use a smaller matrix, raise --max-ops (e.g. --max-ops {int(est * 1.2)}), "
            f"or simulate a sample of rows (e.g. --sample {frac:.2g})")
    if sample is None or sample >= 1:
        rec = _simulate(k, kn, ops, A, Bm, cfg)
        rec.update(sample_fraction=1.0, sample_error=0.0)
    else:
        recs = []
        for s in (seed, seed + 1):
            sops = _sample_ops(ops, sample, s)
            recs.append(_simulate(k, kn, sops, sops.A, sops.B, cfg))
        rec = _extrapolate(recs, ops)
        rec["sample_fraction"] = float(sample)
    rec_front = {"kernel": kernel, "matrix": name, "preset": cfg.name, "config_hash": rec.pop("config_hash"),
                 "seed": seed, "estimated_ops": est}
    out = {**rec_front, **{f"knob_{key}": v for key, v in kn.items()}, **rec}
    out["dram_bytes_read"] = out["dram_read_transferred_bytes"]
    out["dram_bytes_written"] = out["dram_write_transferred_bytes"]
    out["compulsory_dram_bytes"] = compulsory_bytes(ops)
    out["wall_seconds"] = time.perf_counter() - t0
    return out


def compulsory_bytes(ops: Operands) -> int:
    """Bytes any kernel must move: read A and B once, write C once (in this layout)."""
    def csr(nrow, nnz):
        return (nrow + 1) * PTR_BYTES + nnz * (IDX_BYTES + VAL_BYTES)
    return (csr(ops.A.shape[0], ops.A.nnz) + csr(ops.B.shape[0], ops.B.nnz)
            + ops.nnz_c * (IDX_BYTES + VAL_BYTES))


def _sample_ops(ops: Operands, fraction: float, seed: int) -> Operands:
    """The operands restricted to a seeded sample of A's rows (B whole)."""
    n_row = ops.sym.shape[0]
    rng = np.random.default_rng(seed)
    m = max(1, int(round(fraction * n_row)))
    rows = np.sort(rng.choice(n_row, size=m, replace=False))
    return Operands.build(ops.A[rows], ops.B)


def _simulate(k, kn: dict, ops: Operands, A, Bm, cfg) -> dict[str, Any]:
    sim = Simulation(cfg)
    out = k.run(sim, ops, kn)
    ok = spgemm.compare_csr(out.c_ptr, out.c_idx, out.c_val, A, Bm)    # by blocks of rows
    if not ok:
        raise VerificationError(f"{k.name}: simulated C differs from scipy's A @ B")
    cnt = out.counter_dict()
    if cnt["muladds"] != ops.flops or cnt["nnz_written"] != ops.nnz_c:
        raise VerificationError(f"{k.name}: counted {cnt['muladds']} multiply-adds and "
                                f"{cnt['nnz_written']} entries, the symbolic pass says "
                                f"{ops.flops} and {ops.nnz_c}")
    res = sim.result()
    row = res.to_row()
    row.update(dram_group_keys(res))
    row.update(cnt)
    row["flops"] = ops.flops
    row["nnz_c"] = ops.nnz_c
    row["n_rows"] = int(ops.sym.shape[0])
    row["verified"] = True
    _derive(row)
    return row


def _derive(row: dict) -> None:
    acc = row["cache_hits"] + row["cache_misses"]
    row["cache_hit_rate"] = row["cache_hits"] / acc if acc else 0.0
    xfer = row["dram_read_transferred_bytes"] + row["dram_write_transferred_bytes"]
    row["arithmetic_intensity"] = 2 * row["flops"] / xfer if xfer else 0.0
    row["hash_collision_rate"] = (row["hash_collisions"] / row["hash_probes"]
                                  if row["hash_probes"] else 0.0)


def _extrapolate(recs: list[dict], ops: Operands) -> dict[str, Any]:
    """Scale each sampled run's counts by total flops / sampled flops; average the two; the
    error estimate is the two estimates' relative spread of cycles."""
    scaled = []
    for r in recs:
        f = ops.flops / r["flops"] if r["flops"] else 1.0
        s = {}
        for key, v in r.items():
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or key in _NO_SCALE:
                s[key] = v
            else:
                s[key] = v * f
        s["sampled_cycles"] = r["cycles"]
        s["sampled_flops"] = r["flops"]
        scaled.append(s)
    out = dict(scaled[0])
    for key, v in scaled[0].items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and key not in _NO_SCALE:
            out[key] = 0.5 * (v + scaled[1][key])
            if isinstance(recs[0].get(key), (int, np.integer)):   # counts stay whole numbers
                out[key] = int(round(out[key]))
    for key in ("dram_read_transferred_bytes", "dram_write_transferred_bytes", "flops", "nnz_c"):
        out[key] = int(round(out[key]))
    out["flops"] = ops.flops
    out["nnz_c"] = ops.nnz_c
    out["n_rows"] = int(ops.sym.shape[0])
    c0, c1 = scaled[0]["cycles"], scaled[1]["cycles"]
    out["sample_error"] = abs(c0 - c1) / (c0 + c1) if c0 + c1 else 0.0
    out["verified"] = all(r["verified"] for r in recs)
    out["host_seconds"] = sum(r["host_seconds"] for r in recs)
    _derive(out)
    return out


def kernel_table() -> list[dict[str, Any]]:
    """One row per kernel: name, description, knobs with their defaults (after the preset)."""
    rows = []
    for name, k in KERNELS.items():
        d = k.defaults()
        rows.append({"kernel": name, "description": k.description,
                     "knobs": {key: {"default": d[key], "help": kb.help,
                                     "choices": list(kb.choices) if kb.choices else None}
                               for key, kb in k.knobs.items()}})
    return rows


__all__ = ["DEFAULT_MAX_OPS", "DRAM_GROUPS", "DRAM_GROUP_LABELS", "dram_group", "dram_group_keys", "VerificationError", "compulsory_bytes", "estimate_ops",
           "kernel_table", "run_kernel"]
