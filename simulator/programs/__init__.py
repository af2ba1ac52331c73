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

from simulator.programs import inner, outer, rowwise  # noqa: E402
from simulator.programs.base import COUNTER_NAMES, Kernel, KernelOutput, Knob, Operands  # noqa: E402

KERNELS: dict[str, Kernel] = {
    "inner": Kernel("inner", "inner product: B in CSC, a dot product for every (row, column)",
                    inner.KNOBS, inner.run_inner),
    "outer": Kernel("outer", "outer product: multiply phase writes partial products to DRAM, "
                    "merge phase reads them back per row", outer.KNOBS, outer.run_outer),
}
_DESCRIPTIONS = {
    "rowwise-dense": "row-wise (Gustavson) with a dense accumulator (SPA)",
    "rowwise-hash": "row-wise with a non-atomic hash accumulator per row (DRAM by default)",
    "smash-v1": "SMASH V1: static windows + atomic hashing into fixed per-thread scratchpad tables",
    "smash-v2": "SMASH V2: V1 + dynamic tokens",
    "smash-v3": "SMASH V3: V2 + per-row scratchpad fragments sized from the symbolic pass",
}
for _name, _preset in rowwise.PRESETS.items():
    KERNELS[_name] = Kernel(_name, _DESCRIPTIONS[_name], rowwise.KNOBS, rowwise.run_rowwise,
                            presets=_preset)


def get_kernel(name: str) -> Kernel:
    try:
        return KERNELS[name]
    except KeyError:
        raise ValueError(f"unknown kernel {name!r} (known: {', '.join(KERNELS)})") from None


__all__ = ["COUNTER_NAMES", "KERNELS", "Kernel", "KernelOutput", "Knob", "Operands", "get_kernel"]
