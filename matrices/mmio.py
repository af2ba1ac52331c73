"""Matrix Market files (``.mtx``, ``.mtx.gz``): read to canonical CSR, write from any sparse matrix.

Reading is done by ``scipy.io.mmread`` (fast_matrix_market). Before it runs, ``read_mtx`` checks
the file itself, so that a malformed file gives one `MatrixError` line naming the file, the line
and the problem, and a lying header can never make it allocate:

1. header: the ``%%MatrixMarket matrix <format> <field> <symmetry>`` banner and the size line;
   declared sizes are bounded (each dimension < 2**31; no row count absurdly beyond the entry
   count; no entry count far beyond what the file's bytes can hold -- for ``.gz`` files, the
   largest DEFLATE expansion of the compressed size).
2. body, streamed in blocks with vectorized numpy (bounded memory, roughly the cost of the
   mmread that follows): every non-blank line has exactly the right number of fields; indices
   are plain positive integers; values are numbers (integers in an ``integer`` file); the
   number of entries equals the declared count.
3. mmread then parses numbers and checks index ranges; its errors are re-raised with the file.

Conventions of the returned matrix (see `read_mtx`): duplicates summed, symmetric storage
expanded, explicit zeros kept, indices sorted.
"""
from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np
import scipy.io
import scipy.sparse as sp

from matrices import hostmem
from matrices.errors import MatrixError
from matrices.outputs import atomic_output

__all__ = ["read_mtx", "write_mtx", "read_header", "MtxHeader",
           "FORMATS", "FIELDS", "SYMMETRIES", "MAX_DIM"]

FORMATS = ("coordinate", "array")
FIELDS = ("real", "integer", "complex", "pattern")
SYMMETRIES = ("general", "symmetric", "skew-symmetric", "hermitian")

MAX_DIM = 2**31 - 1
"""Largest accepted row or column count (an int32 index)."""

# A row count this far beyond the entry count is a typo'd size line, not a matrix: the CSR row
# pointer alone would dwarf the data. Refuse when rows > _HYPERSPARSE_MIN_ROWS and
# rows > _HYPERSPARSE_RATIO * entries.
_HYPERSPARSE_MIN_ROWS = 2**24
_HYPERSPARSE_RATIO = 64

# DEFLATE cannot expand data by more than ~1032x; bound a .gz file's text by this many bytes per
# compressed byte (plus slack for tiny files).
_GZIP_MAX_RATIO = 1100
_BLOCK_BYTES = 8 << 20          # streaming block for the body check
_KEEP_BYTES = 256 << 20         # gzip text up to this size is kept for mmread, not re-inflated
_MAX_LINE_BYTES = 1 << 20       # a longer line is not Matrix Market text
_SHOW = 60                      # characters of offending text quoted in a message

_BANNER = "%%MatrixMarket"
_BANNER_HELP = ("'%%MatrixMarket matrix <coordinate|array> <real|integer|complex|pattern> "
                "<general|symmetric|skew-symmetric|hermitian>'")


class MtxHeader(NamedTuple):
    """What a Matrix Market header declares.

    rows, cols: declared shape. entries: number of data lines the body must hold (for the array
    format: rows*cols, or the lower triangle for symmetric storage). header_lines: lines up to and
    including the size line (the body starts on line header_lines + 1).
    """

    format: str
    field: str
    symmetry: str
    rows: int
    cols: int
    entries: int
    header_lines: int


# ---------------------------------------------------------------------------------------------
# reading


