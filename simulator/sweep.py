"""Sweeps: matrices x kernels x presets x `--set` grids, run in parallel, appended as they finish.

    exp = Experiment(matrices=["smoke"], kernels=["smash-v1", "smash-v3"], presets=["piuma-core"])
    for rec in run_sweep(exp.points(), "results.jsonl", jobs=2):
        ...

A **point** is one simulated run; its **key** is (matrix canonical name, kernel, preset, sorted
overrides, sorted knobs, seed, sample), serialized as a short JSON string stored in every record
(`point_key`). Records are appended to a JSONL file the moment they finish, so an interrupted
sweep loses nothing, and `resume=True` skips points whose key is already in the file.

Determinism: a record depends only on its point, never on the worker count or the order of
completion. The fields in `HOST_FIELDS` (host wall-clock timings) are the only exception: they
stay in the record but `deterministic(rec)` drops them, and that is what equality checks compare.
Records are written in completion order; sort by `point_key` to compare two files.

The library never prints: progress goes to an optional `on_record` callback (the CLI draws a
bar).
"""
from __future__ import annotations

import csv
import itertools
import json
import logging
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:                                   # pragma: no cover
    import tomli as tomllib

import matrices

log = logging.getLogger(__name__)

#: Record fields measured on the host (wall-clock): kept, but excluded from equality checks.
HOST_FIELDS = frozenset({"wall_seconds", "host_seconds"})

#: Default operation budget of `sample = "auto"`: larger runs simulate a fraction of rows.
AUTO_SAMPLE_OPS = 40_000_000


def deterministic(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The record without its host-timing fields: equal for equal points, whatever the workers."""
    return {k: v for k, v in rec.items() if k not in HOST_FIELDS}


# ----------------------------------------------------------------------------------------------
# points


@dataclass(frozen=True)
class Point:
    """One run: a kernel on a matrix on a machine (preset + overrides), with knobs.

    sample: None (whole matrix), a fraction of rows in (0, 1], or "auto" (the whole matrix unless
    the estimated operation count exceeds `auto_ops`; then the fraction of rows whose two
    sampled runs together fit `auto_ops`).
    """

    matrix: str
    kernel: str
    preset: str = "piuma-die"
    overrides: tuple[str, ...] = ()
    knobs: tuple[tuple[str, Any], ...] = ()
    seed: int = 0
    sample: float | str | None = None
    max_ops: int | None = None
    auto_ops: int = AUTO_SAMPLE_OPS

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", tuple(sorted(self.overrides)))
        object.__setattr__(self, "knobs", tuple(sorted(tuple(kv) for kv in self.knobs)))

    @property
    def key(self) -> str:
        """The point's identity as a compact JSON string (stable across runs and hosts)."""
        return json.dumps([matrices.canonical_name(self.matrix), self.kernel, self.preset,
                           list(self.overrides), [list(kv) for kv in self.knobs], self.seed,
                           self._sample_id], separators=(",", ":"))

    @property
    def _sample_id(self) -> float | str | None:
        # "auto" depends on its budget: two budgets are two points
        return f"auto:{self.auto_ops}" if self.sample == "auto" else self.sample


def _peaks(preset: str, overrides: Sequence[str]) -> dict[str, Any]:
    """The machine's ceilings, for rooflines and utilization plots."""
    from simulator.machine import load_config
    cfg = load_config(preset, list(overrides))
    pipelines = cfg.core.pipelines * cfg.cores
    return {
        "peak_dram_gb_per_s": cfg.channels * cfg.dram.channel_bandwidth_gb_per_s,
        "peak_issue_ginstr_per_s": pipelines * cfg.clock_ghz,
        "clock_ghz": cfg.clock_ghz,
        "machine_cores": cfg.cores,
        "machine_threads": cfg.threads,
        "machine_pipelines": pipelines,
        "dram_channels": cfg.channels,
    }


def _auto_fraction(point: Point) -> float | None:
    """The row fraction that keeps `point` under its operation budget (None: run it whole)."""
    from simulator.machine import load_config
    from simulator.programs import Operands
    from simulator.run import estimate_ops
    A = matrices.load(point.matrix)
    B = A if A.shape[0] == A.shape[1] else A.T
    cfg = load_config(point.preset, list(point.overrides))
    est = estimate_ops(point.kernel, Operands.build(A, B), cfg.core.threads)
    if est <= point.auto_ops:
        return None
    frac = point.auto_ops / (2 * est)       # a sampled run simulates two seeds
    return float(f"{max(frac, 1.0 / max(A.shape[0], 1)):.2g}")     # short, reproducible


def run_point(point: Point) -> dict[str, Any]:
    """Simulate one point; the record carries `point_key`, the sweep axes and machine peaks.

    A point that cannot run (bad spec, over the budget, bad override) gives a record with
    `status = "error"` and the message in `error`, so one bad point does not stop a sweep.
    """
    from simulator.run import run_kernel
    head = {"point_key": point.key, "overrides": " ".join(point.overrides),
            "requested_sample": point.sample}
    try:
        sample = _auto_fraction(point) if point.sample == "auto" else point.sample
        kw = {} if point.max_ops is None else {"max_ops": point.max_ops}
        rec = run_kernel(point.kernel, point.matrix, preset=point.preset,
                         overrides=list(point.overrides), knobs=dict(point.knobs),
                         sample=sample, seed=point.seed, **kw)
        rec.update(_peaks(point.preset, point.overrides))
        rec["status"] = "ok"
    except (ValueError, TypeError, OSError, KeyError) as exc:
        msg = " ".join(str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc).split())
        rec = {"kernel": point.kernel, "matrix": _safe_name(point.matrix), "preset": point.preset,
               "seed": point.seed, "status": "error", "error": msg or type(exc).__name__}
    return {**head, **_plain(rec)}


