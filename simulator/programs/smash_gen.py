"""SMASH's task generators (numba): the traces of its tasks, executed functionally.

The host-side planning (windows, tasks, the fragment allocator's schedule) is in `smash`; the
task kinds, the window table and the parameter / region indices below are shared with it.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from simulator.machine.trace import (ATOMIC_ADD, ATOMIC_CAS, ATOMIC_FADD, ATOMIC_SWAP, DEP, NORET,
                                     OP_WIDTH, emit_atomic, emit_compute, emit_load, emit_store)
from simulator.programs.base import (CHUNK, claim_c, CT_CAS_RETRIES, CT_COLLISIONS, CT_FRAG_ALLOCS,
                                     CT_FRAG_FREES, CT_FRAG_WAITS, CT_LOCKS, CT_MULADDS, CT_NNZ,
                                     CT_PROBES, CT_SLOTS_SCANNED, CT_SPILLED_ENTRIES, CT_WINDOWS,
                                     I_MAC, I_NNZ_A, I_PROBE, I_ROW, I_SCAN, I_SCAN_ROW, I_SORT,
                                     I_STORE_OUT, I_WB, IDX_BYTES, LINE, PTR_BYTES, SLOT_BYTES,
                                     VAL_BYTES, emit_stream, grow)
from spgemm.accumulators import sort_pairs

# task kinds (TK[:, 0]) and their arguments (TK[:, 1:6])
K_INIT, K_INSERT, K_SCATTER, K_ROWEND, K_ALLOC, K_WB, K_SLICE, K_FREE = range(8)
#   INIT     window w's first task (shared): claim, C block, row cursors
#   INSERT   a=f0, b=f1 (global flop range), c=ra, d=rb (the rows it lies in)
#   SCATTER  a=s0, b=s1 (slots), c=0 table / 1 spill, d=spill rotation
#   ROWEND   a=ra, b=rb
#   ALLOC    a=a0, b=a1 (allocation attempts), c=1 if the window's first task
#   WB       a=i0, b=i1 (into the row list): small rows written back whole
#   SLICE    a=s0, b=s1 (slots of the row's fragment), c=row
#   FREE     a=i0, b=i1 (into the row list): large rows' ends and frees
TK_W = 6
GROUP = 4    # write-back scans: lines whose instructions are issued as one block
# window table (WIN[w, :])
# W_NEXT: the counter claiming it; W_HOST / W_SPILL: its host table row / spill tables row
W_R0, W_R1, W_SIZE, W_OVER, W_HOST, W_NEXT, W_SPILL, W_N = range(8)
# parameters
(P_NCOL, P_HASH, P_ATOMIC, P_MAXP, P_FRAG, P_S, P_SS, P_ATOMIC_OFFSETS, P_SORTED, P_DYNWIN,
 P_CUR_STRIDE, P_CUR_OFF, P_N) = range(13)
# region bases
(AD_APTR, AD_AIDX, AD_AVAL, AD_BPTR, AD_BIDX, AD_BVAL, AD_CSTART, AD_CEND, AD_CIDX, AD_CVAL,
 AD_CALLOC, AD_QCUM, AD_SIZES, AD_WIN, AD_NEXT, AD_TAB, AD_SPILL, AD_CUR, AD_N) = range(19)

_FIB = np.uint64(0x9E3779B97F4A7C15)
_S32 = np.uint64(32)


@njit(inline="always")
def home_slot(key, size, hash_id):
    """Home slot of `key` in a table of `size` slots (any size below 2^32): Fibonacci hashing
    (the top bits of key x 2^64/phi scaled to the size) or the key modulo the size. For a
    power-of-two size it equals spgemm.accumulators.hash_slot."""
    if hash_id == 0:
        return np.int64((((np.uint64(key) * _FIB) >> _S32) * np.uint64(size)) >> _S32)
    return key % size


@njit(cache=True)
def _find(hk, off, size, key, home, maxp):
    """Linear probing from `home` in hk[off:off + size]: (slot, probes, state); state 0 found,
    1 claimed (the key written), 2 none within maxp probes. Host tables hold key + 1 (0: an
    empty slot, so that a table is zeroed memory, resident only where written; `_HostTables`)."""
    s = home
    stored = key + 1
    for t in range(maxp):
        k = hk[off + s]
        if k == stored:
            return s, t + 1, 0
        if k == 0:
            hk[off + s] = stored
            return s, t + 1, 1
        s += 1
        if s == size:
            s = 0
    return -1, maxp, 2


@njit(cache=True)
def _emit_insert(buf, n, base, home, size, probes, slot, atomic, ct):
    """The operations of one insert: a claim per probe (CAS, or lock + release), then the
    accumulation in the final slot (atomic add, or load + store under the lock)."""
    s = home
    for t in range(probes):
        a = base + s * SLOT_BYTES
        if atomic:
            n = emit_atomic(buf, n, a, ATOMIC_CAS, DEP)
        else:
            n = emit_atomic(buf, n, a, ATOMIC_SWAP, DEP)
            ct[CT_LOCKS] += 1
            if s != slot:
                n = emit_store(buf, n, a, 8, 0)
        s += 1
        if s == size:
            s = 0
    if slot >= 0:
        a = base + slot * SLOT_BYTES
        if atomic:
            n = emit_atomic(buf, n, a + 8, ATOMIC_FADD, DEP | NORET)
        else:
            n = emit_load(buf, n, a + 8, VAL_BYTES, DEP)
            n = emit_store(buf, n, a, SLOT_BYTES, 0)
    return n


@njit(cache=True)
def _insert_chunk(buf, n, r, c0, c1, av, b_idx, b_val, P, AD, tab, size, hoff, hk, hv, over,
                  sbase, soff, sk, sv, ct):
    """Partial products (r, b_idx[c]) += av * b_val[c] for c in c0..c1 (at most CHUNK) into the
    row's table (functionally and as operations). Fragment tables are keyed by column, the
    shared table and the spill tables by row * n_col + column."""
    ncol = P[P_NCOL]
    hid = P[P_HASH]
    atomic = P[P_ATOMIC] == 1
    frag = P[P_FRAG] == 1
    maxp = min(P[P_MAXP], size) if over else size
    tot = 0
    m = c1 - c0
    for c in range(c0, c1):
        j = b_idx[c]
        key = j if frag else r * ncol + j
        home = home_slot(key, size, hid)
        slot, probes, state = _find(hk, hoff, size, key, home, maxp)
        tot += probes
        ct[CT_CAS_RETRIES] += probes - 1 if state != 2 else probes
        buf = grow(buf, n, 3 * probes + 8)
        n = _emit_insert(buf, n, tab, home, size, probes, slot, atomic, ct)
        v = av * b_val[c]
        if state == 1:
            hv[hoff + slot] = v
        elif state == 0:
            hv[hoff + slot] += v
        else:                                   # no slot within max_probes: spill the entry
            skey = r * ncol + j
            shome = home_slot(skey, P[P_SS], hid)
            ss, sp, sst = _find(sk, soff, P[P_SS], skey, shome, P[P_SS])
            if sst == 2:
                raise RuntimeError("spill table full")
            tot += sp
            ct[CT_CAS_RETRIES] += sp - 1
            if sst == 1:
                ct[CT_SPILLED_ENTRIES] += 1
                sv[soff + ss] = v
            else:
                sv[soff + ss] += v
            buf = grow(buf, n, 3 * sp + 8)
            n = _emit_insert(buf, n, sbase, shome, P[P_SS], sp, ss, atomic, ct)
    ct[CT_PROBES] += tot
    ct[CT_COLLISIONS] += tot - m
    buf = grow(buf, n, 1)
    n = emit_compute(buf, n, I_MAC * m + I_PROBE * tot)
    ct[CT_MULADDS] += m
    return buf, n


@njit(cache=True)
def _bsearch(buf, n, arr, addr0, lo, hi, x):
    """Last index i in [lo, hi) with arr[i] <= x (arr non-decreasing, arr[lo] <= x), emitting
    the dependent loads of arr[mid] a thread does to find it."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        buf = grow(buf, n, 2)
        n = emit_load(buf, n, addr0 + mid * 8, 8, DEP)
        if arr[mid] <= x:
            lo = mid
        else:
            hi = mid
    buf = grow(buf, n, 1)
    n = emit_compute(buf, n, 2)
    return buf, n, lo


