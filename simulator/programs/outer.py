"""Outer-product SpGEMM on the machine: a multiply phase, a barrier, a merge phase.

Multiply: one task per inner index k (column k of A, stored CSC, times row k of B). For each
A[i, k] the task reserves room in output row i's bin of partial products by an atomic fetch-add
on the bin's cursor (DRAM, at the memory controller), then writes the (row, column, value)
records (16 bytes each) to DRAM. Bins are laid out from the symbolic pass (row i's bin holds
row_flops[i] records). Merge: one task per output row reads its bin back and merges it with the
row-wise program's hash accumulator (per-row fragments in the scratchpad, spilling to DRAM).
Partial-product traffic is therefore exactly flops x 16 bytes each way.

Host memory: the bins' records are not kept on the host between the phases (that would be 16
bytes per flop). The multiply phase only counts each bin's records (its cursor); the merge
phase fills the records of the rows it is about to generate, in the order the multiply phase
wrote them (inner index k ascending, then row k of B), into arrays that the OS backs with
memory only where written, and gives those pages back once the rows are generated.
"""
from __future__ import annotations

import mmap

import numpy as np
import scipy.sparse as sp
from numba import njit

from simulator.machine import DynamicTokens, Phase, Simulation
from simulator.machine.trace import ATOMIC_ADD, DEP, OP_WIDTH, emit_atomic, emit_compute, emit_load, emit_store
from simulator.programs import base as B
from simulator.programs.base import (CT_MULADDS, CT_PP_WRITE_BYTES, I_MAC, I_NNZ_A, I_ROW, IDX_BYTES,
                                     PTR_BYTES, RECORD_BYTES, VAL_BYTES, Knob, KernelOutput, grow)
from simulator.programs import rowwise as R

PER_LINE = 64 // RECORD_BYTES


