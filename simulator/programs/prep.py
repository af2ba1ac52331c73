"""What kernels must compute before they multiply, as simulated phases (nothing is free).

* **bounds** (phases ``bounds`` and ``scan``): per nonzero of A, the length of the row of B it
  selects (A's indices and B's row pointers, no values), their prefix over all nonzeros (which
  lets a thread find where a chunk of partial products starts by binary search), and from it
  each row's multiply-adds. A row's table size bound is min(row flops, n_col).
* **scan** (phases ``scan``): prefix sums of per-row values (row flops, table sizes, exact nnz),
  a parallel two-pass scan: block sums (whole machine), a pass over the block sums (one
  thread), then each block's prefix (whole machine); the window cuts SMASH derives from a
  prefix are found in the last pass.
* **symbolic** (phase ``symbolic``): exact nnz of every row of C (and, for the candidate inner
  product, C's pattern), by the row-wise program without values (`rowwise.run_symbolic`).

`symbolic_cycles` in a record is the sum of these phases' cycles.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from simulator.machine import Phase, Simulation
from simulator.machine.trace import DEP, OP_WIDTH, emit_compute, emit_load, emit_store
from simulator.programs import base as B
from simulator.programs.base import (I_ROW, I_SCAN_ROW, IDX_BYTES, LINE, PTR_BYTES,
                                     emit_stream, grow)

#: Phases whose cycles are `symbolic_cycles`.
SYMBOLIC_PHASES = ("bounds", "symbolic", "scan")

NNZ_PER_BOUNDS_TASK = 128    # nonzeros of A per bounds task
ROWS_PER_BOUNDS_TASK = 128    # rows per task of the bounds' row pass
SCAN_BLOCK = 128              # elements per block of the scan


@njit(cache=True)
def lengths_generate(ids, per, a_idx, b_ptr, AD, blen):
    """Bounds tasks `ids`: task t covers nonzeros t*per .. (t+1)*per - 1 of A; for each the
    length of the row of B it selects (A's index, B's row pointers) -> blen[q].
    AD: [A.indices, B.indptr, bounds.blen]."""
    nnz = a_idx.size
    buf = np.zeros((16 + ids.size * (8 + 2 * per), OP_WIDTH), dtype=np.int64)
    ptr = np.zeros(ids.size + 1, dtype=np.int64)
    n = 0
    il = LINE // IDX_BYTES
    for t in range(ids.size):
        q0 = ids[t] * per
        q1 = min(nnz, q0 + per)
        buf = grow(buf, n, 2 * (q1 - q0) + 4)
        n = emit_compute(buf, n, I_ROW)
        for q in range(q0, q1):
            first = (q - q0) % il == 0
            if first:
                n = emit_load(buf, n, AD[0] + q * IDX_BYTES, min(il, q1 - q) * IDX_BYTES, DEP)
            k = a_idx[q]
            n = emit_load(buf, n, AD[1] + k * PTR_BYTES, 2 * PTR_BYTES, DEP if first else 0)
            blen[q] = b_ptr[k + 1] - b_ptr[k]
        n = emit_compute(buf, n, 2 * (q1 - q0))
        buf, n = emit_stream(buf, n, AD[2] + q0 * 8, (q1 - q0) * 8, True, 0)
        ptr[t + 1] = n
    return buf[:n], ptr


@njit(cache=True)
def rowflops_generate(ids, per, a_ptr, qcum, AD, row_flops):
    """The bounds' row pass: row r's flops = qcum[a_ptr[r + 1]] - qcum[a_ptr[r]] (a gather of
    qcum at A's row pointers), for rows t*per .. (t+1)*per - 1.
    AD: [A.indptr, bounds.qcum, bounds.flops]."""
    n_row = a_ptr.size - 1
    buf = np.zeros((16 + ids.size * (8 + 2 * per), OP_WIDTH), dtype=np.int64)
    ptr = np.zeros(ids.size + 1, dtype=np.int64)
    n = 0
    for t in range(ids.size):
        r0 = ids[t] * per
        r1 = min(n_row, r0 + per)
        buf = grow(buf, n, 2)
        n = emit_compute(buf, n, I_ROW)
        buf, n = emit_stream(buf, n, AD[0] + r0 * PTR_BYTES, (r1 - r0 + 1) * PTR_BYTES, False, 0)
        buf = grow(buf, n, (r1 - r0) + 3)
        for r in range(r0, r1 + 1):
            n = emit_load(buf, n, AD[1] + a_ptr[r] * 8, 8, DEP if r == r0 else 0)
        for r in range(r0, r1):
            row_flops[r] = qcum[a_ptr[r + 1]] - qcum[a_ptr[r]]
        n = emit_compute(buf, n, I_SCAN_ROW * (r1 - r0))
        buf, n = emit_stream(buf, n, AD[2] + r0 * 8, (r1 - r0) * 8, True, 0)
        ptr[t + 1] = n
    return buf[:n], ptr


class Bounds:
    """The bounds' results (host copies of what the machine computed) and their regions:
    row_flops (per row) at flops_base; qcum, the exclusive prefix over A's nonzeros (in storage
    order) of the length of the row of B each selects (nnz(A) + 1), at qcum_base. Row r's
    partial products are the flop range qcum[a_ptr[r]] .. qcum[a_ptr[r + 1]]."""

    def __init__(self, row_flops, qcum, flops_base, qcum_base):
        self.row_flops = row_flops
        self.qcum = qcum
        self.flops_base = flops_base
        self.qcum_base = qcum_base


def run_bounds(sim: Simulation, ops: B.Operands) -> Bounds:
    """Simulate the bounds: the lengths of B's rows selected by A's nonzeros (phase `bounds`,
    whole machine, tasks of NNZ_PER_BOUNDS_TASK nonzeros, so a long row of A is split), their
    prefix (`scan`), and each row's flops from it (phase `bounds`, tasks of rows)."""
    a_ptr, a_idx, _ = B.csr_arrays(ops.A)
    b_ptr = np.ascontiguousarray(ops.B.indptr, dtype=np.int64)
    n_row = a_ptr.size - 1
    nnz = a_idx.size
    opr = B.operand_regions(sim, ops)
    # multi-die: each die's tasks cover its block of rows (where A's rows live), as near as
    # tasks of `per` nonzeros / rows cut them
    rows = B.die_rows(sim, ops)
    cut = lambda at, per: None if rows is None else np.maximum.accumulate(-(-at // per))
    blen_base = sim.dram_region("bounds.blen", B.nbytes(nnz, 8), access_class="stream",
                                die=B.split_at(rows, a_ptr, 8, B.nbytes(nnz, 8))).base
    blen = np.zeros(max(nnz, 1), dtype=np.int64)
    AD = np.array([opr["A.indices"], opr["B.indptr"], blen_base], dtype=np.int64)
    per = NNZ_PER_BOUNDS_TASK
    sim.run_phase(Phase("bounds", -(-nnz // per), lambda ids: lengths_generate(
        np.asarray(ids, np.int64), per, a_idx, b_ptr, AD, blen),
        B.row_tokens(None if rows is None else cut(a_ptr[rows], per))))
    (qcum, qcum_base), = run_scan(sim, [(blen[:nnz], blen_base, "bounds.qcum")],
                                  cuts=None if rows is None else a_ptr[rows])
    flops_base = sim.dram_region("bounds.flops", B.nbytes(n_row, 8), access_class="stream",
                                 die=B.split_at(rows, np.arange(n_row + 1), 8, B.nbytes(n_row, 8))).base
    row_flops = np.zeros(max(n_row, 1), dtype=np.int64)
    AD2 = np.array([opr["A.indptr"], qcum_base, flops_base], dtype=np.int64)
    per = ROWS_PER_BOUNDS_TASK
    sim.run_phase(Phase("bounds", -(-n_row // per), lambda ids: rowflops_generate(
        np.asarray(ids, np.int64), per, a_ptr, qcum, AD2, row_flops),
        B.row_tokens(None if rows is None else cut(rows, per))))
    if not np.array_equal(row_flops[:n_row], ops.sym.row_flops):
        raise AssertionError("bounds: row flops differ from the host's symbolic pass")
    return Bounds(row_flops[:n_row], qcum, flops_base, qcum_base)


# ---- scan -------------------------------------------------------------------------------------

@njit(cache=True)
def scan_generate(ids, kind, n, n_arr, SB, src, dst, blk, extra, vals, outs):
    """Scan tasks. kind[t]: 0 block sums of block t, 1 the serial pass over the block sums,
    2 the prefix of block t (task ids: blocks, then 1, then blocks). src/dst: region bases of
    each array's values / prefix (n + 1 entries); blk: base of the block sums; extra:
    instructions per row added to the prefix pass (e.g. window cuts). vals/outs: host arrays
    [n_arr, n] / [n_arr, n + 1]."""
    nb = (n + SB - 1) // SB
    buf = np.zeros((64 + ids.size * (8 + n_arr * (2 * SB // 8 + 4)), OP_WIDTH), dtype=np.int64)
    ptr = np.zeros(ids.size + 1, dtype=np.int64)
    m = 0
    for t in range(ids.size):
        task = ids[t]
        k = kind[task]
        buf = grow(buf, m, 4)
        m = emit_compute(buf, m, I_ROW)
        if k == 0 or k == 2:
            b = task if k == 0 else task - nb - 1
            r0 = b * SB
            r1 = min(n, r0 + SB)
            for a in range(n_arr):
                if k == 2:
                    buf = grow(buf, m, 1)
                    m = emit_load(buf, m, blk + (a * nb + b) * 8, 8, 0)
                buf, m = emit_stream(buf, m, src[a] + r0 * 8, (r1 - r0) * 8, False, 0)
                buf = grow(buf, m, 2)
                if k == 0:
                    m = emit_compute(buf, m, r1 - r0)
                    m = emit_store(buf, m, blk + (a * nb + b) * 8, 8, 0)
                else:
                    m = emit_compute(buf, m, (I_SCAN_ROW + extra) * (r1 - r0))
                    buf, m = emit_stream(buf, m, dst[a] + (r0 + 1) * 8, (r1 - r0) * 8, True, 0)
        else:
            for a in range(n_arr):
                buf, m = emit_stream(buf, m, blk + a * nb * 8, nb * 8, False, 0)
                buf = grow(buf, m, 2)
                m = emit_compute(buf, m, I_SCAN_ROW * nb)
                buf, m = emit_stream(buf, m, blk + a * nb * 8, nb * 8, True, 0)
                # the functional prefix (the same numbers every block's pass produces)
                outs[a, 0] = 0
                for r in range(n):
                    outs[a, r + 1] = outs[a, r] + vals[a, r]
        ptr[t + 1] = m
    return buf[:m], ptr


def run_scan(sim: Simulation, arrays: list[tuple[np.ndarray, int, str]],
             extra_instructions: int = 0, cuts: np.ndarray | None = None) -> list[tuple[np.ndarray, int]]:
    """Prefix sums of per-row int64 arrays on one core: [(host values, DRAM base of the
    values, name of the prefix's region)] -> [(host prefix (n + 1), DRAM base of the prefix)].
    `extra_instructions` per row are charged to the prefix pass (e.g. finding window cuts).
    `cuts` (multi-die: the dies' first entries, len dies + 1, e.g. `base.die_rows`): each die
    scans the blocks of its entries (its own queue, stealing) and holds its part of the prefix."""
    n = int(arrays[0][0].size)
    n_arr = len(arrays)
    nb = max(1, (n + SCAN_BLOCK - 1) // SCAN_BLOCK)
    vals = np.zeros((n_arr, max(n, 1)), dtype=np.int64)
    for a, (v, _, _) in enumerate(arrays):
        vals[a, :n] = v
    outs = np.zeros((n_arr, n + 1), dtype=np.int64)
    src = np.array([base for _, base, _ in arrays], dtype=np.int64)
    size = B.nbytes(n + 1, 8)
    dst = np.array([sim.dram_region(out, size, access_class="output" if out.startswith("C.")
                                    else "stream", die=B.split_at(cuts, np.arange(n + 1), 8, size)).base
                    for _, _, out in arrays], dtype=np.int64)
    blocks = None if cuts is None else np.maximum.accumulate(-(-np.asarray(cuts) // SCAN_BLOCK))
    k = sum(r.name.startswith("scan.blocks") for r in sim.regions)
    blk = sim.dram_region(f"scan.blocks{k or ''}", B.nbytes(n_arr * nb, 8), access_class="stream").base
    kind = np.concatenate([np.zeros(nb, np.int64), [1], np.full(nb, 2, np.int64)])
    # three phases: block sums (whole machine), the pass over the block sums (one thread),
    # each block's prefix (whole machine)
    for first, count, threads in ((0, nb, None), (nb, 1, sim.thread_ids(1)), (nb + 1, nb, None)):
        gen = (lambda first: lambda ids: scan_generate(
            np.asarray(ids, np.int64) + first, kind, n, n_arr, SCAN_BLOCK, src, dst, blk,
            int(extra_instructions), vals, outs))(first)
        sched = B.row_tokens(blocks if threads is None else None)
        sim.run_phase(Phase("scan", count, gen, sched, threads=threads))
    return [(outs[a], int(dst[a])) for a in range(n_arr)]


__all__ = ["Bounds", "SYMBOLIC_PHASES", "run_bounds", "run_scan"]
