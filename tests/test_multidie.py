"""Multi-die runs: regions split over the dies, per-die token queues with stealing, every kernel
placing its data on the dies that use it, piuma-node sliced by `dies=N`."""
from __future__ import annotations

import numpy as np
import pytest

from simulator.machine import DynamicTokens, Phase, Simulation, load_config
from simulator.machine import engine as E
from simulator.machine.config import sliced_die_shape
from simulator.machine.trace import TraceBuilder
from simulator.programs import KERNELS
from simulator.programs.base import die_rows, row_work, split_at
from simulator.run import run_kernel

TWO = ["dies=2"]            # piuma-node sliced to two dies


def concat(traces):
    ptr = np.concatenate([[0], np.cumsum([t.shape[0] for t in traces])]).astype(np.int64)
    return np.concatenate(traces), ptr


def test_sliced_die_shape_follows_dies():
    assert sliced_die_shape([4, 4], 16) == [4, 4]
    assert sliced_die_shape([4, 4], 8) == [4, 2]
    assert sliced_die_shape([4, 4], 2) == [2]
    assert sliced_die_shape([4, 4], 1) == [1]
    with pytest.raises(ValueError, match="do not fit"):
        sliced_die_shape([4, 4], 6)
    cfg = load_config("piuma-node", ["dies=8"])
    assert cfg.dies == 8 and tuple(cfg.network.die_shape) == (4, 2)
    with pytest.raises(ValueError, match="holds"):      # an explicit shape is kept, and checked
        load_config("piuma-node", ["dies=8", "network.die_shape=[4,4]"])


def _reader(region, offsets):
    body = TraceBuilder().load(region.addr(np.asarray(offsets)), 8).build()
    return lambda ids: concat([body] * ids.size)


def test_a_split_region_lives_on_the_dies_its_offsets_say():
    sim = Simulation(load_config("piuma-node", TWO))
    reg = sim.dram_region("x", 8192, access_class="random", die=[0, 4096, 8192])
    t0 = sim.thread_ids(1, cores=[0])              # a thread of die 0
    for offs, remote in (([0, 8, 4088], 0), ([4096, 8000], 2)):
        before = sim.result().remote_die_accesses
        sim.run_phase(Phase("r", 1, _reader(reg, offs), DynamicTokens(counter="dram"), threads=t0))
        # the token fetch-add is in die 0's DRAM: local
        assert sim.result().remote_die_accesses - before == remote
    # a region interleaved over both dies sends about half of its accesses across
    allr = sim.dram_region("y", 1 << 16, access_class="random")
    before = sim.result().remote_die_accesses
    sim.run_phase(Phase("a", 1, _reader(allr, np.arange(256) * 256), DynamicTokens(counter="dram"),
                        threads=t0))
    assert 64 < sim.result().remote_die_accesses - before < 192


@pytest.mark.parametrize("split, what", [([0, 10], "offsets"), ([0, 9000, 8192], "offsets"),
                                         ([4096, 4096, 8192], "offsets")])
def test_bad_splits_are_refused(split, what):
    sim = Simulation(load_config("piuma-node", TWO))
    with pytest.raises(ValueError, match=what):
        sim.dram_region("x", 8192, die=split)
    with pytest.raises(ValueError, match="per slices"):
        sim.dram_region("z", 64, die=[0, 32, 64], per="thread")


def _tasks(n_ops):
    body = TraceBuilder().compute(n_ops).build()
    return lambda ids: concat([body] * ids.size)


def test_a_dry_die_steals_from_the_other():
    """Die 1's queue is empty: with stealing its threads take die 0's tasks (remote fetch-adds
    on die 0's counter, counted as steals) and the phase ends sooner; without, they idle.
    (Long tasks: with tasks of ~200 cycles the remote fetch-adds on one counter cost more than
    the second die gains.)"""
    n = 2000
    cycles = {}
    for steal in (False, True):
        sim = Simulation(load_config("piuma-node", TWO))
        rec = sim.run_phase(Phase("w", n, _tasks(2000), DynamicTokens(
            scope="die", bounds=np.array([0, n, n]), steal=steal)))
        res = sim.result()
        worked = set(np.unique(sim.th_i[sim.th_f[:, E.TF_BUSY] > 0, E.TI_DIE]).tolist())
        assert res.tasks == n
        assert (res.steals > 0) == steal
        assert worked == ({0, 1} if steal else {0})
        cycles[steal] = rec.cycles
    assert cycles[True] < 0.75 * cycles[False]


def test_die_rows_balance_work_and_split_arrays():
    import scipy.sparse as sp
    from simulator.programs.base import Operands
    A = sp.random(200, 200, density=0.05, random_state=1, format="csr")
    ops = Operands.build(A, A)
    sim = Simulation(load_config("piuma-node", ["dies=4"]))
    rows = die_rows(sim, ops)
    w = row_work(ops.A, ops.B)
    parts = np.add.reduceat(w, rows[:-1])
    assert rows[0] == 0 and rows[-1] == 200 and parts.max() < 1.3 * w.sum() / 4
    ptr = np.asarray(ops.A.indptr)
    off = split_at(rows, ptr, 4, ops.A.nnz * 4)
    assert np.array_equal(off, ptr[rows] * 4)
    assert split_at(None, ptr, 4, 8) == "all"
    assert die_rows(Simulation(load_config("piuma-die")), ops) is None


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_every_kernel_verifies_on_dies_and_keeps_data_local(kernel):
    """On 2 dies every kernel's C matches scipy; placing A, C (and B replicated) on the dies that
    use them sends fewer DRAM requests across dies than interleaving B over both."""
    spec = "rmat:scale=7,ef=8"
    placed = run_kernel(kernel, spec, preset="piuma-node", overrides=TWO)
    spread = run_kernel(kernel, spec, preset="piuma-node", overrides=TWO,
                        knobs={"b_placement": "interleaved"})
    for r in (placed, spread):
        assert r["verified"] is True and r["muladds"] == r["flops"]
    assert placed["remote_die_accesses"] < spread["remote_die_accesses"]
    dist = run_kernel(kernel, spec, preset="piuma-node", overrides=TWO,
                      knobs={"b_placement": "distributed"})
    assert dist["verified"] is True


def test_b_placement_is_a_checked_knob():
    with pytest.raises(ValueError, match="b_placement"):
        run_kernel("smash-v3", "rmat:scale=5,ef=4", preset="piuma-node", overrides=TWO,
                   knobs={"b_placement": "everywhere"})
