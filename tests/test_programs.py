"""Kernel programs on the machine: verification against scipy, invariants, knobs, guard."""
from __future__ import annotations

import os

import pytest

from simulator.programs import KERNELS, get_kernel
from simulator.programs.base import RECORD_BYTES
from simulator.run import DRAM_GROUPS, dram_group, run_kernel

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "matrices")
FAMILIES = ["rmat:scale=6,ef=4", "er:n=96,nnz_per_row=4", "banded:n=80,bandwidth=3",
            "poisson2d:n=8", "poisson3d:n=4", "powerlaw:n=96,nnz_per_row=4",
            "imbalanced:n=96,nnz_per_row=3,n_long=2,long_len=40"]
SHARED_SMALL = ["1138_bus.mtx.gz", "cryg2500.mtx.gz"]


def _run(kernel, spec, **kw):
    kw.setdefault("preset", "piuma-core")
    return run_kernel(kernel, spec, **kw)


@pytest.mark.parametrize("spec", FAMILIES)
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_every_kernel_matches_scipy_and_symbolic(kernel, spec):
    r = _run(kernel, spec)
    assert r["verified"] is True
    assert r["muladds"] == r["flops"]
    assert r["nnz_written"] == r["nnz_c"]
    assert r["dram_bytes_read"] + r["dram_bytes_written"] >= r["compulsory_dram_bytes"]
    assert r["cycles"] > 0 and r["tasks"] > 0


@pytest.mark.parametrize("name", SHARED_SMALL)
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_shared_matrices(kernel, name):
    path = os.path.join(SHARED, name)
    if not os.path.exists(path):
        pytest.skip("../shared/matrices not present")
    r = _run(kernel, path)
    assert r["verified"] and r["muladds"] == r["flops"]


def test_outer_partial_product_traffic():
    r = _run("outer", "rmat:scale=6,ef=4")
    assert r["partial_bytes_written"] == r["flops"] * RECORD_BYTES
    assert r["partial_bytes_read"] == r["flops"] * RECORD_BYTES
    assert r["dram_write_useful_bytes"] >= r["partial_bytes_written"]
    # reads of the records go through the cache (lines shared by neighbouring bins may hit)


@pytest.mark.parametrize("order", ["ascending", "shuffled"])
def test_outer_merge_refills_the_bins_as_the_multiply_phase_wrote_them(order):
    """The host does not keep the partial products between the phases: the merge recomputes
    each batch's bins. They must be the records the multiply phase wrote, in its order (the
    inner indices in the order it generated them, then row k of B), so the merge's trace and C
    are those of a run that kept them; pages given back read as zero (Linux)."""
    import sys

    import numpy as np
    import scipy.sparse as sp

    import matrices
    from simulator.programs.base import Operands, csr_arrays
    from simulator.programs.outer import _PartialBins, fill_partials

    ops = Operands.build(matrices.load("rmat:scale=7,ef=6"), matrices.load("er:n=128,nnz_per_row=5"))
    A, Bm = ops.A, ops.B
    At = sp.csc_array(A)
    At.sort_indices()
    ks = np.arange(A.shape[1])
    if order == "shuffled":
        ks = np.random.default_rng(3).permutation(ks)
    rank = np.empty(A.shape[1], dtype=np.int64)
    rank[ks] = np.arange(ks.size)
    pp_ptr = np.r_[0, np.cumsum(ops.sym.row_flops)].astype(np.int64)
    cols, vals = [[] for _ in range(A.shape[0])], [[] for _ in range(A.shape[0])]
    for k in ks:                                      # the multiply phase's order
        for q in range(At.indptr[k], At.indptr[k + 1]):
            i = At.indices[q]
            for r in range(Bm.indptr[k], Bm.indptr[k + 1]):
                cols[i].append(Bm.indices[r])
                vals[i].append(At.data[q] * Bm.data[r])
    bins = _PartialBins(ops.flops)
    rows = np.arange(A.shape[0], dtype=np.int64)[::-1].copy()
    assert fill_partials(rows, *csr_arrays(A), *csr_arrays(Bm), rank[A.indices], pp_ptr, bins.col,
                         bins.val)
    assert bins.col.tolist() == [c for row in cols for c in row]
    assert bins.val.tolist() == [v for row in vals for v in row]
    short = pp_ptr.copy()
    short[-1] -= 1                                    # a bin that does not match its count
    assert not fill_partials(rows[:1], *csr_arrays(A), *csr_arrays(Bm), rank[A.indices], short,
                             bins.col, bins.val)
    bins.drop(0, ops.flops)
    if sys.platform.startswith("linux"):
        assert not bins.val.any()


