"""Small numba helpers shared by the engine and its resource models (scalars only)."""
from __future__ import annotations

from numba import njit

INF = 1e300


@njit(inline="always")
def mod_(x, n, mask):
    """x mod n, by a mask when n is a power of two (mask = n - 1), else by division (mask < 0)."""
    return x & mask if mask >= 0 else x % n


@njit(inline="always")
def div_(x, n, shift):
    """x // n, by a shift when n is a power of two (shift = log2 n), else by division."""
    return x >> shift if shift >= 0 else x // n


def pow2_mask(n: int) -> int:
    """The mask for `mod_` (n - 1 for a power of two, else -1)."""
    return n - 1 if n > 0 and n & (n - 1) == 0 else -1


def pow2_shift(n: int) -> int:
    """The shift for `div_` (log2 n for a power of two, else -1)."""
    return n.bit_length() - 1 if n > 0 and n & (n - 1) == 0 else -1