@njit(cache=True)
def _row_table(r, w, WIN, P, AD, frag_off, frag_slots, frag_over):
    """(table base address, slots, host offset, overfull?) of row r's table in window w."""
    if P[P_FRAG] == 1:
        return (AD[AD_TAB] + frag_off[r] * SLOT_BYTES, frag_slots[r], frag_off[r],
                frag_over[r] == 1)
    return AD[AD_TAB], P[P_S], 0, WIN[w, W_OVER] == 1


@njit(cache=True)
def _task_insert(buf, n, t, TK, WIN, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, qcum,
                 frag_off, frag_slots, frag_over, frag_rot, hk, hv, sk, sv, P, AD, ct):
    w = TK[t, 3]
    f0 = TK[t, 1]
    f1 = TK[t, 2]
    ra = TK[t, 4]
    rb = TK[t, 5]
    h = WIN[w, W_HOST]
    hs = WIN[w, W_SPILL]
    r0 = WIN[w, W_R0]
    buf = grow(buf, n, 2)
    n = emit_compute(buf, n, I_ROW)
    n = emit_load(buf, n, AD[AD_WIN] + w * 16, 16, DEP)
    # where the chunk starts: the nonzero of A (prefix of B's row lengths), then its row
    buf, n, q = _bsearch(buf, n, qcum, AD[AD_QCUM], a_ptr[ra], a_ptr[rb], f0)
    buf, n, r = _bsearch(buf, n, a_ptr, AD[AD_APTR], ra, rb, q)
    buf = grow(buf, n, 1)
    n = emit_load(buf, n, AD[AD_APTR] + r * PTR_BYTES, 2 * PTR_BYTES, DEP)
    off = f0 - qcum[q]
    f = f0
    started = False
    tab = np.int64(0)
    size = np.int64(0)
    hoff = np.int64(0)
    over = False
    sbase = AD[AD_SPILL]
    soff = np.int64(0)
    while f < f1:
        while q >= a_ptr[r + 1]:
            r += 1
            started = False
            buf = grow(buf, n, 1)
            n = emit_load(buf, n, AD[AD_APTR] + (r + 1) * PTR_BYTES, PTR_BYTES, 0)
        if not started:
            tab, size, hoff, over = _row_table(r, w, WIN, P, AD, frag_off, frag_slots, frag_over)
            if P[P_FRAG] == 1:
                buf = grow(buf, n, 1)
                n = emit_load(buf, n, AD[AD_CUR] + (r - r0) * 16, 16, DEP)
                rot = frag_rot[r]
            else:
                rot = 0
            sbase = AD[AD_SPILL] + rot * P[P_SS] * SLOT_BYTES
            soff = rot * P[P_SS]
            started = True
        k = a_idx[q]
        av = a_val[q]
        buf = grow(buf, n, 4)
        n = emit_compute(buf, n, I_NNZ_A)
        n = emit_load(buf, n, AD[AD_AIDX] + q * IDX_BYTES, IDX_BYTES, 0)
        n = emit_load(buf, n, AD[AD_AVAL] + q * VAL_BYTES, VAL_BYTES, 0)
        n = emit_load(buf, n, AD[AD_BPTR] + k * PTR_BYTES, 2 * PTR_BYTES, DEP)
        b0 = b_ptr[k] + off
        b1 = min(b_ptr[k + 1], b0 + (f1 - f))
        for c0 in range(b0, b1, CHUNK):
            c1 = min(c0 + CHUNK, b1)
            buf = grow(buf, n, 2)
            n = emit_load(buf, n, AD[AD_BIDX] + c0 * IDX_BYTES, (c1 - c0) * IDX_BYTES, DEP)
            n = emit_load(buf, n, AD[AD_BVAL] + c0 * VAL_BYTES, (c1 - c0) * VAL_BYTES, 0)
            buf, n = _insert_chunk(buf, n, r, c0, c1, av, b_idx, b_val, P, AD, tab, size,
                                   hoff, hk[h], hv[h], over, sbase, soff, sk[hs], sv[hs], ct)
        f += b1 - b0
        off = 0
        q += 1
    return buf, n