def _safe_name(spec: str) -> str:
    try:
        return matrices.canonical_name(spec)
    except Exception:                   # the error itself is reported in the record
        return spec


def _plain(rec: Mapping[str, Any]) -> dict[str, Any]:
    """numpy scalars to Python values, non-finite floats to None (JSON-safe, round-trips)."""
    out = {}
    for k, v in rec.items():
        if hasattr(v, "item") and not isinstance(v, (str, bytes)):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out


# ----------------------------------------------------------------------------------------------
# experiments


_EXPERIMENT_KEYS = {
    "name": "a label (text)",
    "matrices": "list of matrix specs, set names or folders",
    "kernels": "list of kernel names",
    "presets": "list of preset names or config files",
    "set": "table of machine parameter -> value or list of values (grid)",
    "knobs": "table of kernel knob -> value or list of values (grid)",
    "seeds": "list of integers",
    "sample": "fraction of rows in (0, 1], or \"auto\"",
    "max_ops": "integer operation budget",
}


@dataclass
class Experiment:
    """A grid of points: every matrix x kernel x preset x override combination x knob combination
    x seed. `sets` and `knobs` map a parameter to a list of values (a grid axis each)."""

    matrices: list[str]
    kernels: list[str]
    presets: list[str] = field(default_factory=lambda: ["piuma-die"])
    sets: dict[str, list[Any]] = field(default_factory=dict)
    knobs: dict[str, list[Any]] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    sample: float | str | None = None
    max_ops: int | None = None
    name: str = "sweep"

    def validate(self) -> None:
        """Check names before any work starts (ValueError naming the bad key or value)."""
        from simulator.machine import load_config
        from simulator.programs import KERNELS
        if not self.matrices:
            raise ValueError("matrices: give at least one matrix")
        if not self.kernels:
            raise ValueError("kernels: give at least one kernel")
        for k in self.kernels:
            if k not in KERNELS:
                raise ValueError(f"kernels: unknown kernel {k!r} (known: {', '.join(KERNELS)})")
        for k in self.knobs:
            known = set().union(*(KERNELS[kn].knobs for kn in self.kernels))
            if k not in known:
                raise ValueError(f"knobs: {k!r} is not a knob of {', '.join(self.kernels)} "
                                 f"(knobs: {', '.join(sorted(known))})")
        self.matrices = matrices.resolve(self.matrices)
        for p in self.presets:
            for ov in self._override_sets():
                load_config(p, list(ov))       # raises naming the bad path or value
        if self.sample is not None and self.sample != "auto":
            if not isinstance(self.sample, (int, float)) or not 0 < self.sample <= 1:
                raise ValueError(f"sample: expected a fraction in (0, 1] or \"auto\", got {self.sample!r}")

    def _override_sets(self) -> list[tuple[str, ...]]:
        keys = sorted(self.sets)
        combos = itertools.product(*(self.sets[k] for k in keys))
        return [tuple(f"{k}={_fmt(v)}" for k, v in zip(keys, c)) for c in combos]

    def points(self) -> list[Point]:
        keys = sorted(self.knobs)
        knob_sets = [tuple(zip(keys, c)) for c in itertools.product(*(self.knobs[k] for k in keys))]
        return [Point(matrix=m, kernel=k, preset=p, overrides=ov, knobs=kn, seed=s,
                      sample=self.sample, max_ops=self.max_ops)
                for m in self.matrices for p in self.presets for ov in self._override_sets()
                for kn in knob_sets for s in self.seeds for k in self.kernels]


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ",".join(_fmt(x) for x in v) + "]"
    return str(v)


