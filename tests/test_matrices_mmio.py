"""Matrix Market reading and writing: round trips, malformed files, the shared real matrices."""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from matrices import MatrixError, read_header, read_mtx, write_mtx

# ---------------------------------------------------------------------------------------------
# round trips


def _base(field: str, n: int = 7, m: int = 7, seed: int = 1) -> sp.csr_array:
    rng = np.random.default_rng(seed)
    B = sp.random_array((n, m), density=0.3, rng=rng, format="csr")
    if field == "integer":
        B.data = rng.integers(-50, 50, B.nnz).astype(np.int64)
        B.data[B.data == 0] = 7
    elif field == "complex":
        B = B.astype(np.complex128)
        B.data = B.data + 1j * rng.uniform(-1, 1, B.nnz)
    elif field == "pattern":
        B.data[:] = 1.0
    return B


def _with_symmetry(B: sp.csr_array, symmetry: str) -> sp.csr_array:
    if symmetry == "symmetric":
        A = B + B.T
    elif symmetry == "skew-symmetric":
        A = B - B.T
    elif symmetry == "hermitian":
        A = B + B.T.conj()
        A = A - sp.diags_array(1j * A.diagonal().imag)   # hermitian: real diagonal
    else:
        return B
    A = sp.csr_array(A)
    if B.dtype != np.complex128:
        A.data = np.where(A.data == 0, 1, A.data).astype(B.dtype)   # no explicit zeros
    if symmetry == "skew-symmetric":
        A.setdiag(0)
    A.eliminate_zeros()
    if np.iscomplexobj(A.data):
        A.data[A.data == 0] = 1
    return A


COMBOS = [(f, s) for f in ("real", "integer", "complex", "pattern")
          for s in ("general", "symmetric", "skew-symmetric", "hermitian")
          if not (s == "hermitian" and f != "complex") and not (s == "skew-symmetric" and f == "pattern")]
DTYPES = {"real": np.float64, "integer": np.int64, "complex": np.complex128, "pattern": np.float64}


@pytest.mark.parametrize("suffix", [".mtx", ".mtx.gz"])
@pytest.mark.parametrize("field,symmetry", COMBOS)
def test_round_trip(tmp_path: Path, field: str, symmetry: str, suffix: str) -> None:
    square = symmetry != "general"
    A = _with_symmetry(_base(field, 7, 7 if square else 5), symmetry)
    path = tmp_path / f"m{suffix}"
    write_mtx(path, A, comment="round trip\nsecond line", field=field, symmetry=symmetry)
    opener = gzip.open if suffix.endswith(".gz") else open
    with opener(path, "rt") as fh:
        banner = fh.readline().split()
    assert banner[1:] == ["matrix", "coordinate", field, symmetry]
    B = read_mtx(path)
    assert isinstance(B, sp.csr_array)
    assert B.dtype == DTYPES[field]
    assert B.shape == A.shape and B.has_canonical_format
    if field == "pattern":
        assert np.all(B.data == 1.0)
        np.testing.assert_array_equal((B.toarray() != 0), (A.toarray() != 0))
    else:
        np.testing.assert_array_equal(B.toarray(), A.toarray())   # exact: shortest repr round-trips
    h = read_header(path)
    assert (h.format, h.field, h.symmetry, h.rows, h.cols) == ("coordinate", field, symmetry, *A.shape)


def test_round_trip_float_values_exact(tmp_path: Path) -> None:
    A = sp.random_array((50, 40), density=0.2, rng=3, format="csr")
    A.data = A.data * 10.0 ** np.random.default_rng(0).integers(-300, 300, A.nnz)
    write_mtx(tmp_path / "f.mtx", A)
    np.testing.assert_array_equal(read_mtx(tmp_path / "f.mtx").toarray(), A.toarray())


