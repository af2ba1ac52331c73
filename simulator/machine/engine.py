"""The event-driven timing engine (numba). Private: use `simulator.machine.Simulation`.

Time is a float64 count of cycles. There is no per-cycle loop. The engine keeps a binary heap of
pipelines keyed by (time of their next issue, seq); the earliest pipeline issues one instruction
from the first of its threads, in round-robin order, that can act by then, and the thread's next
possible time is computed at once (its dependences, its outstanding-operation window). A
pipeline may go on issuing up to the horizon (F_HORIZON cycles) past the next pipeline's time
before it yields (fewer heap operations; requests reach servers out of order by at most that
much, which changes their timing only), but never to take work: which task a token fetch-add
gets depends on the order the counter serves it, so a thread in ST_NEED acts only when its
pipeline is the earliest (`_ahead`), and the task is bound when the fetch-add is served. Every
resource is a FCFS queueing server with a next-free time: a request arriving at t starts at
max(t, next_free), holds the server for its occupancy, and completes after its latency. A memory
operation asks the servers on its path in turn (the network's links along the route of its
request packet, scratchpad port and bank, cache, DRAM channel, atomic unit, the links of its
reply) and gets its completion time. Network links are calendars of windows rather than
next-free times, since packets reach them out of time order (`_link_slot`, docs/network.md).

All state lives in numpy arrays owned by the Python `Simulation`; the layouts are the constants
below. `run_engine` returns to Python when a task queue needs refilling (lazily generated
traces), when a thread needs the next rows of its task's trace (held on disk to bound memory,
see `simulator.machine.arena`), when the phase is over, or on an invalid operation.

Structure: `run_engine` takes one `State` (a named tuple of the arrays) and calls one small
function per step and per resource (thread pick, trace step, task taking, scratchpad, cache,
DRAM channel, atomic unit, DMA, heap), each `@njit(inline="always")`.

Performance note: numba reference-counts arrays (an atomic increment and decrement) whenever one
is passed to a function or bound to a new variable, including the parameters of an inlined
helper; for the state tuple that is every one of its arrays at every helper, which made the
engine 25x slower. `run_engine` allocates nothing, so it is compiled without the reference-
counting runtime (`_nrt=False`): its helpers are inlined and free. Rare paths (barrier release,
heap rebuild) are separate functions, compiled the same way.

DRAM is not a server here: `simulator.machine.dram` models banks, rows and the JEDEC timing
constraints. Its address map is inlined; its scheduler (`dram_schedule`) is a separate cached
function taking the DRAM state tuple (no reference counting either, for the same reason):
inlined, it made this module's compile take many minutes.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

from simulator.machine.dram import DI_FAULT, FAULT_NO_MA_OCC, dram_access, dram_map
from simulator.machine.nbutil import INF
from simulator.machine.nbutil import div_ as _div
from simulator.machine.nbutil import mod_ as _mod
from simulator.machine.trace import (ATOMIC, BARRIER, COMPUTE, DEP, DMA_COPY, DMA_GATHER, DMA_WAIT,
                                     FENCE, LOAD, NORET, STORE, WAIT)

# ---- static integer parameters (pi) -------------------------------------------------------------
(P_NT, P_NC, P_CPD, P_TPC, P_PPC, P_DIES, P_CHPD, P_NCH, P_GRAN_SHIFT, P_BURST_SHIFT, P_BANKS,
 P_BANKW_SHIFT, P_SETS, P_WAYS, P_LSHIFT, P_LINE, P_ROUTERS, P_DMAQ, P_MAXOUT, P_BYPASS, P_NREG,
 P_HAS_CACHE, P_O_PIPE, P_O_PORT, P_O_BANK, P_O_MA, P_O_DMA, P_CHPD_SHIFT,
 P_BANKS_MASK, P_SETS_MASK, P_RPD, P_HDR, P_REQ_DATA, P_N) = range(34)
# P_ROUTERS: routers in the machine; P_RPD: routers per die; P_HDR: a packet's header bytes;
# P_REQ_DATA: 1 when requests carry their data (0 only under fault injection)
# ---- static float parameters (pf) ---------------------------------------------------------------
(F_SPAD_LAT, F_PORT_OCC, F_BANK_OCC, F_CACHE_LAT, F_SA_LAT, F_SA_OCC, F_MA_LAT, F_MA_OCC,
 F_MA_INTERVAL, F_DMA_CPB, F_DMA_SETUP, F_BARRIER, F_HORIZON, F_NET_WINDOW, F_NET_INV,
 F_N) = range(16)
# F_NET_INV: 1 / F_NET_WINDOW when that is a power of two (then exact), else 0 (see _link_slot)
NET_SLOTS = 256                      # windows in a link's calendar (a power of two; see _link_slot)
# ---- regions (reg rows) -------------------------------------------------------------------------
RG_KIND, RG_BASE, RG_SIZE, RG_CLS, RG_DIE, RG_CORE, RG_SLICE, RG_PER, RG_N = range(9)
K_DRAM, K_SPAD = 0, 1
DIE_ALL, DIE_LOCAL, DIE_SPLIT = -1, -2, -3
# RG_DIE: interleave over all dies / the executing thread's die / split at byte offsets per die
# (dsplit[rid, k] .. dsplit[rid, k + 1] on die k, interleaved over that die's channels)
CORE_LOCAL = -1                      # RG_CORE: the executing thread's core
PER_NONE, PER_THREAD, PER_CORE = 0, 1, 2
# ---- threads ------------------------------------------------------------------------------------
(TI_PC, TI_END, TI_STATE, TI_CORE, TI_DIE, TI_PIPE, TI_LOCAL, TI_QUEUE, TI_TASK, TI_BAR,
 TI_CREDIT, TI_TASKS, TI_LCORE, TI_EPOCH, TI_RESUME, TI_MORE, TI_HOME, TI_STEAL, TI_SLOT, TI_ROW_PC,
 TI_ROW0, TI_ROW1, TI_N) = range(23)
# TI_EPOCH: the stage of its queue the thread is in (a core barrier separates stages);
# TI_RESUME: the state a thread returns to when its barrier releases (ST_RUN or ST_NEED);
# TI_MORE: non-zero when the task's trace goes on beyond TI_END (held back by the Python side
# to bound memory); ops[TI_END] is then a copy of the next row, so the thread's next-action
# time is the same as if the rest were there, and the engine returns RET_SEGMENT to get it;
# TI_HOME: the thread's own queue; TI_STEAL: the next entry of its home queue's steal order
# (q_steal[home]) it turns to when its current queue runs dry;
# TI_ROW0, TI_ROW1: the row ops[TI_ROW_PC] as _thread_next read it (its trace line is not in the
# host's cache any more when the thread issues; a moved trace changes TI_PC: read ops again)
TF_READY, TF_LAST, TF_ALL, TF_DMA, TF_BUSY, TF_TSTART, TF_FINISH, TF_STALL, TF_SLOT, TF_N = range(10)
# TF_SLOT: when the first of the thread's outstanding-operation slots (ring[tid]) frees, TI_SLOT:
# which one (the first of the earliest; kept when a slot is taken, not searched at every step)
ST_OFF, ST_RUN, ST_NEED, ST_BARRIER, ST_DONE = range(5)
# ---- task queues --------------------------------------------------------------------------------
QI_HEAD, QI_COUNT, QI_CAP, QI_OFF, QI_EXHAUSTED, QI_TOKEN, QI_EPOCH, QI_WEND, QI_N = range(9)
# QI_EPOCH: stage number of the last task put in the queue; QI_WEND: 1 when the queue's window is
# all generated and the next one is taken only after the core's barrier (dynamic windows)
QT_TASK, QT_START, QT_END, QT_EPOCH, QT_MORE, QT_N = range(6)   # QT_MORE: as TI_MORE
# ---- scalars (sc) -------------------------------------------------------------------------------
SC_HEAP_N, SC_SEQ, SC_RET, SC_ARG, SC_ERR, SC_ERR_TID, SC_ERR_PC, SC_STAMP, SC_BIND, SC_N = range(10)
# SC_BIND: 1 + the thread whose fetch-add was served but whose task could not be bound for want of
# generated tasks (RET_REFILL): bound first when the engine resumes, as if without the refill
RET_DONE, RET_REFILL, RET_ERROR, RET_SEGMENT = 0, 1, 2, 3
ERR_NONE, ERR_REGION, ERR_BOUNDS, ERR_OPCODE, ERR_SIZE, ERR_ENGINE = 0, 1, 2, 3, 4, 5
# ---- counters (cnt: int64, cntf: float64, cls_cnt: per access class) ----------------------------
(C_OPS, C_INSTR, C_LOADS, C_STORES, C_ATOMICS, C_SPAD_ATOMICS, C_MC_ATOMICS, C_TOKEN_ATOMICS,
 C_LOAD_BYTES, C_STORE_BYTES, C_ATOMIC_BYTES, C_DMA_OPS, C_DMA_BYTES, C_SPAD_READS, C_SPAD_WRITES,
 C_SPAD_RD_BYTES, C_SPAD_WR_BYTES, C_DRAM_RD_USEFUL, C_DRAM_RD_XFER, C_DRAM_WR_USEFUL,
 C_DRAM_WR_XFER, C_DRAM_WB_USEFUL, C_DRAM_REQS, C_CACHE_RD_HIT_BYTES, C_CACHE_WR_BYTES,
 C_NET_BYTES, C_BARRIERS, C_TASKS, C_WRITEBACKS, C_REMOTE_SPAD, C_REMOTE_DIE, C_STEALS,
 C_N) = range(33)
# C_NET_BYTES: bytes of the packets sent into the network (headers included); per link bytes and
# queueing are in nl_bytes / nl_queue
CF_ATOMIC_STALL, CF_SPAD_QUEUE, CF_DMA_STALL, CF_N = range(4)
CL_HITS, CL_MISSES, CL_BYPASS, CL_N = range(4)
# per DRAM region (reg_cnt[region id, column]): the DRAM byte totals above, split by region
RB_RD_USEFUL, RB_RD_XFER, RB_WR_USEFUL, RB_WR_XFER, RB_N = range(5)
# ---- barriers (bar_i rows: 0 = phase, 1 + core = that core) -------------------------------------
BI_ARRIVED, BI_ACTIVE, BI_N = range(3)
# ---- cache ways (ctag[row, way, field]) ---------------------------------------------------------
# CW_RID: the line's region; CW_CH, CW_BANK, CW_DROW: where it lives in DRAM (for write-backs)
CW_TAG, CW_STAMP, CW_DIRTY, CW_CH, CW_BANK, CW_DROW, CW_RID, CW_N = range(8)
# ---- DRAM request scratch (dq_i rows, dq_f: time the request leaves the core) ------------------
(DQ_CH, DQ_BANK, DQ_DROW, DQ_USEFUL, DQ_XFER, DQ_WRITE, DQ_KIND, DQ_CSET, DQ_WAY, DQ_RID,
 DQ_N) = range(11)
# DQ_KIND: a load/store/DMA chunk or write-back, a cache fill (DQ_CSET, DQ_WAY: its cache slot),
# an atomic at the memory controller (DQ_CSET: 1 if the unit holds the value, DQ_WAY: its slot)
RQ_PLAIN, RQ_FILL, RQ_ATOMIC, RQ_UNIT = range(4)   # RQ_UNIT: an atomic unit's write-back (at the
# controller: no network)
DQ_CAP = 64                          # a request touches at most this many bursts / lines
# ---- memory-controller atomic units (per channel): the values they hold (ma_i[ch, slot, field];
# ma_f[ch, slot]: the time the slot's address may take its next operation) -----------------------
MI_ADDR, MI_BANK, MI_DROW, MI_RID, MI_USEFUL, MI_XFER, MI_N = range(7)   # MI_ADDR: granule, -1 free
MA_SLOTS = 16



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
def _before(t1, s1, t2, s2):
    return t1 < t2 or (t1 == t2 and s1 < s2)


# ================================================================================================
# The engine's state: one named tuple of arrays (built by `Simulation`; layouts above)

State = namedtuple("State", (
    "pi", "pf", "rt_ptr", "rt_link", "chan_router", "nl_cpb", "nl_lat", "nl_bytes", "nl_queue",
    "nw_i", "nw_f", "nw_lo", "reg", "th_i", "th_f", "eff", "ring",
    "free", "pipe_instr", "pipe_first", "pipe_n", "pipe_rr", "ctag", "cready", "dring", "dma_i",
    "q_i", "q_task", "q_steal", "q_dry", "ops", "hp_t", "hp_i", "sc", "cnt", "cntf", "cls_cnt",
    "bar_i", "bar_f", "dq_i", "dq_f", "reg_cnt", "dsplit", "ma_i", "ma_f", "dram"))
# dram: the DRAM model's own state (`simulator.machine.dram.DramState`); rt_*, chan_router, nl_*:
# the network's routes and links (`simulator.machine.sim.NetworkTables`), per-link counters
# and calendars (nw_i: window index, nw_f: occupancy booked in it, nw_lo: first window not
# known full; see _link_slot)


# ================================================================================================
# Pipelines and threads

@njit(inline="always")
def _pick_thread(S, p, T):
    """The first thread of pipeline p, round-robin from its pointer, that can act by T; returns
    (thread id or -1, its index in the pipeline, rest, exact): what the scan learnt of the
    earliest of the pipeline's other threads for `_pipe_time` (rest is that time when exact,
    else T when another thread can also act by T, else INF: unknown)."""
    first = S.pipe_first[p]
    n = S.pipe_n[p]
    i = S.pipe_rr[p]
    eff = S.eff
    if n <= 64:
        # the threads that can act as a bit mask (no branch per thread), rotated so that bit 0
        # is the round-robin pointer's; its lowest set bit is the thread. The earliest of the
        # threads that cannot act by T in the same pass (two chains; a minimum is exact in any
        # order)
        mask = np.uint64(0)
        f = np.uint64(first)
        un = np.uint64(n)
        h0 = h1 = INF
        j = np.uint64(0)
        while j + np.uint64(2) <= un:
            e0 = eff[f + j]
            e1 = eff[f + j + np.uint64(1)]
            a0 = e0 <= T
            a1 = e1 <= T
            mask |= (np.uint64(a0) << j) | (np.uint64(a1) << (j + np.uint64(1)))
            x0 = INF if a0 else e0
            x1 = INF if a1 else e1
            h0 = x0 if x0 < h0 else h0
            h1 = x1 if x1 < h1 else h1
            j += np.uint64(2)
        if j < un:
            e0 = eff[f + j]
            a0 = e0 <= T
            mask |= np.uint64(a0) << j
            x0 = INF if a0 else e0
            h0 = x0 if x0 < h0 else h0
        if mask == np.uint64(0):
            return -1, i, INF, False
        ni = np.uint64(n - i)
        rot = mask if i == 0 else (mask >> np.uint64(i)) | (mask << ni)
        k = i + np.int64(trailing_zeros(rot))
        if k >= n:
            k -= n
        S.pipe_rr[p] = k + 1 if k + 1 < n else 0
        if mask & (mask - np.uint64(1)) != np.uint64(0):
            return first + k, k, T, False     # another thread can act by T as well
        return first + k, k, (h1 if h1 < h0 else h0), True
    for _ in range(n):
        if eff[np.uint64(first + i)] <= T:
            S.pipe_rr[p] = i + 1 if i + 1 < n else 0
            return first + i, i, INF, False
        i += 1
        if i == n:
            i = 0
    return -1, i, INF, False


@njit(inline="always")
def _fail(S, err, tid, pc):
    S.sc[SC_ERR] = err
    S.sc[SC_ERR_TID] = tid
    S.sc[SC_ERR_PC] = pc
    S.sc[SC_RET] = RET_ERROR
    return RET_ERROR


@njit(inline="always")
def _arrive(S, kb, t):
    """A thread arrives at barrier kb at t; True when that completes the barrier (released)."""
    S.bar_i[kb, BI_ARRIVED] += 1
    if t > S.bar_f[kb]:
        S.bar_f[kb] = t
    if S.bar_i[kb, BI_ARRIVED] >= S.bar_i[kb, BI_ACTIVE]:
        _release(S, kb)
        return True
    return False


@njit(inline="always")
def _step_run(S, tid, p, T, t):
    """A running thread acts at T (its own time t): finishes its task, or executes its next trace
    row. Returns (acc, code, flags, addr, size, rebuild, error): acc 0 nothing for the memory
    system, 1 one load/store/atomic, 2 DMA copy, 3 DMA gather."""
    th_i = S.th_i
    th_f = S.th_f
    cnt = S.cnt
    pc = th_i[tid, TI_PC]
    if pc >= th_i[tid, TI_END]:
        # task finished: the thread asks for the next one
        th_f[tid, TF_BUSY] += t - th_f[tid, TF_TSTART]
        th_i[tid, TI_STATE] = ST_NEED
        th_f[tid, TF_READY] = t
        return 0, 0, 0, 0, 0, False, False
    if th_i[tid, TI_ROW_PC] == pc:
        w0 = th_i[tid, TI_ROW0]
        w1 = th_i[tid, TI_ROW1]
    else:
        w0 = S.ops[pc, 0]
        w1 = S.ops[pc, 1]
    code = w0 & 0xFF
    flags = (w0 >> 8) & 0xFF
    arg = w0 >> 16
    cnt[C_OPS] += 1
    th_i[tid, TI_PC] = pc + 1
    if code >= COMPUTE and code <= DMA_GATHER:
        th_f[tid, TF_STALL] += T - th_f[tid, TF_READY]
    if code == COMPUTE:
        S.free[S.pi[P_O_PIPE] + p] = T + arg
        S.pipe_instr[p] += arg
        cnt[C_INSTR] += arg
        th_f[tid, TF_READY] = T + arg
    elif code == LOAD or code == STORE or code == ATOMIC:
        addr = w1
        if code == ATOMIC:
            size = arg & 0xFFFFFFFF
            if size == 0:
                size = 8
            cnt[C_ATOMICS] += 1
            cnt[C_ATOMIC_BYTES] += size
        else:
            size = arg
            if code == LOAD:
                cnt[C_LOADS] += 1
                cnt[C_LOAD_BYTES] += size
            else:
                cnt[C_STORES] += 1
                cnt[C_STORE_BYTES] += size
        return 1, code, flags, addr, size, False, False
    elif code == DMA_COPY:
        th_i[tid, TI_PC] = pc + 2          # the destination row follows
        cnt[C_OPS] += 1
        return 2, code, flags, 0, 0, False, False
    elif code == DMA_GATHER:
        th_i[tid, TI_PC] = pc + 1 + (arg & 0xFFFFFFFF)
        cnt[C_OPS] += arg & 0xFFFFFFFF
        return 3, code, flags, 0, 0, False, False
    elif code == DMA_WAIT or code == WAIT:
        th_f[tid, TF_READY] = t           # the wait was part of eff
    elif code == BARRIER:
        kb = 0 if arg == 0 else 1 + th_i[tid, TI_CORE]
        th_i[tid, TI_STATE] = ST_BARRIER
        th_i[tid, TI_BAR] = kb
        th_i[tid, TI_RESUME] = ST_RUN
        th_f[tid, TF_READY] = t
        return 0, 0, 0, 0, 0, _arrive(S, kb, t), False
    else:
        _fail(S, ERR_OPCODE, tid, pc)
        return 0, 0, 0, 0, 0, False, True
    return 0, 0, 0, 0, 0, False, False


@njit(inline="always")
def _step_need(S, tid, t):
    """A thread that needs work acts at its time t: a fetch-add on its queue's token counter
    (dynamic scheduling), a stage barrier, the next task, a refill request, or leaving.
    Returns (acc, token address, rebuild, refill)."""
    th_i = S.th_i
    th_f = S.th_f
    q_i = S.q_i
    q = th_i[tid, TI_QUEUE]
    if q_i[q, QI_TOKEN] >= 0 and th_i[tid, TI_CREDIT] == 0:
        # dynamic scheduling: a fetch-add on the queue's counter, through the model
        S.cnt[C_ATOMICS] += 1
        S.cnt[C_ATOMIC_BYTES] += 8
        S.cnt[C_TOKEN_ATOMICS] += 1
        return 1, q_i[q, QI_TOKEN], False, False
    if ((q_i[q, QI_COUNT] > 0
         and S.q_task[q_i[q, QI_OFF] + q_i[q, QI_HEAD], QT_EPOCH] > th_i[tid, TI_EPOCH])
            or (q_i[q, QI_COUNT] == 0 and q_i[q, QI_EXHAUSTED] == 0 and q_i[q, QI_WEND] == 1
                and th_i[tid, TI_EPOCH] <= q_i[q, QI_EPOCH])):
        # the queue has moved on to its next stage, or its window is over and the next is taken
        # after the barrier: wait at the core's barrier until the core's other threads of the
        # phase have finished this stage (a fetch-add that found the stage over is spent: the
        # next stage needs a new one)
        kb = 1 + th_i[tid, TI_CORE]
        th_i[tid, TI_EPOCH] += 1
        th_i[tid, TI_CREDIT] = 0
        th_i[tid, TI_STATE] = ST_BARRIER
        th_i[tid, TI_BAR] = kb
        th_i[tid, TI_RESUME] = ST_NEED
        return 0, 0, _arrive(S, kb, t), False
    if q_i[q, QI_COUNT] > 0:
        h = q_i[q, QI_HEAD]
        j = q_i[q, QI_OFF] + h
        th_i[tid, TI_TASK] = S.q_task[j, QT_TASK]
        th_i[tid, TI_PC] = S.q_task[j, QT_START]
        th_i[tid, TI_END] = S.q_task[j, QT_END]
        th_i[tid, TI_MORE] = S.q_task[j, QT_MORE]
        _prefetch(S.ops.ctypes.data + S.q_task[j, QT_START] * 16)
        h += 1
        if h == q_i[q, QI_CAP]:
            h = 0
        q_i[q, QI_HEAD] = h
        q_i[q, QI_COUNT] -= 1
        th_i[tid, TI_CREDIT] = 0
        th_i[tid, TI_STATE] = ST_RUN
        th_i[tid, TI_TASKS] += 1
        th_f[tid, TF_TSTART] = t
        S.cnt[C_TASKS] += 1
        if q != th_i[tid, TI_HOME]:
            S.cnt[C_STEALS] += 1
        return 0, 0, False, False
    if q_i[q, QI_EXHAUSTED] == 0:
        S.sc[SC_RET] = RET_REFILL
        S.sc[SC_ARG] = q
        return 0, 0, False, True
    k = th_i[tid, TI_STEAL]
    home = th_i[tid, TI_HOME]
    nd = S.q_dry.shape[1]
    if nd > 1 and S.q_dry[1, q, q] >= INF:
        # q found dry for the first time: its notice reaches each queue's threads after its
        # way there (q_dry[0]); from then on their thieves skip q
        for h in range(nd):
            S.q_dry[1, h, q] = t + S.q_dry[0, h, q]
    while (k < S.q_steal.shape[1] and S.q_steal[home, k] >= 0
           and S.q_dry[1, home, S.q_steal[home, k]] <= t):
        k += 1
    if k < S.q_steal.shape[1] and S.q_steal[home, k] >= 0:
        # stealing: the queue is dry, the thread turns to the next queue of its home queue's
        # order not known to be dry and takes from it as from its own (a fetch-add on that
        # queue's counter first, remote, through the model: a dry victim costs the attempt)
        th_i[tid, TI_QUEUE] = S.q_steal[home, k]
        th_i[tid, TI_STEAL] = k + 1
        th_i[tid, TI_CREDIT] = 0
        return 0, 0, False, False
    # no more work: the thread leaves once its memory and DMA operations are done
    fin = t
    if th_f[tid, TF_ALL] > fin:
        fin = th_f[tid, TF_ALL]
    if th_f[tid, TF_DMA] > fin:
        fin = th_f[tid, TF_DMA]
    th_f[tid, TF_FINISH] = fin
    th_i[tid, TI_STATE] = ST_DONE
    kb = 1 + th_i[tid, TI_CORE]
    bar_i = S.bar_i
    bar_i[0, BI_ACTIVE] -= 1
    bar_i[kb, BI_ACTIVE] -= 1
    rebuild = False
    for k in (0, kb):
        if bar_i[k, BI_ARRIVED] > 0 and bar_i[k, BI_ARRIVED] >= bar_i[k, BI_ACTIVE]:
            _release(S, k)
            rebuild = True
    return 0, 0, rebuild, False


@njit(inline="always")
def _slots_free_at(S, tid, t):
    """When one of thread tid's outstanding-operation slots is free, not before t."""
    m = S.th_f[tid, TF_SLOT]
    return m if m > t else t