def _as_list(key: str, v: Any, kind: type | tuple[type, ...] = str) -> list[Any]:
    vals = v if isinstance(v, list) else [v]
    for x in vals:
        if not isinstance(x, kind) or isinstance(x, bool) and kind is not bool:
            want = kind.__name__ if isinstance(kind, type) else " or ".join(t.__name__ for t in kind)
            raise ValueError(f"{key}: expected {want} (or a list of them), got {x!r}")
    return vals


def experiment_from_dict(data: Mapping[str, Any], source: str = "experiment") -> Experiment:
    """Build an Experiment from a parsed TOML table; errors name the offending key."""
    for k in data:
        if k not in _EXPERIMENT_KEYS:
            raise ValueError(f"{source}: unknown key {k!r} (known: {', '.join(_EXPERIMENT_KEYS)})")
    for k in ("matrices", "kernels"):
        if k not in data:
            raise ValueError(f"{source}: missing key {k!r} ({_EXPERIMENT_KEYS[k]})")

    def table(key: str) -> dict[str, list[Any]]:
        t = data.get(key, {})
        if not isinstance(t, dict):
            raise ValueError(f"{source}: {key}: expected a table ({_EXPERIMENT_KEYS[key]})")
        out = {}
        for name, v in t.items():
            if isinstance(v, dict):
                for sub, sv in v.items():     # [set.dram] channels_per_die = [4, 8]
                    out[f"{name}.{sub}"] = sv if isinstance(sv, list) else [sv]
            else:
                out[name] = v if isinstance(v, list) and not _is_value_list(name, v) else [v]
        for name, vals in out.items():
            if not vals:
                raise ValueError(f"{source}: {key}.{name}: empty list of values")
        return out

    try:
        sample = data.get("sample")
        if sample is not None and sample != "auto" and (isinstance(sample, bool)
                                                        or not isinstance(sample, (int, float))):
            raise ValueError(f"sample: expected a fraction in (0, 1] or \"auto\", got {sample!r}")
        max_ops = data.get("max_ops")
        if max_ops is not None and (isinstance(max_ops, bool) or not isinstance(max_ops, int)
                                    or max_ops < 1):
            raise ValueError(f"max_ops: expected a positive integer, got {max_ops!r}")
        name = data.get("name", "sweep")
        if not isinstance(name, str):
            raise ValueError(f"name: expected text, got {name!r}")
        exp = Experiment(
            matrices=_as_list("matrices", data["matrices"]),
            kernels=_as_list("kernels", data["kernels"]),
            presets=_as_list("presets", data.get("presets", ["piuma-die"])),
            sets=table("set"), knobs=table("knobs"),
            seeds=_as_list("seeds", data.get("seeds", [0]), int),
            sample=sample, max_ops=max_ops, name=name)
        exp.validate()
    except ValueError as exc:
        msg = str(exc)
        raise ValueError(msg if msg.startswith(source) else f"{source}: {msg}") from None
    return exp


