"""Inner-product SpGEMM on the machine: C[i, j] = A[i, :] · B[:, j], B stored CSC.

One task per row i of A (the row is loaded once); for *every* column j of B the task loads the
column's pointers and indices and intersects them with the row's (two-pointer merge, one
instruction pair per step), loading B's value for each match. B's columns are fetched again for
every row: through the cache (access class "default"), so the repeated fetches show up as cache
misses and DRAM bytes. This is the baseline's point: work ~ n_row x (n_col + nnz(B)).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit

from simulator.machine import DynamicTokens, Phase, Simulation
from simulator.machine.trace import DEP, OP_WIDTH, emit_compute, emit_load
from simulator.programs import base as B
from simulator.programs.base import (CT_INTERSECTIONS, CT_MULADDS, CT_NNZ, I_CMP, I_ROW, I_STORE_OUT,
                                     IDX_BYTES, PTR_BYTES, VAL_BYTES, Knob, KernelOutput, grow)
from simulator.programs.rowwise import _emit_stream

IDX_PER_LOAD = 16     # 64-byte loads of B's column indices


@njit(cache=True)
def inner_generate(ids, a_ptr, a_idx, a_val, bt_ptr, bt_idx, bt_val, c_ptr, c_idx, c_val, AD, ct):
    """Rows `ids` of C by inner products. bt_*: B in CSC (= B^T in CSR); c_* written at c_ptr.
    AD: region bases [a_ptr, a_idx, a_val, bt_ptr, bt_idx, bt_val, c_ptr, c_idx, c_val]."""
    n_col = bt_ptr.size - 1
    buf = np.zeros((min(64 + ids.size * (3 * n_col + 64), 1 << 22), OP_WIDTH), dtype=np.int64)
    ptr = np.zeros(ids.size + 1, dtype=np.int64)
    n = 0
    for t in range(ids.size):
        i = ids[t]
        a0 = a_ptr[i]
        a1 = a_ptr[i + 1]
        buf = grow(buf, n, 4)
        n = emit_compute(buf, n, I_ROW)
        n = emit_load(buf, n, AD[0] + i * PTR_BYTES, 2 * PTR_BYTES, 0)
        p = c_ptr[i]
        start = p
        if a1 > a0:
            buf, n = _emit_stream(buf, n, AD[1] + a0 * IDX_BYTES, (a1 - a0) * IDX_BYTES, False, DEP)
            buf, n = _emit_stream(buf, n, AD[2] + a0 * VAL_BYTES, (a1 - a0) * VAL_BYTES, False, 0)
            for j in range(n_col):
                b0 = bt_ptr[j]
                b1 = bt_ptr[j + 1]
                ct[CT_INTERSECTIONS] += 1
                buf = grow(buf, n, 3 + (b1 - b0) // IDX_PER_LOAD)
                n = emit_load(buf, n, AD[3] + j * PTR_BYTES, 2 * PTR_BYTES, 0)
                if b1 == b0:
                    n = emit_compute(buf, n, 2)
                    continue
                for c0 in range(b0, b1, IDX_PER_LOAD):
                    c1 = min(c0 + IDX_PER_LOAD, b1)
                    n = emit_load(buf, n, AD[4] + c0 * IDX_BYTES, (c1 - c0) * IDX_BYTES,
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
                        n = emit_load(buf, n, AD[5] + y * VAL_BYTES, VAL_BYTES, 0)
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
                if hit:
                    c_idx[p] = j
                    c_val[p] = acc
                    p += 1
        cnt = p - start
        ct[CT_NNZ] += cnt
        buf = grow(buf, n, 2)
        n = emit_load(buf, n, AD[6] + i * PTR_BYTES, PTR_BYTES, 0)
        if cnt > 0:
            n = emit_compute(buf, n, I_STORE_OUT * cnt)
            buf, n = _emit_stream(buf, n, AD[7] + start * IDX_BYTES, cnt * IDX_BYTES, True, DEP)
            buf, n = _emit_stream(buf, n, AD[8] + start * VAL_BYTES, cnt * VAL_BYTES, True, 0)
        ptr[t + 1] = n
    return buf[:n], ptr


KNOBS: dict[str, Knob] = {
    "granularity": Knob(1, "rows taken per dynamic token"),
}


def run_inner(sim: Simulation, ops: B.Operands, knobs: dict) -> KernelOutput:
    A, Bm = ops.A, ops.B
    n_row = ops.sym.shape[0]
    a = B.csr_arrays(A)
    Bt = sp.csc_array(Bm)
    Bt.sort_indices()
    bt = (Bt.indptr.astype(np.int64), Bt.indices.astype(np.int64), Bt.data.astype(np.float64))
    c_idx = np.zeros(max(ops.nnz_c, 1), dtype=np.int64)
    c_val = np.zeros(max(ops.nnz_c, 1), dtype=np.float64)
    AD = np.zeros(9, dtype=np.int64)
    AD[0] = sim.dram_region("A.indptr", B.nbytes(n_row + 1, PTR_BYTES), access_class="stream").base
    AD[1] = sim.dram_region("A.indices", B.nbytes(A.nnz, IDX_BYTES), access_class="stream").base
    AD[2] = sim.dram_region("A.data", B.nbytes(A.nnz, VAL_BYTES), access_class="stream").base
    AD[3] = sim.dram_region("Bt.indptr", B.nbytes(len(bt[0]), PTR_BYTES)).base
    AD[4] = sim.dram_region("Bt.indices", B.nbytes(Bt.nnz, IDX_BYTES)).base
    AD[5] = sim.dram_region("Bt.data", B.nbytes(Bt.nnz, VAL_BYTES)).base
    AD[6] = sim.dram_region("C.indptr", B.nbytes(n_row + 1, PTR_BYTES), access_class="output").base
    AD[7] = sim.dram_region("C.indices", B.nbytes(ops.nnz_c, IDX_BYTES), access_class="output").base
    AD[8] = sim.dram_region("C.data", B.nbytes(ops.nnz_c, VAL_BYTES), access_class="output").base
    ct = np.zeros(B.CT_N, dtype=np.int64)

    def gen(ids):
        return inner_generate(np.asarray(ids, dtype=np.int64), *a, *bt, ops.c_ptr, c_idx, c_val, AD, ct)

    sim.run_phase(Phase("rows", n_row, gen, DynamicTokens(chunk=max(1, int(knobs["granularity"])))))
    return KernelOutput(ops.c_ptr, c_idx[:ops.nnz_c], c_val[:ops.nnz_c], ct)
