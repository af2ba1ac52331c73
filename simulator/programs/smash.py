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

import mmap
import sys

import numpy as np

from simulator.machine import Phase, Simulation, Windows
from simulator.machine.trace import OP_WIDTH
from simulator.programs import base as B
from simulator.programs import buddy, prep
from simulator.programs.base import IDX_BYTES, PTR_BYTES, SLOT_BYTES, VAL_BYTES, KernelOutput, Knob
from simulator.programs.smash_gen import (  # task kinds, table and index layouts, the generator
    AD_AIDX, AD_APTR, AD_AVAL, AD_BIDX, AD_BPTR, AD_BVAL, AD_CALLOC, AD_CEND, AD_CIDX, AD_CSTART,
    AD_CUR, AD_CVAL, AD_N, AD_NEXT, AD_QCUM, AD_SIZES, AD_SPILL, AD_TAB, AD_WIN, K_ALLOC, K_FREE,
    K_INIT, K_INSERT, K_ROWEND, K_SCATTER, K_SLICE, K_WB, P_ATOMIC, P_ATOMIC_OFFSETS, P_CUR_OFF,
    P_CUR_STRIDE, P_DYNWIN, P_FRAG, P_HASH, P_MAXP, P_N, P_NCOL, P_S, P_SORTED, P_SS, TK_W, W_HOST,
    W_N, W_NEXT, W_OVER, W_R0, W_R1, W_SIZE, W_SPILL, smash_generate)
from spgemm.accumulators import HASH_FUNCTIONS, WORK_SIZE

