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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:                                   # pragma: no cover
    import tomli as tomllib

import matrices
from simulator.sampling import AUTO_SAMPLE_OPS, budget_ops, parse_budget

log = logging.getLogger(__name__)

#: Record fields measured on the host (wall-clock): kept, but excluded from equality checks.
HOST_FIELDS = frozenset({"wall_seconds", "host_seconds"})



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


def run_point(point: Point, memory_limit: int | None = None) -> dict[str, Any]:
    """Simulate one point; the record carries `point_key`, the sweep axes and machine peaks.

    Whatever makes a point fail (a bad spec, over the budget or the memory available, a bad
    override, a matrix the simulator refuses, a failed verification, running out of memory)
    gives a record with `status = "error"` and a one-line reason in `error`, so one bad point
    never stops a sweep. memory_limit: the host memory this point may use (bytes; default: what
    is available when it starts).
    """
    from simulator.run import default_max_ops, run_kernel
    head = {"point_key": point.key, "overrides": " ".join(point.overrides),
            "requested_sample": point.sample}
    try:
        max_ops = point.max_ops
        if max_ops is None:
            max_ops = default_max_ops(point.auto_ops if point.sample == "auto" else 0)
        rec = run_kernel(point.kernel, point.matrix, preset=point.preset,
                         overrides=list(point.overrides), knobs=dict(point.knobs),
                         sample=point.sample, auto_ops=point.auto_ops, seed=point.seed,
                         memory_limit=memory_limit, max_ops=max_ops)
        rec["status"] = "ok"
    except Exception as exc:            # noqa: BLE001 -- any failure is this point's record
        log.debug("point %s failed", point.key, exc_info=True)
        rec = error_record(point, failure_line(exc))
    return {**head, **_plain(rec)}


def failure_line(exc: BaseException) -> str:
    """One line for a failed point: the message of an error a user can cause (bad input,
    budget, memory guard), the exception's type and message otherwise."""
    msg = " ".join(str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc).split())
    if isinstance(exc, MemoryError):
        return "out of memory" + (f" ({msg})" if msg else "")
    if isinstance(exc, (ValueError, TypeError, OSError, KeyError, OverflowError)):
        return msg or type(exc).__name__
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def error_record(point: Point, message: str) -> dict[str, Any]:
    """The record of a point that failed: its identity, status = "error" and the reason."""
    return {"point_key": point.key, "overrides": " ".join(point.overrides),
            "requested_sample": point.sample, "kernel": point.kernel,
            "matrix": _safe_name(point.matrix), "preset": point.preset,
            "knobs": " ".join(f"{k}={v}" for k, v in point.knobs), "seed": point.seed,
            "status": "error", "error": message}


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
    "sample": "share of the work in (0, 1], or \"auto\"",
    "budget": "time budget of sample = \"auto\" (\"60s\", \"5m\" or seconds)",
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
    budget: float | None = None          # seconds, for sample = "auto"

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
        from simulator.run import check_knob_limits
        for k, values in self.knobs.items():
            owners = [kn for kn in self.kernels if k in KERNELS[kn].knobs]
            if not owners:
                known = set().union(*(KERNELS[kn].knobs for kn in self.kernels))
                raise ValueError(f"knobs: {k!r} is not a knob of {', '.join(self.kernels)} "
                                 f"(knobs: {', '.join(sorted(known))})")
            for v in values:                 # every value, for every kernel that has the knob
                for kn in owners:
                    try:
                        check_knob_limits({k: KERNELS[kn].resolve_knobs({k: v})[k]})
                    except ValueError as exc:
                        raise ValueError(f"knobs.{k}: {exc}") from None
        self.matrices = matrices.resolve(self.matrices)
        for p in self.presets:
            for ov in self._override_sets():
                load_config(p, list(ov))       # raises naming the bad path or value
        if self.sample is not None and self.sample != "auto":
            if not isinstance(self.sample, (int, float)) or not 0 < self.sample <= 1:
                raise ValueError(f"sample: expected a fraction in (0, 1] or \"auto\", got {self.sample!r}")
        if self.budget is not None and self.sample not in (None, "auto"):
            raise ValueError("budget: goes with sample = \"auto\" (a fraction fixes the work)")

    def _override_sets(self) -> list[tuple[str, ...]]:
        keys = sorted(self.sets)
        combos = itertools.product(*(self.sets[k] for k in keys))
        return [tuple(f"{k}={_fmt(v)}" for k, v in zip(keys, c)) for c in combos]

    def points(self) -> list[Point]:
        """Every combination, each kernel given only the knobs it has (so a knob grid over
        SMASH's table sizes does not multiply the baselines' points); duplicates once."""
        from simulator.programs import KERNELS
        keys = sorted(self.knobs)
        knob_sets = [tuple(zip(keys, c)) for c in itertools.product(*(self.knobs[k] for k in keys))]
        auto = {} if self.budget is None else {"auto_ops": budget_ops(self.budget)}
        out, seen = [], set()
        for m in self.matrices:
            for p in self.presets:
                for ov in self._override_sets():
                    for kn in knob_sets:
                        for s in self.seeds:
                            for k in self.kernels:
                                have = KERNELS[k].knobs if k in KERNELS else {}
                                pt = Point(matrix=m, kernel=k, preset=p, overrides=ov,
                                           knobs=tuple(kv for kv in kn if kv[0] in have),
                                           seed=s, sample=self.sample, max_ops=self.max_ops,
                                           **auto)
                                if pt.key not in seen:
                                    seen.add(pt.key)
                                    out.append(pt)
        return out


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
        budget = data.get("budget")
        if budget is not None:
            budget = parse_budget(budget)
            if sample is None:
                sample = "auto"
        exp = Experiment(
            matrices=_as_list("matrices", data["matrices"]),
            kernels=_as_list("kernels", data["kernels"]),
            presets=_as_list("presets", data.get("presets", ["piuma-die"])),
            sets=table("set"), knobs=table("knobs"),
            seeds=_as_list("seeds", data.get("seeds", [0]), int),
            sample=sample, max_ops=max_ops, name=name, budget=budget)
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
    """Keys of the points that already succeeded in a results file (resume skips them and runs
    failed points again: a worker killed by the OS is not the point's fault)."""
    if not os.path.exists(path):
        return set()
    return {r["point_key"] for r in read_records(path)
            if "point_key" in r and r.get("status", "ok") == "ok"}


