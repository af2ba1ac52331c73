"""A sampled run cut by a task unit other than rows (the outer product's multiply phase, cut by
inner index) simulates only its own phase: the merge after it, whose cycles and counts come
from the runs cut by rows, is generated (C made and verified) but not simulated."""
from __future__ import annotations

import numpy as np

from simulator import run
from simulator.machine import sim as S

MATRIX = "rmat:scale=9,ef=8"


def _spy(monkeypatch):
    calls = {"simulated": [], "generated": []}
    run_phase, generate_only = S.Simulation.run_phase, S.Simulation.generate_only

    def simulated(self, phase):
        calls["simulated"].append(phase.name)
        return run_phase(self, phase)

    def generated(self, phase, chunk=256):
        calls["generated"].append((phase.name, phase.n_tasks))
        return generate_only(self, phase, chunk)
    monkeypatch.setattr(S.Simulation, "run_phase", simulated)
    monkeypatch.setattr(S.Simulation, "generate_only", generated)
    return calls


def test_the_inner_cut_runs_do_not_simulate_the_merge(monkeypatch):
    calls = _spy(monkeypatch)
    rec = run.run_kernel("outer", MATRIX, preset="piuma-die", sample=0.375)
    k = rec["sample_groups_simulated"]
    assert rec["verified"] and k >= 2
    assert calls["simulated"].count("multiply") == 2 * k      # both cuts run the multiply
    assert calls["simulated"].count("merge") == k              # only the rows cut's merges
    assert [name for name, _ in calls["generated"]] == ["merge"] * k
    assert all(n > 0 for _, n in calls["generated"])


def test_skipping_the_merge_changes_no_estimate(monkeypatch):
    rec = run.run_kernel("outer", MATRIX, preset="piuma-die", sample=0.375)
    monkeypatch.setattr(S.Simulation, "generate_only", lambda self, phase, chunk=256:
                        S.Simulation.run_phase(self, phase))
    whole = run.run_kernel("outer", MATRIX, preset="piuma-die", sample=0.375)
    for key in ("cycles", "cycles_ci_low", "cycles_ci_high", "phase_multiply_cycles",
                "phase_merge_cycles", "dram_read_transferred_bytes", "instructions", "sample_group_cycles"):
        assert np.allclose(rec[key], whole[key], rtol=0, atol=0), key


def test_generate_only_makes_every_task_and_leaves_the_clock():
    from simulator.machine import Phase
    from simulator.machine.config import load_config
    from simulator.machine.trace import OP_WIDTH
    sim = S.Simulation(load_config("piuma-core"))
    seen = []

    def gen(ids):
        seen.extend(ids.tolist())
        return np.zeros((0, OP_WIDTH), dtype=np.int64), np.zeros(ids.size + 1, dtype=np.int64)
    rec = sim.generate_only(Phase("p", 1000, gen), chunk=64)
    assert seen == list(range(1000))
    assert rec.cycles == 0 and sim.now == 0 and sim.phases[-1] is rec
