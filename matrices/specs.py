"""Matrix specs: one short string names a matrix everywhere (CLI, result rows, plots).

Syntax::

    kind:key=value,key=value     a generated matrix, e.g. rmat:scale=14,ef=16,seed=1
    path/to/file.mtx[.gz]        a Matrix Market file

Kinds are the keys of `GENERATORS` (rmat, er, banded, poisson2d, poisson3d, powerlaw,
imbalanced); keys are the generator's parameters, checked against its signature: integers,
numbers, booleans (true/false/yes/no/1/0), choices (values=random|ones), ``none`` for an
optional parameter. Named sets (`SETS`) and folders of ``.mtx``/``.mtx.gz`` files expand to
lists of specs with `resolve`.

Adding a generator is one entry in `GENERATORS`: a function decorated with
``generators._generator`` whose parameters have type hints.
"""
from __future__ import annotations

import inspect
import math
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import scipy.sparse as sp

from matrices import generators as g
from matrices import hostmem
from matrices.errors import MatrixError
from matrices.mmio import read_mtx

__all__ = ["MatrixSpec", "Param", "Generator", "GENERATORS", "SETS", "MTX_SUFFIXES",
           "parse_spec", "load", "canonical_name", "resolve"]

MTX_SUFFIXES = (".mtx", ".mtx.gz")
_REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    """One generator parameter: name, value type (int, float, bool or str), default (or
    `inspect.Parameter.empty` when required), allowed choices for str, whether None is allowed."""

    name: str
    type: type
    default: Any = _REQUIRED
    choices: tuple[str, ...] | None = None
    optional: bool = False

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def describe(self) -> str:
        """e.g. 'ef=16 (int)', 'scale (int, required)', 'values=random (random|ones)'."""
        kind = "|".join(self.choices) if self.choices else self.type.__name__
        if self.optional:
            kind += " or none"
        if self.required:
            return f"{self.name} ({kind}, required)"
        return f"{self.name}={_format_value(self.default)} ({kind})"

    def parse(self, text: str) -> Any:
        """Convert a spec value string; raises MatrixError(problem) when it does not fit."""
        t = text.strip()
        if self.optional and t.lower() == "none":
            return None
        if self.type is bool:
            low = t.lower()
            if low in ("true", "yes", "on", "1"):
                return True
            if low in ("false", "no", "off", "0"):
                return False
            raise MatrixError(f"{self.name}={text!r} is not a boolean (true or false)")
        if self.type is int:
            if re.fullmatch(r"[+-]?[0-9]+", t) is None:
                raise MatrixError(f"{self.name}={text!r} is not an integer")
            return int(t)
        if self.type is float:
            try:
                v = float(t)
            except ValueError:
                raise MatrixError(f"{self.name}={text!r} is not a number") from None
            if not math.isfinite(v):
                raise MatrixError(f"{self.name}={text!r} is not a finite number")
            return v
        if self.choices and t not in self.choices:
            raise MatrixError(f"{self.name}={text!r} is not one of {', '.join(self.choices)}")
        return t


@dataclass(frozen=True)
class Generator:
    """A registered generator: spec kind, function, parameters in signature order, and the
    parameters always written in canonical names (besides required and non-default ones)."""

    kind: str
    func: Callable[..., sp.csr_array]
    params: Mapping[str, Param]
    show: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.func) or ""
        return doc.split("\n\n")[0].replace("\n", " ")

    def check(self, params: Mapping[str, Any]) -> None:
        """Range and consistency checks without generating (raises MatrixError(problem))."""
        self.func.check(**params)  # type: ignore[attr-defined]


def _param_table(func: Callable[..., Any]) -> dict[str, Param]:
    """Parameters from the signature and type hints: int, float, bool, X | None, Literal[...]."""
    hints = typing.get_type_hints(func)
    table = {}
    for p in inspect.signature(func).parameters.values():
        hint = hints[p.name]
        args = typing.get_args(hint)
        optional = type(None) in args
        if optional:
            (hint,) = [a for a in args if a is not type(None)]
        choices = None
        if typing.get_origin(hint) is typing.Literal:
            choices, hint = tuple(typing.get_args(hint)), str
        if hint not in (int, float, bool, str):
            raise TypeError(f"{func.__name__}: parameter {p.name} has unsupported type {hint!r}")
        default = float(p.default) if hint is float and isinstance(p.default, int) else p.default
        table[p.name] = Param(p.name, hint, default, choices, optional)
    return table


