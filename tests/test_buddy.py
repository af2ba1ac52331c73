"""The buddy allocator of SMASH V3's fragments: functional correctness (live blocks never
overlap, stay aligned and inside the pool, coalesce back to an empty pool) and its operations
in the trace."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.machine import trace as T
from simulator.programs import buddy

HEADS, TAGS = 1 << 40, 2 << 40            # region ids 1 and 2 as fake addresses
AB = np.array([0, HEADS, TAGS], dtype=np.int64)


class Pool:
    def __init__(self, n_min):
        self.n_min = n_min
        no = buddy.n_orders(n_min)
        self.heads = np.zeros(no, np.int64)
        self.nxt, self.prv, self.tag = (np.zeros(n_min, np.int64) for _ in range(3))
        buddy.buddy_init(self.heads, self.nxt, self.prv, self.tag, n_min)
        self.buf = np.zeros((16 * no + 64, 2), np.int64)
        self.initial = self.heads.copy()

    def alloc(self, o):
        b, n = buddy.buddy_alloc(self.heads, self.nxt, self.prv, self.tag, o, self.buf, 0, AB)
        return b, self.buf[:n].copy()

    def free(self, b, o):
        n = buddy.buddy_free(self.heads, self.nxt, self.prv, self.tag, b, o, self.n_min, self.buf, 0, AB)
        return self.buf[:n].copy()

    def free_blocks(self):
        """(start, order) of every block on the free lists, walking them."""
        out = []
        for o, h in enumerate(self.heads):
            b = h
            while b != -1:
                out.append((int(b), o))
                b = self.nxt[b]
        return out


@settings(max_examples=60, deadline=None)
@given(n_min=st.integers(1, 200), script=st.lists(st.tuples(st.booleans(), st.integers(0, 7)),
                                                   max_size=80))
def test_live_blocks_never_overlap_and_everything_coalesces(n_min, script):
    p = Pool(n_min)
    live = {}
    for want_alloc, x in script:
        if want_alloc or not live:
            o = x % buddy.n_orders(n_min)
            b, _ = p.alloc(o)
            if b < 0:       # refused: then no free block of order >= o exists
                assert all(fo < o for _, fo in p.free_blocks())
                continue
            assert b % (1 << o) == 0 and b + (1 << o) <= n_min
            live[b] = o
        else:
            b = sorted(live)[x % len(live)]
            p.free(b, live.pop(b))
        # live blocks and free blocks tile part of the pool without overlap
        spans = sorted([(b, b + (1 << o)) for b, o in live.items()]
                       + [(b, b + (1 << o)) for b, o in p.free_blocks()])
        for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
            assert a1 <= b0
        assert sum(e - s for s, e in spans) == n_min
    for b, o in list(live.items()):
        p.free(b, o)
    assert np.array_equal(p.heads, p.initial)


def test_operations_touch_the_allocators_words():
    p = Pool(64)
    b, ops = p.alloc(0)                       # splits the 64-block down to order 0
    d = T.decode(ops)
    codes = set(int(c) for c in d["code"])
    assert T.ATOMIC in codes and T.LOAD in codes and T.STORE in codes
    regions = set(int(a) >> 40 for a in d["addr"][d["code"] != T.COMPUTE])
    assert regions == {0, 1, 2}               # pool headers, heads, tags
    assert np.count_nonzero(d["code"] == T.ATOMIC) >= 1 + 6   # the pop + a push per split
    free_ops = p.free(b, 0)
    assert np.count_nonzero(T.decode(free_ops)["code"] == T.ATOMIC) >= 6 + 1   # merges + push
    assert np.array_equal(p.heads, p.initial)


def test_a_full_pool_refuses_and_says_so_in_the_trace():
    p = Pool(8)
    b, _ = p.alloc(3)
    assert b == 0
    b2, ops = p.alloc(0)
    assert b2 == -1
    assert np.count_nonzero(T.decode(ops)["code"] == T.LOAD) == buddy.n_orders(8)   # every head read
