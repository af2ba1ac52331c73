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
    A, B = sp.csr_array(A, copy=True), sp.csr_array(B, copy=True)  # sum_duplicates is in place
    A.sum_duplicates()
    B.sum_duplicates()
    pa = sp.csr_array((np.ones(A.nnz, np.int64), A.indices, A.indptr), shape=A.shape)
    pb = sp.csr_array((np.ones(B.nnz, np.int64), B.indices, B.indptr), shape=B.shape)
    return pa @ pb


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
    A, B = sp.csr_array(A), sp.csr_array(B)
    n_row, n_col = A.shape[0], B.shape[1]
    indptr = np.asarray(indptr)
    if indptr.shape != (n_row + 1,):
        return False
    if row_start is not None:
        row_start = np.asarray(row_start, dtype=np.int64)
        lens = np.diff(indptr)
        if row_start.shape != (n_row,) or np.any(lens < 0) or (n_row and (
                row_start.min() < 0 or np.max(row_start + lens) > len(indices))):
            return False
    excess, scale = -np.inf, 0.0
    rtol = atol = None
    r0 = 0
    while r0 < n_row:
        r1 = int(np.searchsorted(indptr, indptr[r0] + block_nnz, side="right")) - 1
        r1 = min(max(r1, r0 + 1), n_row)
        a, b = int(indptr[r0]), int(indptr[r1])
        if row_start is None:
            bi, bd = indices[a:b], data[a:b]
        else:
            lens = np.diff(indptr[r0:r1 + 1])
            take = np.repeat(row_start[r0:r1] - (indptr[r0:r1] - a), lens) + np.arange(b - a)
            bi, bd = indices[take], data[take]
        Cb = sp.csr_array((bd, bi, indptr[r0:r1 + 1] - a), shape=(r1 - r0, n_col))
        Ab = A[r0:r1]
        if not same_pattern(Cb, structural_product(Ab, B)):
            return False
        parts = _finite_parts(Cb, Ab @ B)
        if parts is None:
            return False
        Cb, R = parts
        if rtol is None:
            rtol, atol = _resolve_tolerances(Cb, R, None, None)
        e, sc = _value_excess(Cb, R, rtol)
        excess, scale = max(excess, e), max(scale, sc)
        r0 = r1
    return bool(rtol is None or excess <= atol * max(scale, 1.0))


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
