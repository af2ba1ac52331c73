"""Property tests (hypothesis): on tiny random matrices every native method equals the naive
dict reference, whatever the shapes, duplicates, explicit zeros, dtype, threads and sorting."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spgemm
from spgemm.check import naive_multiply


@st.composite
def sparse_matrix(draw, n_rows: int, n_cols: int, dtype):
    """A COO matrix with possible duplicates and explicit zeros (values -3..3)."""
    n = draw(st.integers(0, n_rows * n_cols + 3)) if n_rows and n_cols else 0
    rows = draw(st.lists(st.integers(0, max(n_rows - 1, 0)), min_size=n, max_size=n))
    cols = draw(st.lists(st.integers(0, max(n_cols - 1, 0)), min_size=n, max_size=n))
    vals = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
    return sp.coo_array((np.array(vals, dtype=dtype), (np.array(rows, dtype=np.int64),
                                                       np.array(cols, dtype=np.int64))),
                        shape=(n_rows, n_cols))


@st.composite
def product_case(draw):
    m, k, n = (draw(st.integers(0, 6)) for _ in range(3))
    dtype = draw(st.sampled_from([np.float64, np.int64, np.float32]))
    A = draw(sparse_matrix(m, k, dtype))
    B = draw(sparse_matrix(k, n, dtype))
    fmt_a = draw(st.sampled_from(["coo", "csr", "csc"]))
    fmt_b = draw(st.sampled_from(["coo", "csr", "csc"]))
    method, acc = draw(st.sampled_from(spgemm.combinations()))
    threads = draw(st.sampled_from([1, 2]))
    sort_indices = draw(st.booleans())
    return A.asformat(fmt_a), B.asformat(fmt_b), method, acc, threads, sort_indices


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(product_case())
def test_matches_naive_reference(case):
    A, B, method, acc, threads, sort_indices = case
    C = spgemm.multiply(A, B, method, acc, sort_indices=sort_indices, threads=threads,
                        min_parallel_flops=0)
    entries, shape = naive_multiply(A, B)
    assert C.shape == shape
    assert C.dtype == np.result_type(A.dtype, B.dtype)
    coo = C.tocoo()
    got = {(int(i), int(j)): v for i, j, v in zip(coo.row, coo.col, coo.data)}
    assert len(got) == C.nnz  # no duplicate entries
    assert set(got) == set(entries)  # structural pattern, zeros from cancellation included
    for key, v in entries.items():
        assert got[key] == v  # small integer values: exact in every dtype
    if sort_indices or acc == "sort":
        for i in range(C.shape[0]):
            row = C.indices[C.indptr[i]:C.indptr[i + 1]]
            assert np.all(np.diff(row.astype(np.int64)) > 0)


@settings(max_examples=40, deadline=None)
@given(product_case())
def test_symbolic_counts_the_product(case):
    A, B, _, _, threads, _ = case
    s = spgemm.symbolic(A, B, threads=threads)
    entries, shape = naive_multiply(sp.csr_array(A, copy=True), B)
    assert s.shape == shape and s.nnz == len(entries)
    rows = np.zeros(shape[0], np.int64)
    for i, _ in entries:
        rows[i] += 1
    np.testing.assert_array_equal(s.row_nnz, rows)