@pytest.mark.parametrize("preset", ["piuma-core", "piuma-die"])
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_dram_bytes_by_structure_sum_to_the_totals(kernel, preset):
    r = _run(kernel, "rmat:scale=6,ef=4", preset=preset)
    for key, total in (("read_useful", "dram_read_useful_bytes"),
                       ("read_transferred", "dram_read_transferred_bytes"),
                       ("written_useful", "dram_write_useful_bytes"),
                       ("written_transferred", "dram_write_transferred_bytes")):
        assert sum(r[f"dram_bytes_{g}_{key}"] for g in DRAM_GROUPS) == r[total], key
    assert r["dram_bytes_A_read_useful"] > 0 and r["dram_bytes_B_read_useful"] > 0
    assert r["dram_bytes_C_written_useful"] > 0
    assert r["dram_bytes_A_written_transferred"] == r["dram_bytes_B_written_transferred"] == 0
    if kernel == "outer":
        assert r["dram_bytes_partials_written_useful"] == r["partial_bytes_written"] > 0
        # read back from DRAM, except what is still in the cache
        assert 0 < r["dram_bytes_partials_read_useful"] <= r["partial_bytes_read"]
    else:
        assert r["dram_bytes_partials_read_transferred"] == 0


def test_dram_groups_of_region_names():
    assert [dram_group(n) for n in ("A.indptr", "At.data", "Bt.indices", "B.data", "C.indices",
                                    "merge.C.data", "C.rowend", "pp.records", "pp.indptr", "table",
                                    "merge.spill", "spa", "pool", "frag.desc", "bounds.qcum",
                                    "scan.blocks", "plan.windows", "sym.table", "C.alloc",
                                    "pp.cursor", "pp.count", "multiply#0.token0")] == [
        "A", "A", "B", "B", "C", "C", "C", "partials", "symbolic", "hash", "hash", "hash", "hash",
        "hash", "symbolic", "symbolic", "symbolic", "symbolic", "other", "other", "other", "other"]


def test_scratchpad_faster_than_dram():
    spad = _run("smash-v3", "rmat:scale=7,ef=8")
    dram = _run("smash-v3", "rmat:scale=7,ef=8", knobs={"placement": "dram"})
    assert spad["cycles"] < dram["cycles"]
    assert spad["spad_atomics"] > 0 and dram["mc_atomics"] > dram["spad_atomics"]


def test_rowwise_spills_whole_rows():
    """The row-wise baseline: a row whose table does not fit the thread's slice goes, whole, to
    the thread's DRAM table."""
    r = _run("rowwise-hash", "rmat:scale=7,ef=8", knobs={"placement": "spad", "table_slots": "16"})
    assert r["verified"] and r["spilled_rows"] > 0 and r["spilled_products"] > 0
    assert r["dram_bytes_hash_read_useful"] > 0      # the spilled tables, in DRAM


@pytest.mark.parametrize("knobs", [{"writeback": "sorted"}, {"offsets": "symbolic"},
                                   {"sizes": "symbolic"}, {"hash": "mod"}, {"atomics": "true"},
                                   {"distribution": "static", "balance": "flops"},
                                   {"granularity": "4", "token_scope": "core"},
                                   {"scope": "thread", "placement": "spad"},
                                   {"accumulator": "dense", "placement": "spad"},
                                   {"accumulator": "dense", "offsets": "symbolic", "writeback": "sorted"}])
@pytest.mark.parametrize("spec", FAMILIES)
def test_rowwise_knob_variants_verify(knobs, spec):
    r = _run("rowwise-hash", spec, knobs=knobs)
    assert r["verified"] and r["muladds"] == r["flops"]


@pytest.mark.parametrize("knobs", [{"offsets": "symbolic"}, {"writeback": "sorted"},
                                   {"token_scope": "die", "granularity": "2"},
                                   {"scope": "thread", "placement": "dram", "table_slots": "64"},
                                   {"split_inner": "4"}, {"split_inner": "64", "multiply_granularity": "3"}])