def read_mtx(path: str | os.PathLike[str]) -> sp.csr_array:
    """Read a Matrix Market file (plain or gzip) into a canonical ``csr_array``.

    path: a ``.mtx`` or ``.mtx.gz`` file (gzip is recognized by its magic bytes, whatever the
    suffix). Supported: ``coordinate`` and ``array`` format; ``real``, ``integer``, ``complex``,
    ``pattern`` field; ``general``, ``symmetric``, ``skew-symmetric``, ``hermitian`` symmetry.

    Returns a csr_array of shape (rows, cols) with sorted indices and no duplicate entries:
    duplicate coordinates in the file are **summed**; symmetric / skew / hermitian storage is
    expanded to the full matrix; explicit zeros in a coordinate file are kept (they are stored
    entries); zeros of an array (dense) file are dropped. dtype: pattern -> float64 ones (a
    repeated pattern entry is still 1), integer -> int64, real -> float64, complex -> complex128.

    Raises MatrixError (one line naming the file and the problem) for anything malformed.
    """
    where = str(path)
    header = read_header(path)
    hostmem.require(_read_bytes(header, os.path.getsize(path), _is_gzip(path)), f"reading {where} "
                    f"({header.rows} x {header.cols}, {header.entries} entries)",
                    hint="use a machine with more memory or a smaller matrix")
    with _open(path) as fh:
        gz = isinstance(fh, gzip.GzipFile)
        head = _skip_lines(fh, header.header_lines, where)
        # Keep a gzip file's text so mmread need not decompress it again.
        kept = _check_body(fh, where, header, keep=gz)
    source = io.BytesIO(b"".join([head, *kept])) if kept is not None else None
    raw = _mmread(source if source is not None else path, where, header)
    return _to_csr(raw, header, where)


#: Peak host bytes per stored entry while reading (mmread's COO coordinates and values, the CSR
#: conversion and the duplicate merge), and per row (row pointers and their work arrays).
_READ_BYTES_PER_ENTRY = 64
_READ_BYTES_PER_ROW = 24


def _is_gzip(path: str | os.PathLike[str]) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _read_bytes(header: MtxHeader, file_bytes: int, gz: bool) -> int:
    """Estimated peak memory of `read_mtx` on a file with this header (symmetric storage is
    expanded to both triangles; a gzip file's text is kept in memory up to _KEEP_BYTES)."""
    entries = header.entries * (1 if header.symmetry == "general" else 2)
    per = _READ_BYTES_PER_ENTRY + (8 if header.field == "complex" else 0)
    text = min(file_bytes * _GZIP_MAX_RATIO, _KEEP_BYTES) if gz else 0
    return entries * per + (header.rows + 1) * _READ_BYTES_PER_ROW + text


def read_header(path: str | os.PathLike[str]) -> MtxHeader:
    """Parse and sanity-check the banner and size line of a Matrix Market file (cheap).

    path: a ``.mtx`` or ``.mtx.gz`` file. Raises MatrixError for a missing or bad banner or size
    line, and for declared sizes that are absurd or that the file cannot hold.
    """
    where = str(path)
    with _open(path) as fh:
        first = _readline(fh, where, first=True)
        if first is None:
            raise MatrixError(f"{where}: empty file")
        fmt, field, symmetry = _parse_banner(first, where)
        line_no = 1
        while True:
            line = _readline(fh, where)
            if line is None:
                raise MatrixError(f"{where}: no size line after the header (file ends at line {line_no})")
            line_no += 1
            text = line.strip()
            if text and not text.startswith(b"%"):
                break
        rows, cols, declared = _parse_size(text, fmt, where, line_no)
        header_bytes = fh.tell() if not isinstance(fh, gzip.GzipFile) else None

    if symmetry != "general" and rows != cols:
        raise MatrixError(f"{where}: {symmetry} matrix must be square, header declares {rows} x {cols}")
    for what, n in (("rows", rows), ("columns", cols)):
        if n > MAX_DIM:
            raise MatrixError(f"{where}: declares {n} {what}, more than the supported {MAX_DIM}")
    if fmt == "array":
        entries = _array_entries(rows, cols, symmetry)
    else:
        entries = declared
        if rows > _HYPERSPARSE_MIN_ROWS and rows > _HYPERSPARSE_RATIO * max(entries, 1):
            raise MatrixError(
                f"{where}: declares {rows} rows for only {entries} entries; refusing to allocate a "
                f"{8 * (rows + 1) / 2**20:.0f} MiB row pointer for a mostly empty matrix")
    # Every entry needs at least one character per field plus a separator or newline. Only a
    # count far beyond the file's capacity is refused here (a plainly truncated file gets the
    # exact count from the body check).
    fields = _n_fields(fmt, field)
    min_bytes = max(entries * 2 * fields - 1, 0)
    size = os.path.getsize(path)
    capacity = size if header_bytes is not None else size * _GZIP_MAX_RATIO + 4096
    body_capacity = capacity - (header_bytes or 0)
    if min_bytes > 2 * body_capacity + 4096:
        what = "the file's" if header_bytes is not None else "a gzip file of"
        raise MatrixError(f"{where}: header declares {entries} entries, but {what} {size} bytes "
                          f"cannot hold that many (truncated file or wrong size line?)")
    return MtxHeader(fmt, field, symmetry, rows, cols, entries, line_no)


