"""Shared pieces of the CLI: error handling, table and record output."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import click

# Exceptions that a user's input can cause. Anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, OSError, KeyError, OverflowError)


class SmashGroup(click.Group):
    """A click group that prints user errors as one line (`Error: ...`) and exits 1, and turns
    Ctrl-C into one line and exit status 130 (click's own "Aborted!" exits 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            if os.environ.get("SMASH_DEBUG"):
                raise
            echo_err("\ninterrupted (Ctrl-C)")
            raise click.exceptions.Exit(130) from None
        except BrokenPipeError:
            # The reader went away (`smash ... | head`): not an error; silence the final flush.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except USER_ERRORS as exc:
            if os.environ.get("SMASH_DEBUG"):
                raise
            raise click.ClickException(error_line(exc)) from None
        except MemoryError:
            if os.environ.get("SMASH_DEBUG"):
                raise
            raise click.ClickException("out of memory (try a smaller matrix)") from None
        except AssertionError as exc:
            from simulator.run import VerificationError
            if not isinstance(exc, VerificationError) or os.environ.get("SMASH_DEBUG"):
                raise
            raise click.ClickException(f"{error_line(exc)} (a bug in the model: please report "
                                       f"it; SMASH_DEBUG=1 shows the traceback)") from None


def error_line(exc: BaseException) -> str:
    """One line for an exception: its message, or its type when it has none."""
    msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    msg = " ".join(msg.split())
    return msg or type(exc).__name__


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value == 0:
            return "0"
        if abs(value) >= 1e5 or abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}" if abs(value) < 1000 else f"{value:.0f}"
    if value is None:
        return "-"
    return str(value)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str],
                 headers: Sequence[str] | None = None) -> str:
    """A plain aligned text table: numbers right-aligned, text left-aligned."""
    headers = list(headers or columns)
    cells = [[format_value(r.get(c)) for c in columns] for r in rows]
    numeric = [all(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool)
                   for r in rows if r.get(c) is not None) for c in columns]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def to_jsonable(value: Any) -> Any:
    """numpy scalars and non-finite floats to plain JSON values."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def records_to_json(records: Iterable[dict[str, Any]]) -> str:
    return json.dumps([to_jsonable(r) for r in records], indent=2)


def records_to_csv(records: Sequence[dict[str, Any]]) -> str:
    columns: list[str] = []
    for r in records:
        columns.extend(k for k in r if k not in columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: to_jsonable(v) for k, v in r.items()})
    return buf.getvalue()


def write_text(path: str, text: str) -> None:
    """Write `text` to `path` (whole: a temporary name renamed when complete), or to stdout
    when path is '-'."""
    if path == "-":
        click.echo(text, nl=not text.endswith("\n"))
        return
    from matrices.outputs import atomic_output
    with atomic_output(path) as tmp:
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def check_output(path: str | os.PathLike, option: str, *, create_dirs: bool = False) -> None:
    """Refuse an output path that cannot be written, before any work is done (ValueError).

    '-' (stdout) passes. create_dirs: a missing folder is created (default output folders such
    as smash-out/); otherwise it is an error."""
    if str(path) == "-":
        return
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{option}: {str(p)!r} is a directory, not a file")
    parent = p.parent
    if not parent.is_dir():
        if parent.exists():
            raise ValueError(f"{option}: {str(parent)!r} is not a directory")
        if not create_dirs:
            raise ValueError(f"{option}: no such directory {str(parent)!r}")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"{option}: cannot create {str(parent)!r} "
                             f"({exc.strerror or exc})") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{option}: cannot write into {str(parent)!r} (permission denied)")
    if p.exists() and not os.access(p, os.W_OK):
        raise ValueError(f"{option}: cannot write {str(p)!r} (permission denied)")


def echo_err(msg: str) -> None:
    click.echo(msg, err=True)


def is_tty() -> bool:
    return sys.stdout.isatty()


class Progress:
    """A one-line status on stderr for long runs: drawn only on a terminal, and only once the
    run has lasted `delay` seconds (short runs print nothing). The library reports through
    callbacks; this is one: ``progress(stage, done, total)`` with a stage label ("symbolic
    pass", "simulating phase merge"...) and, when known, units done of total.

    A ticker thread redraws the elapsed time twice a second, so a long call that releases the
    GIL (numba's nogil kernels) still shows that time passes. Use as a context manager: the
    line is cleared on exit.
    """

    def __init__(self, delay: float = 2.0, *, stream: Any = None, enabled: bool | None = None,
                 width: int = 24) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.delay = delay
        self.width = width
        self.t0 = time.perf_counter()
        self.stage = ""
        self.done: float | None = None
        self.total: float | None = None
        self._drawn = 0
        self._last = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __call__(self, stage: str, done: float | None = None, total: float | None = None) -> None:
        with self._lock:
            self.stage, self.done, self.total = stage, done, total
        if self.enabled and time.perf_counter() - self._last >= 0.1:
            self._draw()

    def line(self) -> str:
        """The status text: stage, a bar and percentage when the total is known, elapsed time."""
        with self._lock:
            stage, done, total = self.stage, self.done, self.total
        elapsed = time.perf_counter() - self.t0
        parts = [stage]
        if done is not None and total:
            frac = min(max(done / total, 0.0), 1.0)
            fill = int(round(frac * self.width))
            parts.append(f"[{'#' * fill}{'-' * (self.width - fill)}] {100 * frac:3.0f}%")
        parts.append(f"{elapsed:.0f} s")
        return "  ".join(parts)

    def _draw(self) -> None:
        if time.perf_counter() - self.t0 < self.delay or not self.stage:
            return
        text = self.line()
        with self._lock:
            pad = max(self._drawn - len(text), 0)
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
            self._drawn = len(text)
            self._last = time.perf_counter()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self._draw()

    def close(self) -> None:
        """Stop the ticker and clear the line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None
        self.clear()

    def clear(self) -> None:
        """Clear the line (before printing something else); drawing resumes on the next call."""
        with self._lock:
            if self._drawn:
                self.stream.write("\r" + " " * self._drawn + "\r")
                self.stream.flush()
                self._drawn = 0


from simulator.sampling import parse_budget  # noqa: E402  (re-exported for the CLI)


class SampleParam(click.ParamType):
    """--sample: a fraction in (0, 1] or "auto"."""
    name = "sample"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None or isinstance(value, float) or value == "auto":
            return value
        try:
            v = float(value)
        except ValueError:
            self.fail(f"expected a fraction in (0, 1] or 'auto', got {value!r}", param, ctx)
        if not (0 < v <= 1):
            self.fail(f"expected a fraction in (0, 1] or 'auto', got {value!r}", param, ctx)
        return v


class CountParam(click.ParamType):
    """A count of at least 1, written as an integer or in scientific notation (2e8, 1e12)."""
    name = "integer"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return value
        try:
            v = float(str(value).replace("_", ""))
        except ValueError:
            v = float("nan")
        if not (v >= 1 and v == int(v)) or v > 1e18:
            self.fail(f"expected a whole number of at least 1, like 200000000 or 2e8, got "
                      f"{value!r}", param, ctx)
        return int(v)
