"""The event-driven timing engine (numba). Private: use `simulator.machine.Simulation`.

Time is a float64 count of cycles. There is no per-cycle loop. The engine keeps a binary heap of
pipelines keyed by (time of their next issue, seq); the earliest pipeline issues one instruction
from the first of its threads, in round-robin order, that can act by then, and the thread's next
possible time is computed at once (its dependences, its outstanding-operation window). Every
resource is a FCFS queueing server with a next-free time: a request arriving at t starts at
max(t, next_free), holds the server for its occupancy, and completes after its latency. A memory
operation asks the servers on its path in turn (network, scratchpad port and bank, cache, DRAM
channel, atomic unit, inter-die link) and gets its completion time.

All state lives in numpy arrays owned by the Python `Simulation`; the layouts are the constants
below. `run_engine` returns to Python when a task queue needs refilling (lazily generated
traces), when a thread needs the next rows of its task's trace (held on disk to bound memory,
see `simulator.machine.arena`), when the phase is over, or on an invalid operation.

Performance note: numba reference-counts every array passed to a helper function, which costs
~20 ns per call with many arrays. The per-operation path is therefore written out in one
function body (`run_engine`); helpers on it take scalars only. Rare paths (inter-die links,
barrier release, heap rebuild) are ordinary functions.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from simulator.machine.trace import (ATOMIC, BARRIER, COMPUTE, DEP, DMA_COPY, DMA_GATHER, DMA_WAIT,
                                     FENCE, LOAD, NORET, STORE, WAIT)

# ---- static integer parameters (pi) -------------------------------------------------------------
(P_NT, P_NC, P_CPD, P_TPC, P_PPC, P_DIES, P_CHPD, P_NCH, P_GRAN_SHIFT, P_ILV_SHIFT, P_BANKS,
 P_BANKW_SHIFT, P_SETS, P_WAYS, P_LSHIFT, P_LINE, P_LINKS, P_DMAQ, P_MAXOUT, P_BYPASS, P_NREG,
 P_HAS_CACHE, P_O_PIPE, P_O_PORT, P_O_BANK, P_O_CH, P_O_MA, P_O_DMA, P_O_LINK, P_NCH_MASK,
 P_CHPD_MASK, P_CHPD_SHIFT, P_BANKS_MASK, P_SETS_MASK, P_N) = range(35)
# ---- static float parameters (pf) ---------------------------------------------------------------
(F_SPAD_LAT, F_PORT_OCC, F_BANK_OCC, F_CACHE_LAT, F_DRAM_LAT, F_CH_CPB, F_SA_LAT, F_SA_OCC,
 F_MA_LAT, F_MA_OCC, F_DMA_CPB, F_DMA_SETUP, F_HOP, F_LINK_CPB, F_LINK_LAT, F_BARRIER, F_HORIZON,
 F_N) = range(18)
# ---- regions (reg rows) -------------------------------------------------------------------------
RG_KIND, RG_BASE, RG_SIZE, RG_CLS, RG_DIE, RG_CORE, RG_SLICE, RG_PER, RG_N = range(9)
K_DRAM, K_SPAD = 0, 1
DIE_ALL, DIE_LOCAL = -1, -2          # RG_DIE: interleave over all dies / the executing thread's die
CORE_LOCAL = -1                      # RG_CORE: the executing thread's core
PER_NONE, PER_THREAD, PER_CORE = 0, 1, 2
# ---- threads ------------------------------------------------------------------------------------
(TI_PC, TI_END, TI_STATE, TI_CORE, TI_DIE, TI_PIPE, TI_LOCAL, TI_QUEUE, TI_TASK, TI_BAR,
 TI_CREDIT, TI_TASKS, TI_LCORE, TI_EPOCH, TI_RESUME, TI_MORE, TI_N) = range(17)
# TI_EPOCH: the stage of its queue the thread is in (a core barrier separates stages);
# TI_RESUME: the state a thread returns to when its barrier releases (ST_RUN or ST_NEED);
# TI_MORE: non-zero when the task's trace goes on beyond TI_END (held back by the Python side
# to bound memory); ops[TI_END] is then a copy of the next row, so the thread's next-action
# time is the same as if the rest were there, and the engine returns RET_SEGMENT to get it
TF_READY, TF_LAST, TF_ALL, TF_DMA, TF_BUSY, TF_TSTART, TF_FINISH, TF_STALL, TF_N = range(9)
ST_OFF, ST_RUN, ST_NEED, ST_BARRIER, ST_DONE = range(5)
# ---- task queues --------------------------------------------------------------------------------
QI_HEAD, QI_COUNT, QI_CAP, QI_OFF, QI_EXHAUSTED, QI_TOKEN, QI_EPOCH, QI_WEND, QI_N = range(9)
# QI_EPOCH: stage number of the last task put in the queue; QI_WEND: 1 when the queue's window is
# all generated and the next one is taken only after the core's barrier (dynamic windows)
QT_TASK, QT_START, QT_END, QT_EPOCH, QT_MORE, QT_N = range(6)   # QT_MORE: as TI_MORE
# ---- scalars (sc) -------------------------------------------------------------------------------
SC_HEAP_N, SC_SEQ, SC_RET, SC_ARG, SC_ERR, SC_ERR_TID, SC_ERR_PC, SC_STAMP, SC_N = range(9)
RET_DONE, RET_REFILL, RET_ERROR, RET_SEGMENT = 0, 1, 2, 3
ERR_NONE, ERR_REGION, ERR_BOUNDS, ERR_OPCODE, ERR_SIZE, ERR_ENGINE = 0, 1, 2, 3, 4, 5
# ---- counters (cnt: int64, cntf: float64, cls_cnt: per access class) ----------------------------
(C_OPS, C_INSTR, C_LOADS, C_STORES, C_ATOMICS, C_SPAD_ATOMICS, C_MC_ATOMICS, C_TOKEN_ATOMICS,
 C_LOAD_BYTES, C_STORE_BYTES, C_ATOMIC_BYTES, C_DMA_OPS, C_DMA_BYTES, C_SPAD_READS, C_SPAD_WRITES,
 C_SPAD_RD_BYTES, C_SPAD_WR_BYTES, C_DRAM_RD_USEFUL, C_DRAM_RD_XFER, C_DRAM_WR_USEFUL,
 C_DRAM_WR_XFER, C_DRAM_WB_USEFUL, C_DRAM_REQS, C_CACHE_RD_HIT_BYTES, C_CACHE_WR_BYTES,
 C_NET_BYTES, C_LINK_BYTES, C_BARRIERS, C_TASKS, C_WRITEBACKS, C_REMOTE_SPAD, C_REMOTE_DIE,
 C_N) = range(33)
CF_ATOMIC_STALL, CF_DRAM_QUEUE, CF_SPAD_QUEUE, CF_DMA_STALL, CF_LINK_QUEUE, CF_N = range(6)
CL_HITS, CL_MISSES, CL_BYPASS, CL_N = range(4)
# per DRAM region (reg_cnt[region id, column]): the DRAM byte totals above, split by region
RB_RD_USEFUL, RB_RD_XFER, RB_WR_USEFUL, RB_WR_XFER, RB_N = range(5)
# ---- barriers (bar_i rows: 0 = phase, 1 + core = that core) -------------------------------------
BI_ARRIVED, BI_ACTIVE, BI_N = range(3)
# ---- cache ways (ctag[row, way, field]) ---------------------------------------------------------
CW_TAG, CW_STAMP, CW_DIRTY, CW_CH, CW_RID, CW_N = range(6)   # CW_RID: the line's region
# ---- DRAM request scratch (dq_i rows) -----------------------------------------------------------
DQ_CH, DQ_USEFUL, DQ_XFER, DQ_WRITE, DQ_ROW, DQ_WAY, DQ_RID, DQ_N = range(8)
DQ_CAP = 64                          # a request touches at most this many granules / lines

INF = 1e300


# ================================================================================================
# Scalar helpers (no arrays: free to call)

@intrinsic
def _prefetch(typingctx, addr):
    """Hint the CPU to fetch the cache line at byte address `addr` (llvm.prefetch, no fault)."""
    sig = types.void(types.intp)

    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        builder.call(fn, [builder.inttoptr(args[0], i8p), ir.Constant(i32, 0), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return sig, codegen


@njit(inline="always")
def _mod(x, n, mask):
    return x & mask if mask >= 0 else x % n


@njit(inline="always")
def _div(x, n, shift):
    return x >> shift if shift >= 0 else x // n


@njit(inline="always")
def _before(t1, s1, t2, s2):
    return t1 < t2 or (t1 == t2 and s1 < s2)


# ================================================================================================
# Rare paths (ordinary functions)

@njit
def _link(pi, pf, die_hops, free, cnt, cntf, t, src_die, dst_die, nbytes):
    """Data crossing from src_die to dst_die: one egress link of src_die, then hop latency."""
    cnt[C_LINK_BYTES] += nbytes
    occ = nbytes * pf[F_LINK_CPB]
    idx = pi[P_O_LINK] + src_die * pi[P_LINKS] + dst_die % pi[P_LINKS]
    s = free[idx]
    if t > s:
        s = t
    free[idx] = s + occ
    cntf[CF_LINK_QUEUE] += s - t
    return s + occ + die_hops[src_die, dst_die] * pf[F_LINK_LAT]


@njit
def _sift_down(hp_t, hp_i, n, i):
    t = hp_t[i]
    s = hp_i[i, 0]
    x = hp_i[i, 1]
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and _before(hp_t[c + 1], hp_i[c + 1, 0], hp_t[c], hp_i[c, 0]):
            c += 1
        if _before(hp_t[c], hp_i[c, 0], t, s):
            hp_t[i] = hp_t[c]
            hp_i[i, 0] = hp_i[c, 0]
            hp_i[i, 1] = hp_i[c, 1]
            i = c
        else:
            break
    hp_t[i] = t
    hp_i[i, 0] = s
    hp_i[i, 1] = x


@njit
def _pipe_key(eff, free, opipe, pipe_first, pipe_n, p):
    """Next event of pipeline p: its earliest thread, but not before its issue slot is free."""
    m = INF
    f = pipe_first[p]
    for k in range(f, f + pipe_n[p]):
        if eff[k] < m:
            m = eff[k]
    if m >= INF:
        return INF
    return m if m > free[opipe + p] else free[opipe + p]


@njit
def heap_rebuild(pi, eff, free, pipe_first, pipe_n, hp_t, hp_i, sc):
    """Recompute every pipeline key in the heap and heapify (phase start, barrier release)."""
    n = sc[SC_HEAP_N]
    opipe = pi[P_O_PIPE]
    for i in range(n):
        hp_t[i] = _pipe_key(eff, free, opipe, pipe_first, pipe_n, hp_i[i, 1])
        hp_i[i, 0] = sc[SC_SEQ]
        sc[SC_SEQ] += 1
    for i in range(n // 2 - 1, -1, -1):
        _sift_down(hp_t, hp_i, n, i)


@njit
def thread_eff(pi, th_i, th_f, ring, dring, dma_i, ops, tid):
    """Earliest time thread tid can take its next action: its ready time, later if that action
    depends on a load (DEP), on all its memory operations (FENCE, WAIT), on its DMAs (DMA_WAIT),
    or needs an outstanding-operation slot while all are taken (a slot frees when its own
    operation completes, in any order). INF when it has no action.
    (`run_engine` has the same logic written out on its hot path.)"""
    st = th_i[tid, TI_STATE]
    t = th_f[tid, TF_READY]
    if st == ST_NEED:
        return t
    if st != ST_RUN:
        return INF
    pc = th_i[tid, TI_PC]
    if pc >= th_i[tid, TI_END] and th_i[tid, TI_MORE] == 0:
        return t
    w0 = ops[pc, 0]
    code = w0 & 0xFF
    flags = (w0 >> 8) & 0xFF
    if flags & DEP and th_f[tid, TF_LAST] > t:
        t = th_f[tid, TF_LAST]
    if flags & FENCE and th_f[tid, TF_ALL] > t:
        t = th_f[tid, TF_ALL]
    if code == LOAD or code == STORE or code == ATOMIC:
        # outstanding-operation slots: each holds its operation's completion time
        m = ring[tid, 0]
        for k in range(1, pi[P_MAXOUT]):
            if ring[tid, k] < m:
                m = ring[tid, k]
        if m > t:
            t = m
    elif code == DMA_WAIT:
        if th_f[tid, TF_DMA] > t:
            t = th_f[tid, TF_DMA]
    elif code == WAIT:
        if th_f[tid, TF_ALL] > t:
            t = th_f[tid, TF_ALL]
    return t


@njit
def _release(pi, pf, th_i, th_f, eff, ring, dring, dma_i, ops, bar_i, bar_f, cnt, k):
    """Barrier k is complete: its waiting threads go on after the barrier's cost."""
    t = bar_f[k] + pf[F_BARRIER]
    for tid in range(th_i.shape[0]):
        if th_i[tid, TI_STATE] == ST_BARRIER and th_i[tid, TI_BAR] == k:
            th_i[tid, TI_STATE] = th_i[tid, TI_RESUME]
            th_f[tid, TF_READY] = t
            eff[tid] = thread_eff(pi, th_i, th_f, ring, dring, dma_i, ops, tid)
    bar_i[k, BI_ARRIVED] = 0
    bar_f[k] = 0.0
    cnt[C_BARRIERS] += 1


