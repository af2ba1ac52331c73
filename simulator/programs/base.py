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
from simulator.machine.trace import OP_WIDTH

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
CT_N = 10
COUNTER_NAMES = ("hash_probes", "hash_collisions", "spilled_rows", "spilled_products", "muladds",
                 "nnz_written", "partial_bytes_written", "partial_bytes_read",
                 "hash_slots_scanned", "dot_products")

# Instruction costs of an in-order core (a reconstruction; not public): counted per event.
I_ROW = 8         # per task / row: loop setup, pointer arithmetic
I_NNZ_A = 3       # per nonzero of A: index, value, pointer arithmetic
I_MAC = 3         # per multiply-add: multiply, index arithmetic, loop
I_PROBE = 3       # per hash probe: hash, mask, compare
I_SCAN = 1        # per table slot scanned at write-back
I_SORT = 2        # per element per sort pass (n log2 n)
I_CMP = 2         # per step of a two-pointer index intersection
I_STORE_OUT = 1   # per output entry written


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
    """A kernel program: a name, knobs with defaults (a preset fixes some) and a runner."""
    name: str
    description: str
    knobs: Mapping[str, Knob]
    run: Callable[..., "KernelOutput"]
    presets: Mapping[str, Any] = field(default_factory=dict)

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
    """What a kernel program leaves behind: C (CSR arrays) and its counters."""
    c_ptr: np.ndarray
    c_idx: np.ndarray
    c_val: np.ndarray
    counters: np.ndarray

    def matrix(self, shape: tuple[int, int]) -> sp.csr_array:
        return sp.csr_array((self.c_val, self.c_idx, self.c_ptr), shape=shape)

    def counter_dict(self) -> dict[str, int]:
        return {name: int(self.counters[i]) for i, name in enumerate(COUNTER_NAMES)}


def nbytes(n: int, elem: int) -> int:
    """A region size for n elements (at least one element: regions must not be empty)."""
    return max(int(n), 1) * elem


def pow2_floor(x: int) -> int:
    return 1 << (max(int(x), 1).bit_length() - 1)


@njit(cache=True)
def grow(buf, n, need):
    """`buf` with room for `need` more rows after row n (a doubled copy when full)."""
    if n + need <= buf.shape[0]:
        return buf
    new = np.zeros((max(2 * buf.shape[0], n + need + 1024), OP_WIDTH), dtype=np.int64)
    new[:n] = buf[:n]
    return new
