"""SMASH on the machine: windows of rows on cores, atomic hashing into scratchpad tables shared by
a core's threads, write-back. V1, V2 and V3 are presets over this program's knobs.

A reconstruction from the thesis's abstract and table of contents (arXiv 2105.14156: V1 atomic
hashing with window distribution, hashing and write-back phases; V2 tokenization; V3 fragmenting
memory); the mechanisms below are this project's, documented in docs/kernels.md.

Before multiplying, the machine computes what it needs (`prep`): the bounds phase (row flops,
per-nonzero prefix of B's row lengths), optionally the exact symbolic phase, and a scan (flop
prefix, window cuts). Then one phase, ``numeric``, on a `Windows` schedule:

* **Windows.** Rows of A are cut into windows whose tables fit the core's scratchpad (by the
  per-row size: min(row flops, n_col), or the exact nnz). A window runs on one core; windows go
  to cores statically (V1) or as dynamic tokens, in index or heaviest-first order (V2, V3).
* **Work split.** Inside a window the partial-product stream (rows -> nonzeros of A -> ranges of
  B's row) is cut into tasks of about `chunk` multiply-adds; the core's threads take them one at
  a time by a fetch-add on a counter in the core's scratchpad, so a heavy row (or a heavy row of
  B) is spread over many threads. A task finds where it starts by binary search over the flop
  prefix of the window's rows and over the row's per-nonzero prefix (dependent loads).
* **Shared table** (``table=shared``, V1/V2): one table per core keyed by (row, column). An
  insert claims a slot by compare-and-swap (one CAS per probe, on the real slot address) and
  accumulates by atomic add; with ``atomics=false`` each probe takes the slot's lock (an atomic
  swap on the key word, a store to release) and the value is updated by a load and a store.
  Same-slot and same-bank operations contend in the engine. Write-back, after a core barrier:
  the threads scan slices of the table; per entry a fetch-add on the row's cursor gives its place
  in C, the entry is stored, the slot cleared. A last stage stores the rows' ends (4-array C).
* **Fragments** (``table=fragments``, V3): per-row tables (keyed by column) carved out of the
  core's pool by a buddy allocator (`buddy`), whose operations are in the trace. A window is a
  pipeline of batches: in stage k the core allocates batch k's fragments, inserts batch k-1,
  writes back batch k-2 (small rows whole, freeing their fragment; large rows in slices with a
  fetch-add on the row's cursor) and frees the large rows of batch k-3; allocations see only
  the frees of earlier stages. A row that gets no fragment waits for the next stage
  (`fragment_waits`). Live fragments never overlap (the host tables would corrupt C if they did).
* **Spills**: a table that may overflow (a row or window larger than what fits) uses bounded
  probing: after `max_probes` probes an entry goes, alone, to a DRAM table (memory-side
  atomics), which the write-back also scans (`spilled_entries`).
* **C**: row offsets from an atomic allocator (a fetch-add per window or batch on a counter in
  DRAM; 4-array CSR, rows in any order, each row given its size: with bound sizes C has gaps) or
  from the simulated symbolic phase's scan (3-array CSR).

Functional execution happens as traces are generated, in the order tasks are generated (a valid
serialization of the concurrent inserts); each window in flight has its own host copy of its
core's table, so windows running on different cores never share state they would not share on
the machine.
"""
from __future__ import annotations

import numpy as np

from simulator.machine import Phase, Simulation, Windows
from simulator.machine.trace import OP_WIDTH
from simulator.programs import base as B
from simulator.programs import buddy, prep
from simulator.programs.base import IDX_BYTES, PTR_BYTES, SLOT_BYTES, VAL_BYTES, KernelOutput, Knob
from simulator.programs.smash_gen import *  # noqa: F401,F403  (task kinds, indices, generator)
from simulator.programs.smash_gen import smash_generate
from spgemm.accumulators import EMPTY, HASH_FUNCTIONS, WORK_SIZE

SLICE = 256              # table slots per write-back task
ROWS_PER_TASK = 256      # rows per row-end / free task
ATTEMPTS_PER_TASK = 32   # allocation attempts per allocation task
WINDOW_ROWS = 4096       # rows per window at most (cursors / descriptors in the scratchpad)
MIN_CHUNK = 32           # multiply-adds per task at least ...
TASKS_PER_THREAD = 16    # ... and smaller than `chunk` when a thread would get fewer tasks
WINDOWS_PER_CORE = 4     # small matrices: windows cut so that each core gets at least this many
SPILL_ROTATION = 4       # fragments: batches that may hold a spill table at once (insert -> wb)