def _is_value_list(name: str, v: list) -> bool:
    # die_shape-like parameters take a list as one value; a list of lists is a grid of them
    return name.endswith("die_shape") and not any(isinstance(x, list) for x in v)


def load_experiment(path: str | os.PathLike) -> Experiment:
    """Read an experiment TOML file (see docs/experiments.md); ValueError names the bad key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise OSError(f"cannot read experiment file {str(p)!r}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{p}: not valid TOML: {exc}") from None
    return experiment_from_dict(data, source=str(p))


# ----------------------------------------------------------------------------------------------
# results files


def read_records(path: str | os.PathLike, *, tolerate_torn_tail: bool = True) -> list[dict[str, Any]]:
    """Records of a JSONL (one object per line) or CSV results file.

    A last JSONL line without its newline (a sweep killed mid-write) is dropped with a warning;
    any other malformed line raises ValueError naming the file and line.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise OSError(f"cannot read results file {str(p)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{p}: not a results file (not UTF-8 text)") from None
    if p.suffix.lower() == ".csv":
        return _read_csv(p, text)
    out = []
    lines = text.split("\n")
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if tolerate_torn_tail and i == len(lines) and not text.endswith("\n"):
                log.warning("%s: dropping an incomplete last line (interrupted write)", p)
                continue
            raise ValueError(f"{p} line {i}: not a JSON record (expected one JSON object per "
                             f"line, as `smash sweep` writes)") from None
        if not isinstance(rec, dict):
            raise ValueError(f"{p} line {i}: expected a JSON object, got {type(rec).__name__}")
        out.append(rec)
    return out


def _read_csv(p: Path, text: str) -> list[dict[str, Any]]:
    rows = list(csv.DictReader(text.splitlines()))
    out = []
    for row in rows:
        rec = {}
        for k, v in row.items():
            if k is None:
                raise ValueError(f"{p}: a row has more cells than the header")
            rec[k] = _parse_cell(v)
        out.append(rec)
    return out


def _parse_cell(v: str | None) -> Any:
    if v is None or v == "":
        return None
    if v in ("True", "False"):
        return v == "True"
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v


def write_csv(path: str | os.PathLike, records: Sequence[Mapping[str, Any]]) -> None:
    """Write records as CSV (columns: the union, in first-seen order), atomically."""
    columns: list[str] = []
    seen = set()
    for r in records:
        for k in r:
            if k not in seen:
                seen.add(k)
                columns.append(k)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for r in records:
            w.writerow({k: r.get(k) for k in columns})
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------
# running


def finished_keys(path: str | os.PathLike) -> set[str]:
    """Keys of the points already in a results file (for resume)."""
    if not os.path.exists(path):
        return set()
    return {r["point_key"] for r in read_records(path) if "point_key" in r}


