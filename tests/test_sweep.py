"""smash sweep: points and keys, JSONL append, resume after interruption, parallel = serial,
Dask local cluster, bad experiment files."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.sweep import (Experiment, Point, deterministic, experiment_from_dict,
                             load_experiment, read_records, run_sweep)

MATS = ["rmat:scale=5,ef=4", "er:n=48,nnz_per_row=4"]
KERNELS = ["outer", "smash-v1", "smash-v3"]


def _points() -> list[Point]:
    exp = Experiment(matrices=list(MATS), kernels=list(KERNELS), presets=["piuma-core"],
                     sets={"dram.channels_per_die": [1, 2]})
    exp.validate()
    return exp.points()


def _canon(path) -> list[dict]:
    """Records minus host timings, in key order: what 'identical records' means."""
    return sorted((deterministic(r) for r in read_records(path)), key=lambda r: r["point_key"])


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    path = tmp_path_factory.mktemp("serial") / "serial.jsonl"
    run_sweep(_points(), path, jobs=1)
    return path


def test_points_and_keys():
    pts = _points()
    assert len(pts) == len(MATS) * len(KERNELS) * 2
    assert len({p.key for p in pts}) == len(pts)
    # the key uses the canonical matrix name and sorted overrides/knobs
    a = Point("rmat:ef=4,scale=5", "smash-v1", overrides=("b=1", "a=2"), knobs=(("y", 1), ("x", 2)))
    b = Point("rmat:scale=5,ef=4", "smash-v1", overrides=("a=2", "b=1"), knobs=(("x", 2), ("y", 1)))
    assert a.key == b.key


def test_records_appended_with_key_and_peaks(serial):
    recs = read_records(serial)
    assert len(recs) == len(_points())
    r = recs[0]
    assert r["status"] == "ok" and r["verified"]
    assert {"point_key", "peak_dram_gb_per_s", "peak_issue_ginstr_per_s", "overrides"} <= set(r)
    assert serial.read_text().endswith("\n")
    ch = {rec["overrides"]: rec["peak_dram_gb_per_s"] for rec in recs}
    assert ch["dram.channels_per_die=2"] == 2 * ch["dram.channels_per_die=1"]


def test_parallel_equals_serial(serial, tmp_path):
    par = tmp_path / "par.jsonl"
    run_sweep(_points(), par, jobs=2)
    assert _canon(par) == _canon(serial)


def test_interrupted_and_resumed_equals_uninterrupted(serial, tmp_path):
    out = tmp_path / "int.jsonl"
    seen = []

    def stop_after_three(rec):
        seen.append(rec)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(_points(), out, jobs=1, on_record=stop_after_three)
    assert len(read_records(out)) == 3                  # nothing finished was lost
    with open(out, "a") as fh:                          # and a torn line from a killed write
        fh.write('{"point_key": "half')
    with pytest.raises(ValueError, match="--resume"):
        run_sweep(_points(), out, jobs=1)               # no silent overwrite
    new = run_sweep(_points(), out, jobs=2, resume=True)
    assert len(new) == len(_points()) - 3
    assert _canon(out) == _canon(serial)
    assert run_sweep(_points(), out, jobs=1, resume=True) == []     # all done


def test_error_point_recorded_not_fatal(tmp_path):
    pts = [Point("rmat:scale=5,ef=4", "smash-v1", preset="piuma-core", max_ops=10),
           Point("rmat:scale=5,ef=4", "outer", preset="piuma-core")]
    recs = run_sweep(pts, tmp_path / "e.jsonl", jobs=1)
    by = {r["kernel"]: r for r in recs}
    assert by["smash-v1"]["status"] == "error" and "budget" in by["smash-v1"]["error"]
    assert by["outer"]["status"] == "ok"


def test_auto_sample(tmp_path):
    small, big = (Point("er:n=256,nnz_per_row=8", "inner", preset="piuma-core", sample="auto",
                        auto_ops=ops) for ops in (10**9, 20_000))
    recs = run_sweep([small, big], tmp_path / "s.jsonl", jobs=1)
    by = {r["point_key"]: r for r in recs}
    assert by[small.key]["sample_fraction"] == 1.0
    assert 0 < by[big.key]["sample_fraction"] < 1


def test_dask_local_cluster(serial, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  host="127.0.0.1", protocol="tcp", dashboard_address=None) as cl:
        out = tmp_path / "dask.jsonl"
        pts = [p for p in _points() if p.kernel == "smash-v1"]
        run_sweep(pts, out, dask=cl.scheduler_address)
    keys = {p.key for p in pts}
    assert _canon(out) == [r for r in _canon(serial) if r["point_key"] in keys]


GOOD = """
name = "channels"
matrices = ["rmat:scale=5,ef=4"]
kernels = ["smash-v1"]
presets = ["piuma-core"]
[set]
"dram.channels_per_die" = [1, 2]
[knobs]
chunk = [64, 128]
"""


def test_experiment_file(tmp_path):
    p = tmp_path / "exp.toml"
    p.write_text(GOOD)
    exp = load_experiment(p)
    assert len(exp.points()) == 4
    nested = tmp_path / "nested.toml"
    nested.write_text(GOOD.replace('[set]\n"dram.channels_per_die"', '[set.dram]\nchannels_per_die'))
    assert [q.key for q in load_experiment(nested).points()] == [q.key for q in exp.points()]


@pytest.mark.parametrize("text, needle", [
    ('matrices = ["smoke"]\nkernels = ["smash-v1"]\nkernals = 1', "unknown key 'kernals'"),
    ('kernels = ["smash-v1"]', "missing key 'matrices'"),
    ('matrices = ["smoke"]\nkernels = ["smash-v9"]', "kernels: unknown kernel 'smash-v9'"),
    ('matrices = ["nosuch:x=1"]\nkernels = ["outer"]', "nosuch"),
    ('matrices = ["smoke"]\nkernels = ["outer"]\n[set]\n"dram.chanels" = [1]', "dram.chanels"),
    ('matrices = ["smoke"]\nkernels = ["outer"]\n[knobs]\ngranularty = [1]', "knobs: 'granularty'"),
    ('matrices = ["smoke"]\nkernels = ["outer"]\nseeds = ["a"]', "seeds: expected int"),
    ('matrices = ["smoke"]\nkernels = ["outer"]\nsample = 2.0', "sample"),
    ('matrices = ["smoke"]\nkernels = ["outer"]\nbudget = "soon"', "budget"),
    ('matrices = ["smoke"]\nkernels = ["outer"]\nsample = 0.5\nbudget = "60s"', "budget"),
    ('matrices = ["smoke"\nkernels = 1', "not valid TOML"),
])
def test_bad_experiment_file(tmp_path, text, needle):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ValueError, match=None) as ei:
        load_experiment(p)
    assert needle in str(ei.value) and str(p) in str(ei.value)
    res = CliRunner().invoke(main, ["sweep", str(p), "--out", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 1
    assert res.output.startswith("Error: ") and needle in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


def test_cli_sweep_csv_and_resume(tmp_path):
    out, csv = tmp_path / "r.jsonl", tmp_path / "r.csv"
    args = ["sweep", "-m", MATS[0], "-k", "outer", "-k", "smash-v1", "--preset", "piuma-core",
            "--set", "dram.channels_per_die=1,2", "-j", "1", "--out", str(out), "--csv", str(csv)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "4 points run" in res.output
    assert len(read_records(out)) == 4 and len(read_records(csv)) == 4
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "--resume" in res.output
    res = CliRunner().invoke(main, args + ["--resume"])
    assert res.exit_code == 0 and "0 points run, 4 already" in res.output
    res = CliRunner().invoke(main, ["sweep", "-m", MATS[0], "--out", str(out)])
    assert res.exit_code != 0 and "--kernel" in res.output


def test_experiment_from_dict_options_override():
    exp = experiment_from_dict({"matrices": MATS, "kernels": ["outer"], "seeds": [1, 2]})
    assert [p.seed for p in exp.points()] == [1, 2, 1, 2]
    assert json.loads(exp.points()[0].key)[5] == 1


def test_budget_sets_the_auto_sample_operations(tmp_path):
    from simulator.sampling import budget_ops
    exp = experiment_from_dict({"matrices": MATS[:1], "kernels": ["outer"], "budget": "2m"})
    (pt,) = exp.points()
    assert pt.sample == "auto" and pt.auto_ops == budget_ops(120)
    assert json.loads(pt.key)[6] == f"auto:{budget_ops(120)}"     # two budgets, two points
    out = tmp_path / "b.jsonl"
    res = CliRunner().invoke(main, ["sweep", "-m", MATS[0], "-k", "outer", "--preset",
                                    "piuma-core", "--budget", "1h", "-j", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    (rec,) = read_records(out)
    assert rec["requested_sample"] == "auto" and rec["sample_fraction"] == 1.0


def test_a_points_budget_raises_the_default_work_guard(monkeypatch):
    """A point of --sample auto with a budget above DEFAULT_MAX_OPS's operations runs under
    that budget's guard, not the default's; an explicit max_ops holds."""
    import simulator.run as run
    from simulator.sweep import run_point
    seen = []

    def fake(*a, **kw):
        seen.append(kw["max_ops"])
        raise ValueError("stop")
    monkeypatch.setattr(run, "run_kernel", fake)
    big = 5 * run.DEFAULT_MAX_OPS
    for kw in ({"sample": "auto", "auto_ops": big}, {"sample": "auto", "auto_ops": big,
                                                     "max_ops": 7}, {"sample": 0.5}):
        rec = run_point(Point(matrix="rmat:scale=6", kernel="inner", preset="piuma-die", **kw))
        assert rec["status"] == "error" and "stop" in rec["error"]
    assert seen == [run.default_max_ops(big), 7, run.DEFAULT_MAX_OPS]
    assert run.default_max_ops(big) >= big
