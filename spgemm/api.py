"""Public entry points: ``multiply`` and ``symbolic``."""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from spgemm._drive import MIN_PARALLEL_FLOPS, check_threads, exact_row_nnz
from spgemm._operands import (as_operand, result_dtype, row_ranges, unsigned, with_index_dtype,
                              with_value_dtype)
from spgemm._runners import RunOptions
from spgemm.registry import get_method
from spgemm.symbolic import Symbolic, _plan, choose_index_dtype


def _operands(A: Any, B: Any):
    a = as_operand(A, "A")
    b = as_operand(B, "B")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"shape mismatch: A is {a.shape[0]}x{a.shape[1]} but B is "
                         f"{b.shape[0]}x{b.shape[1]} (A's columns must equal B's rows)")
    if a.indptr.dtype != b.indptr.dtype:  # one index dtype for both: fewer compiled variants
        a, b = with_index_dtype(a, np.dtype(np.int64)), with_index_dtype(b, np.dtype(np.int64))
    return a, b


def _row_flops(a, b) -> np.ndarray:
    """Multiply-adds of each row of C = A·B from the operands' arrays (O(nnz(A)), numpy)."""
    if a.indices.size and (int(a.indices.max()) >= b.shape[0] or int(a.indices.min()) < 0):
        raise ValueError("A or B has column indices outside its shape")
    per = np.diff(b.indptr).astype(np.int64)[a.indices]
    out = np.zeros(a.shape[0], dtype=np.int64)
    starts = np.asarray(a.indptr[:-1], dtype=np.int64)
    nonempty = np.flatnonzero(np.diff(a.indptr))
    if nonempty.size:
        out[nonempty] = np.add.reduceat(per, starts[nonempty])
    return out


def product_bytes(a, b, method: str, threads: int, nnz_c: int, flops: int) -> int:
    """Estimated peak host memory of `multiply` (bytes) for C with `nnz_c` entries: C's arrays
    (8-byte indices assumed), the planning arrays, per-thread accumulators over C's columns,
    and per method the outer product's five partial-product arrays (``flops`` entries) and A
    by columns, or the inner product's B by columns."""
    val = a.data.itemsize
    n_row, n_col = a.shape[0], b.shape[1]
    out = nnz_c * (8 + val) + 5 * 8 * (n_row + 1) + threads * n_col * (8 + 8 + val)
    if method == "outer":
        out += flops * (3 * 8 + 2 * val) + 8 * threads * n_row + a.indices.size * (8 + val)
    elif method == "inner":
        out += b.indices.size * (8 + val)
    return int(out)


def _memory_guard(a, b, method: str, threads: int, limit: int | None) -> bool:
    """Refuse (MemoryLimitError) a product that would not fit in host memory. The cheap bound
    on nnz(C) (sum of min(row flops, n_col)) decides when it fits; otherwise the exact symbolic
    pass counts nnz(C). Returns True when the exact count was needed (then allocate exactly)."""
    from matrices import hostmem
    rf = _row_flops(a, b)
    flops = int(rf.sum())
    cap = int(np.minimum(rf, b.shape[1]).sum())
    avail = hostmem.available_bytes() if limit is None else limit
    if avail is None or product_bytes(a, b, method, threads, cap, flops) <= hostmem.HEADROOM * avail:
        return False
    nnz = symbolic(sp.csr_array((a.data, a.indices, a.indptr), shape=a.shape),
                   sp.csr_array((b.data, b.indices, b.indptr), shape=b.shape), threads).nnz
    hostmem.require(product_bytes(a, b, method, threads, nnz, flops),
                    f"C = A·B ({flops} multiply-adds, nnz(C) {nnz}, {method})", limit=avail,
                    hint="use a smaller product or a machine with more memory")
    return True