# ================================================================================================
# The run loop

@njit(cache=True)
def run_engine(pi, pf, die_hops, core_hops, chan_hops, reg, th_i, th_f, eff, ring, free, pipe_instr,
               pipe_first, pipe_n, pipe_rr, ctag, cready, dring, dma_i, q_i, q_task, ops, hp_t, hp_i,
               sc, cnt, cntf, cls_cnt, bar_i, bar_f, dq_i, dq_f, reg_cnt):
    """Advance the simulation until the phase ends (RET_DONE), a task queue must be refilled
    (RET_REFILL, queue id in sc[SC_ARG]), a thread needs the next rows of its task's trace
    (RET_SEGMENT, thread id in sc[SC_ARG]) or an operation is invalid (RET_ERROR).

    Issue: the earliest pipeline issues at its time T from the first of its threads (round-robin)
    that can act by T. A load/store/atomic reaches the memory system at T + 1; the thread goes on
    at T + 1 (non-blocking) unless a later operation depends on it. Actions that issue no
    instruction (taking a task, waits, barriers) happen at the thread's own time.
    """
    opipe = pi[P_O_PIPE]
    horizon = pf[F_HORIZON]
    maxout = pi[P_MAXOUT]
    ilv_shift = pi[P_ILV_SHIFT]
    gran_shift = pi[P_GRAN_SHIFT]
    gran = 1 << gran_shift
    chpd = pi[P_CHPD]
    nch = pi[P_NCH]
    nch_mask = pi[P_NCH_MASK]
    chpd_mask = pi[P_CHPD_MASK]
    chpd_shift = pi[P_CHPD_SHIFT]
    cpd = pi[P_CPD]
    banks = pi[P_BANKS]
    banks_mask = pi[P_BANKS_MASK]
    bw_shift = pi[P_BANKW_SHIFT]
    lshift = pi[P_LSHIFT]
    line = pi[P_LINE]
    line_xfer = ((line + gran - 1) >> gran_shift) << gran_shift
    sets = pi[P_SETS]
    sets_mask = pi[P_SETS_MASK]
    ways = pi[P_WAYS]
    has_cache = pi[P_HAS_CACHE]
    bypass = pi[P_BYPASS]
    nreg = pi[P_NREG]
    o_port = pi[P_O_PORT]
    o_bank = pi[P_O_BANK]
    o_ch = pi[P_O_CH]
    o_ma = pi[P_O_MA]
    o_dma = pi[P_O_DMA]
    dmaq = pi[P_DMAQ]
    spad_lat = pf[F_SPAD_LAT]
    port_occ = pf[F_PORT_OCC]
    bank_occ = pf[F_BANK_OCC]
    cache_lat = pf[F_CACHE_LAT]
    dram_lat = pf[F_DRAM_LAT]
    ch_cpb = pf[F_CH_CPB]
    sa_lat = pf[F_SA_LAT]
    sa_occ = pf[F_SA_OCC]
    ma_lat = pf[F_MA_LAT]
    ma_occ = pf[F_MA_OCC]
    dma_cpb = pf[F_DMA_CPB]
    hop = pf[F_HOP]
    link_lat = pf[F_LINK_LAT]
    ops_base = ops.ctypes.data
    ops_end = ops.shape[0]

    while sc[SC_HEAP_N] > 0:
        T = hp_t[0]
        if T >= INF:
            break
        p = hp_i[0, 1]
        first = pipe_first[p]
        n = pipe_n[p]
        i = pipe_rr[p]
        tid = -1
        for _ in range(n):
            if eff[first + i] <= T:
                tid = first + i
                break
            i += 1
            if i == n:
                i = 0
        if tid < 0:
            sc[SC_ERR] = ERR_ENGINE
            sc[SC_ERR_TID] = first
            sc[SC_ERR_PC] = -1
            sc[SC_RET] = RET_ERROR
            return RET_ERROR
        pipe_rr[p] = i + 1 if i + 1 < n else 0
        st = th_i[tid, TI_STATE]
        t = eff[tid]
        pc = th_i[tid, TI_PC]
        # what to do: acc = 0 nothing in memory, 1 one load/store/atomic, 2 DMA copy, 3 DMA gather
        acc = 0
        m_code = 0
        m_addr = 0
        m_size = 0
        m_flags = 0
        rebuild = False
        if st == ST_RUN:
            if pc >= th_i[tid, TI_END] and th_i[tid, TI_MORE] != 0:
                pipe_rr[p] = i          # the rest of its trace first, then the same thread
                sc[SC_RET] = RET_SEGMENT
                sc[SC_ARG] = tid
                return RET_SEGMENT
            if pc >= th_i[tid, TI_END]:
                # task finished: the thread asks for the next one
                th_f[tid, TF_BUSY] += t - th_f[tid, TF_TSTART]
                th_i[tid, TI_STATE] = ST_NEED
                th_f[tid, TF_READY] = t
            else:
                w0 = ops[pc, 0]
                code = w0 & 0xFF
                m_flags = (w0 >> 8) & 0xFF
                arg = w0 >> 16
                cnt[C_OPS] += 1
                th_i[tid, TI_PC] = pc + 1
                if code >= COMPUTE and code <= DMA_GATHER:
                    th_f[tid, TF_STALL] += T - th_f[tid, TF_READY]
                if code == COMPUTE:
                    nins = arg
                    free[opipe + p] = T + nins
                    pipe_instr[p] += nins
                    cnt[C_INSTR] += nins
                    th_f[tid, TF_READY] = T + nins
                elif code == LOAD or code == STORE or code == ATOMIC:
                    acc = 1
                    m_code = code
                    m_addr = ops[pc, 1]
                    if code == ATOMIC:
                        m_size = arg & 0xFFFFFFFF
                        if m_size == 0:
                            m_size = 8
                        cnt[C_ATOMICS] += 1
                        cnt[C_ATOMIC_BYTES] += m_size
                    else:
                        m_size = arg
                        if code == LOAD:
                            cnt[C_LOADS] += 1
                            cnt[C_LOAD_BYTES] += m_size
                        else:
                            cnt[C_STORES] += 1
                            cnt[C_STORE_BYTES] += m_size
                elif code == DMA_COPY:
                    acc = 2
                    th_i[tid, TI_PC] = pc + 2          # the destination row follows
                    cnt[C_OPS] += 1
                elif code == DMA_GATHER:
                    acc = 3
                    th_i[tid, TI_PC] = pc + 1 + (arg & 0xFFFFFFFF)
                    cnt[C_OPS] += arg & 0xFFFFFFFF
                elif code == DMA_WAIT or code == WAIT:
                    th_f[tid, TF_READY] = t           # the wait was part of eff
                elif code == BARRIER:
                    kb = 0 if arg == 0 else 1 + th_i[tid, TI_CORE]
                    th_i[tid, TI_STATE] = ST_BARRIER
                    th_i[tid, TI_BAR] = kb
                    th_i[tid, TI_RESUME] = ST_RUN
                    th_f[tid, TF_READY] = t
                    bar_i[kb, BI_ARRIVED] += 1
                    if t > bar_f[kb]:
                        bar_f[kb] = t
                    if bar_i[kb, BI_ARRIVED] >= bar_i[kb, BI_ACTIVE]:
                        _release(pi, pf, th_i, th_f, eff, ring, dring, dma_i, ops, bar_i, bar_f, cnt, kb)
                        rebuild = True
                else:
                    sc[SC_ERR] = ERR_OPCODE
                    sc[SC_ERR_TID] = tid
                    sc[SC_ERR_PC] = pc
                    sc[SC_RET] = RET_ERROR
                    return RET_ERROR
        else:  # ST_NEED
            q = th_i[tid, TI_QUEUE]
            if q_i[q, QI_TOKEN] >= 0 and th_i[tid, TI_CREDIT] == 0:
                # dynamic scheduling: a fetch-add on the queue's counter, through the model
                acc = 1
                m_code = ATOMIC
                m_addr = q_i[q, QI_TOKEN]
                m_size = 8
                cnt[C_ATOMICS] += 1
                cnt[C_ATOMIC_BYTES] += 8
                cnt[C_TOKEN_ATOMICS] += 1
            elif ((q_i[q, QI_COUNT] > 0
                   and q_task[q_i[q, QI_OFF] + q_i[q, QI_HEAD], QT_EPOCH] > th_i[tid, TI_EPOCH])
                  or (q_i[q, QI_COUNT] == 0 and q_i[q, QI_EXHAUSTED] == 0 and q_i[q, QI_WEND] == 1
                      and th_i[tid, TI_EPOCH] <= q_i[q, QI_EPOCH])):
                # the queue has moved on to its next stage, or its window is over and the next
                # is taken after the barrier: wait at the core's barrier until the core's other
                # threads of the phase have finished this stage (a fetch-add that found the
                # stage over is spent: the next stage needs a new one)
                kb = 1 + th_i[tid, TI_CORE]
                th_i[tid, TI_EPOCH] += 1
                th_i[tid, TI_CREDIT] = 0
                th_i[tid, TI_STATE] = ST_BARRIER
                th_i[tid, TI_BAR] = kb
                th_i[tid, TI_RESUME] = ST_NEED
                bar_i[kb, BI_ARRIVED] += 1
                if t > bar_f[kb]:
                    bar_f[kb] = t
                if bar_i[kb, BI_ARRIVED] >= bar_i[kb, BI_ACTIVE]:
                    _release(pi, pf, th_i, th_f, eff, ring, dring, dma_i, ops, bar_i, bar_f, cnt, kb)
                    rebuild = True
            elif q_i[q, QI_COUNT] > 0:
                h = q_i[q, QI_HEAD]
                j = q_i[q, QI_OFF] + h
                th_i[tid, TI_TASK] = q_task[j, QT_TASK]
                th_i[tid, TI_PC] = q_task[j, QT_START]
                th_i[tid, TI_END] = q_task[j, QT_END]
                th_i[tid, TI_MORE] = q_task[j, QT_MORE]
                _prefetch(ops_base + q_task[j, QT_START] * 16)
                h += 1
                if h == q_i[q, QI_CAP]:
                    h = 0
                q_i[q, QI_HEAD] = h
                q_i[q, QI_COUNT] -= 1
                th_i[tid, TI_CREDIT] = 0
                th_i[tid, TI_STATE] = ST_RUN
                th_i[tid, TI_TASKS] += 1
                th_f[tid, TF_TSTART] = t
                cnt[C_TASKS] += 1
            elif q_i[q, QI_EXHAUSTED] == 0:
                pipe_rr[p] = i          # pick the same thread again after the refill
                sc[SC_RET] = RET_REFILL
                sc[SC_ARG] = q
                return RET_REFILL
            else:
                # no more work: the thread leaves once its memory and DMA operations are done
                fin = t
                if th_f[tid, TF_ALL] > fin:
                    fin = th_f[tid, TF_ALL]
                if th_f[tid, TF_DMA] > fin:
                    fin = th_f[tid, TF_DMA]
                th_f[tid, TF_FINISH] = fin
                th_i[tid, TI_STATE] = ST_DONE
                kb = 1 + th_i[tid, TI_CORE]
                bar_i[0, BI_ACTIVE] -= 1
                bar_i[kb, BI_ACTIVE] -= 1
                if bar_i[0, BI_ARRIVED] > 0 and bar_i[0, BI_ARRIVED] >= bar_i[0, BI_ACTIVE]:
                    _release(pi, pf, th_i, th_f, eff, ring, dring, dma_i, ops, bar_i, bar_f, cnt, 0)
                    rebuild = True
                if bar_i[kb, BI_ARRIVED] > 0 and bar_i[kb, BI_ARRIVED] >= bar_i[kb, BI_ACTIVE]:
                    _release(pi, pf, th_i, th_f, eff, ring, dring, dma_i, ops, bar_i, bar_f, cnt, kb)
                    rebuild = True

        if acc != 0:
            # ---------------------------------------------------------------- the memory path
            # one instruction issues at T; its accesses reach the memory system from T + 1
            free[opipe + p] = T + 1.0
            pipe_instr[p] += 1
            cnt[C_INSTR] += 1
            core = th_i[tid, TI_CORE]
            die = th_i[tid, TI_DIE]
            lcore = th_i[tid, TI_LCORE]
            n_acc = 1
            t_dma = T + 1.0
            t_enq = t_dma
            d_src = 0
            d_dst = 0
            d_total = 0
            d_eb = 0
            d_pos = 0
            d_n = 0
            dh = 0
            dc = 0
            if acc >= 2:
                # the core's DMA engine: a full descriptor queue delays this transfer
                dh = dma_i[core, 0]
                dc = dma_i[core, 1]
                while dc > 0 and dring[core, dh] <= t_dma:
                    dh += 1
                    if dh == dmaq:
                        dh = 0
                    dc -= 1
                if dc == dmaq:
                    cntf[CF_DMA_STALL] += dring[core, dh] - t_dma
                    t_dma = dring[core, dh]
                    dh += 1
                    if dh == dmaq:
                        dh = 0
                    dc -= 1
                t_enq = t_dma
                if acc == 2:
                    d_src = ops[pc, 1]
                    d_total = ops[pc, 0] >> 16
                    d_dst = ops[pc + 1, 1]
                    n_chunks = 0
                    if d_total > 0:
                        n_chunks = ((d_src + d_total - 1) >> ilv_shift) - (d_src >> ilv_shift) + 1
                else:
                    d_dst = ops[pc, 1]
                    d_eb = ops[pc, 0] >> 48
                    n_chunks = (ops[pc, 0] >> 16) & 0xFFFFFFFF
                    d_total = d_eb * n_chunks
                n_acc = 2 * n_chunks
                s0 = free[o_dma + core]
                if t_dma > s0:
                    s0 = t_dma
                free[o_dma + core] = s0 + d_total * dma_cpb
                t_dma = s0 + pf[F_DMA_SETUP]
                cnt[C_DMA_OPS] += 1
                cnt[C_DMA_BYTES] += d_total
            done_all = T + 1.0
            prev = T + 1.0
            for r in range(n_acc):
                # ---- which access
                uncached = False
                ta = T + 1.0
                if acc == 2:
                    uncached = True
                    if r % 2 == 0:
                        a0 = d_src + d_pos
                        d_n = (((a0 >> ilv_shift) + 1) << ilv_shift) - a0
                        if d_n > d_total - d_pos:
                            d_n = d_total - d_pos
                        m_code = LOAD
                        m_addr = a0
                        ta = t_dma
                    else:
                        m_code = STORE
                        m_addr = d_dst + d_pos
                        ta = prev
                        d_pos += d_n
                        t_dma += d_n * dma_cpb
                    m_size = d_n
                elif acc == 3:
                    uncached = True
                    e = r // 2
                    if r % 2 == 0:
                        m_code = LOAD
                        m_addr = ops[pc + 1 + e, 1]
                        ta = t_dma
                    else:
                        m_code = STORE
                        m_addr = d_dst + e * d_eb
                        ta = prev
                        t_dma += d_eb * dma_cpb
                    m_size = d_eb
                # ---- resolve the address (region, bounds, executing thread's core / slice)
                rid = m_addr >> 40
                off = m_addr & 0xFFFFFFFFFF
                if rid < 0 or rid >= nreg:
                    sc[SC_ERR] = ERR_REGION
                    break
                per = reg[rid, RG_PER]
                lim = reg[rid, RG_SIZE] if per == PER_NONE else reg[rid, RG_SLICE]
                if m_size <= 0:
                    sc[SC_ERR] = ERR_SIZE
                    break
                if off + m_size > lim:
                    sc[SC_ERR] = ERR_BOUNDS
                    break
                is_write = m_code == STORE
                if reg[rid, RG_KIND] == K_SPAD:
                    # ---------------------------------------------------------- scratchpad
                    tcore = reg[rid, RG_CORE]
                    if tcore < 0:
                        tcore = core
                    slot = th_i[tid, TI_LOCAL] if per == PER_THREAD else 0
                    phys = reg[rid, RG_BASE] + slot * reg[rid, RG_SLICE] + off
                    tdie = tcore // cpd
                    atomic = m_code == ATOMIC
                    one_way = 0.0
                    arr = ta
                    if tcore != core:
                        cnt[C_REMOTE_SPAD] += 1
                        cnt[C_NET_BYTES] += m_size
                        if tdie == die:
                            one_way = core_hops[lcore, tcore - tdie * cpd] * hop
                            arr = ta + one_way
                        else:
                            cnt[C_REMOTE_DIE] += 1
                            one_way = die_hops[die, tdie] * link_lat
                            if is_write or atomic:
                                arr = _link(pi, pf, die_hops, free, cnt, cntf, ta, die, tdie, m_size)
                            else:
                                arr = ta + one_way
                    s = free[o_port + tcore]
                    if arr > s:
                        s = arr
                    free[o_port + tcore] = s + port_occ
                    ob = o_bank + tcore * banks
                    if atomic:
                        cnt[C_SPAD_ATOMICS] += 1
                        bk = ob + _mod(phys >> bw_shift, banks, banks_mask)
                        sb = free[bk]
                        if s > sb:
                            sb = s
                        free[bk] = sb + sa_occ
                        cntf[CF_ATOMIC_STALL] += sb - arr
                        fin = sb + spad_lat + sa_lat
                        cnt[C_SPAD_READS] += 1
                        cnt[C_SPAD_WRITES] += 1
                        cnt[C_SPAD_RD_BYTES] += m_size
                        cnt[C_SPAD_WR_BYTES] += m_size
                    else:
                        w_0 = phys >> bw_shift
                        nw = ((phys + m_size - 1) >> bw_shift) - w_0 + 1
                        fin = s + spad_lat
                        for w in range(nw):
                            bk = ob + _mod(w_0 + w, banks, banks_mask)
                            sb = free[bk]
                            if s > sb:
                                sb = s
                            free[bk] = sb + bank_occ
                            if sb + spad_lat > fin:
                                fin = sb + spad_lat
                        cntf[CF_SPAD_QUEUE] += fin - spad_lat - arr
                        if is_write:
                            cnt[C_SPAD_WRITES] += 1
                            cnt[C_SPAD_WR_BYTES] += m_size
                        else:
                            cnt[C_SPAD_READS] += 1
                            cnt[C_SPAD_RD_BYTES] += m_size
                    if tdie == die or is_write:
                        done = fin + one_way
                    else:
                        done = _link(pi, pf, die_hops, free, cnt, cntf, fin, tdie, die, m_size)
                else:
                    # ---------------------------------------------------------- DRAM
                    tdie = reg[rid, RG_DIE]
                    if tdie == DIE_LOCAL:
                        tdie = die
                    slot = 0
                    if per == PER_THREAD:
                        slot = tid
                    elif per == PER_CORE:
                        slot = core
                    phys = reg[rid, RG_BASE] + slot * reg[rid, RG_SLICE] + off
                    cls = reg[rid, RG_CLS]
                    if (m_size >> lshift) + 2 > DQ_CAP // 2 or (m_size >> ilv_shift) + 2 > DQ_CAP:
                        sc[SC_ERR] = ERR_SIZE      # a bulk transfer: use DMA
                        break
                    nd = 0
                    done = ta
                    if m_code == ATOMIC:
                        # at the memory controller: the unit serializes, then a read and a write
                        cnt[C_MC_ATOMICS] += 1
                        g = phys >> ilv_shift
                        hsh = g ^ (g >> 8) ^ (g >> 16)
                        if tdie < 0:
                            gch = _mod(hsh, nch, nch_mask)
                        else:
                            gch = tdie * chpd + _mod(hsh, chpd, chpd_mask)
                        cd = _div(gch, chpd, chpd_shift)
                        xfer = (((phys + m_size + gran - 1) >> gran_shift) - (phys >> gran_shift)) << gran_shift
                        if cd == die:
                            one_way = chan_hops[lcore, gch - cd * chpd] * hop
                            if one_way > 0:
                                cnt[C_NET_BYTES] += m_size
                            arr = ta + one_way
                        else:
                            cnt[C_REMOTE_DIE] += 1
                            cnt[C_NET_BYTES] += m_size
                            one_way = die_hops[die, cd] * link_lat
                            arr = _link(pi, pf, die_hops, free, cnt, cntf, ta, die, cd, m_size)
                        s = free[o_ma + gch]
                        if arr > s:
                            s = arr
                        free[o_ma + gch] = s + ma_occ
                        occ = 2.0 * xfer * ch_cpb
                        s2 = free[o_ch + gch]
                        if s > s2:
                            s2 = s
                        free[o_ch + gch] = s2 + occ
                        cntf[CF_ATOMIC_STALL] += s - arr
                        cntf[CF_DRAM_QUEUE] += s2 - s
                        cnt[C_DRAM_REQS] += 2
                        cnt[C_DRAM_RD_USEFUL] += m_size
                        cnt[C_DRAM_RD_XFER] += xfer
                        cnt[C_DRAM_WR_USEFUL] += m_size
                        cnt[C_DRAM_WR_XFER] += xfer
                        reg_cnt[rid, RB_RD_USEFUL] += m_size
                        reg_cnt[rid, RB_RD_XFER] += xfer
                        reg_cnt[rid, RB_WR_USEFUL] += m_size
                        reg_cnt[rid, RB_WR_XFER] += xfer
                        fin = s2 + occ + dram_lat + ma_lat
                        if cd == die:
                            done = fin + one_way
                        else:
                            done = _link(pi, pf, die_hops, free, cnt, cntf, fin, cd, die, m_size)
                    elif uncached or has_cache == 0 or (bypass >> cls) & 1:
                        # uncached: split at interleave boundaries, rounded to the granularity
                        if not uncached:
                            cls_cnt[cls, CL_BYPASS] += 1
                        pos = phys
                        end = phys + m_size
                        while pos < end and nd < DQ_CAP:
                            cend = ((pos >> ilv_shift) + 1) << ilv_shift
                            if cend > end:
                                cend = end
                            g = pos >> ilv_shift
                            hsh = g ^ (g >> 8) ^ (g >> 16)
                            if tdie < 0:
                                dq_i[nd, DQ_CH] = _mod(hsh, nch, nch_mask)
                            else:
                                dq_i[nd, DQ_CH] = tdie * chpd + _mod(hsh, chpd, chpd_mask)
                            dq_i[nd, DQ_USEFUL] = cend - pos
                            dq_i[nd, DQ_XFER] = (((cend + gran - 1) >> gran_shift) - (pos >> gran_shift)) << gran_shift
                            dq_i[nd, DQ_WRITE] = 1 if is_write else 0
                            dq_i[nd, DQ_ROW] = -1
                            dq_i[nd, DQ_RID] = rid
                            dq_f[nd] = ta
                            nd += 1
                            pos = cend
                    else:
                        # cached: set-associative LRU, write-back, write-allocate (with a fill)
                        first_ln = phys >> lshift
                        last_ln = (phys + m_size - 1) >> lshift
                        pipe_g = th_i[tid, TI_PIPE]
                        for ln in range(first_ln, last_ln + 1):
                            lo = ln << lshift
                            a_ = phys if phys > lo else lo
                            b_ = phys + m_size
                            if b_ > lo + line:
                                b_ = lo + line
                            nbytes = b_ - a_
                            row = pipe_g * sets + _mod(ln, sets, sets_mask)
                            sc[SC_STAMP] += 1
                            stamp = sc[SC_STAMP]
                            hit = -1
                            for w in range(ways):
                                if ctag[row, w, CW_TAG] == ln:
                                    hit = w
                                    break
                            if hit >= 0:
                                ctag[row, hit, CW_STAMP] = stamp
                                d = ta + cache_lat
                                if cready[row, hit] > d:
                                    d = cready[row, hit]
                                if d > done:
                                    done = d
                                cls_cnt[cls, CL_HITS] += 1
                                if is_write:
                                    ctag[row, hit, CW_DIRTY] += nbytes
                                    cnt[C_CACHE_WR_BYTES] += nbytes
                                else:
                                    cnt[C_CACHE_RD_HIT_BYTES] += nbytes
                            elif nd + 2 <= DQ_CAP:
                                cls_cnt[cls, CL_MISSES] += 1
                                victim = 0
                                best = ctag[row, 0, CW_STAMP]
                                for w in range(1, ways):
                                    if ctag[row, w, CW_STAMP] < best:
                                        best = ctag[row, w, CW_STAMP]
                                        victim = w
                                if ctag[row, victim, CW_TAG] >= 0 and ctag[row, victim, CW_DIRTY] > 0:
                                    dirty = ctag[row, victim, CW_DIRTY]
                                    if dirty > line:
                                        dirty = line
                                    cnt[C_WRITEBACKS] += 1
                                    cnt[C_DRAM_WB_USEFUL] += dirty
                                    dq_i[nd, DQ_CH] = ctag[row, victim, CW_CH]
                                    dq_i[nd, DQ_USEFUL] = dirty
                                    dq_i[nd, DQ_XFER] = line_xfer
                                    dq_i[nd, DQ_WRITE] = 1
                                    dq_i[nd, DQ_ROW] = -1
                                    dq_i[nd, DQ_RID] = ctag[row, victim, CW_RID]
                                    dq_f[nd] = ta + cache_lat
                                    nd += 1
                                g = lo >> ilv_shift
                                hsh = g ^ (g >> 8) ^ (g >> 16)
                                if tdie < 0:
                                    gch = _mod(hsh, nch, nch_mask)
                                else:
                                    gch = tdie * chpd + _mod(hsh, chpd, chpd_mask)
                                # the fill: the access's own bytes are useful, the rest prefetched
                                dq_i[nd, DQ_CH] = gch
                                dq_i[nd, DQ_USEFUL] = 0 if is_write else nbytes
                                dq_i[nd, DQ_XFER] = line_xfer
                                dq_i[nd, DQ_WRITE] = 0
                                dq_i[nd, DQ_ROW] = row
                                dq_i[nd, DQ_WAY] = victim
                                dq_i[nd, DQ_RID] = rid
                                dq_f[nd] = ta + cache_lat
                                nd += 1
                                ctag[row, victim, CW_TAG] = ln
                                ctag[row, victim, CW_STAMP] = stamp
                                ctag[row, victim, CW_CH] = gch
                                ctag[row, victim, CW_RID] = rid
                                if is_write:
                                    ctag[row, victim, CW_DIRTY] = nbytes
                                    cnt[C_CACHE_WR_BYTES] += nbytes
                                else:
                                    ctag[row, victim, CW_DIRTY] = 0
                    # ---- the DRAM requests: network, channel queue, latency, way back
                    for k in range(nd):
                        gch = dq_i[k, DQ_CH]
                        useful = dq_i[k, DQ_USEFUL]
                        xfer = dq_i[k, DQ_XFER]
                        wr = dq_i[k, DQ_WRITE] == 1
                        tk = dq_f[k]
                        cd = _div(gch, chpd, chpd_shift)
                        occ = xfer * ch_cpb
                        if cd == die:
                            one_way = chan_hops[lcore, gch - cd * chpd] * hop
                            if one_way > 0:
                                cnt[C_NET_BYTES] += useful
                            arr = tk + one_way
                        else:
                            cnt[C_REMOTE_DIE] += 1
                            cnt[C_NET_BYTES] += useful
                            one_way = die_hops[die, cd] * link_lat
                            if wr:
                                arr = _link(pi, pf, die_hops, free, cnt, cntf, tk, die, cd, useful)
                            else:
                                arr = tk + one_way
                        s = free[o_ch + gch]
                        if arr > s:
                            s = arr
                        free[o_ch + gch] = s + occ
                        cntf[CF_DRAM_QUEUE] += s - arr
                        fin = s + occ + dram_lat
                        cnt[C_DRAM_REQS] += 1
                        rk = dq_i[k, DQ_RID]
                        if wr:
                            cnt[C_DRAM_WR_USEFUL] += useful
                            cnt[C_DRAM_WR_XFER] += xfer
                            reg_cnt[rk, RB_WR_USEFUL] += useful
                            reg_cnt[rk, RB_WR_XFER] += xfer
                        else:
                            cnt[C_DRAM_RD_USEFUL] += useful
                            cnt[C_DRAM_RD_XFER] += xfer
                            reg_cnt[rk, RB_RD_USEFUL] += useful
                            reg_cnt[rk, RB_RD_XFER] += xfer
                        if cd == die or wr:
                            fin = fin + one_way
                        else:
                            fin = _link(pi, pf, die_hops, free, cnt, cntf, fin, cd, die, useful)
                        if dq_i[k, DQ_ROW] >= 0:
                            cready[dq_i[k, DQ_ROW], dq_i[k, DQ_WAY]] = fin
                        if fin > done:
                            done = fin
                prev = done
                if done > done_all:
                    done_all = done
            if sc[SC_ERR] != ERR_NONE:
                sc[SC_ERR_TID] = tid
                sc[SC_ERR_PC] = pc if st == ST_RUN else -1
                sc[SC_RET] = RET_ERROR
                return RET_ERROR
            # ---- the thread's side
            if acc >= 2:
                slot = dh + dc
                if slot >= dmaq:
                    slot -= dmaq
                dring[core, slot] = done_all
                dma_i[core, 0] = dh
                dma_i[core, 1] = dc + 1
                if done_all > th_f[tid, TF_DMA]:
                    th_f[tid, TF_DMA] = done_all
                th_f[tid, TF_READY] = t_enq      # later than T + 1 only if the queue was full
            elif st == ST_RUN:
                slot = 0                             # the slot that frees first (free by T)
                for k in range(1, maxout):
                    if ring[tid, k] < ring[tid, slot]:
                        slot = k
                ring[tid, slot] = done_all
                if done_all > th_f[tid, TF_ALL]:
                    th_f[tid, TF_ALL] = done_all
                if m_code == LOAD or (m_code == ATOMIC and not m_flags & NORET):
                    th_f[tid, TF_LAST] = done_all
                th_f[tid, TF_READY] = T + 1.0
            else:
                th_i[tid, TI_CREDIT] = 1     # the token's value is needed before the task starts
                th_f[tid, TF_READY] = done_all

        # ---- the thread's next possible action (thread_eff, written out)
        e_t = th_f[tid, TF_READY]
        st = th_i[tid, TI_STATE]
        if st == ST_RUN:
            pc = th_i[tid, TI_PC]
            if pc < th_i[tid, TI_END] or th_i[tid, TI_MORE] != 0:
                # the thread's trace is read again only after many other threads' operations:
                # fetch its next cache line now (the trace arena is larger than the CPU's caches)
                if pc + 4 < ops_end:
                    _prefetch(ops_base + (pc + 4) * 16)
                w0 = ops[pc, 0]
                code = w0 & 0xFF
                fl = (w0 >> 8) & 0xFF
                if fl & DEP and th_f[tid, TF_LAST] > e_t:
                    e_t = th_f[tid, TF_LAST]
                if fl & FENCE and th_f[tid, TF_ALL] > e_t:
                    e_t = th_f[tid, TF_ALL]
                if code == LOAD or code == STORE or code == ATOMIC:
                    # all outstanding-operation slots busy: wait until the first one frees
                    mo = ring[tid, 0]
                    for k in range(1, maxout):
                        if ring[tid, k] < mo:
                            mo = ring[tid, k]
                    if mo > e_t:
                        e_t = mo
                elif code == DMA_WAIT:
                    if th_f[tid, TF_DMA] > e_t:
                        e_t = th_f[tid, TF_DMA]
                elif code == WAIT:
                    if th_f[tid, TF_ALL] > e_t:
                        e_t = th_f[tid, TF_ALL]
        elif st != ST_NEED:
            e_t = INF
        eff[tid] = e_t

        # ---- the pipeline's next event; keep it on top or sift it down (or rebuild the heap)
        if rebuild:
            heap_rebuild(pi, eff, free, pipe_first, pipe_n, hp_t, hp_i, sc)
            continue
        m = INF
        for k in range(first, first + n):
            if eff[k] < m:
                m = eff[k]
        if m < INF and free[opipe + p] > m:
            m = free[opipe + p]
        nh = sc[SC_HEAP_N]
        if nh > 1:
            mc = hp_t[1]
            if nh > 2 and hp_t[2] < mc:
                mc = hp_t[2]
            if m < mc or (horizon > 0.0 and m <= mc + horizon):
                hp_t[0] = m
                continue
            # sift down from the root with a fresh seq (ties go round-robin between pipelines)
            s_new = sc[SC_SEQ]
            sc[SC_SEQ] += 1
            x = 0
            while True:
                c = 2 * x + 1
                if c >= nh:
                    break
                if c + 1 < nh and _before(hp_t[c + 1], hp_i[c + 1, 0], hp_t[c], hp_i[c, 0]):
                    c += 1
                if _before(hp_t[c], hp_i[c, 0], m, s_new):
                    hp_t[x] = hp_t[c]
                    hp_i[x, 0] = hp_i[c, 0]
                    hp_i[x, 1] = hp_i[c, 1]
                    x = c
                else:
                    break
            hp_t[x] = m
            hp_i[x, 0] = s_new
            hp_i[x, 1] = p
        else:
            hp_t[0] = m
    sc[SC_RET] = RET_DONE
    return RET_DONE


