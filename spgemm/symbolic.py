"""The symbolic pass of C = A·B: per-row work and exact output structure, and the work split.

A product of its own: the simulator and the load balancers use the same per-row costs
(``row_flops``) that the native kernels use to split rows among threads.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from spgemm._intrinsics import atomic_add
from spgemm._parallel import claim_chunk

INT32_MAX = int(np.iinfo(np.int32).max)
INT64_MAX = int(np.iinfo(np.int64).max)


def choose_index_dtype(bound: int) -> np.dtype:
    """The index dtype for arrays holding values up to ``bound``: int32 when it fits, else int64.

    Raises OverflowError when ``bound`` does not fit int64 either (the product cannot be indexed).
    """
    bound = int(bound)
    if bound < 0:
        raise ValueError(f"index bound must be non-negative, got {bound}")
    if bound <= INT32_MAX:
        return np.dtype(np.int32)
    if bound <= INT64_MAX:
        return np.dtype(np.int64)
    raise OverflowError(f"index bound {bound} exceeds int64: the product is too large to index")


@dataclass(frozen=True)
class Symbolic:
    """Structure of C = A·B, computed without values.

    row_flops   int64[n_row]: multiply-adds of each output row (sum of nnz(B[k, :]) over A[i, k])
    row_nnz     int64[n_row]: exact stored entries of each output row (structural: cancellation
                to zero is not detected, explicit zeros of A and B count as entries)
    flops       total multiply-adds (GFLOP/s elsewhere counts 2 * flops)
    nnz         total nnz(C)
    index_dtype int32 when nnz(C) and the dimensions fit, else int64
    shape       (n_row, n_col) of C
    """

    row_flops: np.ndarray
    row_nnz: np.ndarray
    flops: int
    nnz: int
    index_dtype: np.dtype
    shape: tuple[int, int]

    @property
    def indptr(self) -> np.ndarray:
        """C's row pointer (``cumsum`` of row_nnz with a leading 0), in ``index_dtype``."""
        out = np.zeros(len(self.row_nnz) + 1, dtype=self.index_dtype)
        np.cumsum(self.row_nnz, out=out[1:])
        return out


def split_by_work(row_cost: np.ndarray, n_parts: int) -> np.ndarray:
    """Split rows into ``n_parts`` contiguous ranges of about equal total cost.

    Returns ``bounds`` (int64[n_parts + 1]): part t holds rows ``bounds[t]:bounds[t + 1]``.
    Cumulative cost + ``searchsorted`` (parts may be empty when a few rows dominate).
    """
    if n_parts < 1:
        raise ValueError(f"n_parts must be positive, got {n_parts}")
    cum = np.concatenate(([0], np.cumsum(np.asarray(row_cost, dtype=np.int64))))
    targets = (cum[-1] * np.arange(1, n_parts, dtype=np.int64)) // n_parts
    bounds = np.empty(n_parts + 1, dtype=np.int64)
    bounds[0], bounds[-1] = 0, len(cum) - 1
    bounds[1:-1] = np.searchsorted(cum, targets, side="left")
    return bounds


