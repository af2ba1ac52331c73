"""Outer-product SpGEMM on the machine: count, scan, multiply, merge.

Count (phase ``bounds``): one task per inner index k (A stored CSC): for each A[i, k] an atomic
add of len(B[k, :]) to row i's partial-product count (memory-side, no return). Scan: the counts'
prefix gives each row's bin of partial products. Multiply: one task per inner index k; for each
A[i, k] the task reads row i's bin offset, reserves room by an atomic fetch-add on the bin's
cursor (DRAM, at the memory controller), then writes the (row, column, value) records (16 bytes
each) to DRAM. Merge: one task per output row reads its bin back and merges it with the
row-wise program's hash accumulator (a table sized for the bin in the thread's scratchpad slice,
the whole row in DRAM when it does not fit); C's rows are claimed by fetch-add (4-array CSR) or
placed by the symbolic phase's scan. Partial-product traffic is exactly flops x 16 bytes each way.

Host memory: the bins' records are not kept on the host between the phases (16 bytes per
multiply-add: 6.4 GB at rmat 16, 48 GB at rmat 18). The multiply phase keeps only each bin's
cursor (which its trace needs) and the order in which it generated the inner indices; the
merge phase recomputes the records of the rows it is about to generate, in the order the
multiply phase wrote them, into anonymous memory resident only where written, and gives those
pages back once the rows are generated.
"""
from __future__ import annotations

import mmap

import numpy as np
import scipy.sparse as sp
from numba import njit

from simulator.machine import Phase, Simulation
from simulator.machine.sim import split_by_cost
from simulator.machine.trace import (ATOMIC_ADD, DEP, NORET, OP_WIDTH, emit_atomic, emit_compute,
                                     emit_load, emit_store)
from simulator.programs import base as B
from simulator.programs import prep
from simulator.programs.base import (CT_MULADDS, CT_PP_WRITE_BYTES, I_MAC, I_NNZ_A, I_ROW, IDX_BYTES,
                                     PTR_BYTES, RECORD_BYTES, VAL_BYTES, Knob, KernelOutput, grow)
from simulator.programs import rowwise as R

PER_LINE = 64 // RECORD_BYTES
# region bases
(AD_ATPTR, AD_ATIDX, AD_ATVAL, AD_BPTR, AD_BIDX, AD_BVAL, AD_CURSOR, AD_PP, AD_COUNT,
 AD_PPPTR, AD_N) = range(11)


@njit(cache=True)
def count_generate(ids, at_ptr, at_idx, b_ptr, AD, count):
    """Count tasks `ids` (inner indices k): count[i] += len(B[k, :]) for every A[i, k]."""
    est = 16
    for t in range(ids.size):
        est += 6 + 2 * (at_ptr[ids[t] + 1] - at_ptr[ids[t]])
    buf = np.zeros((est, OP_WIDTH), dtype=np.int64)
    ptr = np.zeros(ids.size + 1, dtype=np.int64)
    n = 0
    for t in range(ids.size):
        k = ids[t]
        lb = b_ptr[k + 1] - b_ptr[k]
        q0 = at_ptr[k]
        q1 = at_ptr[k + 1]
        buf = grow(buf, n, 4)
        n = emit_compute(buf, n, I_ROW)
        n = emit_load(buf, n, AD[AD_ATPTR] + k * PTR_BYTES, 2 * PTR_BYTES, 0)
        n = emit_load(buf, n, AD[AD_BPTR] + k * PTR_BYTES, 2 * PTR_BYTES, 0)
        if lb > 0 and q1 > q0:
            buf, n = B.emit_stream(buf, n, AD[AD_ATIDX] + q0 * IDX_BYTES, (q1 - q0) * IDX_BYTES, False, DEP)
            buf = grow(buf, n, q1 - q0 + 1)
            n = emit_compute(buf, n, 2 * (q1 - q0))
            for q in range(q0, q1):
                i = at_idx[q]
                count[i] += lb
                n = emit_atomic(buf, n, AD[AD_COUNT] + i * 8, ATOMIC_ADD, NORET)
        ptr[t + 1] = n
    return buf[:n], ptr


