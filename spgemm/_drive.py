"""Output assembly shared by the kernels: one pass into an upper bound, or two exact passes.

Every kernel computes C row by row into ``c_indptr, c_indices, c_data`` through a *chunk kernel*
``run(r0, r1, p0, c_indptr, c_indices, c_data) -> p`` that writes rows r0:r1 consecutively from
output position p0 and sets ``c_indptr[i + 1]`` to the end of row i. Two strategies:

* **fused** (default): allocate each chunk ``sum(min(row_flops, n_col))`` slots (an upper bound
  on its nnz), compute every chunk in place, then move chunks 1.. down behind chunk 0. No
  symbolic pass (it costs 45-75 % of the numeric pass); the untouched tail of the bound is never
  written, so the OS never commits it. C's arrays are views of the first nnz slots. On one
  thread there is a single chunk and nothing to move.
* **two-pass**: the symbolic pass counts each row exactly, outputs are allocated exactly, chunks
  write at their final offsets. Chosen when the bound would not fit in memory.

Outputs are allocated with numpy outside the jitted code (numba's allocator page-faults afresh on
every large allocation; see PERF-NOTES).
"""
from __future__ import annotations

import os
from typing import Callable

import numba
import numpy as np
from numba import njit

from spgemm._operands import unsigned, wrap_csr
from spgemm._parallel import run_claimed
from spgemm.symbolic import _symbolic_claimed, _symbolic_rows, choose_index_dtype

#: Below this many multiply-adds a product runs on one thread (no parallel launch): on small
#: products the launch and the extra copies cost more than the second core saves.
MIN_PARALLEL_FLOPS = 300_000


def check_threads(threads: int | None) -> int:
    """The thread count to use: ``threads`` validated, or all of numba's threads for None."""
    if threads is None:
        return numba.get_num_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be a positive integer or None, got {threads!r}")
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads}")
    limit = numba.config.NUMBA_NUM_THREADS
    if threads > limit:
        raise ValueError(f"threads={threads} exceeds the limit of {limit} (numba's thread "
                         f"count: all cores unless NUMBA_NUM_THREADS says otherwise)")
    return threads