def _array_entries(rows: int, cols: int, symmetry: str) -> int:
    if symmetry == "general":
        return rows * cols
    if symmetry == "skew-symmetric":
        return rows * (rows - 1) // 2
    return rows * (rows + 1) // 2


def _n_fields(fmt: str, field: str) -> int:
    values = {"pattern": 0, "complex": 2}.get(field, 1)
    return values + (2 if fmt == "coordinate" else 0)


def _open(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a file for binary reading, transparently gunzipping; OS errors -> MatrixError."""
    where = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise MatrixError(f"{where}: is a directory, not a Matrix Market file")
        fh = open(p, "rb")
    except FileNotFoundError:
        raise MatrixError(f"{where}: no such file") from None
    except PermissionError:
        raise MatrixError(f"{where}: permission denied") from None
    except OSError as exc:
        raise MatrixError(f"{where}: cannot open ({exc.strerror or exc})") from None
    with fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(p, "rb")  # type: ignore[return-value]
    return open(p, "rb")


def _read(fh: IO[bytes], n: int, where: str) -> bytes:
    try:
        return fh.read(n)
    except EOFError:
        raise MatrixError(f"{where}: truncated gzip file (compressed data ends early)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise MatrixError(f"{where}: corrupt gzip data ({exc})") from None
    except OSError as exc:
        raise MatrixError(f"{where}: read error ({exc.strerror or exc})") from None


def _readline(fh: IO[bytes], where: str, first: bool = False) -> bytes | None:
    """The next line (without its newline), or None at end of file. A line longer than
    _MAX_LINE_BYTES is refused, except the first, which is returned cut (the banner check
    then reports it)."""
    try:
        line = fh.readline(_MAX_LINE_BYTES)
    except EOFError:
        raise MatrixError(f"{where}: truncated gzip file (compressed data ends early)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise MatrixError(f"{where}: corrupt gzip data ({exc})") from None
    except OSError as exc:
        raise MatrixError(f"{where}: read error ({exc.strerror or exc})") from None
    if not line:
        return None
    if len(line) >= _MAX_LINE_BYTES and not line.endswith(b"\n") and not first:
        raise MatrixError(f"{where}: a header line is longer than {_MAX_LINE_BYTES} bytes "
                          f"(binary data, not a Matrix Market file?)")
    return line.rstrip(b"\r\n")


def _skip_lines(fh: IO[bytes], n: int, where: str) -> bytes:
    """Consume n lines; return them (newline-terminated) as one bytes object."""
    lines = []
    for _ in range(n):
        lines.append((_readline(fh, where) or b"") + b"\n")
    return b"".join(lines)


def _show(text: bytes | str) -> str:
    """Offending text quoted for a one-line message (escaped, truncated)."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="backslashreplace")
    if len(text) > _SHOW:
        text = text[:_SHOW] + "..."
    return repr(text)


def _parse_banner(line: bytes, where: str) -> tuple[str, str, str]:
    words = line.decode("latin-1").split()
    # '%MatrixMarket' (one %) is the networkrepository.com variant; mmread accepts it too.
    if not words or words[0] not in (_BANNER, _BANNER[1:]):
        if words and words[0].lower() in (_BANNER.lower(), _BANNER[1:].lower()):
            raise MatrixError(f"{where}: bad banner {_show(line)}: must start with '{_BANNER}' (case matters)")
        raise MatrixError(f"{where}: not a Matrix Market file: missing '{_BANNER}' banner "
                          f"(line 1 is {_show(line)})")
    if len(words) != 5:
        raise MatrixError(f"{where}: bad banner {_show(line)}: expected {_BANNER_HELP}")
    obj, fmt, field, symmetry = (w.lower() for w in words[1:])
    if obj != "matrix":
        raise MatrixError(f"{where}: bad banner: object {obj!r} is not supported (only 'matrix')")
    for what, value, valid in (("format", fmt, FORMATS), ("field", field, FIELDS),
                               ("symmetry", symmetry, SYMMETRIES)):
        if value not in valid:
            raise MatrixError(f"{where}: bad banner: unknown {what} {value!r} "
                              f"(expected one of {', '.join(valid)})")
    if fmt == "array" and field == "pattern":
        raise MatrixError(f"{where}: bad banner: 'pattern' field is not allowed in 'array' format")
    if symmetry == "hermitian" and field != "complex":
        raise MatrixError(f"{where}: bad banner: 'hermitian' symmetry needs a 'complex' field, not {field!r}")
    if symmetry == "skew-symmetric" and field == "pattern":
        raise MatrixError(f"{where}: bad banner: a 'pattern' matrix cannot be 'skew-symmetric'")
    return fmt, field, symmetry


def _parse_size(text: bytes, fmt: str, where: str, line_no: int) -> tuple[int, int, int]:
    words = text.decode("latin-1").split()
    want = "<rows> <cols> <entries>" if fmt == "coordinate" else "<rows> <cols>"
    n = 3 if fmt == "coordinate" else 2
    if len(words) != n:
        raise MatrixError(f"{where}: line {line_no}: bad size line {_show(text)}: expected '{want}'")
    values = []
    for w in words:
        if re.fullmatch(r"[+-]?[0-9]+", w) is None:
            raise MatrixError(f"{where}: line {line_no}: bad size line {_show(text)}: "
                              f"{w!r} is not an integer (expected '{want}')")
        v = int(w)
        if v < 0:
            raise MatrixError(f"{where}: line {line_no}: negative size {v} in size line {_show(text)}")
        values.append(v)
    if fmt == "array":
        values.append(-1)
    return values[0], values[1], values[2]


# ---------------------------------------------------------------------------------------------
# body check: vectorized over blocks of bytes

# Classes of the non-digit bytes inside tokens (only those are ever classified). Bytes <= 32
# (space, tab, CR, other control characters) separate tokens; newline ends a line.
_DIGIT, _DOT, _EXP, _SIGN, _ALPHA, _OTHER = range(6)
_CLASS = np.full(256, _OTHER, dtype=np.uint8)
_CLASS[ord("0"):ord("9") + 1] = _DIGIT
_CLASS[ord(".")] = _DOT
_CLASS[ord("a"):ord("z") + 1] = _ALPHA
_CLASS[ord("A"):ord("Z") + 1] = _ALPHA
_CLASS[[ord("e"), ord("E")]] = _EXP
_CLASS[[ord("+"), ord("-")]] = _SIGN
_SPECIAL_FLOATS = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)
_NONE = np.iinfo(np.int64).max