@njit(cache=True)
def outer_generate(ids, ck, cq, at_idx, b_ptr, pp_ptr, cursor, AD, ct):
    """Multiply tasks `ids` (chunks c: inner index ck[c], A's column entries cq[c]..cq[c+1]):
    write A[cq[c]:cq[c+1], k] x B[k, :] into the row bins.

    at_idx: A in CSC (row indices); b_ptr: B's row pointers; pp_ptr: bin offsets
    (int64[n_row+1], from the scan); cursor: int64[n_row] records written so far per bin
    (updated). The records themselves are not kept: `fill_partials` recomputes them.
    """
    est = 64
    for t in range(ids.size):
        k = ck[ids[t]]
        est += 8 + (cq[ids[t] + 1] - cq[ids[t]]) * (7 + (b_ptr[k + 1] - b_ptr[k]) // 2)
    buf = np.zeros((min(est, 1 << 22), OP_WIDTH), dtype=np.int64)
    ptr = np.zeros(ids.size + 1, dtype=np.int64)
    n = 0
    for t in range(ids.size):
        k = ck[ids[t]]
        buf = grow(buf, n, 4)
        n = emit_compute(buf, n, I_ROW)
        n = emit_load(buf, n, AD[AD_ATPTR] + k * PTR_BYTES, 2 * PTR_BYTES, 0)
        n = emit_load(buf, n, AD[AD_BPTR] + k * PTR_BYTES, 2 * PTR_BYTES, 0)
        b0 = b_ptr[k]
        b1 = b_ptr[k + 1]
        lb = b1 - b0
        if lb > 0:
            for q in range(cq[ids[t]], cq[ids[t] + 1]):
                i = at_idx[q]
                buf = grow(buf, n, 5)
                n = emit_compute(buf, n, I_NNZ_A)
                n = emit_load(buf, n, AD[AD_ATIDX] + q * IDX_BYTES, IDX_BYTES, DEP)
                n = emit_load(buf, n, AD[AD_ATVAL] + q * VAL_BYTES, VAL_BYTES, 0)
                n = emit_load(buf, n, AD[AD_PPPTR] + i * PTR_BYTES, PTR_BYTES, DEP)
                n = emit_atomic(buf, n, AD[AD_CURSOR] + i * 8, ATOMIC_ADD, DEP)
                at = pp_ptr[i] + cursor[i]
                cursor[i] += lb
                for c0 in range(b0, b1, PER_LINE):
                    c1 = min(c0 + PER_LINE, b1)
                    m = c1 - c0
                    buf = grow(buf, n, 4)
                    n = emit_load(buf, n, AD[AD_BIDX] + c0 * IDX_BYTES, m * IDX_BYTES, 0)
                    n = emit_load(buf, n, AD[AD_BVAL] + c0 * VAL_BYTES, m * VAL_BYTES, 0)
                    n = emit_compute(buf, n, I_MAC * m)
                    dst = at + (c0 - b0)
                    n = emit_store(buf, n, AD[AD_PP] + dst * RECORD_BYTES, m * RECORD_BYTES, DEP)
                    ct[CT_MULADDS] += m
                    ct[CT_PP_WRITE_BYTES] += m * RECORD_BYTES
        ptr[t + 1] = n
    return buf[:n], ptr


@njit(cache=True)
def fill_partials(ids, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, rank, pp_ptr, pp_col, pp_val):
    """The records of bins `ids` as the multiply phase wrote them: row i's bin holds, for each
    A[i, k] in the order the multiply phase generated them (`rank[q]`: the position, in that
    order, of the task that generated A's entry q, A in CSR), A[i, k] x row k of B, from
    pp_ptr[i] on. Returns False if a bin's count differs from pp_ptr (the bins would not be the
    multiply phase's)."""
    for t in range(ids.size):
        i = ids[t]
        q0 = a_ptr[i]
        order = np.argsort(rank[q0:a_ptr[i + 1]], kind="mergesort")
        at = pp_ptr[i]
        for j in range(order.size):
            q = q0 + order[j]
            k = a_idx[q]
            av = a_val[q]
            for r in range(b_ptr[k], b_ptr[k + 1]):
                pp_col[at] = b_idx[r]
                pp_val[at] = av * b_val[r]
                at += 1
        if at != pp_ptr[i + 1]:
            return False
    return True


class _PartialBins:
    """The partial-product records on the host, filled per batch of merge rows and given back
    after it: arrays over private anonymous memory, which the OS backs only where written."""

    def __init__(self, n: int) -> None:
        n = 8 * max(int(n), 1)
        private = getattr(mmap, "MAP_PRIVATE", None)         # private: dropped pages are freed
        self._maps = [mmap.mmap(-1, n) if private is None else mmap.mmap(-1, n, flags=private)
                      for _ in range(2)]
        self.col = np.frombuffer(self._maps[0], dtype=np.int64)
        self.val = np.frombuffer(self._maps[1], dtype=np.float64)

    def drop(self, first: int, last: int) -> None:
        """Give back the pages holding records first..last-1. Records are filled just before
        their rows are generated, in the same call, so any other record on these pages is of a
        row already generated or not yet filled: whole pages may go."""
        if not hasattr(mmap, "MADV_DONTNEED"):
            return
        page = mmap.PAGESIZE
        lo = (8 * first) // page * page
        hi = min(-(-(8 * last) // page) * page, len(self._maps[0]))
        if hi > lo:
            for m in self._maps:
                m.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


MERGE_KNOBS = {k: R.KNOBS[k] for k in ("scope", "placement", "table_slots", "load_factor", "hash",
                                        "writeback", "granularity", "token_scope", "offsets",
                                        "b_placement")}
KNOBS: dict[str, Knob] = {
    **MERGE_KNOBS,
    "multiply_granularity": Knob(1, "count and multiply phases: tasks taken per token"),
    "split_inner": Knob(0, "multiply phase: cut an inner index whose partial products exceed 1/N "
                           "of a thread's share into tasks of A's column entries of at most "
                           "that (0: one task per inner index)"),
}


def inner_chunks(at_ptr: np.ndarray, b_len: np.ndarray, flops: int, threads: int,
                 split: int) -> tuple[np.ndarray, np.ndarray]:
    """The multiply phase's tasks: (boundaries into A's CSC entries, int64 len tasks + 1; each
    task's inner index, int64 len tasks). One task per inner index k (split 0), or, with split
    N > 0, column k's entries in runs of at most max(1, cap // len(B[k, :])), cap = flops /
    (N x threads): no task over 1/N of a thread's share of the multiply-adds unless one entry
    alone is (a row of B that long). Empty columns keep one (empty) task each, so every inner
    index has a task."""
    at_ptr = np.asarray(at_ptr, dtype=np.int64)
    col = np.diff(at_ptr)
    if split == 0:
        return at_ptr, np.arange(col.size, dtype=np.int64)
    if split < 0:
        raise ValueError(f"knob split_inner: expected 0 (off) or a positive integer, got {split}")
    cap = max(1.0, float(flops) / (split * max(int(threads), 1)))
    per = np.maximum(1, (cap // np.maximum(b_len, 1)).astype(np.int64))
    pieces = np.maximum(1, -(-col // per))                   # ceil; an empty column: one
    first = np.repeat(at_ptr[:-1], pieces)
    j = np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    starts = np.minimum(first + j * np.repeat(per, pieces), np.repeat(at_ptr[1:], pieces))
    return (np.append(starts, at_ptr[-1]).astype(np.int64),
            np.repeat(np.arange(col.size, dtype=np.int64), pieces))


def entry_ranks(A: sp.csr_array, cq: np.ndarray, task_rank: np.ndarray) -> np.ndarray:
    """For each entry of A (CSR order) the rank of the multiply task that generated it (tasks:
    runs cq of A's CSC entries, columns' rows sorted; task_rank: each task's position in the
    order the phase generated them)."""
    pos = sp.csr_array((np.arange(1, A.nnz + 1, dtype=np.float64), A.indices, A.indptr),
                       shape=A.shape).tocsc()
    pos.sort_indices()
    csr_of_csc = pos.data.astype(np.int64) - 1
    out = np.empty(A.nnz, dtype=np.int64)
    out[csr_of_csc] = np.repeat(task_rank, np.diff(cq))
    return out


def run_outer(sim: Simulation, ops: B.Operands, knobs: dict) -> KernelOutput:
    A, Bm = ops.A, ops.B
    n_row = ops.sym.shape[0]
    n_inner = A.shape[1]
    At = sp.csc_array(A)
    At.sort_indices()
    at = (At.indptr.astype(np.int64), At.indices.astype(np.int64))
    b = B.csr_arrays(Bm)
    flops = ops.flops
    AD = np.zeros(AD_N, dtype=np.int64)
    opr = B.operand_regions(sim, ops, knobs["b_placement"])
    # multi-die: the inner indices k (columns of A, rows of B) in blocks of equal products per
    # die (A's columns there), the bins and C by rows of C (`die_rows`)
    rows = B.die_rows(sim, ops)
    ks = None if rows is None else split_by_cost(
        n_inner, sim.cfg.dies, np.diff(at[0]) * np.diff(b[0]).astype(np.float64) + 1)
    for key, name, n, elem, ptr in ((AD_ATPTR, "At.indptr", n_inner + 1, PTR_BYTES, np.arange(n_inner + 1)),
                                    (AD_ATIDX, "At.indices", A.nnz, IDX_BYTES, at[0]),
                                    (AD_ATVAL, "At.data", A.nnz, VAL_BYTES, at[0])):
        size = B.nbytes(n, elem)
        AD[key] = sim.dram_region(name, size, access_class="stream",
                                  die=B.split_at(ks, ptr, elem, size)).base
    AD[AD_BPTR], AD[AD_BIDX], AD[AD_BVAL] = opr["B.indptr"], opr["B.indices"], opr["B.data"]
    per_row = B.split_at(rows, np.arange(n_row + 1), 8, B.nbytes(n_row, 8))
    AD[AD_COUNT] = sim.dram_region("pp.count", B.nbytes(n_row, 8), access_class="random", die=per_row).base
    AD[AD_CURSOR] = sim.dram_region("pp.cursor", B.nbytes(n_row, 8), access_class="random", die=per_row).base
    pp_at = np.concatenate([[0], np.cumsum(ops.sym.row_flops)])     # the bins, by rows of C
    pp_region = sim.dram_region("pp.records", B.nbytes(flops, RECORD_BYTES), access_class="stream",
                                die=B.split_at(rows, pp_at, RECORD_BYTES, B.nbytes(flops, RECORD_BYTES)))
    AD[AD_PP] = pp_region.base
    chunk = max(1, int(knobs["multiply_granularity"]))
    k_tokens = B.row_tokens(ks, chunk)
    # count, then the scan of the counts: the bins' offsets
    count = np.zeros(max(n_row, 1), dtype=np.int64)
    sim.run_phase(Phase("bounds", n_inner, lambda ids: count_generate(
        np.asarray(ids, np.int64), at[0], at[1], b[0], AD, count), k_tokens))
    if not np.array_equal(count[:n_row], ops.sym.row_flops):
        raise AssertionError("outer product: counted bins differ from the row flops")
    arrays = [(count[:n_row], int(AD[AD_COUNT]), "pp.indptr")]
    c_ptr = None
    if knobs["offsets"] == "symbolic":
        nnz, base = R.run_symbolic(sim, ops)
        arrays.append((nnz, base, "C.indptr"))
    scans = prep.run_scan(sim, arrays, cuts=rows)
    pp_ptr, AD[AD_PPPTR] = scans[0]
    if knobs["offsets"] == "symbolic":
        c_ptr = scans[1]
    # multiply: one task per inner index, or heavy ones cut into runs of A's column (knob
    # split_inner); on a multi-die machine each die's tasks are those of its inner indices
    cq, ck = inner_chunks(at[0], np.diff(b[0]), flops, sim.cfg.threads, int(knobs["split_inner"]))
    n_tasks = ck.size
    m_tokens = B.row_tokens(None if ks is None else np.searchsorted(ck, ks), chunk)
    cursor = np.zeros(max(n_row, 1), dtype=np.int64)
    rank = np.full(max(n_tasks, 1), -1, dtype=np.int64)   # generation order of the tasks
    ranked = [0]
    ct = np.zeros(B.CT_N, dtype=np.int64)

    def gen(ids):
        ids = np.asarray(ids, dtype=np.int64)
        rank[ids] = np.arange(ranked[0], ranked[0] + ids.size)
        ranked[0] += ids.size
        return outer_generate(ids, ck, cq, at[1], b[0], pp_ptr, cursor, AD, ct)

    sim.run_phase(Phase("multiply", n_tasks, gen, m_tokens))
    if not np.array_equal(cursor[:n_row], np.diff(pp_ptr)) or ranked[0] != n_tasks:
        raise AssertionError("outer product: bins not filled as counted")
    rank = entry_ranks(A, cq, rank[:n_tasks])
    merge_knobs = dict(R.KNOBS_DEFAULTS_FOR_MERGE)
    merge_knobs.update({k: knobs[k] for k in MERGE_KNOBS})
    bins = _PartialBins(flops)
    st = R.RowwiseState(sim, ops, merge_knobs, prefix="merge.", src=1,
                        pp=(pp_ptr, bins.col, bins.val, AD[AD_PP], AD[AD_PPPTR]), c_ptr=c_ptr)
    a = B.csr_arrays(A)

    def merge_gen(ids):
        ids = np.asarray(ids, dtype=np.int64)
        if not fill_partials(ids, *a, *b, rank, pp_ptr, bins.col, bins.val):
            raise AssertionError("outer product: a bin's records differ from the counted bin")
        out = st.generate(ids)
        for r0, r1 in _runs(ids):
            bins.drop(int(pp_ptr[r0]), int(pp_ptr[r1]))
        return out

    sim.run_phase(Phase("merge", n_row, merge_gen, R.schedule_for(merge_knobs, None, st.rows)))
    out = st.output(None if c_ptr is None else c_ptr[0])
    out.counters += ct
    return out


def _runs(ids: np.ndarray) -> list[tuple[int, int]]:
    """(first, last + 1) of each run of consecutive values in ids."""
    if ids.size == 0:
        return []
    cut = np.flatnonzero(np.diff(ids) != 1) + 1
    starts, ends = np.r_[0, cut], np.r_[cut, ids.size]
    return list(zip(ids[starts].tolist(), (ids[ends - 1] + 1).tolist()))