@njit(inline="always")
def _thread_next(S, tid):
    """Thread tid's earliest next action (eff[tid]): its ready time, later if that action depends
    on a load (DEP), on all its memory operations (FENCE, WAIT), on its DMAs (DMA_WAIT), or needs
    an outstanding-operation slot while all are taken (a slot frees when its own operation
    completes, in any order); INF when it has none. Keeps the trace row it reads (TI_ROW0, TI_ROW1)
    for the step and prefetches the next rows (the thread acts again only after many others)."""
    th_i = S.th_i
    th_f = S.th_f
    e_t = th_f[tid, TF_READY]
    st = th_i[tid, TI_STATE]
    if st == ST_RUN:
        pc = th_i[tid, TI_PC]
        if pc < th_i[tid, TI_END] or th_i[tid, TI_MORE] != 0:
            if pc + 4 < S.ops.shape[0]:
                _prefetch(S.ops.ctypes.data + (pc + 4) * 16)
            w0 = S.ops[pc, 0]
            th_i[tid, TI_ROW_PC] = pc
            th_i[tid, TI_ROW0] = w0
            th_i[tid, TI_ROW1] = S.ops[pc, 1]
            code = w0 & 0xFF
            fl = (w0 >> 8) & 0xFF
            if fl & DEP and th_f[tid, TF_LAST] > e_t:
                e_t = th_f[tid, TF_LAST]
            if fl & FENCE and th_f[tid, TF_ALL] > e_t:
                e_t = th_f[tid, TF_ALL]
            if code == LOAD or code == STORE or code == ATOMIC:
                e_t = _slots_free_at(S, tid, e_t)
            elif code == DMA_WAIT:
                if th_f[tid, TF_DMA] > e_t:
                    e_t = th_f[tid, TF_DMA]
            elif code == WAIT:
                if th_f[tid, TF_ALL] > e_t:
                    e_t = th_f[tid, TF_ALL]
    elif st != ST_NEED:
        e_t = INF
    S.eff[tid] = e_t


