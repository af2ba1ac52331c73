"""Outer-product SpGEMM: C = sum over k of A[:, k] ⊗ B[k, :], partial products written out.

Three phases, as in the simulated program: **multiply**: for each k, every product
A[i, k] * B[k, j] is written out as a triple (i, j, v) (A read by columns, i.e. CSC); **bucket**:
a counting sort groups the triples by output row i; **merge**: each row's bucket is merged by an
accumulator (dense, hash or sort, shared with the row-wise kernel). The partial-product arrays
hold flops triples: this memory footprint is the point of the baseline.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from spgemm._parallel import atomic_add, claim_chunk, claim_output_chunk
from spgemm.accumulators import (hash_accumulate, hash_clear, hash_table_size, sort_append,
                                 sort_merge, sort_pairs, spa_insert, spa_sort_row)
from spgemm.rowwise import ACC_DENSE, ACC_HASH

_ONE = np.uint64(1)


@njit(cache=True)
def _outer_plan(at_start, at_end, b_start, b_end, n_chunks):
    """Partial products per k of the multiply phase and a split of k into equal-work chunks.

    at_start/at_end uint[n_inner] (A's column ranges), b_start/b_end uint[n_inner] (B's rows).
    Returns (k_offsets int64[n_inner + 1] (where column k's triples start), k_bounds
    int64[n_chunks + 1]). O(n_inner).
    """
    n_inner = at_start.shape[0]
    k_offsets = np.empty(n_inner + 1, np.int64)
    k_offsets[0] = 0
    total = np.int64(0)
    for k in range(n_inner):
        total += (np.int64(at_end[k]) - np.int64(at_start[k])) * (
            np.int64(b_end[k]) - np.int64(b_start[k]))
        k_offsets[k + 1] = total
    k_bounds = np.empty(n_chunks + 1, np.int64)
    k_bounds[0] = 0
    for c in range(1, n_chunks):
        k_bounds[c] = np.searchsorted(k_offsets, (total * c) // n_chunks)
    k_bounds[n_chunks] = n_inner
    return k_offsets, k_bounds


@njit(cache=True)
def _outer_multiply(k0, k1, k_offsets, at_start, at_end, at_indices, at_data, b_start, b_end,
                    b_indices, b_data, t_row, t_col, t_val, counts):
    """Multiply phase for k in k0:k1: write the triples of A[:, k] ⊗ B[k, :] and count per row.

    Input:  at_start, at_end, at_indices, at_data  A in CSC (uint column ranges, row indices)
            b_start, b_end, b_indices, b_data      B in CSR
            k_offsets int64[n_inner + 1]           first triple of each k
    Output: t_row, t_col uint[flops], t_val value[flops]  triples k_offsets[k0]:k_offsets[k1]
            counts int64[n_row]                    triples per output row (this chunk's; zeroed)
    O(flops(k0:k1)).
    """
    q = np.uint64(k_offsets[k0])
    for k in range(k0, k1):
        b_lo = b_start[k]
        b_hi = b_end[k]
        for ii in range(at_start[k], at_end[k]):
            i = at_indices[ii]
            av = at_data[ii]
            counts[i] += np.int64(b_hi) - np.int64(b_lo)
            for kk in range(b_lo, b_hi):
                t_row[q] = i
                t_col[q] = b_indices[kk]
                t_val[q] = av * b_data[kk]
                q += _ONE


@njit(cache=True)
def _outer_scatter(q0, q1, t_row, t_col, t_val, next_pos, s_col, s_val):
    """Bucket phase (counting sort): move triples q0:q1 to their row's bucket.

    next_pos int64[n_row]: next free slot of each row's bucket for this chunk (advanced).
    Output: s_col uint[flops], s_val value[flops] grouped by row. Stable. O(q1 - q0).
    """
    for q in range(q0, q1):
        i = t_row[q]
        d = next_pos[i]
        s_col[d] = t_col[q]
        s_val[d] = t_val[q]
        next_pos[i] = d + 1


@njit(cache=True, nogil=True)
def _outer_multiply_claimed(counter, front, k_bounds, k_offsets, at_start, at_end, at_indices,
                            at_data, b_start, b_end, b_indices, b_data, t_row, t_col, t_val,
                            counts):
    """Multiply phase, one thread's share: claims chunks c of k (rows k_bounds[c]:k_bounds[c+1]
    of B), counting into counts[c * n_row:(c + 1) * n_row] (int64, zeroed)."""
    n_chunks = k_bounds.shape[0] - 1
    n_row = counts.shape[0] // n_chunks
    while True:
        c = claim_chunk(counter, n_chunks, front)
        if c < 0:
            return
        _outer_multiply(k_bounds[c], k_bounds[c + 1], k_offsets, at_start, at_end, at_indices,
                        at_data, b_start, b_end, b_indices, b_data, t_row, t_col, t_val,
                        counts[c * n_row:(c + 1) * n_row])
        atomic_add(counter, 1, 1)


@njit(cache=True)
def _outer_bucket_offsets(counts, n_chunks, bucket_ptr):
    """Counting sort offsets: row i's bucket starts at bucket_ptr[i]; within it, chunk c's
    triples follow those of chunks < c. counts (int64[n_chunks * n_row]) becomes each chunk's
    next free slot per row."""
    n_row = bucket_ptr.shape[0] - 1
    s = np.int64(0)
    for i in range(n_row):
        bucket_ptr[i] = s
        for c in range(n_chunks):
            x = counts[c * n_row + i]
            counts[c * n_row + i] = s
            s += x
    bucket_ptr[n_row] = s


@njit(cache=True, nogil=True)
def _outer_scatter_claimed(counter, front, k_bounds, k_offsets, t_row, t_col, t_val, counts, s_col,
                           s_val):
    """Bucket phase, one thread's share: claims the triples of chunk c of k and moves them to
    their rows' buckets (next slots in counts[c * n_row:(c + 1) * n_row])."""
    n_chunks = k_bounds.shape[0] - 1
    n_row = counts.shape[0] // n_chunks
    while True:
        c = claim_chunk(counter, n_chunks, front)
        if c < 0:
            return
        _outer_scatter(k_offsets[k_bounds[c]], k_offsets[k_bounds[c + 1]], t_row, t_col, t_val,
                       counts[c * n_row:(c + 1) * n_row], s_col, s_val)
        atomic_add(counter, 1, 1)


@njit(cache=True)
def _outer_merge_rows(r0, r1, p0, bucket_ptr, s_col, s_val, n_col, accumulator, hash_id,
                      table_factor, sort_rows, s_pos, s_keys, s_buf_k, s_buf_v, s_tmp_k, s_tmp_v,
                      s_work, c_indptr, c_indices, c_data):
    """Merge phase for rows r0:r1: each row's bucket through the accumulator, output from p0.

    bucket_ptr int64[n_row + 1], s_col uint[flops], s_val value[flops]: row i's partial products.
    Scalars, scratch and outputs as in ``spgemm.rowwise._rowwise_rows``. Returns the end
    position. O(flops(r0:r1)) for dense/hash, O(flops * radix passes) for sort.
    """
    p = np.uint64(p0)
    for i in range(r0, r1):
        row_start = p
        lo = bucket_ptr[i]
        hi = bucket_ptr[i + 1]
        if accumulator == ACC_DENSE:
            for t in range(lo, hi):
                p = spa_insert(s_pos, c_indices, c_data, row_start, p, s_col[t], s_val[t])
            if sort_rows:
                spa_sort_row(s_pos, c_indices, c_data, row_start, p, n_col, s_tmp_k, s_tmp_v,
                             s_work)
        elif accumulator == ACC_HASH:
            size = hash_table_size(min(hi - lo, n_col), table_factor)
            mask = np.uint64(size - 1)
            for t in range(lo, hi):
                p = hash_accumulate(s_keys, s_pos, mask, s_col[t], s_val[t], hash_id,
                                    c_indices, c_data, p)
            hash_clear(s_keys, size)
            if sort_rows:
                sort_pairs(c_indices, c_data, row_start, p, n_col, s_tmp_k, s_tmp_v, s_work)
        else:
            n = 0
            for t in range(lo, hi):
                n = sort_append(s_buf_k, s_buf_v, n, s_col[t], s_val[t])
            p = sort_merge(s_buf_k, s_buf_v, n, n_col, c_indices, c_data, row_start, s_tmp_k,
                           s_tmp_v, s_work)
        c_indptr[i + 1] = p
    return p


@njit(cache=True, nogil=True)
def _outer_merge_claimed(counter, front, bounds, cap_starts, pack, starts, chunk_end,
                         bucket_ptr, s_col, s_val, n_col, accumulator, hash_id, table_factor,
                         sort_rows, s_pos, s_keys, s_buf_k, s_buf_v, s_tmp_k, s_tmp_v, s_work,
                         c_indptr, c_indices, c_data):
    """One thread's share of the parallel merge phase: claims chunks of rows exactly as
    ``spgemm.rowwise._rowwise_claimed`` does; the scratch arrays are this thread's own."""
    n_chunks = bounds.shape[0] - 1
    prev_end = np.int64(0)
    while True:
        c, p0 = claim_output_chunk(counter, n_chunks, front, pack, cap_starts, chunk_end, starts,
                                   prev_end, s_pos)
        if c < 0:
            return
        end = _outer_merge_rows(
            bounds[c], bounds[c + 1], p0, bucket_ptr, s_col, s_val, n_col, accumulator,
            hash_id, table_factor, sort_rows, s_pos, s_keys, s_buf_k, s_buf_v, s_tmp_k,
            s_tmp_v, s_work, c_indptr, c_indices, c_data)
        chunk_end[c] = end
        prev_end = np.int64(end)
        atomic_add(counter, 1, 1)