@pytest.mark.parametrize("spec", FAMILIES)
def test_outer_knob_variants_verify(knobs, spec):
    assert _run("outer", spec, knobs=knobs, preset="piuma-die")["verified"]


def test_outer_split_inner_chunks_cover_each_column_within_the_cap():
    import numpy as np

    from simulator.programs.outer import inner_chunks
    rng = np.random.default_rng(5)
    col = rng.integers(0, 40, 200)
    col[[3, 50]] = [900, 0]                     # a hub column and an empty one
    at_ptr = np.r_[0, np.cumsum(col)]
    b_len = rng.integers(0, 30, 200)
    b_len[7] = 5000                             # one entry alone over the cap
    flops = int((col * b_len).sum())
    cq, ck = inner_chunks(at_ptr, b_len, flops, 16, 0)
    assert cq.tolist() == at_ptr.tolist() and ck.tolist() == list(range(200))
    cap = flops / (4 * 16)
    cq, ck = inner_chunks(at_ptr, b_len, flops, 16, 4)
    assert cq[0] == 0 and cq[-1] == at_ptr[-1] and np.all(np.diff(cq) >= 0)
    assert np.all(np.diff(ck) >= 0) and set(ck.tolist()) == set(range(200))
    for k in range(200):                        # each column's tasks tile its entries in order
        t = np.flatnonzero(ck == k)
        assert cq[t[0]] == at_ptr[k] and cq[t[-1] + 1] == at_ptr[k + 1]
    sizes = np.diff(cq) * b_len[ck]
    assert np.all((sizes <= cap) | (np.diff(cq) == 1))
    assert np.sum(ck == 3) >= 900 * b_len[3] // cap and np.sum(ck == 50) == 1
    with pytest.raises(ValueError, match="split_inner"):
        inner_chunks(at_ptr, b_len, flops, 16, -1)


def test_outer_split_inner_entry_ranks_follow_the_tasks():
    """fill_partials orders a bin by the rank of the task that wrote each of A's entries: with
    heavy inner indices cut into runs of their column, an entry's task is its run's."""
    import numpy as np
    import scipy.sparse as sp

    import matrices
    from simulator.programs.outer import entry_ranks, inner_chunks
    A = sp.csr_array(matrices.load("rmat:scale=7,ef=6"))
    At = sp.csc_array(A)
    At.sort_indices()
    b_len = np.diff(A.indptr)
    cq, ck = inner_chunks(At.indptr, b_len, int((np.diff(At.indptr) * b_len).sum()), 8, 2)
    assert ck.size > A.shape[1]                 # some columns were cut
    task_rank = np.random.default_rng(1).permutation(ck.size)
    rank = entry_ranks(A, cq, task_rank)
    task_of = np.repeat(np.arange(ck.size), np.diff(cq))      # CSC position -> task
    for i in range(A.shape[0]):
        for q in range(A.indptr[i], A.indptr[i + 1]):
            k = A.indices[q]
            p = At.indptr[k] + np.flatnonzero(At.indices[At.indptr[k]:At.indptr[k + 1]] == i)[0]
            assert rank[q] == task_rank[task_of[p]]


def test_outer_split_inner_spreads_the_heaviest_inner_index():
    """R-MAT's hub column is one task, one thread's chain: split_inner cuts it over threads and
    the multiply phase shrinks; off (0, the default) it is the program as before."""
    spec = "rmat:scale=10,ef=16"
    off = _run("outer", spec, preset="piuma-die")
    zero = _run("outer", spec, preset="piuma-die", knobs={"split_inner": "0"})
    split = _run("outer", spec, preset="piuma-die", knobs={"split_inner": "4"})
    assert zero["cycles"] == off["cycles"]
    assert split["verified"] and split["muladds"] == off["muladds"]
    assert split["partial_bytes_written"] == off["partial_bytes_written"]
    assert split["phase_multiply_cycles"] < 0.5 * off["phase_multiply_cycles"]
    assert split["tasks"] > off["tasks"]


