"""Inner-product SpGEMM: C[i, j] = A[i, :] · B[:, j], a sorted-index intersection per (i, j).

B is converted to CSC (rows of B^T) so that both operands of each dot product are sorted index
lists. Which pairs (i, j)? The classic formulation tests all n_row x n_col pairs, O(n^2)
intersections, which is hopeless beyond toy sizes. Here the candidate columns of row i are the
columns reachable through A[i, :] in B's pattern (the row-wise structure of C, found with the
dense marker), and one intersection is computed for each candidate; the pairs whose intersection
is empty are exactly the ones skipped. C and the per-pair intersection work are those of the
classic method restricted to C's structure. It still fetches the same B columns again and
again, which is what makes it a baseline: expect it to be slow.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from spgemm._parallel import atomic_add, claim_output_chunk
from spgemm.accumulators import leaf, sort_keys

_ONE = np.uint64(1)


@leaf
def sparse_dot(a_indices, a_data, a_lo, a_hi, bt_indices, bt_data, b_lo, b_hi, zero):
    """Dot product of two sparse vectors with sorted, unique indices (two-pointer merge).

    a_indices/a_data[a_lo:a_hi] and bt_indices/bt_data[b_lo:b_hi]; ``zero`` fixes the result
    dtype. O(a_hi - a_lo + b_hi - b_lo).
    """
    acc = zero
    x = a_lo
    y = b_lo
    while x < a_hi and y < b_hi:
        ka = a_indices[x]
        kb = bt_indices[y]
        if ka == kb:
            acc += a_data[x] * bt_data[y]
            x += _ONE
            y += _ONE
        elif ka < kb:
            x += _ONE
        else:
            y += _ONE
    return acc


@njit(cache=True)
def _inner_rows(r0, r1, p0, a_start, a_end, a_indices, a_data, b_start, b_end, b_indices,
                bt_start, bt_end, bt_indices, bt_data, sort_rows, s_pos, s_work, c_indptr,
                c_indices, c_data):
    """Compute rows r0:r1 of C = A·B by inner products, output from position p0.

    Input arrays (never written):
      a_start, a_end, a_indices, a_data   A in CSR (uint ranges), sorted unique column indices
      b_start, b_end, b_indices           B's CSR pattern (to enumerate candidate columns)
      bt_start, bt_end, bt_indices, bt_data  B in CSC, i.e. B^T in CSR, sorted unique indices
    Scratch: s_pos uint64[n_col], zeroed; s_work int64[WORK_SIZE] (sorting).
    Output arrays: c_indptr int[n_row + 1] (entries r0+1..r1), c_indices uint[*], c_data value[*].
    Returns the output position after row r1 - 1.

    Candidates of row i: columns j with A[i, k] != 0 and B[k, j] != 0 for some k (each once);
    then C[i, j] = sparse_dot(A[i, :], B[:, j]). Rows sorted when ``sort_rows``. Time
    O(flops + sum over C's entries of nnz(A[i, :]) + nnz(B[:, j])).
    """
    p = np.uint64(p0)
    zero = c_data.dtype.type(0)
    for i in range(r0, r1):
        row_start = p
        a_lo = a_start[i]
        a_hi = a_end[i]
        for jj in range(a_lo, a_hi):
            k = a_indices[jj]
            for kk in range(b_start[k], b_end[k]):
                j = b_indices[kk]
                if s_pos[j] <= row_start:
                    c_indices[p] = j
                    p += _ONE
                    s_pos[j] = p
        if sort_rows:
            sort_keys(c_indices, row_start, p, s_work)
        for q in range(row_start, p):
            j = c_indices[q]
            c_data[q] = sparse_dot(a_indices, a_data, a_lo, a_hi, bt_indices, bt_data,
                                   bt_start[j], bt_end[j], zero)
        c_indptr[i + 1] = p
    return p


@njit(cache=True, nogil=True)
def _inner_claimed(counter, front, bounds, cap_starts, pack, starts, chunk_end, a_start, a_end,
                   a_indices, a_data, b_start, b_end, b_indices, bt_start, bt_end, bt_indices,
                   bt_data, sort_rows, s_pos, s_work, c_indptr, c_indices, c_data):
    """One thread's share of a parallel inner product: claims chunks of rows exactly as
    ``spgemm.rowwise._rowwise_claimed`` does; s_pos and s_work are this thread's own."""
    n_chunks = bounds.shape[0] - 1
    prev_end = np.int64(0)
    while True:
        c, p0 = claim_output_chunk(counter, n_chunks, front, pack, cap_starts, chunk_end, starts,
                                   prev_end, s_pos)
        if c < 0:
            return
        end = _inner_rows(bounds[c], bounds[c + 1], p0, a_start, a_end, a_indices, a_data,
                          b_start, b_end, b_indices, bt_start, bt_end, bt_indices, bt_data,
                          sort_rows, s_pos, s_work, c_indptr, c_indices, c_data)
        chunk_end[c] = end
        prev_end = np.int64(end)
        atomic_add(counter, 1, 1)
