"""The Python face of the timing engine: regions, phases, schedulers, lazy task traces, results.

    sim = Simulation(load_config("piuma-die"))
    a = sim.dram_region("A.indices", nbytes, access_class="stream")
    h = sim.spad_region("hash", 4096, per="thread")          # each thread's own slice of its SPAD
    sim.run_phase(Phase("hashing", n_tasks, generate, DynamicTokens()))
    result = sim.result()

`generate(task_ids)` returns `(ops, ptr)`: the traces of those tasks concatenated (int64, shape
(n, 2), see `simulator.machine.trace`) and `ptr` (int64, len(task_ids) + 1) with task i's rows
at `ops[ptr[i]:ptr[i+1]]`. It is called lazily, a few tasks ahead of the threads that will run
them, in batches of about `arena_ops / 16` rows and never more than `arena_ops / 8` rows ahead.
Traces wait in a `TraceArena` of about `arena_ops` rows (16 bytes each) that keeps the rest of
long tasks in a temporary file until their threads get there, so memory stays bounded whatever
the number and size of the tasks, and results do not depend on `arena_ops`.
"""
from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence, Union

import numpy as np

from simulator.machine import engine as E
from simulator.machine.arena import TraceArena, queued_entries
from simulator.machine.config import ACCESS_CLASSES, MachineConfig
from simulator.machine.dram import drain_all
from simulator.machine.dram import new_state as new_dram_state
from simulator.machine.results import SimResult
from simulator.machine.trace import ADDR_SHIFT, ARG_SHIFT, OFFSET_MASK, OP_NAMES, OP_WIDTH

log = logging.getLogger(__name__)

Generator = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray]"]

#: Trace rows (16 bytes each) a simulation keeps in memory by default: 256 MiB.
DEFAULT_ARENA_OPS = 1 << 24


@dataclass(frozen=True)
class Region:
    """A named piece of the global address space. Offsets are bytes from the region's start
    (from the start of the executing thread's / core's slice when `per` is set)."""
    id: int
    name: str
    kind: str                 # "dram" or "spad"
    size_bytes: int           # whole region, or one slice when per is set
    access_class: str         # DRAM only: decides cache bypass
    die: Union[int, str, tuple]   # DRAM: "all" (interleaved), "local", a die index, or the
                                  # byte offsets splitting it over the dies (len dies + 1)
    core: Union[int, str]     # SPAD: "local" or a core index
    per: str | None           # None, "thread" or "core"

    @property
    def base(self) -> int:
        """Encoded address of offset 0: add byte offsets to it (also from numba code)."""
        return self.id << ADDR_SHIFT

    def addr(self, offset):
        """Encoded address(es) of byte offset(s) in this region."""
        if isinstance(offset, np.ndarray):
            return (offset.astype(np.int64) & OFFSET_MASK) | self.base
        return self.base | int(offset)


# ---- schedulers ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class StaticWindows:
    """Each thread gets a contiguous window of task ids, split evenly by count or, given a
    per-task `cost`, by cumulative cost; or given explicit `bounds` (len(threads) + 1)."""
    cost: np.ndarray | None = None
    bounds: np.ndarray | None = None
    lookahead: int = 2        # tasks generated ahead of each thread


@dataclass(frozen=True)
class StaticLists:
    """Thread i of the phase runs the task ids in `lists[i]`, in order."""
    lists: Sequence[np.ndarray]
    lookahead: int = 2


@dataclass(frozen=True)
class DynamicTokens:
    """Threads take `chunk` tasks at a time from a shared queue by an atomic fetch-add on a
    counter (in the scratchpad of core 0 / of the queue's core, or in DRAM if `counter="dram"`
    or the machine has no scratchpad). `scope` "core" or "die" gives each core / die its own
    queue over a window of the tasks (split by `cost` when given, or at explicit `bounds`, one
    window per queue in core / die order). `steal`: a thread whose queue runs dry turns to the
    other queues in its queue's steal order (nearest die first, see `steal_order`) and takes
    from them as from its own, a fetch-add on their counter each (remote: it pays the network);
    tasks taken from another queue count as `steals`. The first thread to find a queue dry
    posts a notice to every other queue's core (one 8-byte write per queue, assumed free:
    not modelled but for its latency, the die-to-die hops x the link latency); thieves skip
    the queues they know are dry (a flag read in their own scratchpad, not modelled), so a
    die's hundreds of idle threads do not each pay a remote fetch-add on every dry die."""
    chunk: int = 1
    scope: str = "machine"
    counter: str = "spad"
    cost: np.ndarray | None = None
    lookahead: int | None = None   # work units generated ahead per queue (default 2 x its threads)
    bounds: np.ndarray | None = None
    steal: bool = False


@dataclass(frozen=True)
class Windows:
    """Tasks grouped in windows that run core by core (SMASH's window distribution).

    `bounds` (len n_windows + 1, from 0 to n_tasks) cuts the task ids into contiguous windows;
    `stage` (one value per task, non-decreasing within each window; default all 0) cuts a window
    into stages. A window goes to one core, and the core's threads of the phase split it; they
    pass a core barrier between stages and between windows, so no thread starts a stage before
    the core's threads have finished every task of the one before (e.g. inserts into a shared
    table, barrier, write-back of the table, barrier, next window).

    assign: "static" (windows dealt to the phase's cores in contiguous runs of about equal
    `cost`, one value per window) or "dynamic" (a core takes the next window when its threads
    have finished the current one and passed the core's barrier, in the order cores get there;
    `order` "index" or "heaviest" first by `cost`). The cost of claiming a window on the machine (e.g. a fetch-add on a
    shared counter) belongs in the trace of the window's first task: the scheduler only decides.
    home: each window's die (where its rows' data live). Static: a die's windows go to that
    die's cores. Dynamic: each die has its own pool; a core whose die's pool is empty takes from
    the other dies' pools in its die's steal order (`steal_order`; counted as `steals`).
    within: "dynamic" (the core's threads take one task at a time by a fetch-add on a counter
    in the core's scratchpad, through the model) or "static" (each stage's tasks dealt to the
    core's threads in contiguous runs of about equal `task_cost`, or equal count).
    """
    bounds: np.ndarray
    stage: np.ndarray | None = None
    assign: str = "dynamic"
    order: str = "index"
    cost: np.ndarray | None = None
    within: str = "dynamic"
    task_cost: np.ndarray | None = None
    lookahead: int | None = None   # tasks generated ahead per queue (default 2 x its threads)
    home: np.ndarray | None = None   # each window's die (None: all die 0's); see below


Schedule = Union[StaticWindows, StaticLists, DynamicTokens, Windows]


@dataclass
class Phase:
    """A list of tasks run by a set of threads, ended by a barrier."""
    name: str
    n_tasks: int
    generate: Generator
    schedule: Schedule = DynamicTokens()
    threads: Sequence[int] | np.ndarray | None = None   # global thread ids; default all


@dataclass(frozen=True)
class PhaseRecord:
    name: str
    start_cycles: float
    work_end_cycles: float       # last thread's last operation completes
    end_cycles: float            # after the cache flush and the closing barrier
    tasks: int
    host_seconds: float
    window_cores: np.ndarray | None = None   # Windows schedules: the core each window ran on
    threads: int = 0                  # threads that took part
    busy_cycles: float = 0.0          # their busy cycles in this phase, summed

    @property
    def cycles(self) -> float:
        return self.end_cycles - self.start_cycles

    @property
    def busy_cycles_mean(self) -> float:
        """Mean busy cycles of the phase's threads (its throughput part, without the tail)."""
        return self.busy_cycles / self.threads if self.threads else 0.0


def split_by_cost(n_tasks: int, parts: int, cost: np.ndarray | None = None) -> np.ndarray:
    """Boundaries (len parts + 1) splitting tasks 0..n-1 into contiguous windows of equal
    count, or of about equal cumulative cost (cumsum + searchsorted)."""
    if cost is None:
        return np.linspace(0, n_tasks, parts + 1).round().astype(np.int64)
    cost = np.asarray(cost, dtype=np.float64)
    if cost.shape != (n_tasks,):
        raise ValueError(f"cost: expected {n_tasks} values, got shape {cost.shape}")
    cum = np.concatenate([[0.0], np.cumsum(cost)])
    targets = np.linspace(0, cum[-1], parts + 1)
    b = np.searchsorted(cum, targets, side="left").astype(np.int64)
    b[0], b[-1] = 0, n_tasks
    return np.maximum.accumulate(b)