def test_outer_split_inner_on_dies_and_in_samples():
    import numpy as np
    import scipy.sparse as sp

    import matrices
    from simulator import sampling
    from simulator.machine import load_config
    from simulator.run import bound_operands
    r = _run("outer", "rmat:scale=8,ef=8", preset="piuma-node", overrides=["dies=2"],
             knobs={"split_inner": "4"})
    assert r["verified"]
    # the sampler's tasks are the full machine's pieces: no long chain in the multiply phase,
    # and the groups' operands add up to the product
    die = load_config("piuma-die")
    A = matrices.load("rmat:scale=10,ef=16")
    lo, _ = bound_operands(A, A)
    assert sampling.inner_pieces(lo, {"split_inner": 0}, die.threads) is None
    whole = sampling.task_cost("outer", "inner", lo)
    assert sampling.chain_tasks(whole, die.threads).size >= 1
    pieces = sampling.inner_pieces(lo, {"split_inner": 4}, die.threads)
    cost = sampling.task_cost("outer", "inner", lo, pieces)
    assert cost.size == pieces[1].size > whole.size
    assert abs(cost.sum() - whole.sum()) < 1e-6 * whole.sum() + cost.size - whole.size + 1
    assert sampling.chain_tasks(cost, die.threads).size == 0
    parts = np.random.default_rng(2).integers(0, 3, cost.size)
    total = None
    for g in range(3):
        Ag, Bg = sampling.group_operands(lo.A, lo.B, "inner", np.flatnonzero(parts == g), pieces)
        total = Ag @ Bg if total is None else total + Ag @ Bg
    assert abs(total - sp.csr_array(lo.A @ lo.B)).max() < 1e-9


def test_outer_split_inner_sampled_by_pieces_meets_its_full_run():
    """Sampled by inner indices, the group holding R-MAT's hub column was that column alone,
    cut over one core's threads, and ran 1.09-1.13x the full run; by pieces, within 1 %."""
    spec, kn = "rmat:scale=12,ef=16", {"split_inner": "4"}
    full = _run("outer", spec, preset="piuma-die", knobs=kn)
    s = _run("outer", spec, preset="piuma-die", knobs=kn, sample=0.75)
    assert s["verified"] and s["sample_warning"] == ""
    assert s["cycles_ci_low"] <= full["cycles"] <= s["cycles_ci_high"]
    assert abs(s["cycles"] / full["cycles"] - 1) < 0.05


@pytest.mark.parametrize("kernel", ["inner", "inner-candidates"])
def test_inner_granularity_verifies(kernel):
    assert _run(kernel, "powerlaw:n=128,nnz_per_row=4", knobs={"granularity": "3"})["verified"]


def test_knob_errors():
    with pytest.raises(ValueError, match="unknown knob"):
        get_kernel("smash-v1").resolve_knobs({"nope": 1})
    with pytest.raises(ValueError, match="not one of"):
        get_kernel("smash-v1").resolve_knobs({"table": "galaxy"})
    with pytest.raises(ValueError, match="unknown kernel"):
        get_kernel("middle")


def test_guard_refuses_and_applies_to_the_sampled_share():
    with pytest.raises(ValueError, match="--sample"):
        _run("inner", "rmat:scale=8,ef=4", max_ops=1000)
    # a thinned group keeps its costliest row whole: 0.1 of this run in the 3 groups, so 0.25
    # asked simulates 0.35, and no sample fits 1000 operations
    with pytest.raises(ValueError, match="costliest tasks whole, 0.1 of the run"):
        _run("inner", "rmat:scale=8,ef=4", max_ops=1000, sample=0.25)
    with pytest.raises(ValueError, match=r"a sample of 0\.35 of it.*smaller sample"):
        _run("inner", "rmat:scale=8,ef=4", max_ops=40_000, sample=0.25)
    r = _run("inner", "rmat:scale=8,ef=4", max_ops=100_000, sample=0.25)
    full = _run("inner", "rmat:scale=8,ef=4")
    assert r["verified"] and r["sample_fraction"] == pytest.approx(0.35, abs=0.01)
    assert r["flops"] == full["flops"] and r["nnz_c"] == full["nnz_c"]
    assert r["cycles_ci_low"] <= r["cycles"] <= r["cycles_ci_high"]


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_rectangular_uses_a_times_a_transpose(kernel):
    import scipy.sparse as sp
    A = sp.random(30, 50, density=0.1, format="csr", random_state=1)
    r = run_kernel(kernel, A, preset="piuma-core")
    assert r["verified"] and r["nnz_c"] > 0