def multiply(A: Any, B: Any, method: str = "rowwise", accumulator: str | None = None,
             sort_indices: bool = False, threads: int | None = None, *,
             index_dtype: Any = None, two_pass: bool | None = None,
             min_parallel_flops: int = MIN_PARALLEL_FLOPS,
             table_factor: int = 2, chunks_per_thread: int = 1,
             memory_limit: int | None = None) -> sp.csr_array:
    """C = A·B natively (numba), returned as a ``scipy.sparse.csr_array``.

    Parameters
    ----------
    A, B : scipy.sparse arrays or matrices (any format), A m x k and B k x n. Duplicates are
        summed, indices sorted (on copies); an input that is already canonical CSR is used as
        is. Values int32, int64, float32, float64, complex64 or complex128.
    method : a name in ``spgemm.METHODS``: "rowwise" (Gustavson), "inner", "outer".
    accumulator : one of the method's accumulators (``METHODS[method].accumulators``); None
        takes its default ("dense" for rowwise and outer, "merge" for inner).
    sort_indices : sort each row of C by column. Otherwise rows come out in the order the
        accumulator produces them (first touch for dense, table order for hash), like scipy's.
    threads : threads to use (None: numba's thread count, all cores by default). Rows are split
        into ``threads * chunks_per_thread`` chunks of equal work (cumulative cost + searchsorted)
        that the threads claim from a shared atomic counter; the calling thread works too, so a
        thread the OS does not schedule in time costs nothing (``spgemm._parallel``). Products
        of fewer than ``min_parallel_flops`` multiply-adds run on the calling thread alone.
    index_dtype : force C's index dtype (int32 or int64); by default int32 whenever nnz(C)'s
        bound and the dimensions fit (``spgemm.choose_index_dtype``).
    two_pass : True: symbolic pass first and exact allocation; False: one pass into an upper
        bound (``sum(min(row_flops, n))``) then compaction; None: one pass unless the bound would
        take more than half the machine's memory.
    table_factor : hash tables get at least this many slots per possible distinct column.
    chunks_per_thread : finer chunks balance better when threads run unevenly, but every chunk
        after the first is moved once more by the fused strategy's compaction.
    memory_limit : host memory the product may use (bytes; default: what is available now,
        ``matrices.hostmem``). A product estimated above it is refused before allocating
        (``product_bytes``; the exact symbolic pass runs only when the cheap bound on nnz(C)
        does not fit, and then C is allocated exactly).

    Returns
    -------
    C : csr_array of dtype ``np.result_type(A.dtype, B.dtype)``.

    Explicit zeros: C keeps every *structural* entry, i.e. every (i, j) reached by some
    A[i, k] * B[k, j] with both stored, even when the sum cancels to exactly zero (and explicit
    zeros stored in A or B count as entries). C's pattern is therefore exactly the symbolic
    pass's (``spgemm.symbolic``). scipy's ``A @ B`` drops exact-zero sums instead, so compare
    patterns structurally and values with a tolerance (``spgemm.compare``).
    C's index and data arrays may be views of a larger allocation whose untouched tail the OS
    never commits.

    Raises
    ------
    TypeError for non-sparse input or unsupported dtypes; ValueError for non-2-D input, shape
    mismatch, an unknown method or accumulator, or threads < 1; OverflowError when C cannot be
    indexed even with int64.
    """
    meth = get_method(method)
    acc = meth.check_accumulator(accumulator)
    n_threads = check_threads(threads)
    if table_factor < 1:
        raise ValueError(f"table_factor must be >= 1, got {table_factor}")
    a, b = _operands(A, B)
    dt = result_dtype(a, b)
    a, b = with_value_dtype(a, dt), with_value_dtype(b, dt)
    forced = None if index_dtype is None else np.dtype(index_dtype)
    if chunks_per_thread < 1:
        raise ValueError(f"chunks_per_thread must be >= 1, got {chunks_per_thread}")
    if _memory_guard(a, b, meth.name, n_threads, memory_limit) and two_pass is None:
        two_pass = True
    opts = RunOptions(bool(sort_indices), n_threads, forced, two_pass, int(min_parallel_flops),
                      int(table_factor), int(chunks_per_thread))
    return meth.runner(a, b, acc, opts)


def symbolic(A: Any, B: Any, threads: int | None = None) -> Symbolic:
    """The symbolic pass of C = A·B: per-row flops, exact per-row nnz, totals and index dtype.

    Operands are canonicalized as in ``multiply`` (duplicates summed first, so flops are those
    of the canonical matrices; explicit zeros count as entries). Exact structural nnz: entries
    whose values would cancel to zero are counted, as ``multiply`` keeps them.
    """
    n_threads = check_threads(threads)
    a, b = _operands(A, B)
    n_row, n_col = a.shape[0], b.shape[1]
    a_start, a_end = row_ranges(a.indptr)
    b_start, b_end = row_ranges(b.indptr)
    a_indices, b_indices = unsigned(a.indices), unsigned(b.indices)
    cum = np.empty(n_row + 1, np.int64)
    capcum = np.empty(n_row + 1, np.int64)
    bounds, flops, _, ok = _plan(a_start, a_end, a_indices, b_start, b_end, b_indices,
                                 a.shape[1], n_col, n_threads, cum, capcum)
    if not ok:
        raise ValueError("A or B has column indices outside its shape")
    parallel = n_threads > 1 and flops >= MIN_PARALLEL_FLOPS
    row_flops, row_nnz = exact_row_nnz(a_start, a_end, a_indices, b_start, b_end, b_indices,
                                       n_col, bounds, n_threads if parallel else 1)
    nnz = int(row_nnz.sum())
    idx = choose_index_dtype(max(nnz, n_row, n_col, a.shape[1]))
    return Symbolic(row_flops, row_nnz, int(flops), nnz, idx, (n_row, n_col))