# ================================================================================================
# Arena compaction and cache flush (called between runs)

@njit(inline="always")
def _move_down(ops, w, a, n):
    """Rows a..a+n-1 of ops to w..w+n-1 (w <= a; in order, so overlap is safe)."""
    if w != a:
        for r in range(n):
            ops[w + r, 0] = ops[a + r, 0]
            ops[w + r, 1] = ops[a + r, 1]


@njit(cache=True)
def compact_arena(ops, th_i, q_i, q_task):
    """Move every live trace slice (running threads' rest, queued tasks) to the front of `ops`.

    Returns the number of rows in use afterwards. Slices never overlap, so moving them down in
    order of their start is safe in place. A slice whose task goes on (TI_MORE / QT_MORE) keeps
    the copy of its next row at its end.
    """
    n_live = 0
    for tid in range(th_i.shape[0]):
        if th_i[tid, TI_STATE] == ST_RUN or th_i[tid, TI_STATE] == ST_BARRIER:
            n_live += 1
    for q in range(q_i.shape[0]):
        n_live += q_i[q, QI_COUNT]
    starts = np.empty(n_live, dtype=np.int64)
    kind = np.empty(n_live, dtype=np.int64)     # tid, or -(queue slot index + 1)
    k = 0
    for tid in range(th_i.shape[0]):
        if th_i[tid, TI_STATE] == ST_RUN or th_i[tid, TI_STATE] == ST_BARRIER:
            starts[k] = th_i[tid, TI_PC]
            kind[k] = tid
            k += 1
    for q in range(q_i.shape[0]):
        for i in range(q_i[q, QI_COUNT]):
            j = q_i[q, QI_OFF] + (q_i[q, QI_HEAD] + i) % q_i[q, QI_CAP]
            starts[k] = q_task[j, QT_START]
            kind[k] = -(j + 1)
            k += 1
    order = np.argsort(starts, kind="mergesort")
    w = 0
    for o in order:
        if kind[o] >= 0:
            tid = kind[o]
            a = th_i[tid, TI_PC]
            b = th_i[tid, TI_END]
            if b < a:
                b = a
            x = 1 if th_i[tid, TI_MORE] != 0 else 0
            _move_down(ops, w, a, b - a + x)
            th_i[tid, TI_PC] = w
            th_i[tid, TI_END] = w + (b - a)
        else:
            j = -kind[o] - 1
            a = q_task[j, QT_START]
            b = q_task[j, QT_END]
            x = 1 if q_task[j, QT_MORE] != 0 else 0
            _move_down(ops, w, a, b - a + x)
            q_task[j, QT_START] = w
            q_task[j, QT_END] = w + (b - a)
        w += b - a + x
    return w


