"""The parallel driver: chunks claimed by threads through an atomic counter.

Why not ``prange``: numba's OpenMP/workqueue layers hand each thread its share statically and
join at a barrier, so when another process holds one of the cores a parallel call waits for the
descheduled thread's next time slice. On this project's shared 2-core machines that turned a
0.2 ms product into 6 ms (can_1072, measured). Here the calling thread works too and every
thread *claims* chunks with an atomic fetch-and-add: a thread that starts late finds the work
done and leaves without touching anything, and the caller waits only for chunks actually in
progress. Workers are plain Python threads running ``nogil`` jitted kernels.

A claimed kernel has the signature ``kernel(counter, front, *args)``: it loops
``c = claim_chunk(counter, n_chunks, front)`` until ``c < 0``, runs chunk c, then
``atomic_add(counter, 1, 1)`` (chunks completed). The calling thread (``front``) takes chunks
0, 1, 2, ... in order, so a fused output can place each of them right behind the previous one
(no compaction for them); the workers take chunks from the other end. A worker's claims go
downwards, so it clears its position scratch between chunks (see ``spgemm.accumulators``).
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Sequence

import numpy as np
from numba import njit

from spgemm._intrinsics import atomic_add


@njit(cache=True)
def claim_chunk(counter, n_chunks, front):
    """Claim one of ``n_chunks`` chunks: the next from the front (front=True) or from the back;
    -1 when none is left. counter int64[4]: [reserved, completed, taken from front, from back].
    Reserving first guarantees that front and back claims never meet on the same chunk."""
    if atomic_add(counter, 0, 1) >= n_chunks:
        return -1
    if front:
        return atomic_add(counter, 2, 1)
    return n_chunks - 1 - atomic_add(counter, 3, 1)


@njit(cache=True)
def claim_output_chunk(counter, n_chunks, front, pack, cap_starts, chunk_end, starts, prev_end,
                       s_pos):
    """Claim a chunk of output rows and decide where it is written: ``(c, p0)``, c < 0 when none
    is left. Chunk c goes at its upper-bound start ``cap_starts[c]``, or, for the front thread
    with ``pack``, right behind chunk c - 1 (``chunk_end``). Output positions going down
    (``p0 < prev_end``, this thread's previous chunk's end) reset the thread's ``s_pos`` marks.
    ``starts[c]`` receives p0."""
    c = claim_chunk(counter, n_chunks, front)
    if c < 0:
        return c, np.int64(0)
    p0 = np.int64(cap_starts[c])
    if pack and front and c > 0:
        p0 = np.int64(chunk_end[c - 1])
    if p0 < prev_end:
        s_pos[:] = 0
    starts[c] = p0
    return c, p0


class _Call:
    """One parallel call: its counter and the event the last finishing worker sets."""

    __slots__ = ("counter", "n_chunks", "done", "error")

    def __init__(self, n_chunks: int) -> None:
        self.counter = np.zeros(4, np.int64)  # see claim_chunk
        self.n_chunks = n_chunks
        self.done = threading.Event()
        self.error: BaseException | None = None

    def finished(self) -> None:
        if self.counter[1] >= self.n_chunks or self.error is not None:
            self.done.set()


def _worker_loop(tasks: queue.SimpleQueue) -> None:
    while True:
        kernel, args, call = tasks.get()
        try:
            kernel(call.counter, False, *args)
        except BaseException as exc:  # surfaced by the caller
            call.error = exc
        finally:
            call.finished()


_workers: list[queue.SimpleQueue] = []
_workers_lock = threading.Lock()


def _get_workers(n: int) -> list[queue.SimpleQueue]:
    with _workers_lock:
        while len(_workers) < n:
            tasks: queue.SimpleQueue = queue.SimpleQueue()
            threading.Thread(target=_worker_loop, args=(tasks,), daemon=True,
                             name=f"spgemm-worker-{len(_workers) + 1}").start()
            _workers.append(tasks)
        return _workers[:n]


def run_claimed(kernel: Callable[..., Any], n_chunks: int,
                per_thread_args: Sequence[tuple]) -> None:
    """Run ``kernel(counter, front, *per_thread_args[t])`` on ``len(per_thread_args)`` threads
    (the caller is thread 0, the only one with front=True) until all ``n_chunks`` chunks are
    claimed and completed."""
    call = _Call(n_chunks)
    n_threads = len(per_thread_args)
    for tasks, args in zip(_get_workers(n_threads - 1), per_thread_args[1:]):
        tasks.put((kernel, args, call))
    kernel(call.counter, True, *per_thread_args[0])
    if call.counter[1] < n_chunks and call.error is None:
        call.done.wait()
    if call.error is not None:
        raise call.error


def thread_slices(arrays: Sequence[np.ndarray], n_threads: int) -> list[tuple]:
    """Split each scratch array into ``n_threads`` equal slices: one tuple per thread."""
    out = []
    for t in range(n_threads):
        out.append(tuple(a[t * (len(a) // n_threads):(t + 1) * (len(a) // n_threads)]
                         for a in arrays))
    return out