class _Body:
    """State of the streaming body check: what each line must look like, what was seen."""

    def __init__(self, where: str, header: MtxHeader) -> None:
        self.where = where
        self.header = header
        self.n_fields = _n_fields(header.format, header.field)
        self.n_index = 2 if header.format == "coordinate" else 0
        self.seen = 0                           # entries (non-blank lines) so far
        self.line0 = header.header_lines + 1    # file line number of the next block's first line

    def fail(self, line: int, problem: str) -> MatrixError:
        return MatrixError(f"{self.where}: line {line}: {problem}")

    def field_names(self) -> str:
        h = self.header
        names = (["row", "col"] if h.format == "coordinate" else []) + \
            {"pattern": [], "complex": ["re", "im"]}.get(h.field, ["value"])
        return " ".join(names)

    def check_block(self, block: bytes) -> None:
        """Check a block of whole lines (it ends with a newline).

        Vectorized: token starts/ends from the byte array, tokens per line by searchsorted;
        every non-blank line must hold exactly n_fields tokens.
        """
        b = np.frombuffer(block, dtype=np.uint8)
        nl = np.flatnonzero(b == 10)
        tok = b > 32
        edge = np.diff(tok.view(np.int8), prepend=np.int8(0), append=np.int8(0))
        starts = np.flatnonzero(edge == 1)
        ends = np.flatnonzero(edge == -1)       # exclusive
        per_line = np.diff(np.searchsorted(starts, nl), prepend=0)

        nonblank = per_line != 0
        bad = np.flatnonzero(nonblank & (per_line != self.n_fields))
        n_entries = int(np.count_nonzero(nonblank))
        excess = -1
        if self.seen + n_entries > self.header.entries:
            excess = int(np.flatnonzero(nonblank)[self.header.entries - self.seen])
        if bad.size and (excess < 0 or bad[0] < excess):
            i = int(bad[0])
            lo = 0 if i == 0 else int(nl[i - 1]) + 1
            raise self.fail(self.line0 + i,
                            f"expected {self.n_fields} fields ({self.field_names()}), found "
                            f"{int(per_line[i])}: {_show(block[lo:int(nl[i])].strip())}")
        if excess >= 0:
            line = self.line0 + excess
            if excess > 0:       # report a problem in the lines before the excess one first
                self.check_block(block[: int(nl[excess - 1]) + 1])
            raise self.fail(line,
                            f"more entries than the {self.header.entries} declared in the header")
        self._check_tokens(block, b, tok, nl, starts, ends)
        self.seen += n_entries
        self.line0 += nl.size

    def _check_tokens(self, block: bytes, b: np.ndarray, tok: np.ndarray, nl: np.ndarray,
                      starts: np.ndarray, ends: np.ndarray) -> None:
        """Indices are digits only; values look like numbers.

        Lines are well-formed here, so token k is field k % n_fields of its line. Only the
        non-digit token bytes are looked at (a few per value, none in indices).
        """
        odd = np.flatnonzero(tok & ((b - np.uint8(48)) > 9))
        if odd.size == 0:
            return
        tk = np.searchsorted(starts, odd, side="right") - 1

        def fail_token(k: int, problem: str) -> MatrixError:
            line = self.line0 + int(np.searchsorted(nl, starts[k]))
            return self.fail(line, problem.replace("{text}", _show(block[starts[k]:ends[k]])))

        if self.n_index:
            in_index = (tk % self.n_fields) < self.n_index
            if in_index.any():
                k = int(tk[np.argmax(in_index)])
                if k % self.n_fields == 0 and block[starts[k]] == ord("%"):
                    lo = int(starts[k])
                    text = block[lo:block.index(b"\n", lo)].strip()
                    raise fail_token(k, f"comment line {_show(text)} inside the data "
                                        "(comments go before the size line)")
                which = "row" if k % self.n_fields == 0 else "column"
                raise fail_token(k, f"{which} index {{text}} is not a positive integer")
        ocls = _CLASS[b[odd]]
        at_start = odd == starts[tk]
        n_odd = np.bincount(tk, minlength=starts.size)
        nodigit = np.flatnonzero(n_odd == ends - starts)     # '.', '-', 'nan', ...
        if self.header.field == "integer":
            bad = tk[~((ocls == _SIGN) & at_start)]
            first = min(int(bad[0]) if bad.size else _NONE, int(nodigit[0]) if nodigit.size else _NONE)
            if first != _NONE:
                raise fail_token(first, "value {text} is not an integer (integer matrix)")
            return
        # real / complex
        first = _NONE
        words = np.unique(tk[ocls >= _ALPHA])      # tokens with letters besides e/E: rare
        for k in words:                            # nan / inf, or garbage (sorted: first wins)
            if _SPECIAL_FLOATS.fullmatch(block[starts[k]:ends[k]].decode("latin-1")) is None:
                first = int(k)
                break
        if words.size:
            nodigit = np.setdiff1d(nodigit, words, assume_unique=True)
        is_exp = ocls == _EXP
        is_sign = ocls == _SIGN
        dots, exps, signs = tk[ocls == _DOT], tk[is_exp], tk[is_sign]
        end_next = odd + 1 == ends[tk]
        prev = b[np.maximum(odd - 1, 0)]
        after_exp = (prev == ord("e")) | (prev == ord("E"))
        for bad in (nodigit,
                    dots[1:][dots[1:] == dots[:-1]],                 # '1.2.3'
                    exps[1:][exps[1:] == exps[:-1]],                 # '1e5e5'
                    exps[(at_start | end_next)[is_exp]],             # 'e5', '1e'
                    signs[(~at_start & ~after_exp)[is_sign]
                          | end_next[is_sign]]):                     # '1-2', '1e+'
            if bad.size:
                first = min(first, int(bad.min()))
        if first != _NONE:
            raise fail_token(first, "value {text} is not a number")