def _register(kind: str, func: Callable[..., sp.csr_array], show: tuple[str, ...] = ()) -> Generator:
    return Generator(kind, func, _param_table(func), show)


GENERATORS: dict[str, Generator] = {gen.kind: gen for gen in (
    _register("rmat", g.rmat, show=("ef",)),
    _register("er", g.erdos_renyi, show=("nnz_per_row",)),
    _register("banded", g.banded, show=("bandwidth",)),
    _register("poisson2d", g.poisson2d),
    _register("poisson3d", g.poisson3d),
    _register("powerlaw", g.powerlaw, show=("nnz_per_row", "exponent")),
    _register("imbalanced", g.imbalanced, show=("nnz_per_row", "n_long", "long_len")),
)}
"""Spec kind -> registered generator."""

SETS: dict[str, list[str]] = {
    # n ~ 1000: every kernel, native or simulated, in about a second.
    "smoke": [
        "rmat:scale=10,ef=8",
        "er:n=1024,nnz_per_row=8",
        "banded:n=1024,bandwidth=4",
        "poisson3d:n=10",
        "powerlaw:n=1024,nnz_per_row=8",
        "imbalanced:n=1024,nnz_per_row=8,n_long=4,long_len=512",
    ],
    # n = 16K..32K, ~0.2-0.4M nnz each: scipy's C = A*A takes 5-100 ms, except the skewed
    # R-MAT (53M multiply-adds, nnz(C) = 20M: ~1 s).
    "default": [
        "rmat:scale=14,ef=16",
        "er:n=16384,nnz_per_row=16",
        "banded:n=16384,bandwidth=8",
        "poisson3d:n=32",
        "powerlaw:n=16384,nnz_per_row=16,exponent=2.5",
        "imbalanced:n=16384,nnz_per_row=16,n_long=16,long_len=8192",
    ],
}
"""Named built-in sets of matrix specs."""


