"""`smash matrix info | gen | sets` through click's CliRunner."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from matrices import SETS, read_mtx
from simulator.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["matrix", *args])


def assert_user_error(result: Result, *fragments: str) -> None:
    assert result.exit_code != 0
    assert result.output.startswith("Error:"), result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    for f in fragments:
        assert f in result.output, result.output


def test_info_text() -> None:
    r = run("info", "rmat:scale=6,ef=4", "poisson2d:n=4")
    assert r.exit_code == 0, r.output
    assert "rmat:scale=6,ef=4" in r.output
    assert "shape     64 x 64" in r.output
    assert "poisson2d:n=4" in r.output and "16 x 16, 64 nnz" in r.output
    assert "A*A" in r.output and "multiply-adds" in r.output


def test_info_json() -> None:
    r = run("info", "banded:n=10,bandwidth=1", "er:n=20,nnz_per_row=2,m=30", "--json")
    assert r.exit_code == 0, r.output
    records = json.loads(r.output)
    assert [rec["name"] for rec in records] == ["banded:n=10,bandwidth=1", "er:n=20,nnz_per_row=2,m=30"]
    band = records[0]
    assert band["spec"] == "banded:n=10,bandwidth=1"
    assert (band["rows"], band["cols"], band["nnz"]) == (10, 10, 28)
    assert band["product"] == "A*A" and band["flops"] == 3 * 28 - 4
    assert records[1]["product"] == "A*A^T"
    r = run("info", "--json", "--no-product", "poisson3d:n=2")
    assert "flops" not in json.loads(r.output)[0]


def test_info_set_and_folder(tmp_path: Path) -> None:
    r = run("info", "smoke", "--json", "--no-product")
    assert r.exit_code == 0, r.output
    assert [rec["spec"] for rec in json.loads(r.output)] == SETS["smoke"]
    for name in ("x.mtx", "y.mtx.gz"):
        assert run("gen", "poisson2d:n=3", "-o", str(tmp_path / name)).exit_code == 0
    r = run("info", str(tmp_path), "--json")
    assert [rec["name"] for rec in json.loads(r.output)] == ["x", "y"]


def test_gen_writes_readable_file(tmp_path: Path) -> None:
    out = tmp_path / "r.mtx.gz"
    r = run("gen", "rmat:scale=7,ef=4,seed=3", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert str(out) in r.output and "128 x 128" in r.output
    A = read_mtx(out)
    assert A.shape == (128, 128) and A.nnz > 0
    r = run("info", str(out), "--json")
    assert json.loads(r.output)[0]["nnz"] == A.nnz


def test_sets_lists_sets_and_kinds() -> None:
    r = run("sets")
    assert r.exit_code == 0
    for spec in SETS["smoke"] + SETS["default"]:
        assert spec in r.output
    assert "rmat" in r.output and "scale (int, required)" in r.output


@pytest.mark.parametrize("args,fragments", [
    (["info", "nope"], ["unknown matrix set or spec 'nope'"]),
    (["info", "rmat:scale=x"], ["scale='x' is not an integer"]),
    (["info", "frob:n=3"], ["unknown"]),
    (["info", "missing.mtx"], ["missing.mtx: no such file"]),
    (["gen", "rmat:scale=99", "-o", "x.mtx"], ["scale=99 out of range"]),
])
def test_bad_input(args: list[str], fragments: list[str]) -> None:
    assert_user_error(run(*args), *fragments)


def test_malformed_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mtx"
    bad.write_text("%%MatrixMarket matrix coordinate real general\n3 3 2\n1 1 1\n")
    assert_user_error(run("info", str(bad)), str(bad), "too few entries")
    garbage = tmp_path / "garbage.mtx.gz"
    garbage.write_bytes(b"\x1f\x8b\x08\x00garbage")
    assert_user_error(run("info", str(garbage)), str(garbage))


def test_gen_unwritable(tmp_path: Path) -> None:
    assert_user_error(run("gen", "poisson2d:n=2", "-o", str(tmp_path / "no" / "x.mtx")), "cannot write")


def test_help_ends_with_example() -> None:
    for cmd in ("info", "gen", "sets"):
        r = run(cmd, "--help")
        assert r.exit_code == 0
        assert "Example:" in r.output and "smash matrix " + cmd in r.output.split("Example:")[-1]
