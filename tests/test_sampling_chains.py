"""Long chains other than the costliest: their groups are always simulated (`chain_groups`).

Under dynamic tokens a chain ends at its start plus its length; a chain nearly as long as the
costliest but later in the task order ends later (inner-candidates on ca-CondMat-nr ended on
its second costliest row; a sample that missed that row's group ran 0.857x the full run)."""
import numpy as np
import pytest

from simulator import sampling
from simulator.machine import load_config
from simulator.sampling import GroupRun, Miniature, Plan


class _Ops:
    """Stand-in operands for `make_plan` with given row costs (rowwise-hash: cost = flops +
    nnz(A_i) + 1)."""

    def __init__(self, flops: np.ndarray) -> None:
        import scipy.sparse as sp
        n = flops.size
        self.A = sp.csr_array((np.zeros(0), np.zeros(0, np.int64), np.zeros(n + 1, np.int64)),
                              shape=(n, n))
        self.B = self.A
        self.sym = type("Sym", (), {"row_flops": flops})()


def _plan(flops, seed=0):
    die = load_config("piuma-die")
    return sampling.make_plan("rowwise-hash", die, _Ops(np.asarray(flops, np.int64)), 0.375,
                              seed, knobs={})


def test_every_long_chains_group_is_simulated():
    n = 20000
    flops = np.full(n, 100)
    flops[5000] = 200_000           # the costliest: 53 threads' share on piuma-die
    flops[15000] = 190_000          # later in the order, 0.95 of it: a long chain too
    flops[9000] = 100_000           # half of it: not within CHAIN_NEAR
    for seed in (0, 1, 2):
        plan = _plan(flops, seed)
        g = int(plan.units["rows"][15000])
        assert plan.units["rows"][5000] == 0 and g != 0
        assert plan.fixed == (0, g)
        # in place of a random group: k = 3 groups in all, about the fraction asked of the work
        # dealt by occupancy, plus the chains beyond the thread each holds (`occupancy`)
        assert plan.simulated[:2] == ((0, 0), (g, 0)) and len(plan.simulated) == 3
        assert plan.simulated[2][0] not in (0, g)
        cost = plan.costs["rows"]
        beyond = cost - sampling.occupancy(cost, plan.threads)
        want = (0.375 * (cost.sum() - beyond.sum()) + beyond.sum()) / cost.sum()
        assert plan.fraction == pytest.approx(want, abs=0.05)
    # more long chains than k: the k costliest chains' groups, nothing at random
    many = flops.copy()
    many[[1000, 3000, 12000, 18000]] = [199_000, 198_000, 197_000, 196_000]
    plan = _plan(many, 0)
    top = [int(plan.units["rows"][t]) for t in (5000, 1000, 3000, 12000, 18000, 15000)]
    assert len(plan.fixed) == 3 and plan.fixed == tuple(dict.fromkeys(top))[:3]
    assert plan.simulated == tuple((g, 0) for g in plan.fixed)
    # one long chain: the plan is the one it always was (group 0 and k - 1 at random)
    flops[15000] = 100
    plan = _plan(flops, 0)
    rng = np.random.default_rng(0 + 7919)
    old = sorted(int(x) for x in rng.choice(np.arange(1, 8), size=2, replace=False))
    assert plan.fixed == (0,) and plan.simulated == ((0, 0),) + tuple((x, 0) for x in old)


def test_fixed_groups_bound_the_estimate_and_count_once():
    # both fixed groups are candidates for the slowest; the spread is the random groups'
    est, down, up = sampling.estimate_phase([100.0, 120.0], [90.0, 92.0], groups=8)
    assert est == 120.0 and down == 0.0 and up == 0.0
    est, _, up = sampling.estimate_phase([100.0, 101.0], [100.0, 104.0, 96.0], groups=8)
    slowest = 100.0 + sampling.expected_max(6) * 4.0
    assert est == 104.0 and up == pytest.approx(slowest - 104.0)
    # all simulated groups fixed: the slowest of them, no spread
    assert sampling.estimate_phase([10.0, 12.0], [], groups=2) == (12.0, 0.0, 0.0)

    def run(g, v):
        return GroupRun(g, "rows", {"x": v}, {}, {}, 1.0)
    runs = [run(0, 10.0), run(3, 30.0), run(1, 20.0), run(5, 22.0)]
    vals = [r.record["x"] for r in runs]
    # counts: each fixed group once, the other 6 groups as the random ones' mean
    assert sampling._stratified(vals, runs, 8, total=True, fixed=(0, 3)) == 10 + 30 + 6 * 21
    assert sampling._stratified(vals, runs, 8, total=True) == 10 + 7 * (30 + 20 + 22) / 3


def test_a_plan_with_fixed_groups_combines():
    plan = Plan("rowwise-hash", 8, ((0, 0), (3, 0), (1, 0), (5, 0)), 1.0, 0,
                Miniature(8, (), 1, 0.0), {"rows": np.zeros(8, np.int64)},
                {"rows": np.ones(8)}, fixed=(0, 3))

    def run(g, cyc):
        rec = {"cycles": cyc, "instructions": 100, "thread_busy_cycles_max": cyc / 2}
        return GroupRun(g, "rows", rec, {"p": {"cycles": cyc, "busy_mean": cyc / 2, "tasks": 1.0,
                                               "tail": 0.0}}, {"p": {"instructions": 100.0}},
                        1.0, tasks_per_thread=8.0)
    out = sampling.combine([run(0, 100.0), run(3, 130.0), run(1, 95.0), run(5, 97.0)], plan)
    assert out["cycles"] == 130.0                   # the later long chain's group ends last
    assert out["instructions"] == 800               # 8 groups of 100
    assert out["sample_groups_simulated"] == 4