SLICE = 256              # table slots per write-back task
ROWS_PER_TASK = 256      # rows per row-end / free task
ATTEMPTS_PER_TASK = 32   # allocation attempts per allocation task
WINDOW_ROWS = 4096       # rows per window at most (cursors / descriptors in the scratchpad)
MIN_CHUNK = 32           # multiply-adds per task at least ...
TASKS_PER_THREAD = 64    # ... and smaller than `chunk` when a thread would get fewer tasks
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
    "fragment_max_slots": Knob(0, "largest fragment (0: the largest block the pool holds)"),
    "batches": Knob(8, "fragments: batches pipelined in a window"),
    "writeback": Knob("unsorted", "order of each row of C", ("unsorted", "sorted")),
    **B.PLACEMENT_KNOBS,
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
        """(TK, stage, bounds); the blocks are given up (at R-MAT 18 the tasks take 2.5 GB)."""
        if not self.rows:
            return np.zeros((0, TK_W), np.int64), np.zeros(0, np.int64), np.array(self.bounds)
        rows, stage, self.rows, self.stage = self.rows, self.stage, [], []
        return (np.concatenate(rows), np.concatenate(stage),
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
    """The fragments' pipeline, planned by running the allocator (`plan_fragments`): per row
    its fragment (fs slots at frag_off; overfull rows spill; frag_rot picks their spill table);
    the tasks (TK, stage, window bounds, WIN, cost); the allocation attempts (att_row, att_ok,
    and their operations aops[att_ptr[a]:att_ptr[a + 1]]); each row's free operations
    (fops[fops_ptr[r]:fops_ptr[r + 1]]); the rows of WB / FREE tasks (rowlist); the spill
    tables' slots (SS); and the rows live at each allocation (live, for check_live_fragments)."""


class _FragPlanner:
    """Runs each window's pipeline of batches stage by stage: stage k allocates batch k (the
    rows that could not get a fragment before first), then frees the large rows of batch k-3,
    writes back batch k-2 (small rows whole and freed), and inserts batch k-1 — the order of the
    tasks in the stage, which is the order the allocator sees them in."""

    def __init__(self, sizes, fptr, pool_slots, frag_max, lf, chunk, AB):
        self.MIN = buddy.MIN_SLOTS
        self.n_min = pool_slots // self.MIN
        n_row = sizes.size
        self.sizes, self.fptr, self.chunk, self.AB = sizes, fptr, chunk, AB
        self.fs = np.minimum(B.hash_slots(sizes, lf, self.MIN), frag_max)
        self.fs[sizes == 0] = 0
        self.over = (sizes * lf > frag_max).astype(np.int64)
        self.large = (self.fs > SLICE) | (self.over == 1)   # written back in slices, freed later
        no = buddy.n_orders(self.n_min)
        m = max(self.n_min, 1)
        self.heads = np.zeros(no, np.int64)
        self.nxt, self.prv, self.tag = (np.zeros(m, np.int64) for _ in range(3))
        self.empty = np.zeros(no, np.int64)
        buddy.buddy_init(self.empty, self.nxt, self.prv, self.tag, self.n_min)
        self.scratch = np.zeros((16 * no + 64, OP_WIDTH), np.int64)
        self.frag_off = np.zeros(max(n_row, 1), np.int64)
        self.frag_rot = np.zeros(max(n_row, 1), np.int64)
        self.att_row: list[int] = []
        self.att_ok: list[int] = []
        self.att_ops: list[np.ndarray] = []
        self.free_ops: list[np.ndarray | None] = [None] * n_row
        self.rowlist: list[int] = []
        self.spill_need = 0
        self.live: list[list[int]] = []
        self.T = _Tasks()

    def window(self, w: int, batches: list[range]) -> None:
        buddy.buddy_init(self.heads, self.nxt, self.prv, self.tag, self.n_min)
        E: dict[int, list[int]] = {}          # rows that got their fragment at stage k
        deferred: list[int] = []
        k = 0
        while True:
            tries = deferred + (list(batches[k]) if k < len(batches) else [])
            freeing = [r for r in E.get(k - 3, []) if self.large[r]]
            busy = E.get(k - 1) or E.get(k - 2) or freeing
            if k > 0 and not tries and not busy:
                break
            got, deferred = self._allocate(w, k, tries)
            if tries and not got and not busy:
                raise AssertionError("fragment allocator: an empty pool refused a fragment")
            E[k] = [r for r in got if self.fs[r] > 0]
            self.live.append([r for s in (k, k - 1, k - 2) for r in E.get(s, [])] + freeing)
            self._free(w, k, freeing)
            self._write_back(w, k, E.get(k - 2, []))
            self._insert(w, k, E.get(k - 1, []))
            k += 1
        self.T.end_window()
        if not np.array_equal(self.heads, self.empty):
            raise AssertionError("fragment allocator: the pool is not whole at the end of a window")

    def _allocate(self, w, k, tries):
        """Allocation attempts of stage k (tasks of ATTEMPTS_PER_TASK, the window's first one
        flagged): (rows that got a fragment, rows that wait)."""
        a_start = len(self.att_row)
        got, wait = [], []
        for r in tries:
            m, blk = 0, 0
            if self.fs[r]:
                blk, m = buddy.buddy_alloc(self.heads, self.nxt, self.prv, self.tag,
                                           buddy.order_of(self.fs[r]), self.scratch, 0, self.AB)
            self.att_row.append(r)
            self.att_ops.append(self.scratch[:m].copy())
            self.att_ok.append(int(blk >= 0))
            if blk < 0:
                wait.append(r)
                continue
            self.frag_off[r] = blk * self.MIN
            self.frag_rot[r] = k % SPILL_ROTATION
            got.append(r)
        if len(self.att_row) > a_start:
            lo = np.arange(a_start, len(self.att_row), ATTEMPTS_PER_TASK)
            first = np.zeros(lo.size, np.int64)
            first[0] = 1 if k == 0 else 0
            self.T.add(K_ALLOC, lo, np.minimum(lo + ATTEMPTS_PER_TASK, len(self.att_row)), w,
                       first, 0, stage=k)
        over = [r for r in got if self.over[r]]
        if over:
            self.spill_need = max(self.spill_need, int(self.sizes[over].sum()))
        return got, wait

    def _free_row(self, r):
        m = buddy.buddy_free(self.heads, self.nxt, self.prv, self.tag, self.frag_off[r] // self.MIN,
                             buddy.order_of(self.fs[r]), self.n_min, self.scratch, 0, self.AB)
        self.free_ops[r] = self.scratch[:m].copy()

    def _free(self, w, k, rows):
        """Large rows written back in the stage before: their ends, then their frees."""
        for r in rows:
            self._free_row(r)
        if rows:
            i0 = len(self.rowlist)
            self.rowlist.extend(rows)
            lo = np.arange(i0, i0 + len(rows), ATTEMPTS_PER_TASK)
            self.T.add(K_FREE, lo, np.minimum(lo + ATTEMPTS_PER_TASK, i0 + len(rows)), w, stage=k)

    def _write_back(self, w, k, rows):
        """Small rows whole (grouped up to SLICE slots a task, freed by it), large rows in
        slices, and the spill table of the batch if it has overfull rows."""
        small = [r for r in rows if not self.large[r]]
        for r in small:
            self._free_row(r)
        if small:
            cs = np.cumsum(self.fs[small])
            grp = np.concatenate([[0], np.nonzero(np.diff(cs // SLICE))[0] + 1, [len(small)]])
            i0 = len(self.rowlist)
            self.rowlist.extend(small)
            self.T.add(K_WB, i0 + grp[:-1], i0 + grp[1:], w, stage=k)
        for r in rows:
            if self.large[r]:
                s0, s1 = _slices(int(self.fs[r]))
                self.T.add(K_SLICE, s0, s1, w, r, 0, stage=k)
        if any(self.over[r] for r in rows):     # its slices are set once SS is known
            self.T.add(K_SCATTER, -1, -1, w, 1, (k - 2) % SPILL_ROTATION, stage=k)

    def _insert(self, w, k, rows):
        """Insert tasks of a batch, run by run of consecutive rows."""
        if not rows:
            return
        rr = np.asarray(rows, dtype=np.int64)
        brk = np.concatenate([[0], np.nonzero(np.diff(rr) != 1)[0] + 1, [rr.size]])
        for i in range(brk.size - 1):
            ra, rb = int(rr[brk[i]]), int(rr[brk[i + 1] - 1]) + 1
            fb = _chunks(int(self.fptr[ra]), int(self.fptr[rb]), self.chunk)
            self.T.add(K_INSERT, fb[:-1], fb[1:], w, ra, rb, stage=k)


def plan_fragments(sizes, fptr, pool_slots, frag_max, lf, chunk, batches, AB, cores=1) -> FragPlan:
    """Windows of batches of rows with per-row fragments; runs the buddy allocator in the order
    the machine will (allocations of a stage before its frees) and records its operations.

    sizes: rows' sizes; fptr: flop prefix (n_row + 1); pool_slots: the pool (a multiple of
    MIN_SLOTS); frag_max: largest fragment; batches: batches per window; AB: [pool, heads,
    tags] encoded addresses; cores: cores of the machine (small matrices: smaller batches)."""
    n_row = sizes.size
    pl = _FragPlanner(sizes, fptr, pool_slots, frag_max, lf, chunk, AB)
    # a batch takes about a quarter of the pool (three are live at once), less on small
    # matrices; a soft budget (the allocator has the last word): only overfull rows are alone
    small = -(-int(pl.fs.sum()) // (WINDOWS_PER_CORE * cores * batches))
    budget = min(pool_slots // 4, max(4 * SLICE, small))
    bcuts = cut_groups(pl.fs, budget, max(1, WINDOW_ROWS // batches), alone=pl.over == 1)
    # windows: `batches` batches, fewer where the flops reach a window's share
    nb_all = bcuts.size - 1
    bi = np.arange(nb_all)
    fg = fptr[bcuts[:-1]] // window_flops(fptr, cores)
    wstart = np.ones(nb_all, dtype=bool)
    wstart[1:] = (bi[1:] // batches != bi[:-1] // batches) | (fg[1:] != fg[:-1])
    first_batch = np.concatenate([np.nonzero(wstart)[0], [nb_all]])
    nw = first_batch.size - 1
    WIN = np.zeros((nw, W_N), dtype=np.int64)
    WIN[:, W_R0] = bcuts[first_batch[:-1]]
    WIN[:, W_R1] = bcuts[first_batch[1:]]
    WIN[:, W_HOST] = -1
    for w in range(nw):
        pl.window(w, [range(int(bcuts[b]), int(bcuts[b + 1]))
                      for b in range(first_batch[w], first_batch[w + 1])])

    plan = FragPlan()
    plan.SS = int(B.hash_slots(np.array([max(pl.spill_need, 1)]), lf, 4)[0])
    plan.TK, plan.stage, plan.bounds = _expand_spill_slices(*pl.T.arrays(), plan.SS)
    plan.WIN = WIN
    plan.fs, plan.over, plan.frag_off, plan.frag_rot = pl.fs, pl.over, pl.frag_off, pl.frag_rot
    plan.att_row = np.asarray(pl.att_row, np.int64)
    plan.att_ok = np.asarray(pl.att_ok, np.int64)
    plan.att_ptr = np.concatenate([[0], np.cumsum([len(x) for x in pl.att_ops])]).astype(np.int64)
    plan.aops = np.concatenate(pl.att_ops) if pl.att_ops else np.zeros((0, OP_WIDTH), np.int64)
    lens = np.array([0 if f is None else len(f) for f in pl.free_ops], dtype=np.int64)
    plan.fops_ptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    got = [f for f in pl.free_ops if f is not None and len(f)]
    plan.fops = np.concatenate(got) if got else np.zeros((0, OP_WIDTH), np.int64)
    plan.rowlist = np.asarray(pl.rowlist if pl.rowlist else [0], np.int64)
    plan.live = pl.live
    plan.cost = (fptr[WIN[:, W_R1]] - fptr[WIN[:, W_R0]]).astype(np.float64) + pool_slots / 8
    return plan


def _expand_spill_slices(TK, stage, bounds, SS):
    """Replace each spill write-back placeholder (a = -1) by one task per slice of the table."""
    ph = np.nonzero((TK[:, 0] == K_SCATTER) & (TK[:, 1] == -1))[0]
    if ph.size == 0:
        return TK, stage, bounds
    s0, s1 = _slices(SS)
    reps = np.ones(TK.shape[0], dtype=np.int64)
    reps[ph] = s0.size
    idx = np.repeat(np.arange(TK.shape[0]), reps)
    TK2 = TK[idx]                       # (a copy: fancy indexing)
    st2 = stage[idx]
    del idx
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


# anonymous small-page memory given back per row: Linux only (Windows has no MAP_PRIVATE; macOS
# does not promise zeros after MADV_DONTNEED); elsewhere plain numpy arrays zeroed on release
_SMALL_PAGES = sys.platform.startswith("linux") and hasattr(mmap, "MADV_DONTNEED")


def _zeroed(rows: int, cols: int, dtype) -> np.ndarray:
    """A [rows, cols'] array of zeros (cols' >= cols: each row whole pages) in anonymous memory
    of small pages, resident only where written (numpy asks the kernel for huge pages for large
    arrays, which would make a sparsely written table resident 2 MiB at a time)."""
    item = np.dtype(dtype).itemsize
    per = max(mmap.PAGESIZE // item, 1)
    cols = -(-max(int(cols), 1) // per) * per
    if not _SMALL_PAGES:
        return np.zeros((rows, cols), dtype)
    return np.frombuffer(mmap.mmap(-1, max(rows * cols * item, 1),
                                   flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS), dtype,
                         count=rows * cols).reshape(rows, cols)


def _release(a: np.ndarray, h: int) -> None:
    """Give row h of a `_zeroed` array back to the kernel: it reads as zeros again (Linux
    guarantees the zero fill of private anonymous pages after MADV_DONTNEED; elsewhere the row
    is zeroed in place)."""
    if not _SMALL_PAGES:
        a[h] = 0
        return
    _give_back(a, h * a.strides[0], (h + 1) * a.strides[0])


def _release_span(a: np.ndarray, lo: int, hi: int) -> None:
    """Give elements lo..hi of a one-row `_zeroed` array back to the kernel: the whole pages
    among them (the pages at its ends are shared with other rows of C); elsewhere nothing."""
    if _SMALL_PAGES and hi > lo:
        page, item = mmap.PAGESIZE, a.itemsize
        _give_back(a, -(-lo * item // page) * page, hi * item // page * page)


def _give_back(a: np.ndarray, b0: int, b1: int) -> None:
    """MADV_DONTNEED bytes b0..b1 (page-aligned) of the anonymous map under `_zeroed` array a."""
    if b1 <= b0:
        return
    m = a
    while isinstance(m, np.ndarray):
        m = m.base
    m = m.obj if isinstance(m, memoryview) else m
    m.madvise(mmap.MADV_DONTNEED, b0, b1 - b0)


class _TableRows:
    """Rows of host tables (keys + 1, 0 empty, and values), each a whole table, handed out lowest
    first and taken back empty (released: a row is resident only while its window is in flight,
    and only where written). `rows` are reserved (address space only); when all are out it grows
    by a quarter, copying the rows (all in flight, so resident whole for a moment)."""

    def __init__(self, slots: int, rows: int, key_dtype, first: int = 0) -> None:
        self.slots, self.key_dtype = max(int(slots), 1), key_dtype
        self.k = self.v = None
        self.free: list[int] = []
        self._grow(max(int(rows), 1), first)

    def _grow(self, more: int, first: int = 0) -> None:
        n = 0 if self.k is None else self.k.shape[0]
        k, v = _zeroed(n + more, self.slots, self.key_dtype), _zeroed(n + more, self.slots, np.float64)
        if n:
            k[:n], v[:n] = self.k, self.v
        self.k, self.v = k, v
        self.free = list(range(n + more - 1, n + first - 1, -1))

    def take(self) -> int:
        if not self.free:
            self._grow(max(4, self.k.shape[0] // 4))
        return self.free.pop()

    def give(self, h: int) -> None:
        _release(self.k, h)
        _release(self.v, h)
        self.free.append(h)


def index_dtype(top: int):
    """int32 for non-negative values up to `top`, else int64."""
    return np.int32 if top <= np.iinfo(np.int32).max else np.int64


def key_dtype(top: int):
    """int32 for keys (stored + 1) up to `top`, else int64."""
    return index_dtype(top + 1)


class _HostTables:
    """Host copies of the tables of the windows in flight: a core's table (or pool) per window,
    and spill tables for the windows that have overfull rows (the others share spill row 0,
    which stays empty). Rows are handed out when a window's first task is generated and taken
    back after its last (whose write-back left the tables empty). About one window is in flight
    per core: `rows` table rows and `spill_rows` spill rows are reserved (address space). Keys
    are int32 where they fit (`key_dtype`): a fragment's are columns, the shared and spill
    tables' row x n_col + column."""

    def __init__(self, slots: int, spill_slots: int, rows: int, spill_rows: int,
                 keys_top: int, spill_keys_top: int) -> None:
        self.tab = _TableRows(slots, rows, key_dtype(keys_top))
        self.spill = _TableRows(spill_slots, spill_rows + 1, key_dtype(spill_keys_top), first=1)

    def take(self) -> int:
        return self.tab.take()

    def take_spill(self) -> int:
        return self.spill.take()

    def give(self, h: int, hs: int) -> None:
        self.tab.give(h)
        if hs > 0:
            self.spill.give(hs)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.tab.k, self.tab.v, self.spill.k, self.spill.v


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
    # a row gets what load_factor x its size needs, up to the largest block the pool holds: a
    # cap below it (1/8 of the pool before) made rows spill, or stand alone in their
    # batch with a spill table, that the pool could hold (smash-v3, rmat:scale=16,ef=16 on
    # piuma-die: 2.37e8 cycles at 1/8, 1.40e8 at the largest block; docs/kernels.md)
    fmax = int(knobs["fragment_max_slots"]) or largest
    fmax = B.pow2_floor(max(fmax, buddy.MIN_SLOTS))
    if fmax > largest:
        raise ValueError(f"knob fragment_max_slots: larger than the largest block of the pool "
                         f"({largest} slots)")
    return pool, fmax


def _prepare(sim: Simulation, ops: B.Operands, knobs: dict, AD: np.ndarray):
    """What the machine computes before multiplying: the bounds (flop prefix), the symbolic
    phase when exact sizes or C's row pointers are asked for. Returns (bounds, rows' sizes,
    symbolic counts and their DRAM base or None); sets AD's qcum and sizes."""
    from simulator.programs import rowwise
    bd = prep.run_bounds(sim, ops)
    AD[AD_QCUM] = bd.qcum_base
    sym = None
    if knobs["sizes"] == "symbolic" or knobs["offsets"] == "symbolic":
        sym = rowwise.run_symbolic(sim, ops)
    if knobs["sizes"] == "symbolic":
        sizes, AD[AD_SIZES] = sym[0], sym[1]
    else:                              # the threads take min(flops, n_col) as they load them
        sizes, AD[AD_SIZES] = np.minimum(bd.row_flops, ops.sym.shape[1]), bd.flops_base
    return bd, np.ascontiguousarray(sizes, dtype=np.int64), sym


def _plan(sim: Simulation, knobs: dict, AD: np.ndarray, sizes, fptr, chunk: int, S: int,
          fmax: int) -> dict:
    """The table of S slots (or the pool, fragments of at most fmax) and the windows' tasks:
    the arrays the generator needs, plus TK, stage, bounds, WIN, cost and the table's and
    spill tables' slots (S, SS, spill_rows)."""
    cfg = sim.cfg
    lf = max(1, int(knobs["load_factor"]))
    spad = knobs["placement"] == "spad" and cfg.spad.size_bytes > 0
    n_row = sizes.size
    tab_region = (lambda name, nbytes: sim.spad_region(name, nbytes).base) if spad else \
        (lambda name, nbytes: sim.dram_region(name, nbytes, per="core", access_class="random").base)
    m = max(n_row, 1)
    out = dict(frag_off=np.zeros(m, np.int64), frag_slots=np.zeros(m, np.int64),
               frag_over=np.zeros(m, np.int64), frag_rot=np.zeros(m, np.int64),
               rowlist=np.zeros(1, np.int64), att_row=np.zeros(1, np.int64),
               att_ok=np.zeros(1, np.int64), att_ptr=np.zeros(2, np.int64),
               aops=np.zeros((0, OP_WIDTH), np.int64), fops_ptr=np.zeros(n_row + 1, np.int64),
               fops=np.zeros((0, OP_WIDTH), np.int64), S=S)
    if knobs["table"] == "fragments":
        n_min = S // buddy.MIN_SLOTS
        heads = B.local_region(sim, "frag.heads", buddy.n_orders(n_min) * 8).base
        tags = B.local_region(sim, "frag.tags", n_min).base
        AD[AD_TAB] = tab_region("pool", S * SLOT_BYTES)
        plan = plan_fragments(sizes, fptr, S, fmax, lf, chunk, max(1, int(knobs["batches"])),
                              np.array([AD[AD_TAB], heads, tags], np.int64), cores=cfg.cores)
        check_live_fragments(plan)
        out["frag_off"][:n_row] = plan.frag_off[:n_row]
        out["frag_slots"][:n_row] = plan.fs
        out["frag_over"][:n_row] = plan.over
        out["frag_rot"][:n_row] = plan.frag_rot[:n_row]
        for key in ("rowlist", "att_row", "att_ok", "att_ptr", "aops", "fops_ptr", "fops", "TK",
                    "stage", "bounds", "WIN", "cost", "SS"):
            out[key] = getattr(plan, key)
        out["spill_rows"] = SPILL_ROTATION * plan.SS
    else:
        AD[AD_TAB] = tab_region("table", S * SLOT_BYTES)
        need_rowend = knobs["offsets"] == "atomic" or knobs["writeback"] == "sorted"
        (out["TK"], out["stage"], out["bounds"], out["WIN"], out["cost"],
         out["SS"]) = plan_shared(sizes, fptr, S, lf, chunk, need_rowend, cfg.cores)
        out["spill_rows"] = out["SS"]
    AD[AD_SPILL] = sim.dram_region("spill", out["spill_rows"] * SLOT_BYTES, per="core",
                                   access_class="random").base
    out["TK"] = _narrow(out["TK"])
    return out


def _narrow(a: np.ndarray) -> np.ndarray:
    """`a` as int32 when its values fit (the task table: a few int64 a multiply-add chunk on
    rmat 16, otherwise the largest array of the plan), else as it is."""
    i32 = np.iinfo(np.int32)
    if a.size and i32.min <= a.min() and a.max() <= i32.max:
        return a.astype(np.int32)
    return a


def _params(knobs: dict, n_col: int, pl: dict) -> np.ndarray:
    frag = knobs["table"] == "fragments"
    P = np.zeros(P_N, np.int64)
    P[P_NCOL] = n_col
    P[P_HASH] = HASH_FUNCTIONS[knobs["hash"]]
    P[P_ATOMIC] = 1 if knobs["atomics"] else 0
    P[P_MAXP] = max(1, int(knobs["max_probes"]))
    P[P_FRAG] = 1 if frag else 0
    P[P_ATOMIC_OFFSETS] = 1 if knobs["offsets"] == "atomic" else 0
    P[P_SORTED] = 1 if knobs["writeback"] == "sorted" else 0
    P[P_DYNWIN] = 1 if knobs["windows"] == "dynamic" else 0
    P[P_CUR_STRIDE], P[P_CUR_OFF] = (16, 8) if frag else (8, 0)
    P[P_S], P[P_SS] = pl["S"], pl["SS"]
    return P


def window_rows(pl: dict, n_row: int) -> np.ndarray:
    """Row boundaries of the planned windows (int64[n_windows + 1], 0 to n_row): windows are
    contiguous runs of rows covering them all."""
    return np.append(pl["WIN"][:, W_R0], n_row).astype(np.int64)


def keep_windows(pl: dict, keep: np.ndarray) -> dict:
    """The plan restricted to the windows `keep` (bool per window), each whole: its tasks,
    stages and cost unchanged, renumbered (a sample of windows, `simulator.sampling`)."""
    keep = np.asarray(keep, dtype=bool)
    if keep.shape != (pl["WIN"].shape[0],):
        raise ValueError(f"smash: {keep.size} window flags for {pl['WIN'].shape[0]} windows")
    per = np.diff(pl["bounds"])
    tasks = np.repeat(keep, per)
    TK = pl["TK"][tasks].copy()
    if TK.size and np.any(np.repeat(np.arange(keep.size), per)[tasks] != TK[:, 3]):
        raise AssertionError("smash: a task outside its window's range")
    TK[:, 3] = (np.cumsum(keep) - 1)[TK[:, 3]]
    out = dict(pl, TK=TK, stage=pl["stage"][tasks], WIN=pl["WIN"][keep].copy(),
               cost=pl["cost"][keep], bounds=np.concatenate([[0], np.cumsum(per[keep])]))
    return out


def run_smash(sim: Simulation, ops: B.Operands, knobs: dict, windows=None,
              check=None) -> KernelOutput:
    """SMASH on `sim` (the module docstring). windows: None (all), or a sample of windows:
    called as windows(cost, rows) with each planned window's cost and row boundaries
    (`window_rows`), it returns which windows to simulate, each whole (the others' rows of C
    stay empty; `simulator.sampling.WindowSample`). check: a `spgemm.RowCheck` of A·B; each
    window's rows of the host's C are checked with it once the window's last task is made,
    and their memory given back (C's host arrays hold only the windows in flight)."""
    cfg = sim.cfg
    n_row, n_col = ops.sym.shape
    a = B.csr_arrays(ops.A)
    b = B.csr_arrays(ops.B)
    frag = knobs["table"] == "fragments"
    atomic_offsets = knobs["offsets"] == "atomic"
    AD = np.zeros(AD_N, np.int64)
    opr = B.operand_regions(sim, ops, knobs["b_placement"])
    for key, name in ((AD_APTR, "A.indptr"), (AD_AIDX, "A.indices"), (AD_AVAL, "A.data"),
                      (AD_BPTR, "B.indptr"), (AD_BIDX, "B.indices"), (AD_BVAL, "B.data")):
        AD[key] = opr[name]
    bd, sizes, sym = _prepare(sim, ops, knobs, AD)
    fptr = bd.qcum[a[0]]                      # row r's partial products start at fptr[r]
    AD[AD_WIN] = sim.dram_region("plan.windows", B.nbytes(n_row + 1, 16)).base
    # the counters windows are claimed from: one per die, in the scratchpad of its first core
    nexts = np.array([(sim.spad_region(f"smash.next{d or ''}", 8, core=d * cfg.cores_per_die).base
                       if cfg.spad.size_bytes > 0 else
                       sim.dram_region(f"smash.next{d or ''}", 8, access_class="random",
                                       die="all" if cfg.dies == 1 else d).base)
                      for d in range(cfg.dies)], np.int64)
    AD[AD_NEXT] = nexts[0]
    AD[AD_CUR] = B.local_region(sim, "frag.desc" if frag else "win.cursor",
                                WINDOW_ROWS * (16 if frag else 8)).base
    # the scan of the rows' table sizes cuts the windows (and gives C.indptr if asked)
    lf = max(1, int(knobs["load_factor"]))
    S, fmax = _geometry(sim, knobs, sizes, lf, knobs["placement"] == "spad" and cfg.spad.size_bytes > 0)
    units = sizes
    if frag:
        units = np.minimum(B.hash_slots(sizes, lf, buddy.MIN_SLOTS), fmax)
        units[sizes == 0] = 0
    arrays = [(units, int(AD[AD_SIZES]), "plan.prefix")]
    if not atomic_offsets:
        arrays.append((sym[0], sym[1], "C.indptr"))
    scans = prep.run_scan(sim, arrays, extra_instructions=4 if frag else 3,
                          cuts=B.die_rows(sim, ops))
    # small matrices: smaller chunks, so that every thread gets a few
    chunk = max(1, min(int(knobs["chunk"]),
                       max(MIN_CHUNK, int(fptr[-1]) // (TASKS_PER_THREAD * cfg.threads))))
    pl = _plan(sim, knobs, AD, sizes, fptr, chunk, S, fmax)
    live = None                               # rows of the windows simulated (all: None)
    if windows is not None:
        cuts = window_rows(pl, n_row)
        keep = np.asarray(windows(pl["cost"], cuts), dtype=bool)
        pl = keep_windows(pl, keep)
        live = np.repeat(keep, np.diff(cuts))
    P = _params(knobs, n_col, pl)
    # multi-die: each window's home is the die of its first row; C's rows live on the die of
    # their window (the dies' row blocks, moved to window boundaries)
    rows = B.die_rows(sim, ops)
    home = None
    if rows is not None:
        WIN = pl["WIN"]
        home = np.searchsorted(rows, WIN[:, W_R0], side="right") - 1
        rows = np.searchsorted(home, np.arange(cfg.dies + 1), side="left")   # first window per die
        rows = np.append(WIN[:, W_R0], n_row)[rows]
        rows[0], rows[-1] = 0, n_row
    pl["WIN"][:, W_NEXT] = nexts[0] if home is None else nexts[home]
    # C: 4-array, each row given its size (atomic offsets), or CSR from the scan
    c_total = int(sizes.sum()) if atomic_offsets else int(ops.nnz_c)
    c_start = np.zeros(max(n_row, 1), np.int64)
    c_end = np.zeros(max(n_row, 1), np.int64)
    calloc, c_cum = B.c_alloc(sim, rows, sizes if atomic_offsets else ops.sym.row_nnz)
    rdie = B.split_at(rows, np.arange(n_row + 1), PTR_BYTES, B.nbytes(n_row, PTR_BYTES))
    if atomic_offsets:
        AD[AD_CSTART] = sim.dram_region("C.rowstart", B.nbytes(n_row, PTR_BYTES), access_class="output",
                                        die=rdie).base
        AD[AD_CEND] = sim.dram_region("C.rowend", B.nbytes(n_row, PTR_BYTES), access_class="output",
                                      die=rdie).base
        AD[AD_CALLOC] = B.alloc_region(sim, rows)
    else:
        c_ptr, AD[AD_CSTART] = scans[1]
        c_start[:n_row] = c_ptr[:-1]
    for key, name, elem in ((AD_CIDX, "C.indices", IDX_BYTES), (AD_CVAL, "C.data", VAL_BYTES)):
        size = B.nbytes(c_total, elem)
        AD[key] = sim.dram_region(name, size, access_class="output",
                                  die=B.split_at(rows, c_cum, elem, size)).base
    # the host's copy of C holds each row at its exact place (C's row pointers from the host's
    # symbolic pass, free for the simulation): with bound sizes the simulated layout claims
    # min(flops, n_col) per row, about twice C on R-MAT, which the host need not hold; its
    # column indices are as narrow as the columns allow (the simulated ones stay IDX_BYTES)
    c_host = np.ascontiguousarray(ops.c_ptr, dtype=np.int64)
    if live is not None:                      # only the simulated windows' rows
        c_host = np.concatenate([[0], np.cumsum(ops.sym.row_nnz * live)]).astype(np.int64)
    c_len = max(int(c_host[-1]), 1)     # (small pages, resident only where written)
    c_idx = _zeroed(1, c_len, index_dtype(n_col))[0, :c_len]
    c_val = _zeroed(1, c_len, np.float64)[0, :c_len]
    c_cur = c_start.copy()
    finished = None
    if check is not None:
        def finished(w):                # window w's rows are whole: check them, give them back
            r0, r1 = int(pl["WIN"][w, W_R0]), int(pl["WIN"][w, W_R1])
            check.rows(r0, r1, c_cur[r0:r1] - c_start[r0:r1], c_idx, c_val, c_host[r0:r1])
            _release_span(c_idx, int(c_host[r0]), int(c_host[r1]))
            _release_span(c_val, int(c_host[r0]), int(c_host[r1]))
    ct = _run_numeric(sim, knobs, pl, P, AD, (a[0], a[1], a[2], b[0], b[1], b[2], bd.qcum, sizes,
                                               c_start, c_cur, c_end, c_host, c_idx, c_val,
                                               calloc),
                      sizes, home, finished)
    checked = check is not None
    if not atomic_offsets:
        done = c_ptr[1:] if live is None else np.where(live, c_ptr[1:], c_ptr[:-1])
        if not np.array_equal(c_cur[:n_row], done):
            raise AssertionError("smash: rows did not fill C as the symbolic phase said")
        if live is not None:
            return KernelOutput(c_host[:n_row], c_idx, c_val, ct,
                                c_end=c_host[:n_row] + (done - c_ptr[:-1]), checked=checked)
        return KernelOutput(c_ptr, c_idx[:ops.nnz_c], c_val[:ops.nnz_c], ct, checked=checked)
    return KernelOutput(c_host[:n_row], c_idx, c_val, ct,
                        c_end=c_host[:n_row] + (c_end[:n_row] - c_start[:n_row]), checked=checked)


def _run_numeric(sim: Simulation, knobs: dict, pl: dict, P, AD, args: tuple, sizes,
                 home: np.ndarray | None = None, finished=None) -> np.ndarray:
    """The phase `numeric` on a Windows schedule; each window in flight gets a host table.
    finished(w), if given, is called once window w's last task is made (its rows of C whole).
    Returns the counters."""
    TK, WIN, bounds = pl["TK"], pl["WIN"], pl["bounds"]
    longest = max(int(sizes.max()) if sizes.size else 1, SLICE)
    tk = np.zeros(longest, np.uint64)
    tv = np.zeros(longest, np.float64)
    work = np.zeros(WORK_SIZE, np.int64)
    ct = np.zeros(B.CT_N, np.int64)
    # the windows that can spill: an overfull row (fragments) or an overfull window (shared)
    over = np.concatenate([[0], np.cumsum(pl["frag_over"][:sizes.size])])
    spills = (WIN[:, W_OVER] == 1) | (over[WIN[:, W_R1]] > over[WIN[:, W_R0]])
    n_row, n_col = sizes.size, int(P[P_NCOL])
    rows = min(sim.cfg.cores + 1, WIN.shape[0])
    host = _HostTables(pl["S"], pl["spill_rows"], rows, min(rows, int(spills.sum())),
                       n_col if P[P_FRAG] else n_row * n_col, n_row * n_col)
    last_of = np.full(TK.shape[0], -1, np.int32)      # the window a task is the last task of
    nonempty = bounds[1:] > bounds[:-1]
    last_of[(bounds[1:] - 1)[nonempty]] = np.nonzero(nonempty)[0]

    def gen(ids):
        ids = np.asarray(ids, dtype=np.int64)
        for w in np.unique(TK[ids, 3]):
            if WIN[w, W_HOST] < 0:
                WIN[w, W_HOST] = host.take()
                WIN[w, W_SPILL] = host.take_spill() if spills[w] else 0
        out = smash_generate(ids, TK, WIN, *args, *host.arrays(),
                             pl["frag_off"], pl["frag_slots"], pl["frag_over"], pl["frag_rot"],
                             pl["rowlist"], pl["att_row"], pl["att_ok"], pl["att_ptr"], pl["aops"],
                             pl["fops_ptr"], pl["fops"], tk, tv, work, P, AD, ct)
        for w in last_of[ids][last_of[ids] >= 0]:
            host.give(int(WIN[w, W_HOST]), int(WIN[w, W_SPILL]))
            WIN[w, W_HOST] = -1
            if finished is not None:
                finished(w)
        return out

    if TK.shape[0]:
        sched = Windows(bounds=bounds, stage=pl["stage"], assign=knobs["windows"],
                        order=knobs["order"], cost=pl["cost"], within="dynamic", home=home)
        sim.run_phase(Phase("numeric", TK.shape[0], gen, sched))
    if np.any(WIN[:, W_HOST] >= 0):
        raise AssertionError("smash: a window's tasks were not all generated")
    return ct