@njit(inline="always")
def _sift(hp_t, hp_i, n, i, t, s, x):
    """Put the entry (time t, sequence s, pipeline x) at slot i of the n-entry heap and sift it
    down to its place (the slot's old entry is overwritten)."""
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


@njit(inline="always")
def _min_eff(eff, first, n):
    """min(eff[first:first + n]) (INF when n is 0) without branches, in four independent chains
    (a minimum is exact in any order; unsigned indices: no negative-index wrap-around)."""
    k = np.uint64(first)
    end = k + np.uint64(n)
    m0 = m1 = m2 = m3 = INF
    while k + np.uint64(4) <= end:
        e0 = eff[k]
        e1 = eff[k + np.uint64(1)]
        e2 = eff[k + np.uint64(2)]
        e3 = eff[k + np.uint64(3)]
        m0 = e0 if e0 < m0 else m0
        m1 = e1 if e1 < m1 else m1
        m2 = e2 if e2 < m2 else m2
        m3 = e3 if e3 < m3 else m3
        k += np.uint64(4)
    while k < end:
        e0 = eff[k]
        m0 = e0 if e0 < m0 else m0
        k += np.uint64(1)
    m0 = m1 if m1 < m0 else m0
    m2 = m3 if m3 < m2 else m2
    return m2 if m2 < m0 else m0


