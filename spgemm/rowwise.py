"""Row-wise (Gustavson) SpGEMM: C[i, :] = sum over k of A[i, k] * B[k, :], one row at a time.

F. G. Gustavson, "Two fast algorithms for sparse matrices: multiplication and permuted
transposition", ACM TOMS 4(3), 1978; scipy's ``csr_matmat`` is the same algorithm with a dense
accumulator. Here the accumulator is a parameter (dense SPA, hash, sort; see
``spgemm.accumulators``), rows are split among threads by cumulative work (chunks claimed from an
atomic counter, ``spgemm._parallel``), all index arrays are seen through unsigned views (numba
then skips its negative-index checks), B's rows are prefetched a few entries of A ahead, and the
output is written in one pass into an upper bound (``spgemm._drive``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from spgemm._parallel import atomic_add, claim_output_chunk
from spgemm.accumulators import (hash_accumulate, hash_clear, hash_table_size,
                                 prefetch_b_row, sort_append, sort_merge, sort_pairs, spa_insert,
                                 spa_sort_row)

#: Scratch arrays every accumulator kernel takes, in order (see ``_rowwise_rows``).
SCRATCH = ("s_pos", "s_keys", "s_buf_k", "s_buf_v", "s_tmp_k", "s_tmp_v", "s_work")

#: Accumulator codes of the kernels (the public names live in ``spgemm.registry``).
ACC_DENSE = 0
ACC_HASH = 1
ACC_SORT = 2

_ONE = np.uint64(1)


@njit(cache=True)
def _rowwise_rows(r0, r1, p0, a_start, a_end, a_indices, a_data, b_start, b_end, b_indices,
                  b_data, n_col, accumulator, hash_id, table_factor, sort_rows,
                  s_pos, s_keys, s_buf_k, s_buf_v, s_tmp_k, s_tmp_v, s_work,
                  c_indptr, c_indices, c_data):
    """Compute rows r0:r1 of C = A·B into the output from position p0 (Gustavson).

    Input arrays (never written):
      a_start, a_end   uint[n_row]     A's row ranges: row i is a_indices/a_data[a_start[i]:
                                       a_end[i]]
      a_indices        uint[nnz(A)]    A's column indices, < n_inner
      a_data           value[nnz(A)]   A's values, already in C's dtype
      b_start, b_end   uint[n_inner]   B's row ranges
      b_indices        uint[nnz(B)]    B's column indices, < n_col
      b_data           value[nnz(B)]   B's values, already in C's dtype
    Scalars:
      n_col            columns of B and C
      accumulator      ACC_DENSE, ACC_HASH or ACC_SORT
      hash_id          hash function of ACC_HASH (``spgemm.accumulators.HASH_FUNCTIONS``)
      table_factor     ACC_HASH tables hold >= table_factor * min(row_flops, n_col) slots
      sort_rows        sort each output row by column (ACC_SORT rows always come out sorted)
    Scratch (one thread's slices; unused ones may be empty):
      s_pos    dense: uint64[n_col], zeroed; hash: uint64[table] (output position of a slot)
      s_keys   hash: int64[table], all EMPTY; table = hash_table_size(max row work)
      s_buf_k, s_buf_v  sort: uint64 and value[max row flops], the partial-product buffer
      s_tmp_k, s_tmp_v  uint64 and value[longest run sorted] (sort; dense/hash if sort_rows)
      s_work   int64[WORK_SIZE]
    Output arrays:
      c_indptr   int[n_row + 1]   c_indptr[i + 1] = output position after row i, for i in r0:r1
      c_indices  uint[capacity]   column indices of rows r0:r1, written from p0
      c_data     value[capacity]  their values
    Returns the output position after row r1 - 1.

    A and B may hold duplicate and unsorted column indices (duplicates are summed, as if summed
    first). Output columns are unique per row; a column reached by any partial product is kept
    even if its sum cancels to zero. Time O(flops(r0:r1) + rows) for dense and hash (expected),
    O(flops * radix passes) for sort and for sorting rows.
    """
    p = np.uint64(p0)
    last = np.uint64(max(a_indices.shape[0] - 1, 0))
    for i in range(r0, r1):
        row_start = p
        a_lo = a_start[i]
        a_hi = a_end[i]
        if accumulator == ACC_DENSE:
            for jj in range(a_lo, a_hi):
                prefetch_b_row(a_indices, jj, last, b_start, b_indices, b_data)
                k = a_indices[jj]
                av = a_data[jj]
                for kk in range(b_start[k], b_end[k]):
                    p = spa_insert(s_pos, c_indices, c_data, row_start, p, b_indices[kk],
                                   av * b_data[kk])
            if sort_rows:
                spa_sort_row(s_pos, c_indices, c_data, row_start, p, n_col, s_tmp_k, s_tmp_v,
                             s_work)
        elif accumulator == ACC_HASH:
            work = np.int64(0)
            for jj in range(a_lo, a_hi):
                k = a_indices[jj]
                work += np.int64(b_end[k]) - np.int64(b_start[k])
            size = hash_table_size(min(work, n_col), table_factor)
            mask = np.uint64(size - 1)
            for jj in range(a_lo, a_hi):
                prefetch_b_row(a_indices, jj, last, b_start, b_indices, b_data)
                k = a_indices[jj]
                av = a_data[jj]
                for kk in range(b_start[k], b_end[k]):
                    p = hash_accumulate(s_keys, s_pos, mask, b_indices[kk], av * b_data[kk],
                                        hash_id, c_indices, c_data, p)
            hash_clear(s_keys, size)
            if sort_rows:
                sort_pairs(c_indices, c_data, row_start, p, n_col, s_tmp_k, s_tmp_v, s_work)
        else:
            n = 0
            for jj in range(a_lo, a_hi):
                prefetch_b_row(a_indices, jj, last, b_start, b_indices, b_data)
                k = a_indices[jj]
                av = a_data[jj]
                for kk in range(b_start[k], b_end[k]):
                    n = sort_append(s_buf_k, s_buf_v, n, b_indices[kk], av * b_data[kk])
            p = sort_merge(s_buf_k, s_buf_v, n, n_col, c_indices, c_data, row_start, s_tmp_k,
                           s_tmp_v, s_work)
        c_indptr[i + 1] = p
    return p


@njit(cache=True, nogil=True)
def _rowwise_claimed(counter, front, bounds, cap_starts, pack, starts, chunk_end, a_start, a_end,
                     a_indices, a_data, b_start, b_end, b_indices, b_data, n_col, accumulator,
                     hash_id, table_factor, sort_rows, s_pos, s_keys, s_buf_k, s_buf_v,
                     s_tmp_k, s_tmp_v, s_work, c_indptr, c_indices, c_data):
    """One thread's share of a parallel row-wise product (see ``spgemm._parallel``).

    counter     int64[4]             shared claim counters
    front       bool                 this thread claims chunks 0, 1, 2, ... in order
    bounds      int64[n_chunks + 1]  chunk c is rows bounds[c]:bounds[c + 1]
    cap_starts  int64[n_chunks]      where chunk c may be written (its capacity region, or its
                                     exact start in the two-pass strategy)
    pack        bool                 the front thread writes chunk c > 0 right behind chunk c - 1
    starts, chunk_end  int64[n_chunks]  receive where each chunk was written and where it ends
    Other arguments as in ``_rowwise_rows``; the scratch arrays are this thread's own.
    """
    n_chunks = bounds.shape[0] - 1
    prev_end = np.int64(0)
    while True:
        c, p0 = claim_output_chunk(counter, n_chunks, front, pack, cap_starts, chunk_end, starts,
                                   prev_end, s_pos)
        if c < 0:
            return
        end = _rowwise_rows(
            bounds[c], bounds[c + 1], p0, a_start, a_end, a_indices, a_data, b_start, b_end,
            b_indices, b_data, n_col, accumulator, hash_id, table_factor, sort_rows, s_pos,
            s_keys, s_buf_k, s_buf_v, s_tmp_k, s_tmp_v, s_work, c_indptr, c_indices, c_data)
        chunk_end[c] = end
        prev_end = np.int64(end)
        atomic_add(counter, 1, 1)
