"""The `Windows` schedule: windows of tasks run core by core, stages separated by core barriers."""
import numpy as np
import pytest

from simulator.machine import Phase, Simulation, Windows, load_config
from simulator.machine import trace as T


def chain_task(region, n_loads, base=0):
    """A latency-bound task: n dependent DRAM loads (a pointer chase)."""
    addr = region.addr((base + np.arange(n_loads) * 4096) % region.size_bytes)
    return T.rows(T.LOAD, addr, 8, T.DEP)


def run(schedule, n_tasks, loads_of, preset="piuma-core", overrides=(), threads=None):
    sim = Simulation(load_config(preset, list(overrides)))
    reg = sim.dram_region("chase", 1 << 24, access_class="random")
    seen = []

    def gen(ids):
        seen.extend(int(i) for i in ids)
        traces = [chain_task(reg, loads_of(int(i)), 64 * int(i)) for i in ids]
        ptr = np.concatenate([[0], np.cumsum([t.shape[0] for t in traces])]).astype(np.int64)
        return (np.concatenate(traces) if traces else np.zeros((0, 2), np.int64)), ptr

    rec = sim.run_phase(Phase("w", n_tasks, gen, schedule, threads=threads))
    return sim, rec, seen


def test_a_stage_starts_only_after_the_core_finished_the_one_before():
    """16 threads. Stage 0: one task of 20 dependent loads and 15 of one; stage 1: 15 tasks of
    20. With the barrier the phase takes about two long chains; without it about one (the
    threads done with the short tasks run the long ones beside the first)."""
    loads = lambda i: 20 if i == 0 or i >= 16 else 1
    stage = np.r_[np.zeros(16, int), np.ones(15, int)]
    th = np.arange(16)
    _, with_bar, seen = run(Windows(bounds=[0, 31], stage=stage), 31, loads, threads=th)
    _, no_bar, _ = run(Windows(bounds=[0, 31]), 31, loads, threads=th)
    assert sorted(seen) == list(range(31))
    one_chain = no_bar.work_end_cycles - no_bar.start_cycles
    two = with_bar.work_end_cycles - with_bar.start_cycles
    assert two > 1.8 * one_chain


@pytest.mark.parametrize("within", ["dynamic", "static"])
def test_static_assignment_keeps_each_window_on_one_core(within):
    """Four equal windows on two cores: core 0 runs windows 0-1, core 1 windows 2-3; every task
    is generated exactly once."""
    cfg = load_config("piuma-die", ["cores_per_die=2", "dram.channels_per_die=2"])
    sim = Simulation(cfg)
    reg = sim.dram_region("chase", 1 << 22, access_class="random")
    seen = []

    def gen(ids):
        seen.extend(int(i) for i in ids)
        traces = [chain_task(reg, 3, int(i)) for i in ids]
        return np.concatenate(traces), np.arange(len(ids) + 1, dtype=np.int64) * 3

    stage = np.tile(np.r_[np.zeros(30, int), np.ones(10, int)], 4)
    rec = sim.run_phase(Phase("w", 160, gen, Windows(bounds=[0, 40, 80, 120, 160], stage=stage,
                                                     assign="static", within=within)))
    assert sorted(seen) == list(range(160))
    assert list(rec.window_cores) == [0, 0, 1, 1]
    assert rec.tasks == 160


def test_dynamic_windows_go_to_the_core_that_runs_dry():
    """One heavy window then many light ones on two cores: the core with the heavy window takes
    no other, the other core takes all the light ones; heaviest-first order puts it first."""
    cfg = load_config("piuma-die", ["cores_per_die=2", "dram.channels_per_die=2"])
    heavy = lambda i: 200 if i < 8 else 2
    bounds = np.r_[0, np.arange(8, 8 + 8 * 20 + 1, 8)]          # window 0: tasks 0-7, heavy
    for order, cost in (("index", None), ("heaviest", np.r_[1e6, np.ones(20)][::-1])):
        b = bounds
        loads = heavy
        if order == "heaviest":         # the heavy window last in index order, first to go out
            b = np.r_[0, np.arange(8, 8 * 21 + 1, 8)]
            loads = lambda i: 200 if i >= 160 else 2
        sim = Simulation(cfg)
        reg = sim.dram_region("chase", 1 << 22, access_class="random")

        def gen(ids, loads=loads):
            traces = [chain_task(reg, loads(int(i)), int(i)) for i in ids]
            ptr = np.concatenate([[0], np.cumsum([t.shape[0] for t in traces])]).astype(np.int64)
            return np.concatenate(traces), ptr

        rec = sim.run_phase(Phase("w", 168, gen, Windows(bounds=b, order=order, cost=cost)))
        heavy_w = 0 if order == "index" else 20
        wc = rec.window_cores
        assert set(wc) == {0, 1}
        assert np.count_nonzero(wc == wc[heavy_w]) == 1, (order, wc)


def test_bad_windows_are_refused():
    sim = Simulation(load_config("piuma-core"))
    gen = lambda ids: (np.zeros((0, 2), np.int64), np.zeros(len(ids) + 1, np.int64))
    with pytest.raises(ValueError, match="window bounds"):
        sim.run_phase(Phase("w", 10, gen, Windows(bounds=[0, 5])))
    with pytest.raises(ValueError, match="stage must not decrease"):
        sim.run_phase(Phase("w", 4, gen, Windows(bounds=[0, 4], stage=[0, 1, 0, 1])))
    with pytest.raises(ValueError, match="within='static' needs assign='static'"):
        sim.run_phase(Phase("w", 4, gen, Windows(bounds=[0, 4], within="static")))
    with pytest.raises(ValueError, match="heaviest"):
        sim.run_phase(Phase("w", 4, gen, Windows(bounds=[0, 4], order="heaviest")))
    # stages may restart in a new window
    sim.run_phase(Phase("w", 4, gen, Windows(bounds=[0, 2, 4], stage=[0, 1, 0, 1])))


def test_dynamic_within_a_window_balances_the_core_threads():
    """A window of 64 tasks, 8 heavy then 56 light, on 16 threads of one core: taken one at a
    time the heavy ones spread over threads; dealt statically they would not."""
    loads = lambda i: 40 if i < 8 else 1
    th = np.arange(16)
    _, dyn, _ = run(Windows(bounds=[0, 64]), 64, loads, threads=th)
    _, sta, _ = run(Windows(bounds=[0, 64], assign="static", within="static"), 64, loads, threads=th)
    assert dyn.cycles < sta.cycles
