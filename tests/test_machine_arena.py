"""The trace arena: memory bounded by a budget of rows whatever the trace, results unchanged."""
import os

import numpy as np
import pytest

import matrices
import spgemm
from simulator.machine import (DynamicTokens, Phase, Simulation, StaticWindows, TraceBuilder,
                               Windows, load_config)
from simulator.machine import trace as T
from simulator.machine.arena import MIN_SEGMENT, _cuts, _punch_hole, _Spill
from simulator.programs import Operands, get_kernel


def uneven_generator(sim):
    """Tasks from 3 to ~2500 rows, heaviest first (like R-MAT rows): dependent loads, fences,
    waits, atomics, DMA copies and gathers (some longer than a segment), deterministic in the
    task id. Returns the generator and the list of rows it made."""
    rand = sim.dram_region("rand", 1 << 22, access_class="random")
    own = sim.spad_region("own", 4096, per="thread")
    made = []

    def one(i):
        rng = np.random.default_rng(int(i))
        b = TraceBuilder()
        for _ in range(3 + 2000 // (1 + int(i)) + int(rng.integers(0, 5))):
            kind = int(rng.integers(0, 10))
            if kind < 4:
                b.load(rand.addr(int(rng.integers(0, 1 << 19)) * 8), flags=T.DEP if kind == 0 else 0)
            elif kind == 4:
                b.atomic(own.addr(int(rng.integers(0, 512)) * 8), flags=T.FENCE)
            elif kind == 5:
                b.dma_copy(rand.addr(int(rng.integers(0, 1 << 12)) * 64), own.addr(0), 256)
            elif kind == 6 and rng.integers(0, 8) == 0:
                n = int(rng.integers(1, 3 * MIN_SEGMENT))
                b.dma_gather(own.addr(0), rand.addr(rng.integers(0, 1 << 19, n) * 8))
                b.dma_wait()
            elif kind == 7:
                b.wait()
            else:
                b.compute(int(rng.integers(1, 6)))
        return b.build()

    def gen(ids):
        traces = [one(i) for i in ids]
        made.extend(t.shape[0] for t in traces)
        ptr = np.concatenate([[0], np.cumsum([t.shape[0] for t in traces])]).astype(np.int64)
        return np.concatenate(traces), ptr

    return gen, made


SCHEDULES = {
    "tokens": lambda n: DynamicTokens(chunk=3),
    "static": lambda n: StaticWindows(),
    "windows": lambda n: Windows(bounds=np.arange(0, n + 1, 50), stage=np.arange(n) % 50 // 25,
                                 assign="dynamic"),
}


def run_uneven(schedule, budget, n_tasks=400):
    sim = Simulation(load_config("piuma-core"), arena_ops=budget)
    gen, made = uneven_generator(sim)
    sim.run_phase(Phase("uneven", n_tasks, gen, SCHEDULES[schedule](n_tasks)))
    row = sim.result().to_row()
    row.pop("host_seconds")
    return sim, row, made


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_results_do_not_depend_on_the_arena_budget(schedule):
    """With a tiny budget most traces go through the spill file and come back segment by
    segment; every count and every cycle is the same as with everything in memory."""
    big, expect, made = run_uneven(schedule, 1 << 24)
    small, got, _ = run_uneven(schedule, 2048)
    assert big.arena.spilled_rows == 0
    assert small.arena.spilled_rows > sum(made) // 2 and small.arena.fetches > 10
    assert got == expect


def test_spill_files_rotate_and_are_closed(monkeypatch, tmp_path):
    """Small spill files: many are opened, each closed once read, none left after the phase."""
    import simulator.machine.arena as AR
    monkeypatch.setattr(AR, "SPILL_FILE_ROWS", 512)
    _, expect, _ = run_uneven("tokens", 1 << 24)
    sim = Simulation(load_config("piuma-core"), arena_ops=2048, spill_dir=str(tmp_path))
    gen, _ = uneven_generator(sim)
    sim.run_phase(Phase("uneven", 400, gen, SCHEDULES["tokens"](400)))
    got = sim.result().to_row()
    got.pop("host_seconds")
    assert got == expect
    assert sim.arena.spill._next > 10 and not sim.arena.spill.files and not sim.arena.tails


def test_arena_stays_within_its_budget_on_a_trace_many_times_larger():
    """smash-v3 on R-MAT (heaviest rows first): a trace 50x the budget runs in an arena that never
    holds more than 1.5x it, and gives the same C and the same counts as a run without a
    budget to speak of. (Generating ahead by task counts instead of rows would overflow it.)"""
    A = matrices.load("rmat:scale=9,ef=16")
    ops = Operands.build(A, A)
    k = get_kernel("smash-v3")
    rows = {}
    for budget in (1 << 14, 1 << 24):
        sim = Simulation(load_config("piuma-core"), arena_ops=budget)
        out = k.run(sim, ops, k.resolve_knobs({}))
        assert spgemm.compare(out.matrix(ops.sym.shape), A, A)
        row = sim.result().to_row()
        row.pop("host_seconds")
        rows[budget] = (row, sim.arena)
    small_row, small = rows[1 << 14]
    assert small_row["operations"] > 50 * small.budget
    assert small.peak_rows <= 1.5 * small.budget
    assert small.spilled_rows > 0
    assert small_row == rows[1 << 24][0]


def test_traces_are_generated_a_bounded_number_of_rows_ahead():
    """One queue, lookahead of 100 000 tasks: the generator is still never more than the row
    budget ahead of the threads, and is called in batches, not one call per task."""
    sim = Simulation(load_config("piuma-core"), arena_ops=1 << 14)
    reg = sim.spad_region("x", 64, per="thread")
    body = TraceBuilder().load(reg.addr(0)).compute(2).store(reg.addr(8)).build()
    calls = []

    def gen(ids):
        calls.append(ids.size)
        return np.concatenate([body] * ids.size), np.arange(ids.size + 1, dtype=np.int64) * 3

    n = 100_000
    sim.run_phase(Phase("lazy", n, gen, DynamicTokens(lookahead=n)))
    assert sim.result().tasks == n and sum(calls) == n
    assert max(calls) * 3 <= sim.arena.budget // 8 and len(calls) < n // 100
    assert sim.arena.peak_rows <= sim.arena.budget


def test_heads_are_cut_between_operations():
    """A unit's head never ends between a DMA row and its element rows; a first operation
    longer than the head is kept whole."""
    ops = np.concatenate([
        TraceBuilder().dma_gather(0, np.arange(10) * 8).compute(1).build(),     # unit 0: 12 rows
        TraceBuilder().compute(1).dma_copy(0, 64, 8).compute(1).build(),        # unit 1: 4 rows
    ])
    lo, hi = np.array([0, 12]), np.array([12, 16])
    assert list(_cuts(ops, lo, hi, np.array([3, 14]))) == [11, 13]      # past the gather; before the copy
    assert list(_cuts(ops, lo, hi, np.array([12, 16]))) == [12, 16]     # whole


@pytest.mark.skipif(_punch_hole is None, reason="the OS cannot punch holes in files here")
def test_rows_read_back_give_their_disk_space_back(tmp_path):
    """Rows read back from a spill file free their disk blocks at once (a file stays open
    while any of its rows is still to be read, so otherwise disk use would grow with the
    trace); the rows after them are intact."""
    spill = _Spill(str(tmp_path))
    rows = np.arange(1 << 21, dtype=np.int64).reshape(-1, 2)
    f, pos = spill.append(rows)
    fd = spill.files[f][0].fileno()
    full = os.fstat(fd).st_blocks
    spill.discard(f, pos, rows.shape[0] - 1000)
    assert os.fstat(fd).st_blocks < full // 50
    out = np.zeros((1000, 2), dtype=np.int64)
    spill.read(f, pos + rows.shape[0] - 1000, out)
    assert (out == rows[-1000:]).all()
    spill.close()
