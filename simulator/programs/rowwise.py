"""Row-wise (Gustavson) SpGEMM on the machine, and SMASH V1/V2/V3 as presets over its knobs.

One program, one task per row of A (or per row of partial products for the outer product's merge
phase, `src=1`): for every A[i, k] the task streams row k of B and merges the partial products
into an accumulator; write-back then moves the row to C at its offset. The accumulator is the
dense SPA (`spgemm.accumulators.spa_insert`) or a hash table (`hash_probe` / `hash_gather`, the
same code as the native kernels), functionally executed; the trace carries the table's real slot
addresses. Hash-table knobs:

* scope ``thread``: a fixed table per thread (its slice of the scratchpad), hashed over its whole
  size and scanned whole at write-back (SMASH V1/V2);
  ``row``: a fragment per row, sized from the symbolic pass (``load_factor`` x the row's nnz,
  rounded up to a power of two) in the core's shared scratchpad pool (SMASH V3).
* placement ``spad`` / ``dram``. A row whose table does not fit its scratchpad space (the fixed
  table, or the largest fragment) *spills*: the whole row's table goes to a per-thread DRAM table
  (counted in ``spilled_rows`` / ``spilled_products``). C is correct either way.
* atomics: claim a key by compare-and-swap (one CAS per probe), accumulate by atomic add
  (no-return); without: a load per probe and a store.
* write-back sorted (radix sort, n log2 n instructions) or unsorted; C's row offset from the
  symbolic pass (a load of C.indptr) or from an atomic allocator (fetch-add on a DRAM counter).

Reconstruction, not the thesis's code: see docs/kernels.md.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from simulator.machine import DynamicTokens, Phase, Simulation, StaticWindows
from simulator.machine.trace import (OP_WIDTH, ATOMIC_ADD, ATOMIC_CAS, ATOMIC_FADD, DEP, NORET, emit_atomic,
                                     emit_compute, emit_load, emit_store)
from spgemm.accumulators import EMPTY, HASH_FUNCTIONS, hash_gather, hash_probe, hash_slot, \
    hash_table_size, sort_pairs, spa_insert, WORK_SIZE

from simulator.programs import base as B
from simulator.programs.base import (CT_COLLISIONS, CT_MULADDS, CT_NNZ, CT_PP_READ_BYTES, CT_PROBES,
                                     CT_SLOTS_SCANNED, CT_SPILL_PRODUCTS, CT_SPILL_ROWS, I_MAC,
                                     I_NNZ_A, I_PROBE, I_ROW, I_SCAN, I_SORT, I_STORE_OUT, IDX_BYTES,
                                     PTR_BYTES, SLOT_BYTES, VAL_BYTES, Knob, KernelOutput, grow)

# params (int64 array P)
P_ACC, P_SCOPE, P_ATOMIC, P_HASH, P_SORTED, P_OFFSETS, P_FIXED, P_FRAGMAX, P_LF, P_SRC, P_POOL, \
    P_PLACE_DRAM, P_NCOL, P_N = range(14)
# region bases (int64 array AD)
AD_APTR, AD_AIDX, AD_AVAL, AD_BPTR, AD_BIDX, AD_BVAL, AD_CPTR, AD_CIDX, AD_CVAL, AD_TAB, AD_SPILL, \
    AD_ALLOC, AD_DENSE, AD_PP, AD_PPPTR, AD_N = range(16)

CHUNK = 8           # elements per streamed load of B (8 indices = 32 B, 8 values = 64 B)
LINE = 64           # bytes per streamed load of the table / C / records


@njit(cache=True)
def _emit_stream(buf, n, addr, nbytes, store, flags):
    """Loads (or stores) of `nbytes` contiguous bytes in LINE-sized pieces."""
    buf = grow(buf, n, nbytes // LINE + 2)
    off = 0
    first = True
    while off < nbytes:
        size = min(LINE, nbytes - off)
        if store:
            n = emit_store(buf, n, addr + off, size, flags if first else 0)
        else:
            n = emit_load(buf, n, addr + off, size, flags if first else 0)
        first = False
        off += size
    return buf, n


@njit(cache=True)
def _accumulate(buf, n, kidx, kval, c0, c1, scale, P, AD, tab_base, mask, keys, vals, pos,
                row_start, p, c_idx, c_val, ct, homes, slots, nps):
    """Partial products (kidx[r], scale * kval[r]) for r in c0..c1 (at most CHUNK) into the
    accumulator, functionally, then as trace. homes/slots/nps: int64[CHUNK] scratch.
    Returns (buf, n, p)."""
    m = c1 - c0
    if P[P_ACC] == 1:   # dense SPA: a flag per column, C written in place
        buf = grow(buf, n, 4 * m + 2)
        n = emit_compute(buf, n, I_MAC * m)
        for r in range(c0, c1):
            key = kidx[r]
            dense = AD[AD_DENSE] + key * 8
            n = emit_load(buf, n, dense, 8, DEP)
            q = pos[key]
            p1 = np.int64(spa_insert(pos, c_idx, c_val, np.uint64(row_start), np.uint64(p), key,
                                     scale * kval[r]))
            if p1 > p:
                n = emit_store(buf, n, dense, 8, 0)
                n = emit_store(buf, n, AD[AD_CIDX] + p * IDX_BYTES, IDX_BYTES, 0)
                n = emit_store(buf, n, AD[AD_CVAL] + p * VAL_BYTES, VAL_BYTES, 0)
            else:
                a = AD[AD_CVAL] + (np.int64(q) - 1) * VAL_BYTES
                n = emit_load(buf, n, a, VAL_BYTES, DEP)
                n = emit_store(buf, n, a, VAL_BYTES, 0)
            p = p1
        return buf, n, p
    hid = P[P_HASH]
    tot = 0
    for r in range(c0, c1):
        key = kidx[r]
        val = scale * kval[r]
        homes[r - c0] = np.int64(hash_slot(key, mask, hid))
        slot, n_probes, inserted = hash_probe(keys, mask, key, hid)
        if inserted:
            vals[slot] = val
        else:
            vals[slot] += val
        slots[r - c0] = np.int64(slot)
        nps[r - c0] = n_probes
        tot += n_probes
    ct[CT_PROBES] += tot
    ct[CT_COLLISIONS] += tot - m
    buf = grow(buf, n, tot + m + 2)
    n = emit_compute(buf, n, I_MAC * m + I_PROBE * tot)
    imask = np.int64(mask)
    atomic = P[P_ATOMIC] == 1
    for e in range(m):
        s = homes[e]
        for t in range(nps[e]):
            a = tab_base + s * SLOT_BYTES
            if atomic:
                n = emit_atomic(buf, n, a, ATOMIC_CAS, DEP)
            else:
                n = emit_load(buf, n, a, SLOT_BYTES, DEP)
            s = (s + 1) & imask
        a = tab_base + slots[e] * SLOT_BYTES
        if atomic:
            n = emit_atomic(buf, n, a + 8, ATOMIC_FADD, DEP | NORET)
        else:
            n = emit_store(buf, n, a, SLOT_BYTES, 0)
    return buf, n, p


@njit(cache=True)
def rowwise_generate(ids, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, pp_ptr, pp_col, pp_val,
                     c_ptr, c_idx, c_val, row_nnz, row_flops, P, AD, keys, vals, pos, tk, tv,
                     work, ct):
    """Execute rows `ids` (int64) of C = A·B (src 0) or merge their partial products (src 1)
    and return their traces (ops int64[n, 4], ptr int64[len(ids) + 1]).

    a_* / b_*: canonical CSR arrays (int64 / float64); pp_*: partial products grouped by row
    (src 1); c_*: C's arrays, row i written at c_ptr[i]; row_nnz / row_flops: the symbolic pass.
    keys/vals: a host hash table (keys all EMPTY) at least as large as any row's table; pos:
    uint64[n_col] zeros (dense); tk/tv/work: sort scratch. ct: counters (accumulated).
    """
    est = 64
    for t in range(ids.size):
        est += 16 + 3 * row_flops[ids[t]]
    buf = np.zeros((min(est, 1 << 22), OP_WIDTH), dtype=np.int64)
    ptr = np.zeros(ids.size + 1, dtype=np.int64)
    homes = np.zeros(CHUNK, dtype=np.int64)
    slots = np.zeros(CHUNK, dtype=np.int64)
    nps = np.zeros(CHUNK, dtype=np.int64)
    n = 0
    src = P[P_SRC]
    for t in range(ids.size):
        i = ids[t]
        start = c_ptr[i]
        p = start
        need = row_nnz[i]
        flops = row_flops[i]
        buf = grow(buf, n, 8)
        n = emit_compute(buf, n, I_ROW)
        if src == 0:
            n = emit_load(buf, n, AD[AD_APTR] + i * PTR_BYTES, 2 * PTR_BYTES, 0)
        else:
            n = emit_load(buf, n, AD[AD_PPPTR] + i * PTR_BYTES, 2 * PTR_BYTES, 0)
        # choose the table
        size = np.int64(0)
        tab = np.int64(0)
        if P[P_ACC] == 0 and flops > 0:
            fit = hash_table_size(need, P[P_LF])
            if P[P_SCOPE] == 0:           # fixed per-thread table
                size = P[P_FIXED]
                tab = AD[AD_TAB]
                if fit > size:
                    size = fit
                    tab = AD[AD_SPILL]
                    ct[CT_SPILL_ROWS] += 1
                    ct[CT_SPILL_PRODUCTS] += flops
            else:                          # a fragment sized for this row
                size = fit
                if fit > P[P_FRAGMAX]:
                    tab = AD[AD_SPILL]
                    ct[CT_SPILL_ROWS] += 1
                    ct[CT_SPILL_PRODUCTS] += flops
                elif P[P_PLACE_DRAM] == 1:
                    tab = AD[AD_TAB]
                else:   # fragments land at a row-dependent place of the core's pool
                    frag = ((i * 40503) * size) & (P[P_POOL] - 1)
                    tab = AD[AD_TAB] + frag * SLOT_BYTES
        mask = np.uint64(max(size, 1) - 1)
        # multiply and accumulate
        if src == 0:
            for q in range(a_ptr[i], a_ptr[i + 1]):
                k = a_idx[q]
                av = a_val[q]
                buf = grow(buf, n, 4)
                n = emit_compute(buf, n, I_NNZ_A)
                n = emit_load(buf, n, AD[AD_AIDX] + q * IDX_BYTES, IDX_BYTES, 0)
                n = emit_load(buf, n, AD[AD_AVAL] + q * VAL_BYTES, VAL_BYTES, 0)
                n = emit_load(buf, n, AD[AD_BPTR] + k * PTR_BYTES, 2 * PTR_BYTES, DEP)
                b0 = b_ptr[k]
                b1 = b_ptr[k + 1]
                for c0 in range(b0, b1, CHUNK):
                    c1 = min(c0 + CHUNK, b1)
                    buf = grow(buf, n, 3)
                    n = emit_load(buf, n, AD[AD_BIDX] + c0 * IDX_BYTES, (c1 - c0) * IDX_BYTES, DEP)
                    n = emit_load(buf, n, AD[AD_BVAL] + c0 * VAL_BYTES, (c1 - c0) * VAL_BYTES, 0)
                    buf, n, p = _accumulate(buf, n, b_idx, b_val, c0, c1, av, P, AD, tab, mask, keys,
                                            vals, pos, start, p, c_idx, c_val, ct, homes, slots, nps)
                    ct[CT_MULADDS] += c1 - c0
        else:
            r0 = pp_ptr[i]
            r1 = pp_ptr[i + 1]
            per = LINE // SLOT_BYTES    # records per streamed load (<= CHUNK)
            for c0 in range(r0, r1, per):
                c1 = min(c0 + per, r1)
                buf = grow(buf, n, 2)
                n = emit_load(buf, n, AD[AD_PP] + c0 * SLOT_BYTES, (c1 - c0) * SLOT_BYTES, DEP)
                ct[CT_PP_READ_BYTES] += (c1 - c0) * SLOT_BYTES
                buf, n, p = _accumulate(buf, n, pp_col, pp_val, c0, c1, 1.0, P, AD, tab, mask, keys,
                                        vals, pos, start, p, c_idx, c_val, ct, homes, slots, nps)
        # write back
        if P[P_ACC] == 0 and flops > 0:
            ct[CT_SLOTS_SCANNED] += size
            buf = grow(buf, n, 2)
            n = emit_compute(buf, n, I_SCAN * size)
            buf, n = _emit_stream(buf, n, tab, size * SLOT_BYTES, False, 0)
            p = np.int64(hash_gather(keys, vals, size, c_idx, c_val, np.uint64(start)))
            buf = grow(buf, n, p - start + 1)
            for e in range(start, p):     # free the claimed slots
                slot = hash_probe_slot(c_idx[e], mask, P[P_HASH], keys)
                n = emit_store(buf, n, tab + slot * SLOT_BYTES, 8, 0)
        elif P[P_ACC] == 1:
            buf = grow(buf, n, p - start + 1)
            for e in range(start, p):     # reset the SPA flags
                pos[c_idx[e]] = 0
                n = emit_store(buf, n, AD[AD_DENSE] + c_idx[e] * 8, 8, 0)
        cnt = p - start
        ct[CT_NNZ] += cnt
        if P[P_SORTED] == 1 and cnt > 1:
            sort_pairs(c_idx, c_val, start, p, P[P_NCOL], tk, tv, work)
            lg = 1
            while (1 << lg) < cnt:
                lg += 1
            buf = grow(buf, n, 1)
            n = emit_compute(buf, n, I_SORT * cnt * lg)
        buf = grow(buf, n, 4)
        if P[P_OFFSETS] == 1:
            n = emit_atomic(buf, n, AD[AD_ALLOC], ATOMIC_ADD, DEP)
            n = emit_store(buf, n, AD[AD_CPTR] + i * PTR_BYTES, PTR_BYTES, DEP)
        else:
            n = emit_load(buf, n, AD[AD_CPTR] + i * PTR_BYTES, PTR_BYTES, 0)
        if cnt > 0:
            n = emit_compute(buf, n, I_STORE_OUT * cnt)
            if P[P_ACC] == 0 or P[P_SORTED] == 1:
                buf, n = _emit_stream(buf, n, AD[AD_CIDX] + start * IDX_BYTES, cnt * IDX_BYTES, True, DEP)
                buf, n = _emit_stream(buf, n, AD[AD_CVAL] + start * VAL_BYTES, cnt * VAL_BYTES, True, 0)
        ptr[t + 1] = n
    return buf[:n], ptr


@njit(cache=True)
def hash_probe_slot(key, mask, hash_id, keys):
    """The slot a key occupied (for the trace of freeing it): its home slot; the exact slot is
    not needed by the model beyond its address, which is the home slot's neighbourhood."""
    return np.int64(hash_slot(key, mask, hash_id))


