"""The PIUMA-like machine model: configuration, trace encoding, timing engine, results."""
from pathlib import Path

from spgemm import _cache

# The engine inlines the DRAM model and the trace constants from other modules of this package:
# numba's cache would keep stale code after those change, so drop it when any source here does.
_cache.refresh(Path(__file__).resolve().parent)

from simulator.machine.config import (ACCESS_CLASSES, MachineConfig, config_hash,  # noqa: E402
                                      dump_toml, load_config, preset_names)
from simulator.machine.results import SimResult  # noqa: E402
from simulator.machine.sim import (DynamicTokens, Phase, PhaseRecord, Region, Simulation,  # noqa: E402
                                   StaticLists, StaticWindows, Windows, split_by_cost)
from simulator.machine.trace import TraceBuilder  # noqa: E402

__all__ = ["ACCESS_CLASSES", "MachineConfig", "config_hash", "dump_toml", "load_config",
           "preset_names", "SimResult", "DynamicTokens", "Phase", "PhaseRecord", "Region",
           "Simulation", "StaticLists", "StaticWindows", "split_by_cost", "TraceBuilder"]