class ResultsFileBusy(ValueError):
    """Another process (a running sweep) holds the results file."""


def _lock(fd: int, path: Path) -> None:
    """An exclusive advisory lock on the open results file (released when the process ends,
    however it ends). Platforms without fcntl run unlocked."""
    try:
        import fcntl
    except ImportError:                 # pragma: no cover - not POSIX
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ResultsFileBusy(f"results file {str(path)!r} is in use by another smash sweep "
                              f"(or run): wait for it to finish, or choose another --out") from None
    except OSError as exc:              # pragma: no cover - e.g. a file system without locks
        log.debug("cannot lock %s: %s", path, exc)


class ResultsFile:
    """A JSONL results file held open and locked for one sweep: records are appended one
    whole line per write and flushed to disk at once.

    mode "new" refuses a non-empty file, "resume" keeps it (cutting a torn last line),
    "overwrite" empties it *after* taking the lock, so a second sweep started on the same file
    is refused instead of truncating the first one's records.
    """

    def __init__(self, path: str | os.PathLike, mode: str = "new") -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
        _lock(self.fd, self.path)
        size = os.fstat(self.fd).st_size
        if size and mode == "new":
            self.close()
            raise ValueError(f"results file {str(self.path)!r} exists: resume it (--resume) or "
                             f"overwrite it (--overwrite)")
        if mode == "overwrite":
            os.ftruncate(self.fd, 0)
        elif size:
            _repair_tail(self.fd)

    def append(self, rec: Mapping[str, Any]) -> None:
        os.write(self.fd, (json.dumps(rec) + "\n").encode("utf-8"))
        os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)           # releases the lock
            self.fd = -1

    def __enter__(self) -> "ResultsFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def append_record(path: str | os.PathLike, rec: Mapping[str, Any]) -> None:
    """Append one record to a JSONL results file (`smash run --out`): one whole line, under
    the file's lock (refused while a sweep holds it)."""
    with ResultsFile(path, mode="resume") as f:
        f.append(rec)


