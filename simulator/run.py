"""Run a kernel program on the machine: guard, simulate, verify, record.

    rec = run_kernel("smash-v3", "rmat:scale=10,ef=8", preset="piuma-die")
    rec["cycles"], rec["dram_bytes_read"], rec["verified"]

The record is one flat dict: the machine's `SimResult.to_row()` plus the kernel, matrix
(canonical spec), preset, knobs (`knob_<name>`), the symbolic pass's flops and nnz(C), the
program's counters (hash probes, collisions, spills, partial-product bytes...) and derived rates.
"""
from __future__ import annotations

import logging
import os
import time
from mmap import PAGESIZE
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

import matrices
import spgemm
from matrices import hostmem
from spgemm.check import COMPARE_BLOCK_NNZ
from simulator.machine import Simulation, config_hash, load_config
from simulator.programs import KERNELS, Operands, get_kernel
from simulator.programs.base import IDX_BYTES, PTR_BYTES, VAL_BYTES
from simulator import sampling
from simulator.sampling import AUTO_SAMPLE_OPS
from simulator.programs.prep import SYMBOLIC_PHASES

log = logging.getLogger(__name__)

#: The data structures the DRAM traffic is broken down into (record keys
#: `dram_bytes_<group>_<read|written>_<useful|transferred>`), in plotting order.
DRAM_GROUPS = ("A", "B", "C", "partials", "hash", "symbolic", "other")
DRAM_GROUP_LABELS = {"A": "A", "B": "B", "C": "C", "partials": "partial products",
                     "hash": "hash tables, spills, dense accumulators",
                     "symbolic": "bounds, symbolic phase, scans", "other": "other (counters)"}


def dram_group(region: str) -> str:
    """The data structure a kernel program's DRAM region belongs to (see DRAM_GROUPS): A / At
    (A transposed), B / Bt, C, the outer product's partial products and their row pointers
    ("pp.records"), accumulator state (hash tables, spill areas, dense accumulators,
    SMASH's fragment pool, row cursors and fragment descriptors when placed in DRAM), what the
    machine computes before multiplying ("symbolic": the bounds "bounds.*", the scans' blocks
    "scan.*", SMASH's window plan "plan.*", the symbolic phase "sym.*" and "mask.*" (the candidate inner product's), the outer product's bin
    offsets "pp.indptr"), and "other": counters
    updated by atomics (C's allocation counter "C.alloc", the outer product's bin counts and
    cursors "pp.count", "pp.cursor", scheduler counters placed in DRAM) and any region of unknown
    name. The outer product's merge phase prefixes its regions with "merge."."""
    name = region[len("merge."):] if region.startswith("merge.") else region
    if name in ("C.alloc", "pp.cursor", "pp.count"):
        return "other"
    if name == "pp.indptr":          # the bins' offsets: the count's scan
        return "symbolic"
    head = name.split(".", 1)[0]
    if head in ("A", "At"):
        return "A"
    if head in ("B", "Bt"):
        return "B"
    if head == "C":
        return "C"
    if head == "pp":
        return "partials"
    if head in ("table", "spill", "spa", "pool", "frag", "win"):
        return "hash"
    if head in ("bounds", "scan", "plan", "sym", "mask"):
        return "symbolic"
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


def default_max_ops(auto_ops: int = 0) -> int:
    """The work guard when none is given: DEFAULT_MAX_OPS, or a time budget's operations
    (`sampling.budget_ops`) and a quarter when they are more: `--budget 8m` plans ~7e8
    operations and must not be refused by a guard it was not asked to keep (the quarter: the
    auto fraction is rounded to two digits and estimated from the upper bound of the work, the
    guard charges the lower bound x the plan's share; at R-MAT 18 `--budget 30m` planned the
    inner product at 1.004x its operations)."""
    return max(DEFAULT_MAX_OPS, int(1.25 * auto_ops))


class VerificationError(AssertionError):
    """A simulated kernel's C differs from scipy's (a bug, never a user error)."""


