"""Operation traces: the compact encoding that tasks emit and the timing engine executes.

A trace is an int64 array of shape (n, 4); one row per operation:

    row = (code | flags << 8, a, b, c)

    code         a                b                 c
    COMPUTE      instructions     -                 -
    LOAD         address          size in bytes     -
    STORE        address          size in bytes     -
    ATOMIC       address          kind (ATOMIC_*)   size in bytes (0 means 8)
    DMA_COPY     source address   size in bytes     destination address
    DMA_GATHER   dest. address    element bytes     element count; followed by `count` rows:
    DMA_ELEM     source address   -                 -           (one per gathered element)
    DMA_WAIT     -                -                 -           (wait for this thread's DMAs)
    WAIT         -                -                 -           (wait for all its memory ops)
    BARRIER      scope (BARRIER_PHASE / BARRIER_CORE)

Flags: DEP (do not issue before the thread's previous LOAD/ATOMIC has returned: a dependent
load, e.g. a pointer chase or a probe that needs the loaded key), FENCE (do not issue before all
of the thread's memory operations have completed), NORET (an ATOMIC whose result is not needed:
later DEP operations do not wait for it).

An address is `region_id << ADDR_SHIFT | offset`: the region decides where the bytes live (DRAM
interleaved over channels, one die's DRAM, a core's scratchpad, or the *executing* thread's own
core / slice), so a task's trace does not depend on which thread runs it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from numba import njit

# Operation codes (low 8 bits of column 0).
COMPUTE = 1
LOAD = 2
STORE = 3
ATOMIC = 4
DMA_COPY = 5
DMA_GATHER = 6
DMA_ELEM = 7
DMA_WAIT = 8
WAIT = 9
BARRIER = 10

OP_NAMES = {COMPUTE: "compute", LOAD: "load", STORE: "store", ATOMIC: "atomic",
            DMA_COPY: "dma_copy", DMA_GATHER: "dma_gather", DMA_ELEM: "dma_elem",
            DMA_WAIT: "dma_wait", WAIT: "wait", BARRIER: "barrier"}

# Flags (column 0, bits 8 and up).
DEP = 1
FENCE = 2
NORET = 4
FLAG_SHIFT = 8

# Atomic kinds (timing is the same; the kind is kept for the record).
ATOMIC_ADD = 0
ATOMIC_FADD = 1
ATOMIC_CAS = 2
ATOMIC_MIN = 3
ATOMIC_MAX = 4
ATOMIC_SWAP = 5

# Barrier scopes.
BARRIER_PHASE = 0
BARRIER_CORE = 1

ADDR_SHIFT = 40
OFFSET_MASK = (1 << ADDR_SHIFT) - 1
OP_WIDTH = 4


@njit(inline="always")
def make_addr(region_id: int, offset: int) -> int:
    """The encoded address of byte `offset` of region `region_id` (usable from numba code)."""
    return (region_id << 40) | offset


@njit(inline="always")
def emit(buf, n, code, a, b, c, flags):
    """Write one operation at row n of `buf` (shape (cap, 4) int64); return n + 1."""
    buf[n, 0] = code | (flags << 8)
    buf[n, 1] = a
    buf[n, 2] = b
    buf[n, 3] = c
    return n + 1


@njit(inline="always")
def emit_compute(buf, n, instructions):
    return emit(buf, n, COMPUTE, instructions, 0, 0, 0)


@njit(inline="always")
def emit_load(buf, n, addr, size, flags):
    return emit(buf, n, LOAD, addr, size, 0, flags)


@njit(inline="always")
def emit_store(buf, n, addr, size, flags):
    return emit(buf, n, STORE, addr, size, 0, flags)


@njit(inline="always")
def emit_atomic(buf, n, addr, kind, flags):
    return emit(buf, n, ATOMIC, addr, kind, 8, flags)


class TraceBuilder:
    """Build a trace from Python (tests, microbenchmarks). Vectorized calls accept arrays.

    Numba task generators should write rows directly with `emit_*` instead.
    """

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []

    def _add(self, code: int, a, b=0, c=0, flags: int = 0) -> "TraceBuilder":
        a = np.atleast_1d(np.asarray(a, dtype=np.int64))
        rows = np.empty((a.shape[0], OP_WIDTH), dtype=np.int64)
        rows[:, 0] = code | (flags << FLAG_SHIFT)
        rows[:, 1] = a
        rows[:, 2] = b
        rows[:, 3] = c
        self._parts.append(rows)
        return self

    def compute(self, instructions: int = 1, flags: int = 0) -> "TraceBuilder":
        return self._add(COMPUTE, instructions, flags=flags)

    def load(self, addr, size: int = 8, flags: int = 0) -> "TraceBuilder":
        return self._add(LOAD, addr, size, flags=flags)

    def store(self, addr, size: int = 8, flags: int = 0) -> "TraceBuilder":
        return self._add(STORE, addr, size, flags=flags)

    def atomic(self, addr, kind: int = ATOMIC_ADD, flags: int = 0, size: int = 8) -> "TraceBuilder":
        return self._add(ATOMIC, addr, kind, size, flags=flags)

    def dma_copy(self, src: int, dst: int, size: int) -> "TraceBuilder":
        return self._add(DMA_COPY, src, size, dst)

    def dma_gather(self, dst: int, srcs: Sequence[int] | np.ndarray, elem_bytes: int = 8) -> "TraceBuilder":
        srcs = np.asarray(srcs, dtype=np.int64)
        self._add(DMA_GATHER, dst, elem_bytes, srcs.shape[0])
        if srcs.shape[0]:
            self._add(DMA_ELEM, srcs)
        return self

    def dma_wait(self) -> "TraceBuilder":
        return self._add(DMA_WAIT, 0)

    def wait(self) -> "TraceBuilder":
        return self._add(WAIT, 0)

    def barrier(self, scope: int = BARRIER_PHASE) -> "TraceBuilder":
        return self._add(BARRIER, scope)

    def extend(self, ops: np.ndarray) -> "TraceBuilder":
        self._parts.append(np.asarray(ops, dtype=np.int64).reshape(-1, OP_WIDTH))
        return self

    def build(self) -> np.ndarray:
        if not self._parts:
            return np.zeros((0, OP_WIDTH), dtype=np.int64)
        return np.ascontiguousarray(np.concatenate(self._parts))

    def __len__(self) -> int:
        return sum(p.shape[0] for p in self._parts)


def interleave(*traces: np.ndarray) -> np.ndarray:
    """Row-interleave equally long traces: a[0], b[0], a[1], b[1], ... (for loop bodies)."""
    n = traces[0].shape[0]
    if any(t.shape[0] != n for t in traces):
        raise ValueError("interleave: traces must have the same length")
    out = np.empty((n * len(traces), OP_WIDTH), dtype=np.int64)
    for i, t in enumerate(traces):
        out[i::len(traces)] = t
    return out


def op_counts(ops: np.ndarray) -> dict[str, int]:
    """How many operations of each kind a trace holds."""
    codes = np.asarray(ops)[:, 0] & 0xFF
    vals, counts = np.unique(codes, return_counts=True)
    return {OP_NAMES.get(int(v), str(int(v))): int(c) for v, c in zip(vals, counts)}
