"""The registry of native SpGEMM methods: what the CLI, the benchmark and the tests enumerate.

To add a method:

1. write its row kernel in a module of this package: ``@njit(cache=True)``, arrays and scalars
   only, computing rows r0:r1 from output position p0 and returning the end position, calling
   the shared building blocks of ``spgemm.accumulators`` (``spgemm.rowwise._rowwise_rows`` is
   the model), plus a ``nogil`` "claimed" wrapper that loops over chunks taken from the atomic
   counter (``_rowwise_claimed``);
2. write a runner in ``spgemm._runners`` (plan with ``_plan_rows``, allocate scratch, hand the
   serial and parallel callables to ``_drive.assemble``; ``run_rowwise`` is the model);
3. add an entry below. The tests parametrize over ``METHODS`` and every accumulator it lists,
   and so does ``smash bench``: the new method is checked against scipy and the naive
   reference, on every matrix family, at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from spgemm import _runners

#: Accumulator name -> what it is.
ACCUMULATORS: dict[str, str] = {
    "dense": "dense array indexed by column (SPA), O(n_col) scratch per thread",
    "hash": "open-addressing hash table, linear probing, multiplicative (Fibonacci) hashing, "
            "power-of-two table sized from the row's work",
    "hash-mod": "as hash, with the plain low bits of the column (column modulo the table size)",
    "sort": "partial products sorted by column, duplicates summed (rows come out sorted)",
}


@dataclass(frozen=True)
class Method:
    """A native SpGEMM method: name, what it is, which accumulators it takes, its defaults."""

    name: str
    description: str
    accumulators: tuple[str, ...]
    default_accumulator: str
    runner: Callable = field(repr=False, compare=False)

    def check_accumulator(self, accumulator: str | None) -> str:
        """The accumulator to use (the default for None); ValueError if this method lacks it."""
        if accumulator is None:
            return self.default_accumulator
        if accumulator not in self.accumulators:
            raise ValueError(f"method {self.name!r} has no accumulator {accumulator!r} "
                             f"(choose from: {', '.join(self.accumulators)})")
        return accumulator


METHODS: dict[str, Method] = {
    "rowwise": Method(
        "rowwise",
        "row-wise (Gustavson): each row of C accumulates A[i, k] * B[k, :]; rows split among "
        "threads by cumulative work",
        ("dense", "hash", "hash-mod", "sort"), "dense", _runners.run_rowwise),
    "inner": Method(
        "inner",
        "inner product: C[i, j] = A[i, :] . B[:, j] by sorted-index intersection with B in CSC, "
        "for the candidate columns j of C's row-wise structure (a slow baseline)",
        ("merge",), "merge", _runners.run_inner),
    "outer": Method(
        "outer",
        "outer product: partial products of A[:, k] x B[k, :] written out as (i, j, v) triples, "
        "bucketed by row (counting sort), then merged per row by an accumulator",
        ("dense", "hash", "hash-mod", "sort"), "dense", _runners.run_outer),
}


def get_method(name: str) -> Method:
    """The registered method called ``name``; ValueError naming the choices otherwise."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown method {name!r} (choose from: {', '.join(METHODS)})") from None


def combinations() -> list[tuple[str, str]]:
    """Every registered (method, accumulator) pair, in registry order."""
    return [(m.name, a) for m in METHODS.values() for a in m.accumulators]
