"""What every kernel program shares: knobs, operands, the layout of C, counters, trace growth.

A kernel program maps one SpGEMM algorithm onto the machine model: it registers DRAM and
scratchpad regions sized from the operands, then runs phases whose task generators (numba)
*execute* their share of C = A·B functionally and emit the operation trace of what an in-order
core would do (see `simulator.machine.trace`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import scipy.sparse as sp
from numba import njit

import spgemm
from simulator.machine.trace import OP_WIDTH, emit_load, emit_store

# Byte sizes of the arrays as laid out in the simulated memory (a reconstruction: 8-byte row
# pointers and values, 4-byte column indices; a partial product record is (row, col, value)).
PTR_BYTES = 8
IDX_BYTES = 4
VAL_BYTES = 8
SLOT_BYTES = 16          # hash-table slot: 8-byte key + 8-byte value
RECORD_BYTES = 16        # outer product partial product: 4-byte row, 4-byte column, 8-byte value

# Counters a task generator returns alongside its trace (int64 array, indices below).
CT_PROBES = 0            # hash-table slots examined
CT_COLLISIONS = 1        # probes beyond the first
CT_SPILL_ROWS = 2        # rows whose table did not fit its scratchpad space (went to DRAM)
CT_SPILL_PRODUCTS = 3    # partial products inserted into spilled tables
CT_MULADDS = 4           # multiply-adds executed
CT_NNZ = 5               # output entries written
CT_PP_WRITE_BYTES = 6    # outer product: partial-product bytes written
CT_PP_READ_BYTES = 7     # outer product: partial-product bytes read back
CT_SLOTS_SCANNED = 8     # hash-table slots scanned by write-back
CT_INTERSECTIONS = 9     # inner product: (row, column) dot products attempted
CT_CAS_RETRIES = 10      # shared tables: claims (CAS or lock) that found another key in the slot
CT_SPILLED_ENTRIES = 11  # entries placed in a DRAM overflow table (one by one)
CT_FRAG_ALLOCS = 12      # fragments allocated by the buddy allocator
CT_FRAG_FREES = 13       # fragments freed
CT_FRAG_WAITS = 14       # allocations that found no free block: the row waits for the next batch
CT_LOCKS = 15            # lock acquisitions (atomics=false on a shared table)
CT_WINDOWS = 16          # windows of rows run by a core
CT_N = 17
COUNTER_NAMES = ("hash_probes", "hash_collisions", "spilled_rows", "spilled_products", "muladds",
                 "nnz_written", "partial_bytes_written", "partial_bytes_read",
                 "hash_slots_scanned", "dot_products", "cas_retries", "spilled_entries",
                 "fragment_allocs", "fragment_frees", "fragment_waits", "lock_acquires", "windows")

# Instruction costs of an in-order core (a reconstruction; not public): counted per event.
I_ROW = 8         # per task / row: loop setup, pointer arithmetic
I_NNZ_A = 3       # per nonzero of A: index, value, pointer arithmetic
I_MAC = 3         # per multiply-add: multiply, index arithmetic, loop
I_PROBE = 3       # per hash probe: hash, mask, compare
I_SCAN = 1        # per table slot scanned at write-back
I_SORT = 2        # per element per sort pass (n log2 n)
I_CMP = 2         # per step of a two-pointer index intersection
I_STORE_OUT = 1   # per output entry written
I_WB = 3          # per entry of a row-tagged table at write-back: split the key, address C
I_SCAN_ROW = 2    # per row of a scan / prefix sum pass

CHUNK = 8         # elements per streamed load of B (8 indices = 32 B, 8 values = 64 B)
LINE = 64         # bytes per streamed load or store of a table / C / records


@dataclass(frozen=True)
class Knob:
    """One tunable of a kernel: its default, the allowed choices (or a type) and a help line."""
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None

    def parse(self, name: str, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if isinstance(self.default, bool):
                low = text.lower()
                if low in ("1", "true", "yes", "on"):
                    value = True
                elif low in ("0", "false", "no", "off"):
                    value = False
                else:
                    raise ValueError(f"knob {name}: expected true or false, got {value!r}")
            elif isinstance(self.default, int):
                try:
                    value = int(text)
                except ValueError:
                    raise ValueError(f"knob {name}: expected an integer, got {value!r}") from None
            else:
                value = text
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"knob {name}: {value!r} is not one of {', '.join(map(str, self.choices))}")
        if isinstance(self.default, bool) != isinstance(value, bool):
            raise ValueError(f"knob {name}: expected true or false, got {value!r}")
        if isinstance(self.default, int) and not isinstance(self.default, bool):
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"knob {name}: expected a non-negative integer, got {value!r}")
        return value


@dataclass(frozen=True)
class Kernel:
    """A kernel program: a name, knobs with defaults (a preset fixes some) and a runner.
    checks_rows: the runner takes `check=` (a `spgemm.RowCheck`), checks C's rows with it as
    they are finished and gives their host memory back (`KernelOutput.checked`)."""
    name: str
    description: str
    knobs: Mapping[str, Knob]
    run: Callable[..., "KernelOutput"]
    presets: Mapping[str, Any] = field(default_factory=dict)
    checks_rows: bool = False

    def defaults(self) -> dict[str, Any]:
        d = {k: v.default for k, v in self.knobs.items()}
        d.update(self.presets)
        return d

    def resolve_knobs(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults, then the preset, then `overrides` (strings parsed), validated."""
        out = self.defaults()
        for key, value in (overrides or {}).items():
            if key not in self.knobs:
                raise ValueError(f"kernel {self.name}: unknown knob {key!r} "
                                 f"(known: {', '.join(self.knobs)})")
            out[key] = self.knobs[key].parse(key, value)
        return out


