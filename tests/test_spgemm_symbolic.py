"""The symbolic pass, the index-dtype chooser, the work split, the registry and the jitted
accumulator building blocks of spgemm."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import matrices
import spgemm
from spgemm import accumulators as acc
from spgemm.check import structural_product


@pytest.mark.parametrize("spec", [
    "rmat:scale=7,ef=4,seed=1", "er:n=60,nnz_per_row=4", "banded:n=50,bandwidth=3",
    "poisson2d:n=7", "poisson3d:n=4", "powerlaw:n=80,nnz_per_row=5",
    "imbalanced:n=80,nnz_per_row=3,n_long=2,long_len=50",
])
@pytest.mark.parametrize("threads", [1, 2])
def test_symbolic_equals_structural_product(spec, threads):
    A = matrices.load(spec)
    s = spgemm.symbolic(A, A, threads=threads)
    P = structural_product(A, A)
    assert s.shape == P.shape
    np.testing.assert_array_equal(s.row_nnz, np.diff(P.indptr))
    ones = sp.csr_array((np.ones(A.nnz), A.indices, A.indptr), shape=A.shape)
    row_flops = (ones @ ones.sum(axis=1)).astype(np.int64)  # sum of B's row lengths
    np.testing.assert_array_equal(s.row_flops, row_flops)
    assert s.flops == int(row_flops.sum()) == int(P.sum())
    assert s.nnz == P.nnz
    assert s.index_dtype == np.int32
    np.testing.assert_array_equal(s.indptr, P.indptr)
    # the same per-row costs as the matrices package computes
    np.testing.assert_array_equal(s.row_flops, matrices.row_flops(A, A))
    # and the product's pattern has exactly these counts
    C = spgemm.multiply(A, A, threads=threads, min_parallel_flops=0)
    np.testing.assert_array_equal(np.diff(C.indptr), s.row_nnz)


def test_symbolic_rectangular_noncanonical_and_empty():
    A = sp.coo_array((np.array([1.0, 1.0, 0.0]), (np.array([0, 0, 2]), np.array([1, 1, 0]))),
                     shape=(3, 2))  # duplicate (0, 1), explicit zero (2, 0)
    B = sp.csr_array(np.array([[1.0, 0, 2.0, 0], [0, 3.0, 0, 0]]))
    s = spgemm.symbolic(A, B)
    # duplicates are summed first: row 0 has one entry reaching B's row 1 (1 flop)
    np.testing.assert_array_equal(s.row_flops, [1, 0, 2])
    np.testing.assert_array_equal(s.row_nnz, [1, 0, 2])
    assert (s.flops, s.nnz, s.shape) == (3, 3, (3, 4))
    e = spgemm.symbolic(sp.csr_array((0, 4)), sp.csr_array((4, 0)))
    assert (e.flops, e.nnz, e.shape, len(e.row_flops)) == (0, 0, (0, 0), 0)
    with pytest.raises(ValueError, match="shape mismatch"):
        spgemm.symbolic(A, A)


@pytest.mark.parametrize("bound,expected", [
    (0, np.int32), (1000, np.int32), (2**31 - 1, np.int32), (2**31, np.int64),
    (2**40, np.int64), (2**63 - 1, np.int64),
])
def test_choose_index_dtype(bound, expected):
    assert spgemm.choose_index_dtype(bound) == np.dtype(expected)


def test_choose_index_dtype_refuses_overflow():
    with pytest.raises(OverflowError, match="exceeds int64"):
        spgemm.choose_index_dtype(2**63)
    with pytest.raises(OverflowError):
        spgemm.choose_index_dtype(10**30)
    with pytest.raises(ValueError):
        spgemm.choose_index_dtype(-1)


def test_forced_index_dtype_too_small_is_refused(monkeypatch):
    from spgemm import _drive
    with pytest.raises(OverflowError, match="cannot index"):
        _drive.output_index_dtype(2**31, np.int32)
    assert _drive.output_index_dtype(10, np.int64) == np.int64


def test_split_by_work():
    cost = np.array([5, 1, 1, 1, 1, 1, 10, 0, 0, 4])
    b = spgemm.split_by_work(cost, 3)
    assert b[0] == 0 and b[-1] == len(cost) and np.all(np.diff(b) >= 0)
    parts = [cost[b[t]:b[t + 1]].sum() for t in range(3)]
    assert sum(parts) == cost.sum()
    assert max(parts) <= cost.sum() / 3 + cost.max()
    np.testing.assert_array_equal(spgemm.split_by_work(cost, 1), [0, len(cost)])
    np.testing.assert_array_equal(spgemm.split_by_work(np.zeros(0), 2), [0, 0, 0])
    with pytest.raises(ValueError):
        spgemm.split_by_work(cost, 0)


def test_registry():
    assert set(spgemm.METHODS) == {"rowwise", "inner", "outer"}
    for name, m in spgemm.METHODS.items():
        assert m.name == name and m.description
        assert m.default_accumulator in m.accumulators
        assert m.check_accumulator(None) == m.default_accumulator
        for a in m.accumulators:
            assert a in spgemm.ACCUMULATORS or name == "inner"
    assert ("rowwise", "dense") in spgemm.combinations()
    with pytest.raises(ValueError, match="choose from"):
        spgemm.get_method("gustavson")


# --------------------------------------------------------------------------------------------
# jitted building blocks, called directly (as the simulator's programs will)
# --------------------------------------------------------------------------------------------
def test_hash_probe_counts_collisions_and_gather():
    size = 8
    mask = np.uint64(size - 1)
    keys = np.full(size, acc.EMPTY, np.int64)
    vals = np.zeros(size)
    mod = acc.HASH_FUNCTIONS["mod"]
    assert acc.hash_insert(keys, vals, mask, 3, 1.0, mod) == 1
    assert acc.hash_insert(keys, vals, mask, 11, 2.0, mod) == 2      # 11 & 7 == 3: collision
    assert acc.hash_insert(keys, vals, mask, 19, 4.0, mod) == 3
    assert acc.hash_insert(keys, vals, mask, 11, 0.5, mod) == 2      # found again
    slot, n, inserted = acc.hash_probe(keys, mask, 5, mod)
    assert (int(slot), n, inserted) == (6, 2, True)                  # slot 5 holds 19
    out_k = np.zeros(size, np.uint32)
    out_v = np.zeros(size)
    p = acc.hash_gather(keys, vals, size, out_k, out_v, np.uint64(0))
    got = dict(zip(out_k[:p].tolist(), out_v[:p].tolist()))
    assert got == {3: 1.0, 11: 2.5, 19: 4.0, 5: 0.0}
    assert np.all(keys == acc.EMPTY)                                 # gather frees the table


def test_hash_functions_spread_keys():
    size = 64
    mask = np.uint64(size - 1)
    strided = np.arange(0, 64 * 64, 64)  # every key == 0 mod 64
    fib = {int(acc.hash_slot(k, mask, acc.HASH_FIBONACCI)) for k in strided}
    mod = {int(acc.hash_slot(k, mask, acc.HASH_MOD)) for k in strided}
    assert mod == {0} and len(fib) > 32
    assert acc.hash_table_size(0, 2) == 2
    assert acc.hash_table_size(5, 2) == 16
    assert acc.hash_table_size(8, 2) == 16


def test_hash_accumulate_and_spa_insert_agree():
    rng = np.random.default_rng(0)
    keys_in = rng.integers(0, 50, 200).astype(np.uint32)
    vals_in = rng.random(200)
    # dense
    pos = np.zeros(50, np.uint64)
    ck, cv = np.zeros(200, np.uint32), np.zeros(200)
    p = np.uint64(0)
    for k, v in zip(keys_in, vals_in):
        p = acc.spa_insert(pos, ck, cv, np.uint64(0), p, k, v)
    dense = dict(zip(ck[:p].tolist(), cv[:p].tolist()))
    # hash
    size = acc.hash_table_size(50, 2)
    table = np.full(size, acc.EMPTY, np.int64)
    slot_pos = np.zeros(size, np.uint64)
    hk, hv = np.zeros(200, np.uint32), np.zeros(200)
    q = np.uint64(0)
    for k, v in zip(keys_in, vals_in):
        q = acc.hash_accumulate(table, slot_pos, np.uint64(size - 1), k, v, 0, hk, hv, q)
    acc.hash_clear(table, size)
    assert np.all(table == acc.EMPTY)
    hashed = dict(zip(hk[:q].tolist(), hv[:q].tolist()))
    expected: dict[int, float] = {}
    for k, v in zip(keys_in.tolist(), vals_in.tolist()):
        expected[k] = expected.get(k, 0.0) + v
    assert dense.keys() == hashed.keys() == expected.keys()
    for k in expected:
        assert np.isclose(dense[k], expected[k]) and np.isclose(hashed[k], expected[k])
    # first-touch order for both
    assert ck[:p].tolist() == hk[:q].tolist() == list(dict.fromkeys(keys_in.tolist()))


@pytest.mark.parametrize("n", [0, 1, 2, 7, 24, 25, 100, 3000])
@pytest.mark.parametrize("n_col", [3, 300, 70_000])
def test_sorts(n, n_col):
    rng = np.random.default_rng(n + n_col)
    work = np.empty(acc.WORK_SIZE, np.int64)
    keys = rng.integers(0, n_col, n).astype(np.uint64)
    a = keys.copy()
    acc.quicksort(a, 0, n, work)
    np.testing.assert_array_equal(a, np.sort(keys))
    # sort_pairs on unique keys, inside a larger array, with a value riding along
    uniq = rng.permutation(n_col)[:min(n, n_col)].astype(np.uint32)
    m = len(uniq)
    k2 = np.concatenate(([7], uniq, [9])).astype(np.uint32)
    v2 = np.concatenate(([-1.0], uniq * 10.0, [-2.0]))
    acc.sort_pairs(k2, v2, np.uint64(1), np.uint64(1 + m), n_col, np.empty(m, np.uint64),
                   np.empty(m), work)
    np.testing.assert_array_equal(k2[1:1 + m], np.sort(uniq))
    np.testing.assert_array_equal(v2[1:1 + m], np.sort(uniq) * 10.0)
    assert (k2[0], v2[0], k2[-1], v2[-1]) == (7, -1.0, 9, -2.0)
    # the sort accumulator: duplicates summed, output sorted
    buf_k = np.empty(max(n, 1), np.uint64)
    buf_v = np.empty(max(n, 1))
    cnt = 0
    for k in keys:
        cnt = acc.sort_append(buf_k, buf_v, cnt, k, 1.0)
    out_k = np.zeros(max(n, 1), np.uint32)
    out_v = np.zeros(max(n, 1))
    p = acc.sort_merge(buf_k, buf_v, cnt, n_col, out_k, out_v, np.uint64(0),
                       np.empty(max(n, 1), np.uint64), np.empty(max(n, 1)), work)
    u, c = np.unique(keys, return_counts=True)
    np.testing.assert_array_equal(out_k[:p], u)
    np.testing.assert_array_equal(out_v[:p], c.astype(float))


# --------------------------------------------------------------------------------------------
# the parallel driver
# --------------------------------------------------------------------------------------------
from numba import njit  # noqa: E402

from spgemm._parallel import atomic_add, claim_chunk, run_claimed, thread_slices  # noqa: E402


@njit(nogil=True)
def _claim_all(counter, front, n_chunks, owner, tid):
    while True:
        c = claim_chunk(counter, n_chunks, front)
        if c < 0:
            return
        owner[c] += tid + 1  # a chunk claimed twice would show a sum
        atomic_add(counter, 1, 1)


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_run_claimed_runs_every_chunk_once(n_threads):
    for n_chunks in (0, 1, 5, 64):
        owner = np.zeros(n_chunks, np.int64)
        run_claimed(_claim_all, n_chunks, [(n_chunks, owner, t) for t in range(n_threads)])
        assert np.all(owner >= 1) and np.all(owner <= n_threads)


def test_thread_slices():
    a, b = np.arange(6), np.arange(10)
    parts = thread_slices([a, b], 2)
    assert [p[0].tolist() for p in parts] == [[0, 1, 2], [3, 4, 5]]
    assert [p[1].tolist() for p in parts] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


@pytest.mark.parametrize("chunks_per_thread", [1, 3, 16])
@pytest.mark.parametrize("method,acc_name", [("rowwise", "dense"), ("rowwise", "hash"),
                                             ("inner", "merge"), ("outer", "dense")])
def test_many_chunks(chunks_per_thread, method, acc_name):
    A = matrices.load("powerlaw:n=300,nnz_per_row=6,seed=3")
    C = spgemm.multiply(A, A, method, acc_name, threads=2, chunks_per_thread=chunks_per_thread,
                        min_parallel_flops=0)
    assert spgemm.compare(C, A, A)
    with pytest.raises(ValueError, match="chunks_per_thread"):
        spgemm.multiply(A, A, chunks_per_thread=0)
