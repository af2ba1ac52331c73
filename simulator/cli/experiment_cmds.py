"""`smash sweep`, `smash reproduce`, `smash plot`: experiments over the library (simulator.sweep,
simulator.reproduce, simulator.plots). The progress bar lives here, never in the library."""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import click

from simulator.cli._common import CountParam, check_output, echo_err


def _grid(items: Sequence[str], option: str) -> dict[str, list[str]]:
    """`KEY=V1,V2` items to {KEY: [V1, V2]} (a grid axis each)."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{option}: expected KEY=VALUE or KEY=V1,V2,..., got {item!r}")
        out.setdefault(key.strip(), []).extend(v.strip() for v in value.split(","))
    return out


@contextmanager
def _progress(n: int, label: str) -> Iterator[Any]:
    """A click progress bar on stderr when it is a terminal; a no-op callback otherwise."""
    if n and sys.stderr.isatty():
        with click.progressbar(length=n, label=label, file=sys.stderr,
                               show_pos=True, show_eta=True) as bar:
            def tick(rec: dict[str, Any]) -> None:
                bar.label = f"{label} {rec.get('kernel')} on {rec.get('matrix')}"[:60]
                bar.update(1)
            yield tick
    else:
        yield None


@contextmanager
def _interrupt_note(out: str | os.PathLike) -> Iterator[None]:
    """On Ctrl-C: say that finished records are kept and how to continue, exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        echo_err(f"\ninterrupted: finished records are in {out}; run again with --resume "
                 f"(reproduce resumes by itself) to continue")
        raise SystemExit(130) from None


def _jobs_option(f):
    f = click.option("--dask", "dask", metavar="tcp://HOST:PORT", default=None,
                     help="Run on a Dask distributed cluster (needs smash[dask]).")(f)
    return click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
                        help="Worker processes (default: all cores).")(f)


@click.command("sweep")
@click.argument("experiment", required=False, type=click.Path(dir_okay=False))
@click.option("--matrix", "-m", "mats", multiple=True, help="Matrix spec, set or folder (repeatable).")
@click.option("--kernel", "-k", "kernels", multiple=True, help="Kernel (repeatable).")
@click.option("--preset", "presets", multiple=True, help="Machine preset or TOML (repeatable).")
@click.option("--set", "sets", multiple=True, metavar="PATH=V1,V2",
              help="Machine parameter grid axis (repeatable), e.g. dram.channels_per_die=2,4,8.")
@click.option("--knob", "knobs", multiple=True, metavar="KEY=V1,V2",
              help="Kernel knob grid axis (repeatable), e.g. granularity=1,4.")
@click.option("--seed", "seeds", multiple=True, type=int, help="Seed (repeatable; default 0).")
@click.option("--sample", default=None, help='Share of the work per run, or "auto".')
@click.option("--budget", default=None, metavar="TIME",
              help="Time budget per run of --sample auto, e.g. 60s (implies --sample auto).")
@click.option("--max-ops", type=CountParam(), default=None,
              help="Refuse runs estimated above this many simulated operations.")
@_jobs_option
@click.option("--out", "-o", "out", default=os.path.join("smash-out", "sweep.jsonl"),
              show_default=True, help="Results file (JSONL); each record is appended as it finishes.")