@dataclass
class Operands:
    """Canonical operands (duplicates summed, indices sorted, int64 host arrays) and the
    symbolic pass, with C's row offsets."""
    A: sp.csr_array
    B: sp.csr_array
    sym: Any                     # spgemm.Symbolic
    c_ptr: np.ndarray            # int64[n_row + 1]

    @classmethod
    def build(cls, A: Any, B: Any) -> "Operands":
        A = _canonical(A)
        B = _canonical(B)
        if A.shape[1] != B.shape[0]:
            raise ValueError(f"shapes {A.shape} and {B.shape} do not multiply")
        sym = spgemm.symbolic(A, B)
        c_ptr = np.zeros(A.shape[0] + 1, dtype=np.int64)
        np.cumsum(sym.row_nnz, out=c_ptr[1:])
        return cls(A, B, sym, c_ptr)

    @property
    def flops(self) -> int:
        return int(self.sym.flops)

    @property
    def nnz_c(self) -> int:
        return int(self.sym.nnz)


def _canonical(M: Any) -> sp.csr_array:
    M = sp.csr_array(M, copy=True)
    M.sum_duplicates()
    M.sort_indices()
    M.indptr = M.indptr.astype(np.int64)
    M.indices = M.indices.astype(np.int64)
    M.data = M.data.astype(np.float64)
    return M


def csr_arrays(M: sp.csr_array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.ascontiguousarray(M.indptr, dtype=np.int64),
            np.ascontiguousarray(M.indices, dtype=np.int64),
            np.ascontiguousarray(M.data, dtype=np.float64))


@dataclass
class KernelOutput:
    """What a kernel program leaves behind: C and its counters.

    C is CSR (`c_ptr` of n_row + 1 row pointers) or, when `c_end` is given, 4-array CSR: row i
    holds `c_idx/c_val[c_ptr[i]:c_end[i]]` (`c_ptr` then has n_row row starts), rows in any
    order and possibly with gaps between them (rows claimed by an atomic allocator).
    checked: C's rows were checked as they were finished (`Kernel.checks_rows`), and the
    host memory of those checked given back: C's arrays then read zeros there."""
    c_ptr: np.ndarray
    c_idx: np.ndarray
    c_val: np.ndarray
    counters: np.ndarray
    c_end: np.ndarray | None = None
    checked: bool = False

    def matrix(self, shape: tuple[int, int]) -> sp.csr_array:
        if self.c_end is None:
            return sp.csr_array((self.c_val, self.c_idx, self.c_ptr), shape=shape)
        start = np.asarray(self.c_ptr[:shape[0]], dtype=np.int64)
        lens = np.asarray(self.c_end[:shape[0]], dtype=np.int64) - start
        if np.any(lens < 0):
            raise AssertionError("4-array CSR: a row ends before it starts")
        ptr = np.zeros(shape[0] + 1, dtype=np.int64)
        np.cumsum(lens, out=ptr[1:])
        take = np.repeat(start - ptr[:-1], lens) + np.arange(int(ptr[-1]))
        return sp.csr_array((self.c_val[take], self.c_idx[take], ptr), shape=shape)

    def counter_dict(self) -> dict[str, int]:
        return {name: int(self.counters[i]) for i, name in enumerate(COUNTER_NAMES)}


def nbytes(n: int, elem: int) -> int:
    """A region size for n elements (at least one element: regions must not be empty)."""
    return max(int(n), 1) * elem