@njit(cache=True)
def _gather(buf, n, base, hk, hv, hoff, s0, s1, out_idx, out_val, p, p_end, ct):
    """Scan slots s0..s1 of a table (line by line), move its entries to out_* from p (up to
    p_end: an entry past it is an error, raised before it is written), clear the slots; emits
    the line loads and the clearing stores. Returns (buf, n, p)."""
    per = LINE // SLOT_BYTES
    for ls in range(s0, s1, per):
        le = min(ls + per, s1)
        buf = grow(buf, n, 3)
        if (ls - s0) % (GROUP * per) == 0:      # the scan's instructions, GROUP lines at a time
            n = emit_compute(buf, n, I_SCAN * (min(ls + GROUP * per, s1) - ls))
        n = emit_load(buf, n, base + ls * SLOT_BYTES, (le - ls) * SLOT_BYTES, 0)
        dirty = False
        for s in range(ls, le):
            key = hk[hoff + s]
            if key != 0:
                if p >= p_end:
                    raise AssertionError("smash: a table holds more entries than their place "
                                         "in C (the symbolic pass's row size)")
                out_idx[p] = key - 1
                out_val[p] = hv[hoff + s]
                p += 1
                hk[hoff + s] = 0
                dirty = True
        if dirty:
            n = emit_store(buf, n, base + ls * SLOT_BYTES, (le - ls) * SLOT_BYTES, 0)
    ct[CT_SLOTS_SCANNED] += s1 - s0
    return buf, n, p


