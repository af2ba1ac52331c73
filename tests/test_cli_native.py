"""`smash multiply` and `smash bench` through click's CliRunner."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner

import matrices
import spgemm
from simulator.cli import main

SPEC = "er:n=64,nnz_per_row=4"


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("args", [
    [],
    ["--method", "outer", "--accumulator", "hash", "--threads", "2", "--sorted"],
    ["--method", "inner"],
])
def test_multiply_writes_product(runner, tmp_path, args):
    out = tmp_path / "C.mtx"
    B = "er:n=64,nnz_per_row=3,seed=5"
    res = runner.invoke(main, ["multiply", SPEC, B, "-o", str(out), *args])
    assert res.exit_code == 0, res.output
    assert "C = A·B: 64x64" in res.output and str(out) in res.output
    assert len(res.output.strip().splitlines()) == 1
    C = matrices.read_mtx(str(out))
    A_, B_ = matrices.load(SPEC), matrices.load(B)
    assert spgemm.compare(C, A_, B_)
    assert C.nnz == spgemm.symbolic(A_, B_).nnz


def test_multiply_gz_and_no_output(runner, tmp_path):
    out = tmp_path / "C.mtx.gz"
    res = runner.invoke(main, ["multiply", SPEC, SPEC, "--output", str(out)])
    assert res.exit_code == 0 and out.exists()
    res = runner.invoke(main, ["multiply", SPEC, SPEC])
    assert res.exit_code == 0 and "->" not in res.output


@pytest.mark.parametrize("args,needle", [
    (["multiply", SPEC, "er:n=30,nnz_per_row=2"], "shape mismatch"),
    (["multiply", SPEC, SPEC, "--method", "nope"], "unknown method"),
    (["multiply", SPEC, SPEC, "--method", "inner", "--accumulator", "hash"], "no accumulator"),
    (["multiply", SPEC, SPEC, "--threads", "0"], "thread"),
    (["multiply", "nosuchkind:n=3", SPEC], "nosuchkind"),
    (["multiply", "/nonexistent/x.mtx", SPEC], "x.mtx"),
    (["bench", "nosuchset"], "nosuchset"),
    (["bench", SPEC, "--method", "nope"], "unknown method"),
    (["bench", SPEC, "--threads", "0"], "thread"),
    (["bench", SPEC, "--threads", "two"], "two"),
])
def test_bad_input_one_line_error(runner, args, needle):
    res = runner.invoke(main, args)
    assert res.exit_code != 0
    assert "Error:" in res.output
    assert needle in res.output
    assert "Traceback" not in res.output


def test_bench_json_and_csv(runner, tmp_path):
    jpath, cpath = tmp_path / "b.json", tmp_path / "b.csv"
    res = runner.invoke(main, ["bench", SPEC, "--method", "rowwise/dense", "--method", "outer/sort",
                               "--method", "inner", "--threads", "1,2", "--repeats", "1",
                               "--min-time", "0", "--no-external", "--json", str(jpath),
                               "--csv", str(cpath)])
    assert res.exit_code == 0, res.output
    records = json.loads(jpath.read_text())
    assert len(records) == 1 + 3 * 2
    for r in records:
        for key in ("matrix", "method", "accumulator", "threads", "seconds", "gflops",
                    "speedup_vs_scipy", "verified", "compile_seconds", "flops", "nnz_c"):
            assert key in r
        assert r["verified"] is True and r["matrix"] == SPEC
    assert {r["threads"] for r in records if r["method"] != "scipy"} == {1, 2}
    rows = list(csv.DictReader(io.StringIO(cpath.read_text())))
    assert len(rows) == len(records)
    # terminal: per-matrix table and the geometric-mean summary
    assert "Geometric means" in res.output and "rowwise (best)" in res.output
    assert "outer" in res.output


def test_bench_json_to_stdout(runner):
    res = runner.invoke(main, ["bench", SPEC, "--method", "rowwise/hash", "--threads", "1",
                               "--repeats", "1", "--min-time", "0", "--no-external", "-q",
                               "--json", "-"])
    assert res.exit_code == 0
    records = json.loads(res.stdout)
    assert [r["method"] for r in records] == ["scipy", "rowwise"]
    assert np.isfinite(records[1]["gflops"])


def test_help_has_examples(runner):
    for cmd in ("multiply", "bench"):
        res = runner.invoke(main, [cmd, "--help"])
        assert res.exit_code == 0 and "Example" in res.output
