"""Per-method drivers between the public wrapper and the jitted kernels.

A runner receives validated canonical operands (values already in C's dtype, one index dtype),
plans the work, picks the output index dtype, allocates scratch and output with numpy, runs the
serial or parallel kernel and returns the wrapped csr_array. Signature::

    runner(a: Operand, b: Operand, acc: str, opts: RunOptions) -> scipy.sparse.csr_array
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from spgemm._drive import assemble, exact_row_nnz, memory_budget_bytes, output_index_dtype
from spgemm._operands import Operand, row_ranges, unsigned, with_index_dtype
from spgemm._parallel import run_claimed, thread_slices
from spgemm.accumulators import EMPTY, HASH_FIBONACCI, HASH_MOD, WORK_SIZE, hash_table_size
from spgemm.inner import _inner_claimed, _inner_rows
from spgemm.outer import (_outer_bucket_offsets, _outer_merge_claimed, _outer_merge_rows,
                          _outer_multiply, _outer_multiply_claimed, _outer_plan, _outer_scatter,
                          _outer_scatter_claimed)
from spgemm.rowwise import ACC_DENSE, ACC_HASH, ACC_SORT, _rowwise_claimed, _rowwise_rows
from spgemm.symbolic import _plan

# accumulator name -> (kernel code, hash function)
ACCUMULATOR_CODES: dict[str, tuple[int, int]] = {
    "dense": (ACC_DENSE, 0),
    "hash": (ACC_HASH, HASH_FIBONACCI),
    "hash-mod": (ACC_HASH, HASH_MOD),
    "sort": (ACC_SORT, 0),
}
_FUSED_CHECK_ENTRIES = 1 << 24  # below this bound, never bother asking the OS for memory size


class RunOptions(NamedTuple):
    sort_indices: bool
    threads: int
    index_dtype: np.dtype | None
    two_pass: bool | None
    min_parallel_flops: int
    table_factor: int
    chunks_per_thread: int = 1


class _Views(NamedTuple):
    a_start: np.ndarray
    a_end: np.ndarray
    a_indices: np.ndarray
    b_start: np.ndarray
    b_end: np.ndarray
    b_indices: np.ndarray


def _views(a: Operand, b: Operand) -> _Views:
    a_start, a_end = row_ranges(a.indptr)
    b_start, b_end = row_ranges(b.indptr)
    return _Views(a_start, a_end, unsigned(a.indices), b_start, b_end, unsigned(b.indices))


class _Plan(NamedTuple):
    a: Operand
    b: Operand
    v: _Views
    bounds: np.ndarray
    capoff: np.ndarray
    flops: int
    max_row_flops: int
    index_dtype: np.dtype
    parallel: bool
    two_pass: bool
    threads: int


def _plan_rows(a: Operand, b: Operand, opts: RunOptions) -> _Plan:
    """Common planning of the row-oriented methods: work, split, index dtype, strategy."""
    v = _views(a, b)
    n_row, n_inner, n_col = a.shape[0], a.shape[1], b.shape[1]
    cum = np.empty(n_row + 1, np.int64)
    capcum = np.empty(n_row + 1, np.int64)
    bounds, flops, max_row, ok = _plan(v.a_start, v.a_end, v.a_indices, v.b_start, v.b_end,
                                       v.b_indices, n_inner, n_col,
                                       opts.threads * opts.chunks_per_thread, cum, capcum)
    if not ok:  # the kernels do not bounds-check: refuse corrupt operands
        raise ValueError("A or B has column indices outside its shape")
    capoff = capcum[bounds]
    cap = int(capcum[-1])
    bound = max(cap, n_row, n_col, n_inner, a.nnz, b.nnz)
    idx = output_index_dtype(bound, opts.index_dtype)
    if idx != a.indptr.dtype:
        a, b = with_index_dtype(a, idx), with_index_dtype(b, idx)
        v = _views(a, b)
    two_pass = opts.two_pass
    if two_pass is None:
        two_pass = (cap > _FUSED_CHECK_ENTRIES and
                    cap * (idx.itemsize + a.data.itemsize) > memory_budget_bytes())
    parallel = opts.threads > 1 and flops >= opts.min_parallel_flops
    return _Plan(a, b, v, bounds, capoff, int(flops), int(max_row), idx, parallel, two_pass,
                 opts.threads)


def _row_nnz(pl: _Plan, n_col: int):
    if not pl.two_pass:
        return None
    v = pl.v
    n_threads = pl.threads if pl.parallel else 1
    return lambda: exact_row_nnz(v.a_start, v.a_end, v.a_indices, v.b_start, v.b_end,
                                 v.b_indices, n_col, pl.bounds, n_threads)[1]


def _accumulator_scratch(code: int, sort_rows: bool, n_col: int, max_work: int,
                         table_factor: int, n_threads: int, dtype: np.dtype) -> tuple:
    """Scratch of an accumulator kernel, one equal slice per thread, in the order of
    ``spgemm.rowwise.SCRATCH``: (s_pos, s_keys, s_buf_k, s_buf_v, s_tmp_k, s_tmp_v, s_work)."""
    w = min(max_work, n_col)
    n_pos = n_keys = n_buf = n_tmp = 0
    if code == ACC_DENSE:
        n_pos = n_col
        n_tmp = w if sort_rows else 0
    elif code == ACC_HASH:
        n_pos = n_keys = int(hash_table_size(w, table_factor))
        n_tmp = w if sort_rows else 0
    else:
        n_buf = n_tmp = max_work
    t = n_threads
    return (np.zeros(n_pos * t, np.uint64) if n_pos else _NO_U64,
            np.full(n_keys * t, EMPTY, np.int64) if n_keys else _NO_I64,
            np.empty(n_buf * t, np.uint64) if n_buf else _NO_U64,
            np.empty(n_buf * t, dtype),
            np.empty(n_tmp * t, np.uint64) if n_tmp else _NO_U64,
            np.empty(n_tmp * t, dtype),
            np.empty(WORK_SIZE * t, np.int64))


# shared zero-length stand-ins for scratch an accumulator does not use (never written)
_NO_U64 = np.empty(0, np.uint64)
_NO_I64 = np.empty(0, np.int64)


# --------------------------------------------------------------------------------------------
def run_rowwise(a: Operand, b: Operand, acc: str, opts: RunOptions) -> sp.csr_array:
    pl = _plan_rows(a, b, opts)
    a, b, v = pl.a, pl.b, pl.v
    n_col = b.shape[1]
    code, hash_id = ACCUMULATOR_CODES[acc]
    sort_rows = opts.sort_indices or code == ACC_SORT
    tf = opts.table_factor
    mid = (v.a_start, v.a_end, v.a_indices, a.data, v.b_start, v.b_end, v.b_indices, b.data,
           n_col, code, hash_id, tf, sort_rows)

    def serial():
        s = _accumulator_scratch(code, sort_rows, n_col, pl.max_row_flops, tf, 1, a.data.dtype)
        return lambda r0, r1, p0, ip, ix, dd: _rowwise_rows(r0, r1, p0, *mid, *s, ip, ix, dd)

    def parallel():
        s = _accumulator_scratch(code, sort_rows, n_col, pl.max_row_flops, tf, pl.threads,
                                 a.data.dtype)
        per_thread = thread_slices(s, pl.threads)
        return lambda bounds, cap_starts, pack, starts, ends, ip, ix, dd: run_claimed(
            _rowwise_claimed, len(bounds) - 1,
            [(bounds, cap_starts, pack, starts, ends, *mid, *st, ip, ix, dd) for st in per_thread])

    return assemble((a.shape[0], n_col), pl.bounds, pl.capoff, index_dtype=pl.index_dtype,
                    value_dtype=a.data.dtype, parallel=pl.parallel, serial_run=serial,
                    parallel_run=parallel, row_nnz=_row_nnz(pl, n_col), sorted_rows=sort_rows)


def run_inner(a: Operand, b: Operand, acc: str, opts: RunOptions) -> sp.csr_array:
    pl = _plan_rows(a, b, opts)
    a, b, v = pl.a, pl.b, pl.v
    n_col = b.shape[1]
    bt = sp.csr_array((b.data, b.indices, b.indptr), shape=b.shape, copy=False).tocsc()
    bt_start, bt_end = row_ranges(bt.indptr.astype(pl.index_dtype, copy=False))
    bt_indices = unsigned(bt.indices.astype(pl.index_dtype, copy=False))
    sort_rows = opts.sort_indices
    mid = (v.a_start, v.a_end, v.a_indices, a.data, v.b_start, v.b_end, v.b_indices, bt_start,
           bt_end, bt_indices, bt.data, sort_rows)

    def scratch(n_threads):
        return (np.zeros(n_col * n_threads, np.uint64), np.empty(WORK_SIZE * n_threads, np.int64))

    def serial():
        s = scratch(1)
        return lambda r0, r1, p0, ip, ix, dd: _inner_rows(r0, r1, p0, *mid, *s, ip, ix, dd)

    def parallel():
        per_thread = thread_slices(scratch(pl.threads), pl.threads)
        return lambda bounds, cap_starts, pack, starts, ends, ip, ix, dd: run_claimed(
            _inner_claimed, len(bounds) - 1,
            [(bounds, cap_starts, pack, starts, ends, *mid, *st, ip, ix, dd) for st in per_thread])

    return assemble((a.shape[0], n_col), pl.bounds, pl.capoff, index_dtype=pl.index_dtype,
                    value_dtype=a.data.dtype, parallel=pl.parallel, serial_run=serial,
                    parallel_run=parallel, row_nnz=_row_nnz(pl, n_col), sorted_rows=sort_rows)


def run_outer(a: Operand, b: Operand, acc: str, opts: RunOptions) -> sp.csr_array:
    pl = _plan_rows(a, b, opts)
    a, b = pl.a, pl.b
    n_row, n_col = a.shape[0], b.shape[1]
    idx = pl.index_dtype
    code, hash_id = ACCUMULATOR_CODES[acc]
    sort_rows = opts.sort_indices or code == ACC_SORT
    tf = opts.table_factor
    vd = a.data.dtype
    n_threads = pl.threads if pl.parallel else 1

    # multiply + bucket phases: A by columns, chunks of k of equal work
    at = sp.csr_array((a.data, a.indices, a.indptr), shape=a.shape, copy=False).tocsc()
    at_start, at_end = row_ranges(at.indptr.astype(idx, copy=False))
    at_indices = unsigned(at.indices.astype(idx, copy=False))
    b_start, b_end = row_ranges(b.indptr)
    b_indices = unsigned(b.indices)
    k_offsets, k_bounds = _outer_plan(at_start, at_end, b_start, b_end, n_threads)
    flops = int(k_offsets[-1])
    uidx = unsigned(np.empty(0, idx)).dtype
    t_row, t_col = np.empty(flops, uidx), np.empty(flops, uidx)
    t_val = np.empty(flops, vd)
    s_col, s_val = np.empty(flops, uidx), np.empty(flops, vd)
    counts = np.zeros(n_threads * n_row, np.int64)
    bucket_ptr = np.empty(n_row + 1, np.int64)
    mult = (k_bounds, k_offsets, at_start, at_end, at_indices, at.data, b_start, b_end,
            b_indices, b.data, t_row, t_col, t_val, counts)
    if n_threads > 1:
        run_claimed(_outer_multiply_claimed, n_threads, [mult] * n_threads)
    else:
        _outer_multiply(0, len(k_offsets) - 1, *mult[1:])
    _outer_bucket_offsets(counts, n_threads, bucket_ptr)
    if n_threads > 1:
        run_claimed(_outer_scatter_claimed, n_threads,
                    [(k_bounds, k_offsets, t_row, t_col, t_val, counts, s_col, s_val)] * n_threads)
    else:
        _outer_scatter(0, flops, t_row, t_col, t_val, counts, s_col, s_val)
    del t_row, t_col, t_val, mult

    # merge phase: rows split by bucket size
    work = np.diff(bucket_ptr)
    cost = np.empty(n_row + 1, np.int64)
    cost[0] = 0
    np.cumsum(work + 1, out=cost[1:])
    cap_cum = np.zeros(n_row + 1, np.int64)
    np.cumsum(np.minimum(work, n_col), out=cap_cum[1:])
    targets = (cost[-1] * np.arange(1, n_threads)) // n_threads
    bounds = np.concatenate(([0], np.searchsorted(cost, targets), [n_row])).astype(np.int64)
    capoff = cap_cum[bounds]
    max_work = int(work.max()) if n_row else 0
    mid = (bucket_ptr, s_col, s_val, n_col, code, hash_id, tf, sort_rows)

    def serial():
        s = _accumulator_scratch(code, sort_rows, n_col, max_work, tf, 1, vd)
        return lambda r0, r1, p0, ip, ix, dd: _outer_merge_rows(r0, r1, p0, *mid, *s, ip, ix,
                                                                dd)

    def parallel():
        s = _accumulator_scratch(code, sort_rows, n_col, max_work, tf, n_threads, vd)
        per_thread = thread_slices(s, n_threads)
        return lambda bnd, cap_starts, pack, starts, ends, ip, ix, dd: run_claimed(
            _outer_merge_claimed, len(bnd) - 1,
            [(bnd, cap_starts, pack, starts, ends, *mid, *st, ip, ix, dd) for st in per_thread])

    v = pl.v

    def exact_counts():
        return exact_row_nnz(v.a_start, v.a_end, v.a_indices, v.b_start, v.b_end, v.b_indices,
                             n_col, bounds, n_threads)[1]

    return assemble((n_row, n_col), bounds, capoff, index_dtype=idx, value_dtype=vd,
                    parallel=pl.parallel, serial_run=serial, parallel_run=parallel,
                    row_nnz=exact_counts if pl.two_pass else None, sorted_rows=sort_rows)