def estimate_ops(kernel: str, ops: Operands, threads: int = 66,
                 knobs: Mapping[str, Any] | None = None) -> int:
    """About how many trace operations `kernel` (with `knobs`) emits on these operands, for the
    work guard. Coefficients fitted (non-negative least squares) on measured runs of every
    kernel over R-MAT, Erdős–Rényi, Poisson, power-law and imbalanced matrices on piuma-die
    (within ~10 %)."""
    kn = get_kernel(kernel).resolve_knobs(knobs)
    n_row, n_col = ops.sym.shape
    flops, nnz_c, nnz_a = ops.flops, ops.nnz_c, int(ops.A.nnz)
    # the simulated symbolic phase (exact row nnz), where a kernel uses it
    symbolic = kernel == "inner" or kn.get("offsets") == "symbolic" or kn.get("sizes") == "symbolic"
    sym = 1.6 * flops + 1.5 * nnz_c + 40 * n_row if symbolic else 0
    if kernel == "inner":
        rows_a = int(np.count_nonzero(np.diff(ops.A.indptr)))
        return int(rows_a * (2.2 * n_col + ops.B.nnz / 16) + 2 * flops + nnz_c / 4 + 8 * n_row + sym)
    if kernel == "inner-candidates":
        return int(3.4 * flops + 4.9 * nnz_c + 34 * n_row)
    if kernel == "outer":
        return int(3.7 * flops + 1.7 * nnz_c + 67 * n_row + 4 * ops.A.shape[1] + sym)
    if kernel.startswith("smash"):
        if kn["table"] == "fragments":
            return int(2.6 * flops + 2.5 * nnz_c + 83 * n_row + sym)
        return int(2.9 * flops + 5.4 * nnz_c + 67 * n_row + sym)
    if kn["accumulator"] == "dense":
        return int(3.2 * flops + 2.5 * nnz_c + nnz_a + 32 * n_row + sym)
    scan = 0
    if kn["scope"] == "thread":      # a fixed table per thread, scanned whole for every row
        rows_busy = int(np.count_nonzero(ops.sym.row_flops))
        scan = rows_busy * (4 * 2**20 // threads // 16) // 4
    return int(2.5 * flops + 1.8 * nnz_c + 45 * n_row + scan + sym)


#: Knobs whose value scales host memory (hash tables are allocated on the host to execute the
#: kernel functionally): largest accepted value. A knob of 0 means "from the machine".
KNOB_LIMITS = {"load_factor": 64, "table_slots": 1 << 30, "fragment_max_slots": 1 << 30}

Progress = Callable[..., None]
"""A progress callback: ``progress(stage, done=None, total=None)``; the CLI draws it."""


def check_knob_limits(knobs: Mapping[str, Any]) -> None:
    """Refuse knob values that would scale host memory without bound (KNOB_LIMITS)."""
    for key, hi in KNOB_LIMITS.items():
        v = knobs.get(key)
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > hi:
            raise ValueError(f"knob {key}: {v} is above the limit {hi} (it sizes hash tables "
                             f"that are allocated on the host)")


def machine_peaks(cfg) -> dict[str, Any]:
    """The machine's ceilings, carried by every record (rooflines and utilization plots)."""
    pipelines = cfg.core.pipelines * cfg.cores
    return {
        "peak_dram_gb_per_s": cfg.channels * cfg.dram.channel_bandwidth_gb_per_s,
        "peak_issue_ginstr_per_s": pipelines * cfg.clock_ghz,
        "clock_ghz": cfg.clock_ghz,
        "machine_cores": cfg.cores,
        "machine_threads": cfg.threads,
        "machine_pipelines": pipelines,
        "dram_channels": cfg.channels,
    }


def check_values(M: Any, what: str) -> None:
    """Refuse operands the simulator cannot verify honestly (ValueError, one line): complex
    values (the simulated kernels compute in float64; simulating real and imaginary parts as
    two runs would change the traffic being measured), and NaN or Inf values (C could not be
    compared with scipy's)."""
    if np.iscomplexobj(M.data):
        raise ValueError(f"{what} has complex values: the simulated kernels compute in real "
                         f"float64 (give the real part as its own matrix)")
    if M.data.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(M.data)))
        if bad:
            raise ValueError(f"{what} has {bad} non-finite values (NaN or Inf): the simulated "
                             f"C could not be verified against scipy's")


def _check_overflow(A: Any, B: Any, row_flops: np.ndarray, name: str) -> None:
    """Refuse products whose entries could overflow float64 (they would be Inf)."""
    amax = float(np.abs(A.data).max()) if A.nnz else 0.0
    bmax = float(np.abs(B.data).max()) if B.nnz else 0.0
    longest = int(row_flops.max()) if row_flops.size else 0
    with np.errstate(over="ignore"):
        bound = amax * bmax * longest
    if not np.isfinite(bound) or bound > np.finfo(np.float64).max / 2:
        raise ValueError(f"{name}: entries of C could overflow float64 (values up to "
                         f"{max(amax, bmax):.3g}, up to {longest} products per row): scale the "
                         f"matrix down")