@njit(cache=True, inline="always")
def _host_at(r, pos, cnt, c_start, c_host):
    """Where C's entries pos..pos+cnt of row r (simulated positions, from the row's claimed
    start c_start[r]) are on the host: the host arrays hold each row at its exact place
    c_host[r]..c_host[r + 1] (C's row pointers from the host's symbolic pass), not at the
    simulated layout, whose rows may claim more room than they fill (bound sizes)."""
    hp = c_host[r] + pos - c_start[r]
    if hp + cnt > c_host[r + 1]:
        raise AssertionError("smash: a row of C holds more entries than the symbolic pass said")
    return hp


@njit(cache=True)
def _task_scatter(buf, n, t, TK, WIN, c_start, c_cur, c_host, c_idx, c_val, hk, hv, sk, sv, P,
                  AD, ct):
    """Write-back of a slice of a row-tagged table (the shared table or a spill table): per
    entry a fetch-add on its row's cursor, the entry stored to C, the slot cleared."""
    w = TK[t, 3]
    if TK[t, 4] == 0:
        return _scatter(buf, n, TK[t, 1], TK[t, 2], WIN[w, W_R0], AD[AD_TAB], hk[WIN[w, W_HOST]],
                        hv[WIN[w, W_HOST]], 0, c_start, c_cur, c_host, c_idx, c_val, P, AD, ct)
    sh = WIN[w, W_SPILL]      # the spill tables' keys may be wider than the table's: a call each
    return _scatter(buf, n, TK[t, 1], TK[t, 2], WIN[w, W_R0],
                    AD[AD_SPILL] + TK[t, 5] * P[P_SS] * SLOT_BYTES, sk[sh], sv[sh],
                    TK[t, 5] * P[P_SS], c_start, c_cur, c_host, c_idx, c_val, P, AD, ct)


@njit(cache=True)
def _scatter(buf, n, s0, s1, r0, base, keys, vals, off, c_start, c_cur, c_host, c_idx, c_val,
             P, AD, ct):
    """`_task_scatter` of slots s0..s1 of the table keys/vals[off:] at address `base`."""
    ncol = P[P_NCOL]
    per = LINE // SLOT_BYTES
    stride = P[P_CUR_STRIDE]
    for ls in range(s0, s1, per):
        le = min(ls + per, s1)
        buf = grow(buf, n, 3 + 3 * per)
        if (ls - s0) % (GROUP * per) == 0:      # instructions for GROUP lines at a time
            ge = min(ls + GROUP * per, s1)
            occupied = 0
            for s in range(ls, ge):
                if keys[off + s] != 0:
                    occupied += 1
            n = emit_compute(buf, n, I_SCAN * (ge - ls) + I_WB * occupied)
        n = emit_load(buf, n, base + ls * SLOT_BYTES, (le - ls) * SLOT_BYTES, 0)
        dirty = False
        for s in range(ls, le):
            key = keys[off + s] - 1
            if key < 0:
                continue
            r = key // ncol
            pos = c_cur[r]
            c_cur[r] = pos + 1
            hp = _host_at(r, pos, 1, c_start, c_host)
            c_idx[hp] = key - r * ncol
            c_val[hp] = vals[off + s]
            keys[off + s] = 0
            dirty = True
            ct[CT_NNZ] += 1
            n = emit_atomic(buf, n, AD[AD_CUR] + (r - r0) * stride + P[P_CUR_OFF], ATOMIC_ADD, DEP)
            n = emit_store(buf, n, AD[AD_CIDX] + pos * IDX_BYTES, IDX_BYTES, DEP)
            n = emit_store(buf, n, AD[AD_CVAL] + pos * VAL_BYTES, VAL_BYTES, 0)
        if dirty:
            n = emit_store(buf, n, base + ls * SLOT_BYTES, (le - ls) * SLOT_BYTES, 0)
    ct[CT_SLOTS_SCANNED] += s1 - s0
    return buf, n