@dataclass(frozen=True)
class MatrixSpec:
    """A parsed spec. kind: a GENERATORS key, or "file". params: every generator parameter,
    typed, defaults filled (empty for files). path: the file (None for generators). text: the
    spec as written."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    path: str | None = None
    text: str = field(default="", compare=False)

    def __hash__(self) -> int:
        return hash((self.kind, tuple(sorted(self.params.items())), self.path))

    @property
    def is_file(self) -> bool:
        return self.kind == "file"

    @property
    def name(self) -> str:
        """Short stable name (see `canonical_name`)."""
        if self.path is not None:
            return _file_stem(self.path)
        gen = GENERATORS[self.kind]
        items = [f"{k}={_format_value(v)}" for k, v in self.params.items()
                 if gen.params[k].required or v != gen.params[k].default
                 or (k in gen.show and v is not None)]
        return f"{self.kind}:{','.join(items)}"

    def load(self) -> sp.csr_array:
        """Read or generate the matrix (canonical csr_array)."""
        if self.path is not None:
            return read_mtx(self.path)
        try:
            return GENERATORS[self.kind].func(**self.params)
        except hostmem.MemoryLimitError as exc:
            raise hostmem.MemoryLimitError(f"{self.name}: {exc}") from None
        except MatrixError as exc:
            raise MatrixError(f"bad matrix spec {self.text or self.name!r}: {exc}") from None


def _format_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, float):
        text = repr(v)
        return text[:-2] if text.endswith(".0") else text
    return str(v)


def _file_stem(path: str) -> str:
    name = os.path.basename(path.rstrip("/\\"))
    for suffix in (".mtx.gz", ".mtx", ".gz"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_mtx_name(text: str) -> bool:
    return text.lower().endswith(MTX_SUFFIXES)


def _known() -> str:
    return ", ".join(GENERATORS)


def parse_spec(spec: str | MatrixSpec) -> MatrixSpec:
    """Parse and validate a spec string (without generating or reading anything).

    spec: ``kind:key=value,...`` or a path to a ``.mtx``/``.mtx.gz`` file (a path is accepted if
    it has one of those suffixes or exists; its contents are checked only by `load`).
    Raises MatrixError naming the spec and the problem: unknown kind (lists the kinds), unknown
    key (lists the valid keys), duplicate or missing key, a value of the wrong type or out of
    range.
    """
    if isinstance(spec, MatrixSpec):
        return spec
    if not isinstance(spec, str):
        raise MatrixError(f"matrix spec must be a string, got {type(spec).__name__}")
    text = spec.strip()
    if not text:
        raise MatrixError("empty matrix spec")
    kind, colon, rest = text.partition(":")
    kind_key = kind.strip().lower()
    if kind_key in GENERATORS:
        return _parse_generator(text, GENERATORS[kind_key], rest)
    if _is_mtx_name(text) or os.path.isfile(text):
        return MatrixSpec("file", {}, text, text)
    if colon and re.fullmatch(r"[A-Za-z_][\w-]*", kind.strip()):
        raise MatrixError(f"bad matrix spec {text!r}: unknown generator kind {kind.strip()!r} "
                          f"(kinds: {_known()})")
    raise MatrixError(f"bad matrix spec {text!r}: expected kind:key=value,... (kinds: {_known()}) "
                      f"or a .mtx/.mtx.gz file")


def _parse_generator(text: str, gen: Generator, rest: str) -> MatrixSpec:
    def bad(problem: str) -> MatrixError:
        return MatrixError(f"bad matrix spec {text!r}: {problem}")

    given: dict[str, Any] = {}
    for item in rest.split(","):
        if not item.strip():
            continue                       # 'rmat:' or a trailing comma
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq:
            raise bad(f"{item.strip()!r} is not key=value")
        if key not in gen.params:
            raise bad(f"unknown key {key!r} for {gen.kind} (valid: {', '.join(gen.params)})")
        if key in given:
            raise bad(f"key {key!r} given twice")
        try:
            given[key] = gen.params[key].parse(value)
        except MatrixError as exc:
            raise bad(str(exc)) from None
    missing = [p.name for p in gen.params.values() if p.required and p.name not in given]
    if missing:
        raise bad(f"missing required key {missing[0]!r} for {gen.kind} "
                  f"(parameters: {', '.join(p.describe() for p in gen.params.values())})")
    params = {name: given.get(name, p.default) for name, p in gen.params.items()}
    try:
        gen.check(params)
    except MatrixError as exc:
        raise bad(str(exc)) from None
    return MatrixSpec(gen.kind, params, None, text)


def load(spec: str | MatrixSpec) -> sp.csr_array:
    """The matrix a spec names, as a canonical csr_array (generated, or read from the file).

    spec: a spec string or a parsed MatrixSpec. Raises MatrixError for a bad spec or file.
    """
    return parse_spec(spec).load()


def canonical_name(spec: str | MatrixSpec) -> str:
    """Short stable name of a spec, for result rows and plots.

    Generators: ``kind:`` then, in signature order, the required keys, the kind's always-shown
    keys (e.g. rmat's ef) and any key that differs from its default, so equivalent specs get
    the same name: ``rmat:ef=16,scale=14,seed=0`` -> ``rmat:scale=14,ef=16``. Files: the file
    name without ``.mtx``/``.mtx.gz`` (``.../bcsstk08.mtx.gz`` -> ``bcsstk08``).
    """
    return parse_spec(spec).name


def resolve(items: str | Sequence[str]) -> list[str]:
    """Expand set names and folders into a list of specs; other specs pass through unchanged.

    items: set names (keys of SETS), folders (their ``.mtx``/``.mtx.gz`` files, sorted by name),
    files, or generator specs. Every spec is validated (parse_spec), so a typo fails before any
    work starts. Raises MatrixError for an unknown name, a missing file or an empty folder.
    """
    if isinstance(items, str):
        items = [items]
    out: list[str] = []
    for item in items:
        text = item.strip() if isinstance(item, str) else item
        if isinstance(text, str) and text in SETS:
            out.extend(SETS[text])
            continue
        if isinstance(text, str) and text and os.path.isdir(text):
            files = sorted((p for p in Path(text).iterdir() if p.is_file() and _is_mtx_name(p.name)),
                           key=lambda p: p.name)
            if not files:
                raise MatrixError(f"folder {text!r} holds no .mtx or .mtx.gz files")
            out.extend(str(p) for p in files)
            continue
        try:
            parsed = parse_spec(text)
        except MatrixError:
            kind, colon, _ = text.partition(":") if isinstance(text, str) else ("", "", "")
            if colon and kind.strip().lower() in GENERATORS:
                raise                       # a known kind with bad parameters: say which
            raise MatrixError(f"unknown matrix set or spec {text!r} (sets: {', '.join(SETS)}; "
                              f"generator kinds: {_known()}; or a .mtx/.mtx.gz file or a "
                              f"folder of them)") from None
        if parsed.is_file and not os.path.isfile(text):
            raise MatrixError(f"{text}: no such file")
        out.append(text)
    return out