@click.option("--csv", "csv_path", default=None, help="Also keep a CSV copy of the results here.")
@click.option("--resume", is_flag=True, help="Skip points already in --out.")
@click.option("--overwrite", is_flag=True, help="Start --out afresh.")
def sweep(experiment: str | None, mats, kernels, presets, sets, knobs, seeds, sample, budget,
          max_ops, jobs, dask, out, csv_path, resume, overwrite) -> None:
    """Run matrices x kernels x presets x --set grids; append records to a JSONL file.

    Described by an experiment TOML file (keys: matrices, kernels, presets, [set], [knobs],
    seeds, sample, max_ops; see docs/experiments.md) and/or by options, which replace the
    file's keys. A point whose record is already in --out is skipped with --resume. Records are
    the same whatever --jobs; failed points are recorded with status = error.

    \b
    Example:
      smash sweep -m smoke -k smash-v1 -k smash-v2 --preset piuma-core -j 2
      smash sweep -m rmat:scale=10,ef=8 -k smash-v3 --set dram.channels_per_die=1,2,4,8
      smash sweep experiment.toml --resume --csv smash-out/sweep.csv
      smash sweep -m rmat:scale=16,ef=16 -k inner -k smash-v3 --sample auto --budget 2m
    """
    from simulator.sweep import experiment_from_dict, load_experiment, run_sweep
    data: dict[str, Any] = {}
    source = "options"
    if experiment:
        exp = load_experiment(experiment)
        source = experiment
        data = {"matrices": exp.matrices, "kernels": exp.kernels, "presets": exp.presets,
                "set": exp.sets, "knobs": exp.knobs, "seeds": exp.seeds, "name": exp.name}
        if exp.sample is not None:
            data["sample"] = exp.sample
        if exp.max_ops is not None:
            data["max_ops"] = exp.max_ops
        if exp.budget is not None:
            data["budget"] = exp.budget
    for key, val in (("matrices", list(mats)), ("kernels", list(kernels)),
                     ("presets", list(presets)), ("seeds", list(seeds))):
        if val:
            data[key] = val
    if sets:
        data["set"] = _grid(sets, "--set")
    if knobs:
        data["knobs"] = _grid(knobs, "--knob")
    if sample is not None:
        data["sample"] = sample if sample == "auto" else _fraction(sample)
    if budget is not None:
        data["budget"] = budget
    if max_ops is not None:
        data["max_ops"] = max_ops
    if not experiment and not (mats and kernels):
        raise click.UsageError("give an EXPERIMENT file, or --matrix and --kernel")
    _refuse_contradictions(resume=resume, overwrite=overwrite, jobs=jobs, dask=dask)
    check_output(out, "--out", create_dirs=True)
    if csv_path:
        check_output(csv_path, "--csv", create_dirs=True)
    exp = experiment_from_dict(data, source=source)
    points = exp.points()
    t0 = time.perf_counter()
    from simulator.sweep import finished_keys
    skip = len({p.key for p in points} & finished_keys(out)) if resume else 0
    with _progress(len({p.key for p in points}) - skip, "sweep") as tick, _interrupt_note(out):
        recs = run_sweep(points, out, jobs=jobs, dask=dask, resume=resume, overwrite=overwrite,
                         csv_path=csv_path, on_record=tick)
    bad = [r for r in recs if r.get("status") == "error"]
    echo_err(f"{len(recs)} points run, {skip} already in {out}, {len(bad)} failed; "
             f"{time.perf_counter() - t0:.1f} s -> {out}" + (f" and {csv_path}" if csv_path else ""))
    for r in bad[:5]:
        echo_err(f"  failed: {r['kernel']} on {r['matrix']}: {r['error']}")
    if len(bad) > 5:
        echo_err(f"  ... and {len(bad) - 5} more (status = error in {out})")
    _exit_failed(len(bad))


#: Exit status of a sweep or reproduce whose points failed: their number, capped here.
MAX_FAILED_STATUS = 100


def _exit_failed(n_failed: int) -> None:
    """Exit status = number of failed points (0: all ran; capped at MAX_FAILED_STATUS)."""
    if n_failed:
        raise click.exceptions.Exit(min(n_failed, MAX_FAILED_STATUS))


def _refuse_contradictions(*, resume: bool = False, overwrite: bool = False,
                           jobs: int | None = None, dask: str | None = None) -> None:
    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite contradict each other: give one")
    if dask and jobs is not None:
        raise click.UsageError("--jobs and --dask contradict each other: with --dask the "
                               "cluster's workers run the points")


def _fraction(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--sample: expected a fraction in (0, 1] or \"auto\", got {text!r}") from None


@click.command("reproduce")
@click.option("--quick", is_flag=True, help="Tiny matrices: a smoke run under a minute.")
@click.option("--matrices", "extra", multiple=True, metavar="DIR|SPEC",
              help="Add .mtx files from a folder (or any matrix spec or set); repeatable.")
@_jobs_option
@click.option("--out", "-o", "out_dir", default=None,
              help="Output folder [default: smash-out/reproduce, or smash-out/reproduce-quick].")
@click.option("--fresh", is_flag=True, help="Discard records already in --out instead of reusing them.")
@click.option("--no-figures", is_flag=True, help="Skip the figures (tables only).")
@click.option("--scaling", is_flag=True,
              help="Also the scaling study: every kernel on piuma-node sliced to 1, 2, 4, 8, 16 "
                   "dies on rmat:scale=10,ef=16 (--quick: rmat:scale=7,ef=8); scaling.csv and "
                   "figures/scaling-dies.")
