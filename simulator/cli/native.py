"""`smash multiply` and `smash bench`: native SpGEMM (the `spgemm` package) from the shell."""
from __future__ import annotations

import time

import click

from simulator.cli._common import (Progress, check_output, echo_err, format_table,
                                   records_to_csv, records_to_json, write_text)


def _parse_threads(values: tuple[str, ...]) -> list[int] | None:
    """``--threads 1 --threads 2`` or ``--threads 1,2`` -> [1, 2]; empty -> None (default)."""
    out: list[int] = []
    for v in values:
        for part in str(v).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                n = int(part)
            except ValueError:
                raise click.BadParameter(f"{part!r} is not an integer", param_hint="--threads")
            if n < 1:
                raise click.BadParameter(f"{n} is not a positive thread count",
                                         param_hint="--threads")
            if n not in out:
                out.append(n)
    return out or None


@click.command()
@click.argument("a_spec", metavar="A")
@click.argument("b_spec", metavar="B")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write C to this Matrix Market file (.mtx or .mtx.gz).")
@click.option("--method", default="rowwise", show_default=True,
              help="SpGEMM method: rowwise, inner or outer (spgemm.METHODS).")
@click.option("--accumulator", default=None,
              help="The method's accumulator: dense, hash, hash-mod or sort for rowwise and "
                   "outer, merge for inner (default: dense / merge).")
@click.option("--threads", type=int, default=None,
              help="Threads (default: all cores).")
@click.option("--sorted", "sort_indices", is_flag=True, help="Sort each row of C by column.")
def multiply(a_spec: str, b_spec: str, output: str | None, method: str,
             accumulator: str | None, threads: int | None, sort_indices: bool) -> None:
    """Multiply two sparse matrices natively: C = A·B.

    A and B are matrix specs: a .mtx/.mtx.gz file or a generator spec such as
    rmat:scale=10,ef=8. Prints one summary line; C keeps entries whose sum cancels to zero.

    \b
    Example:
      smash multiply rmat:scale=10,ef=8 rmat:scale=10,ef=8 -o C.mtx --accumulator hash
    """
    import matrices
    import spgemm

    if threads is not None and threads < 1:
        raise click.BadParameter(f"{threads} is not a positive thread count",
                                 param_hint="--threads")
    meth = spgemm.get_method(method)
    acc = meth.check_accumulator(accumulator)
    if output:
        check_output(output, "--output")
    with Progress() as progress:
        progress(f"loading {a_spec}")
        A = matrices.load(a_spec)
        progress(f"loading {b_spec}")
        B = matrices.load(b_spec)
        if A.shape[1] != B.shape[0]:
            raise ValueError(f"shape mismatch: A is {A.shape[0]}x{A.shape[1]} but B is "
                             f"{B.shape[0]}x{B.shape[1]} (A's columns must equal B's rows)")
        flops = int(matrices.row_flops(A, B).sum())
        progress(f"multiplying ({flops:.3g} multiply-adds, {method}/{acc})")
        t0 = time.perf_counter()
        C = spgemm.multiply(A, B, method, acc, sort_indices=sort_indices, threads=threads)
        seconds = time.perf_counter() - t0
        n_threads = threads or spgemm.api.check_threads(None)
        if output:
            progress(f"writing {output} ({C.nnz} entries)")
            matrices.write_mtx(output, C)
    dest = f" -> {output}" if output else ""
    click.echo(f"C = A·B: {C.shape[0]}x{C.shape[1]}, nnz {C.nnz}, {flops} multiply-adds, "
               f"{method}/{acc}, {n_threads} thread(s), {seconds * 1e3:.3f} ms "
               f"(first call, includes JIT compile or cache load){dest}")


TABLE_COLUMNS = ["matrix", "method", "accumulator", "threads", "ms", "gflops",
                 "speedup_vs_scipy", "compile_s", "verified", "note"]
TABLE_HEADERS = ["matrix", "method", "acc", "thr", "ms", "GFLOP/s", "vs scipy", "compile s",
                 "ok", "note"]
SUMMARY_COLUMNS = ["method", "accumulator", "threads", "matrices", "geomean_speedup_vs_scipy",
                   "geomean_gflops", "all_verified"]
SUMMARY_HEADERS = ["method", "acc", "thr", "matrices", "geomean vs scipy", "geomean GFLOP/s",
                   "all ok"]