# ---- the program: knobs, planning, run ----------------------------------------------------------

KNOBS: dict[str, Knob] = {
    "windows": Knob("dynamic", "windows of rows go to cores statically (contiguous runs of equal "
                    "work) or as dynamic tokens (a fetch-add when a core is done)",
                    ("static", "dynamic")),
    "order": Knob("index", "dynamic windows: row order or heaviest first", ("index", "heaviest")),
    "table": Knob("shared", "one table per core keyed by (row, column), or per-row fragments "
                  "carved from the core's pool by a buddy allocator", ("shared", "fragments")),
    "placement": Knob("spad", "tables in the core's scratchpad or in DRAM", ("spad", "dram")),
    "atomics": Knob(True, "claim a slot by CAS and accumulate by atomic add; false: a lock per "
                    "slot (atomic swap, load, store, release)"),
    "chunk": Knob(256, "multiply-adds per task inside a window (the core's threads split it)"),
    "load_factor": Knob(2, "table slots >= load_factor x entries"),
    "sizes": Knob("bound", "rows' table sizes: min(row flops, n_col) from the bounds phase, or "
                  "exact nnz from a simulated symbolic phase", ("bound", "symbolic")),
    "offsets": Knob("atomic", "C's row offsets: claimed by fetch-add per window/batch (4-array "
                    "CSR) or from the symbolic phase's scan (CSR)", ("atomic", "symbolic")),
    "hash": Knob("fibonacci", "hash function (linear probing)", tuple(HASH_FUNCTIONS)),
    "max_probes": Knob(16, "tables that may overflow: probes before the entry goes to DRAM"),
    "table_slots": Knob(0, "shared table slots per core (0: what fits the scratchpad)"),
    "fragment_max_slots": Knob(0, "largest fragment (0: 1/8 of the pool)"),
    "batches": Knob(8, "fragments: batches pipelined in a window"),
    "writeback": Knob("unsorted", "order of each row of C", ("unsorted", "sorted")),
}

PRESETS: dict[str, dict] = {
    "smash-v1": dict(windows="static", table="shared"),
    "smash-v2": dict(windows="dynamic", table="shared"),
    "smash-v3": dict(windows="dynamic", table="fragments"),
}


