"""Structural statistics of a sparse matrix and of its SpGEMM product."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from matrices.errors import MatrixError

__all__ = ["matrix_info", "product_bytes", "row_flops"]


def _csr(A: Any) -> sp.csr_array:
    if not sp.issparse(A):
        raise MatrixError(f"expected a scipy sparse matrix, got {type(A).__name__}")
    if A.ndim != 2:
        raise MatrixError(f"expected a 2-D sparse matrix, got shape {A.shape}")
    M = sp.csr_array(A)
    if not M.has_canonical_format:
        M = M.copy()
        M.sum_duplicates()
    return M


def row_flops(A: Any, B: Any) -> np.ndarray:
    """Multiply-adds of each row of C = A·B (the symbolic upper bound on its nnz).

    A: (n_row, n_inner) sparse, B: (n_inner, n_col) sparse. Returns int64 array of length
    n_row: flops[i] = sum over stored a_ik of nnz(row k of B). Vectorized, O(nnz(A)).
    """
    A, B = _csr(A), _csr(B)
    if A.shape[1] != B.shape[0]:
        raise MatrixError(f"shapes {A.shape} and {B.shape} do not align for A·B")
    b_len = np.diff(B.indptr).astype(np.int64)
    per_entry = b_len[A.indices]
    out = np.zeros(A.shape[0], dtype=np.int64)
    nonempty = np.flatnonzero(np.diff(A.indptr))
    if nonempty.size:
        out[nonempty] = np.add.reduceat(per_entry, A.indptr[nonempty])
    return out


#: Product entries counted per block by `matrix_info` (bounds its memory: ~16 bytes each).
BLOCK_ENTRIES = 1 << 23


def product_bytes(A: Any) -> int:
    """Estimated peak host memory of `matrix_info`'s product statistics on A (bytes): the
    pattern copies of A and of the right operand (A, or A^T when A is not square: its row
    pointer has one entry per column of A), scipy's per-column work arrays, and one block."""
    A = _csr(A)
    n_row, n_col = A.shape
    right_cols = n_col if n_row == n_col else n_row       # the right operand has n_col rows
    operands = 2 * (A.nnz * 16 + (n_row + n_col + 2) * 8)
    return operands + right_cols * 16 + BLOCK_ENTRIES * 16


def matrix_info(A: Any, product: bool = True,
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Shape, density and row-length statistics of A, and the cost of its SpGEMM product.

    A: any 2-D scipy sparse matrix (duplicates are summed first). product: also compute the
    product statistics: a structural product counted block by block (memory: the operands plus
    about BLOCK_ENTRIES entries, see `product_bytes`; time ~ flops). progress: called with
    (rows done, rows) after each block of the product.

    Fields: rows, cols, nnz, density, dtype; row_nnz_min / _max / _mean / _std; empty_rows,
    empty_cols. With product: product ("A*A" when square, else "A*A^T"); flops (multiply-adds
    = sum over stored a_ik of nnz(row k of the right operand)); nnz_c (structural nnz of C,
    computed on the pattern, so entries that cancel numerically still count); compression_ratio
    = flops / nnz_c (NaN when C is empty).
    """
    A = _csr(A)
    n_row, n_col = A.shape
    row_len = np.diff(A.indptr)
    info: dict[str, Any] = {
        "rows": int(n_row),
        "cols": int(n_col),
        "nnz": int(A.nnz),
        "density": A.nnz / (n_row * n_col) if n_row and n_col else 0.0,
        "dtype": str(A.dtype),
        "row_nnz_min": int(row_len.min()) if n_row else 0,
        "row_nnz_max": int(row_len.max()) if n_row else 0,
        "row_nnz_mean": float(row_len.mean()) if n_row else 0.0,
        "row_nnz_std": float(row_len.std()) if n_row else 0.0,
        "empty_rows": int(np.count_nonzero(row_len == 0)),
        # O(nnz), not O(n_col): a 1 x 2e9 matrix must not allocate per column
        "empty_cols": int(n_col - np.unique(A.indices).size),
    }
    if not product:
        return info
    square = n_row == n_col
    # float32 ones: sums of positive counts never cancel to zero (scipy drops zero sums)
    P = sp.csr_array((np.ones(A.nnz, dtype=np.float32), A.indices, A.indptr), shape=A.shape)
    Q = P if square else sp.csr_array(P.T)
    rf = row_flops(P, Q)
    nnz_c = 0
    start = 0
    cap = np.cumsum(np.minimum(rf, Q.shape[1]))
    while start < n_row:
        done = int(cap[start - 1]) if start else 0
        stop = max(int(np.searchsorted(cap, done + BLOCK_ENTRIES, side="right")), start + 1)
        nnz_c += int((P[start:stop] @ Q).nnz)
        start = stop
        if progress is not None:
            progress(start, n_row)
    flops = int(rf.sum())
    info.update({
        "product": "A*A" if square else "A*A^T",
        "flops": flops,
        "nnz_c": nnz_c,
        "compression_ratio": flops / nnz_c if nnz_c else float("nan"),
    })
    return info
