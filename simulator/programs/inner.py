"""Inner-product SpGEMM on the machine: C[i, j] = A[i, :] · B[:, j], B stored CSC.

Two baselines, one program:

* ``inner`` (the thesis's baseline): one task per row i of A (the row is loaded once); for
  *every* column j of B the task loads the column's pointers and indices and intersects them
  with the row's (two-pointer merge, one instruction pair per step), loading B's value for each
  match. B's columns are fetched again for every row, through the cache (access class
  "default"), so the repeated fetches show up as cache misses and DRAM bytes: work ~ n_row x
  (n_col + nnz(B)). C's row offsets come from the simulated symbolic phase and its scan.
* ``inner-candidates``: the same dot products, only for the columns j where C[i, j] is
  structurally nonzero: a simulated symbolic phase first writes C's pattern (the mask, 4-array
  CSR with rows claimed by fetch-add), then each row intersects A[i, :] with the candidate
  columns only and stores the values beside the pattern.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit

from simulator.machine import Phase, Simulation
from simulator.machine.trace import DEP, OP_WIDTH, emit_compute, emit_load
from simulator.programs import base as B
from simulator.programs import prep, rowwise
from simulator.programs.base import (CT_INTERSECTIONS, CT_MULADDS, CT_NNZ, I_CMP, I_ROW,
                                     I_STORE_OUT, IDX_BYTES, LINE, PTR_BYTES, VAL_BYTES, Knob,
                                     KernelOutput, emit_stream, grow)

IDX_PER_LOAD = 16     # 64-byte loads of B's column indices
# region bases
(AD_APTR, AD_AIDX, AD_AVAL, AD_BTPTR, AD_BTIDX, AD_BTVAL, AD_CSTART, AD_CIDX, AD_CVAL,
 AD_CEND, AD_N) = range(11)


@njit(cache=True)
def _dot(buf, n, i, j, a0, a1, a_idx, a_val, bt_ptr, bt_idx, bt_val, AD, ct):
    """Intersect row i of A (entries a0..a1) with column j of B: (buf, n, hit, value)."""
    b0 = bt_ptr[j]
    b1 = bt_ptr[j + 1]
    ct[CT_INTERSECTIONS] += 1
    buf = grow(buf, n, 4 + (b1 - b0) // IDX_PER_LOAD)
    n = emit_load(buf, n, AD[AD_BTPTR] + j * PTR_BYTES, 2 * PTR_BYTES, DEP)
    if b1 == b0:
        n = emit_compute(buf, n, 2)
        return buf, n, False, 0.0
    for c0 in range(b0, b1, IDX_PER_LOAD):
        c1 = min(c0 + IDX_PER_LOAD, b1)
        n = emit_load(buf, n, AD[AD_BTIDX] + c0 * IDX_BYTES, (c1 - c0) * IDX_BYTES,
                      DEP if c0 == b0 else 0)
    x = a0
    y = b0
    steps = 0
    acc = 0.0
    hit = False
    while x < a1 and y < b1:
        steps += 1
        ka = a_idx[x]
        kb = bt_idx[y]
        if ka == kb:
            buf = grow(buf, n, 2)
            n = emit_load(buf, n, AD[AD_BTVAL] + y * VAL_BYTES, VAL_BYTES, 0)
            acc += a_val[x] * bt_val[y]
            ct[CT_MULADDS] += 1
            hit = True
            x += 1
            y += 1
        elif ka < kb:
            x += 1
        else:
            y += 1
    n = emit_compute(buf, n, 2 + I_CMP * steps)
    return buf, n, hit, acc


@njit(cache=True)
def inner_generate(ids, a_ptr, a_idx, a_val, bt_ptr, bt_idx, bt_val, c_start, c_end, c_idx, c_val,
                   candidates, AD, ct):
    """Rows `ids` of C by inner products. bt_*: B in CSC (= B^T in CSR). Without `candidates`
    every column of B is tried and the entries found are written from c_start[i] (C.indptr);
    with it, row i tries the columns c_idx[c_start[i]:c_end[i]] (C's pattern) and stores the
    values beside them."""
    n_col = bt_ptr.size - 1
    est = 64
    for t in range(ids.size):
        i = ids[t]
        est += 64 + (3 * (c_end[i] - c_start[i]) if candidates else 3 * n_col)
    buf = np.zeros((min(est, 1 << 22), OP_WIDTH), dtype=np.int64)
    ptr = np.zeros(ids.size + 1, dtype=np.int64)
    n = 0
    for t in range(ids.size):
        i = ids[t]
        a0 = a_ptr[i]
        a1 = a_ptr[i + 1]
        buf = grow(buf, n, 4)
        n = emit_compute(buf, n, I_ROW)
        n = emit_load(buf, n, AD[AD_APTR] + i * PTR_BYTES, 2 * PTR_BYTES, 0)
        n = emit_load(buf, n, AD[AD_CSTART] + i * PTR_BYTES, PTR_BYTES, 0)
        start = c_start[i]
        p = start
        if candidates:
            n = emit_load(buf, n, AD[AD_CEND] + i * PTR_BYTES, PTR_BYTES, 0)
        if a1 > a0:
            buf, n = emit_stream(buf, n, AD[AD_AIDX] + a0 * IDX_BYTES, (a1 - a0) * IDX_BYTES, False, DEP)
            buf, n = emit_stream(buf, n, AD[AD_AVAL] + a0 * VAL_BYTES, (a1 - a0) * VAL_BYTES, False, 0)
            if candidates:
                e1 = c_end[i]
                per = LINE // IDX_BYTES
                for e in range(start, e1):
                    if (e - start) % per == 0:
                        buf = grow(buf, n, 1)
                        n = emit_load(buf, n, AD[AD_CIDX] + e * IDX_BYTES,
                                      min(per, e1 - e) * IDX_BYTES, DEP)
                    buf, n, hit, acc = _dot(buf, n, i, c_idx[e], a0, a1, a_idx, a_val, bt_ptr,
                                            bt_idx, bt_val, AD, ct)
                    c_val[e] = acc
                p = e1
            else:
                for j in range(n_col):
                    buf, n, hit, acc = _dot(buf, n, i, j, a0, a1, a_idx, a_val, bt_ptr, bt_idx,
                                            bt_val, AD, ct)
                    if hit:
                        c_idx[p] = j
                        c_val[p] = acc
                        p += 1
        cnt = p - start
        ct[CT_NNZ] += cnt
        if cnt > 0:
            buf = grow(buf, n, 1)
            n = emit_compute(buf, n, I_STORE_OUT * cnt)
            if not candidates:
                buf, n = emit_stream(buf, n, AD[AD_CIDX] + start * IDX_BYTES, cnt * IDX_BYTES, True, DEP)
            buf, n = emit_stream(buf, n, AD[AD_CVAL] + start * VAL_BYTES, cnt * VAL_BYTES, True, 0)
        ptr[t + 1] = n
    return buf[:n], ptr


KNOBS: dict[str, Knob] = {
    "granularity": Knob(1, "rows taken per dynamic token"),
    **B.PLACEMENT_KNOBS,
}


def _bt(ops: B.Operands):
    Bt = sp.csc_array(ops.B)
    Bt.sort_indices()
    return Bt, (Bt.indptr.astype(np.int64), Bt.indices.astype(np.int64), Bt.data.astype(np.float64))


def _setup(sim: Simulation, ops: B.Operands, knobs: dict):
    """A (CSR) and B (CSC) as arrays and their regions: (a, bt, AD). Multi-die: A's rows on
    their dies, B's columns placed by the knob `b_placement`."""
    Bt, bt = _bt(ops)
    AD = np.zeros(AD_N, dtype=np.int64)
    opr = B.operand_regions(sim, ops, knobs["b_placement"])
    AD[AD_APTR], AD[AD_AIDX], AD[AD_AVAL] = opr["A.indptr"], opr["A.indices"], opr["A.data"]
    for key, name, n, elem in ((AD_BTPTR, "Bt.indptr", Bt.shape[1] + 1, PTR_BYTES),
                               (AD_BTIDX, "Bt.indices", Bt.nnz, IDX_BYTES),
                               (AD_BTVAL, "Bt.data", Bt.nnz, VAL_BYTES)):
        AD[key] = sim.dram_region(name, B.nbytes(n, elem),
                                  die=B.b_die(sim, Bt, knobs["b_placement"], name, elem)).base
    return B.csr_arrays(ops.A), bt, AD


def run_inner(sim: Simulation, ops: B.Operands, knobs: dict) -> KernelOutput:
    """Every (i, j): C's row offsets from the symbolic phase and its scan."""
    n_row = ops.sym.shape[0]
    a, bt, AD = _setup(sim, ops, knobs)
    nnz, base = rowwise.run_symbolic(sim, ops)
    rows = B.die_rows(sim, ops)
    (c_ptr, AD[AD_CSTART]), = prep.run_scan(sim, [(nnz, base, "C.indptr")], cuts=rows)
    for key, name, elem in ((AD_CIDX, "C.indices", IDX_BYTES), (AD_CVAL, "C.data", VAL_BYTES)):
        size = B.nbytes(ops.nnz_c, elem)
        AD[key] = sim.dram_region(name, size, access_class="output",
                                  die=B.split_at(rows, c_ptr, elem, size)).base
    c_idx = np.zeros(max(ops.nnz_c, 1), dtype=np.int64)
    c_val = np.zeros(max(ops.nnz_c, 1), dtype=np.float64)
    ct = np.zeros(B.CT_N, dtype=np.int64)
    c_end = c_ptr[1:]

    def gen(ids):
        return inner_generate(np.asarray(ids, dtype=np.int64), *a, *bt, c_ptr, c_end, c_idx, c_val,
                              False, AD, ct)

    sim.run_phase(Phase("rows", n_row, gen, B.row_tokens(rows, max(1, int(knobs["granularity"])))))
    return KernelOutput(c_ptr, c_idx[:ops.nnz_c], c_val[:ops.nnz_c], ct)


def run_inner_candidates(sim: Simulation, ops: B.Operands, knobs: dict) -> KernelOutput:
    """Only C's structural nonzeros: the symbolic phase writes the pattern, then dot products."""
    n_row = ops.sym.shape[0]
    a, bt, AD = _setup(sim, ops, knobs)
    st = rowwise.run_pattern(sim, ops)
    AD[AD_CSTART] = st.AD[rowwise.AD_CSTART]
    AD[AD_CEND] = st.AD[rowwise.AD_CEND]
    AD[AD_CIDX] = st.AD[rowwise.AD_CIDX]
    size = B.nbytes(st.c_total, VAL_BYTES)
    AD[AD_CVAL] = sim.dram_region("C.data", size, access_class="output",
                                  die=B.split_at(st.rows, st.c_cum, VAL_BYTES, size)).base
    c_start, c_end, c_idx = st.c_start, st.c_end, st.c_idx
    c_val = np.zeros(c_idx.size, dtype=np.float64)
    ct = np.zeros(B.CT_N, dtype=np.int64)     # the symbolic phase's work is in its cycles

    def gen(ids):
        return inner_generate(np.asarray(ids, dtype=np.int64), *a, *bt, c_start, c_end, c_idx,
                              c_val, True, AD, ct)

    sim.run_phase(Phase("rows", n_row, gen, B.row_tokens(st.rows, max(1, int(knobs["granularity"])))))
    return KernelOutput(c_start[:n_row], c_idx, c_val, ct, c_end=c_end[:n_row])
