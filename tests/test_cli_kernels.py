"""`smash kernels` and `smash run` through click's runner."""
from __future__ import annotations

import json

from click.testing import CliRunner

from simulator.cli import main


def test_kernels_json_lists_every_kernel():
    res = CliRunner().invoke(main, ["kernels", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    names = {r["kernel"] for r in rows}
    assert {"inner", "inner-candidates", "outer", "rowwise-dense", "rowwise-hash", "smash-v1",
            "smash-v2", "smash-v3"} <= names
    v3 = next(r for r in rows if r["kernel"] == "smash-v3")
    assert v3["knobs"]["table"]["default"] == "fragments"
    assert next(r for r in rows if r["kernel"] == "smash-v1")["knobs"]["windows"]["default"] == "static"
    assert CliRunner().invoke(main, ["kernels"]).exit_code == 0


def test_run_json_record(tmp_path):
    out = tmp_path / "runs.jsonl"
    res = CliRunner().invoke(main, ["run", "-k", "smash-v2", "-m", "rmat:scale=6,ef=4", "--preset",
                                    "piuma-core", "--json", "--out", str(out), "--knob", "chunk=32"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)
    for key in ("kernel", "matrix", "preset", "cycles", "dram_bytes_read", "dram_bytes_written", "verified"):
        assert key in rec
    assert rec["verified"] is True and rec["knob_chunk"] == 32
    for key in ("atomics", "atomic_stall_cycles", "cas_retries", "symbolic_cycles", "spilled_entries",
                "fragment_allocs", "fragment_waits"):
        assert key in rec
    assert json.loads(out.read_text().splitlines()[-1])["cycles"] == rec["cycles"]


def test_run_summary_text():
    res = CliRunner().invoke(main, ["run", "-k", "outer", "-m", "rmat:scale=6,ef=4", "--preset",
                                    "piuma-core", "--out", ""])
    assert res.exit_code == 0, res.output
    for word in ("cycles", "DRAM", "bandwidth utilization", "hit rate", "atomics", "probes",
                 "IPC", "load imbalance", "arithmetic intensity", "partials", "verified"):
        assert word in res.output


def test_run_errors_are_one_line():
    r = CliRunner()
    for args, msg in [(["-k", "nope", "-m", "rmat:scale=6"], "unknown kernel"),
                      (["-k", "smash-v1", "-m", "rmat:scale=6", "--knob", "scope"], "key=value"),
                      (["-k", "smash-v1", "-m", "rmat:scale=6", "--knob", "zz=1"], "unknown knob"),
                      (["-k", "inner", "-m", "rmat:scale=8", "--max-ops", "100"], "--sample"),
                      (["-k", "smash-v1", "-m", "rmat:scale=6", "--set", "dram.bogus=1"], "bogus")]:
        res = r.invoke(main, ["run", *args, "--out", ""])
        assert res.exit_code == 1, (args, res.output)
        assert "Error:" in res.output and msg in res.output, res.output
        assert "Traceback" not in res.output


def test_max_ops_takes_scientific_notation():
    r = CliRunner()
    # 1e2 is 100, so the same refusal as --max-ops 100
    res = r.invoke(main, ["run", "-k", "inner", "-m", "rmat:scale=8", "--max-ops", "1e2",
                          "--out", ""])
    assert res.exit_code == 1 and "--sample" in res.output, res.output
    res = r.invoke(main, ["run", "-k", "outer", "-m", "rmat:scale=6,ef=4", "--preset",
                          "piuma-core", "--max-ops", "1e12", "--json", "--out", ""])
    assert res.exit_code == 0 and json.loads(res.output)["verified"], res.output
    for bad in ("0", "2.5", "lots", "1e30"):
        res = r.invoke(main, ["run", "-k", "outer", "-m", "rmat:scale=6", "--max-ops", bad])
        assert res.exit_code == 2 and "whole number" in res.output, (bad, res.output)
        assert "Traceback" not in res.output


def test_a_budget_raises_the_default_work_guard(monkeypatch):
    """--budget 10m plans ~9e8 operations: the default --max-ops (2e8) must not refuse it; an
    explicit --max-ops still holds, and without a budget the default stays."""
    from simulator.cli import kernel_cmds
    from simulator.run import DEFAULT_MAX_OPS
    from simulator.sampling import budget_ops
    seen = []
    monkeypatch.setattr(kernel_cmds, "run_kernel",
                        lambda *a, **kw: seen.append(kw["max_ops"]) or {"kernel": "x"})
    monkeypatch.setattr(kernel_cmds, "summary", lambda rec: "")
    for extra in (["--budget", "10m"], ["--budget", "10m", "--max-ops", "5"], [],
                  ["--budget", "1s"]):
        res = CliRunner().invoke(main, ["run", "-k", "inner", "-m", "rmat:scale=6", "--out", "",
                                        *extra])
        assert res.exit_code == 0, res.output
    assert seen == [int(1.25 * budget_ops(600)), 5, DEFAULT_MAX_OPS, DEFAULT_MAX_OPS]
    assert budget_ops(600) > DEFAULT_MAX_OPS


def test_run_sample_auto_with_budget_prints_the_interval(tmp_path):
    out = tmp_path / "runs.jsonl"
    res = CliRunner().invoke(main, ["run", "-k", "inner", "-m", "rmat:scale=10,ef=4", "--preset",
                                    "piuma-die", "--sample", "auto", "--budget", "0.5s",
                                    "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "sampled     estimate from" in res.output and "95% interval" in res.output
    rec = json.loads(out.read_text().splitlines()[-1])
    assert rec["sample_fraction"] < 1 and rec["sample_method"].startswith("miniature")
    assert rec["cycles_ci_low"] <= rec["cycles"] <= rec["cycles_ci_high"]
    # --budget alone means --sample auto; a big budget runs the whole matrix
    res = CliRunner().invoke(main, ["run", "-k", "inner", "-m", "rmat:scale=6,ef=4", "--budget",
                                    "1h", "--json", "--out", ""])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)
    assert rec["sample_fraction"] == 1.0 and rec["cycles_ci_low"] == rec["cycles"]


def test_run_sample_errors_are_one_line():
    r = CliRunner()
    for args, msg in [(["--sample", "0"], "fraction"), (["--sample", "lots"], "fraction"),
                      (["--budget", "soon"], "budget"),
                      (["--sample", "0.5", "--budget", "60s"], "--budget goes with --sample auto")]:
        res = r.invoke(main, ["run", "-k", "inner", "-m", "rmat:scale=6", *args, "--out", ""])
        assert res.exit_code in (1, 2), (args, res.output)
        assert "Error" in res.output and msg in res.output, res.output
        assert "Traceback" not in res.output