def test_write_checks_symmetry(tmp_path: Path) -> None:
    A = sp.csr_array(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(MatrixError, match="not symmetric"):
        write_mtx(tmp_path / "a.mtx", A, symmetry="symmetric")
    with pytest.raises(MatrixError, match="square"):
        write_mtx(tmp_path / "a.mtx", sp.csr_array(np.ones((2, 3))), symmetry="symmetric")
    with pytest.raises(MatrixError, match="skew"):
        write_mtx(tmp_path / "a.mtx", sp.csr_array(np.eye(2)), symmetry="skew-symmetric")
    with pytest.raises(MatrixError, match="unknown symmetry"):
        write_mtx(tmp_path / "a.mtx", A, symmetry="diagonal")
    with pytest.raises(MatrixError, match="no such directory"):
        write_mtx(tmp_path / "missing" / "a.mtx", A)


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    data = text.encode() if isinstance(text, str) else text
    if name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def test_duplicates_summed_and_symmetric_expanded(tmp_path: Path) -> None:
    p = _write(tmp_path, "d.mtx", "%%MatrixMarket matrix coordinate real general\n"
               "3 3 4\n1 1 1.5\n1 1 2.0\n3 2 1\n2 2 0\n")
    A = read_mtx(p)
    assert A.has_canonical_format
    assert A[0, 0] == 3.5 and A[2, 1] == 1.0
    assert A.nnz == 3                                   # explicit zero (2,2) kept as stored
    p = _write(tmp_path, "s.mtx", "%%MatrixMarket matrix coordinate integer symmetric\n"
               "3 3 3\n1 1 4\n3 1 -2\n3 3 5\n")
    A = read_mtx(p)
    assert A.dtype == np.int64
    np.testing.assert_array_equal(A.toarray(), [[4, 0, -2], [0, 0, 0], [-2, 0, 5]])
    p = _write(tmp_path, "h.mtx", "%%MatrixMarket matrix coordinate complex hermitian\n"
               "2 2 2\n1 1 1 0\n2 1 1 2\n")
    np.testing.assert_array_equal(read_mtx(p).toarray(), [[1, 1 - 2j], [1 + 2j, 0]])
    p = _write(tmp_path, "k.mtx", "%%MatrixMarket matrix coordinate real skew-symmetric\n"
               "2 2 1\n2 1 3\n")
    np.testing.assert_array_equal(read_mtx(p).toarray(), [[0, -3], [3, 0]])


def test_lenient_layout(tmp_path: Path) -> None:
    """CRLF, tabs, blank lines, no final newline, comments before the size line, 1-% banner."""
    p = _write(tmp_path, "l.mtx", "%MatrixMarket matrix coordinate real general\r\n% c\r\n\r\n"
               "2\t2  2\r\n 1\t1 -1.5e+2 \r\n\r\n2 2 inf")
    A = read_mtx(p)
    assert A[0, 0] == -150.0 and A[1, 1] == np.inf


@pytest.mark.parametrize("field,symmetry,values,expected", [
    ("real", "general", "1\n2\n0\n4\n5\n6", [[1, 0, 5], [2, 4, 6]]),
    ("integer", "general", "1\n2\n3\n4\n5\n6", [[1, 3, 5], [2, 4, 6]]),
    ("complex", "general", "1 1\n2 0\n0 0\n4 0\n5 0\n6 -1", [[1 + 1j, 0, 5], [2, 4, 6 - 1j]]),
])
def test_array_format(tmp_path: Path, field: str, symmetry: str, values: str, expected: list) -> None:
    p = _write(tmp_path, "a.mtx.gz", f"%%MatrixMarket matrix array {field} {symmetry}\n2 3\n{values}\n")
    A = read_mtx(p)
    assert A.dtype == DTYPES[field]
    np.testing.assert_array_equal(A.toarray(), expected)
    assert A.nnz == int(np.count_nonzero(expected))       # dense zeros are not stored


def test_array_format_symmetric(tmp_path: Path) -> None:
    p = _write(tmp_path, "s.mtx", "%%MatrixMarket matrix array real symmetric\n3 3\n1\n2\n3\n4\n5\n6\n")
    np.testing.assert_array_equal(read_mtx(p).toarray(), [[1, 2, 3], [2, 4, 5], [3, 5, 6]])
    p = _write(tmp_path, "k.mtx", "%%MatrixMarket matrix array real skew-symmetric\n3 3\n1\n2\n3\n")
    np.testing.assert_array_equal(read_mtx(p).toarray(), [[0, -1, -2], [1, 0, -3], [2, 3, 0]])
    p = _write(tmp_path, "bad.mtx", "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n")
    with pytest.raises(MatrixError, match="too few entries"):
        read_mtx(p)


def test_empty_matrix(tmp_path: Path) -> None:
    p = _write(tmp_path, "e.mtx", "%%MatrixMarket matrix coordinate real general\n4 3 0\n")
    A = read_mtx(p)
    assert A.shape == (4, 3) and A.nnz == 0


# ---------------------------------------------------------------------------------------------
# malformed files: one MatrixError naming the file and the problem

HDR = "%%MatrixMarket matrix coordinate real general\n"
MALFORMED = [
    # name, content, pattern the message must match (after the file name)
    ("nobanner.mtx", "3 3 1\n1 1 1\n", r"missing '%%MatrixMarket' banner"),
    ("badfield.mtx", "%%MatrixMarket matrix coordinate foo general\n3 3 1\n1 1 1\n", r"unknown field 'foo'"),
    ("badsym.mtx", "%%MatrixMarket matrix coordinate real upper\n3 3 1\n1 1 1\n", r"unknown symmetry 'upper'"),
    ("badformat.mtx", "%%MatrixMarket matrix sparse real general\n3 3 1\n1 1 1\n", r"unknown format 'sparse'"),
    ("shortbanner.mtx", "%%MatrixMarket matrix coordinate real\n3 3 1\n1 1 1\n", r"bad banner"),
    ("vector.mtx", "%%MatrixMarket vector coordinate real general\n3 1\n1 1\n", r"object 'vector' is not supported"),
    ("case.mtx", "%%MATRIXMARKET matrix coordinate real general\n1 1 1\n1 1 1\n", r"case matters"),
    ("patarray.mtx", "%%MatrixMarket matrix array pattern general\n1 1\n1\n", r"'pattern' field is not allowed"),
    ("hermreal.mtx", "%%MatrixMarket matrix coordinate real hermitian\n2 2 1\n1 1 1\n", r"needs a 'complex' field"),
    ("nonsquare.mtx", "%%MatrixMarket matrix coordinate real symmetric\n3 4 1\n1 1 1\n", r"must be square"),
    ("nosize.mtx", HDR + "% only comments\n", r"no size line"),
    ("badsize.mtx", HDR + "3 3 x\n1 1 1\n", r"line 2: bad size line '3 3 x'"),
    ("shortsize.mtx", HDR + "3 3\n1 1 1\n", r"line 2: bad size line"),
    ("negsize.mtx", HDR + "-3 3 1\n1 1 1\n", r"line 2: negative size -3"),
    ("toofew.mtx", HDR + "3 3 3\n1 1 1.000000000000\n2 2 2.000000000000\n",
     r"too few entries: header declares 3, file has 2"),
    ("truncated.mtx", HDR + "3 3 3\n1 1 1\n", r"too few entries: header declares 3, file has 1"),
    ("farshort.mtx", HDR + "3 3 5000\n1 1 1\n", r"declares 5000 entries, but the file's \d+ bytes cannot hold"),
    ("toomany.mtx", HDR + "3 3 1\n1 1 1\n2 2 2\n", r"line 4: more entries than the 1 declared"),
    ("idx0.mtx", HDR + "3 3 2\n1 1 1\n0 1 1\n", r"line 4: row index out of bounds"),
    ("idxbig.mtx", HDR + "3 3 2\n1 1 1\n2 4 1\n", r"line 4: column index out of bounds"),
    ("idxneg.mtx", HDR + "3 3 1\n-1 1 1\n", r"line 3: row index '-1' is not a positive integer"),
    ("idxfloat.mtx", HDR + "3 3 1\n1 1.5 1\n", r"line 3: column index '1.5' is not a positive integer"),
    ("nonnum.mtx", HDR + "3 3 2\n1 1 1\n2 2 abc\n", r"line 4: value 'abc' is not a number"),
    ("suffix.mtx", HDR + "3 3 1\n1 1 1.5x\n", r"line 3: value '1.5x' is not a number"),
    ("twodots.mtx", HDR + "3 3 1\n1 1 1.2.3\n", r"value '1.2.3' is not a number"),
    ("hex.mtx", HDR + "3 3 1\n1 1 0x10\n", r"value '0x10' is not a number"),
    ("exp.mtx", HDR + "3 3 1\n1 1 1e\n", r"value '1e' is not a number"),
    ("comma.mtx", HDR + "3 3 1\n1 1 1,5\n", r"value '1,5' is not a number"),
    ("intfloat.mtx", "%%MatrixMarket matrix coordinate integer general\n3 3 1\n1 1 1.5\n",
     r"value '1.5' is not an integer"),
    ("missingcol.mtx", HDR + "3 3 1\n1 1.0\n", r"line 3: expected 3 fields \(row col value\), found 2"),
    ("extra.mtx", HDR + "3 3 1\n1 1 1.0 7\n", r"line 3: expected 3 fields .* found 4"),
    ("patternval.mtx", "%%MatrixMarket matrix coordinate pattern general\n3 3 1\n1 1 1\n",
     r"expected 2 fields \(row col\)"),
    ("complexmissing.mtx", "%%MatrixMarket matrix coordinate complex general\n3 3 1\n1 1 1\n",
     r"expected 4 fields \(row col re im\)"),
    ("bodycomment.mtx", HDR + "3 3 1\n% late comment\n1 1 1\n", r"line 3: comment line .* inside the data"),
    ("bodycomment2.mtx", HDR + "3 3 1\n%late\n1 1 1\n", r"line 3: expected 3 fields"),
    ("hugennz.mtx", HDR + "3 3 2000000000000\n1 1 1\n", r"declares 2000000000000 entries, but .* cannot hold"),
    ("hugennz.mtx.gz", HDR + "3 3 2000000000000\n1 1 1\n", r"declares 2000000000000 entries, but a gzip file"),
    ("hugedim.mtx", HDR + "3000000000000 3000000000000 1\n1 1 1\n", r"more than the supported 2147483647"),
    ("hypersparse.mtx", HDR + "1000000000 1000000000 1\n1 1 1\n", r"refusing to allocate"),
    ("hugedense.mtx", "%%MatrixMarket matrix array real general\n100000 100000\n1\n2\n", r"cannot hold"),
    ("empty.mtx", "", r"empty file"),
    ("empty.mtx.gz", "", r"empty file"),
    ("garbage.mtx", bytes(range(256)) * 8, r"not a Matrix Market file"),
    ("garbagebody.mtx", HDR.encode() + b"3 3 2\n" + bytes(range(1, 256)) * 8, r"line \d+: "),
]


@pytest.mark.parametrize("name,content,problem", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed(tmp_path: Path, name: str, content: str | bytes, problem: str) -> None:
    path = _write(tmp_path, name, content)
    with pytest.raises(MatrixError) as info:
        read_mtx(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: "), msg
    assert "\n" not in msg
    assert re.search(problem, msg), msg


def test_truncated_and_corrupt_gzip(tmp_path: Path) -> None:
    body = HDR + "100 100 200\n" + "".join(f"{i % 100 + 1} {i // 2 + 1} {i}.5\n" for i in range(200))
    whole = gzip.compress(body.encode())
    cut = tmp_path / "cut.mtx.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(MatrixError, match=rf"^{re.escape(str(cut))}: truncated gzip"):
        read_mtx(cut)
    bad = tmp_path / "bad.mtx.gz"
    bad.write_bytes(b"\x1f\x8b" + b"\x00" * 40)
    with pytest.raises(MatrixError, match=rf"^{re.escape(str(bad))}: corrupt gzip"):
        read_mtx(bad)
    ok = tmp_path / "ok.mtx.gz"
    ok.write_bytes(whole)
    assert read_mtx(ok).nnz > 0


def test_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match=r"is a directory"):
        read_mtx(tmp_path)
    missing = tmp_path / "missing.mtx"
    with pytest.raises(MatrixError, match=rf"^{re.escape(str(missing))}: no such file$"):
        read_mtx(missing)


def test_gzip_detected_by_content(tmp_path: Path) -> None:
    p = tmp_path / "plain-name.mtx"
    p.write_bytes(gzip.compress((HDR + "2 2 1\n2 1 4\n").encode()))
    assert read_mtx(p)[1, 0] == 4


def test_errors_are_value_errors() -> None:
    assert issubclass(MatrixError, ValueError)


# ---------------------------------------------------------------------------------------------
# the shared real matrices


def _manifest(folder: Path) -> dict[str, dict[str, str]]:
    lines = [ln for ln in (folder / "MANIFEST.md").read_text().splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        rows[cells[0]] = dict(zip(head, cells))
    return rows


# Entries of A*A that cancel to exact zero (scipy drops them; structural nnz keeps them).
CANCELLED = {"bcsstk08": 1180, "bcsstk21": 4400, "bcsstk13": 850}


def test_shared_matrices(shared_matrices_dir: Path) -> None:
    from matrices import matrix_info
    manifest = _manifest(shared_matrices_dir)
    files = sorted(shared_matrices_dir.glob("*.mtx*"))
    assert files
    for path in files:
        name = path.name.split(".mtx")[0]
        A = read_mtx(path)
        assert A.has_canonical_format, name
        if name not in manifest:
            continue
        row = manifest[name]
        assert A.shape == (int(row["rows"]), int(row["cols"])), name
        assert A.nnz == int(row["nnz"]), name
        ref = sp.csr_array(scipy.io.mmread(path))
        ref.sum_duplicates()
        assert (A != ref).nnz == 0, name
        if A.nnz <= 50_000:       # the product statistics of the small ones (fast)
            info = matrix_info(A)
            assert info["flops"] == int(row["flops"]), name
            assert info["nnz_c"] == int(row["nnz(C)"]) + CANCELLED.get(name, 0), name


def test_small_blocks_keep_line_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The body is checked in blocks: results and line numbers must not depend on the block size."""
    import matrices.mmio as mmio
    A = sp.random_array((40, 30), density=0.2, rng=5, format="csr")
    path = tmp_path / "a.mtx.gz"
    write_mtx(path, A)
    monkeypatch.setattr(mmio, "_BLOCK_BYTES", 37)
    np.testing.assert_array_equal(read_mtx(path).toarray(), A.toarray())
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    first = next(i for i, ln in enumerate(lines) if not ln.startswith("%")) + 1   # size line
    bad_line = first + 150
    lines[bad_line] = lines[bad_line].rsplit(" ", 1)[0] + " 1.0{x}"
    bad = tmp_path / "bad.mtx"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(MatrixError, match=rf"line {bad_line + 1}: value '1\.0{{x}}' is not a number"):
        read_mtx(bad)


def test_pattern_duplicates_stay_one(tmp_path: Path) -> None:
    p = _write(tmp_path, "p.mtx", "%%MatrixMarket matrix coordinate pattern symmetric\n"
               "3 3 3\n2 1\n1 2\n3 3\n")
    A = read_mtx(p)
    assert A.dtype == np.float64 and np.all(A.data == 1.0)
    np.testing.assert_array_equal(A.toarray(), [[0, 1, 0], [1, 0, 0], [0, 0, 1]])