@njit(cache=True)
def _sort_cost(buf, n, cnt):
    lg = 1
    while (1 << lg) < cnt:
        lg += 1
    buf = grow(buf, n, 1)
    return buf, emit_compute(buf, n, I_SORT * cnt * lg)


@njit(cache=True)
def _finish_row(buf, n, r, c_start, c_cur, c_end, c_host, c_idx, c_val, P, AD, tk, tv, work,
                reload, store_end):
    """A row's end: c_end from its cursor, stored when `store_end` (4-array C); with sorted
    write-back the row is sorted (re-read from C first when `reload`, then stored back)."""
    c_end[r] = c_cur[r]
    start = c_start[r]
    cnt = c_cur[r] - start
    if P[P_SORTED] == 1 and cnt > 1:
        if reload:
            buf, n = emit_stream(buf, n, AD[AD_CIDX] + start * IDX_BYTES, cnt * IDX_BYTES, False, DEP)
            buf, n = emit_stream(buf, n, AD[AD_CVAL] + start * VAL_BYTES, cnt * VAL_BYTES, False, 0)
        hp = _host_at(r, start, cnt, c_start, c_host)
        sort_pairs(c_idx, c_val, hp, hp + cnt, P[P_NCOL], tk, tv, work)
        buf, n = _sort_cost(buf, n, cnt)
        if reload:
            buf, n = emit_stream(buf, n, AD[AD_CIDX] + start * IDX_BYTES, cnt * IDX_BYTES, True, 0)
            buf, n = emit_stream(buf, n, AD[AD_CVAL] + start * VAL_BYTES, cnt * VAL_BYTES, True, 0)
    if store_end and P[P_ATOMIC_OFFSETS] == 1:
        buf = grow(buf, n, 1)
        n = emit_store(buf, n, AD[AD_CEND] + r * PTR_BYTES, PTR_BYTES, 0)
    return buf, n


@njit(cache=True)
def _task_init(buf, n, t, TK, WIN, size, c_start, c_cur, c_end, calloc, P, AD, ct):
    """Shared table, a window's first task: claim it (dynamic windows), take C's block for its
    rows (atomic offsets) or read their offsets, set the rows' cursors in the scratchpad."""
    w = TK[t, 3]
    r0 = WIN[w, W_R0]
    r1 = WIN[w, W_R1]
    nr = r1 - r0
    ct[CT_WINDOWS] += 1
    buf = grow(buf, n, 4)
    n = emit_compute(buf, n, I_ROW)
    if P[P_DYNWIN] == 1:
        n = emit_atomic(buf, n, WIN[w, W_NEXT], ATOMIC_ADD, DEP)
    n = emit_load(buf, n, AD[AD_WIN] + w * 16, 16, DEP)
    if P[P_ATOMIC_OFFSETS] == 1:
        buf, n = emit_stream(buf, n, AD[AD_SIZES] + r0 * 8, nr * 8, False, DEP)
        buf = grow(buf, n, 2)
        n = emit_compute(buf, n, I_SCAN_ROW * nr)
        at, base = claim_c(calloc, r0, WIN[w, W_SIZE])
        n = emit_atomic(buf, n, AD[AD_CALLOC] + at, ATOMIC_ADD, DEP)
        for r in range(r0, r1):
            c_start[r] = base
            base += size[r]
        buf, n = emit_stream(buf, n, AD[AD_CSTART] + r0 * PTR_BYTES, nr * PTR_BYTES, True, 0)
    else:
        buf, n = emit_stream(buf, n, AD[AD_CSTART] + r0 * PTR_BYTES, (nr + 1) * PTR_BYTES, False, DEP)
    for r in range(r0, r1):
        c_cur[r] = c_start[r]
    buf, n = emit_stream(buf, n, AD[AD_CUR], nr * 8, True, 0)
    return buf, n


