"""A buddy allocator over a core's fragment pool, executed functionally, emitting its operations.

SMASH V3 carves each core's scratchpad pool into per-row hash-table fragments. This is the
allocator that does it (Knowlton's binary buddy system): the pool is cut into power-of-two
blocks of `MIN_SLOTS` x 2^order table slots; each order has a doubly linked free list; an
allocation takes the smallest free block of at least the requested order and splits it, pushing
the unused halves on their lists; a free coalesces the block with its buddy (block index XOR
2^order) as long as the buddy is free and of the same order.

The functions run on the host (numba) on the allocator's real state and, as they go, write the
operations a thread of the machine would issue into a trace buffer, at the real addresses:

* the list heads: one 8-byte word per order in a scratchpad region (`heads_base`), updated by
  compare-and-swap (a pop or push is a CAS on the head, as in a lock-free Treiber stack);
* the links (next, prev) in the first 16 bytes of each free block, inside the pool
  (`pool_base`), read and written by plain loads and stores;
* a one-byte tag per minimum block (`tags_base`: 0 = not the start of a free block, order + 1 =
  start of a free block of that order), read when looking at a buddy, written on every change.

What a real concurrent allocator would add beyond these operations (a lock or marked pointers
around unlinking a buddy from the middle of a list, retries of failed CASes) is not modelled:
the functional state is updated in the order the operations are generated, a valid
serialization. Reconstruction, not the thesis's code.

State arrays (int64, owned by the caller; `buddy_init` fills them):
    heads[n_orders]  first free block of each order (block index in minimum blocks) or -1
    nxt[n_min], prv[n_min]  links of the free block starting at each minimum block (-1: none)
    tag[n_min]       0, or order + 1 when a free block of that order starts there
"""
from __future__ import annotations

from numba import njit

from simulator.machine.trace import ATOMIC_CAS, DEP, emit_atomic, emit_compute, emit_load, emit_store

MIN_SLOTS = 4          # smallest fragment: 4 slots of 16 B = one 64-byte line
SLOT_BYTES = 16
BLOCK_BYTES = MIN_SLOTS * SLOT_BYTES
I_STEP = 3             # instructions per step of the allocator's loops (compare, index arithmetic)


def n_orders(n_min: int) -> int:
    """Orders 0..max where 2^max is the largest block that fits `n_min` minimum blocks."""
    return max(int(n_min), 1).bit_length()


@njit(cache=True)
def buddy_init(heads, nxt, prv, tag, n_min):
    """An empty pool of n_min minimum blocks: the largest aligned power-of-two blocks first."""
    for o in range(heads.size):
        heads[o] = -1
    for b in range(n_min):
        nxt[b] = -1
        prv[b] = -1
        tag[b] = 0
    at = 0
    for o in range(heads.size - 1, -1, -1):
        if n_min & (1 << o):
            heads[o] = at
            tag[at] = o + 1
            at += 1 << o


@njit(cache=True)
def _unlink(heads, nxt, prv, tag, b, o, buf, n, AB):
    """Remove free block b of order o from its list (functionally and as operations)."""
    pool, hd = AB[0], AB[1]
    nb = nxt[b]
    pb = prv[b]
    n = emit_load(buf, n, pool + b * BLOCK_BYTES, 16, DEP)
    if pb == -1:
        heads[o] = nb
        n = emit_atomic(buf, n, hd + o * 8, ATOMIC_CAS, DEP)
    else:
        nxt[pb] = nb
        n = emit_store(buf, n, pool + pb * BLOCK_BYTES, 8, 0)
    if nb != -1:
        prv[nb] = pb
        n = emit_store(buf, n, pool + nb * BLOCK_BYTES + 8, 8, 0)
    nxt[b] = -1
    prv[b] = -1
    tag[b] = 0
    n = emit_store(buf, n, AB[2] + b, 1, 0)
    return n


@njit(cache=True)
def _push(heads, nxt, prv, tag, b, o, buf, n, AB):
    """Put free block b of order o at the head of its list."""
    pool, hd = AB[0], AB[1]
    h = heads[o]
    n = emit_load(buf, n, hd + o * 8, 8, DEP)
    nxt[b] = h
    prv[b] = -1
    n = emit_store(buf, n, pool + b * BLOCK_BYTES, 16, 0)
    if h != -1:
        prv[h] = b
        n = emit_store(buf, n, pool + h * BLOCK_BYTES + 8, 8, 0)
    heads[o] = b
    n = emit_atomic(buf, n, hd + o * 8, ATOMIC_CAS, DEP)
    tag[b] = o + 1
    n = emit_store(buf, n, AB[2] + b, 1, 0)
    return n


@njit(cache=True)
def buddy_alloc(heads, nxt, prv, tag, o, buf, n, AB):
    """Allocate a block of order o. Returns (block index or -1 when no block is free, n).

    buf: trace buffer with room for 8 + 6 * n_orders rows; AB: [pool_base, heads_base,
    tags_base] encoded addresses. The search reads the heads from order o upwards (each read
    decides the next: dependent loads)."""
    n = emit_compute(buf, n, 2 * I_STEP)
    top = heads.size
    got = -1
    for q in range(o, top):
        n = emit_load(buf, n, AB[1] + q * 8, 8, DEP)
        if heads[q] != -1:
            got = q
            break
    if got < 0:
        n = emit_compute(buf, n, I_STEP)
        return -1, n
    b = heads[got]
    n = _unlink(heads, nxt, prv, tag, b, got, buf, n, AB)
    q = got
    while q > o:                       # split: the upper half goes back on the list below
        q -= 1
        n = emit_compute(buf, n, I_STEP)
        n = _push(heads, nxt, prv, tag, b + (1 << q), q, buf, n, AB)
    return b, n


@njit(cache=True)
def buddy_free(heads, nxt, prv, tag, b, o, n_min, buf, n, AB):
    """Free block b of order o, coalescing with free buddies. Returns n (rows written)."""
    n = emit_compute(buf, n, I_STEP)
    top = heads.size
    while o + 1 < top:
        bud = b ^ (1 << o)
        if bud + (1 << o) > n_min:    # the buddy lies beyond the pool: no merge
            break
        n = emit_load(buf, n, AB[2] + bud, 1, DEP)
        if tag[bud] != o + 1:
            break
        n = _unlink(heads, nxt, prv, tag, bud, o, buf, n, AB)
        n = emit_compute(buf, n, I_STEP)
        if bud < b:
            b = bud
        o += 1
    n = _push(heads, nxt, prv, tag, b, o, buf, n, AB)
    return n


def order_of(slots: int) -> int:
    """The order of a fragment of `slots` slots (a power of two >= MIN_SLOTS)."""
    return (int(slots) // MIN_SLOTS).bit_length() - 1


__all__ = ["BLOCK_BYTES", "MIN_SLOTS", "buddy_alloc", "buddy_free", "buddy_init", "n_orders",
           "order_of"]
