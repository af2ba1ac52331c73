"""Shared pieces of the CLI: error handling, table and record output."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from typing import Any, Iterable, Sequence

import click

# Exceptions that a user's input can cause. Anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, OSError, KeyError, OverflowError)


class SmashGroup(click.Group):
    """A click group that prints user errors as one line (`Error: ...`) and exits 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
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
    """Write `text` to `path`, or to stdout when path is '-'."""
    if path == "-":
        click.echo(text, nl=not text.endswith("\n"))
        return
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")


def echo_err(msg: str) -> None:
    click.echo(msg, err=True)


def is_tty() -> bool:
    return sys.stdout.isatty()