@njit(cache=True)
def _task_rowend(buf, n, t, TK, WIN, c_start, c_cur, c_end, c_host, c_idx, c_val, P, AD, tk, tv,
                 work):
    w = TK[t, 3]
    ra = TK[t, 1]
    rb = TK[t, 2]
    r0 = WIN[w, W_R0]
    buf, n = emit_stream(buf, n, AD[AD_CUR] + (ra - r0) * 8, (rb - ra) * 8, False, 0)
    buf = grow(buf, n, 1)
    n = emit_compute(buf, n, I_SCAN_ROW * (rb - ra))
    for r in range(ra, rb):             # the ends are stored below as one stream
        buf, n = _finish_row(buf, n, r, c_start, c_cur, c_end, c_host, c_idx, c_val, P, AD, tk,
                             tv, work, True, False)
    if P[P_ATOMIC_OFFSETS] == 1:
        buf, n = emit_stream(buf, n, AD[AD_CEND] + ra * PTR_BYTES, (rb - ra) * PTR_BYTES, True, 0)
    return buf, n


@njit(cache=True)
def _task_alloc(buf, n, t, TK, WIN, size, frag_slots, c_start, c_cur, c_end, calloc, att_row,
                att_ok, att_ptr, aops, P, AD, ct):
    """Fragments: allocation attempts a0..a1 (the allocator's planned operations), C's block
    for the rows that got a fragment, their descriptors (fragment, cursor) in the scratchpad."""
    w = TK[t, 3]
    a0 = TK[t, 1]
    a1 = TK[t, 2]
    r0 = WIN[w, W_R0]
    buf = grow(buf, n, 4)
    n = emit_compute(buf, n, I_ROW)
    if TK[t, 4] == 1:
        ct[CT_WINDOWS] += 1
        if P[P_DYNWIN] == 1:
            n = emit_atomic(buf, n, WIN[w, W_NEXT], ATOMIC_ADD, DEP)
        n = emit_load(buf, n, AD[AD_WIN] + w * 16, 16, DEP)
    base = np.int64(0)
    if P[P_ATOMIC_OFFSETS] == 1:
        tot = 0
        for a in range(a0, a1):
            if att_ok[a] == 1:
                tot += size[att_row[a]]
        if tot > 0:
            at, base = claim_c(calloc, r0, tot)
            n = emit_atomic(buf, n, AD[AD_CALLOC] + at, ATOMIC_ADD, DEP)
    for a in range(a0, a1):
        r = att_row[a]
        k = att_ptr[a + 1] - att_ptr[a]
        buf = grow(buf, n, k + 6)
        buf[n:n + k] = aops[att_ptr[a]:att_ptr[a + 1]]
        n += k
        if att_ok[a] == 0:
            ct[CT_FRAG_WAITS] += 1
            continue
        if frag_slots[r] > 0:
            ct[CT_FRAG_ALLOCS] += 1
        if P[P_ATOMIC_OFFSETS] == 1:
            c_start[r] = base
            base += size[r]
            n = emit_store(buf, n, AD[AD_CSTART] + r * PTR_BYTES, PTR_BYTES, 0)
        else:
            n = emit_load(buf, n, AD[AD_CSTART] + r * PTR_BYTES, PTR_BYTES, 0)
        c_cur[r] = c_start[r]
        n = emit_store(buf, n, AD[AD_CUR] + (r - r0) * 16, 16, 0)
        if frag_slots[r] == 0:
            c_end[r] = c_start[r]
            if P[P_ATOMIC_OFFSETS] == 1:
                n = emit_store(buf, n, AD[AD_CEND] + r * PTR_BYTES, PTR_BYTES, 0)
    return buf, n


