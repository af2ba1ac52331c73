"""What kernels compute before multiplying, as simulated phases: bounds, scans, the symbolic
phase."""
from __future__ import annotations

import numpy as np
import pytest

import matrices
from simulator.machine import Simulation, load_config
from simulator.programs import Operands, prep, rowwise
from simulator.programs.base import KernelOutput


@pytest.mark.parametrize("spec", ["rmat:scale=8,ef=8", "imbalanced:n=300,nnz_per_row=3,n_long=2,long_len=290",
                                  "banded:n=50,bandwidth=2"])
def test_bounds_are_what_the_machine_computed(spec):
    A = matrices.load(spec)
    ops = Operands.build(A, A)
    sim = Simulation(load_config("piuma-die"))
    bd = prep.run_bounds(sim, ops)
    a_ptr = ops.A.indptr
    blen = np.diff(ops.B.indptr)[ops.A.indices]
    assert np.array_equal(bd.qcum, np.concatenate([[0], np.cumsum(blen)]))
    assert np.array_equal(bd.row_flops, ops.sym.row_flops)
    assert np.array_equal(bd.qcum[a_ptr[1:]] - bd.qcum[a_ptr[:-1]], bd.row_flops)
    names = [p.name for p in sim.phases]
    assert names == ["bounds", "scan", "scan", "scan", "bounds"]
    res = sim.result()
    # every nonzero of A loads its row of B's pointers; blen, qcum and the row flops are stored
    assert res.loads >= ops.A.nnz
    assert res.dram_region_bytes["bounds.blen"]["written_useful"] == 8 * ops.A.nnz
    assert res.dram_region_bytes["bounds.flops"]["written_useful"] == 8 * ops.A.shape[0]


def test_long_rows_of_a_are_split_among_threads():
    """The bounds phase cuts A's nonzeros, not its rows: one row of 4000 nonzeros does not keep
    one thread busy while the others wait."""
    A = matrices.load("imbalanced:n=4000,nnz_per_row=2,n_long=1,long_len=4000")
    ops = Operands.build(A, A)
    sim = Simulation(load_config("piuma-die"))
    prep.run_bounds(sim, ops)
    first = sim.phases[0]
    assert first.tasks >= ops.A.nnz // prep.NNZ_PER_BOUNDS_TASK
    one_thread = ops.A.nnz // 4 * 100          # 4 outstanding loads of ~100 cycles each
    assert first.cycles < one_thread / 10


@pytest.mark.parametrize("n", [0, 1, 127, 128, 1000])
def test_scan(n):
    rng = np.random.default_rng(n)
    sim = Simulation(load_config("piuma-core"))
    vals = [rng.integers(0, 50, n), rng.integers(0, 3, n)]
    regs = [sim.dram_region(f"v{i}", max(8 * n, 8)) for i in range(2)]
    out = prep.run_scan(sim, [(v, r.base, f"p{i}") for i, (v, r) in enumerate(zip(vals, regs))])
    for i, (v, (pre, base)) in enumerate(zip(vals, out)):
        assert np.array_equal(pre, np.concatenate([[0], np.cumsum(v)]))
        assert base == sim.region(f"p{i}").base
    res = sim.result()
    assert [p.name for p in sim.phases] == ["scan"] * 3
    assert res.dram_region_bytes["p0"]["written_useful"] == 8 * n


def test_symbolic_phase_counts_and_pattern():
    A = matrices.load("powerlaw:n=200,nnz_per_row=5")
    ops = Operands.build(A, A)
    sim = Simulation(load_config("piuma-die"))
    nnz, base = rowwise.run_symbolic(sim, ops)
    assert np.array_equal(nnz, ops.sym.row_nnz)
    assert sim.result().dram_region_bytes["sym.nnz"]["written_useful"] == 8 * ops.A.shape[0]
    st = rowwise.run_pattern(sim, ops)
    C = KernelOutput(st.c_start[:200], st.c_idx, np.ones(st.c_idx.size), st.ct,
                     c_end=st.c_end[:200]).matrix(ops.sym.shape)
    ref = (ops.A @ ops.B).tocsr()
    ref.sort_indices()
    C.sort_indices()
    assert np.array_equal(C.indptr, ref.indptr) and np.array_equal(C.indices, ref.indices)
