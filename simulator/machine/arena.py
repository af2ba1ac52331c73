"""The trace arena: where generated task traces wait for the engine, in bounded memory.

Traces go into one int64 array (`ops`, shape (rows, 2)) that the engine reads. A slice is live
while a queue holds its unit of work or a thread runs it; `compact` moves the live slices to the
front. The arena holds at most `budget` rows, plus what progress needs when every live slice is
already at its minimum (`MIN_SEGMENT` rows or one whole operation per running thread).

A unit whose trace does not fit keeps its first rows in memory and the rest goes to a spill file
on disk (unbuffered temporary files, deleted when closed), from which it comes back segment by
segment when the thread running it reaches the end of what is in memory: the engine returns
RET_SEGMENT and `fetch` brings the next segment of that thread and of the other threads whose
tasks go on, in one round trip. The row after such a slice's end is a copy of the task's next
row (the engine reads its flags to time the thread exactly as if the rest were there), so the
simulated result does not depend on the budget. Segments are cut between operations, never
between a DMA row and its element rows.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import tempfile

import numpy as np

from simulator.machine import engine as E
from simulator.machine.trace import DMA_COPY, DMA_ELEM, DMA_GATHER, OP_WIDTH

log = logging.getLogger(__name__)

MIN_SEGMENT = 64                  # rows a thread gets at least when memory is tight
ROW_BYTES = 8 * OP_WIDTH
SPILL_FILE_ROWS = 1 << 26         # a new spill file after this many rows (1 GiB)
_MAX_IO = 1 << 30                 # bytes per read / write call (the OS caps single calls)


class TraceArena:
    """The engine's trace rows (`ops`) within a budget of rows, spilling to disk beyond it.

    The array has `budget` rows (plus the slack that progress may need, see `begin`), allocated
    untouched, so only rows written are resident. Live slices take at most half of the budget
    (beyond it units are spilled, and segments come back in smaller pieces): the other half is
    where new rows are appended until the next compaction, which therefore moves at most one row
    per row appended."""

    def __init__(self, budget_rows: int, *, spill_dir: str | None = None) -> None:
        self.budget = max(int(budget_rows), 32 * MIN_SEGMENT)
        self.live_cap = self.budget // 2
        self.ops = np.zeros((0, OP_WIDTH), dtype=np.int64)
        self.used = 0
        self.peak_rows = 0                       # the most rows written (resident) in a phase
        self.spill = _Spill(spill_dir)
        # the spilled rest of a unit's trace, by handle (the engine's TI_MORE / QT_MORE)
        self.tails: dict[int, _Tail] = {}
        self._next_handle = 1
        self.spilled_rows = 0                    # statistics over the arena's life
        self.fetches = 0

    # ---- space ----------------------------------------------------------------------------------

    def begin(self, threads: int, entries: int) -> None:
        """A phase of `threads` threads and `entries` queue entries starts: an empty arena of
        budget rows, plus the slack that their minimum shares may need (untouched until written).
        A thread's fair share of the live rows is live_cap / threads."""
        self.reset()
        self.fair = max(MIN_SEGMENT, self.live_cap // max(int(threads), 1))
        slack = (int(threads) + int(entries)) * (MIN_SEGMENT + 2)
        self.ops = np.zeros((self.budget + slack, OP_WIDTH), dtype=np.int64)
        self.used = 0

    def reset(self) -> None:
        """A phase is over: free the rows, close the spill files."""
        self.tails.clear()
        self.ops = np.zeros((0, OP_WIDTH), dtype=np.int64)
        self.used = 0
        self.spill.close()

    def compact(self, th_i, q_i, q_task) -> int:
        self.used = int(E.compact_arena(self.ops, th_i, q_i, q_task))
        return self.used

    def live_rows(self, th_i, q_i, q_task) -> int:
        """Rows of the live slices (threads' unread rows, queued units), without compacting."""
        st = th_i[:, E.TI_STATE]
        run = (st == E.ST_RUN) | (st == E.ST_BARRIER)
        n = int((th_i[run, E.TI_END] - th_i[run, E.TI_PC] + (th_i[run, E.TI_MORE] != 0)).sum())
        j = queued_entries(q_i)
        return n + int((q_task[j, E.QT_END] - q_task[j, E.QT_START] + (q_task[j, E.QT_MORE] != 0)).sum())

    def reserve(self, n: int, th_i, q_i, q_task) -> int:
        """First row of n free rows at the arena's end: appended while the rows written stay
        within the budget, else after a compaction (into the slack if the live rows need it,
        growing the array only for an operation larger than the slack)."""
        if self.used + n <= self.budget:
            return self.used
        live = self.compact(th_i, q_i, q_task)
        if live + n > self.ops.shape[0]:         # beyond the slack: one huge operation
            new = np.zeros((live + n, OP_WIDTH), dtype=np.int64)
            new[:live] = self.ops[:live]
            self.ops = new
            log.debug("trace arena grown to %d rows", live + n)
        return live

    def _wrote(self, end: int) -> None:
        self.used = end
        self.peak_rows = max(self.peak_rows, end)

    # ---- placing new units ----------------------------------------------------------------------

    def place(self, ops: np.ndarray, bounds: np.ndarray, th_i, q_i, q_task):
        """Put units of work (unit u: ops[bounds[u]:bounds[u + 1]]) in the arena and return their
        (start, end, more) for the queue: whole if they fit the room left under the live rows'
        cap, else each keeps at most a fair share of rows (less if the room is short, at least
        MIN_SEGMENT) and spills the rest (`more`: its handle, 0 when whole)."""
        total = int(ops.shape[0])
        lo, hi = bounds[:-1], bounds[1:]
        room = self.live_cap - self.live_rows(th_i, q_i, q_task)
        if total <= room:
            base = self.reserve(total, th_i, q_i, q_task)
            self.ops[base:base + total] = ops
            self._wrote(base + total)
            return base + lo, base + hi, np.zeros(lo.size, dtype=np.int64)
        head = max(MIN_SEGMENT, min(self.fair, room // max(lo.size, 1) - 1))
        cut = _cuts(ops, lo, hi, lo + head)
        tail = cut < hi
        keep = cut - lo + tail                     # the head and, if it goes on, its next row
        n_keep = int(keep.sum())
        base = self.reserve(n_keep, th_i, q_i, q_task)
        first = np.concatenate([[0], np.cumsum(keep)[:-1]]).astype(np.int64)
        self.ops[base:base + n_keep] = ops[np.repeat(lo - first, keep) + np.arange(n_keep)]
        self._wrote(base + n_keep)
        more = np.zeros(lo.size, dtype=np.int64)
        for u in np.nonzero(tail)[0]:
            more[u] = self._next_handle
            self.tails[self._next_handle] = _Tail()
            self._next_handle += 1
            self._push(self.tails[int(more[u])], ops[cut[u]:hi[u]])
        return base + first, base + first + (cut - lo), more

    def _push(self, tail: "_Tail", rows: np.ndarray) -> None:
        """Rows that come before the rest of `tail` to the spill file."""
        tail.pieces.insert(0, [*self.spill.append(rows), rows.shape[0]])
        tail.rows += rows.shape[0]
        tail.first = _op_rows(rows[0])
        self.spilled_rows += rows.shape[0]

    def _evict(self, need: int, keep: np.ndarray, th_i, q_i, q_task) -> int:
        """Spill what is beyond a fair share of the largest slices in memory (running threads'
        and queued units', but not the threads in `keep`), largest first, until `need` rows are
        freed. The row after a shortened slice is its next row already. Returns the rows freed."""
        st = th_i[:, E.TI_STATE]
        tid = np.nonzero((st == E.ST_RUN) | (st == E.ST_BARRIER))[0]
        tid = tid[~np.isin(tid, keep)]
        j = queued_entries(q_i)
        lo = np.concatenate([th_i[tid, E.TI_PC], q_task[j, E.QT_START]])
        hi = np.concatenate([th_i[tid, E.TI_END], q_task[j, E.QT_END]])
        freed = 0
        for k in np.argsort(lo - hi, kind="stable"):            # largest first
            if freed >= need or hi[k] - lo[k] <= 2 * self.fair:
                break
            a, b = int(lo[k]), int(hi[k])
            cut = a + int(_cuts(self.ops[a:b], np.array([0]), np.array([b - a]), np.array([self.fair]))[0])
            if cut >= b:
                continue
            arr, row, c_end, c_more = ((th_i, tid[k], E.TI_END, E.TI_MORE) if k < tid.size
                                       else (q_task, j[k - tid.size], E.QT_END, E.QT_MORE))
            if arr[row, c_more] == 0:
                arr[row, c_more] = self._next_handle
                self.tails[self._next_handle] = _Tail()
                self._next_handle += 1
            self._push(self.tails[int(arr[row, c_more])], self.ops[cut:b])
            arr[row, c_end] = cut
            freed += b - cut
        return freed

    # ---- bringing spilled rows back -------------------------------------------------------------

    def fetch(self, tid: int, th_i, q_i, q_task) -> None:
        """Thread `tid` reached the end of its rows in memory: top it up, and the other threads
        whose tasks go on and have less than half a share left, to a share of rows each. A share
        is the room left in memory over the threads whose tasks go on, at least a fair share
        (live_cap / threads). Topping up (not adding a share to what is left) keeps the running
        threads' rows within the live cap, so segments stay large and a round trip moves at most
        as many unread rows as it brings. When the room is short, slices held beyond two fair
        shares are spilled; segments shrink (to MIN_SEGMENT rows) only if that is not enough."""
        st = th_i[:, E.TI_STATE]
        going = np.nonzero((th_i[:, E.TI_MORE] != 0) & ((st == E.ST_RUN) | (st == E.ST_BARRIER)))[0]
        left = th_i[going, E.TI_END] - th_i[going, E.TI_PC]
        room = self.live_cap - self.live_rows(th_i, q_i, q_task)
        share = max(self.fair, room // going.size)
        pick = (2 * left < share) | (going == tid)
        going, left = going[pick], left[pick]
        tails = [self.tails[int(h)] for h in th_i[going, E.TI_MORE]]
        want = np.minimum(np.maximum(share - left, MIN_SEGMENT), [t.rows for t in tails])
        need = int(want.sum())                    # moving a thread's unread rest adds no live rows
        if room < need:
            room += self._evict(need - room, going, th_i, q_i, q_task)
        if room < need:
            want = np.maximum(want * max(room, 0) // max(need, 1), MIN_SEGMENT)
        seg = np.minimum(np.maximum(want, [t.first for t in tails]), [t.rows for t in tails])
        at = self.reserve(int((left + seg + 1).sum()), th_i, q_i, q_task)
        for k in range(going.size):
            at = self._extend(int(going[k]), int(seg[k]), tails[k], at, th_i)
        self._wrote(at)
        self.fetches += 1

    def _extend(self, tid: int, seg: int, tail: "_Tail", at: int, th_i) -> int:
        """Thread tid's rows in memory from row `at`: its unread rest, `seg` more rows of its
        tail (fewer, to end on an operation), and the copy of the next row if it goes on.
        Returns the first row after them."""
        pc, end = th_i[tid, E.TI_PC], th_i[tid, E.TI_END]
        left = end - pc
        self.ops[at:at + left] = self.ops[pc:end]
        n = min(seg + 1, tail.rows)                # the segment and the row after it
        got = self.ops[at + left:at + left + n]
        self._peek(tail, got)
        if n > seg:                                # it goes on: end before an operation starts
            starts = np.nonzero((got[1:, 0] & 0xFF) != DMA_ELEM)[0]
            if starts.size == 0:
                raise AssertionError("spilled trace: no whole operation in a segment")
            seg = int(starts[-1]) + 1
        th_i[tid, E.TI_PC] = at
        th_i[tid, E.TI_END] = at + left + seg
        self._advance(tail, seg)
        if tail.rows == 0:
            del self.tails[int(th_i[tid, E.TI_MORE])]
            th_i[tid, E.TI_MORE] = 0
            return at + left + seg
        tail.first = _op_rows(got[seg])
        return at + left + seg + 1                 # got[seg] is the next row's copy

    def _peek(self, tail: "_Tail", out: np.ndarray) -> None:
        """The first rows of a tail into `out`, across its pieces."""
        k = 0
        for f, pos, rows in tail.pieces:
            if k >= out.shape[0]:
                break
            m = min(rows, out.shape[0] - k)
            self.spill.read(f, pos, out[k:k + m])
            k += m

    def _advance(self, tail: "_Tail", n: int) -> None:
        """Drop the first n rows of a tail (they are in memory now), freeing their disk space."""
        tail.rows -= n
        while n > 0:
            piece = tail.pieces[0]
            m = min(n, piece[2])
            self.spill.discard(piece[0], piece[1], m)
            piece[1] += m
            piece[2] -= m
            n -= m
            if piece[2] == 0:
                self.spill.release(piece[0])
                tail.pieces.pop(0)


class _Tail:
    """The spilled rest of a unit's trace: pieces [file, row position, rows] in order, their
    rows, and the rows of the operation they start with."""
    __slots__ = ("pieces", "rows", "first")

    def __init__(self) -> None:
        self.pieces: list[list[int]] = []
        self.rows = 0
        self.first = 1


def queued_entries(q_i: np.ndarray) -> np.ndarray:
    """Indices into q_task of the units waiting in the queues."""
    cnt = q_i[:, E.QI_COUNT]
    total = int(cnt.sum())
    qq = np.repeat(np.arange(cnt.size), cnt)
    e = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return q_i[qq, E.QI_OFF] + (q_i[qq, E.QI_HEAD] + e) % q_i[qq, E.QI_CAP]


def _op_rows(row: np.ndarray) -> int:
    """Rows of the operation a row starts: 1 + its elements for a DMA gather, 2 for a copy."""
    w0 = int(row[0])
    code = w0 & 0xFF
    if code == DMA_GATHER:
        return 1 + ((w0 >> 16) & 0xFFFFFFFF)
    return 2 if code == DMA_COPY else 1


def _cuts(ops: np.ndarray, lo: np.ndarray, hi: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Where each unit's head ends (an index into ops, lo < cut <= hi): at `want`, moved back to
    the start of the operation it falls in, or past that operation when it is the unit's first
    (a DMA gather longer than the head). Only cuts that land on a DMA element row need a look
    at the rows around them."""
    cut = np.minimum(want, hi).astype(np.int64)
    inside = np.nonzero(cut < hi)[0]
    elem = inside[(ops[cut[inside], 0] & 0xFF) == DMA_ELEM]
    for u in elem:
        a, w, b = int(lo[u]), int(cut[u]), int(hi[u])
        starts = np.nonzero((ops[a + 1:w, 0] & 0xFF) != DMA_ELEM)[0]
        if starts.size:
            cut[u] = a + 1 + int(starts[-1])
        else:
            after = np.nonzero((ops[w:b, 0] & 0xFF) != DMA_ELEM)[0]
            cut[u] = w + int(after[0]) if after.size else b
    return cut


def _hole_puncher():
    """fallocate(PUNCH_HOLE | KEEP_SIZE) from the C library on Linux, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fallocate = libc.fallocate
    except (OSError, AttributeError):
        return None
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]

    def punch(fd: int, offset: int, length: int) -> None:
        fallocate(fd, 0x02 | 0x01, offset, length)      # FALLOC_FL_PUNCH_HOLE | KEEP_SIZE
    return punch


_punch_hole = _hole_puncher()


class _Spill:
    """Rows appended to unbuffered temporary files (deleted when closed), read back by position.
    A file takes new rows until it holds SPILL_FILE_ROWS; it is closed when nothing in it is
    still to be read."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory
        self.files: dict[int, list] = {}            # id -> [file, rows written, live tails]
        self.current = -1
        self._next = 0

    def append(self, rows: np.ndarray) -> tuple[int, int]:
        """Write rows at the end of the current file; return (file id, row position)."""
        cur = self.files.get(self.current)
        if cur is None or cur[1] >= SPILL_FILE_ROWS:
            if not self.files:
                log.info("trace arena: spilling to temporary files in %s",
                         self.directory or tempfile.gettempdir())
            self.current = self._next
            self._next += 1
            try:
                f = tempfile.TemporaryFile(dir=self.directory, buffering=0)
            except OSError as exc:
                raise OSError(f"cannot create a trace spill file in "
                              f"{self.directory or tempfile.gettempdir()}: {exc.strerror or exc}") from exc
            cur = self.files[self.current] = [f, 0, 0]
        view = memoryview(np.ascontiguousarray(rows)).cast("B")
        at = cur[1]
        done = 0
        try:
            cur[0].seek(at * ROW_BYTES)
            while done < len(view):
                done += cur[0].write(view[done:done + _MAX_IO])
        except OSError as exc:
            raise OSError(f"cannot write the trace spill file in "
                          f"{self.directory or tempfile.gettempdir()}: {exc.strerror or exc} "
                          f"(set TMPDIR to a larger disk)") from exc
        cur[1] += rows.shape[0]
        cur[2] += 1
        return self.current, at

    def read(self, f: int, pos: int, out: np.ndarray) -> None:
        """Fill `out` (contiguous rows) with the rows of file f from row position `pos`."""
        view = memoryview(out).cast("B")
        file = self.files[f][0]
        file.seek(pos * ROW_BYTES)
        done = 0
        while done < len(view):
            got = file.readinto(view[done:done + _MAX_IO])
            if not got:
                raise OSError("trace spill file: short read")
            done += got

    def discard(self, f: int, pos: int, rows: int) -> None:
        """Rows pos..pos+rows-1 of file f will not be read again: free their disk blocks (whole
        4 KiB blocks inside the range; a no-op where the OS cannot punch holes)."""
        lo = -(-pos * ROW_BYTES // 4096) * 4096
        hi = (pos + rows) * ROW_BYTES // 4096 * 4096
        if hi > lo and _punch_hole is not None:
            _punch_hole(self.files[f][0].fileno(), lo, hi - lo)

    def release(self, f: int) -> None:
        """One tail of file f is fully read: close the file when it was the last."""
        entry = self.files[f]
        entry[2] -= 1
        if entry[2] == 0:
            if f == self.current:
                entry[0].truncate(0)
                entry[1] = 0
            else:
                entry[0].close()
                del self.files[f]

    def close(self) -> None:
        for entry in self.files.values():
            entry[0].close()
        self.files.clear()
        self.current = -1