def bound_operands(A: Any, B: Any) -> tuple[Operands, Operands]:
    """Cheap stand-ins for `Operands.build` (O(nnz(A) + rows), no symbolic pass): canonical A
    and B with per-row flops, and C's row sizes bounded from above (min(flops, n_col)) and
    from below (the longest row of B a row of A reaches). Both carry a real
    `spgemm.Symbolic` whose nnz is that bound, so `estimate_ops` gives an upper and a lower
    estimate of the work before the exact pass runs."""
    from simulator.programs.base import _canonical
    A, B = _canonical(A), _canonical(B)
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"shapes {A.shape} and {B.shape} do not multiply")
    n_row, n_col = A.shape[0], B.shape[1]
    rf = matrices.row_flops(A, B)
    hi = np.minimum(rf, n_col)
    lo = np.zeros(n_row, dtype=np.int64)
    b_len = np.diff(B.indptr).astype(np.int64)
    nonempty = np.flatnonzero(np.diff(A.indptr))
    if nonempty.size and A.nnz:
        lo[nonempty] = np.maximum.reduceat(b_len[A.indices], A.indptr[nonempty])

    def ops(row_nnz: np.ndarray) -> Operands:
        nnz = int(row_nnz.sum())
        sym = spgemm.Symbolic(rf, row_nnz, int(rf.sum()), nnz,
                              spgemm.choose_index_dtype(max(nnz, n_row, n_col)), (n_row, n_col))
        c_ptr = np.zeros(n_row + 1, dtype=np.int64)
        np.cumsum(row_nnz, out=c_ptr[1:])
        return Operands(A, B, sym, c_ptr)
    return ops(lo), ops(hi)


SMASH_PLAN_BYTES_PER_FLOP = 4   # SMASH's task plan: its construction peaked at 1.9-2.5 bytes a
# multiply-add above the operands (smash-v1 and v3, R-MAT 14-18, piuma-die; docs/engine-api.md,
# "Memory"), and the plan stays resident through the numeric phase beside the rest