def memory_budget_bytes() -> int:
    """Half of the machine's physical memory: the largest bound the fused strategy allocates."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 33


@njit(cache=True)
def _compact(bounds, starts, chunk_end, c_indptr, c_indices, c_data):
    """Move chunks 1.. of a fused output down behind chunk 0 and rebase their row pointers.

    bounds     int64[n_chunks + 1]  row ranges of the chunks
    starts     int64[n_chunks]      where each chunk was written (increasing, starts[0] = 0;
                                    chunks packed behind their predecessor do not move)
    chunk_end  int64[n_chunks]      where each chunk ended
    c_indptr   int[n_row + 1]       absolute row ends on entry, final row pointer on exit
    Returns nnz(C). Moves go to lower addresses in chunk order, so overlaps are safe.
    O(nnz + n_row).
    """
    dst = chunk_end[0]
    for c in range(1, bounds.shape[0] - 1):
        src = starts[c]
        n = chunk_end[c] - src
        shift = src - dst
        if shift != 0:
            for t in range(n):
                c_indices[dst + t] = c_indices[src + t]
                c_data[dst + t] = c_data[src + t]
            for i in range(bounds[c], bounds[c + 1]):
                c_indptr[i + 1] -= shift
        dst += n
    return dst


@njit(cache=True)
def _cumsum_into(row_nnz, c_indptr):
    c_indptr[0] = 0
    s = np.int64(0)
    for i in range(row_nnz.shape[0]):
        s += row_nnz[i]
        c_indptr[i + 1] = s


def exact_row_nnz(a_start, a_end, a_indices, b_start, b_end, b_indices, n_col, bounds,
                  n_threads: int) -> tuple[np.ndarray, np.ndarray]:
    """Symbolic pass over uint operand arrays: ``(row_flops, row_nnz)``, int64[n_row] each.
    Chunks ``bounds`` are shared among ``n_threads`` threads (1: no parallel call)."""
    n_row = a_start.shape[0]
    row_flops = np.empty(n_row, np.int64)
    row_nnz = np.empty(n_row, np.int64)
    if n_threads > 1 and len(bounds) > 2:
        mark = np.zeros(n_col * n_threads, np.uint64)
        run_claimed(_symbolic_claimed, len(bounds) - 1,
                    [(bounds, a_start, a_end, a_indices, b_start, b_end, b_indices, m,
                      row_flops, row_nnz) for m in np.split(mark, n_threads)])
    else:
        mark = np.zeros(n_col, np.uint64)
        _symbolic_rows(0, n_row, a_start, a_end, a_indices, b_start, b_end, b_indices, mark,
                       row_flops, row_nnz)
    return row_flops, row_nnz


SerialRun = Callable[[int, int, int, np.ndarray, np.ndarray, np.ndarray], int]
ParallelRun = Callable[..., None]


def assemble(shape: tuple[int, int], bounds: np.ndarray, capoff: np.ndarray, *,
             index_dtype: np.dtype, value_dtype: np.dtype, parallel: bool,
             serial_run: Callable[[], SerialRun], parallel_run: Callable[[], ParallelRun],
             row_nnz: Callable[[], np.ndarray] | None, sorted_rows: bool):
    """Allocate C, run the method's chunk kernel(s) under the chosen strategy, wrap the result.

    serial_run() / parallel_run() build the method's callables (allocating its scratch for one
    thread or for all); ``parallel_run()(bounds, cap_starts, pack, starts, chunk_end, c_indptr,
    c_indices, c_data)`` runs every chunk (see ``spgemm.rowwise._rowwise_claimed``).
    ``row_nnz`` (a callable returning exact per-row counts) selects the two-pass strategy; None
    selects the fused one with capacities ``capoff``.
    """
    n_row = shape[0]
    c_indptr = np.empty(n_row + 1, index_dtype)
    c_indptr[0] = 0
    if row_nnz is not None:
        counts = row_nnz()
        _cumsum_into(counts, c_indptr)
        cap = int(c_indptr[-1])
    else:
        cap = int(capoff[-1])
    c_indices = np.empty(cap, index_dtype)
    c_data = np.empty(cap, value_dtype)
    c_indices_u = unsigned(c_indices)
    if not parallel:
        nnz = serial_run()(0, n_row, 0, c_indptr, c_indices_u, c_data)
    else:
        n_chunks = len(bounds) - 1
        chunk_end = np.empty(n_chunks, np.int64)
        starts = np.empty(n_chunks, np.int64)
        if row_nnz is not None:  # exact offsets: nothing to pack or move
            cap_starts = c_indptr[bounds[:-1]].astype(np.int64)
            parallel_run()(bounds, cap_starts, False, starts, chunk_end, c_indptr, c_indices_u,
                           c_data)
            nnz = cap
        else:
            parallel_run()(bounds, capoff[:-1], True, starts, chunk_end, c_indptr, c_indices_u,
                           c_data)
            nnz = _compact(bounds, starts, chunk_end, c_indptr, c_indices, c_data)
    nnz = int(nnz)
    if nnz != cap:
        c_indices, c_data = c_indices[:nnz], c_data[:nnz]
    return wrap_csr(c_indptr, c_indices, c_data, shape, sorted_rows)


def output_index_dtype(bound: int, forced: np.dtype | None) -> np.dtype:
    """Index dtype of C (and of the operands inside the kernels) from the largest index value."""
    chosen = choose_index_dtype(bound)
    if forced is None:
        return chosen
    forced = np.dtype(forced)
    if forced not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise TypeError(f"index_dtype must be int32 or int64, got {forced}")
    if forced.itemsize < chosen.itemsize:
        raise OverflowError(f"index_dtype {forced} cannot index this product (needs {chosen})")
    return forced
