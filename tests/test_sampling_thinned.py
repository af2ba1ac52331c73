"""Samples thinned by rows (below one core per miniature): the fraction that gives a thinned plan
of a chosen size (benchmarks/calibrate_sampling.py --thinned-tasks), and the rule that flags
thinned samples too small to trust (docs/sampling.md, "Thinned samples against full runs")."""
import importlib.util
from pathlib import Path

import pytest

import matrices
from simulator import sampling
from simulator.machine import load_config
from simulator.programs import get_kernel
from simulator.run import bound_operands, run_kernel

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "calibrate_sampling.py"
_spec = importlib.util.spec_from_file_location("calibrate_sampling", _PATH)
cal = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cal)

#: Uniform short rows, enough of them for a thinned one-core miniature of piuma-die to keep 16+
#: tasks per thread (20000 / 8 groups / 66 threads = 38 whole): runs in seconds.
MATRIX = "er:n=20000,nnz_per_row=4"


def _tasks_per_thread(matrix, kernel, fraction):
    cfg = load_config("piuma-die")
    A = matrices.load(matrix)
    ops = bound_operands(A, A)[0]
    plan = sampling.make_plan(kernel, cfg, ops, fraction,
                              knobs=get_kernel(kernel).resolve_knobs({}))
    mini = cfg.threads // plan.groups
    return plan, min(sampling.group_tasks(plan, u, g, r).size / mini
                     for u in sampling.units_of(kernel) for g, r in plan.simulated)


@pytest.mark.parametrize("tasks", [16, 4])
def test_thinned_fraction_keeps_the_tasks_asked(tasks):
    f = cal.thinned_fraction(MATRIX, "rowwise-hash", "piuma-die", tasks)
    plan, tpt = _tasks_per_thread(MATRIX, "rowwise-hash", f)
    assert plan.thin < 1 and plan.groups == 8
    assert tasks <= tpt < 1.1 * tasks        # thinning keeps the share asked
    # no thinned plan that large, or a kernel thinned by windows: none
    assert cal.thinned_fraction(MATRIX, "rowwise-hash", "piuma-die", 30) is None
    assert cal.thinned_fraction(MATRIX, "smash-v3", "piuma-die", 4) is None


def test_a_thinned_sample_is_flagged_below_the_tasks_per_thread_it_needs():
    """Thinned by rows, the estimate falls as the miniature's threads get fewer tasks (the
    transients at a phase's start and end, whose tasks run under less contention, are a larger
    share of a shorter run, and the busy-time extrapolation multiplies their faster tasks). On
    this matrix the whole one-core miniatures ran 0.92x the full run; thinned to 19 tasks per
    thread 0.905x, to 9.5 0.904x, to 4.7 0.775x. So a sample at or above MIN_TASKS_PER_THREAD is
    not flagged and lands near its whole miniatures, inside its interval; one below it is
    flagged, whatever its costliest task (not a rule for rows)."""
    full = run_kernel("rowwise-hash", MATRIX, preset="piuma-die")
    whole = run_kernel("rowwise-hash", MATRIX, preset="piuma-die", sample=0.375)
    assert whole["sample_thin"] == 1 and whole["sample_warning"] == ""
    f = cal.thinned_fraction(MATRIX, "rowwise-hash", "piuma-die", sampling.MIN_TASKS_PER_THREAD)
    s = run_kernel("rowwise-hash", MATRIX, preset="piuma-die", sample=f)
    assert s["sample_method"] == "miniature+thinned" and s["sample_thin"] < 1
    assert s["sample_tasks_per_thread"] >= sampling.MIN_TASKS_PER_THREAD
    assert s["sample_warning"] == ""
    assert s["cycles"] == pytest.approx(whole["cycles"], rel=0.05)
    assert s["cycles_ci_low"] <= full["cycles"] <= s["cycles_ci_high"]
    small = run_kernel("rowwise-hash", MATRIX, preset="piuma-die",
                       sample=cal.thinned_fraction(MATRIX, "rowwise-hash", "piuma-die", 4))
    assert small["sample_tasks_per_thread"] < sampling.MIN_TASKS_PER_THREAD
    assert "tasks per thread" in small["sample_warning"]