@njit(cache=True)
def outer_generate(ids, at_ptr, at_idx, b_ptr, b_idx, b_val, pp_ptr, cursor, AD, ct):
    """Multiply tasks `ids` (inner indices k): write A[:, k] x B[k, :] into the row bins.

    at_*: A in CSC (column pointers, row indices); pp_ptr: bin offsets (int64[n_row+1]);
    cursor: int64[n_row] records written so far per bin (updated). The records' values are
    not kept (see `fill_partials`). AD: region bases [at_ptr, at_idx, at_val, b_ptr, b_idx,
    b_val, cursor, pp].
    """
    est = 64
    for t in range(ids.size):
        k = ids[t]
        est += 8 + (at_ptr[k + 1] - at_ptr[k]) * (6 + (b_ptr[k + 1] - b_ptr[k]) // 2)
    buf = np.zeros((min(est, 1 << 22), OP_WIDTH), dtype=np.int64)
    ptr = np.zeros(ids.size + 1, dtype=np.int64)
    n = 0
    for t in range(ids.size):
        k = ids[t]
        buf = grow(buf, n, 4)
        n = emit_compute(buf, n, I_ROW)
        n = emit_load(buf, n, AD[0] + k * PTR_BYTES, 2 * PTR_BYTES, 0)
        n = emit_load(buf, n, AD[3] + k * PTR_BYTES, 2 * PTR_BYTES, 0)
        b0 = b_ptr[k]
        b1 = b_ptr[k + 1]
        lb = b1 - b0
        if lb > 0:
            for q in range(at_ptr[k], at_ptr[k + 1]):
                i = at_idx[q]
                buf = grow(buf, n, 4)
                n = emit_compute(buf, n, I_NNZ_A)
                n = emit_load(buf, n, AD[1] + q * IDX_BYTES, IDX_BYTES, DEP)
                n = emit_load(buf, n, AD[2] + q * VAL_BYTES, VAL_BYTES, 0)
                n = emit_atomic(buf, n, AD[6] + i * 8, ATOMIC_ADD, DEP)
                at = pp_ptr[i] + cursor[i]
                cursor[i] += lb
                for c0 in range(b0, b1, PER_LINE):
                    c1 = min(c0 + PER_LINE, b1)
                    m = c1 - c0
                    buf = grow(buf, n, 4)
                    n = emit_load(buf, n, AD[4] + c0 * IDX_BYTES, m * IDX_BYTES, 0)
                    n = emit_load(buf, n, AD[5] + c0 * VAL_BYTES, m * VAL_BYTES, 0)
                    n = emit_compute(buf, n, I_MAC * m)
                    dst = at + (c0 - b0)
                    n = emit_store(buf, n, AD[7] + dst * RECORD_BYTES, m * RECORD_BYTES, DEP)
                    ct[CT_MULADDS] += m
                    ct[CT_PP_WRITE_BYTES] += m * RECORD_BYTES
        ptr[t + 1] = n
    return buf[:n], ptr


@njit(cache=True)
def fill_partials(ids, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, pp_ptr, pp_col, pp_val):
    """The records of bins `ids` as the multiply phase wrote them when it ran the inner indices
    in ascending order: for row i, A[i, k] x row k of B for k ascending (A's CSR row, sorted),
    from pp_ptr[i] on. Returns False if a bin's count differs from pp_ptr."""
    for t in range(ids.size):
        i = ids[t]
        at = pp_ptr[i]
        for q in range(a_ptr[i], a_ptr[i + 1]):
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
    """The partial-product records on the host, filled per batch of merge rows and dropped
    after it: arrays over anonymous memory, resident only where written."""

    def __init__(self, n: int) -> None:
        n = max(int(n), 1)
        flags = getattr(mmap, "MAP_PRIVATE", 0)           # private: dropped pages are freed
        self._maps = [mmap.mmap(-1, 8 * n, flags=flags) if flags else mmap.mmap(-1, 8 * n)
                      for _ in range(2)]
        self.col = np.frombuffer(self._maps[0], dtype=np.int64)
        self.val = np.frombuffer(self._maps[1], dtype=np.float64)

    def drop(self, first: int, last: int) -> None:
        """Give back the pages holding records first..last-1 (rows before and after them are
        either already generated or not yet filled, so whole pages may go)."""
        page = mmap.PAGESIZE
        lo = (8 * first) // page * page
        hi = min(-(-(8 * last) // page) * page, len(self._maps[0]))
        if hi > lo and hasattr(mmap, "MADV_DONTNEED"):
            for m in self._maps:
                m.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


MERGE_KNOBS = {k: R.KNOBS[k] for k in ("scope", "placement", "fragment_max_slots", "load_factor",
                                        "hash", "writeback", "granularity", "token_scope")}
KNOBS: dict[str, Knob] = {
    **MERGE_KNOBS,
    "multiply_granularity": Knob(1, "multiply phase: inner indices taken per token"),
}


def run_outer(sim: Simulation, ops: B.Operands, knobs: dict) -> KernelOutput:
    A, Bm = ops.A, ops.B
    n_row = ops.sym.shape[0]
    n_inner = A.shape[1]
    At = sp.csc_array(A)
    At.sort_indices()
    at_ptr, at_idx = At.indptr.astype(np.int64), At.indices.astype(np.int64)
    b = B.csr_arrays(Bm)
    flops = ops.flops
    pp_ptr = np.zeros(n_row + 1, dtype=np.int64)
    np.cumsum(ops.sym.row_flops, out=pp_ptr[1:])
    bins = _PartialBins(flops)
    cursor = np.zeros(max(n_row, 1), dtype=np.int64)
    AD = np.zeros(8, dtype=np.int64)
    AD[0] = sim.dram_region("At.indptr", B.nbytes(n_inner + 1, PTR_BYTES), access_class="stream").base
    AD[1] = sim.dram_region("At.indices", B.nbytes(A.nnz, IDX_BYTES), access_class="stream").base
    AD[2] = sim.dram_region("At.data", B.nbytes(A.nnz, VAL_BYTES), access_class="stream").base
    AD[3] = sim.dram_region("B.indptr", B.nbytes(Bm.shape[0] + 1, PTR_BYTES), access_class="stream").base
    AD[4] = sim.dram_region("B.indices", B.nbytes(Bm.nnz, IDX_BYTES)).base
    AD[5] = sim.dram_region("B.data", B.nbytes(Bm.nnz, VAL_BYTES)).base
    AD[6] = sim.dram_region("pp.cursor", B.nbytes(n_row, 8), access_class="random").base
    pp_region = sim.dram_region("pp.records", B.nbytes(flops, RECORD_BYTES), access_class="stream")
    AD[7] = pp_region.base
    ct = np.zeros(B.CT_N, dtype=np.int64)

    done = [-1]          # the last inner index generated: fill_partials needs ascending order

    def gen(ids):
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and (ids[0] <= done[0] or np.any(np.diff(ids) <= 0)):
            raise AssertionError("outer product: multiply tasks generated out of order")
        done[0] = int(ids[-1]) if ids.size else done[0]
        return outer_generate(ids, at_ptr, at_idx, *b, pp_ptr, cursor, AD, ct)

    sim.run_phase(Phase("multiply", n_inner, gen,
                        DynamicTokens(chunk=max(1, int(knobs["multiply_granularity"])))))
    if not np.array_equal(cursor[:n_row], np.diff(pp_ptr)):
        raise AssertionError("outer product: bins not filled as the symbolic pass predicts")
    pp_ptr_region = sim.dram_region("pp.indptr", B.nbytes(n_row + 1, PTR_BYTES), access_class="stream")
    merge_knobs = dict(R.KNOBS_DEFAULTS_FOR_MERGE)
    merge_knobs.update({k: knobs[k] for k in MERGE_KNOBS})
    st = R.RowwiseState(sim, ops, merge_knobs, prefix="merge.", src=1,
                        pp=(pp_ptr, bins.col, bins.val, pp_region.base, pp_ptr_region.base))
    a = B.csr_arrays(A)

    def merge_gen(ids):
        ids = np.asarray(ids, dtype=np.int64)
        if not fill_partials(ids, *a, *b, pp_ptr, bins.col, bins.val):
            raise AssertionError("outer product: a bin's records differ from the symbolic pass")
        out = st.generate(ids)
        for r0, r1 in _runs(ids):
            bins.drop(int(pp_ptr[r0]), int(pp_ptr[r1]))
        return out

    sim.run_phase(Phase("merge", n_row, merge_gen,
                        R.schedule_for(merge_knobs, n_row, st.row_flops.astype(np.float64))))
    out = st.output(ops.nnz_c)
    out.counters += ct
    return out


def _runs(ids: np.ndarray) -> list[tuple[int, int]]:
    """(first, last + 1) of each run of consecutive values in ids."""
    if ids.size == 0:
        return []
    cut = np.flatnonzero(np.diff(ids) != 1) + 1
    starts, ends = np.r_[0, cut], np.r_[cut, ids.size]
    return list(zip(ids[starts].tolist(), (ids[ends - 1] + 1).tolist()))