def host_memory_bytes(kernel: str, knobs: Mapping[str, Any], ops: Operands, cfg,
                      fraction: float = 1.0, planned: float = 1.0) -> int:
    """Estimated peak host memory of `run_kernel` (bytes), from the upper-bound operands of
    `bound_operands` (so before the exact symbolic pass), the knobs and the machine:

    * operands: A and B as loaded, canonical (int64 indices, float64 values) and as the
      program's copies (A transposed for the outer product, B for the inner product);
    * the symbolic pass: per-row arrays, and one mark array per host thread over C's columns;
    * C: the program's output (16 bytes an entry; sized by the row bounds where rows claim
      room before they know their size: a dense accumulator with atomic offsets; SMASH's host
      copy holds each row at its exact place whatever its simulated layout) and the
      verification, which compares blocks of rows of about
      `COMPARE_BLOCK_NNZ` entries (a 4-array C gathered a block at a time; scipy's product
      and structural pattern of the block and the comparison's copies: ten times a block);
    * the outer product's partial products (16 bytes each) of the merge rows being generated
      (each record makes at least one 16-byte trace row, so no more than the traces), the host
      hash tables the kernel
      executes (slots from `load_factor`, `table_slots` or the scratchpad share; SMASH: a
      scratchpad's table and its spill tables per window in flight,
      `smash_host_tables_bytes`) or the dense accumulator, sort scratch;
    * SMASH's task plan (`SMASH_PLAN_BYTES_PER_FLOP` a multiply-add of the rows planned at once);
    * the machine's state (threads, cache tags, DMA queues) and the trace buffers.

    fraction: the share of rows simulated (--sample): C, partial products and traces shrink.
    planned: the share of the rows SMASH plans at once (a sampled run plans each group whole).
    """
    A, B = ops.A, ops.B
    n_row, n_col = ops.sym.shape
    rf = ops.sym.row_flops
    operands = 4 * ((A.nnz + B.nnz) * 16 + (A.shape[0] + B.shape[0] + 2) * 8)
    symbolic = 6 * 8 * n_row + 8 * n_col * (os.cpu_count() or 1)
    c_prog = ops.nnz_c          # SMASH's host C holds rows at their exact places
    if kernel.startswith("smash"):      # ... and gives each window's rows back once checked
        c_prog = min(c_prog, smash_host_c_entries(knobs, n_col, cfg))
    if knobs.get("offsets") == "atomic" and knobs.get("accumulator") == "dense":
        c_prog = int(np.minimum(ops.sym.row_flops, n_col).sum())
    c_bytes = int((16 * c_prog + 8 * n_row + 10 * 16 * min(COMPARE_BLOCK_NNZ, ops.nnz_c)) * fraction)
    longest = int(ops.sym.row_nnz.max()) if n_row else 1
    lf = int(knobs.get("load_factor", 2) or 1)
    slots = 1 << max(lf * max(longest, 1) - 1, 1).bit_length()   # spgemm's hash_table_size
    threads = cfg.core.threads
    if knobs.get("scope") == "thread":
        share = int(knobs.get("table_slots") or cfg.spad.size_bytes // max(threads, 1) // 16)
        slots = max(slots, 1 << max(share, 1).bit_length())
    tables = 16 * slots + 8 * n_col + 16 * longest
    if kernel.startswith("smash"):
        tables += smash_host_tables_bytes(knobs, rf, n_col, cfg)
        tables += int(SMASH_PLAN_BYTES_PER_FLOP * ops.flops * planned)
    sets = cfg.cache.size_bytes // max(cfg.cache.ways * cfg.cache.line_bytes, 1)
    pipes = cfg.cores * cfg.core.pipelines
    machine = (cfg.threads * (8 * cfg.core.max_outstanding_per_thread + 512)
               + pipes * max(sets, 1) * cfg.cache.ways * 56
               + cfg.cores * (cfg.dma.queue_depth * 8 + cfg.spad.banks * 8 + 64))
    task_ops = 8 * (int(rf.max()) if n_row else 0) + (4 * n_col if kernel == "inner" else 0)
    traces = 2 * (1 << 22) * 16 + 4 * 16 * task_ops
    partials = min(int(16 * ops.flops * fraction), traces) + 8 * A.shape[1] if kernel == "outer" else 0
    return int(operands + symbolic + c_bytes + partials + tables + machine + traces)


def smash_host_tables_bytes(knobs: Mapping[str, Any], row_flops: np.ndarray, n_col: int,
                            cfg) -> int:
    """SMASH's host tables: one row per window in flight (about one per core; rows grow by a
    quarter), each a scratchpad's table (or fragment pool) and the window's spill tables. The
    spill tables are sized by the plan (the overfull rows of a batch); counted here as one
    longest row's hash table (the rows' bound sizes, min(flops, n_col)), SPILL_ROTATION of
    them with fragments: exact on R-MAT, where the longest bound row is the whole width. A
    table's keys are 4 bytes where they fit (`smash.key_dtype`), its values 8; the rows are
    reserved address space, resident only where written (a bound on the resident part)."""
    from simulator.programs import smash
    lf = max(1, int(knobs.get("load_factor", 2) or 1))
    longest = int(np.minimum(row_flops, n_col).max()) if row_flops.size else 1
    spill = 1 << max(lf * max(longest, 1) - 1, 3).bit_length()
    frag = knobs.get("table") == "fragments"
    if frag:
        spill *= smash.SPILL_ROTATION
    table = max(cfg.spad.size_bytes, 1 << 22) // 16
    keys = np.dtype(smash.key_dtype(n_col if frag else row_flops.size * n_col)).itemsize
    return (cfg.cores + 1) * ((keys + 8) * table + 16 * spill) * 5 // 4


def smash_host_c_entries(knobs: Mapping[str, Any], n_col: int, cfg) -> int:
    """Entries of C that SMASH's host copy holds at once: the windows in flight (as many as the
    host tables, `smash_host_tables_bytes`), each checked and given back when its last task is
    made. A window is at most `batches` groups of rows (1 with the shared table), each cut to
    at most about a table's slots, or one row alone (at most n_col entries); a table is at most
    a scratchpad's slots (as there); plus the two pages at each end of a window's span."""
    table = max(cfg.spad.size_bytes, 1 << 22) // 16
    groups = max(1, int(knobs.get("batches", 1) or 1)) if knobs.get("table") == "fragments" else 1
    per_window = groups * max(2 * table, n_col) + 2 * PAGESIZE
    return (cfg.cores + 1) * per_window * 5 // 4


def _auto_fraction(est: int, auto_ops: int) -> float | None:
    """The share of the work that keeps an estimated `est` operations under `auto_ops` (None:
    run the whole matrix)."""
    if est <= auto_ops:
        return None
    return float(f"{auto_ops / est:.2g}")     # short, reproducible


def _fit_auto(kernel: str, cfg, ops: Operands, plan: "sampling.Plan", target: float, seed: int,
              kn: Mapping[str, Any]) -> tuple["sampling.Plan", float]:
    """(plan, its requested fraction) of `--sample auto` whose simulated share is the budget's
    `target`: thinned by rows, a plan keeps its groups' costliest tasks whole
    (`Plan.kept_whole`) and `thin` of the rest, so asked for `target` it simulates more (the
    inner product at R-MAT 16, 1 minute: 1.75x the budget; the outer product, 3.5x). Asked
    again for target x (target - kept whole) / (simulated - kept whole) (the groups do not
    depend on the fraction, `thin` is proportional to it), it lands on the target; when the
    costliest tasks alone exceed it, the plan stays (the work guard then speaks)."""
    whole = plan.kept_whole
    if plan.thin >= 1 or plan.fraction <= 1.05 * target or whole >= 0.95 * target:
        return plan, target
    f = float(f"{target * (target - whole) / (plan.fraction - whole):.2g}")
    return sampling.make_plan(kernel, cfg, ops, f, seed, knobs=kn), f


def run_kernel(kernel: str, matrix: str | Any, *, preset: str = "piuma-die",
               overrides: Sequence[str] = (), knobs: Mapping[str, Any] | None = None,
               max_ops: int | None = DEFAULT_MAX_OPS, sample: float | str | None = None,
               seed: int = 0, B: Any = None, auto_ops: int = AUTO_SAMPLE_OPS,
               memory_limit: int | None = None,
               progress: Progress | None = None) -> dict[str, Any]:
    """Simulate C = A·B (B = A unless given; A·A^T when A is not square) with `kernel` on the
    machine `preset`.

    Guards, in order, before anything large is allocated: knob limits; operand values (complex,
    NaN/Inf and float64 overflow are refused); the work estimate from per-row flops (O(nnz),
    no symbolic pass): refused above `max_ops` (None: no guard) when even its lower bound is
    above, run when its upper bound is below, and decided by the exact symbolic pass in
    between; host memory (`host_memory_bytes` against `memory_limit`, default: the memory
    available now). ValueError (one line) for each.

    sample: the share of the work to simulate, in (0, 1] (1: the whole run), or "auto": the
    whole run unless its estimate exceeds `auto_ops` operations, else the share that fits.
    A sampled run cuts the tasks into miniatures of the whole and simulates a few of them on a
    machine cut to match (`simulator.sampling`); its record carries the estimated cycles with
    `cycles_ci_low` / `cycles_ci_high`, `sample_fraction`, `sample_method` and the other
    `sample_*` keys. `max_ops` applies to the operations actually simulated.
    progress: called as progress(stage, done, total) during the long steps (the CLI draws it).
    Raises VerificationError if C differs from scipy.
    """
    t0 = time.perf_counter()
    report = progress or (lambda *a, **k: None)
    k = get_kernel(kernel)
    kn = k.resolve_knobs(knobs)
    check_knob_limits(kn)
    cfg = load_config(preset, list(overrides))
    if isinstance(matrix, str):
        name = matrices.canonical_name(matrix)
        report(f"loading {name}")
        A = matrices.load(matrix)
    else:
        name = "<array>"
        A = matrix
    if not sp.issparse(A) or A.ndim != 2:
        raise TypeError(f"{name}: expected a 2-D scipy sparse matrix, got {type(A).__name__}")
    square = A.shape[0] == A.shape[1]
    check_values(A, name)
    if B is None:
        Bm = A if square else A.T     # A·A, or A·A^T when not square
        product = "A*A" if square else "A*A^T"
    else:
        check_values(B, f"{name}'s B")
        Bm = B
        product = "A*B"
    report("estimating the work")
    lo_ops, hi_ops = bound_operands(A, Bm)
    _check_overflow(lo_ops.A, lo_ops.B, lo_ops.sym.row_flops, name)
    A, Bm = lo_ops.A, lo_ops.B       # canonical float64: what the programs see and scipy checks
    n_row = lo_ops.sym.shape[0]
    threads = cfg.core.threads
    est_lo = estimate_ops(kernel, lo_ops, threads, kn)
    est_hi = estimate_ops(kernel, hi_ops, threads, kn)
    auto = sample == "auto"
    if auto:
        sample = _auto_fraction(est_hi, auto_ops)
    if sample is not None and not (isinstance(sample, (int, float)) and not isinstance(sample, bool)
                                   and 0 < sample <= 1):
        raise ValueError(f"--sample: expected a fraction in (0, 1], got {sample}")
    plan = None
    share = planned = 1.0
    if sample is not None and sample < 1:
        plan = sampling.make_plan(kernel, cfg, lo_ops, float(sample), seed, knobs=kn)
        if auto:
            plan, sample = _fit_auto(kernel, cfg, lo_ops, plan, float(sample), seed, kn)
        _guard_sample(kernel, name, plan, kn, cfg, est_lo, float(sample), max_ops, n_row)
        if plan.windows:
            report("planning the sampled windows")
            if _windows_per_core(k, kn, plan, lo_ops, cfg) < sampling.MIN_WINDOWS_PER_CORE:
                plan = sampling.make_plan(kernel, cfg, lo_ops, float(sample), seed, knobs=kn,
                                          few_windows=True)
                log.info("%s on %s: too few windows to thin; whole miniatures of %s",
                         kernel, name, plan.machine.label)
                _guard_sample(kernel, name, plan, kn, cfg, est_lo, float(sample), max_ops, n_row)
        share = min(1.0, 2.0 * plan.thin / plan.groups)     # the largest group, roughly
        planned = min(1.0, 2.0 / plan.groups)
    elif max_ops is not None and est_lo > max_ops:
        _refuse_work(kernel, name, est_lo, max_ops, n_row)
    exact = None
    mem_hi = host_memory_bytes(kernel, kn, hi_ops, cfg, share, planned)
    if not hostmem.fits(mem_hi, limit=memory_limit) and hostmem.fits(
            host_memory_bytes(kernel, kn, lo_ops, cfg, share, planned), limit=memory_limit):
        # C's size decides: its upper bound (min(flops, columns) per row) is far above the
        # truth on power-law matrices; the exact symbolic pass (O(rows) memory) settles it
        report(f"symbolic pass ({lo_ops.flops:.3g} multiply-adds) to size C")
        exact = Operands.build(A, Bm)
        mem_hi = host_memory_bytes(kernel, kn, exact, cfg, share, planned)
    hostmem.require(mem_hi, f"{kernel} on {name}", limit=memory_limit,
                    hint="use a smaller matrix, --sample, or knobs that size smaller tables")
    if exact is None and (plan is None or lo_ops.flops <= (max_ops or DEFAULT_MAX_OPS)):
        report(f"symbolic pass ({lo_ops.flops:.3g} multiply-adds)")
        exact = Operands.build(A, Bm)
    est = estimate_ops(kernel, exact, threads, kn) if exact is not None else est_hi
    if plan is None and max_ops is not None and est > max_ops:
        _refuse_work(kernel, name, est, max_ops, n_row)
    if plan is None:
        rec = _simulate(k, kn, exact, A, Bm, cfg, report)[0]
        rec.update(sample_fraction=1.0, sample_error=0.0, sample_method="full",
                   cycles_ci_low=rec["cycles"], cycles_ci_high=rec["cycles"])
    else:
        rec = _simulate_sampled(k, kn, plan, lo_ops, cfg, report,
                                nnz_c=None if exact is None else exact.nnz_c)
        rec["nnz_c_exact"] = exact is not None
    rec_front = {"kernel": kernel, "matrix": name, "product": product, "preset": cfg.name,
                 "config_hash": rec.pop("config_hash"), "seed": seed,
                 "overrides": " ".join(sorted(overrides)),
                 "knobs": " ".join(f"{key}={v}" for key, v in sorted((knobs or {}).items())),
                 "estimated_ops": est}
    out = {**rec_front, **{f"knob_{key}": v for key, v in kn.items()}, **rec}
    out["dram_bytes_read"] = out["dram_read_transferred_bytes"]
    out["dram_bytes_written"] = out["dram_write_transferred_bytes"]
    out["compulsory_dram_bytes"] = compulsory_bytes(exact if exact is not None else lo_ops,
                                                    nnz_c=int(out["nnz_c"]))
    out.update(machine_peaks(cfg))
    out["wall_seconds"] = time.perf_counter() - t0
    return out


def _guard_sample(kernel: str, name: str, plan: "sampling.Plan", kn: Mapping[str, Any], cfg,
                  est_lo: int, sample: float, max_ops: int | None, n_row: int) -> None:
    """Refuse a sampled run whose simulated share is estimated above `max_ops` (ValueError)."""
    if max_ops is None or est_lo * plan.fraction <= max_ops:
        return
    why = sampling.unthinnable(kn)
    if why and plan.thin >= 1 and plan.fraction > 1.5 * sample:
        raise ValueError(
            f"{kernel} on {name}: {why} cannot be sampled below "
            f"{plan.fraction:.2g} of the run on {cfg.name} (whole miniatures of "
            f"{plan.machine.label}), about {est_lo * plan.fraction:.3g} simulated "
            f"operations, above the budget {max_ops:.3g}: raise --max-ops or the "
            f"budget, or use a smaller matrix")
    whole = plan.kept_whole
    if est_lo * whole > 0.5 * max_ops:     # the costliest tasks alone take half the budget
        raise ValueError(
            f"{kernel} on {name}: a sample keeps its simulated groups' costliest tasks whole, "
            f"{whole:.2g} of the run, so a sample of {plan.fraction:.2g} needs about "
            f"{est_lo * plan.fraction:.3g} simulated operations, above the budget "
            f"{max_ops:.3g}: raise --max-ops (e.g. --max-ops {int(est_lo * plan.fraction * 1.2)}) "
            f"or the budget, or use a smaller matrix")
    _refuse_work(kernel, name, est_lo * plan.fraction, max_ops, n_row, share=plan.fraction)


def _refuse_work(kernel: str, name: str, est: float, max_ops: int, n_row: int,
                 share: float = 1.0) -> None:
    """Refuse a run (or the sampled `share` of it) estimated at `est` operations."""
    frac = max(min(0.5 * share * max_ops / max(est, 1), 1.0), 1.0 / max(n_row, 1))
    what = f" (a sample of {share:.2g} of it)" if share < 1 else ""
    raise ValueError(
        f"{kernel} on {name}{what} needs about {est:.3g} simulated operations, above the "
        f"budget {max_ops:.3g}: use a smaller matrix, raise --max-ops (e.g. --max-ops "
        f"{int(est * 1.2)}), or simulate a {'smaller ' if share < 1 else ''}sample "
        f"(e.g. --sample {frac:.2g}, or --sample auto)")


def compulsory_bytes(ops: Operands, nnz_c: int | None = None) -> int:
    """Bytes any kernel must move: read A and B once, write C once (in this layout)."""
    def csr(nrow, nnz):
        return (nrow + 1) * PTR_BYTES + nnz * (IDX_BYTES + VAL_BYTES)
    return (csr(ops.A.shape[0], ops.A.nnz) + csr(ops.B.shape[0], ops.B.nnz)
            + (ops.nnz_c if nnz_c is None else nnz_c) * (IDX_BYTES + VAL_BYTES))


def _simulate(k, kn: dict, ops: Operands, A, Bm, cfg, report: Progress,
              label: str = "", windows: "sampling.WindowSample | None" = None,
              unit: str | None = None) -> tuple[dict[str, Any], list]:
    """Run the program, verify C, and return its record and, per phase, its `PhaseRecord`
    and the machine's counters at its end (`SimResult.to_row()` with the DRAM structure keys:
    a sampled run takes each phase's counts from the groups cut by that phase's task unit).
    windows: a SMASH program's sample of windows; C is then verified on their rows (the
    others stay empty). unit: a sampled run cut by this task unit; when it is not rows, the
    phases after its own (whose cycles and counts come from the runs cut by rows) are only
    generated (`Simulation.generate_only`: C is still made and verified), not simulated."""
    sim = Simulation(cfg)
    sim.progress = lambda phase, done, total: report(f"{label}simulating phase {phase}",
                                                     done, total)
    phases: list[tuple[Any, dict[str, Any]]] = []
    run_phase = sim.run_phase
    seen = {"mine": False, "skipped": False}   # a phase of this run's unit ran; one was skipped

    def run_phase_counted(phase):
        mine = unit is None or sampling.phase_unit(k.name, phase.name) == unit
        if unit not in (None, "rows") and seen["mine"] and not mine:
            seen["skipped"] = True
            rec = sim.generate_only(phase)      # its cycles come from the runs cut by rows
            phases.append((rec, {}))
            return rec
        if mine and seen["skipped"]:
            raise AssertionError(f"{k.name}: phase {phase.name!r} of unit {unit!r} follows a "
                                 "phase that was not simulated")
        seen["mine"] = seen["mine"] or mine
        rec = run_phase(phase)
        res = sim.result()
        phases.append((rec, {**res.to_row(), **dram_group_keys(res)}))
        return rec
    sim.run_phase = run_phase_counted
    extra = {} if windows is None else {"windows": windows}
    check = spgemm.RowCheck(A, Bm) if k.checks_rows else None
    if check is not None:                       # C checked and given back as rows finish
        extra["check"] = check
    out = k.run(sim, ops, kn, **extra)
    flops, nnz_c, rows = ops.flops, ops.nnz_c, int(ops.sym.shape[0])
    if windows is not None:                     # the kept windows' rows of A·B
        flops = int(ops.sym.row_flops[windows.live].sum())
        nnz_c = int(ops.sym.row_nnz[windows.live].sum())
        rows = int(np.count_nonzero(windows.live))
    report(f"{label}verifying C against scipy")
    if out.checked:
        ok = check.ok(rows)
    else:
        if windows is not None:                 # only the kept windows' rows were made
            A = _rows_only(A, windows.live)
        ok = _compare_c(out, ops.sym.shape[0], A, Bm)
    if not ok:
        raise VerificationError(f"{k.name}: simulated C differs from scipy's A @ B")
    cnt = out.counter_dict()
    if cnt["muladds"] != flops or cnt["nnz_written"] != nnz_c:
        raise VerificationError(f"{k.name}: counted {cnt['muladds']} multiply-adds and "
                                f"{cnt['nnz_written']} entries, the symbolic pass says "
                                f"{flops} and {nnz_c}")
    res = sim.result()
    row = res.to_row()
    row.update(dram_group_keys(res))
    row.update(cnt)
    row["symbolic_cycles"] = sum(p.cycles for p in sim.phases if p.name in SYMBOLIC_PHASES)
    row["flops"] = ops.flops
    row["nnz_c"] = ops.nnz_c
    row["n_rows"] = int(ops.sym.shape[0])
    row["verified"] = True
    _derive(row)
    return row, phases


def _compare_c(out, n: int, A, Bm) -> bool:
    """A program's whole C (CSR, or 4-array CSR gathered block by block) against scipy's A·B."""
    if out.c_end is None:
        return spgemm.compare_csr(out.c_ptr, out.c_idx, out.c_val, A, Bm)    # by blocks of rows
    lens = np.asarray(out.c_end[:n], dtype=np.int64) - np.asarray(out.c_ptr[:n], dtype=np.int64)
    if np.any(lens < 0):
        return False
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=ptr[1:])
    return spgemm.compare_csr(ptr, out.c_idx, out.c_val, A, Bm, row_start=out.c_ptr[:n])


