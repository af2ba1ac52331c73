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
    assert cal.thinned_fraction(MATRIX, "rowwise-hash", "piuma-die", 32) is None   # 38 whole
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


@pytest.mark.parametrize("kernel, matrix, fraction", [
    ("outer", "rmat:scale=10,ef=16", 0.05), ("rowwise-hash", "powerlaw:n=4096,nnz_per_row=8", 0.1)])
def test_the_planned_fraction_is_what_the_thinned_groups_keep(kernel, matrix, fraction):
    """`Plan.fraction` (the record's `sample_fraction`, and what the work guard charges) is the
    cost of the tasks the simulated groups really keep: each group's costliest whole, `thin` of
    the rest. Counted as thin x the groups' cost it planned the outer product on R-MAT 18 at
    1.4 % of the run for a 2-minute budget, and the run took 35 minutes: its costliest inner
    index alone is 8.6 % of the multiply-adds (here R-MAT 10's: 0.26 of the run kept whole)."""
    cfg = load_config("piuma-die")
    A = matrices.load(matrix)
    plan = sampling.make_plan(kernel, cfg, bound_operands(A, A)[0], fraction,
                              knobs=get_kernel(kernel).resolve_knobs({}))
    assert plan.thin < 1
    kept = sum(float(plan.costs[u][sampling.group_tasks(plan, u, g, r)].sum())
               / float(plan.costs[u].sum())
               for u in sampling.units_of(kernel) for g, r in plan.simulated)
    assert plan.fraction == pytest.approx(kept, rel=0.03)
    assert plan.kept_whole < plan.fraction
    if kernel == "outer":
        assert plan.kept_whole > 0.2 and plan.fraction > 4 * fraction


def test_a_sample_whose_costliest_tasks_exceed_the_budget_is_refused():
    with pytest.raises(ValueError, match=r"^outer on rmat:scale=10,ef=16: a sample keeps its "
                                         r"simulated groups' costliest tasks whole, 0\.26 of"):
        run_kernel("outer", "rmat:scale=10,ef=16", preset="piuma-die", sample=0.05,
                   max_ops=400_000)


def test_an_auto_sample_simulates_the_budget_share():
    """`--sample auto` asks for the share of the run its budget holds; thinned by rows, the
    groups' costliest tasks are kept whole, so the plan for that share simulates more (here
    1.3x), and it is asked again for less (`run._fit_auto`) to land on the share."""
    from simulator.run import _fit_auto
    cfg = load_config("piuma-die")
    A = matrices.load("rmat:scale=10,ef=16")
    ops = bound_operands(A, A)[0]
    kn = get_kernel("outer").resolve_knobs({})
    plan = sampling.make_plan("outer", cfg, ops, 0.33, knobs=kn)
    assert plan.thin < 1 and plan.fraction > 1.2 * 0.33
    fit, asked = _fit_auto("outer", cfg, ops, plan, 0.33, 0, kn)
    assert asked < 0.33 and fit.fraction == pytest.approx(0.33, rel=0.05)
    # the costliest tasks alone above the share: the plan stays (the work guard speaks)
    low = sampling.make_plan("outer", cfg, ops, 0.2, knobs=kn)
    assert _fit_auto("outer", cfg, ops, low, 0.2, 0, kn) == (low, 0.2)
    rec = run_kernel("outer", "rmat:scale=10,ef=16", preset="piuma-die", sample="auto",
                     auto_ops=1_200_000)
    assert 0.8 < rec["sample_fraction"] * rec["estimated_ops"] / 1_200_000 < 1.1


def test_thinned_busiest_thread_gets_its_thinned_away_busy_time_back():
    """A thinned sample's busiest thread was its miniature's, scaled by estimate / group cycles
    (about 1): the busy time thinned away was missing, and `load_imbalance` (max / mean busy)
    came out below 1 (0.14 for the inner product at R-MAT 18). It gets the busy time the
    group's cycles get back."""
    from simulator.run import run_kernel
    spec = "rmat:scale=12,ef=16"
    full = run_kernel("rowwise-hash", spec, preset="piuma-die")
    s = run_kernel("rowwise-hash", spec, preset="piuma-die", sample=0.1)
    assert s["sample_method"] == "miniature+thinned" and s["sample_thin"] < 0.5
    assert s["load_imbalance"] >= 1.0
    assert s["thread_busy_cycles_max"] <= s["cycles"]
    assert abs(s["thread_busy_cycles_max"] / full["thread_busy_cycles_max"] - 1) < 0.2
