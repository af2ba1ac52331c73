"""Giving a phase's scratchpad back: Simulation.spad_mark / spad_release."""
from __future__ import annotations

import pytest

from simulator.machine import Simulation, load_config
from simulator.machine import engine as E


def test_spad_release_gives_the_space_back():
    sim = Simulation(load_config("piuma-core"))
    sim.spad_region("keep", 1024)
    mark = sim.spad_mark()
    big = sim.spad_region("phase-tables", sim.cfg.spad.size_bytes - 4096)
    with pytest.raises(ValueError, match="free"):
        sim.spad_region("more", 8192)
    sim.spad_release(mark)
    again = sim.spad_region("next-phase", sim.cfg.spad.size_bytes - 4096)
    assert sim.reg[again.id, E.RG_BASE] == sim.reg[big.id, E.RG_BASE]       # the same bytes
    with pytest.raises(ValueError, match="mark"):
        sim.spad_release(mark + 10**9)
