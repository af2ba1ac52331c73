"""Matrix specs, sets, folders, the generator registry and matrix_info."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import matrices
from matrices import (GENERATORS, SETS, MatrixError, canonical_name, load, matrix_info,
                      parse_spec, resolve, write_mtx)
from matrices.specs import Generator, _param_table


def test_parse_fills_defaults_and_types() -> None:
    s = parse_spec("rmat:scale=12,seed=3,symmetric=yes")
    assert s.kind == "rmat" and s.path is None and not s.is_file
    assert s.params == {"scale": 12, "ef": 16, "a": 0.57, "b": 0.19, "c": 0.19, "seed": 3,
                        "symmetric": True, "permute": False, "values": "random"}
    e = parse_spec(" er : n = 100 , nnz_per_row = 2.5 , m = none ")
    assert e.params["nnz_per_row"] == 2.5 and e.params["m"] is None
    assert parse_spec("poisson2d:n=4") == parse_spec("POISSON2D:n=4")
    assert hash(parse_spec("rmat:scale=5,ef=16")) == hash(parse_spec("rmat:ef=16,scale=5"))


@pytest.mark.parametrize("spec,name", [
    ("rmat:scale=14,ef=16", "rmat:scale=14,ef=16"),
    ("rmat:ef=16,scale=14,seed=0", "rmat:scale=14,ef=16"),
    ("rmat:scale=14,seed=1", "rmat:scale=14,ef=16,seed=1"),
    ("rmat:scale=8,c=0.2,a=0.5", "rmat:scale=8,ef=16,a=0.5,c=0.2"),
    ("er:n=4096,nnz_per_row=8", "er:n=4096,nnz_per_row=8"),
    ("er:nnz_per_row=8.0,n=4096", "er:n=4096,nnz_per_row=8"),
    ("er:n=10,nnz_per_row=2.5,m=20", "er:n=10,nnz_per_row=2.5,m=20"),
    ("banded:n=1000,bandwidth=5", "banded:n=1000,bandwidth=5"),
    ("poisson2d:n=64", "poisson2d:n=64"),
    ("poisson3d:n=32", "poisson3d:n=32"),
    ("powerlaw:n=100", "powerlaw:n=100,nnz_per_row=8,exponent=2.5"),
    ("imbalanced:n=100", "imbalanced:n=100,nnz_per_row=8,n_long=4"),
    ("imbalanced:n=100,long_len=60,values=ones", "imbalanced:n=100,nnz_per_row=8,n_long=4,long_len=60,values=ones"),
    ("rmat:scale=6,symmetric=1", "rmat:scale=6,ef=16,symmetric=true"),
    ("path/to/bcsstk08.mtx.gz", "bcsstk08"),
    ("other/dir/cage10.mtx", "cage10"),
])
def test_canonical_name(spec: str, name: str) -> None:
    assert canonical_name(spec) == name
    parsed = parse_spec(spec)
    assert parsed.name == name
    if not parsed.is_file:
        assert parse_spec(name) == parsed          # the name is itself a spec for the same matrix


def test_load_generators_match_functions() -> None:
    A = load("rmat:scale=7,ef=4,seed=2")
    B = matrices.rmat(7, ef=4, seed=2)
    assert (A != B).nnz == 0
    assert load("poisson2d:n=3").shape == (9, 9)
    assert load(parse_spec("banded:n=10,bandwidth=1")).nnz == 28


def test_load_file(tmp_path: Path) -> None:
    A = matrices.erdos_renyi(30, 3, seed=1)
    path = tmp_path / "small.mtx.gz"
    write_mtx(path, A)
    spec = parse_spec(str(path))
    assert spec.is_file and spec.path == str(path) and spec.params == {}
    assert (load(str(path)) != A).nnz == 0
    assert canonical_name(str(path)) == "small"
    with pytest.raises(MatrixError, match=r"no such file"):
        load(str(tmp_path / "gone.mtx"))


@pytest.mark.parametrize("spec,problem", [
    ("", r"empty matrix spec"),
    ("frob:n=3", r"unknown generator kind 'frob' \(kinds: rmat, er, banded, poisson2d, poisson3d, powerlaw, imbalanced\)"),
    ("frob", r"expected kind:key=value"),
    ("rmat:sclae=3", r"unknown key 'sclae' for rmat \(valid: scale, ef, a, b, c, seed, symmetric, permute, values\)"),
    ("rmat:ef=3", r"missing required key 'scale' for rmat"),
    ("rmat", r"missing required key 'scale'"),
    ("rmat:scale", r"'scale' is not key=value"),
    ("rmat:scale=10,scale=11", r"key 'scale' given twice"),
    ("rmat:scale=ten", r"scale='ten' is not an integer"),
    ("rmat:scale=1.5", r"scale='1.5' is not an integer"),
    ("rmat:scale=10,a=x", r"a='x' is not a number"),
    ("rmat:scale=10,a=inf", r"a='inf' is not a finite number"),
    ("rmat:scale=27", r"scale=27 out of range \(1\.\.26\)"),
    ("rmat:scale=-3", r"scale=-3 out of range"),
    ("rmat:scale=10,a=0.6,b=0.3,c=0.1", r"a\+b\+c=1 must be < 1"),
    ("rmat:scale=10,symmetric=maybe", r"symmetric='maybe' is not a boolean"),
    ("rmat:scale=10,values=twos", r"values='twos' is not one of random, ones"),
    ("er:n=-5", r"n=-5 out of range"),
    ("er:n=5,nnz_per_row=6", r"nnz_per_row=6\.0 out of range \(must be <= 5\)"),
    ("banded:n=10,bandwidth=-1", r"bandwidth=-1 out of range"),
    ("poisson3d:n=0", r"n=0 out of range"),
    ("poisson2d:n=100000", r"more than the limit"),
    ("imbalanced:n=10,long_len=11", r"long_len=11 out of range"),
])
def test_spec_errors(spec: str, problem: str) -> None:
    with pytest.raises(MatrixError) as info:
        parse_spec(spec)
    msg = str(info.value)
    assert "\n" not in msg
    if spec:
        assert msg.startswith(f"bad matrix spec {spec!r}: "), msg
    assert re.search(problem, msg), msg


def test_sets() -> None:
    assert set(SETS) >= {"smoke", "default"}
    assert "rmat:scale=14,ef=16" in SETS["default"]
    assert "er:n=16384,nnz_per_row=16" in SETS["default"]
    for name in ("smoke", "default"):
        kinds = {parse_spec(s).kind for s in SETS[name]}
        assert kinds >= {"rmat", "er", "poisson3d", "banded", "powerlaw", "imbalanced"}
    for spec in SETS["smoke"]:
        A = load(spec)
        assert 500 <= A.shape[0] <= 2000, spec
    for spec in SETS["default"]:
        parse_spec(spec)                        # valid (loading them is the benchmark's job)


def test_resolve(tmp_path: Path) -> None:
    folder = tmp_path / "mats"
    folder.mkdir()
    for name in ("b.mtx.gz", "a.mtx", "c.MTX"):
        write_mtx(folder / name, matrices.banded(4, 1))
    (folder / "notes.txt").write_text("not a matrix")
    (folder / "sub.mtx").mkdir()
    got = resolve(["smoke", str(folder), "rmat:scale=3", str(folder / "a.mtx")])
    n = len(SETS["smoke"])
    assert got[:n] == SETS["smoke"]
    assert got[n:n + 3] == [str(folder / "a.mtx"), str(folder / "b.mtx.gz"), str(folder / "c.MTX")]
    assert got[n + 3:] == ["rmat:scale=3", str(folder / "a.mtx")]
    assert resolve("default") == SETS["default"]


@pytest.mark.parametrize("item,problem", [
    ("nope", r"unknown matrix set or spec 'nope' \(sets: smoke, default; generator kinds: rmat, "),
    ("frob:n=1", r"unknown matrix set or spec 'frob:n=1'"),
    ("rmat:scale=99", r"bad matrix spec 'rmat:scale=99': scale=99 out of range"),
    ("missing.mtx", r"missing.mtx: no such file"),
])
def test_resolve_errors(item: str, problem: str) -> None:
    with pytest.raises(MatrixError, match=problem):
        resolve([item])


def test_resolve_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match=r"holds no \.mtx or \.mtx\.gz files"):
        resolve([str(tmp_path)])


def test_registry_types() -> None:
    rm = GENERATORS["rmat"].params
    assert rm["scale"].required and rm["scale"].type is int
    assert rm["a"].type is float and rm["symmetric"].type is bool
    assert rm["values"].choices == ("random", "ones")
    assert GENERATORS["er"].params["m"].optional
    for gen in GENERATORS.values():
        assert gen.summary and callable(gen.func)


def test_adding_a_generator_is_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    from matrices.generators import _check_int, _generator

    def _check_diag(n: int, scale: float) -> None:
        _check_int("n", n, 1)

    @_generator(_check_diag)
    def diag(n: int, scale: float = 1.0) -> sp.csr_array:
        """Scaled identity."""
        return sp.csr_array(sp.eye_array(n) * scale)

    monkeypatch.setitem(GENERATORS, "diag", Generator("diag", diag, _param_table(diag)))
    assert load("diag:n=3,scale=2").toarray().trace() == 6
    assert canonical_name("diag:scale=1,n=3") == "diag:n=3"
    with pytest.raises(MatrixError, match=r"bad matrix spec 'diag:n=0': n=0 out of range"):
        parse_spec("diag:n=0")


# ---------------------------------------------------------------------------------------------
# matrix_info


def test_matrix_info_square() -> None:
    A = sp.csr_array(np.array([[1.0, 1.0, 0, 0],
                               [0, 0, 0, 0],
                               [1.0, 0, 1.0, 1.0],
                               [0, 0, -1.0, 0]]))
    info = matrix_info(A)
    assert info["rows"] == 4 and info["cols"] == 4 and info["nnz"] == 6
    assert info["density"] == 6 / 16
    assert (info["row_nnz_min"], info["row_nnz_max"], info["empty_rows"]) == (0, 3, 1)
    assert info["row_nnz_mean"] == 1.5
    assert info["empty_cols"] == 0
    assert info["product"] == "A*A"
    # flops: row0: a00*row0(2) + a01*row1(0) = 2; row2: 2 + 3 + 1 = 6; row3: 3 -> 11
    assert info["flops"] == 11
    P = (abs(A) @ abs(A))
    assert info["nnz_c"] == P.nnz
    assert info["compression_ratio"] == 11 / P.nnz


def test_matrix_info_counts_cancelled_entries() -> None:
    A = sp.csr_array(np.array([[1.0, 1.0], [1.0, -1.0]]))   # A*A = 2I: off-diagonals cancel
    info = matrix_info(A)
    assert info["nnz_c"] == 4 and (A @ A).count_nonzero() == 2


def test_matrix_info_rectangular_and_empty() -> None:
    A = sp.csr_array(np.array([[1.0, 0, 2.0], [0, 0, 3.0]]))
    info = matrix_info(A)
    assert info["product"] == "A*A^T"
    # A*A^T: col counts (1, 0, 2) -> flops = 1 + 0 + 4
    assert info["flops"] == 5 and info["nnz_c"] == 4
    assert info["empty_cols"] == 1
    E = matrix_info(sp.csr_array((3, 3)))
    assert E["nnz"] == 0 and E["flops"] == 0 and np.isnan(E["compression_ratio"])
    assert "flops" not in matrix_info(A, product=False)
    with pytest.raises(MatrixError, match="expected a scipy sparse matrix"):
        matrix_info(np.eye(2))


def test_row_flops_matches_definition() -> None:
    A = matrices.erdos_renyi(60, 4, seed=2)
    B = matrices.erdos_renyi(60, 3, m=40, seed=3)
    f = matrices.row_flops(A, B)
    Ad = A.toarray() != 0
    expected = (Ad.astype(int) @ np.diff(B.indptr))
    np.testing.assert_array_equal(f, expected)
