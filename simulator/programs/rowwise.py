"""Row-wise (Gustavson) SpGEMM on the machine, one row per thread, private accumulators: the
baselines `rowwise-dense` and `rowwise-hash`, the outer product's merge phase and the simulated
symbolic phase (`run_symbolic`, the same program without values).

One task per row of A (or per row of partial products for the outer product's merge phase,
`src=1`): for every A[i, k] the task streams row k of B and merges the partial products into an
accumulator; write-back then moves the row to C. The accumulator is the dense SPA
(`spgemm.accumulators.spa_insert`) or a hash table probed with `spgemm.accumulators.hash_probe`
(the native kernels' code), executed functionally; the trace carries the table's real slot
addresses. Knobs:

* scope ``thread``: a fixed table, the thread's whole slice, scanned whole at write-back;
  ``row``: a table sized for the row (``load_factor`` x its size, a power of two) at the start
  of the thread's slice. A row whose table does not fit the slice *spills*: its whole table goes
  to the thread's DRAM table (``spilled_rows`` / ``spilled_products``). Tables are private: no
  two threads ever share one, so atomics buy nothing here (the SMASH program shares them).
* placement ``spad`` / ``dram``: the slices in the scratchpad or in DRAM.
* sizes: a row's table size from a bound computed by the task (a first pass over the row's
  entries of A loading B's row pointers: min(row flops, n_col)), or the exact nnz of the
  simulated symbolic phase (a load).
* offsets: ``atomic``: a row claims its place in C by a fetch-add on a DRAM counter once its
  count is known (hash; the dense accumulator writes C in place, so it claims its bound first),
  C is 4-array CSR (row starts and ends); ``symbolic``: C's row pointers from the simulated
  symbolic phase and its scan (a load of C.indptr).
* write-back sorted (radix sort, n log2 n instructions) or unsorted.

Reconstruction, not the thesis's code: see docs/kernels.md.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from simulator.machine import DynamicTokens, Phase, Simulation, StaticWindows
from simulator.machine.trace import (ATOMIC_ADD, ATOMIC_CAS, ATOMIC_FADD, DEP, NORET, OP_WIDTH,
                                     emit_atomic, emit_compute, emit_load, emit_store)
from spgemm.accumulators import (EMPTY, HASH_FUNCTIONS, WORK_SIZE, hash_probe, hash_slot,
                                 hash_table_size, sort_pairs, spa_insert)

from simulator.programs import base as B
from simulator.programs import prep
from simulator.programs.base import (CHUNK, claim_c, CT_COLLISIONS, CT_MULADDS, CT_NNZ, CT_PP_READ_BYTES,
                                     CT_PROBES, CT_SLOTS_SCANNED, CT_SPILL_PRODUCTS,
                                     CT_SPILL_ROWS, CT_SPILLED_ENTRIES, I_MAC, I_NNZ_A, I_PROBE,
                                     I_ROW, I_SCAN, I_SORT, I_STORE_OUT, IDX_BYTES, LINE,
                                     PTR_BYTES, SLOT_BYTES, VAL_BYTES, Knob, KernelOutput,
                                     emit_stream, grow)

# params (int64 array P)
(P_ACC, P_SCOPE, P_ATOMIC, P_HASH, P_SORTED, P_OFFSETS, P_SLICE, P_LF, P_SRC, P_NCOL, P_NUMERIC,
 P_OUT, P_SIZES, P_N) = range(14)
OUT_VALUES, OUT_COUNT, OUT_PATTERN = 0, 1, 2
# region bases (int64 array AD)
(AD_APTR, AD_AIDX, AD_AVAL, AD_BPTR, AD_BIDX, AD_BVAL, AD_CSTART, AD_CEND, AD_CIDX, AD_CVAL,
 AD_TAB, AD_SPILL, AD_ALLOC, AD_DENSE, AD_PP, AD_PPPTR, AD_SIZES, AD_N) = range(18)


@njit(cache=True)
def _accumulate(buf, n, kidx, kval, c0, c1, scale, P, AD, tab, mask, keys, vals, pos, row_start,
                p, c_idx, c_val, ct, homes, slots, nps, fresh):
    """Partial products (kidx[r], scale * kval[r]) for r in c0..c1 (at most CHUNK) into the
    accumulator, functionally, then as trace. homes/slots/nps: int64[CHUNK] scratch; fresh[0]
    counts new keys. Returns (buf, n, p)."""
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
    numeric = P[P_NUMERIC] == 1
    tot = 0
    for r in range(c0, c1):
        key = kidx[r]
        homes[r - c0] = np.int64(hash_slot(key, mask, hid))
        slot, n_probes, inserted = hash_probe(keys, mask, key, hid)
        if numeric:
            if inserted:
                vals[slot] = scale * kval[r]
            else:
                vals[slot] += scale * kval[r]
        if inserted:
            fresh[0] += 1
            nps[r - c0] = -n_probes          # negative: the key was claimed here
        else:
            nps[r - c0] = n_probes
        slots[r - c0] = np.int64(slot)
        tot += n_probes
    ct[CT_PROBES] += tot
    ct[CT_COLLISIONS] += tot - m
    buf = grow(buf, n, 2 * tot + m + 2)
    n = emit_compute(buf, n, I_MAC * m + I_PROBE * tot)
    imask = np.int64(mask)
    atomic = P[P_ATOMIC] == 1
    for e in range(m):
        s = homes[e]
        claimed = nps[e] < 0
        for t in range(abs(nps[e])):
            a = tab + s * SLOT_BYTES
            if atomic:
                n = emit_atomic(buf, n, a, ATOMIC_CAS, DEP)
            else:
                n = emit_load(buf, n, a, 8 if not numeric else SLOT_BYTES, DEP)
            s = (s + 1) & imask
        a = tab + slots[e] * SLOT_BYTES
        if numeric:
            if atomic:
                n = emit_atomic(buf, n, a + 8, ATOMIC_FADD, DEP | NORET)
            else:
                n = emit_store(buf, n, a, SLOT_BYTES, 0)
        elif claimed and not atomic:
            n = emit_store(buf, n, a, 8, 0)
    return buf, n, p


@njit(cache=True)
def _row_bound(buf, n, i, a_ptr, a_idx, b_ptr, AD, emit):
    """Row i's multiply-adds (functionally) and, when `emit`, the pass a thread makes to count
    them: A's indices of the row and B's row pointers, no values."""
    q0 = a_ptr[i]
    q1 = a_ptr[i + 1]
    fl = 0
    per = LINE // IDX_BYTES
    if emit:
        buf = grow(buf, n, 2 * (q1 - q0) + 2)
    for q in range(q0, q1):
        k = a_idx[q]
        fl += b_ptr[k + 1] - b_ptr[k]
        if emit:
            first = (q - q0) % per == 0
            if first:
                n = emit_load(buf, n, AD[AD_AIDX] + q * IDX_BYTES, min(per, q1 - q) * IDX_BYTES, DEP)
            n = emit_load(buf, n, AD[AD_BPTR] + k * PTR_BYTES, 2 * PTR_BYTES, DEP if first else 0)
    if emit:
        n = emit_compute(buf, n, 2 * (q1 - q0) + 2)
    return buf, n, fl


@njit(cache=True)
def _claim(buf, n, i, count, calloc, c_start, P, AD):
    """Row i's place in C: a fetch-add of `count` on C's counter (atomic offsets; the row start
    is stored, 4-array C) or a load of C.indptr (symbolic offsets). Returns (buf, n, start)."""
    buf = grow(buf, n, 2)
    if P[P_OFFSETS] == 1:
        at, start = claim_c(calloc, i, count)
        n = emit_atomic(buf, n, AD[AD_ALLOC] + at, ATOMIC_ADD, DEP)
        c_start[i] = start
        n = emit_store(buf, n, AD[AD_CSTART] + i * PTR_BYTES, PTR_BYTES, DEP)
    else:
        n = emit_load(buf, n, AD[AD_CSTART] + i * PTR_BYTES, PTR_BYTES, 0)
        start = c_start[i]
    return buf, n, start


@njit(cache=True)
def _write_back(buf, n, tab, size, keys, vals, c_idx, c_val, start, ct):
    """Scan a table line by line, move its entries to C's arrays from `start` (slot order) and
    clear the lines that held entries. Returns (buf, n, next position)."""
    per = LINE // SLOT_BYTES
    p = start
    ct[CT_SLOTS_SCANNED] += size
    buf = grow(buf, n, 2 * (size // per) + 2)
    n = emit_compute(buf, n, I_SCAN * size)
    for ls in range(0, size, per):
        le = min(ls + per, size)
        n = emit_load(buf, n, tab + ls * SLOT_BYTES, (le - ls) * SLOT_BYTES, 0)
        dirty = False
        for s in range(ls, le):
            k = keys[s]
            if k != EMPTY:
                c_idx[p] = k
                c_val[p] = vals[s]
                p += 1
                keys[s] = EMPTY
                dirty = True
        if dirty:
            n = emit_store(buf, n, tab + ls * SLOT_BYTES, (le - ls) * SLOT_BYTES, 0)
    return buf, n, p


@njit(cache=True)
def rowwise_generate(ids, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, pp_ptr, pp_col, pp_val,
                     c_start, c_end, c_idx, c_val, calloc, sizes_in, row_out, P, AD, keys, vals,
                     pos, tk, tv, work, ct):
    """Execute rows `ids` (int64) of C = A·B (src 0) or merge their partial products (src 1)
    and return their traces (ops int64[n, 2], ptr int64[len(ids) + 1]).

    a_* / b_*: canonical CSR arrays (int64 / float64); pp_*: partial products grouped by row
    (src 1); c_start / c_end: row starts and ends (c_start given with symbolic offsets; set with
    atomic offsets); c_idx / c_val: C's arrays; calloc int64[dies, 2]: C's allocation counters (`base.c_alloc`);
    sizes_in: exact row nnz (sizes = symbolic); row_out: rows' counts (output count mode).
    keys/vals: a host hash table (keys all EMPTY) at least as large as any row's table; pos:
    uint64[n_col] zeros (dense); tk/tv/work: sort scratch. ct: counters (accumulated).
    """
    est = 64
    for t in range(ids.size):
        i = ids[t]
        est += 16 + 3 * (a_ptr[i + 1] - a_ptr[i]) if P[P_SRC] == 0 else 16
    buf = np.zeros((min(est * 4, 1 << 22), OP_WIDTH), dtype=np.int64)
    ptr = np.zeros(ids.size + 1, dtype=np.int64)
    homes = np.zeros(CHUNK, dtype=np.int64)
    slots = np.zeros(CHUNK, dtype=np.int64)
    nps = np.zeros(CHUNK, dtype=np.int64)
    fresh = np.zeros(1, dtype=np.int64)
    n = 0
    src = P[P_SRC]
    hashed = P[P_ACC] == 0
    for t in range(ids.size):
        i = ids[t]
        buf = grow(buf, n, 8)
        n = emit_compute(buf, n, I_ROW)
        if src == 0:
            n = emit_load(buf, n, AD[AD_APTR] + i * PTR_BYTES, 2 * PTR_BYTES, 0)
        else:
            n = emit_load(buf, n, AD[AD_PPPTR] + i * PTR_BYTES, 2 * PTR_BYTES, 0)
        # the row's size: a bound the task computes, or the symbolic phase's exact count
        bounded = P[P_SIZES] == 0 and (hashed or P[P_OFFSETS] == 1)
        if src == 0:
            buf, n, flops = _row_bound(buf, n, i, a_ptr, a_idx, b_ptr, AD, bounded)
        else:
            flops = pp_ptr[i + 1] - pp_ptr[i]
        need = min(flops, P[P_NCOL])
        if P[P_SIZES] == 1:
            need = sizes_in[i]
            n = emit_load(buf, n, AD[AD_SIZES] + i * 8, 8, 0)
        # choose the table
        size = np.int64(0)
        tab = np.int64(0)
        if hashed and flops > 0:
            size = hash_table_size(need, P[P_LF])
            tab = AD[AD_TAB]
            if P[P_SCOPE] == 0:
                size = max(size, P[P_SLICE])
            if size > P[P_SLICE]:                 # does not fit the thread's slice: DRAM
                tab = AD[AD_SPILL]
                ct[CT_SPILL_ROWS] += 1
                ct[CT_SPILL_PRODUCTS] += flops
                ct[CT_SPILLED_ENTRIES] += need
        mask = np.uint64(max(size, 1) - 1)
        start = np.int64(0)
        if not hashed and P[P_OUT] == OUT_VALUES:     # the SPA writes C in place: claim first
            buf, n, start = _claim(buf, n, i, need, calloc, c_start, P, AD)
        p = start
        fresh[0] = 0
        # multiply and accumulate
        if src == 0:
            for q in range(a_ptr[i], a_ptr[i + 1]):
                k = a_idx[q]
                av = a_val[q]
                buf = grow(buf, n, 4)
                n = emit_compute(buf, n, I_NNZ_A)
                n = emit_load(buf, n, AD[AD_AIDX] + q * IDX_BYTES, IDX_BYTES, 0)
                if P[P_NUMERIC] == 1:
                    n = emit_load(buf, n, AD[AD_AVAL] + q * VAL_BYTES, VAL_BYTES, 0)
                n = emit_load(buf, n, AD[AD_BPTR] + k * PTR_BYTES, 2 * PTR_BYTES, DEP)
                b0 = b_ptr[k]
                b1 = b_ptr[k + 1]
                for c0 in range(b0, b1, CHUNK):
                    c1 = min(c0 + CHUNK, b1)
                    buf = grow(buf, n, 3)
                    n = emit_load(buf, n, AD[AD_BIDX] + c0 * IDX_BYTES, (c1 - c0) * IDX_BYTES, DEP)
                    if P[P_NUMERIC] == 1:
                        n = emit_load(buf, n, AD[AD_BVAL] + c0 * VAL_BYTES, (c1 - c0) * VAL_BYTES, 0)
                    buf, n, p = _accumulate(buf, n, b_idx, b_val, c0, c1, av, P, AD, tab, mask,
                                            keys, vals, pos, start, p, c_idx, c_val, ct, homes,
                                            slots, nps, fresh)
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
                                        vals, pos, start, p, c_idx, c_val, ct, homes, slots, nps,
                                        fresh)
        # write back
        if hashed:
            cnt = fresh[0]
            if P[P_OUT] == OUT_COUNT:
                row_out[i] = cnt
                if flops > 0:
                    buf, n, p = _write_back(buf, n, tab, size, keys, vals, tk, tv, 0, ct)
                buf = grow(buf, n, 1)
                n = emit_store(buf, n, AD[AD_SIZES] + i * 8, 8, 0)
                ptr[t + 1] = n
                continue
            buf, n, start = _claim(buf, n, i, cnt, calloc, c_start, P, AD)
            p = start
            if flops > 0:
                buf, n, p = _write_back(buf, n, tab, size, keys, vals, c_idx, c_val, start, ct)
        else:
            buf = grow(buf, n, p - start + 1)
            for e in range(start, p):     # reset the SPA flags
                pos[c_idx[e]] = 0
                n = emit_store(buf, n, AD[AD_DENSE] + c_idx[e] * 8, 8, 0)
        cnt = p - start
        c_end[i] = p
        ct[CT_NNZ] += cnt
        if P[P_SORTED] == 1 and cnt > 1:
            sort_pairs(c_idx, c_val, start, p, P[P_NCOL], tk, tv, work)
            lg = 1
            while (1 << lg) < cnt:
                lg += 1
            buf = grow(buf, n, 1)
            n = emit_compute(buf, n, I_SORT * cnt * lg)
        buf = grow(buf, n, 2)
        if cnt > 0:
            n = emit_compute(buf, n, I_STORE_OUT * cnt)
            if hashed or P[P_SORTED] == 1:
                buf, n = emit_stream(buf, n, AD[AD_CIDX] + start * IDX_BYTES, cnt * IDX_BYTES, True, 0)
                if P[P_OUT] == OUT_VALUES:
                    buf, n = emit_stream(buf, n, AD[AD_CVAL] + start * VAL_BYTES, cnt * VAL_BYTES, True, 0)
        if P[P_OFFSETS] == 1:
            buf = grow(buf, n, 1)
            n = emit_store(buf, n, AD[AD_CEND] + i * PTR_BYTES, PTR_BYTES, 0)
        ptr[t + 1] = n
    return buf[:n], ptr


# ---- the program ----------------------------------------------------------------------------

KNOBS: dict[str, Knob] = {
    "accumulator": Knob("hash", "hash table or dense SPA", ("hash", "dense")),
    "distribution": Knob("dynamic", "static windows (one per thread) or dynamic tokens",
                         ("static", "dynamic")),
    "balance": Knob("rows", "static windows: equal row counts or equal flops (from the bounds "
                    "phase and its scan)", ("rows", "flops")),
    "granularity": Knob(1, "dynamic tokens: rows taken per fetch-add"),
    "token_scope": Knob("machine", "dynamic tokens: one queue per machine, die or core (split "
                        "by flops from the bounds phase)", ("machine", "die", "core")),
    "scope": Knob("row", "hash table: the thread's fixed slice, or a table sized for the row in "
                  "it", ("thread", "row")),
    "placement": Knob("spad", "tables / SPA in the scratchpad or in DRAM", ("spad", "dram")),
    "table_slots": Knob(0, "slots of each thread's table slice (0: its share of the scratchpad; "
                        "4096 in DRAM)"),
    "load_factor": Knob(2, "table slots >= load_factor x the row's size"),
    "hash": Knob("fibonacci", "hash function", tuple(HASH_FUNCTIONS)),
    "atomics": Knob(False, "claim keys by CAS and accumulate by atomic add (private tables: "
                    "nothing to synchronize)"),
    "sizes": Knob("bound", "rows' table sizes: min(row flops, n_col) counted by the task, or "
                  "exact nnz from a simulated symbolic phase", ("bound", "symbolic")),
    "writeback": Knob("unsorted", "write-back order of each row of C", ("unsorted", "sorted")),
    "offsets": Knob("atomic", "C's row offsets: a fetch-add per row (4-array CSR) or the "
                    "symbolic phase's scan (CSR)", ("atomic", "symbolic")),
    **B.PLACEMENT_KNOBS,
}

PRESETS: dict[str, dict] = {
    "rowwise-dense": dict(accumulator="dense", placement="dram"),
    "rowwise-hash": dict(accumulator="hash", scope="row", placement="dram"),
}

# The outer product's merge phase: a non-atomic hash accumulator, per-row tables.
KNOBS_DEFAULTS_FOR_MERGE = {**{k: v.default for k, v in KNOBS.items()},
                            "accumulator": "hash", "atomics": False, "scope": "row"}


class RowwiseState:
    """Regions, parameters and scratch of one row-wise run (also the outer product's merge and
    the symbolic phase). `c_start`: C's row pointers when offsets are symbolic; `sizes`: exact
    row nnz (host, and the DRAM base they were stored at) when sizes are symbolic."""

    def __init__(self, sim: Simulation, ops: B.Operands, knobs: dict, *, prefix: str, src: int,
                 pp: tuple | None = None, out: int = OUT_VALUES,
                 c_ptr: tuple[np.ndarray, int] | None = None,
                 sizes: tuple[np.ndarray, int] | None = None) -> None:
        cfg = sim.cfg
        n_row, n_col = ops.sym.shape
        self.n_row = n_row
        self.out = out
        self.a = B.csr_arrays(ops.A)
        self.b = B.csr_arrays(ops.B)
        flops = ops.sym.row_flops
        bound = np.minimum(flops, n_col)
        P = np.zeros(P_N, dtype=np.int64)
        P[P_ACC] = 1 if knobs["accumulator"] == "dense" else 0
        P[P_SCOPE] = 0 if knobs["scope"] == "thread" else 1
        P[P_ATOMIC] = 1 if knobs["atomics"] else 0
        P[P_HASH] = HASH_FUNCTIONS[knobs["hash"]]
        P[P_SORTED] = 1 if knobs["writeback"] == "sorted" and out == OUT_VALUES else 0
        P[P_OFFSETS] = 1 if knobs["offsets"] == "atomic" else 0
        P[P_LF] = max(1, int(knobs["load_factor"]))
        P[P_SRC] = src
        P[P_NCOL] = n_col
        P[P_NUMERIC] = 1 if out == OUT_VALUES else 0
        P[P_OUT] = out
        P[P_SIZES] = 1 if knobs["sizes"] == "symbolic" else 0
        if P[P_OFFSETS] == 0 and c_ptr is None and out != OUT_COUNT:
            raise ValueError("offsets=symbolic needs C's row pointers from the symbolic phase")
        if P[P_SIZES] == 1 and sizes is None:
            raise ValueError("sizes=symbolic needs the symbolic phase's row nnz")
        place_dram = knobs["placement"] == "dram" or cfg.spad.size_bytes == 0
        max_fit = int(hash_table_size(int(bound.max()) if n_row else 1, int(P[P_LF])))
        AD = np.zeros(AD_N, dtype=np.int64)
        opr = B.operand_regions(sim, ops, knobs["b_placement"])
        self.rows = rows = B.die_rows(sim, ops)     # the dies' row blocks (None on one die)
        for key, name in ((AD_APTR, "A.indptr"), (AD_AIDX, "A.indices"), (AD_AVAL, "A.data"),
                          (AD_BPTR, "B.indptr"), (AD_BIDX, "B.indices"), (AD_BVAL, "B.data")):
            AD[key] = opr[name]
        reg = lambda name, size, **kw: sim.dram_region(f"{prefix}{name}", size, **kw).base
        # C: 4-array with atomic offsets (sized for what rows claim), else CSR from the scan
        row_c = ops.sym.row_nnz if (P[P_ACC] == 0 or P[P_OFFSETS] == 0) else bound
        c_total = int(np.sum(row_c))
        self.c_start = np.zeros(max(n_row, 1), dtype=np.int64)
        self.c_end = np.zeros(max(n_row, 1), dtype=np.int64)
        self.calloc, c_cum = B.c_alloc(sim, rows, row_c)
        self.c_cum = c_cum                          # C's entries before each row (multi-die)
        rdie = B.split_at(rows, np.arange(n_row + 1), PTR_BYTES, B.nbytes(n_row, PTR_BYTES))
        cdie = lambda elem: B.split_at(rows, c_cum, elem, B.nbytes(c_total, elem))
        self.row_out = np.zeros(max(n_row, 1), dtype=np.int64)
        if out != OUT_COUNT:
            if P[P_OFFSETS] == 1:
                AD[AD_CSTART] = B.dram(sim, "C.rowstart", B.nbytes(n_row, PTR_BYTES),
                                       access_class="output", die=rdie)
                AD[AD_CEND] = B.dram(sim, "C.rowend", B.nbytes(n_row, PTR_BYTES),
                                     access_class="output", die=rdie)
                AD[AD_ALLOC] = B.alloc_region(sim, rows)
            else:
                self.c_start[:n_row] = c_ptr[0][:n_row]
                AD[AD_CSTART] = c_ptr[1]
            AD[AD_CIDX] = B.dram(sim, "C.indices", B.nbytes(c_total, IDX_BYTES), access_class="output",
                                 die=cdie(IDX_BYTES))
            if out == OUT_VALUES:
                AD[AD_CVAL] = B.dram(sim, "C.data", B.nbytes(c_total, VAL_BYTES), access_class="output",
                                     die=cdie(VAL_BYTES))
        self.c_total = c_total
        self.sizes_in = np.zeros(1, np.int64)
        if sizes is not None:
            self.sizes_in, AD[AD_SIZES] = sizes
        if out == OUT_COUNT:
            AD[AD_SIZES] = reg("nnz", B.nbytes(n_row, 8), access_class="stream")
        if pp is not None:
            self.pp_ptr, self.pp_col, self.pp_val, AD[AD_PP], AD[AD_PPPTR] = pp
        else:
            self.pp_ptr = np.zeros(1, np.int64)
            self.pp_col = np.zeros(1, np.int64)
            self.pp_val = np.zeros(1, np.float64)
        host_slots = max_fit
        if P[P_ACC] == 1:
            spa_bytes = max(n_col, 1) * 8
            thread_share = B.spad_free(sim) // max(cfg.core.threads, 1) - 64
            if not place_dram and spa_bytes <= thread_share:
                AD[AD_DENSE] = sim.spad_region(f"{prefix}spa", spa_bytes, per="thread").base
            else:
                AD[AD_DENSE] = reg("spa", spa_bytes, per="thread", access_class="random")
        else:
            if place_dram:
                slice_slots = B.pow2_floor(int(knobs["table_slots"]) or 4096)
                AD[AD_TAB] = reg("table", slice_slots * SLOT_BYTES, per="thread", access_class="random")
            else:
                free = B.spad_free(sim) - 4096
                share = free // cfg.core.threads // SLOT_BYTES
                slice_slots = B.pow2_floor(int(knobs["table_slots"]) or share)
                if slice_slots * SLOT_BYTES * cfg.core.threads > free:
                    raise ValueError(f"knob table_slots: {slice_slots} slots x {cfg.core.threads} "
                                     f"threads do not fit the scratchpad ({free} bytes free)")
                AD[AD_TAB] = sim.spad_region(f"{prefix}table", slice_slots * SLOT_BYTES, per="thread").base
            P[P_SLICE] = slice_slots
            host_slots = max(host_slots, slice_slots)
        spill = max(max_fit, int(P[P_SLICE]))
        AD[AD_SPILL] = reg("spill", spill * SLOT_BYTES, per="thread", access_class="random")
        self.P, self.AD = P, AD
        self.keys = np.full(max(host_slots, spill), EMPTY, dtype=np.int64)
        self.vals = np.zeros(max(host_slots, spill), dtype=np.float64)
        self.pos = np.zeros(max(n_col, 1), dtype=np.uint64)
        longest = max(int(bound.max()) if n_row else 1, max(host_slots, spill))
        self.tk = np.zeros(max(longest, 1), dtype=np.uint64)
        self.tv = np.zeros(max(longest, 1), dtype=np.float64)
        self.work = np.zeros(WORK_SIZE, dtype=np.int64)
        self.ct = np.zeros(B.CT_N, dtype=np.int64)
        self.c_idx = np.zeros(max(c_total, 1), dtype=np.int64)
        self.c_val = np.zeros(max(c_total, 1), dtype=np.float64)

    def generate(self, ids):
        return rowwise_generate(np.asarray(ids, dtype=np.int64), *self.a, *self.b, self.pp_ptr,
                                self.pp_col, self.pp_val, self.c_start, self.c_end, self.c_idx,
                                self.c_val, self.calloc, self.sizes_in, self.row_out, self.P,
                                self.AD, self.keys, self.vals, self.pos, self.tk, self.tv,
                                self.work, self.ct)

    def output(self, c_ptr: np.ndarray | None = None) -> KernelOutput:
        """C as 4-array CSR (atomic offsets) or CSR (`c_ptr`, symbolic offsets)."""
        n = self.n_row
        if self.P[P_OFFSETS] == 0:
            if not np.array_equal(self.c_end[:n], c_ptr[1:]):
                raise AssertionError("row-wise: rows did not fill C as the symbolic phase said")
            return KernelOutput(c_ptr, self.c_idx[:c_ptr[-1]], self.c_val[:c_ptr[-1]], self.ct)
        return KernelOutput(self.c_start[:n], self.c_idx, self.c_val, self.ct, c_end=self.c_end[:n])


def schedule_for(knobs: dict, cost: np.ndarray | None, rows: np.ndarray | None = None):
    """The rows phase's schedule. On a multi-die machine (`rows`: the dies' row blocks, where
    A's and C's rows live) a machine-wide token queue becomes one queue per die over its block,
    with stealing; per-core queues steal too."""
    if knobs["distribution"] == "static":
        return StaticWindows(cost=cost if knobs["balance"] == "flops" else None)
    chunk = max(1, int(knobs["granularity"]))
    if rows is not None and knobs["token_scope"] != "core":
        return B.row_tokens(rows, chunk)
    return DynamicTokens(chunk=chunk, scope=knobs["token_scope"],
                         cost=cost if knobs["token_scope"] != "machine" else None,
                         steal=rows is not None)


def needs_flop_cost(knobs: dict) -> bool:
    """Whether the schedule splits rows by flops (which the machine must compute first)."""
    if knobs["distribution"] == "static":
        return knobs["balance"] == "flops"
    return knobs["token_scope"] != "machine"


def prepare(sim: Simulation, ops: B.Operands, knobs: dict, *, cost: bool):
    """The phases a row-wise run needs before its own: the symbolic phase (exact nnz, for
    symbolic sizes or offsets) and the scan (C's row pointers; with `cost`, the bounds phase and
    the flop prefix a schedule splits rows by). Returns (c_ptr, sizes, flop cost) for
    RowwiseState (None where not needed)."""
    c_ptr = sizes = flop_cost = None
    arrays = []
    if knobs["sizes"] == "symbolic" or knobs["offsets"] == "symbolic":
        nnz, base = run_symbolic(sim, ops)
        sizes = (nnz, base)
        if knobs["offsets"] == "symbolic":
            arrays.append((nnz, base, "C.indptr"))
    if cost:
        bd = prep.run_bounds(sim, ops)
        arrays.append((bd.row_flops, bd.flops_base, "bounds.fptr"))
        flop_cost = bd.row_flops.astype(np.float64)
    if arrays:
        out = prep.run_scan(sim, arrays, extra_instructions=2 if cost else 0,
                            cuts=B.die_rows(sim, ops))
        if knobs["offsets"] == "symbolic":
            c_ptr = out[0]
    return c_ptr, (sizes if knobs["sizes"] == "symbolic" else None), flop_cost


def run_symbolic(sim: Simulation, ops: B.Operands) -> tuple[np.ndarray, int]:
    """The simulated symbolic phase: exact nnz of every row of C, by the row-wise program
    without values (a private hash set per row, dynamic tokens). Returns the counts (host) and
    the DRAM base they were stored at (`sym.nnz`)."""
    knobs = dict(KNOBS_DEFAULTS_FOR_MERGE, placement="spad")
    mark = sim.spad_mark()
    st = RowwiseState(sim, ops, knobs, prefix="sym.", src=0, out=OUT_COUNT)
    sim.run_phase(Phase("symbolic", st.n_row, st.generate, B.row_tokens(st.rows)))
    sim.spad_release(mark)           # the private tables are no longer needed
    counts = st.row_out[:st.n_row].copy()
    if not np.array_equal(counts, ops.sym.row_nnz):
        raise AssertionError("symbolic phase: row counts differ from the host's symbolic pass")
    return counts, int(st.AD[AD_SIZES])


def run_pattern(sim: Simulation, ops: B.Operands) -> RowwiseState:
    """The symbolic phase writing C's pattern (column indices; rows claimed by fetch-add,
    4-array CSR): the mask of the candidate inner product."""
    knobs = dict(KNOBS_DEFAULTS_FOR_MERGE, placement="spad", offsets="atomic")
    mark = sim.spad_mark()
    st = RowwiseState(sim, ops, knobs, prefix="mask.", src=0, out=OUT_PATTERN)
    sim.run_phase(Phase("symbolic", st.n_row, st.generate, B.row_tokens(st.rows)))
    sim.spad_release(mark)
    return st


def run_rowwise(sim: Simulation, ops: B.Operands, knobs: dict) -> KernelOutput:
    B.operand_regions(sim, ops, knobs["b_placement"])
    c_ptr, sizes, cost = prepare(sim, ops, knobs, cost=needs_flop_cost(knobs))
    st = RowwiseState(sim, ops, knobs, prefix="", src=0, c_ptr=None if c_ptr is None else c_ptr,
                      sizes=sizes)
    sim.run_phase(Phase("rows", st.n_row, st.generate, schedule_for(knobs, cost, st.rows)))
    return st.output(None if c_ptr is None else c_ptr[0])
