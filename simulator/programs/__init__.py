"""SpGEMM kernel programs mapped onto the machine model (see docs/kernels.md).

    KERNELS["smash-v3"].resolve_knobs({"granularity": "4"})
    out = KERNELS["outer"].run(sim, operands, knobs)      # -> KernelOutput (C + counters)

Most users want `simulator.run.run_kernel`, which also guards, verifies and builds the record.
"""
from __future__ import annotations

from pathlib import Path

import spgemm
from spgemm import _cache

# The task generators inline spgemm's accumulators and the machine's trace emitters: numba's
# cache would keep stale code after those change, so drop ours when any of them does.
_HERE = Path(__file__).resolve().parent
_cache.refresh(_HERE, depends_on=(Path(spgemm.__file__).resolve().parent, _HERE.parent / "machine"))

from simulator.programs import inner, outer, rowwise, smash  # noqa: E402
from simulator.programs.base import COUNTER_NAMES, Kernel, KernelOutput, Knob, Operands  # noqa: E402

KERNELS: dict[str, Kernel] = {
    "inner": Kernel("inner", "inner product: B in CSC, a dot product for every (row, column)",
                    inner.KNOBS, inner.run_inner),
    "inner-candidates": Kernel("inner-candidates", "inner product over C's structural nonzeros "
                               "only: a simulated symbolic phase writes C's pattern, then a dot "
                               "product per candidate (row, column)", inner.KNOBS,
                               inner.run_inner_candidates),
    "outer": Kernel("outer", "outer product: multiply phase writes partial products to DRAM, "
                    "merge phase reads them back per row", outer.KNOBS, outer.run_outer),
}
_DESCRIPTIONS = {
    "rowwise-dense": "row-wise (Gustavson), one row per thread, a dense accumulator (SPA) in DRAM",
    "rowwise-hash": "row-wise, one row per thread, a private hash table per row (DRAM by default)",
    "smash-v1": "SMASH V1: static windows of rows on cores; the core's threads split a window's "
                "partial products and insert them atomically (CAS, atomic add) into one shared "
                "scratchpad table keyed by (row, column); write-back after a core barrier",
    "smash-v2": "SMASH V2: V1 with windows taken as dynamic tokens",
    "smash-v3": "SMASH V3: V2 with per-row fragments of the scratchpad from a buddy allocator, "
                "write-back of a batch pipelined with the inserts of the next",
}
for _name, _preset in rowwise.PRESETS.items():
    KERNELS[_name] = Kernel(_name, _DESCRIPTIONS[_name], rowwise.KNOBS, rowwise.run_rowwise,
                            presets=_preset)
for _name, _preset in smash.PRESETS.items():
    KERNELS[_name] = Kernel(_name, _DESCRIPTIONS[_name], smash.KNOBS, smash.run_smash,
                            presets=_preset, checks_rows=True)


def get_kernel(name: str) -> Kernel:
    try:
        return KERNELS[name]
    except KeyError:
        raise ValueError(f"unknown kernel {name!r} (known: {', '.join(KERNELS)})") from None


__all__ = ["COUNTER_NAMES", "KERNELS", "Kernel", "KernelOutput", "Knob", "Operands", "get_kernel"]