def _table_row(r: dict) -> dict:
    row = dict(r)
    row["ms"] = r["seconds"] * 1e3 if r.get("seconds") is not None else None
    row["compile_s"] = r.get("compile_seconds")
    if r.get("status") != "ok":
        row["note"] = r.get("status", "")
    return row


@click.command()
@click.argument("matrices_", metavar="[SET|SPEC|FOLDER]...", nargs=-1)
@click.option("--method", "methods", multiple=True, metavar="METHOD[/ACC]",
              help="Method, or method/accumulator, to run (repeatable; default: all). "
                   "e.g. --method rowwise/dense --method outer")
@click.option("--threads", "threads", multiple=True, metavar="N[,N...]",
              help="Thread counts (repeatable or comma-separated; default: 1 and all cores).")
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True,
              help="Timed measurements per product; the median is reported.")
@click.option("--min-time", type=click.FloatRange(min=0), default=0.02, show_default=True,
              help="Seconds each measurement lasts at least (small products are looped).")
@click.option("--inner-max-flops", type=click.IntRange(min=0), default=None,
              help="Skip the (slow) inner product above this many multiply-adds "
                   "[default: 5000000].")
@click.option("--sorted", "sort_indices", is_flag=True,
              help="Ask the native methods for sorted rows (scipy's are unsorted).")
@click.option("--no-external", is_flag=True,
              help="Leave out python-graphblas / sparse_dot_mkl even when installed.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write the records as JSON to this file ('-' for stdout).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help="Write the records as CSV to this file ('-' for stdout).")
@click.option("-q", "--quiet", is_flag=True, help="No per-matrix progress on stderr.")
def bench(matrices_: tuple[str, ...], methods: tuple[str, ...], threads: tuple[str, ...],
          repeats: int, min_time: float, inner_max_flops: int | None, sort_indices: bool,
          no_external: bool, json_path: str | None, csv_path: str | None, quiet: bool) -> None:
    """Benchmark native SpGEMM (C = A·A) against scipy's A @ A.

    Arguments are matrix sets (smoke, default), specs or folders of .mtx files (default: the
    `default` set). Every method x accumulator runs at each thread count; the JIT is warmed
    first and its time reported apart; every product is checked against scipy. Prints a table
    per matrix and a geometric-mean summary per method (speedup_vs_scipy = scipy's time /
    ours; GFLOP/s = 2 x multiply-adds / s).

    \b
    Example:
      smash bench smoke --threads 1,2 --json bench.json
      smash bench /path/to/matrices rmat:scale=14,ef=16 --method rowwise
    """
    import matrices
    from spgemm import bench as nb

    if json_path == "-" and csv_path == "-":
        raise click.UsageError("--json - and --csv - both write to stdout: give one of them a file")
    for path, opt in ((json_path, "--json"), (csv_path, "--csv")):
        if path:
            check_output(path, opt)
    specs = matrices.resolve(list(matrices_) or ["default"])
    pairs = nb.select_methods(list(methods))
    thread_list = _parse_threads(threads)
    kwargs = {} if inner_max_flops is None else {"inner_max_flops": inner_max_flops}
    records = []
    names = [matrices.canonical_name(s) for s in specs]
    with Progress(enabled=None if not quiet else False) as progress:
        for rec in nb.run(specs, methods=pairs, threads=thread_list, repeats=repeats,
                          min_time=min_time, sort_indices=sort_indices,
                          external=not no_external, progress=progress, **kwargs):
            if rec["method"] == "scipy" and not quiet:
                progress.clear()
                echo_err(f"bench: {rec['matrix']} ({names.index(rec['matrix']) + 1}/{len(names)})")
            records.append(rec)
    if json_path:
        write_text(json_path, records_to_json(records))
    if csv_path:
        write_text(csv_path, records_to_csv(records))
    if json_path == "-" or csv_path == "-":
        return
    click.echo(format_table([_table_row(r) for r in records], TABLE_COLUMNS, TABLE_HEADERS))
    click.echo("")
    click.echo("Geometric means over matrices (speedup_vs_scipy = scipy seconds / seconds):")
    click.echo(format_table(nb.summarize(records), SUMMARY_COLUMNS, SUMMARY_HEADERS))
    for r in records:
        if r.get("status") == "skipped" and r.get("method") == "all":
            echo_err(f"skipped {r['matrix']}: {r['note']}")
    bad = [r for r in records if r.get("status") == "ok" and r.get("verified") is False]
    if bad:
        echo_err(f"error: {len(bad)} product(s) differ from scipy's (verified = no)")
        raise click.exceptions.Exit(1)