class _Sources:
    """Python side of a phase's task queues, flat: queue q serves ids[beg[q]:end[q]] in order,
    in units of chunk[q] tasks; cur[q] is the next id not yet generated; epoch[k] is the stage
    number of entry k within its queue (a core barrier between stages; see `Windows`).

    With a `pool` (dynamic windows), a queue that has generated all its ids takes the next
    window of the pool when the engine asks it for work (`take_window`)."""

    def __init__(self, lists: list[np.ndarray], chunk: int, epochs: list[np.ndarray] | None = None,
                 pool: "_WindowPool | None" = None) -> None:
        lens = np.array([len(x) for x in lists], dtype=np.int64)
        self.ids = (np.concatenate(lists).astype(np.int64) if lists and lens.sum()
                    else np.zeros(0, dtype=np.int64))
        self.epoch = (np.concatenate(epochs).astype(np.int64) if epochs is not None and lens.sum()
                      else np.zeros(self.ids.size, dtype=np.int64))
        self.beg = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        self.end = self.beg + lens
        self.cur = self.beg.copy()
        self.chunk = np.full(len(lists), chunk, dtype=np.int64)
        self.pool = pool
        self.next_epoch = np.zeros(len(lists), dtype=np.int64)

    def __len__(self) -> int:
        return self.beg.size

    def remaining_units(self) -> np.ndarray:
        return -(-(self.end - self.cur) // self.chunk)

    def exhausted(self, q: np.ndarray) -> np.ndarray:
        done = self.cur[q] >= self.end[q]
        if self.pool is not None and self.pool.remaining():
            done[:] = False
        return done

    def take_window(self, q: int) -> bool:
        """Queue q (all its ids generated) takes the pool's next window; False if none is left."""
        if self.pool is None or self.cur[q] < self.end[q]:
            return False
        got = self.pool.take(q)
        if got is None:
            return False
        ids, stage = got
        ep = self.next_epoch[q] + _dense_rank(stage)
        self.next_epoch[q] = int(ep[-1]) + 1
        # keep only the ids still to generate (every queue's rest), then the new window
        live = [(self.cur[k], self.end[k]) for k in range(len(self))]
        parts = [self.ids[a:b] for a, b in live] + [ids.astype(np.int64)]
        eparts = [self.epoch[a:b] for a, b in live] + [ep]
        lens = np.array([b - a for a, b in live], dtype=np.int64)
        self.ids = np.concatenate(parts)
        self.epoch = np.concatenate(eparts)
        self.cur = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        self.end = self.cur + lens
        self.beg = self.cur.copy()
        self.cur[q] = self.beg[q] = int(lens.sum())
        self.end[q] = self.ids.size
        return True


class _WindowPool:
    """The windows not yet taken by any core (dynamic assignment), in the order they go out:
    one pool per die (the windows whose `home` is that die); a queue (core) takes from its die's
    pool, then from the other dies' pools in its die's steal order (`order[die]`)."""

    def __init__(self, windows: list[tuple[np.ndarray, np.ndarray]], index: np.ndarray,
                 on_take: Callable[[int, int], None], home: np.ndarray | None = None,
                 queue_die: np.ndarray | None = None, order: np.ndarray | None = None) -> None:
        self.windows = windows
        self.index = index            # each window's number in the phase
        self.on_take = on_take        # told (window number, queue) as windows go out
        home_k = np.zeros(len(windows), np.int64) if home is None else np.asarray(home)[index]
        ndies = int(home_k.max()) + 1 if home_k.size else 1
        self.pools = [np.flatnonzero(home_k == d) for d in range(ndies)]
        self.next = np.zeros(ndies, dtype=np.int64)
        self.queue_die = queue_die
        self.order = np.zeros((1, 1), np.int64) if order is None else order
        self.steals = 0               # windows taken from another die's pool

    def remaining(self) -> int:
        return int(sum(p.size for p in self.pools) - self.next.sum())

    def take(self, q: int):
        d = 0 if self.queue_die is None else int(self.queue_die[q])
        for e in self.order[d]:
            if e < 0 or e >= len(self.pools):
                continue
            pool = self.pools[e]
            while self.next[e] < pool.size:
                k = int(pool[self.next[e]])
                w = self.windows[k]
                self.on_take(int(self.index[k]), q)
                self.next[e] += 1
                if w[0].size:
                    self.steals += int(e != d)
                    return w
        return None


def steal_order(die_hops: np.ndarray, queue_die: np.ndarray) -> np.ndarray:
    """Each queue's order of queues to take from (itself first, then the others): nearest die
    first (fewest HyperX hops: each attempt is a fetch-add on that queue's counter, a network
    round trip), ties broken by the distance forward in queue numbers, so that the thieves of
    different queues spread over the victims instead of all starting at queue 0."""
    nq = queue_die.size
    out = np.empty((nq, nq), dtype=np.int64)
    for q in range(nq):
        e = np.arange(nq)
        key = die_hops[queue_die[q], queue_die] * nq + (e - q) % nq
        out[q] = np.argsort(key, kind="stable")
    return out


def _epochs_of(windows: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Stage numbers of a queue's windows in turn: every (window, stage) a new one."""
    out, e = [], 0
    for ids, st in windows:
        if ids.size:
            r = _dense_rank(st) + e
            out.append(r)
            e = int(r[-1]) + 1
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _dense_rank(stage: np.ndarray) -> np.ndarray:
    """0, 1, 2... numbering the distinct values of a non-decreasing array, in order."""
    if stage.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([[0], np.cumsum(np.diff(stage) != 0)]).astype(np.int64)


class Simulation:
    """A machine's state through a sequence of phases. See the module docstring."""

    def __init__(self, cfg: MachineConfig, *, arena_ops: int = DEFAULT_ARENA_OPS,
                 horizon_cycles: float = 4.0, spill_dir: str | None = None,
                 _fault: int = 0) -> None:
        # _fault (tests only): breaks one DRAM path on purpose (simulator.machine.dram.FAULT_*)
        self.cfg = cfg
        c = cfg
        self.n_threads = c.threads
        self.n_cores = c.cores
        tpc = c.core.threads
        ppc = c.core.pipelines
        self.n_pipes = c.cores * ppc
        banks = c.spad.banks
        nch = c.channels
        sets = c.cache.sets if c.cache.size_bytes > 0 else 1
        ways = c.cache.ways

        # resource next-free times, one float64 array with sections
        o_pipe = 0
        o_port = o_pipe + self.n_pipes
        o_bank = o_port + c.cores
        o_ma = o_bank + c.cores * banks
        o_dma = o_ma + nch
        net = network_tables(c, _fault)
        n_free = o_dma + c.cores
        self.free = np.zeros(n_free, dtype=np.float64)

        pi = np.zeros(E.P_N, dtype=np.int64)
        pi[E.P_NT] = self.n_threads
        pi[E.P_NC] = c.cores
        pi[E.P_CPD] = c.cores_per_die
        pi[E.P_TPC] = tpc
        pi[E.P_PPC] = ppc
        pi[E.P_DIES] = c.dies
        pi[E.P_CHPD] = c.dram.channels_per_die
        pi[E.P_NCH] = nch
        pi[E.P_GRAN_SHIFT] = _log2(c.dram.access_granularity_bytes)
        pi[E.P_BURST_SHIFT] = _log2(c.dram.burst_bytes)
        pi[E.P_BANKS] = banks
        pi[E.P_BANKW_SHIFT] = _log2(c.spad.bank_width_bytes)
        pi[E.P_SETS] = sets
        pi[E.P_WAYS] = ways
        pi[E.P_LSHIFT] = _log2(c.cache.line_bytes)
        pi[E.P_LINE] = c.cache.line_bytes
        # power-of-two sizes use masks and shifts instead of divisions (-1: divide)
        pi[E.P_CHPD_SHIFT] = _log2(c.dram.channels_per_die) if _is_pow2(c.dram.channels_per_die) else -1
        pi[E.P_BANKS_MASK] = banks - 1 if _is_pow2(banks) else -1
        pi[E.P_SETS_MASK] = sets - 1 if _is_pow2(sets) else -1
        pi[E.P_ROUTERS] = net.routers
        pi[E.P_RPD] = c.network.mesh_rows * c.network.mesh_cols
        pi[E.P_HDR] = 0 if _fault & FAULT_FREE_REQUESTS else c.network.header_bytes
        pi[E.P_REQ_DATA] = 0 if _fault & FAULT_FREE_REQUESTS else 1
        pi[E.P_DMAQ] = c.dma.queue_depth
        pi[E.P_MAXOUT] = c.core.max_outstanding_per_thread
        pi[E.P_BYPASS] = sum(1 << ACCESS_CLASSES.index(k) for k in c.cache.bypass)
        pi[E.P_HAS_CACHE] = 1 if c.cache.size_bytes > 0 else 0
        pi[E.P_O_PIPE], pi[E.P_O_PORT], pi[E.P_O_BANK] = o_pipe, o_port, o_bank
        pi[E.P_O_MA], pi[E.P_O_DMA] = o_ma, o_dma
        self.pi = pi

        clock = c.clock_ghz
        pf = np.zeros(E.F_N, dtype=np.float64)
        pf[E.F_SPAD_LAT] = c.spad.latency_cycles
        pf[E.F_PORT_OCC] = 1.0 / c.spad.ports
        pf[E.F_BANK_OCC] = c.spad.bank_occupancy_cycles
        pf[E.F_CACHE_LAT] = c.cache.latency_cycles
        pf[E.F_SA_LAT] = c.spad_atomic.latency_cycles
        pf[E.F_SA_OCC] = c.spad_atomic.occupancy_cycles
        pf[E.F_MA_LAT] = c.mc_atomic.latency_cycles
        pf[E.F_MA_OCC] = c.mc_atomic.occupancy_cycles
        pf[E.F_MA_INTERVAL] = c.mc_atomic.interval_cycles
        pf[E.F_DMA_CPB] = clock / c.dma.bandwidth_gb_per_s
        pf[E.F_DMA_SETUP] = c.dma.setup_cycles
        pf[E.F_BARRIER] = c.sync.barrier_cycles
        # a pipeline may run ahead of the others by this much before yielding (0: strict global
        # time order; more: fewer heap operations, requests out of order by at most this much)
        pf[E.F_HORIZON] = float(horizon_cycles)
        pf[E.F_NET_WINDOW] = NET_WINDOW_CYCLES
        pf[E.F_NET_INV] = 1.0 / NET_WINDOW_CYCLES if math.frexp(NET_WINDOW_CYCLES)[0] == 0.5 else 0
        self.pf = pf

        # the network as data: per link its cycles per byte, latency and kind; the route of
        # every (source router, destination router) as a list of link ids (docs/network.md)
        self.net = net
        self.rt_ptr, self.rt_link, self.chan_router = net.rt_ptr, net.rt_link, net.chan_router
        self.nl_cpb, self.nl_lat = net.cpb, net.lat
        self.nl_bytes = np.zeros(net.kind.size, dtype=np.int64)      # bytes through each link
        self.nl_queue = np.zeros(net.kind.size, dtype=np.float64)    # cycles packets waited for it
        self.nw_i = np.full((net.kind.size, E.NET_SLOTS), -1, dtype=np.int64)   # link calendars
        self.nw_f = np.zeros((net.kind.size, E.NET_SLOTS), dtype=np.float64)
        self.nw_lo = np.zeros(net.kind.size, dtype=np.int64)
        self.die_hops = hop_tables(c)[0]          # HyperX hops between dies (steal order, notices)

        # threads: global id = core * tpc + local; MTP p holds locals [p*tpm, (p+1)*tpm), STPs after
        tid = np.arange(self.n_threads)
        core = tid // tpc
        local = tid % tpc
        tpm = c.core.threads_per_mtp
        mtp_threads = c.core.mtps * tpm
        pipe_local = np.where(local < mtp_threads, local // tpm, c.core.mtps + (local - mtp_threads))
        self.th_i = np.zeros((self.n_threads, E.TI_N), dtype=np.int64)
        self.th_i[:, E.TI_CORE] = core
        self.th_i[:, E.TI_DIE] = core // c.cores_per_die
        self.th_i[:, E.TI_LCORE] = core % c.cores_per_die
        self.th_i[:, E.TI_PIPE] = core * ppc + pipe_local
        self.th_i[:, E.TI_LOCAL] = local
        self.th_i[:, E.TI_TASK] = -1
        self.th_f = np.zeros((self.n_threads, E.TF_N), dtype=np.float64)
        self.eff = np.full(self.n_threads, E.INF)    # each thread's next-action time
        self.ring = np.zeros((self.n_threads, c.core.max_outstanding_per_thread), dtype=np.float64)
        self.pipe_instr = np.zeros(self.n_pipes, dtype=np.int64)
        self.pipe_is_mtp = np.tile(np.arange(ppc) < c.core.mtps, c.cores)
        # the threads of pipeline p are pipe_first[p] .. pipe_first[p] + pipe_n[p] - 1
        self.pipe_n = np.tile(np.where(np.arange(ppc) < c.core.mtps, tpm, 1), c.cores).astype(np.int64)
        self.pipe_first = (np.concatenate([[0], np.cumsum(self.pipe_n)[:-1]])).astype(np.int64)
        self.pipe_rr = np.zeros(self.n_pipes, dtype=np.int64)

        n_rows = self.n_pipes * sets if c.cache.size_bytes > 0 else 1
        self.ctag = np.zeros((n_rows, ways, E.CW_N), dtype=np.int64)
        self.ctag[:, :, E.CW_TAG] = -1
        self.cready = np.zeros((n_rows, ways), dtype=np.float64)
        self.dring = np.zeros((c.cores, c.dma.queue_depth), dtype=np.float64)
        self.dma_i = np.zeros((c.cores, 2), dtype=np.int64)

        self.hp_t = np.zeros(self.n_pipes, dtype=np.float64)
        self.hp_i = np.zeros((self.n_pipes, 2), dtype=np.int64)
        self.sc = np.zeros(E.SC_N, dtype=np.int64)
        self.cnt = np.zeros(E.C_N, dtype=np.int64)
        self.cntf = np.zeros(E.CF_N, dtype=np.float64)
        self.cls_cnt = np.zeros((len(ACCESS_CLASSES), E.CL_N), dtype=np.int64)
        self.bar_i = np.zeros((1 + c.cores, E.BI_N), dtype=np.int64)
        self.bar_f = np.zeros(1 + c.cores, dtype=np.float64)
        self.dq_i = np.zeros((E.DQ_CAP, E.DQ_N), dtype=np.int64)     # engine scratch
        self.dq_f = np.zeros(E.DQ_CAP, dtype=np.float64)
        self.reg_cnt = np.zeros((0, E.RB_N), dtype=np.int64)       # DRAM bytes per region
        self.dsplit = np.zeros((0, c.dies + 1), dtype=np.int64)    # split regions' die offsets
        self.q_steal = np.full((1, 1), -1, dtype=np.int64)         # each queue's steal order
        self.q_dry = np.full((2, 1, 1), E.INF)                     # queues known dry
        self.ma_i = np.zeros((nch, E.MA_SLOTS, E.MI_N), dtype=np.int64)   # memory-side atomic units
        self.ma_i[:, :, E.MI_ADDR] = -1
        self.ma_f = np.full((nch, E.MA_SLOTS), -E.INF)
        self.dram = new_dram_state(c, _fault)

        # task traces waiting for the engine: about arena_ops rows in memory, the rest of long
        # tasks in temporary files (in spill_dir, default the system's temporary directory)
        self.arena = TraceArena(arena_ops, spill_dir=spill_dir)
        self.regions: list[Region] = []
        self._reg_rows: list[np.ndarray] = []
        self.reg = np.zeros((0, E.RG_N), dtype=np.int64)
        self._dram_top = 0
        self._spad_used = np.zeros(c.cores, dtype=np.int64)
        self.now = 0.0
        self.phases: list[PhaseRecord] = []
        self.participated = np.zeros(self.n_threads, dtype=bool)
        self.engine_calls = 0
        self.host_seconds = 0.0
        #: optional callback progress(phase name, tasks done, tasks) called from the engine
        #: loop between engine calls (the CLI draws a progress line; the library never prints)
        self.progress = None

    def engine_state(self) -> E.State:
        """The engine's state: the named tuple of this simulation's arrays (built per call, since
        some arrays are replaced as regions are added or the trace arena grows)."""
        return E.State(*(getattr(self, name) for name in E.State._fields))

    @property
    def ops(self) -> np.ndarray:
        """The trace arena's rows (what the engine reads)."""
        return self.arena.ops

    # ---- address map --------------------------------------------------------------------------

    def _add_region(self, name: str, kind: str, size: int, cls: str, die, core, per, row,
                    split=None) -> Region:
        if any(r.name == name for r in self.regions):
            raise ValueError(f"region {name!r} already exists")
        if len(self.regions) >= (1 << 22):
            raise ValueError("too many regions")
        reg = Region(len(self.regions), name, kind, int(size), cls, die, core, per)
        self.regions.append(reg)
        self._reg_rows.append(row)
        self.reg = np.ascontiguousarray(np.stack(self._reg_rows))
        grown = np.zeros((self.reg.shape[0], E.RB_N), dtype=np.int64)
        grown[:self.reg_cnt.shape[0]] = self.reg_cnt
        self.reg_cnt = grown
        ds = np.zeros((self.reg.shape[0], self.cfg.dies + 1), dtype=np.int64)
        ds[:self.dsplit.shape[0]] = self.dsplit
        if split is not None:
            ds[-1] = split
        self.dsplit = ds
        self.pi[E.P_NREG] = self.reg.shape[0]
        return reg

    def dram_region(self, name: str, size_bytes: int, *, access_class: str = "default",
                    die=None, per: str | None = None) -> Region:
        """A DRAM region. die: "all" (interleaved over every die's channels), "local" (the
        executing thread's die; one copy per die), a die index, or a split: `dies + 1`
        non-decreasing byte offsets from 0 to `size_bytes`, bytes split[k]..split[k + 1] living
        on die k (interleaved over its channels; e.g. rows of a matrix block-distributed to the
        dies that own them). per: None, "thread" or "core" (each thread / core gets its own
        slice of `size_bytes`; not with a split). Default: "local" for per-thread / per-core
        slices (a thread's private DRAM lives on its own die), else "all"."""
        if die is None:
            die = "all" if per is None else "local"
        if access_class not in ACCESS_CLASSES:
            raise ValueError(f"access_class: unknown {access_class!r} (known: {', '.join(ACCESS_CLASSES)})")
        size = _check_size(size_bytes)
        if per not in (None, "thread", "core"):
            raise ValueError(f"per: expected None, 'thread' or 'core', got {per!r}")
        split = None
        if not isinstance(die, (str, int, np.integer)):
            split = np.asarray(die, dtype=np.int64).reshape(-1)
            if (split.shape != (self.cfg.dies + 1,) or split[0] != 0 or split[-1] != size
                    or np.any(np.diff(split) < 0)):
                raise ValueError(f"die: a split needs {self.cfg.dies + 1} non-decreasing byte "
                                 f"offsets from 0 to {size}")
            if per is not None:
                raise ValueError("die: a split region cannot have per slices")
            rdie = E.DIE_SPLIT
            die = tuple(int(x) for x in split)
        elif die == "all":
            rdie = E.DIE_ALL
        elif die == "local":
            rdie = E.DIE_LOCAL
        elif isinstance(die, (int, np.integer)) and 0 <= die < self.cfg.dies:
            rdie = int(die)
        else:
            raise ValueError(f"die: expected 'all', 'local', 0..{self.cfg.dies - 1} or a split, got {die!r}")
        slots = {None: 1, "thread": self.n_threads, "core": self.n_cores}[per]
        total = size * slots
        align = 4096
        base = -(-self._dram_top // align) * align
        self._dram_top = base + total
        row = np.zeros(E.RG_N, dtype=np.int64)
        row[E.RG_KIND] = E.K_DRAM
        row[E.RG_BASE] = base
        row[E.RG_SIZE] = total
        row[E.RG_CLS] = ACCESS_CLASSES.index(access_class)
        row[E.RG_DIE] = rdie
        row[E.RG_CORE] = 0
        row[E.RG_SLICE] = size
        row[E.RG_PER] = {None: E.PER_NONE, "thread": E.PER_THREAD, "core": E.PER_CORE}[per]
        return self._add_region(name, "dram", size, access_class, die, "-", per, row, split)

    def spad_region(self, name: str, size_bytes: int, *, core: Union[int, str] = "local",
                    per: str | None = None) -> Region:
        """A scratchpad region. core: "local" (the executing thread's own core: reserved on every
        core at the same offset) or a core index. per: None or "thread" (each thread of the
        core gets its own slice of `size_bytes`)."""
        size = _check_size(size_bytes)
        if per not in (None, "thread"):
            raise ValueError(f"per: expected None or 'thread' for a scratchpad region, got {per!r}")
        total = size * (self.cfg.core.threads if per == "thread" else 1)
        total8 = -(-total // 8) * 8
        cap = self.cfg.spad.size_bytes
        if core == "local":
            base = int(self._spad_used.max())
            if base + total8 > cap:
                raise ValueError(f"scratchpad region {name!r} needs {total} bytes per core, "
                                 f"{cap - base} of {cap} are free")
            self._spad_used[:] = base + total8
            rcore = E.CORE_LOCAL
        elif isinstance(core, (int, np.integer)) and 0 <= core < self.n_cores:
            base = int(self._spad_used[core])
            if base + total8 > cap:
                raise ValueError(f"scratchpad region {name!r} needs {total} bytes on core {core}, "
                                 f"{cap - base} of {cap} are free")
            self._spad_used[core] = base + total8
            rcore = int(core)
        else:
            raise ValueError(f"core: expected 'local' or 0..{self.n_cores - 1}, got {core!r}")
        row = np.zeros(E.RG_N, dtype=np.int64)
        row[E.RG_KIND] = E.K_SPAD
        row[E.RG_BASE] = base
        row[E.RG_SIZE] = total
        row[E.RG_CORE] = rcore
        row[E.RG_SLICE] = size
        row[E.RG_PER] = E.PER_THREAD if per == "thread" else E.PER_NONE
        return self._add_region(name, "spad", size, "default", "-", core, per, row)

    def spad_mark(self) -> np.ndarray:
        """Each core's scratchpad allocation point, for `spad_release`."""
        return self._spad_used.copy()

    def spad_release(self, mark: np.ndarray) -> None:
        """Give back the scratchpad space of the regions registered since `mark`, so that later
        regions reuse it (e.g. a phase's private tables once the phase is over). The released
        regions keep their names and addresses, but must not be accessed again: their bytes
        now belong to the regions that follow."""
        mark = np.asarray(mark, dtype=np.int64)
        if mark.shape != self._spad_used.shape or np.any(mark > self._spad_used) or np.any(mark < 0):
            raise ValueError("spad_release: not a mark of this simulation's scratchpads")
        self._spad_used[:] = mark

    def region(self, name: str) -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise KeyError(f"no region named {name!r}")

    # ---- threads --------------------------------------------------------------------------------

    def thread_ids(self, n: int | None = None, *, cores: Sequence[int] | None = None,
                   pipelines: str = "all") -> np.ndarray:
        """Global thread ids, spread: first thread 0 of every pipeline of every chosen core, then
        thread 1, ... so that the first n ids load the pipelines and cores evenly.
        pipelines: "all", "mtp" or "stp"."""
        c = self.cfg
        cores_arr = np.arange(self.n_cores) if cores is None else np.asarray(cores, dtype=np.int64)
        tpc, tpm, mtps = c.core.threads, c.core.threads_per_mtp, c.core.mtps
        local = np.arange(tpc)
        is_mtp = local < mtps * tpm
        slot = np.where(is_mtp, local % tpm, 0)
        pipe = np.where(is_mtp, local // tpm, mtps + (local - mtps * tpm))
        keep = {"all": np.ones(tpc, bool), "mtp": is_mtp, "stp": ~is_mtp}[pipelines]
        rows = []
        for s, p, l in sorted(zip(slot[keep], pipe[keep], local[keep])):
            rows.append(l)
        local_order = np.array(rows, dtype=np.int64)
        ids = (local_order[:, None] + cores_arr[None, :] * tpc).reshape(-1)
        if n is not None:
            if n > ids.size:
                raise ValueError(f"asked for {n} threads, only {ids.size} are available")
            ids = ids[:n]
        return ids

    # ---- running --------------------------------------------------------------------------------

    def run_phase(self, phase: Phase) -> PhaseRecord:
        """Run one phase to completion (all its tasks), then flush the caches and barrier."""
        wall0 = time.perf_counter()
        threads = (np.arange(self.n_threads, dtype=np.int64) if phase.threads is None
                   else np.unique(np.asarray(phase.threads, dtype=np.int64)))
        if threads.size == 0:
            raise ValueError(f"phase {phase.name!r}: no threads")
        if threads[0] < 0 or threads[-1] >= self.n_threads:
            raise ValueError(f"phase {phase.name!r}: thread ids must be in 0..{self.n_threads - 1}")
        if phase.n_tasks < 0:
            raise ValueError(f"phase {phase.name!r}: n_tasks must be >= 0")
        if phase.threads is not None:
            given = np.asarray(phase.threads, dtype=np.int64).reshape(-1)
            if given.size != threads.size:
                raise ValueError(f"phase {phase.name!r}: thread ids must not repeat")
            threads = given                     # keep the caller's order (thread i <-> list i)
        self._window_cores = None
        self._steal = None
        sources, thread_queue, caps, tokens = self._plan(phase, threads)
        nq = len(sources)
        self.q_steal = (np.full((nq, 1), -1, dtype=np.int64) if self._steal is None
                        else np.ascontiguousarray(self._steal, dtype=np.int64))
        # q_dry[0, home, q]: how long queue q's dry notice takes to reach queue home's threads;
        # q_dry[1, home, q]: when they know (INF: not yet). See DynamicTokens.
        self.q_dry = np.full((2, 1, 1), E.INF)
        if self._steal is not None:
            self.q_dry = np.full((2, nq, nq), E.INF)
            self.q_dry[0] = self._notice
        self.q_i = np.zeros((nq, E.QI_N), dtype=np.int64)
        self.q_i[:, E.QI_CAP] = caps
        self.q_i[:, E.QI_OFF] = np.concatenate([[0], np.cumsum(caps)[:-1]])
        self.q_i[:, E.QI_TOKEN] = tokens
        self.q_task = np.zeros((int(np.sum(caps)), E.QT_N), dtype=np.int64)
        self._q_rows = np.zeros(self.q_task.shape[0], dtype=np.int64)   # each entry's trace rows
        self._sources = sources
        self._rows_per_task = None            # trace rows per task seen so far (batch sizes)
        budget = self.arena.budget
        self._lookahead_ops = budget // 8     # queued rows beyond which refills stop
        self._batch_ops = budget // 16        # rows one generator call should make
        self.arena.begin(threads.size, self.q_task.shape[0])
        self._generate = phase.generate
        self._phase_name = phase.name
        self.q_i[:, E.QI_EXHAUSTED] = sources.exhausted(np.arange(nq))

        start = self.now
        th_i, th_f = self.th_i, self.th_f
        th_i[:, E.TI_STATE] = E.ST_OFF
        th_i[threads, E.TI_STATE] = E.ST_NEED
        th_i[threads, E.TI_QUEUE] = thread_queue
        th_i[threads, E.TI_HOME] = thread_queue
        th_i[threads, E.TI_STEAL] = 0
        th_i[threads, E.TI_CREDIT] = 0
        th_i[threads, E.TI_EPOCH] = 0
        th_i[threads, E.TI_PC] = 0
        th_i[threads, E.TI_END] = 0
        th_f[threads, E.TF_READY] = start
        th_f[threads, E.TF_FINISH] = start
        self.eff[:] = E.INF
        self.eff[threads] = start
        self.participated[threads] = True
        self.dma_i[:] = 0
        self.bar_i[:] = 0
        self.bar_f[:] = 0.0
        self.bar_i[0, E.BI_ACTIVE] = threads.size
        np.add.at(self.bar_i[:, E.BI_ACTIVE], 1 + th_i[threads, E.TI_CORE], 1)
        pipes = np.unique(th_i[threads, E.TI_PIPE])
        self.hp_i[:pipes.size, 1] = pipes
        self.sc[E.SC_HEAP_N] = pipes.size
        self.pipe_rr[:] = 0
        E.heap_rebuild(self.engine_state())
        tasks0 = int(self.cnt[E.C_TASKS])
        busy0 = float(th_f[threads, E.TF_BUSY].sum())

        self._refill(np.arange(nq))
        while True:
            self.engine_calls += 1
            rc = E.run_engine(self.engine_state())
            if rc == E.RET_DONE:
                break
            if rc == E.RET_REFILL:
                if self.progress is not None:
                    self.progress(phase.name, int(self.cnt[E.C_TASKS]) - tasks0, phase.n_tasks)
                q = int(self.sc[E.SC_ARG])
                self._sources.take_window(q)      # dynamic windows: q's core is done, the next
                low = np.nonzero((self.q_i[:, E.QI_EXHAUSTED] == 0)
                                 & (2 * self.q_i[:, E.QI_COUNT] <= self.q_i[:, E.QI_CAP]))[0]
                self._refill(np.union1d(low, [q]), ask=q)
                continue
            if rc == E.RET_SEGMENT:
                self.arena.fetch(int(self.sc[E.SC_ARG]), th_i, self.q_i, self.q_task)
                continue
            self._raise_engine_error(phase)
        if self.progress is not None:
            self.progress(phase.name, int(self.cnt[E.C_TASKS]) - tasks0, phase.n_tasks)
        if self.arena.tails:
            raise AssertionError(f"phase {phase.name!r}: spilled traces left unread")
        if sources.pool is not None:
            self.cnt[E.C_STEALS] += sources.pool.steals
        self.arena.reset()

        work_end = float(th_f[threads, E.TF_FINISH].max()) if threads.size else start
        work_end = max(work_end, start)
        end = work_end
        end = max(end, float(E.flush_caches(self.engine_state(), work_end)))
        end = max(end, float(drain_all(self.dram, end)))    # buffered writes reach DRAM
        end += self.cfg.sync.barrier_cycles
        self.cnt[E.C_BARRIERS] += 1
        self.now = end
        th_i[threads, E.TI_STATE] = E.ST_OFF
        wall = time.perf_counter() - wall0
        self.host_seconds += wall
        rec = PhaseRecord(phase.name, start, work_end, end, int(self.cnt[E.C_TASKS]) - tasks0, wall,
                          self._window_cores, int(threads.size),
                          float(th_f[threads, E.TF_BUSY].sum()) - busy0)
        self.phases.append(rec)
        return rec

    def generate_only(self, phase: Phase, chunk: int = 256) -> PhaseRecord:
        """Run a phase's generator over all its tasks, in order, without simulating them: the
        program's host work (C, its checks) is done, the machine's clock and state stay as they
        are, and the record says 0 cycles. For a sampled run's trailing phases whose cycles come
        from other runs (`simulator.sampling.PHASE_UNITS`)."""
        wall0 = time.perf_counter()
        self._generate, self._phase_name = phase.generate, phase.name
        ids = np.arange(int(phase.n_tasks), dtype=np.int64)
        for i in range(0, ids.size, chunk):
            self._call_generator(ids[i:i + chunk])
        wall = time.perf_counter() - wall0
        self.host_seconds += wall
        rec = PhaseRecord(phase.name, self.now, self.now, self.now, 0, wall)
        self.phases.append(rec)
        return rec

    def _plan(self, phase: Phase, threads: np.ndarray):
        """Queues for a phase: their task-id sources, each thread's queue, capacities, tokens."""
        n = int(phase.n_tasks)
        sch = phase.schedule
        nt = threads.size
        if isinstance(sch, StaticWindows):
            b = (np.asarray(sch.bounds, dtype=np.int64) if sch.bounds is not None
                 else split_by_cost(n, nt, sch.cost))
            if b.shape != (nt + 1,) or b[0] != 0 or b[-1] != n or np.any(np.diff(b) < 0):
                raise ValueError(f"phase {phase.name!r}: bounds must be {nt + 1} non-decreasing "
                                 f"values from 0 to {n}")
            sources = _Sources([np.arange(b[i], b[i + 1], dtype=np.int64) for i in range(nt)], 1)
            return sources, np.arange(nt), np.full(nt, max(1, sch.lookahead)), np.full(nt, -1)
        if isinstance(sch, StaticLists):
            if len(sch.lists) != nt:
                raise ValueError(f"phase {phase.name!r}: {len(sch.lists)} task lists for {nt} threads")
            sources = []
            for lst in sch.lists:
                ids = np.asarray(lst, dtype=np.int64).reshape(-1)
                if ids.size and (ids.min() < 0 or ids.max() >= n):
                    raise ValueError(f"phase {phase.name!r}: task ids must be in 0..{n - 1}")
                sources.append(ids)
            return _Sources(sources, 1), np.arange(nt), np.full(nt, max(1, sch.lookahead)), np.full(nt, -1)
        if isinstance(sch, DynamicTokens):
            if sch.chunk < 1:
                raise ValueError(f"phase {phase.name!r}: chunk must be >= 1")
            if sch.counter not in ("spad", "dram"):
                raise ValueError(f"phase {phase.name!r}: counter must be 'spad' or 'dram'")
            cores = self.th_i[threads, E.TI_CORE]
            if sch.scope == "machine":
                groups = np.zeros(nt, dtype=np.int64)
                owner_core = [int(cores.min())]
            elif sch.scope in ("core", "die"):
                key = cores if sch.scope == "core" else cores // self.cfg.cores_per_die
                uniq, groups = np.unique(key, return_inverse=True)
                owner_core = [int(cores[groups == g].min()) for g in range(uniq.size)]
            else:
                raise ValueError(f"phase {phase.name!r}: scope must be 'machine', 'die' or 'core'")
            ng = len(owner_core)
            b = split_by_cost(n, ng, sch.cost) if sch.bounds is None else np.asarray(sch.bounds, np.int64)
            if b.shape != (ng + 1,) or b[0] != 0 or b[-1] != n or np.any(np.diff(b) < 0):
                raise ValueError(f"phase {phase.name!r}: bounds must be {ng + 1} non-decreasing "
                                 f"values from 0 to {n} (one window per queue)")
            sources = _Sources([np.arange(b[g], b[g + 1], dtype=np.int64) for g in range(ng)],
                               sch.chunk)
            if sch.steal and ng > 1:
                qdie = np.asarray(owner_core, np.int64) // self.cfg.cores_per_die
                self._steal = steal_order(self.die_hops, qdie)[:, 1:]
                self._notice = self.die_hops[qdie][:, qdie] * self.cfg.network.link_latency_cycles
            per_group = np.bincount(groups, minlength=ng)
            caps = (np.full(ng, sch.lookahead) if sch.lookahead is not None
                    else np.maximum(16, 2 * per_group))
            tokens = self._token_counters(phase, owner_core, sch.counter)
            return sources, groups, np.maximum(caps, 1), tokens
        if isinstance(sch, Windows):
            return self._plan_windows(phase, sch, threads)
        raise TypeError(f"phase {phase.name!r}: unknown schedule {type(sch).__name__}")

    def _token_counters(self, phase: Phase, owner_core, counter: str) -> np.ndarray:
        """One fetch-add counter per queue: in its owner core's scratchpad, or in DRAM."""
        ng = len(owner_core)
        use_spad = counter == "spad" and self.cfg.spad.size_bytes >= 8 * ng
        tokens = np.empty(ng, dtype=np.int64)
        k = len(self.phases)
        for g, oc in enumerate(owner_core):
            name = f"{phase.name}#{k}.token{g}"
            if use_spad:
                r = self.spad_region(name, 8, core=int(oc))
            else:
                r = self.dram_region(name, 8, die=int(oc) // self.cfg.cores_per_die)
            tokens[g] = r.base
        return tokens

    def _plan_windows(self, phase: Phase, sch: Windows, threads: np.ndarray):
        """Queues for a `Windows` schedule: one per core (within="dynamic") or per thread."""
        n = int(phase.n_tasks)
        name = phase.name
        b = np.asarray(sch.bounds, dtype=np.int64).reshape(-1)
        nw = b.size - 1
        if nw < 0 or b[0] != 0 or b[-1] != n or np.any(np.diff(b) < 0):
            raise ValueError(f"phase {name!r}: window bounds must be non-decreasing values from 0 to {n}")
        stage = (np.zeros(n, dtype=np.int64) if sch.stage is None
                 else np.asarray(sch.stage, dtype=np.int64).reshape(-1))
        if stage.shape != (n,):
            raise ValueError(f"phase {name!r}: stage needs one value per task ({n})")
        win = np.searchsorted(b, np.arange(n), side="right") - 1      # each task's window
        if np.any((np.diff(stage) < 0) & (np.diff(win) == 0)):
            raise ValueError(f"phase {name!r}: stage must not decrease within a window")
        cost = None if sch.cost is None else np.asarray(sch.cost, dtype=np.float64).reshape(-1)
        if cost is not None and cost.shape != (nw,):
            raise ValueError(f"phase {name!r}: cost needs one value per window ({nw})")
        for key, val, ok in (("assign", sch.assign, ("static", "dynamic")),
                             ("order", sch.order, ("index", "heaviest")),
                             ("within", sch.within, ("static", "dynamic"))):
            if val not in ok:
                raise ValueError(f"phase {name!r}: {key} must be one of {', '.join(ok)}, got {val!r}")
        if sch.within == "static" and sch.assign == "dynamic":
            raise ValueError(f"phase {name!r}: within='static' needs assign='static' (a thread's "
                             f"share of a window is fixed before the run)")
        order = np.arange(nw)
        if sch.order == "heaviest":
            if cost is None:
                raise ValueError(f"phase {name!r}: order='heaviest' needs a cost per window")
            order = np.argsort(-cost, kind="stable")
        home = np.zeros(nw, np.int64) if sch.home is None else np.asarray(sch.home, np.int64).reshape(-1)
        if home.shape != (nw,) or (nw and (home.min() < 0 or home.max() >= self.cfg.dies)):
            raise ValueError(f"phase {name!r}: home needs one die (0..{self.cfg.dies - 1}) per window")
        cores = self.th_i[threads, E.TI_CORE]
        ucores, core_of = np.unique(cores, return_inverse=True)
        ncore = ucores.size
        windows = [(np.arange(b[w], b[w + 1], dtype=np.int64), stage[b[w]:b[w + 1]]) for w in order]
        self._window_cores = np.full(nw, -1, dtype=np.int64)    # the core each window ran on
        if sch.assign == "dynamic":
            per = np.bincount(core_of, minlength=ncore)
            caps = np.full(ncore, sch.lookahead) if sch.lookahead is not None else np.maximum(16, 2 * per)
            qdie = ucores // self.cfg.cores_per_die if sch.home is not None else None
            pool = _WindowPool(windows, order, lambda w, q: self._window_cores.__setitem__(w, ucores[q]),
                               home, qdie, steal_order(self.die_hops, np.arange(self.cfg.dies)))
            sources = _Sources([np.zeros(0, np.int64)] * ncore, 1, pool=pool)
            return sources, core_of, np.maximum(caps, 1), self._token_counters(phase, ucores, "spad")
        # static: contiguous runs of windows per core, by cost (a die's windows to its cores)
        per_core = [[] for _ in range(ncore)]
        cdie = ucores // self.cfg.cores_per_die if sch.home is not None else np.zeros(ncore, np.int64)
        hk = home[order] if sch.home is not None else np.zeros(nw, np.int64)
        hk = np.where(np.isin(hk, cdie), hk, cdie.min())    # windows of dies without the phase's cores
        for d in np.unique(cdie):
            mine = np.flatnonzero(cdie == d)
            ws = np.flatnonzero(hk == d)
            cb = split_by_cost(ws.size, mine.size, None if cost is None else cost[order][ws])
            for g, c in enumerate(mine):
                per_core[c] = [windows[k] for k in ws[cb[g]:cb[g + 1]]]
                self._window_cores[order[ws[cb[g]:cb[g + 1]]]] = ucores[c]
        if sch.within == "dynamic":
            lists, epochs = [], []
            for ws in per_core:
                ids = [w[0] for w in ws]
                ep = _epochs_of(ws)
                lists.append(np.concatenate(ids) if ids else np.zeros(0, np.int64))
                epochs.append(ep)
            per = np.bincount(core_of, minlength=ncore)
            caps = np.full(ncore, sch.lookahead) if sch.lookahead is not None else np.maximum(16, 2 * per)
            return (_Sources(lists, 1, epochs), core_of, np.maximum(caps, 1),
                    self._token_counters(phase, ucores, "spad"))
        tcost = None if sch.task_cost is None else np.asarray(sch.task_cost, dtype=np.float64).reshape(-1)
        if tcost is not None and tcost.shape != (n,):
            raise ValueError(f"phase {name!r}: task_cost needs one value per task ({n})")
        lists = [[] for _ in range(threads.size)]
        epochs = [[] for _ in range(threads.size)]
        for g, ws in enumerate(per_core):
            mine = np.nonzero(core_of == g)[0]          # the phase's threads of this core
            e = 0
            for ids, st in ws:
                for s_ids in np.split(ids, np.nonzero(np.diff(st))[0] + 1):
                    cut = split_by_cost(s_ids.size, mine.size, None if tcost is None else tcost[s_ids])
                    for r, t in enumerate(mine):
                        part = s_ids[cut[r]:cut[r + 1]]
                        lists[t].append(part)
                        epochs[t].append(np.full(part.size, e, dtype=np.int64))
                    e += 1
        cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.int64)
        sources = _Sources([cat(x) for x in lists], 1, [cat(x) for x in epochs])
        caps = np.full(threads.size, 2 if sch.lookahead is None else max(1, sch.lookahead))
        return sources, np.arange(threads.size), caps, np.full(threads.size, -1)

    def _refill(self, queues: np.ndarray, ask: int = -1) -> None:
        """Generate the next units of work of the given queues into the arena, queue `ask` first.

        Each queue up to its capacity (units of `chunk` tasks), but no further once the queued
        traces hold `_lookahead_ops` rows (queue `ask` gets at least one unit): the generator is
        called on consecutive batches of units sized by the rows per task seen so far, about
        `_batch_ops` rows each. Vectorized over queues: a few numpy calls per batch."""
        src = self._sources
        qa = np.asarray(queues, dtype=np.int64)
        q = np.concatenate([[ask], qa[qa != ask]]) if ask >= 0 else qa
        cap = self.q_i[q, E.QI_CAP]
        units = np.minimum(cap - self.q_i[q, E.QI_COUNT], src.remaining_units()[q])
        keep = units > 0
        q, units = q[keep], units[keep]
        if q.size:
            chunk = src.chunk[q]
            k = np.minimum(units * chunk, src.end[q] - src.cur[q])     # task ids per queue
            pos = np.concatenate([[0], np.cumsum(k)[:-1]])             # their place in the batch
            flat = np.repeat(src.cur[q] - pos, k) + np.arange(int(k.sum()))   # into src.ids
            # one queue entry per unit of `chunk` tasks: its queue, its tasks flat[first:last]
            uq = np.repeat(q, units)
            first = np.repeat(pos, units) + chunk.repeat(units) * (
                np.arange(int(units.sum())) - np.repeat(np.concatenate([[0], np.cumsum(units)[:-1]]), units))
            last = np.minimum(first + chunk.repeat(units), np.repeat(pos + k, units))
            queued = self._queued_rows()
            u = 0
            while u < first.size and (u == 0 or queued < self._lookahead_ops):
                per = self._rows_per_task
                tasks = 1 if per is None else max(1, int(self._batch_ops / max(per, 1.0)))
                v = min(max(int(np.searchsorted(first, first[u] + tasks)), u + 1), first.size)
                queued += self._generate_units(src, flat, uq[u:v], first[u:v], last[u:v])
                u = v
        self.q_i[qa, E.QI_EXHAUSTED] = src.exhausted(qa)
        if src.pool is not None:
            self.q_i[qa, E.QI_WEND] = src.cur[qa] >= src.end[qa]
            self.q_i[qa, E.QI_EPOCH] = src.next_epoch[qa] - 1

    def _generate_units(self, src: "_Sources", flat: np.ndarray, uq: np.ndarray, first: np.ndarray,
                        last: np.ndarray) -> int:
        """One generator call: the units (queue uq[u], task ids src.ids[flat[first[u]:last[u]]],
        contiguous, each queue's next ones in order) into the arena and at the end of their
        queues. Returns the rows generated."""
        t0, t1 = int(first[0]), int(last[-1])
        ids = src.ids[flat[t0:t1]]
        ops, ptr = self._call_generator(ids)
        bounds = ptr[np.append(first, t1) - t0]
        start, end, more = self.arena.place(ops, bounds, self.th_i, self.q_i, self.q_task)
        seen = ops.shape[0] / max(t1 - t0, 1)
        per = self._rows_per_task
        self._rows_per_task = seen if per is None else 0.5 * (per + seen)
        # the units' queue entries: a queue's units are consecutive here
        at = np.flatnonzero(np.r_[True, uq[1:] != uq[:-1]])         # where each queue's run starts
        uniq, n_u = uq[at], np.diff(np.r_[at, uq.size])
        e = np.arange(uq.size) - np.repeat(at, n_u)                 # unit number within its queue
        slots = (self.q_i[uq, E.QI_HEAD] + self.q_i[uq, E.QI_COUNT] + e) % self.q_i[uq, E.QI_CAP]
        j = self.q_i[uq, E.QI_OFF] + slots
        self.q_task[j, E.QT_TASK] = ids[first - t0]
        self.q_task[j, E.QT_START] = start
        self.q_task[j, E.QT_END] = end
        self.q_task[j, E.QT_EPOCH] = src.epoch[flat[first]]
        self.q_task[j, E.QT_MORE] = more
        self._q_rows[j] = np.diff(bounds)
        self.q_i[uniq, E.QI_COUNT] += n_u
        src.cur[uniq] += np.add.reduceat(last - first, at)
        return int(ops.shape[0])

    def _queued_rows(self) -> int:
        """Trace rows of the units waiting in the queues (in memory or spilled)."""
        return int(self._q_rows[queued_entries(self.q_i)].sum())

    def _call_generator(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = self._generate(ids)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(f"phase {self._phase_name!r}: the generator must return (ops, ptr)")
        ops, ptr = out
        ops = np.asarray(ops)
        ptr = np.asarray(ptr)
        if ops.ndim != 2 or ops.shape[1] != OP_WIDTH or ops.dtype != np.int64:
            raise TypeError(f"phase {self._phase_name!r}: ops must be int64 of shape (n, {OP_WIDTH}), "
                            f"got {ops.dtype} {ops.shape}")
        if (ptr.shape != (ids.size + 1,) or ptr[0] != 0 or ptr[-1] != ops.shape[0]
                or np.any(np.diff(ptr) < 0)):
            raise ValueError(f"phase {self._phase_name!r}: ptr must have {ids.size + 1} non-decreasing "
                             f"entries from 0 to {ops.shape[0]}")
        return ops, ptr.astype(np.int64, copy=False)

    def _raise_engine_error(self, phase: Phase) -> None:
        err, tid, pc = (int(self.sc[E.SC_ERR]), int(self.sc[E.SC_ERR_TID]), int(self.sc[E.SC_ERR_PC]))
        self.sc[E.SC_ERR] = E.ERR_NONE
        what = {E.ERR_REGION: "unknown region id", E.ERR_BOUNDS: "address beyond its region",
                E.ERR_OPCODE: "unknown operation code", E.ERR_SIZE: "size must be positive"}.get(err, "error")
        if pc >= 0:
            row = self.ops[pc]
            rid = int(row[1]) >> ADDR_SHIFT
            rname = self.regions[rid].name if 0 <= rid < len(self.regions) else "?"
            op = OP_NAMES.get(int(row[0]) & 0xFF, str(int(row[0]) & 0xFF))
            raise ValueError(f"phase {phase.name!r}, thread {tid}, task {int(self.th_i[tid, E.TI_TASK])}: "
                             f"{what}: {op} of {int(row[0]) >> ARG_SHIFT} at region {rname!r} "
                             f"offset {int(row[1]) & OFFSET_MASK}")
        raise ValueError(f"phase {phase.name!r}, thread {tid}: {what} (scheduler counter)")

    # ---- results --------------------------------------------------------------------------------

    def result(self) -> SimResult:
        return SimResult.from_simulation(self)


def _is_pow2(x: int) -> bool:
    return x > 0 and x & (x - 1) == 0


def _log2(x: int) -> int:
    return int(x).bit_length() - 1


def _check_size(size_bytes) -> int:
    if isinstance(size_bytes, bool) or not isinstance(size_bytes, (int, np.integer)) or size_bytes <= 0:
        raise ValueError(f"size_bytes: expected a positive integer, got {size_bytes!r}")
    if size_bytes > OFFSET_MASK:
        raise ValueError(f"size_bytes: at most {OFFSET_MASK} bytes per region")
    return int(size_bytes)


def hop_tables(cfg: MachineConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Die-to-die HyperX hops, core-to-core mesh hops, core-to-channel mesh hops (float64).

    Cores sit row-major on the mesh; channel k attaches at core k * cores / channels; HyperX
    dies are all-to-all within each dimension, so hops = number of differing coordinates."""
    cols = cfg.network.mesh_cols
    cpd = cfg.cores_per_die
    pos = np.array([(c // cols, c % cols) for c in range(cpd)])
    core_hops = np.abs(pos[:, None, :] - pos[None, :, :]).sum(-1).astype(np.float64)
    chpd = cfg.dram.channels_per_die
    at = (np.arange(chpd) * cpd) // chpd
    chan_hops = core_hops[:, at].copy()
    shape = cfg.network.die_shape
    coords = np.array(np.unravel_index(np.arange(cfg.dies), shape)).T
    die_hops = (coords[:, None, :] != coords[None, :, :]).sum(-1).astype(np.float64)
    return die_hops, np.ascontiguousarray(core_hops), np.ascontiguousarray(chan_hops)


# ---- the network as data ------------------------------------------------------------------------
LINK_MESH, LINK_PORT, LINK_HYPERX = 0, 1, 2
# a link's capacity is booked per window of this many cycles (engine._link_slot): an
# approximation in time of at most a window under load, none unloaded
NET_WINDOW_CYCLES = 32.0
LINK_KINDS = ("mesh", "port", "hyperx")
# fault injection (Simulation(_fault=...), tests only): one network path broken at a time, in the
# tables the engine walks or the packet sizes it sends
FAULT_NO_MESH_OCC = 1 << 8        # mesh links hold no packet (cycles per byte 0)
FAULT_NO_HOP = 1 << 9             # mesh hops take no time
FAULT_NO_HYPERX_OCC = 1 << 10     # die-to-die links hold no packet
FAULT_FREE_REQUESTS = 1 << 11     # request packets carry nothing (no header, no data)


@dataclass(frozen=True)
class NetworkTables:
    """The on-die meshes and the HyperX as arrays. Links (ids 0..n-1): per die, a directed mesh
    link from each router in each direction (E, W, S, N; ids of missing edge links unused), an
    injection port and an ejection port per router; then the HyperX links, per die its
    sum(d_i - 1) out-links, all-to-all within each dimension. Routers are numbered die * R +
    router (R = mesh_rows * mesh_cols; core k of a die sits at router k, row-major). The route
    from router a to router b is rt_link[rt_ptr[a * routers + b]:rt_ptr[a * routers + b + 1]]:
    empty when a == b; else a's injection port, the mesh links X then Y (when the dies differ:
    to the router where the first HyperX link leaves, the dimension-order HyperX links with the
    mesh of each die passed through between the router a link arrives at and the one the next
    leaves from, then from the last link's router on the destination die), b's ejection port.
    A die's links leave from `network.interface_routers` in turn (`port_router`)."""
    routers: int
    kind: np.ndarray          # int64 per link: LINK_MESH / LINK_PORT / LINK_HYPERX
    cpb: np.ndarray           # float64 per link: core cycles per byte
    lat: np.ndarray           # float64 per link: cycles from a packet's head entering to leaving
    rt_ptr: np.ndarray        # int64 (routers * routers + 1)
    rt_link: np.ndarray       # int64 link ids
    chan_router: np.ndarray   # int64 per global DRAM channel: the router it attaches at
    name: list                # per link, e.g. "d0 r1->r2", "d0 r3 inject", "d0->d4"


@functools.lru_cache(maxsize=16)
def network_tables(cfg: MachineConfig, fault: int = 0) -> NetworkTables:
    """Build the network tables of a config (see NetworkTables; cached: read-only arrays)."""
    net = cfg.network
    rows, cols = net.mesh_rows, net.mesh_cols
    R = rows * cols
    dies = cfg.dies
    per_die = 6 * R                           # 4 mesh directions + injection + ejection
    shape = tuple(net.die_shape)
    nout = sum(d - 1 for d in shape)
    n_links = dies * per_die + dies * nout
    kind = np.full(n_links, LINK_MESH, dtype=np.int64)
    names: list[str] = [""] * n_links
    mesh_cpb = 0.0 if fault & FAULT_NO_MESH_OCC else 1.0 / net.mesh_link_bytes_per_cycle
    hx_cpb = 0.0 if fault & FAULT_NO_HYPERX_OCC else cfg.clock_ghz / net.link_bandwidth_gb_per_s
    cpb = np.full(n_links, mesh_cpb)
    lat = np.full(n_links, 0.0 if fault & FAULT_NO_HOP else float(net.hop_latency_cycles))
    steps = ((0, 1), (0, -1), (1, 0), (-1, 0))            # E, W, S, N as (d row, d col)

    def mesh_link(die: int, r: int, d: int) -> int:
        return die * per_die + 4 * r + d

    def inj(die: int, r: int) -> int:
        return die * per_die + 4 * R + r

    def ej(die: int, r: int) -> int:
        return die * per_die + 5 * R + r

    for die in range(dies):
        for r in range(R):
            for d, (dr, dc) in enumerate(steps):
                names[mesh_link(die, r, d)] = f"d{die} r{r}->r{r + dr * cols + dc}"
            for port, f in (("inject", inj), ("eject", ej)):
                kind[f(die, r)] = LINK_PORT
                lat[f(die, r)] = 0.0          # a port serializes; the hops carry the latency
                names[f(die, r)] = f"d{die} r{r} {port}"

    def xy(die: int, a: int, b: int) -> list[int]:
        """Mesh links from router a to router b of a die: along the row (X), then the column."""
        (ra, ca), (rb, cb) = divmod(a, cols), divmod(b, cols)
        out = []
        while ca != cb:
            d = 0 if cb > ca else 1
            out.append(mesh_link(die, ra * cols + ca, d))
            ca += 1 if d == 0 else -1
        while ra != rb:
            d = 2 if rb > ra else 3
            out.append(mesh_link(die, ra * cols + ca, d))
            ra += 1 if d == 2 else -1
        return out

    coords = [tuple(int(x) for x in np.unravel_index(k, shape)) for k in range(dies)]
    index = {c: k for k, c in enumerate(coords)}
    o_hx = dies * per_die

    def hx_link(die: int, dim: int, value: int) -> int:
        """The link from die along dimension dim to the die whose coordinate there is value."""
        c = coords[die][dim]
        return o_hx + die * nout + sum(d - 1 for d in shape[:dim]) + (value if value < c else value - 1)

    for die in range(dies):
        for dim, size in enumerate(shape):
            for v in range(size):
                if v != coords[die][dim]:
                    k = hx_link(die, dim, v)
                    dst = index[coords[die][:dim] + (v,) + coords[die][dim + 1:]]
                    kind[k] = LINK_HYPERX
                    cpb[k] = hx_cpb
                    lat[k] = net.link_latency_cycles
                    names[k] = f"d{die}->d{dst}"

    def port(k: int) -> int:
        """The router of its die at which HyperX link k leaves (`NetworkConfig.port_router`)."""
        return net.port_router((k - o_hx) % nout)

    def hyperx(a: int, ra: int, b: int, rb: int) -> list[int]:
        """Router ra of die a to router rb of die b: one HyperX hop per differing coordinate,
        dimension 0 first; on each die (the source, those passed through, the destination)
        the mesh from where the packet is to where it leaves or ends (the link's router)."""
        out = []
        die, r = a, ra
        for dim in range(len(shape)):
            c = list(coords[die])
            if c[dim] != coords[b][dim]:
                k = hx_link(die, dim, coords[b][dim])
                out += xy(die, r, port(k)) + [k]
                c[dim] = coords[b][dim]
                nxt = index[tuple(c)]
                r = port(hx_link(nxt, dim, coords[die][dim]))   # arrives where the link back leaves
                die = nxt
        return out + xy(die, r, rb)

    n_r = dies * R
    ptr = np.zeros(n_r * n_r + 1, dtype=np.int64)
    links: list[int] = []
    for a in range(n_r):
        da, ra = divmod(a, R)
        for b in range(n_r):
            db, rb = divmod(b, R)
            if a != b:
                route = [inj(da, ra)]
                if da == db:
                    route += xy(da, ra, rb)
                else:
                    route += hyperx(da, ra, db, rb)
                route.append(ej(db, rb))
                links += route
            ptr[a * n_r + b + 1] = len(links)
    chpd = cfg.dram.channels_per_die
    at = (np.arange(chpd) * cfg.cores_per_die) // chpd       # channel k at core k * cores / channels
    chan_router = (np.arange(dies)[:, None] * R + at[None, :]).reshape(-1).astype(np.int64)
    return NetworkTables(n_r, kind, cpb, lat, ptr, np.array(links, dtype=np.int64), chan_router,
                         names)