def pow2_floor(x: int) -> int:
    return 1 << (max(int(x), 1).bit_length() - 1)


def hash_slots(need: np.ndarray, load_factor: int, minimum: int = 2) -> np.ndarray:
    """Power-of-two table sizes >= load_factor x need (and >= minimum), vectorized
    (the host-side twin of spgemm.accumulators.hash_table_size)."""
    want = np.maximum(np.asarray(need, dtype=np.int64) * int(load_factor), int(minimum))
    return (1 << np.ceil(np.log2(want)).astype(np.int64)).astype(np.int64)


@njit(cache=True)
def emit_stream(buf, n, addr, nbytes, store, flags):
    """Loads (or stores) of `nbytes` contiguous bytes in LINE-sized pieces (the first one
    carries `flags`). Returns (buf, n)."""
    buf = grow(buf, n, nbytes // LINE + 2)
    off = 0
    first = True
    while off < nbytes:
        size = min(LINE, nbytes - off)
        if store:
            n = emit_store(buf, n, addr + off, size, flags if first else 0)
        else:
            n = emit_load(buf, n, addr + off, size, flags if first else 0)
        first = False
        off += size
    return buf, n


@njit(cache=True)
def grow(buf, n, need):
    """`buf` with room for `need` more rows after row n (a doubled copy when full)."""
    if n + need <= buf.shape[0]:
        return buf
    new = np.zeros((max(2 * buf.shape[0], n + need + 1024), OP_WIDTH), dtype=np.int64)
    new[:n] = buf[:n]
    return new


B_PLACEMENTS = ("replicated", "distributed", "interleaved")
#: The knob every kernel has: where B lives on a multi-die machine (one die: interleaved).
PLACEMENT_KNOBS = {
    "b_placement": Knob("replicated", "multi-die machines: B (read by every die) copied on each "
                        "die and read locally (assumed loaded per die before the kernel, like "
                        "every input), block-distributed by rows over the dies (read remotely by "
                        "the other dies), or interleaved over every die's channels", B_PLACEMENTS),
}


def row_work(A: sp.csr_array, B: sp.csr_array) -> np.ndarray:
    """Each row of A·B's work (multiply-adds + nonzeros of A + 1): what the dies' row blocks
    are balanced by."""
    blen = np.diff(B.indptr)[A.indices]
    cs = np.concatenate([[0], np.cumsum(blen)])
    return (cs[A.indptr[1:]] - cs[A.indptr[:-1]] + np.diff(A.indptr) + 1).astype(np.float64)


def die_rows(sim, ops: "Operands", work: np.ndarray | None = None) -> np.ndarray | None:
    """The dies' contiguous blocks of rows of A (and C), len dies + 1, balanced by `work` (default
    `row_work`); None on a one-die machine. Rows of A and C live on the die whose threads take
    them (the schedules use the same blocks)."""
    from simulator.machine.sim import split_by_cost
    if sim.cfg.dies == 1:
        return None
    w = row_work(ops.A, ops.B) if work is None else work
    return split_by_cost(w.size, sim.cfg.dies, w)


def split_at(rows: np.ndarray | None, ptr: np.ndarray, elem: int, size: int):
    """A region's `die` for an array of `elem`-byte entries whose row r starts at ptr[r], split
    at the dies' row blocks `rows` ("all", interleaved, when None)."""
    if rows is None:
        return "all"
    off = np.minimum(np.asarray(ptr, np.int64)[rows] * elem, size)
    off[0], off[-1] = 0, size
    return np.maximum.accumulate(off)


def operand_regions(sim, ops: "Operands", b_placement: str = "replicated") -> dict[str, int]:
    """The DRAM regions of A and B (CSR; A streamed, B through the cache), registered once per
    simulation and shared by its phases: {"A.indptr": base, ...}. On a multi-die machine A's
    rows are block-distributed to their dies (`die_rows`) and B placed by `b_placement`."""
    out = {}
    rows = die_rows(sim, ops)
    a_ptr = np.asarray(ops.A.indptr, np.int64)
    n_a = ops.A.shape[0]
    for name, n, elem, cls, ptr in (
            ("A.indptr", n_a + 1, PTR_BYTES, "stream", np.arange(n_a + 1)),
            ("A.indices", ops.A.nnz, IDX_BYTES, "stream", a_ptr),
            ("A.data", ops.A.nnz, VAL_BYTES, "stream", a_ptr)):
        size = nbytes(n, elem)
        out[name] = dram(sim, name, size, access_class=cls, die=split_at(rows, ptr, elem, size))
    for name, n, elem in (("B.indptr", ops.B.shape[0] + 1, PTR_BYTES),
                          ("B.indices", ops.B.nnz, IDX_BYTES),
                          ("B.data", ops.B.nnz, VAL_BYTES)):
        out[name] = dram(sim, name, nbytes(n, elem), access_class="default",
                         die=b_die(sim, ops.B, b_placement, name, elem))
    return out


def b_die(sim, M: sp.csr_array, placement: str, name: str, elem: int):
    """The `die` of one of B's arrays (a CSR or CSC `M`, name ending in indptr/indices/data):
    "local" (replicated), a split of M's rows (or columns) in blocks of equal nonzeros
    (distributed), or "all" (interleaved; and on one die)."""
    if placement not in B_PLACEMENTS:
        raise ValueError(f"knob b_placement: {placement!r} is not one of {', '.join(B_PLACEMENTS)}")
    if sim.cfg.dies == 1 or placement == "interleaved":
        return "all"
    if placement == "replicated":
        return "local"
    from simulator.machine.sim import split_by_cost
    ptr = np.asarray(M.indptr, np.int64)
    rows = split_by_cost(ptr.size - 1, sim.cfg.dies, np.diff(ptr).astype(np.float64) + 1)
    n = ptr.size if name.endswith("indptr") else M.nnz
    size = nbytes(n, elem)
    return split_at(rows, np.arange(ptr.size) if name.endswith("indptr") else ptr, elem, size)


def c_alloc(sim, rows: np.ndarray | None, size: np.ndarray) -> tuple[np.ndarray, Any]:
    """C's allocation counters for atomic offsets: (calloc int64[dies, 2]: each die's next free
    entry of C and the first row it serves; the `die` of C's arrays, in entries, to scale by the
    element size with `split_at`). On one die one counter over all of C. With `rows` (the dies'
    row blocks) each die allocates its rows' entries from its own block of C, by a fetch-add on
    its own counter (`C.alloc` + 8 x die, on that die)."""
    size = np.asarray(size, np.int64)
    nd = 1 if rows is None else rows.size - 1
    calloc = np.zeros((nd, 2), np.int64)
    if rows is None:
        return calloc, None
    cum = np.concatenate([[0], np.cumsum(size)])
    calloc[:, 0] = cum[rows[:-1]]
    calloc[:, 1] = rows[:-1]
    return calloc, cum


def alloc_region(sim, rows: np.ndarray | None) -> int:
    """The DRAM region of C's allocation counters (one per die, each on its die)."""
    d = sim.cfg.dies if rows is not None else 1
    return dram(sim, "C.alloc", 8 * d, access_class="random",
                die="all" if rows is None else np.arange(d + 1) * 8)


def row_tokens(rows: np.ndarray | None, chunk: int = 1):
    """Dynamic tokens over rows: one machine-wide queue on one die (`rows` None); on a
    multi-die machine one queue per die over its block of rows (where their data live), with
    stealing when a die runs dry."""
    from simulator.machine.sim import DynamicTokens
    if rows is None:
        return DynamicTokens(chunk=chunk)
    return DynamicTokens(chunk=chunk, scope="die", bounds=rows, steal=True)


@njit(cache=True)
def claim_c(calloc, r, count):
    """(counter offset, start) of `count` entries of C for rows from r on: from the block of the
    die that serves row r (calloc[d, 1] <= r), whose counter advances."""
    d = 0
    while d + 1 < calloc.shape[0] and calloc[d + 1, 1] <= r:
        d += 1
    start = calloc[d, 0]
    calloc[d, 0] += count
    return d * 8, start


def dram(sim, name: str, size_bytes: int, **kw) -> int:
    """Base of the DRAM region `name`: the existing one (phases of a run share their data), or
    a new one of `size_bytes`."""
    for r in sim.regions:
        if r.name == name:
            if r.kind != "dram" or r.size_bytes < size_bytes:
                raise ValueError(f"region {name!r} exists with another kind or a smaller size")
            return r.base
    return sim.dram_region(name, size_bytes, **kw).base


def local_region(sim, name: str, size_bytes: int, *, spad: bool = True):
    """A core's own working area: in its scratchpad, or (no scratchpad, or `spad` false) a
    per-core slice of DRAM (access class "random")."""
    if spad and sim.cfg.spad.size_bytes > 0:
        return sim.spad_region(name, size_bytes)
    return sim.dram_region(name, size_bytes, per="core", access_class="random")


def spad_free(sim) -> int:
    """Bytes of each core's scratchpad not yet given to a region."""
    return int(sim.cfg.spad.size_bytes - int(sim._spad_used.max()))
