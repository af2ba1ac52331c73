"""Seeded synthetic sparse matrices for SpGEMM experiments.

Every generator returns a canonical ``scipy.sparse.csr_array`` (sorted indices, no duplicates)
of float64 and is reproducible: the same arguments and ``seed`` give the same matrix (for a given
numpy version; numpy's Generator streams are stable across releases in practice). Random
generators draw a structure, merge duplicate coordinates (each position is stored once), then
assign values:

- ``values="random"``: uniform in [0.5, 1.5): nonzero and positive, so products never cancel
  and C = A·A holds exactly the structural nonzeros;
- ``values="ones"``: all 1.0 (C = A·A then counts paths).

All work is vectorized numpy (no Python loop per entry); a few million entries take well
under a second. Invalid arguments raise `MatrixError` naming the generator and the parameter.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Literal, TypeVar

import numpy as np
import scipy.sparse as sp

from matrices import hostmem
from matrices.errors import MatrixError

__all__ = ["rmat", "erdos_renyi", "banded", "poisson2d", "poisson3d", "powerlaw", "imbalanced",
           "Values", "VALUE_RANGE", "MAX_SCALE", "MAX_ENTRIES", "MAX_DIM"]

F = TypeVar("F", bound=Callable[..., Any])
Values = Literal["random", "ones"]
VALUE_RANGE = (0.5, 1.5)
"""Half-open range of ``values="random"`` entries."""
MAX_SCALE = 26
"""Largest R-MAT scale (2**26 = 67M rows)."""
MAX_ENTRIES = 2**30
"""Most entries (and rows) a generator will make (guards against typos such as n=10**12)."""
MAX_DIM = 2**31 - 1
"""Most columns."""


# ---------------------------------------------------------------------------------------------
# helpers


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise MatrixError(message)


def _check_int(name: str, value: object, lo: int, hi: int | None = None) -> None:
    _check(isinstance(value, (int, np.integer)) and not isinstance(value, bool),
           f"{name} must be an integer, got {value!r}")
    if hi is None:
        _check(value >= lo, f"{name}={value} out of range (must be >= {lo})")  # type: ignore[operator]
    else:
        _check(lo <= value <= hi, f"{name}={value} out of range ({lo}..{hi})")  # type: ignore[operator]


def _check_real(name: str, value: object, lo: float, hi: float | None = None,
                lo_open: bool = False) -> None:
    _check(isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
           and bool(np.isfinite(value)), f"{name} must be a finite number, got {value!r}")
    v = float(value)  # type: ignore[arg-type]
    if lo_open:
        _check(v > lo, f"{name}={value} out of range (must be > {lo:g})")
    else:
        _check(v >= lo, f"{name}={value} out of range (must be >= {lo:g})")
    if hi is not None:
        _check(v <= hi, f"{name}={value} out of range (must be <= {hi:g})")


def _check_bool(name: str, value: object) -> None:
    _check(isinstance(value, (bool, np.bool_)), f"{name} must be true or false, got {value!r}")


def _check_common(seed: object, values: object) -> None:
    _check_int("seed", seed, 0)
    _check(values in ("random", "ones"), f"values={values!r} unknown (expected random or ones)")


def _check_entries(count: float) -> float:
    _check(count <= MAX_ENTRIES, f"would draw {count:.3g} entries, more than the limit {MAX_ENTRIES}")
    return count


#: Peak host bytes per drawn entry while generating (keys, their sort, coordinates, values and
#: the CSR result; measured 37-67 B on R-MAT, Erdős–Rényi, power-law, banded and Poisson).
BYTES_PER_ENTRY = 80


def _generator(check: Callable[..., float | None]) -> Callable[[F], F]:
    """Decorator: run `check(**all arguments)` before the generator; its MatrixError (a bare
    problem such as "n=-1 out of range") is re-raised prefixed with the generator name. The
    check returns the number of entries it will draw: the host-memory guard
    (`matrices.hostmem.require`) refuses a generator whose peak would not fit. The
    check alone is exposed as ``func.check(**kwargs)`` (defaults filled): the spec parser uses
    it to reject a bad spec without generating anything."""
    def deco(func: F) -> F:
        sig = inspect.signature(func)

        def run_check(**kwargs: Any) -> None:
            bound = sig.bind(**kwargs)
            bound.apply_defaults()
            check(**bound.arguments)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            try:
                entries = check(**bound.arguments)
            except MatrixError as exc:
                raise MatrixError(f"{func.__name__}: {exc}") from None
            if entries:
                hostmem.require(BYTES_PER_ENTRY * entries, f"generating {entries:.3g} entries",
                                hint="generate a smaller matrix")
            return func(*bound.args, **bound.kwargs)

        wrapper.check = run_check  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]
    return deco


def _index_dtype(*bounds: int) -> type:
    return np.int32 if max(bounds, default=0) <= np.iinfo(np.int32).max else np.int64


def _sorted_unique(keys: np.ndarray, runs: bool = False) -> np.ndarray:
    """Sorted distinct values (sort + mask: np.unique is several times slower here). runs: the
    keys are mostly sorted runs, so use the stable sort (timsort, linear on runs)."""
    keys = np.sort(keys, kind="stable" if runs else None)
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if keys.size else keys


def _from_keys(keys: np.ndarray, shape: tuple[int, int], values: str,
               rng: np.random.Generator | None) -> sp.csr_array:
    """CSR from sorted, unique linear keys row * n_col + col (row-major order = CSR order)."""
    n_row, n_col = shape
    rows = keys // n_col
    cols = keys - rows * n_col
    return _from_sorted(rows, cols, shape, values, rng)


def _from_sorted(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], values: str,
                 rng: np.random.Generator | None) -> sp.csr_array:
    """CSR from coordinates already in row-major order without duplicates."""
    n_row, n_col = shape
    idx = _index_dtype(n_row, n_col, rows.size)
    indptr = np.zeros(n_row + 1, dtype=idx)
    np.cumsum(np.bincount(rows, minlength=n_row), out=indptr[1:])
    data = _values(rows.size, values, rng)
    A = sp.csr_array((data, cols.astype(idx, copy=False), indptr), shape=shape)
    A.has_sorted_indices = True
    A.has_canonical_format = True
    return A


def _values(n: int, values: str, rng: np.random.Generator | None) -> np.ndarray:
    if values == "ones" or rng is None:
        return np.ones(n, dtype=np.float64)
    return rng.uniform(*VALUE_RANGE, size=n)


def _distinct_columns(lengths: np.ndarray, n_col: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted unique linear keys row * n_col + col, with exactly lengths[i] (<= n_col) distinct
    columns drawn uniformly in row i.

    Rows up to 1/8 full: draw with replacement, merge duplicates, redraw the shortfall; each
    round shrinks it by about 8x, so a handful of rounds suffice. Fuller rows: the first
    lengths[i] of a random permutation (Generator.permuted, in batches); that costs O(n_col)
    per row, at most 8x the entries those rows hold.
    """
    n_row = lengths.size
    full = np.flatnonzero(lengths > n_col // 8)
    need = lengths.astype(np.int64)
    need[full] = 0
    keys = np.empty(0, dtype=np.int64)
    while need.any():
        rows = np.repeat(np.arange(n_row, dtype=np.int64), need)
        new = rows * n_col + rng.integers(0, n_col, size=rows.size)
        keys = _sorted_unique(np.concatenate([keys, new]), runs=True)
        need = lengths - np.bincount(keys // n_col, minlength=n_row)
        need[full] = 0
    if full.size == 0:
        return keys
    parts = [keys]
    batch = max(1, (1 << 22) // n_col)
    for start in range(0, full.size, batch):
        rows = full[start:start + batch].astype(np.int64)
        order = rng.permuted(np.broadcast_to(np.arange(n_col), (rows.size, n_col)), axis=1)
        take = np.arange(n_col) < lengths[rows][:, None]
        parts.append((rows[:, None] * n_col + order)[take])
    return np.sort(np.concatenate(parts), kind="stable")


# ---------------------------------------------------------------------------------------------
# generators


def _check_rmat(scale: Any, ef: Any, a: Any, b: Any, c: Any, seed: Any, symmetric: Any,
                permute: Any, values: Any) -> float:
    _check_int("scale", scale, 1, MAX_SCALE)
    _check_int("ef", ef, 1)
    for name, p in (("a", a), ("b", b), ("c", c)):
        _check_real(name, p, 0.0, 1.0, lo_open=True)
    _check(a + b + c < 1 - 1e-9,         # tolerance: 0.6+0.3+0.1 is 0.9999999999999999
           f"a+b+c={a + b + c:.6g} must be < 1 (d = 1-a-b-c is the 4th quadrant)")
    _check_bool("symmetric", symmetric)
    _check_bool("permute", permute)
    _check_common(seed, values)
    return _check_entries(float(ef) * 2.0**scale * (2 if symmetric else 1))


@_generator(_check_rmat)
def rmat(scale: int, ef: int = 16, a: float = 0.57, b: float = 0.19, c: float = 0.19,
         seed: int = 0, symmetric: bool = False, permute: bool = False,
         values: Values = "random") -> sp.csr_array:
    """R-MAT / Graph500 Kronecker graph adjacency matrix (Chakrabarti et al. 2004).

    scale: n = 2**scale rows and columns (1..26). ef: edge factor; ef * n edges are drawn, each
    by choosing one quadrant per bit with probabilities a, b, c, d = 1 - a - b - c (all > 0).
    Duplicate edges are merged, so nnz < ef * n; self loops are kept. symmetric: add the
    transpose (undirected graph) before merging; values are symmetric too. permute: randomly relabel vertices (Graph500
    does; without it the heavy rows sit at the top). seed: random seed. values: see module doc.
    Defaults are the Graph500 parameters.
    """
    n = 1 << scale
    m = ef * n
    rng = np.random.default_rng(seed)
    # One uniform draw per edge and bit picks the quadrant: [0,a) top-left, [a,a+b) top-right,
    # [a+b,a+b+c) bottom-left, rest bottom-right (same law as Graph500's two-draw form).
    idx = np.int32 if scale < 31 else np.int64
    rows = np.zeros(m, dtype=idx)
    cols = np.zeros(m, dtype=idx)
    ab, abc = a + b, a + b + c
    for bit in range(scale):
        u = rng.random(m, dtype=np.float32)
        rows |= (u >= ab).astype(idx) << bit
        cols |= (((u >= a) & (u < ab)) | (u >= abc)).astype(idx) << bit
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    if permute:
        perm = rng.permutation(n)
        rows, cols = perm[rows], perm[cols]
    keys = rows * n + cols
    if not symmetric:
        return _from_keys(_sorted_unique(keys), (n, n), values, rng)
    keys = _sorted_unique(np.concatenate([keys, cols * n + rows]))
    A = _from_keys(keys, (n, n), values, rng)
    # Symmetric values too: each entry below the diagonal copies its mirror image.
    rows, cols = keys // n, keys % n
    lower = np.flatnonzero(rows > cols)
    A.data[lower] = A.data[np.searchsorted(keys, cols[lower] * n + rows[lower])]
    return A


def _check_er(n: Any, nnz_per_row: Any, m: Any, seed: Any, values: Any) -> float:
    _check_int("n", n, 1, MAX_ENTRIES)
    if m is not None:
        _check_int("m", m, 1, MAX_DIM)
    _check_real("nnz_per_row", nnz_per_row, 0.0, float(n if m is None else m))
    _check_common(seed, values)
    return _check_entries(n * float(nnz_per_row))


@_generator(_check_er)
def erdos_renyi(n: int, nnz_per_row: float = 8, m: int | None = None, seed: int = 0,
                values: Values = "random") -> sp.csr_array:
    """Erdős–Rényi (G(n, p)) random matrix: every position present independently.

    n: rows. nnz_per_row: expected entries per row (0..m), so p = nnz_per_row / m exactly and
    E[nnz] = n * nnz_per_row. m: columns (default n). seed: random seed. values: see module doc.
    Drawn as a Binomial(n*m, p) count of distinct positions chosen uniformly (no duplicates).
    """
    m = n if m is None else m
    rng = np.random.default_rng(seed)
    total = n * m
    k = int(rng.binomial(total, nnz_per_row / m))
    keys = np.sort(rng.choice(total, size=k, replace=False, shuffle=False))
    return _from_keys(keys, (n, m), values, rng)


def _check_banded(n: Any, bandwidth: Any, seed: Any, values: Any) -> float:
    _check_int("n", n, 1, MAX_ENTRIES)
    _check_int("bandwidth", bandwidth, 0)
    _check_common(seed, values)
    return _check_entries(float(n) * (2 * min(bandwidth, n - 1) + 1))


@_generator(_check_banded)
def banded(n: int, bandwidth: int = 5, seed: int = 0, values: Values = "random") -> sp.csr_array:
    """Banded n x n matrix: every position with |i - j| <= bandwidth is stored.

    n: rows and columns. bandwidth: half-bandwidth (0 = diagonal; 2*bandwidth+1 diagonals).
    seed: random seed for the values. values: see module doc.
    """
    w = min(bandwidth, n - 1)
    rows = np.repeat(np.arange(n, dtype=np.int64), 2 * w + 1)
    cols = rows + np.tile(np.arange(-w, w + 1, dtype=np.int64), n)
    keep = (cols >= 0) & (cols < n)
    return _from_sorted(rows[keep], cols[keep], (n, n), values, np.random.default_rng(seed))


def _laplacian_1d(n: int) -> sp.csr_array:
    return sp.diags_array([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], offsets=[-1, 0, 1],
                          shape=(n, n), format="csr")


def _canonical(A: sp.sparray) -> sp.csr_array:
    A = sp.csr_array(A)
    A.sum_duplicates()
    A.eliminate_zeros()        # kron can go through BSR, whose blocks store zeros
    A.sort_indices()
    idx = _index_dtype(*A.shape, A.nnz)
    A.indices = A.indices.astype(idx, copy=False)
    A.indptr = A.indptr.astype(idx, copy=False)
    return A


def _check_poisson2d(n: Any) -> float:
    _check_int("n", n, 1)
    return _check_entries(5.0 * n * n)


def _check_poisson3d(n: Any) -> float:
    _check_int("n", n, 1)
    return _check_entries(7.0 * n**3)


@_generator(_check_poisson2d)
def poisson2d(n: int) -> sp.csr_array:
    """5-point Laplacian on an n x n grid (Dirichlet boundary): n*n rows, 4 on the diagonal,
    -1 for each grid neighbour; nnz = 5n^2 - 4n.

    n: grid points per side (>= 1).
    """
    T, I = _laplacian_1d(n), sp.eye_array(n, format="csr")
    return _canonical(sp.kron(I, T) + sp.kron(T, I))


@_generator(_check_poisson3d)
def poisson3d(n: int) -> sp.csr_array:
    """7-point Laplacian on an n x n x n grid (Dirichlet boundary): n^3 rows, 6 on the
    diagonal, -1 for each grid neighbour; nnz = 7n^3 - 6n^2.

    n: grid points per side (>= 1).
    """
    T, I = _laplacian_1d(n), sp.eye_array(n, format="csr")
    II = sp.kron(I, I)
    return _canonical(sp.kron(II, T) + sp.kron(sp.kron(I, T), I) + sp.kron(T, II))


def _check_powerlaw(n: Any, nnz_per_row: Any, exponent: Any, m: Any, seed: Any,
                    values: Any) -> float:
    _check_int("n", n, 1, MAX_ENTRIES)
    if m is not None:
        _check_int("m", m, 1, MAX_DIM)
    _check_real("nnz_per_row", nnz_per_row, 0.0, float(n if m is None else m), lo_open=True)
    _check_real("exponent", exponent, 1.0, lo_open=True)
    _check_common(seed, values)
    return _check_entries(n * float(nnz_per_row))


@_generator(_check_powerlaw)
def powerlaw(n: int, nnz_per_row: float = 8, exponent: float = 2.5, m: int | None = None,
             seed: int = 0, values: Values = "random") -> sp.csr_array:
    """Rows with power-law lengths, columns uniform: the skewed row-length profile of web and
    social graphs without R-MAT's column skew.

    n: rows. nnz_per_row: target mean row length (> 0). exponent: tail exponent alpha > 1 of the
    Pareto law P(len > x) ~ x^-(alpha-1) (smaller = heavier tail; 2..3 is typical of graphs).
    m: columns (default n). Row lengths are Pareto draws, scaled so that after rounding and
    clipping to [1, m] their mean is nnz_per_row (as closely as integers allow); each row's
    columns are distinct and uniform. seed: random seed. values: see module doc.
    """
    m = n if m is None else m
    rng = np.random.default_rng(seed)
    x = (1.0 - rng.random(n)) ** (-1.0 / (exponent - 1.0))     # Pareto(alpha), x >= 1
    target = n * float(nnz_per_row)

    def lengths_at(scale: float) -> np.ndarray:
        return np.clip(np.rint(x * scale), 1, m).astype(np.int64)

    # Pick the scale whose clipped, rounded lengths sum closest to the target (bisection: the sum
    # is monotone in the scale).
    lo, hi = 0.0, 1.0
    while lengths_at(hi).sum() < target and hi < 1e18:
        hi *= 2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if lengths_at(mid).sum() < target else (lo, mid)
    lengths = min((lengths_at(lo), lengths_at(hi)), key=lambda ln: abs(int(ln.sum()) - target))
    return _from_keys(_distinct_columns(lengths, m, rng), (n, m), values, rng)


def _check_imbalanced(n: Any, nnz_per_row: Any, n_long: Any, long_len: Any, seed: Any,
                      values: Any) -> float:
    _check_int("n", n, 1, MAX_ENTRIES)
    _check_int("nnz_per_row", nnz_per_row, 0, n)
    _check_int("n_long", n_long, 0, n)
    if long_len is not None:
        _check_int("long_len", long_len, 0, n)
    _check_common(seed, values)
    return _check_entries(float(n) * nnz_per_row + float(n_long) * (n // 2 if long_len is None else long_len))


@_generator(_check_imbalanced)
def imbalanced(n: int, nnz_per_row: int = 8, n_long: int = 4, long_len: int | None = None,
               seed: int = 0, values: Values = "random") -> sp.csr_array:
    """Load-imbalance stress matrix: n rows of nnz_per_row uniform columns, except n_long rows
    (at random positions) holding long_len entries each.

    n: rows and columns. nnz_per_row: length of the short rows (0..n). n_long: number of long
    rows (0..n). long_len: length of the long rows (default n // 2, at most n). Columns in each
    row are distinct and uniform. seed: random seed. values: see module doc.
    """
    long_len = n // 2 if long_len is None else long_len
    rng = np.random.default_rng(seed)
    lengths = np.full(n, nnz_per_row, dtype=np.int64)
    lengths[rng.choice(n, size=n_long, replace=False)] = long_len
    return _from_keys(_distinct_columns(lengths, n, rng), (n, n), values, rng)