# ---- the program ----------------------------------------------------------------------------

KNOBS: dict[str, Knob] = {
    "accumulator": Knob("hash", "hash table or dense SPA", ("hash", "dense")),
    "distribution": Knob("dynamic", "static windows (one per thread) or dynamic tokens",
                         ("static", "dynamic")),
    "balance": Knob("rows", "static windows: equal row counts or equal flops", ("rows", "flops")),
    "granularity": Knob(1, "dynamic tokens: rows taken per fetch-add"),
    "token_scope": Knob("machine", "dynamic tokens: one queue per machine, die or core",
                        ("machine", "die", "core")),
    "scope": Knob("row", "hash table: fixed per-thread slice, or per-row fragment sized from the "
                  "symbolic pass", ("thread", "row")),
    "placement": Knob("spad", "hash table / SPA in the scratchpad or in DRAM", ("spad", "dram")),
    "table_slots": Knob(0, "scope=thread: slots per thread's table (0: its share of the scratchpad)"),
    "fragment_max_slots": Knob(0, "scope=row: largest fragment (0: 1/8 of the core's pool)"),
    "load_factor": Knob(2, "table slots >= load_factor x distinct keys of the row"),
    "hash": Knob("fibonacci", "hash function", tuple(HASH_FUNCTIONS)),
    "atomics": Knob(True, "claim keys by CAS and accumulate by atomic add"),
    "writeback": Knob("unsorted", "write-back order of each row of C", ("unsorted", "sorted")),
    "offsets": Knob("symbolic", "row offsets of C: from the symbolic pass or an atomic allocator",
                    ("symbolic", "atomic")),
}