def run_sweep(points: Iterable[Point], out: str | os.PathLike, *, jobs: int | None = None,
              dask: str | None = None, resume: bool = False, overwrite: bool = False,
              csv_path: str | os.PathLike | None = None,
              on_record: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run `points`, appending each record to the JSONL file `out` as it finishes.

    jobs: worker processes (None: all cores; 1 runs in this process). dask: a scheduler address
    (``tcp://host:port``) to run on a Dask distributed cluster instead. resume: skip points whose
    key is already in `out`. Without resume or overwrite an existing non-empty `out` is refused.
    csv_path: also keep a CSV copy of the whole file, rewritten after every record.
    Returns the records of this run (in completion order).
    """
    points = list(points)
    out = Path(out)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and out.stat().st_size and not resume:
        if not overwrite:
            raise ValueError(f"results file {str(out)!r} exists: resume it (--resume) or "
                             f"overwrite it (--overwrite)")
        out.unlink()
    done = finished_keys(out) if resume else set()
    if resume and out.exists():
        _repair_tail(out)
    todo, seen = [], set(done)
    for p in points:
        if p.key not in seen:           # duplicates in the grid run once
            seen.add(p.key)
            todo.append(p)
    all_records = read_records(out) if (csv_path and out.exists()) else []
    new: list[dict[str, Any]] = []

    def emit(rec: dict[str, Any]) -> None:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        new.append(rec)
        if csv_path:
            all_records.append(rec)
            write_csv(csv_path, all_records)
        if on_record is not None:
            on_record(rec)

    for rec in _execute(todo, jobs=jobs, dask=dask):
        emit(rec)
    if csv_path and not todo:
        write_csv(csv_path, all_records)
    return new


def _repair_tail(out: Path) -> None:
    """Cut a torn last line (no newline: the process died mid-write) so appends stay valid."""
    data = out.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with open(out, "r+b") as fh:
            fh.truncate(cut)


def _execute(points: list[Point], *, jobs: int | None, dask: str | None) -> Iterator[dict[str, Any]]:
    if not points:
        return
    if dask:
        yield from _execute_dask(points, dask)
        return
    jobs = jobs or os.cpu_count() or 1
    if jobs < 1:
        raise ValueError(f"--jobs: expected a positive number of workers, got {jobs}")
    if jobs == 1 or len(points) == 1:
        for p in points:
            yield run_point(p)
        return
    _warm_up(sorted({p.kernel for p in points}))
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(points)), initializer=_ignore_sigint)
    done = False
    try:
        futures = [pool.submit(run_point, p) for p in points]
        for fut in as_completed(futures):
            yield fut.result()
        done = True
    finally:
        if not done:
            # Ctrl-C or an error: drop queued points and stop running ones (their records are
            # not written; --resume runs them again). No public API to stop workers: _processes.
            procs = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.terminate()
        else:
            pool.shutdown()


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which stops them (no traceback from each worker)."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)


#: A matrix small enough that running a kernel on it only compiles its code.
_WARM_UP_MATRIX = "rmat:scale=4,ef=2"


def _warm_up(kernels: Sequence[str]) -> None:
    """JIT-compile the kernels' numba code once in this process before the workers start:
    forked workers inherit it and spawned ones load it from numba's cache, instead of every
    worker compiling the same functions at once (a cold `reproduce --quick` on 2 cores: 56 s
    without, about 35 s with)."""
    from simulator.run import run_kernel
    for k in kernels:
        try:
            run_kernel(k, _WARM_UP_MATRIX, preset="piuma-core")
        except Exception as exc:       # the real run reports any problem in its record
            log.debug("warm-up of %s failed: %s", k, exc)


def _execute_dask(points: list[Point], address: str) -> Iterator[dict[str, Any]]:
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError:
        raise ValueError("--dask needs the distributed package: pip install 'smash[dask]'") from None
    try:
        client = Client(address, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise OSError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        futures = [client.submit(run_point, p, key=f"smash-{i}-{abs(hash(p.key))}", pure=False)
                   for i, p in enumerate(points)]
        for fut in dask_completed(futures):
            yield fut.result()
    finally:
        client.close()


__all__ = ["AUTO_SAMPLE_OPS", "Experiment", "HOST_FIELDS", "Point", "deterministic",
           "experiment_from_dict", "finished_keys", "load_experiment", "read_records",
           "run_point", "run_sweep", "write_csv"]