def cut_groups(units: np.ndarray, cap: int, max_rows: int, alone=None, flops=None,
               flop_step: int = 0) -> np.ndarray:
    """Boundaries of groups of consecutive rows whose units sum to about `cap`, found from the
    prefix in one parallel pass (the scan's): a row starts a group where the prefix crosses a
    multiple of 3/4 cap, next to a row that must be alone in its group (`alone`, default: the
    rows above cap/4, so that no group exceeds cap), every max_rows rows, or (given `flops`
    per row and `flop_step`) where the flop prefix crosses a multiple of flop_step.
    Returns int64[n_groups + 1] from 0 to n."""
    units = np.asarray(units, dtype=np.int64)
    n = units.size
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    pre = np.concatenate([[0], np.cumsum(units)[:-1]])
    step = max(1, (3 * int(cap)) // 4)
    big = units > int(cap) // 4 if alone is None else np.asarray(alone, dtype=bool)
    g = pre // step
    r = np.arange(n)
    start = np.ones(n, dtype=bool)
    start[1:] = ((g[1:] != g[:-1]) | big[1:] | big[:-1]
                 | (r[1:] // max_rows != r[:-1] // max_rows))
    if flops is not None and flop_step > 0:
        fg = np.concatenate([[0], np.cumsum(flops)[:-1]]) // int(flop_step)
        start[1:] |= fg[1:] != fg[:-1]
    return np.concatenate([np.nonzero(start)[0], [n]]).astype(np.int64)


def _chunks(f0: int, f1: int, g: int) -> np.ndarray:
    """Boundaries splitting the flop range f0..f1 into about equal pieces of at most g."""
    m = -(-(f1 - f0) // g)
    return f0 + ((f1 - f0) * np.arange(m + 1)) // max(m, 1) if m else np.zeros(0, np.int64)


class _Tasks:
    """Task rows and their stages, appended window by window."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.stage: list[np.ndarray] = []
        self.bounds = [0]
        self.n = 0

    def add(self, kind: int, a, b, w: int, c=0, d=0, stage: int = 0) -> None:
        a, b, c, d = np.broadcast_arrays(np.asarray(a, np.int64), np.asarray(b, np.int64),
                                         np.asarray(c, np.int64), np.asarray(d, np.int64))
        m = a.size
        if m == 0:
            return
        blk = np.empty((m, TK_W), dtype=np.int64)
        blk[:, 0] = kind
        blk[:, 1] = a.reshape(-1)
        blk[:, 2] = b.reshape(-1)
        blk[:, 3] = w
        blk[:, 4] = c.reshape(-1)
        blk[:, 5] = d.reshape(-1)
        self.rows.append(blk)
        self.stage.append(np.full(m, stage, dtype=np.int64))
        self.n += m

    def end_window(self) -> None:
        self.bounds.append(self.n)

    def arrays(self):
        if not self.rows:
            return np.zeros((0, TK_W), np.int64), np.zeros(0, np.int64), np.array(self.bounds)
        return (np.concatenate(self.rows), np.concatenate(self.stage),
                np.asarray(self.bounds, dtype=np.int64))


def _slices(total: int) -> tuple[np.ndarray, np.ndarray]:
    s0 = np.arange(0, total, SLICE, dtype=np.int64)
    return s0, np.minimum(s0 + SLICE, total)


def window_flops(fptr: np.ndarray, cores: int) -> int:
    """Flops a window holds at most: enough windows for WINDOWS_PER_CORE per core."""
    return max(1, -(-int(fptr[-1]) // (WINDOWS_PER_CORE * cores))) if fptr.size else 1


def plan_shared(sizes, fptr, S, lf, chunk, need_rowend, cores=1):
    """Windows of the shared table: (TK, stage, bounds, WIN, cost, spill slots)."""
    n_row = sizes.size
    cuts = cut_groups(sizes, S // lf, WINDOW_ROWS, flops=np.diff(fptr),
                      flop_step=window_flops(fptr, cores))
    nw = cuts.size - 1
    WIN = np.zeros((nw, W_N), dtype=np.int64)
    WIN[:, W_R0] = cuts[:-1]
    WIN[:, W_R1] = cuts[1:]
    csum = np.concatenate([[0], np.cumsum(sizes)])
    WIN[:, W_SIZE] = csum[cuts[1:]] - csum[cuts[:-1]]
    WIN[:, W_OVER] = WIN[:, W_SIZE] * lf > S
    WIN[:, W_HOST] = -1
    over_need = int(WIN[WIN[:, W_OVER] == 1, W_SIZE].max()) if WIN[:, W_OVER].any() else 1
    SS = int(B.hash_slots(np.array([over_need]), lf, 4)[0])
    T = _Tasks()
    ts0, ts1 = _slices(S)
    ss0, ss1 = _slices(SS)
    for w in range(nw):
        r0, r1 = int(WIN[w, W_R0]), int(WIN[w, W_R1])
        T.add(K_INIT, 0, 0, w)
        fb = _chunks(int(fptr[r0]), int(fptr[r1]), chunk)
        T.add(K_INSERT, fb[:-1], fb[1:], w, r0, r1)
        T.add(K_SCATTER, ts0, ts1, w, 0, 0, stage=1)
        if WIN[w, W_OVER]:
            T.add(K_SCATTER, ss0, ss1, w, 1, 0, stage=1)
        if need_rowend:
            ra = np.arange(r0, r1, ROWS_PER_TASK)
            T.add(K_ROWEND, ra, np.minimum(ra + ROWS_PER_TASK, r1), w, stage=2)
        T.end_window()
    TK, stage, bounds = T.arrays()
    cost = (fptr[cuts[1:]] - fptr[cuts[:-1]]).astype(np.float64) + S / 2
    return TK, stage, bounds, WIN, cost, SS


class FragPlan:
    """The fragments' pipeline, planned by running the allocator (see `plan_fragments`)."""


def plan_fragments(sizes, fptr, pool_slots, frag_max, lf, chunk, batches, AB, cores=1):
    """Windows of batches of rows with per-row fragments; runs the buddy allocator in the order
    the machine will (allocations of a stage before its frees) and records its operations.

    sizes: rows' sizes; fptr: flop prefix; pool_slots: the pool (a multiple of MIN_SLOTS);
    frag_max: largest fragment; AB: [pool, heads, tags] encoded addresses."""
    n_row = sizes.size
    MIN = buddy.MIN_SLOTS
    n_min = pool_slots // MIN
    fs = np.minimum(B.hash_slots(sizes, lf, MIN), frag_max)
    fs[sizes == 0] = 0
    over = (sizes * lf > frag_max).astype(np.int64)
    large = (fs > SLICE) | (over == 1)       # written back in slices, freed a stage later
    # a batch takes at most a quarter of the pool (about three are live at once); small
    # matrices: batches small enough for WINDOWS_PER_CORE windows per core
    small = -(-int(fs.sum()) // (WINDOWS_PER_CORE * cores * batches))
    budget = min(pool_slots // 4, max(4 * SLICE, small))
    # a batch is a soft budget (the allocator has the last word): only overfull rows are alone
    bcuts = cut_groups(fs, budget, max(1, WINDOW_ROWS // batches), alone=over == 1)
    # windows: `batches` batches, fewer where the flops reach a window's share
    nb_all = bcuts.size - 1
    bi = np.arange(nb_all)
    fg = fptr[bcuts[:-1]] // window_flops(fptr, cores)
    wstart = np.ones(nb_all, dtype=bool)
    wstart[1:] = (bi[1:] // batches != bi[:-1] // batches) | (fg[1:] != fg[:-1])
    wcuts = np.concatenate([bcuts[:-1][wstart], [n_row]]).astype(np.int64)
    nw = wcuts.size - 1

    no = buddy.n_orders(n_min)
    heads = np.zeros(no, np.int64)
    nxt = np.zeros(max(n_min, 1), np.int64)
    prv = np.zeros(max(n_min, 1), np.int64)
    tag = np.zeros(max(n_min, 1), np.int64)
    scratch = np.zeros((16 * no + 64, OP_WIDTH), np.int64)
    frag_off = np.zeros(max(n_row, 1), np.int64)
    frag_rot = np.zeros(max(n_row, 1), np.int64)
    att_row, att_ok, att_ops = [], [], []
    free_ops = [None] * n_row
    rowlist: list[int] = []
    spill_need = [0]
    T = _Tasks()
    WIN = np.zeros((nw, W_N), dtype=np.int64)
    WIN[:, W_R0] = wcuts[:-1]
    WIN[:, W_R1] = wcuts[1:]
    WIN[:, W_HOST] = -1
    live_log = []                     # (stage key, rows live) for the overlap check

    def free_row(r):
        o = buddy.order_of(fs[r])
        m = buddy.buddy_free(heads, nxt, prv, tag, frag_off[r] // MIN, o, n_min, scratch, 0, AB)
        free_ops[r] = scratch[:m].copy()

    def rows_tasks(kind, rows, k, w, per):
        i0 = len(rowlist)
        rowlist.extend(rows)
        lo = np.arange(i0, i0 + len(rows), per)
        T.add(kind, lo, np.minimum(lo + per, i0 + len(rows)), w, stage=k)

    for w in range(nw):
        buddy.buddy_init(heads, nxt, prv, tag, n_min)
        b0, b1 = int(np.searchsorted(bcuts, wcuts[w])), int(np.searchsorted(bcuts, wcuts[w + 1]))
        E: dict[int, list[int]] = {}
        deferred: list[int] = []
        k = 0
        first = True
        while True:
            nbk = b0 + k
            tries = deferred + (list(range(int(bcuts[nbk]), int(bcuts[nbk + 1]))) if nbk < b1 else [])
            sliced_prev = [r for r in E.get(k - 3, []) if large[r]]
            if not tries and not E.get(k - 1) and not E.get(k - 2) and not sliced_prev:
                if k > 0:
                    break
            # allocations (they see the frees of earlier stages only)
            a_start = len(att_row)
            got, deferred = [], []
            for r in tries:
                if fs[r] == 0:
                    att_row.append(r); att_ok.append(1); att_ops.append(scratch[:0].copy())
                    got.append(r)
                    continue
                blk, m = buddy.buddy_alloc(heads, nxt, prv, tag, buddy.order_of(fs[r]), scratch, 0, AB)
                att_row.append(r); att_ops.append(scratch[:m].copy())
                if blk < 0:
                    att_ok.append(0)
                    deferred.append(r)
                else:
                    att_ok.append(1)
                    frag_off[r] = blk * MIN
                    frag_rot[r] = k % SPILL_ROTATION
                    got.append(r)
            if tries and not got and not E.get(k - 1) and not E.get(k - 2) and not sliced_prev:
                raise AssertionError("fragment allocator: an empty pool refused a fragment")
            if len(att_row) > a_start:
                lo = np.arange(a_start, len(att_row), ATTEMPTS_PER_TASK)
                flag = np.zeros(lo.size, np.int64)
                flag[0] = 1 if first else 0
                T.add(K_ALLOC, lo, np.minimum(lo + ATTEMPTS_PER_TASK, len(att_row)), w, flag, 0, stage=k)
                first = False
            E[k] = [r for r in got if fs[r] > 0]
            ov = [r for r in E[k] if over[r]]
            if ov:
                spill_need[0] = max(spill_need[0], int(sizes[ov].sum()))
            live_log.append([r for s in (k, k - 1, k - 2) for r in E.get(s, [])] + sliced_prev)
            # frees of large rows written back in the stage before
            for r in sliced_prev:
                free_row(r)
            if sliced_prev:
                rows_tasks(K_FREE, sliced_prev, k, w, ATTEMPTS_PER_TASK)
            # write-back of batch k - 2: small rows whole (grouped), large rows in slices
            wbk = E.get(k - 2, [])
            small = [r for r in wbk if not large[r]]
            for r in small:
                free_row(r)
            if small:
                cs = np.cumsum(fs[small])
                grp = np.concatenate([[0], np.nonzero(np.diff(cs // SLICE))[0] + 1, [len(small)]])
                i0 = len(rowlist)
                rowlist.extend(small)
                T.add(K_WB, i0 + grp[:-1], i0 + grp[1:], w, stage=k)
            for r in wbk:
                if large[r]:
                    s0, s1 = _slices(int(fs[r]))
                    T.add(K_SLICE, s0, s1, w, r, 0, stage=k)
            if any(over[r] for r in wbk):
                T.add(K_SCATTER, -1, -1, w, 1, (k - 2) % SPILL_ROTATION, stage=k)   # slots set below
            # inserts of batch k - 1, run by run of consecutive rows
            ins = E.get(k - 1, [])
            if ins:
                rr = np.asarray(ins, dtype=np.int64)
                brk = np.concatenate([[0], np.nonzero(np.diff(rr) != 1)[0] + 1, [rr.size]])
                for i in range(brk.size - 1):
                    ra, rb = int(rr[brk[i]]), int(rr[brk[i + 1] - 1]) + 1
                    fb = _chunks(int(fptr[ra]), int(fptr[rb]), chunk)
                    T.add(K_INSERT, fb[:-1], fb[1:], w, ra, rb, stage=k)
            k += 1
        T.end_window()
        if not np.array_equal(heads, _empty_heads(n_min, no)):
            raise AssertionError("fragment allocator: the pool is not whole at the end of a window")

    TK, stage, bounds = T.arrays()
    SS = int(B.hash_slots(np.array([max(spill_need[0], 1)]), lf, 4)[0])
    # spill scatter placeholders -> one task per slice of the spill table
    TK, stage, bounds = _expand_spill_slices(TK, stage, bounds, SS)
    plan = FragPlan()
    plan.fs, plan.over, plan.frag_off, plan.frag_rot = fs, over, frag_off, frag_rot
    plan.TK, plan.stage, plan.bounds, plan.WIN, plan.SS = TK, stage, bounds, WIN, SS
    plan.att_row = np.asarray(att_row, np.int64)
    plan.att_ok = np.asarray(att_ok, np.int64)
    plan.att_ptr = np.concatenate([[0], np.cumsum([len(x) for x in att_ops])]).astype(np.int64)
    plan.aops = (np.concatenate(att_ops) if att_ops else np.zeros((0, OP_WIDTH), np.int64))
    lens = np.array([0 if f is None else len(f) for f in free_ops], dtype=np.int64)
    plan.fops_ptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    got_ops = [f for f in free_ops if f is not None and len(f)]
    plan.fops = np.concatenate(got_ops) if got_ops else np.zeros((0, OP_WIDTH), np.int64)
    plan.rowlist = np.asarray(rowlist if rowlist else [0], np.int64)
    plan.live = live_log
    plan.cost = np.array([fptr[WIN[w, W_R1]] - fptr[WIN[w, W_R0]] for w in range(nw)],
                         dtype=np.float64) + pool_slots / 8
    return plan


def _empty_heads(n_min: int, no: int) -> np.ndarray:
    heads = np.zeros(no, np.int64)
    m = max(n_min, 1)
    buddy.buddy_init(heads, np.zeros(m, np.int64), np.zeros(m, np.int64), np.zeros(m, np.int64), n_min)
    return heads


def _expand_spill_slices(TK, stage, bounds, SS):
    """Replace each spill write-back placeholder (a = -1) by one task per slice of the table."""
    ph = np.nonzero((TK[:, 0] == K_SCATTER) & (TK[:, 1] == -1))[0]
    if ph.size == 0:
        return TK, stage, bounds
    s0, s1 = _slices(SS)
    reps = np.ones(TK.shape[0], dtype=np.int64)
    reps[ph] = s0.size
    idx = np.repeat(np.arange(TK.shape[0]), reps)
    TK2 = TK[idx].copy()
    st2 = stage[idx]
    first = np.concatenate([[0], np.cumsum(reps)[:-1]])
    for p in ph:
        TK2[first[p]:first[p] + s0.size, 1] = s0
        TK2[first[p]:first[p] + s0.size, 2] = s1
    new_bounds = np.concatenate([[0], np.cumsum(reps)])[bounds]
    return TK2, st2, new_bounds


def check_live_fragments(plan: FragPlan) -> None:
    """Raise if two fragments live at the same time overlap (planned offsets and sizes)."""
    for rows in plan.live:
        if len(rows) < 2:
            continue
        r = np.unique(np.asarray(rows, dtype=np.int64))
        lo = plan.frag_off[r]
        hi = lo + plan.fs[r]
        o = np.argsort(lo, kind="stable")
        if np.any(hi[o][:-1] > lo[o][1:]):
            raise AssertionError("fragment allocator: live fragments overlap")


class _HostTables:
    """Host copies of the tables of the windows in flight, one row per window: a core's table
    (or pool) and its spill tables. Rows are handed out when a window's first task is generated
    and taken back after its last (whose write-back left the table empty)."""

    def __init__(self, slots: int, spill_slots: int) -> None:
        self.slots, self.spill = max(slots, 1), max(spill_slots, 1)
        self.hk = np.full((0, self.slots), EMPTY, np.int64)
        self.hv = np.zeros((0, self.slots))
        self.sk = np.full((0, self.spill), EMPTY, np.int64)
        self.sv = np.zeros((0, self.spill))
        self.free: list[int] = []

    def take(self) -> int:
        if not self.free:
            k = self.hk.shape[0]
            more = max(4, k)
            self.hk = np.vstack([self.hk, np.full((more, self.slots), EMPTY, np.int64)])
            self.hv = np.vstack([self.hv, np.zeros((more, self.slots))])
            self.sk = np.vstack([self.sk, np.full((more, self.spill), EMPTY, np.int64)])
            self.sv = np.vstack([self.sv, np.zeros((more, self.spill))])
            self.free = list(range(k + more - 1, k - 1, -1))
        return self.free.pop()

    def give(self, h: int) -> None:
        self.free.append(h)


def _geometry(sim: Simulation, knobs: dict, sizes: np.ndarray, lf: int, spad: bool):
    """Slots of the shared table, or of the fragment pool (and the largest fragment)."""
    cfg = sim.cfg
    if knobs["table"] == "shared":
        avail = (B.spad_free(sim) - 8192) if spad else max(cfg.spad.size_bytes, 1 << 22)
        top = max(avail // SLOT_BYTES // 4 * 4, 4)
        if knobs["table_slots"]:
            S = int(knobs["table_slots"])
            if spad and S > top:
                raise ValueError(f"knob table_slots: {S} slots do not fit the scratchpad "
                                 f"({top} fit)")
        else:       # small matrices: enough windows for every core (a table per window's need)
            need = lf * -(-int(sizes.sum()) // (WINDOWS_PER_CORE * cfg.cores))
            S = int(min(top, max(64, -(-need // 4) * 4)))
        return S, 0
    avail = (B.spad_free(sim) - 8192) if spad else max(cfg.spad.size_bytes, 1 << 22)
    n_min = max(avail // (buddy.BLOCK_BYTES + 1), 1)
    pool = n_min * buddy.MIN_SLOTS
    largest = B.pow2_floor(n_min) * buddy.MIN_SLOTS
    fmax = int(knobs["fragment_max_slots"]) or B.pow2_floor(max(pool // 8, buddy.MIN_SLOTS))
    fmax = B.pow2_floor(max(fmax, buddy.MIN_SLOTS))
    if fmax > largest:
        raise ValueError(f"knob fragment_max_slots: larger than the largest block of the pool "
                         f"({largest} slots)")
    return pool, fmax


def run_smash(sim: Simulation, ops: B.Operands, knobs: dict) -> KernelOutput:
    from simulator.programs import rowwise
    cfg = sim.cfg
    n_row, n_col = ops.sym.shape
    a = B.csr_arrays(ops.A)
    b = B.csr_arrays(ops.B)
    lf = max(1, int(knobs["load_factor"]))
    frag = knobs["table"] == "fragments"
    spad = knobs["placement"] == "spad" and cfg.spad.size_bytes > 0
    atomic_offsets = knobs["offsets"] == "atomic"
    sorted_wb = knobs["writeback"] == "sorted"
    AD = np.zeros(AD_N, np.int64)
    opr = B.operand_regions(sim, ops)
    for key, name in ((AD_APTR, "A.indptr"), (AD_AIDX, "A.indices"), (AD_AVAL, "A.data"),
                      (AD_BPTR, "B.indptr"), (AD_BIDX, "B.indices"), (AD_BVAL, "B.data")):
        AD[key] = opr[name]

    # what the machine computes first: bounds, (symbolic), scan
    bd = prep.run_bounds(sim, ops)
    AD[AD_QCUM] = bd.qcum_base
    fptr = bd.qcum[a[0]]                      # row r's partial products start at fptr[r]
    sym = None
    if knobs["sizes"] == "symbolic" or not atomic_offsets:
        sym = rowwise.run_symbolic(sim, ops)
    if knobs["sizes"] == "symbolic":
        sizes, AD[AD_SIZES] = sym[0], sym[1]
    else:
        sizes, AD[AD_SIZES] = np.minimum(bd.row_flops, n_col), bd.flops_base
    sizes = np.ascontiguousarray(sizes, dtype=np.int64)
    AD[AD_WIN] = sim.dram_region("plan.windows", B.nbytes(n_row + 1, 16)).base
    AD[AD_NEXT] = (sim.spad_region("smash.next", 8, core=0).base if cfg.spad.size_bytes > 0 else
                   sim.dram_region("smash.next", 8, access_class="random").base)
    if frag:
        AD[AD_CUR] = B.local_region(sim, "frag.desc", WINDOW_ROWS * 16).base
    else:
        AD[AD_CUR] = B.local_region(sim, "win.cursor", WINDOW_ROWS * 8).base
    S, fmax = _geometry(sim, knobs, sizes, lf, spad)
    if frag:
        units = np.minimum(B.hash_slots(sizes, lf, buddy.MIN_SLOTS), fmax)
        units[sizes == 0] = 0
    else:
        units = sizes
    arrays = [(units, int(AD[AD_SIZES]), "plan.prefix")]
    if not atomic_offsets:
        arrays.append((sym[0], sym[1], "C.indptr"))
    scans = prep.run_scan(sim, arrays, extra_instructions=4 if frag else 3)

    # tables and the plan; small matrices: smaller chunks, so that every thread gets a few
    chunk = max(1, min(int(knobs["chunk"]),
                       max(MIN_CHUNK, int(fptr[-1]) // (TASKS_PER_THREAD * cfg.threads))))
    P = np.zeros(P_N, np.int64)
    P[P_NCOL] = n_col
    P[P_HASH] = HASH_FUNCTIONS[knobs["hash"]]
    P[P_ATOMIC] = 1 if knobs["atomics"] else 0
    P[P_MAXP] = max(1, int(knobs["max_probes"]))
    P[P_FRAG] = 1 if frag else 0
    P[P_ATOMIC_OFFSETS] = 1 if atomic_offsets else 0
    P[P_SORTED] = 1 if sorted_wb else 0
    P[P_DYNWIN] = 1 if knobs["windows"] == "dynamic" else 0
    P[P_CUR_STRIDE], P[P_CUR_OFF] = (16, 8) if frag else (8, 0)
    tab_region = (lambda name, nbytes: sim.spad_region(name, nbytes).base) if spad else \
        (lambda name, nbytes: sim.dram_region(name, nbytes, per="core", access_class="random").base)
    n_rows1 = max(n_row, 1)
    frag_off = np.zeros(n_rows1, np.int64)
    frag_slots = np.zeros(n_rows1, np.int64)
    frag_over = np.zeros(n_rows1, np.int64)
    frag_rot = np.zeros(n_rows1, np.int64)
    empty_ops = np.zeros((0, OP_WIDTH), np.int64)
    att_row = att_ok = np.zeros(1, np.int64)
    att_ptr = np.zeros(2, np.int64)
    aops = fops = empty_ops
    fops_ptr = np.zeros(n_row + 1, np.int64)
    rowlist = np.zeros(1, np.int64)
    if frag:
        n_min = S // buddy.MIN_SLOTS
        heads_base = B.local_region(sim, "frag.heads", buddy.n_orders(n_min) * 8).base
        tags_base = B.local_region(sim, "frag.tags", n_min).base
        AD[AD_TAB] = tab_region("pool", S * SLOT_BYTES)
        AB = np.array([AD[AD_TAB], heads_base, tags_base], np.int64)
        plan = plan_fragments(sizes, fptr, S, fmax, lf, chunk, max(1, int(knobs["batches"])), AB,
                              cores=cfg.cores)
        check_live_fragments(plan)
        TK, stage, bounds, WIN, SS, cost = plan.TK, plan.stage, plan.bounds, plan.WIN, plan.SS, plan.cost
        frag_off[:n_row] = plan.frag_off[:n_row]
        frag_slots[:n_row] = plan.fs
        frag_over[:n_row] = plan.over
        frag_rot[:n_row] = plan.frag_rot[:n_row]
        att_row, att_ok, att_ptr, aops = plan.att_row, plan.att_ok, plan.att_ptr, plan.aops
        fops_ptr, fops, rowlist = plan.fops_ptr, plan.fops, plan.rowlist
        spill_rows = SPILL_ROTATION * SS
    else:
        AD[AD_TAB] = tab_region("table", S * SLOT_BYTES)
        TK, stage, bounds, WIN, cost, SS = plan_shared(sizes, fptr, S, lf, chunk,
                                                       atomic_offsets or sorted_wb, cfg.cores)
        spill_rows = SS
    P[P_S], P[P_SS] = S, SS
    AD[AD_SPILL] = sim.dram_region("spill", spill_rows * SLOT_BYTES, per="core",
                                   access_class="random").base
    # C
    c_total = int(sizes.sum()) if atomic_offsets else int(ops.nnz_c)
    c_start = np.zeros(n_rows1, np.int64)
    c_end = np.zeros(n_rows1, np.int64)
    if atomic_offsets:
        AD[AD_CSTART] = sim.dram_region("C.rowstart", B.nbytes(n_row, PTR_BYTES), access_class="output").base
        AD[AD_CEND] = sim.dram_region("C.rowend", B.nbytes(n_row, PTR_BYTES), access_class="output").base
        AD[AD_CALLOC] = sim.dram_region("C.alloc", 8, access_class="random").base
    else:
        c_ptr, AD[AD_CSTART] = scans[1]
        c_start[:n_row] = c_ptr[:-1]
    AD[AD_CIDX] = sim.dram_region("C.indices", B.nbytes(c_total, IDX_BYTES), access_class="output").base
    AD[AD_CVAL] = sim.dram_region("C.data", B.nbytes(c_total, VAL_BYTES), access_class="output").base
    c_idx = np.zeros(max(c_total, 1), np.int64)
    c_val = np.zeros(max(c_total, 1), np.float64)
    c_cur = c_start.copy()
    calloc = np.zeros(1, np.int64)
    longest = max(int(sizes.max()) if n_row else 1, SLICE)
    tk = np.zeros(longest, np.uint64)
    tv = np.zeros(longest, np.float64)
    work = np.zeros(WORK_SIZE, np.int64)
    ct = np.zeros(B.CT_N, np.int64)
    host = _HostTables(S, spill_rows)
    last_of = np.full(TK.shape[0], -1, np.int64)
    ends = bounds[1:] - 1
    nonempty = bounds[1:] > bounds[:-1]
    last_of[ends[nonempty]] = np.nonzero(nonempty)[0]
    args = (a[0], a[1], a[2], b[0], b[1], b[2], bd.qcum, sizes, c_start, c_cur, c_end, c_idx,
            c_val, calloc)

    def gen(ids):
        ids = np.asarray(ids, dtype=np.int64)
        for w in np.unique(TK[ids, 3]):
            if WIN[w, W_HOST] < 0:
                WIN[w, W_HOST] = host.take()
        out = smash_generate(ids, TK, WIN, *args, host.hk, host.hv, host.sk, host.sv, frag_off,
                             frag_slots, frag_over, frag_rot, rowlist, att_row, att_ok, att_ptr,
                             aops, fops_ptr, fops, tk, tv, work, P, AD, ct)
        for w in last_of[ids][last_of[ids] >= 0]:
            host.give(int(WIN[w, W_HOST]))
            WIN[w, W_HOST] = -1
        return out

    if TK.shape[0]:
        sched = Windows(bounds=bounds, stage=stage, assign=knobs["windows"], order=knobs["order"],
                        cost=cost, within="dynamic")
        sim.run_phase(Phase("numeric", TK.shape[0], gen, sched))
    if np.any(WIN[:, W_HOST] >= 0):
        raise AssertionError("smash: a window's tasks were not all generated")
    if not atomic_offsets:
        if not np.array_equal(c_cur[:n_row], c_ptr[1:]):
            raise AssertionError("smash: rows did not fill C as the symbolic phase said")
        return KernelOutput(c_ptr, c_idx[:ops.nnz_c], c_val[:ops.nnz_c], ct)
    return KernelOutput(c_start[:n_row], c_idx, c_val, ct, c_end=c_end[:n_row])
