"""The PIUMA-like machine model: configuration, trace encoding, timing engine, results."""
from simulator.machine.config import (ACCESS_CLASSES, MachineConfig, config_hash, dump_toml,
                                      load_config, preset_names)
from simulator.machine.results import SimResult
from simulator.machine.sim import (DynamicTokens, Phase, PhaseRecord, Region, Simulation, Windows,
                                   StaticLists, StaticWindows, split_by_cost)
from simulator.machine.trace import TraceBuilder

__all__ = ["ACCESS_CLASSES", "MachineConfig", "config_hash", "dump_toml", "load_config",
           "preset_names", "SimResult", "DynamicTokens", "Phase", "PhaseRecord", "Region",
           "Simulation", "StaticLists", "StaticWindows", "split_by_cost", "TraceBuilder"]
