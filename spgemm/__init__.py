"""spgemm: sparse-sparse matrix multiplication (C = A·B) natively, in numba.

Public API::

    multiply(A, B, method="rowwise", accumulator=None, sort_indices=False, threads=None)
    symbolic(A, B) -> Symbolic        # per-row flops, exact per-row nnz, totals, index dtype
    METHODS, ACCUMULATORS             # registry of methods (name -> Method) and accumulators
    choose_index_dtype(bound)         # int32 / int64 / OverflowError
    split_by_work(row_cost, n_parts)  # the cumulative-cost row split of the parallel drivers
    compare(C, A, B)                  # pattern-aware check against scipy (+ naive_multiply,
                                      #   structural_product, same_pattern, values_close)
    compare_csr(indptr, indices, data, A, B)   # the same, by blocks of rows (memory ~ a block)
    RowCheck(A, B).rows(r0, r1, ...) / .ok(n)  # the same, runs of rows given in any order
    spgemm.bench.run(specs) / summarize(records)   # the native benchmark (records, no printing)

The accumulators (``spgemm.accumulators``) and the kernels are reusable ``@njit`` functions over
arrays; the simulator's kernel programs call the same code. Explicit zeros: C keeps structural
entries whose sums cancel to zero (see ``multiply``).
"""
from __future__ import annotations

from spgemm import _cache

_cache.refresh()  # before any jitted function loads from the cache

from spgemm._operands import VALUE_DTYPES  # noqa: E402
from spgemm.api import multiply, symbolic  # noqa: E402
from spgemm.check import (RowCheck, compare, compare_csr, naive_multiply,  # noqa: E402
                          same_pattern, structural_product, values_close)
from spgemm.registry import ACCUMULATORS, METHODS, Method, combinations, get_method  # noqa: E402
from spgemm.symbolic import Symbolic, choose_index_dtype, split_by_work  # noqa: E402

__all__ = [
    "ACCUMULATORS", "METHODS", "Method", "RowCheck", "Symbolic", "VALUE_DTYPES", "choose_index_dtype",
    "combinations", "compare", "compare_csr", "get_method", "multiply", "naive_multiply", "same_pattern",
    "split_by_work", "structural_product", "symbolic", "values_close",
]
