"""Generators: reproducible, canonical, the promised sizes and structures."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import scipy.sparse as sp

from matrices import (MatrixError, banded, erdos_renyi, imbalanced, poisson2d, poisson3d,
                      powerlaw, rmat)

RANDOM: list[tuple[str, Callable[..., sp.csr_array], dict[str, Any]]] = [
    ("rmat", rmat, {"scale": 9, "ef": 8}),
    ("rmat-sym", rmat, {"scale": 8, "ef": 8, "symmetric": True, "permute": True}),
    ("er", erdos_renyi, {"n": 700, "nnz_per_row": 6}),
    ("er-rect", erdos_renyi, {"n": 300, "nnz_per_row": 5, "m": 900}),
    ("powerlaw", powerlaw, {"n": 800, "nnz_per_row": 7, "exponent": 2.2}),
    ("imbalanced", imbalanced, {"n": 600, "nnz_per_row": 5, "n_long": 3, "long_len": 400}),
    ("banded", banded, {"n": 300, "bandwidth": 3}),
]
IDS = [r[0] for r in RANDOM]


def _assert_canonical(A: sp.csr_array) -> None:
    assert isinstance(A, sp.csr_array)
    assert A.dtype == np.float64
    assert A.indptr[0] == 0 and A.indptr[-1] == A.nnz
    assert np.all(np.diff(A.indptr) >= 0)
    # strictly increasing columns inside every row = sorted, no duplicates
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    same_row = rows[1:] == rows[:-1]
    assert np.all(np.diff(A.indices.astype(np.int64))[same_row] > 0)
    assert A.has_canonical_format
    assert A.indices.min(initial=0) >= 0 and A.indices.max(initial=0) < max(A.shape[1], 1)


@pytest.mark.parametrize("name,func,kw", RANDOM, ids=IDS)
def test_reproducible_and_canonical(name: str, func: Callable[..., sp.csr_array], kw: dict) -> None:
    A = func(**kw, seed=3)
    B = func(**kw, seed=3)
    C = func(**kw, seed=4)
    _assert_canonical(A)
    for x in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(A, x), getattr(B, x))
    assert not (A.shape == C.shape and np.array_equal(A.indices, C.indices)
                and np.array_equal(A.data, C.data))
    assert np.all((A.data >= 0.5) & (A.data < 1.5))
    ones = func(**kw, seed=3, values="ones")
    assert np.all(ones.data == 1.0)
    if name != "banded":       # values drawn after the structure: same structure either way
        np.testing.assert_array_equal(ones.indices, A.indices)


def test_rmat_sizes_and_skew() -> None:
    A = rmat(10, ef=16, seed=1)
    assert A.shape == (1024, 1024)
    assert A.nnz < 16 * 1024                    # duplicates merged
    assert A.nnz > 0.5 * 16 * 1024
    row_len = np.diff(A.indptr)
    assert row_len.max() > 10 * row_len.mean()  # heavy rows: the R-MAT skew
    assert row_len[:32].sum() > row_len[-32:].sum()   # unpermuted: heavy rows at the top


def test_rmat_symmetric() -> None:
    A = rmat(9, ef=8, seed=2, symmetric=True)
    assert (A != A.T).nnz == 0
    D = rmat(9, ef=8, seed=2)
    assert A.nnz <= 2 * D.nnz


def test_rmat_quadrant_law() -> None:
    """One level (scale=1): quadrant frequencies follow a, b, c, d (no merging: ef counts edges,
    so use values='ones' on a tiny scale and count via distinct seeds)."""
    a, b, c = 0.5, 0.2, 0.2
    counts = np.zeros((2, 2))
    for seed in range(200):
        counts += rmat(1, ef=1, a=a, b=b, c=c, seed=seed, values="ones").toarray()
    # each run draws 2 edges; merged duplicates make this a lower bound, compare ordering only
    assert counts[0, 0] > counts[0, 1] and counts[0, 0] > counts[1, 0] > counts[1, 1]


def test_er_density() -> None:
    n, k = 2000, 10.0
    A = erdos_renyi(n, k, seed=5)
    expected, sd = n * k, np.sqrt(n * k)
    assert abs(A.nnz - expected) < 5 * sd
    R = erdos_renyi(100, 4, m=5000, seed=1)
    assert R.shape == (100, 5000)
    assert erdos_renyi(50, 0).nnz == 0
    assert erdos_renyi(20, 20).nnz == 400       # p = 1: full


def test_banded_structure() -> None:
    n, w = 50, 3
    A = banded(n, bandwidth=w, values="ones")
    assert A.nnz == n * (2 * w + 1) - w * (w + 1)
    i, j = np.nonzero(A.toarray())
    assert np.all(np.abs(i - j) <= w)
    assert banded(5, bandwidth=10).nnz == 25    # band wider than the matrix: full
    assert banded(5, bandwidth=0).nnz == 5


def _poisson_reference(n: int, dim: int) -> np.ndarray:
    N = n**dim
    M = np.zeros((N, N))
    for idx in np.ndindex(*(n,) * dim):
        r = np.ravel_multi_index(idx, (n,) * dim)
        M[r, r] = 2 * dim
        for d in range(dim):
            for step in (-1, 1):
                nb = list(idx)
                nb[d] += step
                if 0 <= nb[d] < n:
                    M[r, np.ravel_multi_index(nb, (n,) * dim)] = -1
    return M


def test_poisson_exact() -> None:
    for n in (1, 2, 5):
        A = poisson2d(n)
        _assert_canonical(A)
        np.testing.assert_array_equal(A.toarray(), _poisson_reference(n, 2))
        assert A.nnz == 5 * n * n - 4 * n
    for n in (1, 2, 4):
        A = poisson3d(n)
        _assert_canonical(A)
        np.testing.assert_array_equal(A.toarray(), _poisson_reference(n, 3))
        assert A.nnz == 7 * n**3 - 6 * n**2
    assert poisson3d(32).shape == (32768, 32768)


def test_powerlaw_lengths() -> None:
    A = powerlaw(4000, nnz_per_row=10, exponent=2.1, seed=2)
    row_len = np.diff(A.indptr)
    assert A.nnz == 40000                       # mean hit exactly (as integers allow)
    assert row_len.min() >= 1
    assert row_len.max() > 20 * row_len.mean()
    assert np.median(row_len) < row_len.mean()  # skewed
    B = powerlaw(300, nnz_per_row=4, m=50, seed=1)
    assert B.shape == (300, 50) and np.diff(B.indptr).max() <= 50


def test_imbalanced_lengths() -> None:
    A = imbalanced(1000, nnz_per_row=6, n_long=5, long_len=900, seed=3)
    row_len = np.diff(A.indptr)
    assert np.count_nonzero(row_len == 900) == 5
    assert np.count_nonzero(row_len == 6) == 995
    assert np.diff(imbalanced(100, 3, n_long=2).indptr).max() == 50    # default long_len = n // 2
    assert imbalanced(10, 10, n_long=0).nnz == 100


@pytest.mark.parametrize("call,message", [
    (lambda: rmat(0), r"^rmat: scale=0 out of range \(1\.\.26\)"),
    (lambda: rmat(27), r"scale=27 out of range"),
    (lambda: rmat(5, a=0.6, b=0.3, c=0.2), r"a\+b\+c=1\.1 must be < 1"),
    (lambda: rmat(5, a=0.0), r"a=0\.0 out of range"),
    (lambda: rmat(5, ef=0), r"ef=0 out of range"),
    (lambda: rmat(5, seed=-1), r"seed=-1 out of range"),
    (lambda: rmat(5, values="zeros"), r"values='zeros' unknown"),
    (lambda: rmat(5.5), r"scale must be an integer"),             # type: ignore[arg-type]
    (lambda: rmat(5, symmetric="yes"), r"symmetric must be true or false"),  # type: ignore[arg-type]
    (lambda: erdos_renyi(0), r"^erdos_renyi: n=0 out of range"),
    (lambda: erdos_renyi(10, 11), r"nnz_per_row=11 out of range \(must be <= 10\)"),
    (lambda: erdos_renyi(10, float("nan")), r"nnz_per_row must be a finite number"),
    (lambda: erdos_renyi(10**6, 2000), r"more than the limit"),
    (lambda: banded(10, bandwidth=-1), r"bandwidth=-1 out of range"),
    (lambda: poisson2d(0), r"^poisson2d: n=0"),
    (lambda: poisson3d(10**4), r"more than the limit"),
    (lambda: powerlaw(10, exponent=1.0), r"exponent=1\.0 out of range \(must be > 1\)"),
    (lambda: powerlaw(10, nnz_per_row=0), r"nnz_per_row=0 out of range"),
    (lambda: imbalanced(10, long_len=11), r"long_len=11 out of range \(0\.\.10\)"),
    (lambda: imbalanced(10, n_long=-1), r"n_long=-1 out of range"),
])
def test_bad_arguments(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(MatrixError, match=message):
        call()


def test_speed_of_a_million_entries() -> None:
    """Vectorized: ~1M entries well under the budget even on a loaded machine."""
    import time
    t = time.perf_counter()
    A = erdos_renyi(100_000, 10, seed=1)
    B = rmat(16, ef=16, seed=1)
    assert A.nnz > 900_000 and B.nnz > 900_000
    assert time.perf_counter() - t < 10


def test_distinct_columns_small_and_full_rows() -> None:
    """Rows that fill most of a narrow matrix still get distinct columns, vectorized."""
    A = powerlaw(20_000, nnz_per_row=6, m=10, seed=1)
    _assert_canonical(A)
    assert A.nnz == 120_000 and np.diff(A.indptr).max() <= 10
    B = imbalanced(64, nnz_per_row=60, n_long=64, long_len=64)
    assert B.nnz == 64 * 64


def test_size_guards() -> None:
    with pytest.raises(MatrixError, match=r"n=2000000000 out of range"):
        imbalanced(2_000_000_000, nnz_per_row=0, n_long=0)
    with pytest.raises(MatrixError, match=r"m=10000000000000 out of range"):
        erdos_renyi(10, 1, m=10**13)