PRESETS: dict[str, dict] = {
    "rowwise-dense": dict(accumulator="dense", placement="dram", atomics=False),
    "rowwise-hash": dict(accumulator="hash", scope="row", placement="dram", atomics=False),
    "smash-v1": dict(accumulator="hash", distribution="static", balance="rows", scope="thread",
                     placement="spad", atomics=True),
    "smash-v2": dict(accumulator="hash", distribution="dynamic", scope="thread", placement="spad",
                     atomics=True),
    "smash-v3": dict(accumulator="hash", distribution="dynamic", scope="row", placement="spad",
                     atomics=True),
}

# The outer product's merge phase: a non-atomic hash accumulator, per-row fragments.
KNOBS_DEFAULTS_FOR_MERGE = {**{k: v.default for k, v in KNOBS.items()},
                            "accumulator": "hash", "atomics": False, "scope": "row"}


def schedule_for(knobs: dict, n_tasks: int, cost: np.ndarray):
    if knobs["distribution"] == "static":
        return StaticWindows(cost=cost if knobs["balance"] == "flops" else None)
    return DynamicTokens(chunk=max(1, int(knobs["granularity"])), scope=knobs["token_scope"],
                         cost=cost if knobs["token_scope"] != "machine" else None)


class RowwiseState:
    """Regions, parameters and scratch of one row-wise run (also the outer product's merge)."""

    def __init__(self, sim: Simulation, ops: B.Operands, knobs: dict, *, prefix: str, src: int,
                 pp: tuple | None = None) -> None:
        cfg = sim.cfg
        A, Bm = ops.A, ops.B
        n_row, n_col = ops.sym.shape
        self.row_nnz = np.ascontiguousarray(ops.sym.row_nnz, dtype=np.int64)
        self.row_flops = np.ascontiguousarray(ops.sym.row_flops, dtype=np.int64)
        self.a = B.csr_arrays(A)
        self.b = B.csr_arrays(Bm)
        self.c_ptr = ops.c_ptr
        self.c_idx = np.zeros(max(ops.nnz_c, 1), dtype=np.int64)
        self.c_val = np.zeros(max(ops.nnz_c, 1), dtype=np.float64)
        P = np.zeros(P_N, dtype=np.int64)
        P[P_ACC] = 1 if knobs["accumulator"] == "dense" else 0
        P[P_SCOPE] = 0 if knobs["scope"] == "thread" else 1
        P[P_ATOMIC] = 1 if knobs["atomics"] else 0
        P[P_HASH] = HASH_FUNCTIONS[knobs["hash"]]
        P[P_SORTED] = 1 if knobs["writeback"] == "sorted" else 0
        P[P_OFFSETS] = 1 if knobs["offsets"] == "atomic" else 0
        P[P_LF] = max(1, int(knobs["load_factor"]))
        P[P_SRC] = src
        P[P_NCOL] = n_col
        place_dram = knobs["placement"] == "dram" or cfg.spad.size_bytes == 0
        P[P_PLACE_DRAM] = 1 if place_dram else 0
        max_fit = int(hash_table_size(int(self.row_nnz.max()) if n_row else 1, int(P[P_LF])))
        AD = np.zeros(AD_N, dtype=np.int64)
        reg = lambda name, size, **kw: sim.dram_region(f"{prefix}{name}", size, **kw).base
        AD[AD_APTR] = reg("A.indptr", B.nbytes(len(self.a[0]), PTR_BYTES), access_class="stream")
        AD[AD_AIDX] = reg("A.indices", B.nbytes(len(self.a[1]), IDX_BYTES), access_class="stream")
        AD[AD_AVAL] = reg("A.data", B.nbytes(len(self.a[2]), VAL_BYTES), access_class="stream")
        AD[AD_BPTR] = reg("B.indptr", B.nbytes(len(self.b[0]), PTR_BYTES))
        AD[AD_BIDX] = reg("B.indices", B.nbytes(len(self.b[1]), IDX_BYTES))
        AD[AD_BVAL] = reg("B.data", B.nbytes(len(self.b[2]), VAL_BYTES))
        AD[AD_CPTR] = reg("C.indptr", B.nbytes(n_row + 1, PTR_BYTES), access_class="output")
        AD[AD_CIDX] = reg("C.indices", B.nbytes(ops.nnz_c, IDX_BYTES), access_class="output")
        AD[AD_CVAL] = reg("C.data", B.nbytes(ops.nnz_c, VAL_BYTES), access_class="output")
        AD[AD_ALLOC] = reg("C.alloc", 8, access_class="random")
        if pp is not None:
            self.pp_ptr, self.pp_col, self.pp_val, AD[AD_PP], AD[AD_PPPTR] = pp
        else:
            self.pp_ptr = np.zeros(1, np.int64)
            self.pp_col = np.zeros(1, np.int64)
            self.pp_val = np.zeros(1, np.float64)
        host_slots = max_fit
        if P[P_ACC] == 1:
            spa_bytes = max(n_col, 1) * 8
            thread_share = cfg.spad.size_bytes // max(cfg.core.threads, 1) - 64
            if not place_dram and spa_bytes <= thread_share:
                AD[AD_DENSE] = sim.spad_region(f"{prefix}spa", spa_bytes, per="thread").base
            else:
                AD[AD_DENSE] = reg("spa", spa_bytes, per="thread", access_class="random")
        elif P[P_SCOPE] == 0:
            if place_dram:
                fixed = int(knobs["table_slots"]) or 4096
                fixed = B.pow2_floor(fixed)
                AD[AD_TAB] = reg("table", fixed * SLOT_BYTES, per="thread", access_class="random")
            else:
                free = cfg.spad.size_bytes - int(sim._spad_used.max()) - 4096
                share = free // cfg.core.threads // SLOT_BYTES
                fixed = B.pow2_floor(int(knobs["table_slots"]) or share)
                if fixed * SLOT_BYTES * cfg.core.threads > free:
                    raise ValueError(f"knob table_slots: {fixed} slots x {cfg.core.threads} threads "
                                     f"do not fit the scratchpad ({free} bytes free)")
                AD[AD_TAB] = sim.spad_region(f"{prefix}table", fixed * SLOT_BYTES, per="thread").base
            P[P_FIXED] = fixed
            host_slots = max(host_slots, fixed)
        else:
            if place_dram:
                P[P_FRAGMAX] = max_fit
                AD[AD_TAB] = reg("table", max_fit * SLOT_BYTES, per="thread", access_class="random")
            else:
                free = cfg.spad.size_bytes - int(sim._spad_used.max()) - 4096
                pool = B.pow2_floor(free // SLOT_BYTES)
                P[P_POOL] = pool
                P[P_FRAGMAX] = B.pow2_floor(int(knobs["fragment_max_slots"]) or max(pool // 8, 2))
                if P[P_FRAGMAX] > pool:
                    raise ValueError(f"knob fragment_max_slots: larger than the pool ({pool} slots)")
                AD[AD_TAB] = sim.spad_region(f"{prefix}pool", pool * SLOT_BYTES).base
        AD[AD_SPILL] = reg("spill", max_fit * SLOT_BYTES, per="thread", access_class="random")
        self.P, self.AD = P, AD
        self.keys = np.full(host_slots, EMPTY, dtype=np.int64)
        self.vals = np.zeros(host_slots, dtype=np.float64)
        self.pos = np.zeros(max(n_col, 1), dtype=np.uint64)
        longest = int(self.row_nnz.max()) if n_row else 1
        self.tk = np.zeros(max(longest, 1), dtype=np.uint64)
        self.tv = np.zeros(max(longest, 1), dtype=np.float64)
        self.work = np.zeros(WORK_SIZE, dtype=np.int64)
        self.ct = np.zeros(B.CT_N, dtype=np.int64)

    def generate(self, ids: np.ndarray):
        return rowwise_generate(np.asarray(ids, dtype=np.int64), *self.a, *self.b, self.pp_ptr,
                                self.pp_col, self.pp_val, self.c_ptr, self.c_idx, self.c_val,
                                self.row_nnz, self.row_flops, self.P, self.AD, self.keys,
                                self.vals, self.pos, self.tk, self.tv, self.work, self.ct)

    def output(self, nnz_c: int) -> KernelOutput:
        return KernelOutput(self.c_ptr, self.c_idx[:nnz_c], self.c_val[:nnz_c], self.ct)


def run_rowwise(sim: Simulation, ops: B.Operands, knobs: dict) -> KernelOutput:
    st = RowwiseState(sim, ops, knobs, prefix="", src=0)
    n_row = ops.sym.shape[0]
    sim.run_phase(Phase("rows", n_row, st.generate,
                        schedule_for(knobs, n_row, st.row_flops.astype(np.float64))))
    return st.output(ops.nnz_c)
