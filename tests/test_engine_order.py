"""The engine serves order-sensitive operations in simulated-time order, whatever its horizon.

A pipeline may run a few cycles ahead of the others (`horizon_cycles`), which reorders
requests at a server by at most that much. Taking work must not be reordered: which task a
token fetch-add gets depends on the order the counter serves the fetch-adds. At a phase start
every pipeline is at the same time, so the first tokens go to thread 0 of every pipeline, as on
hardware that issues on all pipelines in the same cycle (not to threads 0-3 of pipeline 0).
"""
import numpy as np
import pytest

from simulator.machine import DynamicTokens, Phase, Simulation, TraceBuilder, load_config
from simulator.machine import engine as E

LONG = 2000          # cycles of compute in a task: far longer than taking one


def run_long_tasks(horizon, n_tasks, counter="spad"):
    """n_tasks tasks of LONG cycles on piuma-die under dynamic tokens."""
    sim = Simulation(load_config("piuma-die"), horizon_cycles=horizon)
    body = TraceBuilder().compute(LONG).build()

    def gen(ids):
        ptr = np.arange(ids.size + 1, dtype=np.int64) * body.shape[0]
        return np.concatenate([body] * ids.size), ptr
    rec = sim.run_phase(Phase("long", n_tasks, gen, DynamicTokens(counter=counter)))
    took = sim.th_i[:, E.TI_TASKS] > 0
    return sim, rec, took


@pytest.mark.parametrize("horizon", [0.0, 4.0, 16.0])
@pytest.mark.parametrize("counter", ["spad", "dram"])
def test_first_tokens_go_to_different_pipelines(horizon, counter):
    sim = Simulation(load_config("piuma-die"))
    n_pipes = sim.n_pipes
    sim, rec, took = run_long_tasks(horizon, n_pipes, counter)
    assert int(took.sum()) == n_pipes                        # one task per thread ...
    pipes = sim.th_i[took, E.TI_PIPE]
    assert np.unique(pipes).size == n_pipes                  # ... and per pipeline
    # so they run side by side: about one task's time, not several in a row on one pipeline
    assert rec.work_end_cycles - rec.start_cycles < 1.2 * LONG


def test_first_tasks_in_order_of_the_pipelines():
    """Tokens are bound in the order the counter serves the fetch-adds: task k of the phase goes
    to thread 0 of pipeline k (the pipelines' order at the start), then tasks go to thread 1 of
    every multi-threaded pipeline (a single-threaded one's thread is still busy)."""
    sim = Simulation(load_config("piuma-die"))
    n_pipes, mtp = sim.n_pipes, np.flatnonzero(sim.pipe_is_mtp)
    sim, _, took = run_long_tasks(4.0, n_pipes + mtp.size)
    tid = np.flatnonzero(took)
    order = tid[np.argsort(sim.th_i[tid, E.TI_TASK])]
    assert np.array_equal(order[:n_pipes], sim.pipe_first)
    assert np.array_equal(order[n_pipes:], sim.pipe_first[mtp] + 1)


def test_the_horizon_keeps_results_close_to_strict_time_order():
    """With work taken in time order, the horizon only reorders requests at servers by a few
    cycles: a mixed run (DRAM, scratchpad, atomics, tokens) is within 2 % of strict order."""
    from test_machine_engine import run_mixed
    _, strict = run_mixed(preset="piuma-die", n_tasks=400, horizon_cycles=0.0)
    _, ahead = run_mixed(preset="piuma-die", n_tasks=400, horizon_cycles=4.0)
    assert ahead.tasks == strict.tasks == 400
    assert ahead.cycles == pytest.approx(strict.cycles, rel=0.02)
