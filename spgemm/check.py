"""Checking products: a naive reference and pattern-aware comparisons.

Native kernels keep structural entries whose sums cancel to zero; scipy drops them. So a product
is checked in two parts: its *pattern* against the structural product (``structural_product``)
and its *values* against a reference with a tolerance, where an entry missing from the reference
counts as zero (``values_close``). ``compare`` does both against scipy's product.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import scipy.sparse as sp


def _tolerances(dtype: np.dtype) -> tuple[float, float]:
    if np.issubdtype(dtype, np.integer):
        return 0.0, 0.0
    if dtype in (np.dtype(np.float32), np.dtype(np.complex64)):
        return 1e-4, 1e-5
    return 1e-9, 1e-12


def structural_product(A: Any, B: Any) -> sp.csr_array:
    """The pattern of C = A·B with explicit zeros and cancellation ignored: ones wherever some
    stored A[i, k] meets a stored B[k, j] (int64 counts of the meetings, never zero)."""
    return _pattern(A) @ _pattern(B)


def _pattern(M: Any) -> sp.csr_array:
    """M's stored positions as int64 ones (duplicates summed first: counts)."""
    M = sp.csr_array(M, copy=True)                  # sum_duplicates is in place
    M.sum_duplicates()
    return sp.csr_array((np.ones(M.nnz, np.int64), M.indices, M.indptr), shape=M.shape)


def same_pattern(C: Any, P: Any) -> bool:
    """Whether C and P store exactly the same (i, j) positions (duplicates summed first)."""
    C, P = sp.csr_array(C, copy=True), sp.csr_array(P, copy=True)
    if C.shape != P.shape:
        return False
    C.sum_duplicates()
    P.sum_duplicates()
    return (np.array_equal(C.indptr, P.indptr) and np.array_equal(C.indices, P.indices))


def _split_nonfinite(M: sp.csr_array) -> tuple[sp.csr_array, tuple[np.ndarray, ...]]:
    """M with its NaN/Inf entries set to zero, and those entries as sorted (row, col, value)."""
    M = sp.csr_array(M, copy=True)
    M.sum_duplicates()
    bad = ~np.isfinite(M.data)
    if not bad.any():
        return M, (np.zeros(0, np.int64), np.zeros(0, np.int64), M.data[:0])
    rows = np.repeat(np.arange(M.shape[0]), np.diff(M.indptr))[bad]
    cols, vals = M.indices[bad].astype(np.int64), M.data[bad].copy()
    M.data[bad] = 0
    return M, (rows, cols, vals)


def _finite_parts(C: sp.csr_array, R: sp.csr_array):
    """(C, R) with their non-finite entries zeroed, or None when those entries differ in place
    or value (NaN equals NaN)."""
    if C.dtype.kind not in "fc" and R.dtype.kind not in "fc":
        return C, R
    C, c_bad = _split_nonfinite(C)
    R, r_bad = _split_nonfinite(R)
    if not (np.array_equal(c_bad[0], r_bad[0]) and np.array_equal(c_bad[1], r_bad[1])
            and np.array_equal(c_bad[2], r_bad[2], equal_nan=True)):
        return None
    return C, R


def values_close(C: Any, R: Any, rtol: float | None = None, atol: float | None = None) -> bool:
    """Elementwise |C - R| <= atol + rtol * |R| over both patterns (absent entries are zero).

    NaN-aware: non-finite entries (NaN, +-Inf) must sit at the same positions with the same
    value in both (NaN equals NaN: a NaN in an operand propagates to the same entries of C
    whatever the order of the sums); the finite entries are compared with the tolerance.
    Default tolerances by dtype: exact for integers, rtol 1e-4 for single precision, 1e-9 for
    double; atol is relative to the largest finite |R| entry.
    """
    C, R = sp.csr_array(C), sp.csr_array(R)
    if C.shape != R.shape:
        return False
    parts = _finite_parts(C, R)
    if parts is None:
        return False
    C, R = parts
    rtol, atol = _resolve_tolerances(C, R, rtol, atol)
    excess, scale = _value_excess(C, R, rtol)
    return bool(excess <= atol * max(scale, 1.0))


def _resolve_tolerances(C, R, rtol, atol) -> tuple[float, float]:
    d_rtol, d_atol = _tolerances(np.result_type(C.dtype, R.dtype))
    return (d_rtol if rtol is None else rtol), (d_atol if atol is None else atol)


def _value_excess(C: sp.csr_array, R: sp.csr_array, rtol: float) -> tuple[float, float]:
    """The largest |C - R| - rtol |R| over both patterns (-inf when C equals R exactly) and
    the largest |R| entry (0 when R is empty)."""
    scale = float(abs(R).max()) if R.nnz else 0.0
    diff = abs(C - R)
    if diff.nnz == 0:
        return -np.inf, scale
    return float((diff - rtol * abs(R)).max()), scale


def compare(C: Any, A: Any, B: Any, reference: Any = None) -> bool:
    """Check a computed C = A·B: pattern equals the structural product, values match scipy's
    ``A @ B`` (or ``reference``) within tolerance."""
    ref = (sp.csr_array(A) @ sp.csr_array(B)) if reference is None else reference
    return same_pattern(C, structural_product(A, B)) and values_close(C, ref)


COMPARE_BLOCK_NNZ = 1 << 21     # entries of C that compare_csr checks at a time