def _check_body(fh: IO[bytes], where: str, header: MtxHeader,
                keep: bool = False) -> list[bytes] | None:
    """Stream the body after the header through `_Body.check_block`; check the entry count.

    keep: return the body's blocks (None once they pass _KEEP_BYTES, or when not asked).
    """
    body = _Body(where, header)
    kept: list[bytes] | None = [] if keep else None
    total = 0
    carry = b""
    while True:
        data = _read(fh, _BLOCK_BYTES, where)
        total += len(data)
        if kept is not None:
            if total <= _KEEP_BYTES:
                kept.append(data)
            else:
                kept = None
        if not data:
            if carry.strip():
                body.check_block(carry + b"\n")
            break
        block = carry + data
        cut = block.rfind(b"\n") + 1
        if cut == 0:
            if len(block) > _MAX_LINE_BYTES:
                raise body.fail(body.line0, f"line longer than {_MAX_LINE_BYTES} bytes "
                                            "(binary data, not Matrix Market text?)")
            carry = block
            continue
        carry = block[cut:]
        body.check_block(block[:cut])
    if body.seen < header.entries:
        raise MatrixError(f"{where}: too few entries: header declares {header.entries}, "
                          f"file has {body.seen} (truncated file?)")
    return kept


# ---------------------------------------------------------------------------------------------
# parsing proper (scipy) and conversion