def reproduce(quick: bool, extra, jobs, dask, out_dir, fresh, no_figures, scaling) -> None:
    """The thesis experiment: inner, outer, row-wise and SMASH v1/v2/v3 on piuma-die.

    Runs every kernel on the built-in matrix set (generated R-MAT, Erdős–Rényi, 2-D Poisson,
    power-law and imbalance matrices), prints a table per matrix and the summary (speedup of
    each SMASH version over both inner products and the outer product with geometric means,
    DRAM traffic, arithmetic intensity, cache hit rate, load imbalance, IPC) and the ablation
    (SMASH's ingredients one at a time from the row-wise baseline), and writes records.jsonl,
    report.txt, speedup.csv, ablation.csv and figures/ into --out. Records already in --out
    are reused.

    \b
    Example:
      smash reproduce --quick
      smash reproduce --matrices ../shared/matrices -j 2
    """
    from simulator.reproduce import (default_points, format_report, format_scaling, reproduce_records,
                                     scaling_points, write_outputs, write_scaling)
    _refuse_contradictions(jobs=jobs, dask=dask)
    out = Path(out_dir or os.path.join("smash-out", "reproduce-quick" if quick else "reproduce"))
    records = out / "records.jsonl"
    check_output(records, "--out", create_dirs=True)
    points = default_points(quick=quick, extra=list(extra))
    spoints = scaling_points(quick=quick) if scaling else []
    points_all = points + spoints
    from simulator.sweep import finished_keys
    have = 0 if fresh or not records.exists() else len({p.key for p in points_all} & finished_keys(records))
    t0 = time.perf_counter()
    with _progress(len(points_all) - have, "reproduce") as tick, _interrupt_note(records):
        every = reproduce_records(points_all, records, jobs=jobs, dask=dask, on_record=tick,
                                  fresh=fresh)
    elapsed = time.perf_counter() - t0
    keys = {p.key for p in points}
    recs = [r for r in every if r.get("point_key") in keys]
    srecs = [r for r in every if r.get("point_key") not in keys]
    click.echo(format_report(recs), nl=False)
    if scaling:
        click.echo("")
        click.echo(format_scaling(srecs), nl=False)
    written = [] if no_figures else write_outputs(recs, out)
    if scaling:
        written += write_scaling(srecs, out, figures=not no_figures)
    click.echo("")
    click.echo(f"{len(points_all)} runs ({have} reused from {records}) in {elapsed:.1f} s; "
               f"records: {records}")
    if written:
        figs = sorted({p.stem for p in written if p.parent.name == "figures"})
        click.echo(f"report: {out / 'report.txt'}; figures ({', '.join(figs)}): "
                   f"{out / 'figures'}/*.png, *.pdf")
    _exit_failed(sum(r.get("status") == "error" for r in every))


@click.command("plot")
@click.argument("kind", type=click.Choice(["speedup", "dram", "workload", "ipc", "roofline",
                                           "scaling", "ablation", "all"]))
@click.argument("results", type=click.Path(dir_okay=False))
@click.option("--out", "-o", "out", default=None,
              help="Output path without suffix [default: next to RESULTS, named KIND].")
@click.option("--format", "formats", multiple=True, default=("png", "pdf"), show_default=True,
              type=click.Choice(["png", "pdf", "svg"]), help="Figure format (repeatable).")
def plot(kind: str, results: str, out: str | None, formats) -> None:
    """Draw a figure from a results file (JSONL or CSV of smash run/sweep/reproduce).

    KIND: speedup (SMASH over inner/outer per matrix, geomean), dram (traffic by data
    structure: A, B, C, partial products, hash tables; useful vs transferred, read vs
    written), workload (per-thread load imbalance),
    ipc (IPC and bandwidth utilization), roofline, scaling (over a swept --set parameter),
    ablation (SMASH's ingredients one at a time; records of smash reproduce), or all (every
    kind but scaling and ablation).

    \b
    Example:
      smash plot speedup smash-out/reproduce/records.jsonl
      smash plot scaling smash-out/sweep.jsonl -o figs/scaling --format png
    """
    from simulator.plots import KINDS, load_results
    from simulator.plots import plot as draw
    recs = load_results(results)
    base = Path(results).parent
    kinds = [k for k in KINDS if k not in ("scaling", "ablation")] if kind == "all" else [kind]
    for k in kinds:
        stem = Path(out) / k if (out and kind == "all") else Path(out) if out else base / k
        for p in draw(k, recs, stem, formats=list(formats)):
            click.echo(str(p))


__all__ = ["plot", "reproduce", "sweep"]