def _rows_only(A: sp.csr_array, live: np.ndarray) -> sp.csr_array:
    """A with the rows not `live` emptied (same shape)."""
    lens = np.diff(A.indptr) * np.asarray(live, dtype=bool)
    ptr = np.concatenate([[0], np.cumsum(lens)]).astype(A.indptr.dtype)
    take = np.repeat(live, np.diff(A.indptr))
    return sp.csr_array((A.data[take], A.indices[take], ptr), shape=A.shape)


class _WindowsPlanned(Exception):
    """Raised by `_windows_per_core`'s window sample to stop the program once it has planned."""


def _windows_per_core(k, kn: dict, plan: "sampling.Plan", ops: Operands, cfg) -> float:
    """The fewest windows a core keeps in the simulated groups of a plan thinned by windows
    (what `sampling.warning` checks after the run, `sample_windows_per_core`), found without
    simulating: each group's program runs on its miniature with every phase only generated
    (`Simulation.generate_only`: the same regions, scratchpad and plan as in the run) up to its
    window plan, where its `WindowSample` (the run's, same seed) picks the windows and stops
    it. Stops at the first group below MIN_WINDOWS_PER_CORE."""
    mcfg = sampling.miniature_config(cfg, plan.machine)
    least = float("inf")
    for g, rep in plan.simulated:
        ids = sampling.group_tasks(plan, "rows", g, rep)
        Ag, Bg = sampling.group_operands(ops.A, ops.B, "rows", ids)
        ws = sampling.window_sample(plan, "rows", g, rep)

        def planned(cost, rows, ws=ws):
            raise _WindowsPlanned(int(ws(cost, rows).sum()))
        sim = Simulation(mcfg)
        sim.run_phase = sim.generate_only
        try:
            k.run(sim, Operands.build(Ag, Bg), kn, windows=planned)
        except _WindowsPlanned as kept:
            least = min(least, kept.args[0] / mcfg.cores)
        else:
            raise AssertionError(f"{k.name}: the program never asked for its window sample")
        if least < sampling.MIN_WINDOWS_PER_CORE:
            break
    return least