def _repair_tail(fd: int) -> None:
    """Cut a torn last line (no newline: the process died mid-write) so appends stay valid."""
    size = os.fstat(fd).st_size
    if not size or os.pread(fd, 1, size - 1) == b"\n":
        return
    step = 1 << 16
    end = size
    while end > 0:
        lo = max(0, end - step)
        chunk = os.pread(fd, end - lo, lo)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            os.ftruncate(fd, lo + cut + 1)
            return
        end = lo
    os.ftruncate(fd, 0)


def run_sweep(points: Iterable[Point], out: str | os.PathLike, *, jobs: int | None = None,
              dask: str | None = None, resume: bool = False, overwrite: bool = False,
              csv_path: str | os.PathLike | None = None,
              on_record: Callable[[dict[str, Any]], None] | None = None,
              memory_limit: int | None = None) -> list[dict[str, Any]]:
    """Run `points`, appending each record to the JSONL file `out` as it finishes.

    jobs: worker processes (None: all cores; 1 runs in this process). dask: a scheduler address
    (``tcp://host:port``) to run on a Dask distributed cluster instead. resume: skip points that
    already succeeded in `out` (failed ones run again; their new record follows the old). overwrite: start `out` afresh. Without either, an existing
    non-empty `out` is refused; with both, ValueError. `out` is locked for the whole sweep: a
    second sweep on it is refused (ResultsFileBusy). csv_path: also keep a CSV copy of the whole
    file, rewritten after every record. memory_limit: host memory for all points together
    (default: what is available at the start), split evenly among the workers.

    A point that fails, including one whose worker process dies (killed, out of memory), is
    recorded with status = "error"; the others go on. Returns the records of this run (in
    completion order).
    """
    if resume and overwrite:
        raise ValueError("--resume and --overwrite contradict each other: give one")
    points = list(points)
    out = Path(out)
    new: list[dict[str, Any]] = []
    with ResultsFile(out, "resume" if resume else "overwrite" if overwrite else "new") as rf:
        done = finished_keys(out) if resume else set()
        todo, seen = [], set(done)
        for p in points:
            if p.key not in seen:           # duplicates in the grid run once
                seen.add(p.key)
                todo.append(p)
        all_records = read_records(out) if csv_path else []

        def emit(rec: dict[str, Any]) -> None:
            rf.append(rec)
            new.append(rec)
            if csv_path:
                all_records.append(rec)
                write_csv(csv_path, all_records)
            if on_record is not None:
                on_record(rec)

        for rec in _execute(todo, jobs=jobs, dask=dask, keep_fds=(rf.fd,),
                            memory_limit=memory_limit):
            emit(rec)
        if csv_path and not todo:
            write_csv(csv_path, all_records)
    return new


def _execute(points: list[Point], *, jobs: int | None, dask: str | None,
             keep_fds: Sequence[int] = (), memory_limit: int | None = None
             ) -> Iterator[dict[str, Any]]:
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
            yield run_point(p, memory_limit)
        return
    from matrices.hostmem import available_bytes
    n = min(jobs, len(points))
    total = memory_limit if memory_limit is not None else available_bytes()
    _warm_up(sorted({p.kernel for p in points}))
    with WorkerPool(n, close_fds=keep_fds,
                    memory_limit=None if total is None else total // n) as pool:
        yield from pool.map(points)


class _Worker:
    """One worker process and the parent's end of its pipe; `point` is what it is running."""

    def __init__(self, ctx, close_fds: Sequence[int], memory_limit: int | None) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main,
                                args=(child, os.getpid(), tuple(close_fds), memory_limit),
                                daemon=True)
        self.proc.start()
        child.close()
        self.point: Point | None = None

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()