def _mmread(source: Any, where: str, header: MtxHeader) -> Any:
    """scipy.io.mmread on a path or a file object; its errors become MatrixError."""
    try:
        if isinstance(source, io.BytesIO):
            return scipy.io.mmread(source)
        with _open(source) as fh:
            return scipy.io.mmread(fh if isinstance(fh, gzip.GzipFile) else source)
    except MatrixError:
        raise
    except EOFError:
        raise MatrixError(f"{where}: truncated gzip file (compressed data ends early)") from None
    except (ValueError, OverflowError, OSError, zlib.error) as exc:
        msg = " ".join(str(exc).split()).rstrip(".")
        m = re.match(r"Line (\d+): (.*)", msg)
        if m:
            msg = f"line {m.group(1)}: {m.group(2)[:1].lower()}{m.group(2)[1:]}"
            if "out of bounds" in msg:
                msg += f" (matrix is {header.rows} x {header.cols}, indices are 1-based)"
        raise MatrixError(f"{where}: {msg}") from None


_DTYPES = {"pattern": np.float64, "integer": np.int64, "real": np.float64, "complex": np.complex128}


def _to_csr(raw: Any, header: MtxHeader, where: str) -> sp.csr_array:
    dtype = _DTYPES[header.field]
    if isinstance(raw, np.ndarray):
        A = sp.csr_array(raw.astype(dtype, copy=False))
    else:
        A = sp.csr_array(raw)
        if A.dtype != dtype:
            A = A.astype(dtype)
    A.sum_duplicates()
    A.sort_indices()
    if header.field == "pattern":
        A.data[:] = 1.0       # a repeated pattern entry is still one entry
    if A.shape != (header.rows, header.cols):  # pragma: no cover - mmread honours the header
        raise MatrixError(f"{where}: read shape {A.shape} differs from the declared "
                          f"{header.rows} x {header.cols}")
    return A