@njit(inline="always")
def _pipe_time(S, p, T, tid, rest, exact):
    """Pipeline p's next event time after its thread tid acted at T: max(its issue slot's free
    time, its earliest thread), with what _pick_thread learnt (rest, exact) of its other threads:
    their earliest is rest when exact; when one of them could act by T too (rest = T) and the
    slot is busy beyond T, the slot decides; else a scan of the pipeline's threads."""
    pfree = S.free[S.pi[P_O_PIPE] + p]
    if exact:
        e = S.eff[tid]
        m = e if e < rest else rest
    elif rest < pfree:
        return pfree
    else:
        m = _min_eff(S.eff, S.pipe_first[p], S.pipe_n[p])
    return m if m > pfree else pfree


@njit(inline="always")
def _heap_update(S, p, m):
    """Pipeline p (at the heap's root) gets its next event time m: keep it on top if it is still
    the earliest (or within the horizon of the next one), else sift it down with a fresh seq
    (ties go round-robin between pipelines)."""
    hp_t = S.hp_t
    hp_i = S.hp_i
    nh = S.sc[SC_HEAP_N]
    if nh <= 1:
        hp_t[0] = m
        return
    mc = hp_t[1]
    if nh > 2 and hp_t[2] < mc:
        mc = hp_t[2]
    horizon = S.pf[F_HORIZON]
    if m < mc or (horizon > 0.0 and m <= mc + horizon):
        hp_t[0] = m
        return
    _yield_root(S, m, p)


@njit(inline="always")
def _yield_root(S, m, p):
    """Pipeline p, at the heap's root, takes its place by time m with a fresh seq (after the
    pipelines already waiting at m: ties go round-robin)."""
    s_new = S.sc[SC_SEQ]
    S.sc[SC_SEQ] += 1
    _sift(S.hp_t, S.hp_i, S.sc[SC_HEAP_N], 0, m, s_new, p)


@njit(inline="always")
def _ahead(S):
    """True when the pipeline at the heap's root is there only by the horizon: another pipeline's
    next event comes before its own (time, then seq)."""
    hp_t = S.hp_t
    hp_i = S.hp_i
    nh = S.sc[SC_HEAP_N]
    for c in range(1, 3 if nh > 2 else nh):
        if _before(hp_t[c], hp_i[c, 0], hp_t[0], hp_i[0, 0]):
            return True
    return False


# ================================================================================================
# Rare paths (not inlined; compiled without reference counting, as run_engine)

@njit
def _sift_down(hp_t, hp_i, n, i):
    _sift(hp_t, hp_i, n, i, hp_t[i], hp_i[i, 0], hp_i[i, 1])


@njit(inline="always")
def _pipe_key(S, p):
    """Next event of pipeline p: its earliest thread, but not before its issue slot is free."""
    m = _min_eff(S.eff, S.pipe_first[p], S.pipe_n[p])
    if m >= INF:
        return INF
    pfree = S.free[S.pi[P_O_PIPE] + p]
    return m if m > pfree else pfree


