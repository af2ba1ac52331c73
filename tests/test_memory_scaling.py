"""The memory benchmark's census (benchmarks/memory_scaling.py --census): the mappings that hold
a process's memory, with their size and resident part."""
import importlib.util
import os
from pathlib import Path

import numpy as np

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "memory_scaling.py"
_spec = importlib.util.spec_from_file_location("memory_scaling", _PATH)
ms = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ms)


def test_census_finds_a_written_array_and_not_an_unwritten_one():
    from simulator.programs.smash import _zeroed
    held = np.ones(48 << 17)                       # 48 MiB, written
    total, maps = ms.smaps_census(os.getpid())
    assert total >> 10 >= 48 and any(size >= 48 and rss >= 47 for _, size, rss in maps)
    idle = _zeroed(64, 1 << 17, np.float64)        # 64 MiB reserved, never written
    after, _ = ms.smaps_census(os.getpid())
    assert after - total < 8 << 10
    idle[3, :] = 1.0                               # one row written: 1 MiB resident
    assert ms.smaps_census(os.getpid())[0] - after >= 1 << 10
    assert held.sum() > 0
