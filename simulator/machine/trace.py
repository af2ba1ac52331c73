"""Operation traces: the compact encoding that tasks emit and the timing engine executes.

A trace is an int64 array of shape (n, 2); one row per operation, 16 bytes:

    row = (code | flags << 8 | arg << 16, address)

    code         arg                          address
    COMPUTE      instructions                 -
    LOAD         size in bytes                address
    STORE        size in bytes                address
    ATOMIC       size (0 means 8) | kind<<32  address
    DMA_COPY     size in bytes                source; the next row is (DMA_ELEM, destination)
    DMA_GATHER   count | element bytes << 32  destination; then `count` rows (DMA_ELEM, source)
    DMA_ELEM     -                            an address belonging to the DMA row before it
    DMA_WAIT     -                            -    (wait for this thread's DMA transfers)
    WAIT         -                            -    (wait for all its memory operations)
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

ARG_SHIFT = 16
ADDR_SHIFT = 40
OFFSET_MASK = (1 << ADDR_SHIFT) - 1
OP_WIDTH = 2


@njit(inline="always")
def make_addr(region_id, offset):
    """The encoded address of byte `offset` of region `region_id` (usable from numba code)."""
    return (region_id << 40) | offset


@njit(inline="always")
def emit(buf, n, code, addr, arg, flags):
    """Write one operation at row n of `buf` (shape (cap, 2) int64); return n + 1."""
    buf[n, 0] = code | (flags << 8) | (arg << 16)
    buf[n, 1] = addr
    return n + 1


@njit(inline="always")
def emit_compute(buf, n, instructions):
    return emit(buf, n, COMPUTE, 0, instructions, 0)


@njit(inline="always")
def emit_load(buf, n, addr, size, flags):
    return emit(buf, n, LOAD, addr, size, flags)


@njit(inline="always")
def emit_store(buf, n, addr, size, flags):
    return emit(buf, n, STORE, addr, size, flags)


@njit(inline="always")
def emit_atomic(buf, n, addr, kind, flags):
    return emit(buf, n, ATOMIC, addr, 8 | (kind << 32), flags)


def rows(code: int, addr=0, arg=0, flags: int = 0) -> np.ndarray:
    """Encoded rows, vectorized: `addr` and `arg` may be arrays (broadcast together)."""
    addr, arg = np.broadcast_arrays(np.asarray(addr, dtype=np.int64), np.asarray(arg, dtype=np.int64))
    out = np.empty((addr.size, OP_WIDTH), dtype=np.int64)
    out[:, 0] = (code | (flags << FLAG_SHIFT)) | (arg.reshape(-1) << ARG_SHIFT)
    out[:, 1] = addr.reshape(-1)
    return out


def decode(ops: np.ndarray) -> dict[str, np.ndarray]:
    """Columns of a trace: code, flags, arg, addr."""
    ops = np.asarray(ops)
    return {"code": ops[:, 0] & 0xFF, "flags": (ops[:, 0] >> FLAG_SHIFT) & 0xFF,
            "arg": ops[:, 0] >> ARG_SHIFT, "addr": ops[:, 1]}


class TraceBuilder:
    """Build a trace from Python (tests, microbenchmarks). Vectorized calls accept arrays.

    Numba task generators should write rows directly with `emit_*` instead.
    """

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []

    def _add(self, code: int, addr=0, arg=0, flags: int = 0) -> "TraceBuilder":
        self._parts.append(rows(code, addr, arg, flags))
        return self

    def compute(self, instructions=1, flags: int = 0) -> "TraceBuilder":
        return self._add(COMPUTE, 0, instructions, flags)

    def load(self, addr, size=8, flags: int = 0) -> "TraceBuilder":
        return self._add(LOAD, addr, size, flags)

    def store(self, addr, size=8, flags: int = 0) -> "TraceBuilder":
        return self._add(STORE, addr, size, flags)

    def atomic(self, addr, kind: int = ATOMIC_ADD, flags: int = 0, size: int = 8) -> "TraceBuilder":
        return self._add(ATOMIC, addr, size | (kind << 32), flags)

    def dma_copy(self, src: int, dst: int, size: int) -> "TraceBuilder":
        self._add(DMA_COPY, src, size)
        return self._add(DMA_ELEM, dst)

    def dma_gather(self, dst: int, srcs: Sequence[int] | np.ndarray, elem_bytes: int = 8) -> "TraceBuilder":
        srcs = np.asarray(srcs, dtype=np.int64).reshape(-1)
        self._add(DMA_GATHER, dst, srcs.size | (elem_bytes << 32))
        if srcs.size:
            self._add(DMA_ELEM, srcs)
        return self

    def dma_wait(self) -> "TraceBuilder":
        return self._add(DMA_WAIT)

    def wait(self) -> "TraceBuilder":
        return self._add(WAIT)

    def barrier(self, scope: int = BARRIER_PHASE) -> "TraceBuilder":
        return self._add(BARRIER, 0, scope)

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
    codes = decode(ops)["code"]
    vals, counts = np.unique(codes, return_counts=True)
    return {OP_NAMES.get(int(v), str(int(v))): int(c) for v, c in zip(vals, counts)}
