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
    assert fill_partials(rows, *csr_arrays(A), *csr_arrays(Bm), rank, pp_ptr, bins.col, bins.val)
    assert bins.col.tolist() == [c for row in cols for c in row]
    assert bins.val.tolist() == [v for row in vals for v in row]
    short = pp_ptr.copy()
    short[-1] -= 1                                    # a bin that does not match its count
    assert not fill_partials(rows[:1], *csr_arrays(A), *csr_arrays(Bm), rank, short, bins.col,
                             bins.val)
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
                                   {"scope": "thread", "placement": "dram", "table_slots": "64"}])
@pytest.mark.parametrize("spec", FAMILIES)
def test_outer_knob_variants_verify(knobs, spec):
    assert _run("outer", spec, knobs=knobs, preset="piuma-die")["verified"]


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