@njit(cache=True)
def _emit_free(buf, n, r, fops_ptr, fops, ct):
    k = fops_ptr[r + 1] - fops_ptr[r]
    buf = grow(buf, n, k)
    buf[n:n + k] = fops[fops_ptr[r]:fops_ptr[r + 1]]
    ct[CT_FRAG_FREES] += 1
    return buf, n + k


@njit(cache=True)
def _task_wb(buf, n, t, TK, WIN, rowlist, frag_off, frag_slots, c_start, c_cur, c_end, c_host,
             c_idx, c_val, hk, hv, fops_ptr, fops, P, AD, tk, tv, work, ct):
    """Fragments: small rows written back whole (scan, store the row, clear), then freed."""
    w = TK[t, 3]
    h = WIN[w, W_HOST]
    r0 = WIN[w, W_R0]
    for i in range(TK[t, 1], TK[t, 2]):
        r = rowlist[i]
        buf = grow(buf, n, 2)
        n = emit_compute(buf, n, I_ROW)
        n = emit_load(buf, n, AD[AD_CUR] + (r - r0) * 16, 16, DEP)
        start = c_cur[r]
        hp = _host_at(r, start, 0, c_start, c_host)
        buf, n, p = _gather(buf, n, AD[AD_TAB] + frag_off[r] * SLOT_BYTES, hk[h], hv[h],
                            frag_off[r], 0, frag_slots[r], c_idx, c_val, hp, c_host[r + 1], ct)
        cnt = p - hp
        c_cur[r] = start + cnt
        ct[CT_NNZ] += cnt
        buf, n = _finish_row(buf, n, r, c_start, c_cur, c_end, c_host, c_idx, c_val, P, AD, tk,
                             tv, work, False, True)
        buf = grow(buf, n, 1)
        n = emit_compute(buf, n, I_STORE_OUT * cnt)
        buf, n = emit_stream(buf, n, AD[AD_CIDX] + start * IDX_BYTES, cnt * IDX_BYTES, True, 0)
        buf, n = emit_stream(buf, n, AD[AD_CVAL] + start * VAL_BYTES, cnt * VAL_BYTES, True, 0)
        buf, n = _emit_free(buf, n, r, fops_ptr, fops, ct)
    return buf, n


@njit(cache=True)
def _task_slice(buf, n, t, TK, WIN, frag_off, c_start, c_cur, c_host, c_idx, c_val, hk, hv, tk,
                tv, P, AD, ct):
    """Fragments: a slice of a large row's fragment: scan, a fetch-add on the row's cursor for
    the slice's place in C, the entries stored, the slots cleared."""
    w = TK[t, 3]
    r = TK[t, 4]
    h = WIN[w, W_HOST]
    r0 = WIN[w, W_R0]
    buf = grow(buf, n, 2)
    n = emit_compute(buf, n, I_ROW)
    n = emit_load(buf, n, AD[AD_CUR] + (r - r0) * 16, 16, DEP)
    buf, n, cnt = _gather(buf, n, AD[AD_TAB] + frag_off[r] * SLOT_BYTES, hk[h], hv[h],
                          frag_off[r], TK[t, 1], TK[t, 2], tk, tv, 0, tk.size, ct)
    if cnt > 0:
        pos = c_cur[r]
        c_cur[r] = pos + cnt
        hp = _host_at(r, pos, cnt, c_start, c_host)
        for e in range(cnt):
            c_idx[hp + e] = np.int64(tk[e])
            c_val[hp + e] = tv[e]
        ct[CT_NNZ] += cnt
        buf = grow(buf, n, 2)
        n = emit_atomic(buf, n, AD[AD_CUR] + (r - r0) * 16 + 8, ATOMIC_ADD, DEP)
        n = emit_compute(buf, n, I_STORE_OUT * cnt)
        buf, n = emit_stream(buf, n, AD[AD_CIDX] + pos * IDX_BYTES, cnt * IDX_BYTES, True, DEP)
        buf, n = emit_stream(buf, n, AD[AD_CVAL] + pos * VAL_BYTES, cnt * VAL_BYTES, True, 0)
    return buf, n