def compare_csr(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, A: Any, B: Any,
                *, block_nnz: int = COMPARE_BLOCK_NNZ, row_start: np.ndarray | None = None) -> bool:
    """``compare`` for C given by its CSR arrays (indptr[n_row + 1], indices, data; rows in any
    column order), a block of rows of about `block_nnz` entries of C at a time: the same checks
    (the absolute tolerance relative to the largest |entry| of the whole product), in memory
    proportional to the block, not to C, and without converting C's arrays.

    row_start: C in 4-array form (rows anywhere in indices/data): row i's entries start at
    row_start[i] and `indptr` gives only the row lengths (its differences); each block's rows
    are gathered on their own, so C is never copied whole."""
    check = RowCheck(A, B, block_nnz=block_nnz)
    n_row = check.A.shape[0]
    indptr = np.asarray(indptr)
    if indptr.shape != (n_row + 1,):
        return False
    if row_start is None:
        row_start = indptr[:-1]
    check.rows(0, n_row, np.diff(indptr), indices, data, row_start)
    return check.ok(n_row)


class RowCheck:
    """``compare`` of C = A·B made and checked a run of rows at a time, runs in any order (a
    program that gives C's rows back once they are checked: C is never held whole). The
    absolute tolerance is relative to the largest |entry| of the whole product, so the verdict
    is `ok()`, after the last run; each run is checked in blocks of about `block_nnz` entries.

        check = RowCheck(A, B)
        check.rows(r0, r1, lens, indices, data, start)   # rows r0..r1: lens[i] entries at start[i]
        check.ok(n_rows_expected)"""

    def __init__(self, A: Any, B: Any, *, block_nnz: int = COMPARE_BLOCK_NNZ) -> None:
        self.A, self.B = sp.csr_array(A), sp.csr_array(B)
        self.pattern_b = _pattern(self.B)
        self.block_nnz = max(int(block_nnz), 1)
        self.excess, self.scale = -np.inf, 0.0
        self.rtol = self.atol = None
        self.checked = 0            # rows checked
        self.failed = False         # a pattern, non-finite entry or row extent differed

    def rows(self, r0: int, r1: int, lens: np.ndarray, indices: np.ndarray, data: np.ndarray,
             start: np.ndarray) -> bool:
        """Check rows r0..r1 of C: row r0 + i holds lens[i] entries at indices/data[start[i]:].
        False (and `ok()` False from then on) when their pattern or non-finite entries differ."""
        lens = np.asarray(lens, dtype=np.int64)
        start = np.asarray(start, dtype=np.int64)
        n_col = self.B.shape[1]
        if (lens.shape != (r1 - r0,) or start.shape != lens.shape or np.any(lens < 0)
                or (lens.size and (start.min() < 0 or np.max(start + lens) > len(indices)))):
            self.failed = True
            return False
        ptr = np.zeros(lens.size + 1, np.int64)
        np.cumsum(lens, out=ptr[1:])
        i0 = 0
        while i0 < lens.size and not self.failed:
            i1 = int(np.searchsorted(ptr, ptr[i0] + self.block_nnz, side="right")) - 1
            i1 = min(max(i1, i0 + 1), lens.size)
            a, b = int(ptr[i0]), int(ptr[i1])
            take = np.repeat(start[i0:i1] - (ptr[i0:i1] - a), lens[i0:i1]) + np.arange(b - a)
            Cb = sp.csr_array((data[take], indices[take], ptr[i0:i1 + 1] - a),
                              shape=(i1 - i0, n_col))
            Ab = self.A[r0 + i0:r0 + i1]
            self.failed = not self._block(Cb, Ab)
            i0 = i1
        self.checked += r1 - r0
        return not self.failed

    def _block(self, Cb: sp.csr_array, Ab: sp.csr_array) -> bool:
        if not same_pattern(Cb, _pattern(Ab) @ self.pattern_b):
            return False
        parts = _finite_parts(Cb, Ab @ self.B)
        if parts is None:
            return False
        Cb, R = parts
        if self.rtol is None:
            self.rtol, self.atol = _resolve_tolerances(Cb, R, None, None)
        e, sc = _value_excess(Cb, R, self.rtol)
        self.excess, self.scale = max(self.excess, e), max(self.scale, sc)
        return True

    def ok(self, n_rows: int) -> bool:
        """Whether the `n_rows` rows expected were all checked and C matched in all of them."""
        if self.failed or self.checked != n_rows:
            return False
        return bool(self.rtol is None or self.excess <= self.atol * max(self.scale, 1.0))


def naive_multiply(A: Any, B: Any) -> tuple[dict[tuple[int, int], Any], tuple[int, int]]:
    """The slowest, plainest C = A·B: dicts of Python numbers, structural entries kept.

    Returns ``(entries, shape)`` with ``entries[(i, j)] = sum of A[i, k] * B[k, j]`` over every
    stored (duplicates counted separately, i.e. summed) pair. For tests on tiny matrices.
    """
    A, B = sp.coo_array(A), sp.coo_array(B)
    rows_b: dict[int, list[tuple[int, Any]]] = defaultdict(list)
    for k, j, v in zip(B.row.tolist(), B.col.tolist(), B.data.tolist()):
        rows_b[k].append((j, v))
    out: dict[tuple[int, int], Any] = {}
    for i, k, a in zip(A.row.tolist(), A.col.tolist(), A.data.tolist()):
        for j, b in rows_b.get(k, ()):
            out[(i, j)] = out.get((i, j), 0) + a * b
    return out, (A.shape[0], B.shape[1])


def naive_to_csr(entries: dict[tuple[int, int], Any], shape: tuple[int, int],
                 dtype: Any) -> sp.csr_array:
    """The naive product as a csr_array that keeps its zero-valued (structural) entries."""
    if entries:
        ij = np.array(list(entries.keys()), dtype=np.int64)
        vals = np.array(list(entries.values()), dtype=dtype)
    else:
        ij = np.zeros((0, 2), np.int64)
        vals = np.zeros(0, dtype)
    C = sp.coo_array((vals, (ij[:, 0], ij[:, 1])), shape=shape).tocsr()
    return C