@njit(cache=True, _nrt=False)
def heap_rebuild(S):
    """Recompute every pipeline key in the heap and heapify (phase start, barrier release)."""
    sc = S.sc
    n = sc[SC_HEAP_N]
    for i in range(n):
        S.hp_t[i] = _pipe_key(S, S.hp_i[i, 1])
        S.hp_i[i, 0] = sc[SC_SEQ]
        sc[SC_SEQ] += 1
    for i in range(n // 2 - 1, -1, -1):
        _sift_down(S.hp_t, S.hp_i, n, i)


@njit(cache=True, _nrt=False)
def _release(S, k):
    """Barrier k is complete: its waiting threads go on after the barrier's cost."""
    th_i = S.th_i
    t = S.bar_f[k] + S.pf[F_BARRIER]
    for tid in range(th_i.shape[0]):
        if th_i[tid, TI_STATE] == ST_BARRIER and th_i[tid, TI_BAR] == k:
            th_i[tid, TI_STATE] = th_i[tid, TI_RESUME]
            S.th_f[tid, TF_READY] = t
            _thread_next(S, tid)
    S.bar_i[k, BI_ARRIVED] = 0
    S.bar_f[k] = 0.0
    S.cnt[C_BARRIERS] += 1


# ================================================================================================
# Address resolution and the channel map

@njit(inline="always")
def _resolve(S, m_addr, m_size):
    """Region id and offset of an encoded address, with its checks: (rid, off, error code)."""
    rid = m_addr >> 40
    off = m_addr & 0xFFFFFFFFFF
    if rid < 0 or rid >= S.pi[P_NREG]:
        return rid, off, ERR_REGION
    reg = S.reg
    lim = reg[rid, RG_SIZE] if reg[rid, RG_PER] == PER_NONE else reg[rid, RG_SLICE]
    if m_size <= 0:
        return rid, off, ERR_SIZE
    if off + m_size > lim:
        return rid, off, ERR_BOUNDS
    return rid, off, ERR_NONE


# ================================================================================================
# Resources: scratchpad, cache, DRAM channel, memory-side atomic unit, links

@njit(inline="always")
def _server(free, idx, t, occ):
    """FCFS server idx: a request arriving at t starts at max(t, next free), holds it occ."""
    s = free[idx]
    if t > s:
        s = t
    free[idx] = s + occ
    return s


@njit(inline="always")
def _request_bytes(pi, with_data, nbytes):
    """A request packet's bytes: its header, and its data when it carries some (a write, an
    atomic's operand)."""
    return pi[P_HDR] + (nbytes * pi[P_REQ_DATA] if with_data else 0)


@njit(inline="always")
def _link_slot(S, ln, t, occ):
    """Link ln takes a packet that reaches it at t and holds it occ cycles; returns when the
    packet starts on it. The link is a calendar of windows of F_NET_WINDOW cycles (a ring of
    NET_SLOTS of them), each with room for F_NET_WINDOW cycles of occupancy: the packet starts
    at t if its own window has room, else in the first later window with room, after what that
    window already holds (bursts within a window do not queue; a link cannot carry more than
    its bandwidth over a window, and a backlog delays by whole windows). Windows
    before nw_lo[ln] were found full, so a packet that arrives earlier starts its search there
    (a backlog longer than the ring stays FCFS). Why a calendar: packets reach a link out of
    time order (an access books its whole route, its reply at a future time, when it issues),
    and a next-free-time server would make earlier packets wait behind later ones."""
    q = S.pf[F_NET_WINDOW]
    inv = S.pf[F_NET_INV]
    w = np.int64(t * inv) if inv > 0.0 else np.int64(t / q)   # (a multiplication is faster)
    w0 = w
    lo = S.nw_lo[ln]
    if w < lo:
        w = lo
    for _ in range(NET_SLOTS):
        k = np.uint64(w & (NET_SLOTS - 1))
        ws = S.nw_i[ln, k]
        if ws > w:
            return t                       # beyond the calendar's reach: not contended
        if ws < w:
            S.nw_i[ln, k] = w
            S.nw_f[ln, k] = 0.0
        used = S.nw_f[ln, k]
        if used + occ <= q or used == 0.0:
            S.nw_f[ln, k] = used + occ
            if w == w0:
                return t                   # room in its own window: no wait
            return w * q + used            # after the backlog of the windows before
        if w == lo:
            lo += 1
            S.nw_lo[ln] = lo
        w += 1
    return w * q                           # (a ring of full windows: wait it out, unbooked)


@njit(inline="always")
def _net(S, src, dst, t, nbytes):
    """A packet of nbytes from router src to router dst, sent at t, along its precomputed route
    (links: injection port, mesh links, HyperX links, ejection port). Cut-through: the head
    takes each link when it has room (_link_slot), holds it bytes x cycles-per-byte and moves on
    after the link's latency; the tail follows, never faster than a link serializes. Returns
    when the tail reaches dst (t itself when src == dst)."""
    k = src * S.pi[P_ROUTERS] + dst
    a = S.rt_ptr[k]
    b = S.rt_ptr[k + 1]
    if a == b:
        return t
    S.cnt[C_NET_BYTES] += nbytes
    head = t
    tail = t
    for j in range(a, b):
        ln = S.rt_link[j]
        occ = nbytes * S.nl_cpb[ln]
        s = _link_slot(S, ln, head, occ)
        S.nl_queue[ln] += s - head
        S.nl_bytes[ln] += nbytes
        e = s + occ
        if tail > e:
            e = tail
        lat = S.nl_lat[ln]
        tail = e + lat
        head = s + lat
    return tail


@njit(inline="always")
def _spad_access(S, tid, core, die, lcore, rid, off, m_code, m_size, ta):
    """A scratchpad access from thread tid (core, die, local core) at ta: the network to the
    owning core (a request packet), its port, its bank(s), latency, and the reply packet (data,
    or a write's acknowledgement). Returns completion time."""
    pi = S.pi
    pf = S.pf
    cnt = S.cnt
    reg = S.reg
    per = reg[rid, RG_PER]
    tcore = reg[rid, RG_CORE]
    if tcore < 0:
        tcore = core
    slot = S.th_i[tid, TI_LOCAL] if per == PER_THREAD else 0
    phys = reg[rid, RG_BASE] + slot * reg[rid, RG_SLICE] + off
    atomic = m_code == ATOMIC
    is_write = m_code == STORE
    arr = ta
    src = 0
    dst = 0
    if tcore != core:
        cnt[C_REMOTE_SPAD] += 1
        tdie = tcore // pi[P_CPD]          # (a division: only for a remote core)
        if tdie != die:
            cnt[C_REMOTE_DIE] += 1
        src = die * pi[P_RPD] + lcore
        dst = tdie * pi[P_RPD] + tcore - tdie * pi[P_CPD]
        arr = _net(S, src, dst, ta, _request_bytes(pi, is_write or atomic, m_size))
    s = _server(S.free, pi[P_O_PORT] + tcore, arr, pf[F_PORT_OCC])
    ob = pi[P_O_BANK] + tcore * pi[P_BANKS]
    bw_shift = pi[P_BANKW_SHIFT]
    spad_lat = pf[F_SPAD_LAT]
    if atomic:
        cnt[C_SPAD_ATOMICS] += 1
        sb = _server(S.free, ob + _mod(phys >> bw_shift, pi[P_BANKS], pi[P_BANKS_MASK]), s,
                     pf[F_SA_OCC])
        S.cntf[CF_ATOMIC_STALL] += sb - arr
        fin = sb + spad_lat + pf[F_SA_LAT]
        cnt[C_SPAD_READS] += 1
        cnt[C_SPAD_WRITES] += 1
        cnt[C_SPAD_RD_BYTES] += m_size
        cnt[C_SPAD_WR_BYTES] += m_size
    else:
        w_0 = phys >> bw_shift
        nw = ((phys + m_size - 1) >> bw_shift) - w_0 + 1
        fin = s + spad_lat
        for w in range(nw):
            sb = _server(S.free, ob + _mod(w_0 + w, pi[P_BANKS], pi[P_BANKS_MASK]), s,
                         pf[F_BANK_OCC])
            if sb + spad_lat > fin:
                fin = sb + spad_lat
        S.cntf[CF_SPAD_QUEUE] += fin - spad_lat - arr
        if is_write:
            cnt[C_SPAD_WRITES] += 1
            cnt[C_SPAD_WR_BYTES] += m_size
        else:
            cnt[C_SPAD_READS] += 1
            cnt[C_SPAD_RD_BYTES] += m_size
    if tcore == core:
        return fin
    return _net(S, dst, src, fin, pi[P_HDR] + (0 if is_write else m_size))


@njit(inline="always")
def _dram_bytes(S, rid, wr, useful, xfer):
    """Count one DRAM transfer, in the totals and for its region."""
    cnt = S.cnt
    if wr:
        cnt[C_DRAM_WR_USEFUL] += useful
        cnt[C_DRAM_WR_XFER] += xfer
        S.reg_cnt[rid, RB_WR_USEFUL] += useful
        S.reg_cnt[rid, RB_WR_XFER] += xfer
    else:
        cnt[C_DRAM_RD_USEFUL] += useful
        cnt[C_DRAM_RD_XFER] += xfer
        S.reg_cnt[rid, RB_RD_USEFUL] += useful
        S.reg_cnt[rid, RB_RD_XFER] += xfer


@njit(inline="always")
def _dq_set(S, nd, ch, bank, drow, useful, xfer, wr, kind, rid, t):
    """Queue DRAM request nd of the current access (see DQ_*): where it goes (channel, bank,
    row), its bytes, kind and the time it leaves the core."""
    dq_i = S.dq_i
    dq_i[nd, DQ_CH] = ch
    dq_i[nd, DQ_BANK] = bank
    dq_i[nd, DQ_DROW] = drow
    dq_i[nd, DQ_USEFUL] = useful
    dq_i[nd, DQ_XFER] = xfer
    dq_i[nd, DQ_WRITE] = 1 if wr else 0
    dq_i[nd, DQ_KIND] = kind
    dq_i[nd, DQ_RID] = rid
    S.dq_f[nd] = t
    return nd + 1


@njit(inline="always")
def _dq_put(S, nd, phys, tdie, useful, xfer, wr, kind, rid, t):
    """Queue DRAM request nd for physical address phys (located by the address map)."""
    ch, bank, drow = dram_map(S.dram, phys, tdie)
    return _dq_set(S, nd, ch, bank, drow, useful, xfer, wr, kind, rid, t)


@njit(inline="always")
def _granules(pi, a, b):
    """Bytes moved for the bytes [a, b): whole access granules."""
    g = pi[P_GRAN_SHIFT]
    return (((b + (1 << g) - 1) >> g) - (a >> g)) << g


@njit(inline="always")
def _mc_atomic(S, rid, phys, tdie, m_size, ta):
    """An atomic done at the memory controller, by the channel's atomic unit, which holds the
    values of the last MA_SLOTS granules it operated on: on a miss it reads the operand from
    DRAM (and writes back the value it evicts for it; posted); on a hit the value is forwarded.
    Queues the DRAM requests (the eviction's write, then the atomic itself; see _dram_request)
    and returns how many."""
    pi = S.pi
    S.cnt[C_MC_ATOMICS] += 1
    xfer = _granules(pi, phys, phys + m_size)
    key = phys >> pi[P_GRAN_SHIFT]             # the unit holds values by (first) granule
    ch, bank, drow = dram_map(S.dram, phys, tdie)
    ma_i = S.ma_i
    slot = -1
    victim = 0
    for k in range(MA_SLOTS):
        if ma_i[ch, k, MI_ADDR] == key:
            slot = k
            break
        if S.ma_f[ch, k] < S.ma_f[ch, victim]:
            victim = k                  # the value left alone the longest
    nd = 0
    if slot < 0:
        slot = victim
        if ma_i[ch, slot, MI_ADDR] >= 0:
            nd = _dq_unit_writeback(S, 0, ch, slot, ta)
        ma_i[ch, slot, MI_ADDR] = key
        ma_i[ch, slot, MI_BANK] = bank
        ma_i[ch, slot, MI_DROW] = drow
        ma_i[ch, slot, MI_RID] = rid
        ma_i[ch, slot, MI_USEFUL] = m_size
        ma_i[ch, slot, MI_XFER] = xfer
        S.ma_f[ch, slot] = -INF
        hit = 0
    else:
        hit = 1
    _dq_set(S, nd, ch, bank, drow, m_size, xfer, False, RQ_ATOMIC, rid, ta)
    S.dq_i[nd, DQ_CSET] = hit
    S.dq_i[nd, DQ_WAY] = slot
    return nd + 1


@njit(inline="always")
def _dq_unit_writeback(S, nd, ch, slot, t):
    """Queue the write-back of the value an atomic unit holds in slot (posted)."""
    ma_i = S.ma_i
    return _dq_set(S, nd, ch, ma_i[ch, slot, MI_BANK], ma_i[ch, slot, MI_DROW],
                   ma_i[ch, slot, MI_USEFUL], ma_i[ch, slot, MI_XFER], True, RQ_UNIT,
                   ma_i[ch, slot, MI_RID], t)


@njit(inline="always")
def _split_uncached(S, rid, phys, tdie, m_size, is_write, ta):
    """An uncached access split at burst boundaries (one column command each), each piece
    rounded to the access granularity: DRAM requests 0.. (returns how many)."""
    burst_shift = S.pi[P_BURST_SHIFT]
    nd = 0
    pos = phys
    end = phys + m_size
    while pos < end and nd < DQ_CAP:
        cend = ((pos >> burst_shift) + 1) << burst_shift
        if cend > end:
            cend = end
        nd = _dq_put(S, nd, pos, tdie, cend - pos, _granules(S.pi, pos, cend), is_write,
                     RQ_PLAIN, rid, ta)
        pos = cend
    return nd


@njit(inline="always")
def _cache_access(S, tid, rid, cls, phys, tdie, m_size, is_write, ta):
    """Through thread tid's pipeline cache (set-associative LRU, write-back, write-allocate):
    hits are served here; misses queue a fill (and a dirty victim's write-back) as DRAM
    requests. Returns (completion time of the hits, number of DRAM requests)."""
    pi = S.pi
    ctag = S.ctag
    cnt = S.cnt
    cls_cnt = S.cls_cnt
    lshift = pi[P_LSHIFT]
    line = pi[P_LINE]
    sets = pi[P_SETS]
    ways = pi[P_WAYS]
    cache_lat = S.pf[F_CACHE_LAT]
    done = ta
    nd = 0
    first_ln = phys >> lshift
    last_ln = (phys + m_size - 1) >> lshift
    pipe_g = S.th_i[tid, TI_PIPE]
    for ln in range(first_ln, last_ln + 1):
        lo = ln << lshift
        a_ = phys if phys > lo else lo
        b_ = phys + m_size
        if b_ > lo + line:
            b_ = lo + line
        nbytes = b_ - a_
        row = pipe_g * sets + _mod(ln, sets, pi[P_SETS_MASK])
        S.sc[SC_STAMP] += 1
        stamp = S.sc[SC_STAMP]
        hit = -1
        for w in range(ways):
            if ctag[row, w, CW_TAG] == ln:
                hit = w
                break
        if hit >= 0:
            ctag[row, hit, CW_STAMP] = stamp
            d = ta + cache_lat
            if S.cready[row, hit] > d:
                d = S.cready[row, hit]
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
            line_xfer = _granules(pi, lo, lo + line)
            if ctag[row, victim, CW_TAG] >= 0 and ctag[row, victim, CW_DIRTY] > 0:
                dirty = ctag[row, victim, CW_DIRTY]
                if dirty > line:
                    dirty = line
                cnt[C_WRITEBACKS] += 1
                cnt[C_DRAM_WB_USEFUL] += dirty
                _dq_victim(S, nd, row, victim, dirty, line_xfer, ta + cache_lat)
                nd += 1
            # the fill: the access's own bytes are useful, the rest prefetched
            nd = _dq_put(S, nd, lo, tdie, 0 if is_write else nbytes, line_xfer, False, RQ_FILL,
                         rid, ta + cache_lat)
            S.dq_i[nd - 1, DQ_CSET] = row
            S.dq_i[nd - 1, DQ_WAY] = victim
            ctag[row, victim, CW_TAG] = ln
            ctag[row, victim, CW_STAMP] = stamp
            ctag[row, victim, CW_CH] = S.dq_i[nd - 1, DQ_CH]
            ctag[row, victim, CW_BANK] = S.dq_i[nd - 1, DQ_BANK]
            ctag[row, victim, CW_DROW] = S.dq_i[nd - 1, DQ_DROW]
            ctag[row, victim, CW_RID] = rid
            if is_write:
                ctag[row, victim, CW_DIRTY] = nbytes
                cnt[C_CACHE_WR_BYTES] += nbytes
            else:
                ctag[row, victim, CW_DIRTY] = 0
    return done, nd


@njit(inline="always")
def _dq_victim(S, nd, row, way, dirty, xfer, t):
    """Queue the write-back of a dirty line (its DRAM location kept in its tag)."""
    ctag = S.ctag
    _dq_set(S, nd, ctag[row, way, CW_CH], ctag[row, way, CW_BANK], ctag[row, way, CW_DROW],
            dirty, xfer, True, RQ_PLAIN, ctag[row, way, CW_RID], t)


@njit(inline="always")
def _atomic_unit(S, gch, slot, arr, data):
    """The memory-side atomic unit of channel gch: operations enter it one per interval
    (different addresses pipeline); one whose address the unit holds (slot) starts when the
    previous one on that address has held it its occupancy (same-address operations serialize,
    the value forwarded); one it does not hold starts when its DRAM read arrives (data).
    Returns the time the result is ready."""
    pf = S.pf
    s = _server(S.free, S.pi[P_O_MA] + gch, arr, pf[F_MA_INTERVAL])
    e = s if s > data else data
    if S.ma_f[gch, slot] > e:
        e = S.ma_f[gch, slot]
    if not S.dram.ip[DI_FAULT] & FAULT_NO_MA_OCC:     # (tests break it on purpose)
        S.ma_f[gch, slot] = e + pf[F_MA_OCC]
    S.cntf[CF_ATOMIC_STALL] += e - arr
    return e + pf[F_MA_LAT]


@njit(inline="always")
def _dram_request(S, die, lcore, k):
    """DRAM request k of the current access: the request packet to its channel's router (header,
    and the data of a write or an atomic), the DRAM model (or the atomic unit), the reply packet
    back (header and data; a write's acknowledgement is a header). Returns when the requester
    has its data (a read, an atomic's result) or its acknowledgement (a write)."""
    pi = S.pi
    pf = S.pf
    cnt = S.cnt
    dq_i = S.dq_i
    gch = dq_i[k, DQ_CH]
    useful = dq_i[k, DQ_USEFUL]
    xfer = dq_i[k, DQ_XFER]
    wr = dq_i[k, DQ_WRITE]
    kind = dq_i[k, DQ_KIND]
    tk = S.dq_f[k]
    src = die * pi[P_RPD] + lcore
    dst = S.chan_router[gch]
    if kind == RQ_UNIT:
        src = dst                    # already at the controller
    elif _div(gch, pi[P_CHPD], pi[P_CHPD_SHIFT]) != die:
        cnt[C_REMOTE_DIE] += 1
    data = xfer if kind == RQ_FILL else useful    # a fill brings its line; else the bytes asked
    arr = _net(S, src, dst, tk, _request_bytes(pi, wr == 1 or kind == RQ_ATOMIC, data))
    x = arr
    if kind != RQ_ATOMIC or dq_i[k, DQ_CSET] == 0:        # an atomic's hit reads nothing
        x = dram_access(S.dram, gch, dq_i[k, DQ_BANK], dq_i[k, DQ_DROW], wr, arr, xfer)
        cnt[C_DRAM_REQS] += 1
        _dram_bytes(S, dq_i[k, DQ_RID], wr == 1, useful, xfer)
    if kind == RQ_ATOMIC:
        x = _atomic_unit(S, gch, dq_i[k, DQ_WAY], arr, x)
    fin = _net(S, dst, src, x, pi[P_HDR] + (0 if wr == 1 else data))
    if kind == RQ_FILL:
        S.cready[dq_i[k, DQ_CSET], dq_i[k, DQ_WAY]] = fin
    return fin


@njit(inline="always")
def _dram_access(S, tid, core, die, lcore, rid, off, m_code, m_size, ta, uncached):
    """A DRAM access: at the memory controller (atomics), uncached, or through the cache; the
    DRAM requests it makes go to their channels. Returns completion time (ERR_SIZE is raised
    for a single access too large for the request scratch: bulk transfers use DMA)."""
    pi = S.pi
    reg = S.reg
    tdie = reg[rid, RG_DIE]
    if tdie == DIE_LOCAL:
        tdie = die
    elif tdie == DIE_SPLIT:              # the die whose part of the region holds the offset
        tdie = 0
        while off >= S.dsplit[rid, tdie + 1]:
            tdie += 1
    per = reg[rid, RG_PER]
    slot = 0
    if per == PER_THREAD:
        slot = tid
    elif per == PER_CORE:
        slot = core
    phys = reg[rid, RG_BASE] + slot * reg[rid, RG_SLICE] + off
    cls = reg[rid, RG_CLS]
    if (m_size >> pi[P_LSHIFT]) + 2 > DQ_CAP // 2 or (m_size >> pi[P_BURST_SHIFT]) + 2 > DQ_CAP:
        S.sc[SC_ERR] = ERR_SIZE
        return ta
    is_write = m_code == STORE
    done = ta
    if m_code == ATOMIC:
        nd = _mc_atomic(S, rid, phys, tdie, m_size, ta)
    elif uncached or pi[P_HAS_CACHE] == 0 or (pi[P_BYPASS] >> cls) & 1:
        if not uncached:
            S.cls_cnt[cls, CL_BYPASS] += 1
        nd = _split_uncached(S, rid, phys, tdie, m_size, is_write, ta)
    else:
        done, nd = _cache_access(S, tid, rid, cls, phys, tdie, m_size, is_write, ta)
    for k in range(nd):
        fin = _dram_request(S, die, lcore, k)
        if fin > done:
            done = fin
    return done


# ================================================================================================
# DMA

@njit(inline="always")
def _dma_begin(S, core, pc, acc, t):
    """A DMA descriptor enters core's engine at t (later if its queue is full), the engine
    streams its bytes. Returns (time its chunks start, enqueue time, source, destination,
    total bytes, element bytes, number of accesses, queue head, queue count)."""
    pi = S.pi
    dring = S.dring
    dmaq = pi[P_DMAQ]
    burst_shift = pi[P_BURST_SHIFT]
    dh = S.dma_i[core, 0]
    dc = S.dma_i[core, 1]
    while dc > 0 and dring[core, dh] <= t:
        dh += 1
        if dh == dmaq:
            dh = 0
        dc -= 1
    if dc == dmaq:
        S.cntf[CF_DMA_STALL] += dring[core, dh] - t
        t = dring[core, dh]
        dh += 1
        if dh == dmaq:
            dh = 0
        dc -= 1
    ops = S.ops
    d_src = 0
    d_eb = 0
    if acc == 2:
        d_src = ops[pc, 1]
        d_total = ops[pc, 0] >> 16
        d_dst = ops[pc + 1, 1]
        n_chunks = 0
        if d_total > 0:
            n_chunks = ((d_src + d_total - 1) >> burst_shift) - (d_src >> burst_shift) + 1
    else:
        d_dst = ops[pc, 1]
        d_eb = ops[pc, 0] >> 48
        n_chunks = (ops[pc, 0] >> 16) & 0xFFFFFFFF
        d_total = d_eb * n_chunks
    s0 = _server(S.free, pi[P_O_DMA] + core, t, d_total * S.pf[F_DMA_CPB])
    S.cnt[C_DMA_OPS] += 1
    S.cnt[C_DMA_BYTES] += d_total
    return s0 + S.pf[F_DMA_SETUP], t, d_src, d_dst, d_total, d_eb, 2 * n_chunks, dh, dc


@njit(inline="always")
def _dma_chunk(S, acc, r, pc, d_src, d_dst, d_total, d_eb, d_pos, d_n, t_dma, prev):
    """Access r of a DMA: even r reads a chunk (the part of a copy within one DRAM burst, or one
    gather element) at the engine's time, odd r writes it once read. Returns (code, address,
    size, time, position, chunk bytes, engine time)."""
    burst_shift = S.pi[P_BURST_SHIFT]
    dma_cpb = S.pf[F_DMA_CPB]
    if acc == 2:
        if r % 2 == 0:
            a0 = d_src + d_pos
            d_n = (((a0 >> burst_shift) + 1) << burst_shift) - a0
            if d_n > d_total - d_pos:
                d_n = d_total - d_pos
            return LOAD, a0, d_n, t_dma, d_pos, d_n, t_dma
        return STORE, d_dst + d_pos, d_n, prev, d_pos + d_n, d_n, t_dma + d_n * dma_cpb
    e = r // 2
    if r % 2 == 0:
        return LOAD, S.ops[pc + 1 + e, 1], d_eb, t_dma, d_pos, d_n, t_dma
    return STORE, d_dst + e * d_eb, d_eb, prev, d_pos, d_n, t_dma + d_eb * dma_cpb


# ================================================================================================
# One memory instruction

@njit(inline="always")
def _memory_op(S, tid, p, T, st, acc, m_code, m_flags, m_addr, m_size, pc):
    """The instruction issues at T on pipeline p; its accesses (one, or a DMA's chunks) reach
    the memory system from T + 1; the thread's side is updated with their completion. Returns
    False on an invalid access (sc[SC_ERR] set)."""
    pi = S.pi
    th_i = S.th_i
    th_f = S.th_f
    S.free[pi[P_O_PIPE] + p] = T + 1.0
    S.pipe_instr[p] += 1
    S.cnt[C_INSTR] += 1
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
        t_dma, t_enq, d_src, d_dst, d_total, d_eb, n_acc, dh, dc = _dma_begin(S, core, pc, acc, t_dma)
    done_all = T + 1.0
    prev = T + 1.0
    for r in range(n_acc):
        ta = T + 1.0
        if acc >= 2:
            m_code, m_addr, m_size, ta, d_pos, d_n, t_dma = _dma_chunk(
                S, acc, r, pc, d_src, d_dst, d_total, d_eb, d_pos, d_n, t_dma, prev)
        rid, off, err = _resolve(S, m_addr, m_size)
        if err != ERR_NONE:
            S.sc[SC_ERR] = err
            break
        if S.reg[rid, RG_KIND] == K_SPAD:
            done = _spad_access(S, tid, core, die, lcore, rid, off, m_code, m_size, ta)
        else:
            done = _dram_access(S, tid, core, die, lcore, rid, off, m_code, m_size, ta, acc >= 2)
            if S.sc[SC_ERR] != ERR_NONE:
                break
        prev = done
        if done > done_all:
            done_all = done
    if S.sc[SC_ERR] != ERR_NONE:
        S.sc[SC_ERR_TID] = tid
        S.sc[SC_ERR_PC] = pc if st == ST_RUN else -1
        S.sc[SC_RET] = RET_ERROR
        return False
    # ---- the thread's side
    if acc >= 2:
        dmaq = pi[P_DMAQ]
        slot = dh + dc
        if slot >= dmaq:
            slot -= dmaq
        S.dring[core, slot] = done_all
        S.dma_i[core, 0] = dh
        S.dma_i[core, 1] = dc + 1
        if done_all > th_f[tid, TF_DMA]:
            th_f[tid, TF_DMA] = done_all
        th_f[tid, TF_READY] = t_enq      # later than T + 1 only if the queue was full
    elif st == ST_RUN:
        r = S.ring[np.uint64(tid)]               # (unsigned: no negative-index wrap-around)
        r[np.uint64(th_i[tid, TI_SLOT])] = done_all  # the slot that frees first (free by T)
        slot = np.uint64(0)                          # ... and the next one to free
        m = r[0]
        for k in range(np.uint64(1), np.uint64(r.shape[0])):
            if r[k] < m:
                m = r[k]
                slot = k
        th_i[tid, TI_SLOT] = slot
        th_f[tid, TF_SLOT] = m
        if done_all > th_f[tid, TF_ALL]:
            th_f[tid, TF_ALL] = done_all
        if m_code == LOAD or (m_code == ATOMIC and not m_flags & NORET):
            th_f[tid, TF_LAST] = done_all
        th_f[tid, TF_READY] = T + 1.0
    else:
        th_i[tid, TI_CREDIT] = 1     # the token's value is needed before the task starts
        th_f[tid, TF_READY] = done_all
    return True


# ================================================================================================
# The run loop

@njit(cache=True, _nrt=False)
def run_engine(S):
    """Advance the simulation until the phase ends (RET_DONE), a task queue must be refilled
    (RET_REFILL, queue id in sc[SC_ARG]), a thread needs the next rows of its task's trace
    (RET_SEGMENT, thread id in sc[SC_ARG]) or an operation is invalid (RET_ERROR).

    Issue: the earliest pipeline issues at its time T from the first of its threads (round-robin)
    that can act by T. A load/store/atomic reaches the memory system at T + 1; the thread goes on
    at T + 1 (non-blocking) unless a later operation depends on it. Actions that issue no
    instruction (taking a task, waits, barriers) happen at the thread's own time.
    """
    while S.sc[SC_HEAP_N] > 0:
        if S.sc[SC_BIND] != 0:
            if _bind(S, S.sc[SC_BIND] - 1, S.hp_i[0, 1]):
                return RET_REFILL
            continue
        T = S.hp_t[0]
        if T >= INF:
            break
        p = S.hp_i[0, 1]
        tid, i, rest, exact = _pick_thread(S, p, T)
        if tid < 0:
            return _fail(S, ERR_ENGINE, S.pipe_first[p], -1)
        st = S.th_i[tid, TI_STATE]
        t = S.eff[tid]
        pc = S.th_i[tid, TI_PC]
        if st == ST_RUN:
            if pc >= S.th_i[tid, TI_END] and S.th_i[tid, TI_MORE] != 0:
                S.pipe_rr[p] = i          # the rest of its trace first, then the same thread
                S.sc[SC_RET] = RET_SEGMENT
                S.sc[SC_ARG] = tid
                return RET_SEGMENT
            acc, m_code, m_flags, m_addr, m_size, rebuild, bad = _step_run(S, tid, p, T, t)
            if bad:
                return RET_ERROR
        else:  # ST_NEED
            if _ahead(S):
                # taking work is order-sensitive (which task a fetch-add gets, which queue is
                # found dry): never served ahead of another pipeline's earlier event
                S.pipe_rr[p] = i
                _yield_root(S, T, p)
                continue
            acc, m_addr, rebuild, refill = _step_need(S, tid, t)
            if refill:
                S.pipe_rr[p] = i          # pick the same thread again after the refill
                return RET_REFILL
            m_code = ATOMIC
            m_flags = 0
            m_size = 8
        if acc != 0:
            if not _memory_op(S, tid, p, T, st, acc, m_code, m_flags, m_addr, m_size, pc):
                return RET_ERROR
            if st == ST_NEED:
                # the counter's value names the task: bound now, in the order the counter serves
                # the fetch-adds (the order they are issued in), taken up when the reply arrives
                if _bind(S, tid, p):
                    return RET_REFILL
                continue
        _thread_next(S, tid)
        if rebuild:
            heap_rebuild(S)
            continue
        _heap_update(S, p, _pipe_time(S, p, T, tid, rest, exact))
    S.sc[SC_RET] = RET_DONE
    return RET_DONE


@njit(inline="always")
def _bind(S, tid, p):
    """Thread tid of pipeline p (the heap's root), whose token fetch-add was just served, takes
    the task the counter's value names, at the reply's time; then p's heap entry is updated.
    True when the queue must be refilled first (sc[SC_BIND] set: retried on resuming)."""
    _, _, rebuild, refill = _step_need(S, tid, S.th_f[tid, TF_READY])
    if refill:
        S.sc[SC_BIND] = tid + 1
        return True
    S.sc[SC_BIND] = 0
    _thread_next(S, tid)
    if rebuild:
        heap_rebuild(S)
    else:
        _heap_update(S, p, _pipe_key(S, p))
    return False


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


@njit(cache=True, _nrt=False)
def flush_caches(S, t):
    """Write back every dirty cache line and every value the memory-side atomic units hold (the
    software flush that publishes a phase's results on a non-coherent machine), posted at t as
    DRAM requests (`_dram_request`): a cache's lines as write packets from its core's router to
    their channels', acknowledged, like a dirty victim's write-back; an atomic unit's values at
    their controller. Returns when the last is acknowledged (run_phase then drains the DRAM
    write buffers)."""
    pi = S.pi
    ctag = S.ctag
    line = pi[P_LINE]
    done = t
    if pi[P_HAS_CACHE]:
        for row in range(ctag.shape[0]):
            core = row // pi[P_SETS] // pi[P_PPC]
            die = core // pi[P_CPD]
            for w in range(ctag.shape[1]):
                if ctag[row, w, CW_TAG] >= 0 and ctag[row, w, CW_DIRTY] > 0:
                    dirty = ctag[row, w, CW_DIRTY]
                    if dirty > line:
                        dirty = line
                    lo = ctag[row, w, CW_TAG] << pi[P_LSHIFT]
                    _dq_victim(S, 0, row, w, dirty, _granules(pi, lo, lo + line), t)
                    x = _dram_request(S, die, core - die * pi[P_CPD], 0)
                    if x > done:
                        done = x
                    S.cnt[C_WRITEBACKS] += 1
                    S.cnt[C_DRAM_WB_USEFUL] += dirty
                    ctag[row, w, CW_DIRTY] = 0
    ma_i = S.ma_i
    for ch in range(ma_i.shape[0]):
        for k in range(MA_SLOTS):
            if ma_i[ch, k, MI_ADDR] >= 0:
                _dq_unit_writeback(S, 0, ch, k, t)
                x = _dram_request(S, 0, 0, 0)           # at the controller: no network
                if x > done:
                    done = x
                ma_i[ch, k, MI_ADDR] = -1
                S.ma_f[ch, k] = -INF
    return done
