"""Native SpGEMM (spgemm.multiply): every method x accumulator against scipy and a naive
dict reference, on every generator family, edge shapes, non-canonical input, dtypes, threads."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import matrices
import spgemm
from spgemm.check import naive_multiply, same_pattern, structural_product, values_close

COMBOS = spgemm.combinations()
COMBO_IDS = [f"{m}-{a}" for m, a in COMBOS]


def family_pairs() -> dict[str, tuple[sp.csr_array, sp.csr_array]]:
    """(A, B) per generator family; square families use B = A, er is rectangular."""
    out = {
        "rmat": matrices.rmat(7, 4, seed=1),
        "er": matrices.erdos_renyi(60, 4, seed=2),
        "banded": matrices.banded(50, 3, seed=3),
        "poisson2d": matrices.poisson2d(7),
        "poisson3d": matrices.poisson3d(4),
        "powerlaw": matrices.powerlaw(80, 5, seed=4),
        "imbalanced": matrices.imbalanced(80, 3, n_long=2, long_len=50, seed=5),
    }
    pairs = {name: (A, A) for name, A in out.items()}
    pairs["er-rect"] = (matrices.erdos_renyi(40, 4, m=25, seed=6),
                        matrices.erdos_renyi(25, 5, m=33, seed=7))
    return pairs


FAMILIES = family_pairs()


def check_product(C, A, B, sorted_rows: bool = False) -> None:
    """C is a csr_array equal to A·B: structural pattern, values vs scipy and the naive dict."""
    A, B = sp.csr_array(A), sp.csr_array(B)
    assert isinstance(C, sp.csr_array)
    assert C.shape == (A.shape[0], B.shape[1])
    assert C.dtype == np.result_type(A.dtype, B.dtype)
    assert C.indptr.dtype == C.indices.dtype
    assert C.indptr[0] == 0 and C.indptr[-1] == C.nnz == len(C.indices) == len(C.data)
    assert same_pattern(C, structural_product(A, B))
    assert values_close(C, A @ B)
    entries, _ = naive_multiply(A, B)
    coo = C.tocoo()
    got = {(int(i), int(j)): v for i, j, v in zip(coo.row, coo.col, coo.data)}
    assert set(got) == set(entries)
    for key, v in entries.items():
        assert np.isclose(got[key], v, rtol=1e-6, atol=1e-9), key
    # no duplicate columns within a row
    for i in range(C.shape[0]):
        row = C.indices[C.indptr[i]:C.indptr[i + 1]]
        assert len(np.unique(row)) == len(row)
        if sorted_rows:
            assert np.all(np.diff(row.astype(np.int64)) > 0)
    if sorted_rows:
        assert C.has_sorted_indices


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("method,acc", COMBOS, ids=COMBO_IDS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("sort_indices", [False, True], ids=["unsorted", "sorted"])
def test_families(family, method, acc, threads, sort_indices):
    A, B = FAMILIES[family]
    # min_parallel_flops=0: the tiny products take the parallel path when threads > 1
    C = spgemm.multiply(A, B, method, acc, sort_indices=sort_indices, threads=threads,
                        min_parallel_flops=0)
    check_product(C, A, B, sorted_rows=sort_indices or acc == "sort")


def _edge_cases() -> dict[str, tuple[sp.csr_array, sp.csr_array]]:
    rng = np.random.default_rng(0)
    empty = sp.csr_array((6, 6))
    single = sp.csr_array((np.array([2.5]), (np.array([3]), np.array([1]))), shape=(5, 5))
    # empty rows and columns: rows 0, 2 and columns 1, 4 of A empty
    dense = rng.random((6, 6))
    dense[[0, 2], :] = 0
    dense[:, [1, 4]] = 0
    dense[dense < 0.4] = 0
    holes = sp.csr_array(dense)
    return {
        "empty": (empty, empty),
        "zero-rows": (sp.csr_array((0, 5)), sp.random_array((5, 3), density=0.5, rng=1,
                                                            format="csr")),
        "zero-inner": (sp.csr_array((4, 0)), sp.csr_array((0, 3))),
        "zero-cols": (sp.random_array((3, 4), density=0.5, rng=2, format="csr"),
                      sp.csr_array((4, 0))),
        "single": (single, single.T.tocsr()),
        "single-times-empty": (single, sp.csr_array((5, 5))),
        "empty-rows-cols": (holes, holes),
        "rectangular": (sp.random_array((7, 5), density=0.4, rng=3, format="csr"),
                        sp.random_array((5, 9), density=0.4, rng=4, format="csr")),
        "dense-ish": (sp.random_array((12, 12), density=0.9, rng=5, format="csr"),
                      sp.random_array((12, 12), density=0.9, rng=6, format="csr")),
    }


EDGES = _edge_cases()


@pytest.mark.parametrize("case", list(EDGES))
@pytest.mark.parametrize("method,acc", COMBOS, ids=COMBO_IDS)
@pytest.mark.parametrize("threads", [1, 2])
def test_edge_shapes(case, method, acc, threads):
    A, B = EDGES[case]
    C = spgemm.multiply(A, B, method, acc, threads=threads, min_parallel_flops=0)
    check_product(C, A, B)


@pytest.mark.parametrize("method,acc", COMBOS, ids=COMBO_IDS)
@pytest.mark.parametrize("threads", [1, 2])
def test_int64_indices(method, acc, threads):
    A = matrices.rmat(6, 4, seed=3)
    A64 = sp.csr_array((A.data, A.indices.astype(np.int64), A.indptr.astype(np.int64)),
                       shape=A.shape)
    assert A64.indices.dtype == np.int64
    C = spgemm.multiply(A64, A64, method, acc, threads=threads, min_parallel_flops=0)
    check_product(C, A64, A64)
    # forcing int64 output indices runs the kernels on uint64 views
    C64 = spgemm.multiply(A64, A, method, acc, threads=threads, index_dtype=np.int64,
                          min_parallel_flops=0, sort_indices=True)
    assert C64.indices.dtype == np.int64 and C64.indptr.dtype == np.int64
    check_product(C64, A64, A, sorted_rows=True)


def _noncanonical() -> dict[str, tuple[object, object]]:
    rows = np.array([0, 0, 1, 2, 2, 2, 3, 0])
    cols = np.array([1, 1, 3, 0, 2, 0, 3, 2])
    vals = np.array([1.0, 2.0, -1.0, 0.5, 0.0, 1.5, 2.0, 4.0])  # duplicates, an explicit zero
    coo = sp.coo_array((vals, (rows, cols)), shape=(4, 4))
    # unsorted column indices, a duplicate and an explicit zero, built directly as CSR
    unsorted = sp.csr_array((np.array([3.0, 1.0, 2.0, 0.0, 5.0, 5.0]),
                             np.array([2, 0, 1, 3, 1, 1]),
                             np.array([0, 3, 4, 6, 6])), shape=(4, 4))
    assert not unsorted.has_canonical_format
    return {
        "coo-duplicates": (coo, coo),
        "csc": (coo.tocsc(), sp.csc_array(coo.toarray())),
        "unsorted-csr": (unsorted, unsorted),
        "spmatrix": (sp.csr_matrix(coo.toarray()), sp.coo_matrix(coo.toarray())),
        "mixed": (unsorted, coo.tocsc()),
    }


NONCANON = _noncanonical()


@pytest.mark.parametrize("case", list(NONCANON))
@pytest.mark.parametrize("method,acc", COMBOS, ids=COMBO_IDS)
def test_noncanonical_input(case, method, acc):
    A, B = NONCANON[case]
    snapshot = [(M.copy()) for M in (A, B)]
    C = spgemm.multiply(A, B, method, acc, threads=1)
    check_product(C, A, B)
    for M, before in zip((A, B), snapshot):  # inputs are not modified
        assert (M != before).nnz == 0 and M.format == before.format


def test_explicit_zeros_are_structural():
    # A's explicit zero at (0, 1) reaches column 2 of B: C keeps (0, 2) with value 0
    A = sp.csr_array((np.array([0.0, 1.0]), np.array([1, 0]), np.array([0, 1, 2])), shape=(2, 2))
    B = sp.csr_array((np.array([3.0, 4.0]), np.array([0, 1]), np.array([0, 1, 2])), shape=(2, 2))
    for method, acc in COMBOS:
        C = spgemm.multiply(A, B, method, acc)
        assert C.nnz == 2
        assert C[0, 1] == 0.0 and C[1, 0] == 3.0


def test_cancellation_kept():
    # row [1, 1] times column [1, -1]: exact zero sum, kept as a structural entry
    A = sp.csr_array(np.array([[1.0, 1.0]]))
    B = sp.csr_array(np.array([[1.0], [-1.0]]))
    assert (A @ B).nnz == 0  # scipy drops it
    for method, acc in COMBOS:
        C = spgemm.multiply(A, B, method, acc)
        assert C.nnz == 1 and C.data[0] == 0.0
        assert spgemm.compare(C, A, B)


@pytest.mark.parametrize("dtype_a,dtype_b", [
    (np.float32, np.float32), (np.float64, np.float64), (np.int32, np.int32),
    (np.int64, np.int64), (np.complex128, np.complex128), (np.float32, np.int64),
    (np.int32, np.float64), (np.float32, np.complex64),
], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("method", list(spgemm.METHODS))
def test_value_dtypes(dtype_a, dtype_b, method):
    A = matrices.erdos_renyi(30, 4, seed=1, values="ones")
    rng = np.random.default_rng(1)
    Aa = A.astype(dtype_a)
    Bb = A.astype(dtype_b)
    Aa.data = (rng.integers(-3, 4, A.nnz) * (1 + 1j if np.iscomplexobj(Aa.data) else 1)
               ).astype(dtype_a)
    C = spgemm.multiply(Aa, Bb, method)
    assert C.dtype == np.result_type(dtype_a, dtype_b)
    check_product(C, Aa, Bb)


@pytest.mark.parametrize("two_pass", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("method,acc", [("rowwise", "dense"), ("rowwise", "hash"),
                                        ("inner", "merge"), ("outer", "sort")])
def test_two_pass_strategy(two_pass, threads, method, acc):
    A = matrices.powerlaw(120, 6, seed=9)
    C = spgemm.multiply(A, A, method, acc, threads=threads, two_pass=two_pass,
                        min_parallel_flops=0)
    check_product(C, A, A)
    if two_pass:  # exact allocation: the arrays are not views of a larger buffer
        assert C.indices.base is None and C.data.base is None


def test_default_arguments_and_threads_none():
    A = matrices.rmat(6, 4, seed=2)
    C = spgemm.multiply(A, A)
    check_product(C, A, A)
    C2 = spgemm.multiply(A, A, threads=None)
    assert same_pattern(C, C2)


def test_large_enough_for_parallel_path_by_default():
    A = matrices.erdos_renyi(4000, 12, seed=3)
    assert spgemm.symbolic(A, A).flops >= spgemm._drive.MIN_PARALLEL_FLOPS
    C = spgemm.multiply(A, A, threads=2)
    assert spgemm.compare(C, A, A)


def test_real_matrices(shared_matrices_dir):
    # bcsstk08 has entries that cancel to exactly zero in A·A
    for name in ("1138_bus", "bcsstk08"):
        path = shared_matrices_dir / f"{name}.mtx.gz"
        if not path.exists():
            pytest.skip(f"{path} missing")
        A = matrices.load(str(path))
        ref = A @ A
        for method, acc in [("rowwise", "dense"), ("rowwise", "hash"), ("outer", "dense")]:
            for threads in (1, 2):
                C = spgemm.multiply(A, A, method, acc, threads=threads)
                assert values_close(C, ref)
                assert C.nnz >= ref.nnz
        assert spgemm.compare(spgemm.multiply(A, A), A, A)


def _csr_parts(C):
    C = sp.csr_array(C)
    return C.indptr.astype(np.int64), C.indices.astype(np.int64), C.data


@pytest.mark.parametrize("block_nnz", [1, 7, 1 << 21])
def test_compare_csr_by_blocks_agrees_with_compare(block_nnz):
    """The same verdicts as `compare` on a right product, a wrong value and a missing entry in
    the last rows, an unsorted row; one row of C may exceed the block."""
    A = matrices.rmat(7, 6, seed=4)
    C = spgemm.multiply(A, A)
    assert spgemm.compare_csr(*_csr_parts(C), A, A, block_nnz=block_nnz)
    wrong = sp.csr_array(C, copy=True)
    wrong.data[-1] += 1e-3
    assert not spgemm.compare(wrong, A, A)
    assert not spgemm.compare_csr(*_csr_parts(wrong), A, A, block_nnz=block_nnz)
    missing = sp.csr_array(C, copy=True)
    missing.data[-1] = 0.0
    missing.eliminate_zeros()
    assert not spgemm.compare_csr(*_csr_parts(missing), A, A, block_nnz=block_nnz)
    ptr, idx, val = _csr_parts(C)
    r = int(np.argmax(np.diff(ptr)))
    order = np.arange(ptr[r], ptr[r + 1])[::-1]             # row r's entries reversed
    idx[ptr[r]:ptr[r + 1]], val[ptr[r]:ptr[r + 1]] = idx[order], val[order]
    assert spgemm.compare_csr(ptr, idx, val, A, A, block_nnz=block_nnz)


@pytest.mark.parametrize("block_nnz", [1, 7, 1 << 21])
def test_compare_csr_four_array_rows_anywhere(block_nnz):
    """C in 4-array form (rows scattered in indices/data, with gaps, as the kernels that claim
    room by fetch-add leave it): the same verdicts without gathering C whole; a start that
    points outside the arrays is a wrong C, not an exception."""
    A = matrices.rmat(7, 6, seed=4)
    ptr, idx, val = _csr_parts(spgemm.multiply(A, A))
    n = ptr.size - 1
    lens = np.diff(ptr)
    order = np.random.default_rng(1).permutation(n)          # rows laid out in this order
    start = np.zeros(n, dtype=np.int64)
    start[order] = np.cumsum(np.r_[0, lens[order] + 2][:-1])   # two unused slots after each row
    size = int(start.max() + lens.max() + 2)
    idx4, val4 = np.full(size, -1, np.int64), np.full(size, np.nan)
    for i in range(n):
        idx4[start[i]:start[i] + lens[i]] = idx[ptr[i]:ptr[i + 1]]
        val4[start[i]:start[i] + lens[i]] = val[ptr[i]:ptr[i + 1]]
    assert spgemm.compare_csr(ptr, idx4, val4, A, A, block_nnz=block_nnz, row_start=start)
    r = int(np.argmax(lens))
    val4[start[r] + lens[r] - 1] += 1e-3
    assert not spgemm.compare_csr(ptr, idx4, val4, A, A, block_nnz=block_nnz, row_start=start)
    val4[start[r] + lens[r] - 1] -= 1e-3
    bad = start.copy()
    bad[r] = size
    assert not spgemm.compare_csr(ptr, idx4, val4, A, A, block_nnz=block_nnz, row_start=bad)


def test_compare_csr_absolute_tolerance_is_relative_to_the_whole_product():
    """A tiny error among tiny entries passes because other rows are large, as in `compare`."""
    A = sp.csr_array(np.diag([1e6, 1e-3]))
    C = (A @ A).tocsr()
    C.data[1] += 1e-9                                        # 1e-6 + 1e-9: far beyond rtol
    assert spgemm.compare(C, A, A)
    assert spgemm.compare_csr(*_csr_parts(C), A, A, block_nnz=1)


# --------------------------------------------------------------------------------------------
# bad arguments
# --------------------------------------------------------------------------------------------
def _good():
    return sp.random_array((4, 4), density=0.5, rng=0, format="csr")


@pytest.mark.parametrize("kwargs,exc,match", [
    ({"method": "nope"}, ValueError, "unknown method 'nope'"),
    ({"accumulator": "nope"}, ValueError, "no accumulator 'nope'"),
    ({"method": "inner", "accumulator": "dense"}, ValueError, "no accumulator 'dense'"),
    ({"threads": 0}, ValueError, "threads must be a positive integer"),
    ({"threads": -2}, ValueError, "threads must be a positive integer"),
    ({"threads": 1.5}, TypeError, "threads"),
    ({"threads": True}, TypeError, "threads"),
    ({"threads": 10_000}, ValueError, "exceeds"),
    ({"index_dtype": np.int16}, TypeError, "index_dtype"),
    ({"table_factor": 0}, ValueError, "table_factor"),
])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        spgemm.multiply(_good(), _good(), **kwargs)


def test_bad_operands():
    A = _good()
    with pytest.raises(TypeError, match="A must be a scipy.sparse"):
        spgemm.multiply(A.toarray(), A)
    with pytest.raises(TypeError, match="B must be a scipy.sparse"):
        spgemm.multiply(A, [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="shape mismatch: A is 4x4 but B is 3x4"):
        spgemm.multiply(A, sp.random_array((3, 4), density=0.5, rng=0, format="csr"))
    with pytest.raises(ValueError, match="2-D"):
        spgemm.multiply(sp.csr_array(np.array([1.0, 0.0, 2.0])), A)
    with pytest.raises(ValueError, match="2-D"):
        spgemm.multiply(A, sp.coo_array(np.array([1.0, 0.0, 2.0, 3.0])))
    obj = sp.csr_array((np.array(["a", "b"], dtype=object), np.array([0, 1]),
                        np.array([0, 1, 2])), shape=(2, 2))
    with pytest.raises(TypeError, match="unsupported dtype object"):
        spgemm.multiply(obj, obj)
    with pytest.raises(TypeError, match="unsupported dtype bool"):
        spgemm.multiply(A.astype(bool), A)
    corrupt = sp.csr_array((np.ones(2), np.array([0, 1], np.int32), np.array([0, 1, 2], np.int32)),
                           shape=(2, 2))
    corrupt.indices[1] = 7  # past the last column
    with pytest.raises(ValueError, match="outside"):
        spgemm.multiply(corrupt, corrupt)


@pytest.mark.parametrize("block_nnz", [5, 1 << 21])
def test_row_check_takes_runs_of_rows_in_any_order(block_nnz):
    """RowCheck: runs of rows given out of order (and from anywhere in the arrays) agree with
    `compare_csr`; a wrong value in the last run, a run given twice in place of another, or a
    missing run make `ok` False; a tolerance is over the whole product, not a run's."""
    A = matrices.rmat(7, 6, seed=4)
    C = spgemm.multiply(A, A)
    ptr, idx, val = _csr_parts(C)
    n = A.shape[0]
    runs = [(40, 128), (0, 17), (17, 40)]

    def check(data, runs):
        c = spgemm.RowCheck(A, A, block_nnz=block_nnz)
        for r0, r1 in runs:
            c.rows(r0, r1, np.diff(ptr)[r0:r1], idx, data, ptr[r0:r1])
        return c.ok(n)

    assert check(val, runs)
    wrong = val.copy()
    wrong[ptr[100] + 1] += 1e-3
    assert not check(wrong, runs)
    assert not check(val, runs[:2])                            # rows 17..40 never given
    assert not check(val, [(40, 128), (0, 17), (0, 17), (17, 40)][:3])
    c = spgemm.RowCheck(A, A)                                 # a length past the arrays
    assert not c.rows(0, 2, np.array([1, len(idx)]), idx, val, np.array([0, 1]))
    assert not c.ok(2)
