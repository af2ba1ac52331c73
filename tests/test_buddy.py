"""The buddy allocator of SMASH V3's fragments: functional correctness (live blocks never
overlap, stay aligned and inside the pool, coalesce back to an empty pool), its operations in
the trace, and the fragment plans built from it."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.machine import trace as T
from simulator.programs import buddy
from simulator.programs import smash as S

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


def _plan(sizes, pool_slots=4096, frag_max=1024, batches=4, lf=2, cores=2):
    sizes = np.asarray(sizes, np.int64)
    fptr = np.concatenate([[0], np.cumsum(3 * sizes)])
    return S.plan_fragments(sizes, fptr, pool_slots, frag_max, lf, 64, batches, AB, cores=cores)


def test_fragment_plan_keeps_live_fragments_apart_and_waits_when_the_pool_is_full():
    rng = np.random.default_rng(3)
    sizes = rng.integers(0, 300, size=600)
    sizes[::37] = 500                          # fragments of 1024 slots: the pool holds 4
    plan = _plan(sizes)
    S.check_live_fragments(plan)
    got = plan.att_ok == 1
    assert set(plan.att_row[got]) == set(range(600))       # every row got its fragment once
    assert np.count_nonzero(got) == 600
    assert np.count_nonzero(~got) > 0                       # ... some after waiting
    # every allocation freed, once
    assert np.count_nonzero(np.diff(plan.fops_ptr)) == np.count_nonzero(plan.fs)


def test_overlapping_fragments_are_caught():
    """Fault injection: a plan whose fragments were all placed at offset 0 must fail the check."""
    plan = _plan(np.full(50, 40))
    plan.frag_off[:] = 0
    with pytest.raises(AssertionError, match="overlap"):
        S.check_live_fragments(plan)