@njit(cache=True)
def _task_free(buf, n, t, TK, WIN, rowlist, c_start, c_cur, c_end, c_host, c_idx, c_val, fops_ptr,
               fops, P, AD, tk, tv, work, ct):
    """Fragments: large rows after their slices: the row's end from its cursor, free."""
    w = TK[t, 3]
    r0 = WIN[w, W_R0]
    for i in range(TK[t, 1], TK[t, 2]):
        r = rowlist[i]
        buf = grow(buf, n, 2)
        n = emit_compute(buf, n, I_ROW)
        n = emit_load(buf, n, AD[AD_CUR] + (r - r0) * 16, 16, DEP)
        buf, n = _finish_row(buf, n, r, c_start, c_cur, c_end, c_host, c_idx, c_val, P, AD, tk,
                             tv, work, True, True)
        buf, n = _emit_free(buf, n, r, fops_ptr, fops, ct)
    return buf, n


@njit(cache=True)
def smash_generate(ids, TK, WIN, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, qcum, size,
                   c_start, c_cur, c_end, c_host, c_idx, c_val, calloc, hk, hv, sk, sv, frag_off,
                   frag_slots, frag_over, frag_rot, rowlist, att_row, att_ok, att_ptr, aops,
                   fops_ptr, fops, tk, tv, work, P, AD, ct):
    """Traces of SMASH tasks `ids` (see the task kinds above), executing them functionally.

    TK int32 or int64[n_tasks, 6] tasks; WIN int64[n_windows, W_N] windows (W_HOST, W_SPILL: the host table
    row and spill tables row of each window in flight); qcum int64[nnz(A) + 1] prefix over A's nonzeros of the lengths of
    the rows of B they select (bounds phase); size int64[n_row] rows' sizes; c_* C (start, cursor,
    end per row in the simulated layout; c_host: each row's place in the host arrays, C's exact
    row pointers; indices, values); calloc int64[dies, 2] C's allocation counters (`base.c_alloc`); hk/hv, sk/sv host
    tables [rows, slots] (the core's table or pool, its spill tables; keys stored + 1, 0 empty,
    int32 or int64); frag_* per row:
    fragment offset, slots, overfull flag, spill rotation; rowlist rows of WB/FREE tasks;
    att_* / aops allocation attempts and their operations; fops_ptr/fops each row's free
    operations; tk/tv/work sort scratch; ct counters (accumulated)."""
    buf = np.zeros((4096 + 64 * ids.size, OP_WIDTH), dtype=np.int64)
    ptr = np.zeros(ids.size + 1, dtype=np.int64)
    n = 0
    for i in range(ids.size):
        t = ids[i]
        kind = TK[t, 0]
        if kind == K_INSERT:
            buf, n = _task_insert(buf, n, t, TK, WIN, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val,
                                  qcum, frag_off, frag_slots, frag_over, frag_rot, hk, hv,
                                  sk, sv, P, AD, ct)
        elif kind == K_SCATTER:
            buf, n = _task_scatter(buf, n, t, TK, WIN, c_start, c_cur, c_host, c_idx, c_val, hk, hv,
                                   sk, sv, P, AD, ct)
        elif kind == K_INIT:
            buf, n = _task_init(buf, n, t, TK, WIN, size, c_start, c_cur, c_end, calloc, P, AD, ct)
        elif kind == K_ROWEND:
            buf, n = _task_rowend(buf, n, t, TK, WIN, c_start, c_cur, c_end, c_host, c_idx, c_val,
                                  P, AD, tk, tv, work)
        elif kind == K_ALLOC:
            buf, n = _task_alloc(buf, n, t, TK, WIN, size, frag_slots, c_start, c_cur, c_end,
                                 calloc, att_row, att_ok, att_ptr, aops, P, AD, ct)
        elif kind == K_WB:
            buf, n = _task_wb(buf, n, t, TK, WIN, rowlist, frag_off, frag_slots, c_start, c_cur,
                              c_end, c_host, c_idx, c_val, hk, hv, fops_ptr, fops, P, AD, tk, tv,
                              work, ct)
        elif kind == K_SLICE:
            buf, n = _task_slice(buf, n, t, TK, WIN, frag_off, c_start, c_cur, c_host, c_idx,
                                 c_val, hk, hv, tk, tv, P, AD, ct)
        else:
            buf, n = _task_free(buf, n, t, TK, WIN, rowlist, c_start, c_cur, c_end, c_host, c_idx,
                                c_val, fops_ptr, fops, P, AD, tk, tv, work, ct)
        ptr[i + 1] = n
    return buf[:n], ptr