def _simulate_sampled(k, kn: dict, plan: "sampling.Plan", ops: Operands, cfg, report: Progress,
                      nnz_c: int | None) -> dict[str, Any]:
    """Simulate the plan's groups on its miniature machine, each verified against scipy, and
    combine them into the full run's estimated record (`sampling.combine`)."""
    mcfg = sampling.miniature_config(cfg, plan.machine)
    units = sampling.units_of(k.name)
    todo = [(u, g, rep) for u in units for g, rep in plan.simulated]
    runs = []
    for i, (unit, g, rep) in enumerate(todo, 1):
        ids = sampling.group_tasks(plan, unit, g, rep)
        Ag, Bg = sampling.group_operands(ops.A, ops.B, unit, ids, plan.pieces)
        gops = Operands.build(Ag, Bg)
        ws = sampling.window_sample(plan, unit, g, rep)
        row, phases = _simulate(k, kn, gops, gops.A, gops.B, mcfg, report,
                                label=f"sample {i} of {len(todo)}: ", windows=ws, unit=unit)
        runs.append(sampling.group_run(plan, unit, g, ids, row, phases, mcfg.threads, rep,
                                       windows=ws, cores=mcfg.cores))
    rec = sampling.combine(runs, plan)
    rec["config_hash"] = config_hash(cfg)
    rec["config_name"] = cfg.name
    rec["flops"] = ops.flops
    rec["n_rows"] = int(ops.sym.shape[0])
    rec["nnz_c"] = int(nnz_c) if nnz_c is not None else rec.pop("nnz_c_estimate")
    rec.pop("nnz_c_estimate", None)
    _derive(rec)
    _derive_rates(rec, cfg)
    return rec


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