# --------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def _plan(a_start, a_end, a_indices, b_start, b_end, b_indices, n_inner, n_col, n_chunks, cum,
          capcum):
    """Per-row work of C = A·B, the work split and the output-size bound, in one pass over A.

    Input:  a_start, a_end  uint[n_row]   A's row ranges (``indptr[:-1]``, ``indptr[1:]``)
            a_indices       uint[nnz(A)]  A's column indices, sorted within rows
            b_start, b_end  uint[n_inner] B's row ranges
            b_indices       uint[nnz(B)]  B's column indices, sorted within rows
            n_inner, n_col  int           rows and columns of B
            n_chunks        int >= 1      number of row chunks wanted
    Output: cum     int64[n_row + 1]  cumulative cost, cost(i) = flops(i) + nnz(A[i, :]) + 1
            capcum  int64[n_row + 1]  cumulative capacity, capacity(i) = min(flops(i), n_col),
                                      an upper bound on nnz(C[i, :])
    Returns (bounds int64[n_chunks + 1], flops, max_row_flops, ok): chunk c holds rows
    bounds[c]:bounds[c + 1] of about equal cost; ok is False if an index is out of range
    (checked on the last, i.e. largest, index of each row).
    O(n_row + n_inner + nnz(A)).
    """
    ok = True
    for k in range(b_start.shape[0]):
        if b_end[k] > b_start[k] and np.int64(b_indices[b_end[k] - np.uint64(1)]) >= n_col:
            ok = False
    n_row = a_start.shape[0]
    cum[0] = 0
    capcum[0] = 0
    total = np.int64(0)
    cap = np.int64(0)
    flops = np.int64(0)
    max_row = np.int64(0)
    for i in range(n_row):
        lo = a_start[i]
        hi = a_end[i]
        if hi > lo and np.int64(a_indices[hi - np.uint64(1)]) >= n_inner:
            ok = False
            break
        f = np.int64(0)
        for jj in range(lo, hi):
            k = a_indices[jj]
            f += np.int64(b_end[k]) - np.int64(b_start[k])
        flops += f
        max_row = max(max_row, f)
        total += f + (np.int64(hi) - np.int64(lo)) + 1
        cap += min(f, n_col)
        cum[i + 1] = total
        capcum[i + 1] = cap
    bounds = np.empty(n_chunks + 1, np.int64)
    bounds[0] = 0
    bounds[n_chunks] = n_row
    if ok:
        for c in range(1, n_chunks):
            bounds[c] = np.searchsorted(cum, (total * c) // n_chunks)
    return bounds, flops, max_row, ok


@njit(cache=True)
def _max_index(indices):
    """Largest entry of a non-empty index array (-1 when empty)."""
    m = np.int64(-1)
    for t in range(indices.shape[0]):
        v = np.int64(indices[t])
        if v > m:
            m = v
    return m


@njit(cache=True)
def _symbolic_rows(r0, r1, a_start, a_end, a_indices, b_start, b_end, b_indices, mark,
                   row_flops, row_nnz):
    """Exact nnz and flops of rows r0:r1 of C = A·B (structural; Gustavson's symbolic phase).

    Input:  A and B as uint row ranges + uint indices (duplicates/unsorted allowed: a column
            counts once per row however often it is reached)
            mark   uint64[n_col] scratch, all entries < r0 + 1 on entry (zeros will do)
    Output: row_flops, row_nnz  int64[n_row], rows r0:r1 written
    O(flops(r0:r1)).
    """
    for i in range(r0, r1):
        tag = np.uint64(i + 1)
        f = np.int64(0)
        n = np.int64(0)
        for jj in range(a_start[i], a_end[i]):
            k = a_indices[jj]
            lo = b_start[k]
            hi = b_end[k]
            f += np.int64(hi) - np.int64(lo)
            for kk in range(lo, hi):
                j = b_indices[kk]
                if mark[j] != tag:
                    mark[j] = tag
                    n += 1
        row_flops[i] = f
        row_nnz[i] = n


@njit(cache=True, nogil=True)
def _symbolic_claimed(counter, front, bounds, a_start, a_end, a_indices, b_start, b_end, b_indices,
                      mark, row_flops, row_nnz):
    """One thread's share of a parallel symbolic pass: claims chunks of rows (see
    ``spgemm._parallel``); ``mark`` (uint64[n_col], zeroed) is this thread's own."""
    n_chunks = bounds.shape[0] - 1
    while True:
        c = claim_chunk(counter, n_chunks, front)
        if c < 0:
            return
        _symbolic_rows(bounds[c], bounds[c + 1], a_start, a_end, a_indices, b_start, b_end,
                       b_indices, mark, row_flops, row_nnz)
        atomic_add(counter, 1, 1)