# ---------------------------------------------------------------------------------------------
# writing


def write_mtx(path: str | os.PathLike[str], A: Any, comment: str | None = None, *,
              field: str | None = None, symmetry: str = "general",
              precision: int | None = None, gzip_level: int = 1) -> None:
    """Write a matrix as a coordinate Matrix Market file; gzip-compressed if path ends in ``.gz``.

    path: output file. A: any scipy sparse matrix/array or 2-D array-like (converted to COO,
    duplicates summed first). comment: text for ``%`` comment lines after the banner (may hold
    several lines). field: ``real``, ``integer``, ``complex`` or ``pattern``; default from A's
    dtype. symmetry: ``general`` (default), ``symmetric``, ``skew-symmetric`` or ``hermitian``:
    only the lower triangle is stored, so A must really have that symmetry (checked).
    precision: significant digits for real values (default: enough to round-trip float64).
    gzip_level: compression level of ``.gz`` output (1, the default, is the fastest).
    The file is written under a temporary name in the same folder and renamed when complete.
    """
    where = str(path)
    if symmetry not in SYMMETRIES:
        raise MatrixError(f"{where}: unknown symmetry {symmetry!r} (expected one of {', '.join(SYMMETRIES)})")
    if field is not None and field not in FIELDS:
        raise MatrixError(f"{where}: unknown field {field!r} (expected one of {', '.join(FIELDS)})")
    try:
        M = sp.csr_array(A) if sp.issparse(A) else sp.csr_array(np.asarray(A))
    except (TypeError, ValueError) as exc:
        raise MatrixError(f"{where}: cannot write {type(A).__name__} as a sparse matrix ({exc})") from None
    if M.ndim != 2:
        raise MatrixError(f"{where}: can only write 2-D matrices, got shape {M.shape}")
    M.sum_duplicates()
    if symmetry != "general":
        _check_symmetry(M, symmetry, where)
    if field == "complex" and not np.iscomplexobj(M.data):
        M = M.astype(np.complex128)
    if field is None and M.dtype == np.bool_:
        field = "pattern"
    target = Path(path)
    if target.is_dir():
        raise MatrixError(f"{where}: is a directory")
    if not target.parent.is_dir():
        raise MatrixError(f"{where}: cannot write: no such directory {str(target.parent)!r}")
    try:
        # Written under a temporary name and renamed when complete (an interrupted write
        # leaves nothing under the final name). Opened in Python: mmwrite given a path fails
        # silently on an unwritable one. gzip level 1: ~4x faster than the default 9 for
        # files ~8 % larger.
        with atomic_output(target) as tmp:
            if target.suffix == ".gz":
                fh = gzip.open(tmp, "wb", compresslevel=gzip_level)
            else:
                fh = open(tmp, "wb")
            with fh:
                scipy.io.mmwrite(fh, M.tocoo(), comment=comment, field=field,
                                 precision=precision, symmetry=symmetry)
    except IsADirectoryError:
        raise MatrixError(f"{where}: is a directory") from None
    except FileNotFoundError:
        raise MatrixError(f"{where}: cannot write: no such directory {str(target.parent)!r}") from None
    except OSError as exc:
        raise MatrixError(f"{where}: cannot write ({exc.strerror or exc})") from None
    except (ValueError, TypeError) as exc:
        raise MatrixError(f"{where}: cannot write ({' '.join(str(exc).split())})") from None


def _check_symmetry(M: sp.csr_array, symmetry: str, where: str) -> None:
    if M.shape[0] != M.shape[1]:
        raise MatrixError(f"{where}: a {symmetry} matrix must be square, got {M.shape[0]} x {M.shape[1]}")
    T = M.T
    if symmetry == "hermitian":
        T = T.conj()
    elif symmetry == "skew-symmetric":
        T = -T
        if np.any(M.diagonal() != 0):
            raise MatrixError(f"{where}: matrix is not skew-symmetric (nonzero diagonal)")
    if (M != T).nnz:
        raise MatrixError(f"{where}: matrix is not {symmetry}, cannot store only its lower triangle")