def _derive_rates(row: dict, cfg) -> None:
    """Rates of an estimated record, from its estimated cycles and counts on machine `cfg`."""
    cyc = row["cycles"]
    pipes = cfg.cores * cfg.core.pipelines
    row["seconds"] = cyc / (cfg.clock_ghz * 1e9)
    row["ipc"] = row["instructions"] / cyc if cyc else 0.0
    row["ipc_pipeline_mean"] = row["ipc"] / pipes if pipes else 0.0
    xfer = row["dram_read_transferred_bytes"] + row["dram_write_transferred_bytes"]
    row["dram_bandwidth_utilization"] = (xfer / (cyc * cfg.peak_dram_bytes_per_cycle)
                                         if cyc else 0.0)
    mean = row.get("thread_busy_cycles_mean", 0.0)
    row["load_imbalance"] = row.get("thread_busy_cycles_max", 0.0) / mean if mean else 0.0


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


__all__ = ["AUTO_SAMPLE_OPS", "KNOB_LIMITS", "bound_operands", "check_knob_limits",
           "check_values", "host_memory_bytes", "machine_peaks", "DEFAULT_MAX_OPS", "default_max_ops", "DRAM_GROUPS", "DRAM_GROUP_LABELS", "dram_group", "dram_group_keys", "VerificationError", "compulsory_bytes", "estimate_ops",
           "kernel_table", "run_kernel"]
