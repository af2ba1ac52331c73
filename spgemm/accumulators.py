"""Accumulators for SpGEMM, as small ``@njit`` building blocks over arrays.

An accumulator merges the partial products ``(column, value)`` of one output row into that row's
entries. Three families, written once and shared by every kernel that merges partial products
(row-wise Gustavson, the outer product's merge phase) and by the simulator's kernel programs:

* **dense** (sparse accumulator, SPA; Gilbert, Moler & Schreiber 1992): an array indexed by
  column. ``spa_insert`` appends a new column straight to the output and remembers where it was
  written (``pos``), so later products for that column update the output in place and no gather
  pass is needed.
* **hash**: open addressing with linear probing in a power-of-two table sized from the row's work
  (``hash_table_size``), the hash function a parameter (``hash_id``): multiplicative (Fibonacci)
  hashing, or the plain low bits of the key (the key modulo the power-of-two size, i.e. a mask).
  ``hash_probe`` finds or claims a key's slot and counts probes. Two ways to keep the values:
  ``hash_insert`` accumulates them in the table (``vals``; ``hash_gather`` then collects the
  row) -- the textbook form a simulated program mirrors; ``hash_accumulate`` keeps in the table
  the output position of each key and accumulates straight into the output like the dense
  accumulator (no gather scan; the native kernels use it).
* **sort**: partial products appended to a buffer, sorted by column, adjacent duplicates summed.

Every function takes the arrays it touches as arguments (no module state apart from the
mathematical constants below), so the same code runs inside a parallel driver on per-thread
slices of scratch arrays. Scratch conventions:

``pos``      uint64[n_col], zero-initialised. ``pos[j] > row_start`` means column ``j`` is
             already in the current row, at output position ``pos[j] - 1``. Output positions
             only grow, so the array never needs clearing between rows.
``keys``     int64[table size], every slot ``EMPTY`` between rows.
``tmp_keys`` uint64 and ``tmp_vals`` (output dtype): sort buffers, as long as the run sorted.
``work``     int64[WORK_SIZE]: quicksort's explicit stack or the radix sort's bucket counts.

Every function here is a *leaf*: compiled without numba's reference counting (``_nrt=False``),
never allocating. A kernel calling a refcounted jitted function once per partial product pays
atomic incref/decref pairs on every array argument (measured 18x slower on the dense row-wise
kernel: numba's refcount pruning does not remove them after inlining). For the same reason the
sorts are our own: numba's ``ndarray.sort`` allocates, and a recursive jitted function cannot be
cached (a cached caller of one crashes when loaded). Pairs are sorted by an LSD radix sort on
the column bits (keys are bounded by n_col): 2-3 linear passes instead of ~log2(n) levels of
unpredictable comparisons.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from spgemm._intrinsics import prefetch

#: Decorator of the building blocks: cached, no reference counting (see the module docstring).
leaf = njit(cache=True, _nrt=False)

#: Marker of a free hash-table slot (keys are column indices, never negative).
EMPTY = -1

#: Hash functions selectable by ``hash_id``.
HASH_FUNCTIONS: dict[str, int] = {"fibonacci": 0, "mod": 1}
HASH_FIBONACCI = 0
HASH_MOD = 1

#: Entries of the int64 ``work`` scratch of the sorts: quicksort's stack (2 per level,
#: <= 64 levels) or the radix sort's bucket counts (8-bit digits).
WORK_SIZE = 256

# 2**64 / golden ratio: Knuth's multiplicative ("Fibonacci") hashing constant.
_FIB = np.uint64(0x9E3779B97F4A7C15)
_ONE = np.uint64(1)
_SHIFT32 = np.uint64(32)
_RADIX_BITS = np.uint64(8)
_RADIX_MASK = np.uint64(255)
# Runs up to this length are sorted by insertion sort.
_SMALL_SORT = 24
# How many entries of A ahead the row kernels prefetch B's row ranges (2x) and rows (1x).
PREFETCH_DISTANCE = np.uint64(4)


# --------------------------------------------------------------------------------------------
# streaming B's rows
# --------------------------------------------------------------------------------------------
@leaf
def prefetch_b_row(a_indices, jj, last, b_start, b_indices, b_data):
    """Prefetch what the row kernels read a few entries of A ahead of ``jj``.

    Gustavson's loop reads, for each stored A[i, k], B's row range then B's row k: two dependent
    random accesses, latency-bound when rows are short. Entries of A are visited in storage
    order, so ``a_indices[jj + d]`` says which B row comes next: prefetch its range at distance
    2d and its entries at distance d. ``last`` = len(a_indices) - 1 (uint64). Measured 6-19 %
    faster on large graphs with short rows (ct2010, ca-CondMat, er), within noise elsewhere.
    """
    prefetch(b_start, a_indices[min(jj + PREFETCH_DISTANCE + PREFETCH_DISTANCE, last)])
    k = a_indices[min(jj + PREFETCH_DISTANCE, last)]
    lo = b_start[k]
    prefetch(b_indices, lo)
    prefetch(b_data, lo)


# --------------------------------------------------------------------------------------------
# dense accumulator (SPA)
# --------------------------------------------------------------------------------------------
@leaf
def spa_insert(pos, c_indices, c_data, row_start, p, key, val):
    """Add ``val`` at column ``key`` of the row whose output starts at ``row_start``.

    pos        uint64[n_col]  position + 1 of each column in the output (see module docstring)
    c_indices  uint[*]        output column indices; a new column is appended at ``p``
    c_data     value[*]       output values
    row_start, p              uint64: start of the current row, next free output slot
    Returns the next free slot (``p`` or ``p + 1``). O(1).
    """
    q = pos[key]
    if q > row_start:
        c_data[q - _ONE] += val
        return p
    c_indices[p] = key
    c_data[p] = val
    p1 = p + _ONE
    pos[key] = p1
    return p1


@leaf
def spa_sort_row(pos, c_indices, c_data, row_start, p, n_col, tmp_keys, tmp_vals, work):
    """Sort a dense-accumulator row ``c_indices/c_data[row_start:p]`` by column.

    Rows denser than 1/16 of n_col are sorted by scanning ``pos`` in column order, others by
    ``sort_pairs``. tmp_keys (uint64) and tmp_vals (value) hold >= p - row_start entries.
    """
    n = np.int64(p - row_start)
    if n < 2:
        return
    if n * 16 > n_col:
        for t in range(n):
            tmp_vals[t] = c_data[row_start + np.uint64(t)]
        q = row_start
        for j in range(n_col):
            pj = pos[j]
            if pj > row_start:
                c_indices[q] = j
                c_data[q] = tmp_vals[pj - _ONE - row_start]
                q += _ONE
        return
    sort_pairs(c_indices, c_data, row_start, p, n_col, tmp_keys, tmp_vals, work)


# --------------------------------------------------------------------------------------------
# hash accumulator
# --------------------------------------------------------------------------------------------
@leaf
def hash_table_size(work, factor):
    """Smallest power of two >= ``factor * work`` (and >= 2): a table with load factor <= 1/factor.

    ``work`` bounds the number of distinct keys (e.g. ``min(row_flops, n_col)``).
    """
    need = max(np.int64(factor) * np.int64(work), np.int64(2))
    size = np.int64(2)
    while size < need:
        size *= 2
    return size


@leaf
def hash_slot(key, mask, hash_id):
    """Home slot of ``key`` in a table of ``mask + 1`` (a power of two) slots (uint64).

    hash_id 0 (fibonacci): the top log2(size) bits of ``key * 0x9E3779B97F4A7C15 mod 2**64``
              (Knuth's multiplicative hashing; computed as ``((h >> 32) * size) >> 32``, so
              tables up to 2**32 slots).
    hash_id 1 (mod): ``key & mask``, the key modulo the size (its low bits).
    """
    k = np.uint64(key)
    if hash_id == HASH_FIBONACCI:
        return (((k * _FIB) >> _SHIFT32) * (mask + _ONE)) >> _SHIFT32
    return k & mask


@leaf
def hash_probe(keys, mask, key, hash_id):
    """Find ``key`` in ``keys`` or claim the first free slot for it (linear probing).

    keys  int64[mask + 1]  the table; ``EMPTY`` marks a free slot; must not be full
    mask  uint64           table size - 1 (size a power of two)
    Returns ``(slot, n_probes, inserted)``: the key's slot (uint64), the slots examined (>= 1;
    n_probes - 1 collisions) and whether the key was new (its slot was claimed by writing it).
    """
    slot = hash_slot(key, mask, hash_id)
    n_probes = 1
    while True:
        k = keys[slot]
        if k == key:
            return slot, n_probes, False
        if k == EMPTY:
            keys[slot] = key
            return slot, n_probes, True
        slot = (slot + _ONE) & mask
        n_probes += 1


@leaf
def hash_insert(keys, vals, mask, key, val, hash_id):
    """Accumulate ``val`` at ``key`` in the table: ``vals[slot] += val`` (``=`` for a new key).

    keys int64[size], vals value[size] (same power-of-two size), mask = size - 1 (uint64).
    Returns the number of probes (1 = no collision).
    """
    slot, n_probes, inserted = hash_probe(keys, mask, key, hash_id)
    if inserted:
        vals[slot] = val
    else:
        vals[slot] += val
    return n_probes


@leaf
def hash_gather(keys, vals, size, c_indices, c_data, p):
    """Move the occupied slots of ``keys/vals[:size]`` to the output from ``p`` (slot order)
    and free them. Returns the next free output position. O(size)."""
    for s in range(size):
        k = keys[s]
        if k != EMPTY:
            c_indices[p] = k
            c_data[p] = vals[s]
            p += _ONE
            keys[s] = EMPTY
    return p


@leaf
def hash_accumulate(keys, slot_pos, mask, key, val, hash_id, c_indices, c_data, p):
    """Add ``val`` at column ``key`` of the current output row, found through the hash table.

    keys      int64[size]   the table (EMPTY = free), size a power of two, mask = size - 1
    slot_pos  uint64[size]  output position of each slot's key
    c_indices, c_data       the output; a new key is appended at ``p``
    Returns the next free output position. Clear the table with ``hash_clear`` after the row.
    """
    slot, n_probes, inserted = hash_probe(keys, mask, key, hash_id)
    if inserted:
        slot_pos[slot] = p
        c_indices[p] = key
        c_data[p] = val
        return p + _ONE
    c_data[slot_pos[slot]] += val
    return p


@leaf
def hash_clear(keys, size):
    """Free every slot of ``keys[:size]`` (a branch-free fill, O(size))."""
    for s in range(size):
        keys[s] = EMPTY


# --------------------------------------------------------------------------------------------
# sort accumulator and sorting helpers
# --------------------------------------------------------------------------------------------
@leaf
def sort_append(keys, vals, n, key, val):
    """Append partial product ``(key, val)`` as item ``n`` of the sort buffer; returns n + 1."""
    keys[n] = key
    vals[n] = val
    return n + 1


@leaf
def sort_merge(keys, vals, n, n_col, c_indices, c_data, p, tmp_keys, tmp_vals, work):
    """Sort the ``n`` buffered partial products by column and write their sums from ``p``.

    keys uint64[>= n] (columns < n_col), vals value[>= n]; tmp_keys, tmp_vals the same sizes;
    work int64[WORK_SIZE]. Output columns are sorted and unique. Returns the next free output
    position. O(n * passes), passes = ceil(log2(n_col) / 8).
    """
    if n == 0:
        return p
    sort_pairs(keys, vals, 0, n, n_col, tmp_keys, tmp_vals, work)
    last = keys[0]
    acc = vals[0]
    for t in range(1, n):
        col = keys[t]
        if col == last:
            acc += vals[t]
        else:
            c_indices[p] = last
            c_data[p] = acc
            p += _ONE
            last = col
            acc = vals[t]
    c_indices[p] = last
    c_data[p] = acc
    return p + _ONE


@leaf
def _insertion_sort_pairs(keys, data, start, stop):
    for t in range(start + 1, stop):
        k = keys[t]
        v = data[t]
        u = t
        while u > start and keys[u - 1] > k:
            keys[u] = keys[u - 1]
            data[u] = data[u - 1]
            u -= 1
        keys[u] = k
        data[u] = v


@leaf
def sort_pairs(keys, data, start, stop, n_col, tmp_keys, tmp_vals, work):
    """Sort ``keys[start:stop]`` ascending (stable), permuting ``data[start:stop]`` alongside.

    keys are below n_col. tmp_keys (uint64) and tmp_vals (data's dtype) are scratch of at least
    ``stop - start`` entries, work int64[WORK_SIZE]. Short runs: insertion sort in place;
    longer: LSD radix sort with 8-bit digits (a digit shared by every key costs no move).
    O(n * ceil(log2(n_col) / 8)).
    """
    start = np.int64(start)
    stop = np.int64(stop)
    n = stop - start
    if n < 2:
        return
    if n <= _SMALL_SORT:
        _insertion_sort_pairs(keys, data, start, stop)
        return
    top = np.uint64(max(n_col - 1, 1))
    shift = np.uint64(0)
    in_tmp = False  # where the current order lives: keys/data[start:stop] or tmp[:n]
    while (top >> shift) > 0:
        for b in range(WORK_SIZE):
            work[b] = 0
        if in_tmp:
            first = tmp_keys[0]
            for t in range(n):
                work[(tmp_keys[t] >> shift) & _RADIX_MASK] += 1
        else:
            first = np.uint64(keys[start])
            for t in range(start, stop):
                work[(np.uint64(keys[t]) >> shift) & _RADIX_MASK] += 1
        if work[(first >> shift) & _RADIX_MASK] == n:
            shift += _RADIX_BITS  # every key has this digit: nothing to move
            continue
        total = np.int64(0)
        for b in range(WORK_SIZE):
            c = work[b]
            work[b] = total
            total += c
        if in_tmp:
            for t in range(n):
                k = tmp_keys[t]
                d = (k >> shift) & _RADIX_MASK
                q = work[d]
                work[d] = q + 1
                keys[start + q] = k
                data[start + q] = tmp_vals[t]
        else:
            for t in range(start, stop):
                k = np.uint64(keys[t])
                d = (k >> shift) & _RADIX_MASK
                q = work[d]
                work[d] = q + 1
                tmp_keys[q] = k
                tmp_vals[q] = data[t]
        in_tmp = not in_tmp
        shift += _RADIX_BITS
    if in_tmp:
        for t in range(n):
            keys[start + t] = tmp_keys[t]
            data[start + t] = tmp_vals[t]


@leaf
def sort_keys(keys, start, stop, work):
    """Sort ``keys[start:stop]`` ascending in place (work int64[WORK_SIZE])."""
    quicksort(keys, start, stop, work)


@leaf
def _insertion_sort(a, lo, hi):
    for t in range(lo + 1, hi):
        x = a[t]
        u = t
        while u > lo and a[u - 1] > x:
            a[u] = a[u - 1]
            u -= 1
        a[u] = x


@leaf
def quicksort(a, lo, hi, stack):
    """Sort ``a[lo:hi]`` ascending in place without allocating or recursing.

    Quicksort with a median-of-three pivot and Hoare partitioning; the larger side is pushed on
    ``stack`` (int64[>= 128]) and the smaller one sorted first, so at most log2(n) levels are
    pending; runs up to 24 items are finished by insertion sort. O(n log n) expected.
    """
    top = 0
    lo = np.int64(lo)
    hi = np.int64(hi)
    while True:
        while hi - lo > _SMALL_SORT:
            mid = lo + (hi - lo) // 2
            last = hi - 1
            if a[mid] < a[lo]:
                a[mid], a[lo] = a[lo], a[mid]
            if a[last] < a[mid]:
                a[last], a[mid] = a[mid], a[last]
                if a[mid] < a[lo]:
                    a[mid], a[lo] = a[lo], a[mid]
            pivot = a[mid]
            i = lo
            j = last
            while True:
                while a[i] < pivot:
                    i += 1
                while pivot < a[j]:
                    j -= 1
                if i >= j:
                    break
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
            # a[lo:j+1] <= pivot <= a[j+1:hi]
            if j + 1 - lo < hi - (j + 1):
                stack[top] = j + 1
                stack[top + 1] = hi
                hi = j + 1
            else:
                stack[top] = lo
                stack[top + 1] = j + 1
                lo = j + 1
            top += 2
        _insertion_sort(a, lo, hi)
        if top == 0:
            return
        top -= 2
        lo = stack[top]
        hi = stack[top + 1]