class WorkerPool:
    """Worker processes that run points one at a time, survive each other's death and die with
    their parent.

    Unlike concurrent.futures' pool, whose every pending future fails with BrokenProcessPool
    when one worker is killed, the parent knows which point each worker runs: a worker that
    dies (killed by the OS, out of memory, crashed) gives that point an error record, a new
    worker takes its place and the other points go on. Workers watch their parent and exit
    when it dies (Linux: PR_SET_PDEATHSIG; elsewhere: a thread polling the parent's pid).
    """

    def __init__(self, n: int, *, close_fds: Sequence[int] = (),
                 memory_limit: int | None = None) -> None:
        import multiprocessing as mp
        self.ctx = mp.get_context()
        self.n = n
        self.close_fds = tuple(close_fds)
        self.memory_limit = memory_limit
        self.workers: list[_Worker] = []

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        # normal end, Ctrl-C or an error: stop every worker now (a killed point's record is not
        # written; --resume runs it again)
        for w in self.workers:
            w.stop()
        self.workers = []

    def map(self, points: Sequence[Point]) -> Iterator[dict[str, Any]]:
        """Run `points`; yield their records in completion order (a dead worker's point gets an
        error record)."""
        from multiprocessing.connection import wait
        queue = list(reversed(points))
        while queue or any(w.point is not None for w in self.workers):
            while queue and len(self.workers) < self.n:
                self.workers.append(_Worker(self.ctx, self.close_fds, self.memory_limit))
            for w in self.workers:
                if w.point is None and queue:
                    w.point = queue.pop()
                    try:
                        w.conn.send(w.point)
                    except (BrokenPipeError, OSError):
                        pass                # it died idle: noticed below
            busy = [w for w in self.workers if w.point is not None]
            ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy])
            for w in busy:
                if w.conn in ready or w.proc.sentinel in ready:
                    rec = self._collect(w)
                    if rec is not None:
                        yield rec

    def _collect(self, w: _Worker) -> dict[str, Any] | None:
        point = w.point
        try:
            if w.conn.poll():
                rec = w.conn.recv()
                w.point = None
                return rec
        except (EOFError, OSError):
            pass
        if w.proc.is_alive():
            return None                 # spurious wake-up
        w.proc.join()
        w.stop()
        self.workers.remove(w)
        return _plain(error_record(point, f"worker process died ({_exit_reason(w.proc.exitcode)})"
                                          f" while running this point"))


def _exit_reason(code: int | None) -> str:
    import signal
    if code is None:
        return "unknown exit"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = ": killed, e.g. by the out-of-memory killer" if -code == signal.SIGKILL else ""
        return f"{name}{hint}"
    return f"exit status {code}"


def _worker_main(conn, parent: int, close_fds: tuple[int, ...], memory_limit: int | None) -> None:
    """A worker: leave Ctrl-C to the parent, drop the parent's lock on the results file, die
    with the parent, and run the points it is sent until the pipe closes."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    _die_with_parent(parent)
    while True:
        try:
            point = conn.recv()
        except (EOFError, OSError):
            return
        if point is None:
            return
        conn.send(run_point(point, memory_limit))


def _die_with_parent(parent: int) -> None:
    """Exit when the parent process dies: the kernel's parent-death signal on Linux, and a
    thread that polls the parent's pid everywhere (a reparented worker sees another pid)."""
    import signal
    import threading
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)           # PR_SET_PDEATHSIG
    except (OSError, AttributeError):                         # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:          # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        import time
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


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
        futures = {client.submit(run_point, p, key=f"smash-{i}-{abs(hash(p.key))}", pure=False): p
                   for i, p in enumerate(points)}
        for fut in dask_completed(list(futures)):
            try:
                yield fut.result()
            except Exception as exc:    # noqa: BLE001 -- e.g. KilledWorker: the point's record
                yield _plain(error_record(futures[fut], f"Dask: {failure_line(exc)}"))
    finally:
        client.close()


__all__ = ["AUTO_SAMPLE_OPS", "Experiment", "HOST_FIELDS", "Point", "ResultsFile",
           "ResultsFileBusy", "WorkerPool", "append_record", "deterministic", "error_record",
           "experiment_from_dict", "failure_line", "finished_keys", "load_experiment",
           "read_records", "run_point", "run_sweep", "write_csv"]