@njit(cache=True)
def flush_caches(pi, pf, free, ctag, cnt, reg_cnt, t):
    """Write back every dirty line (the software flush that publishes a phase's results on a
    non-coherent machine); returns when the last write-back completes."""
    done = t
    gran = 1 << pi[P_GRAN_SHIFT]
    line = pi[P_LINE]
    xfer = ((line + gran - 1) // gran) * gran
    occ = xfer * pf[F_CH_CPB]
    for row in range(ctag.shape[0]):
        for w in range(ctag.shape[1]):
            if ctag[row, w, CW_TAG] >= 0 and ctag[row, w, CW_DIRTY] > 0:
                dirty = ctag[row, w, CW_DIRTY]
                if dirty > line:
                    dirty = line
                gch = ctag[row, w, CW_CH]
                s = free[pi[P_O_CH] + gch]
                if t > s:
                    s = t
                free[pi[P_O_CH] + gch] = s + occ
                if s + occ + pf[F_DRAM_LAT] > done:
                    done = s + occ + pf[F_DRAM_LAT]
                cnt[C_WRITEBACKS] += 1
                cnt[C_DRAM_WB_USEFUL] += dirty
                cnt[C_DRAM_WR_USEFUL] += dirty
                cnt[C_DRAM_WR_XFER] += xfer
                cnt[C_DRAM_REQS] += 1
                reg_cnt[ctag[row, w, CW_RID], RB_WR_USEFUL] += dirty
                reg_cnt[ctag[row, w, CW_RID], RB_WR_XFER] += xfer
                ctag[row, w, CW_DIRTY] = 0
    return done
