"""`smash kernels` and `smash run`: kernel programs on the machine model (over simulator.run)."""
from __future__ import annotations

import json
import os
from typing import Any, Sequence

import click

from simulator.cli._common import (CountParam, Progress, SampleParam, check_output, format_table,
                                   format_value, parse_budget, records_to_json, to_jsonable)
from simulator.run import DEFAULT_MAX_OPS, default_max_ops, kernel_table, run_kernel
from simulator.sampling import AUTO_SAMPLE_OPS, budget_ops


@click.command("kernels")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def kernels(as_json: bool) -> None:
    """List the kernel programs, their knobs and defaults.

    \b
    Example:
      smash kernels
      smash kernels --json
    """
    rows = kernel_table()
    if as_json:
        click.echo(records_to_json(rows))
        return
    for r in rows:
        click.echo(f"{r['kernel']}: {r['description']}")
        for key, k in r["knobs"].items():
            ch = f" [{'|'.join(map(str, k['choices']))}]" if k["choices"] else ""
            click.echo(f"    {key:<20} {format_value(k['default']):<10} {k['help']}{ch}")


def _parse_knobs(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--knob: expected key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def summary(rec: dict[str, Any]) -> str:
    f = format_value
    gb = lambda b: f"{b / 1e6:.3f} MB"
    product = {"A*A": "C = A·A", "A*A^T": "C = A·Aᵀ (A is not square)",
               "A*B": "C = A·B"}.get(rec.get("product", ""), "")
    setting = ", ".join(x for x in (rec.get("overrides"), rec.get("knobs")) if x)
    phases = [(k[6:-7], v) for k, v in rec.items() if k.startswith("phase_") and k.endswith("_cycles")]
    lines = [
        f"{rec['kernel']} on {rec['matrix']}" + (f", {product}" if product else "")
        + f" ({rec['preset']}" + (f" with {setting}" if setting else "")
        + f", config {rec['config_hash']})",
        f"  time        {f(rec['cycles'])} cycles = {rec['seconds'] * 1e6:.2f} us at the clock"
        + ("; phases: " + ", ".join(f"{name} {f(v)} cycles" for name, v in phases) if phases else ""),
        f"  DRAM        read {gb(rec['dram_read_transferred_bytes'])} "
        f"(useful {gb(rec['dram_read_useful_bytes'])}), written {gb(rec['dram_write_transferred_bytes'])} "
        f"(useful {gb(rec['dram_write_useful_bytes'])}), bandwidth utilization "
        f"{100 * rec['dram_bandwidth_utilization']:.1f}%  (compulsory {gb(rec['compulsory_dram_bytes'])})",
        f"  scratchpad  {rec['spad_reads']} reads, {rec['spad_writes']} writes "
        f"({gb(rec['spad_read_bytes'] + rec['spad_write_bytes'])})",
        f"  cache       {rec['cache_hits']} hits, {rec['cache_misses']} misses "
        f"(hit rate {100 * rec['cache_hit_rate']:.1f}%), {rec['cache_bypassed']} bypassed",
        f"  atomics     {rec['atomics']} ({rec['spad_atomics']} scratchpad, {rec['mc_atomics']} "
        f"memory-side, {rec['token_atomics']} tokens), stall {f(rec['atomic_stall_cycles'])} cycles",
        f"  hashing     {rec['hash_probes']} probes, {rec['hash_collisions']} collisions "
        f"({rec['cas_retries']} claims found another key), {rec['spilled_entries']} entries "
        f"spilled to DRAM, {rec['spilled_rows']} rows spilled whole ({rec['spilled_products']} "
        f"products); {rec['windows']} windows, {rec['fragment_allocs']} fragments "
        f"({rec['fragment_waits']} waits), {rec['lock_acquires']} lock acquisitions",
        f"  symbolic    {f(rec['symbolic_cycles'])} cycles (bounds, symbolic phase, scans)",
        f"  issue       {rec['instructions']} instructions, IPC {f(rec['ipc'])} "
        f"(per pipeline mean {f(rec['ipc_pipeline_mean'])})",
        f"  threads     busy max {f(rec['thread_busy_cycles_max'])} / mean "
        f"{f(rec['thread_busy_cycles_mean'])} cycles, load imbalance {f(rec['load_imbalance'])}",
        f"  work        {rec['flops']} multiply-adds, nnz(C) {rec['nnz_c']}, arithmetic intensity "
        f"{f(rec['arithmetic_intensity'])} flop/byte",
        f"  verified    {'yes (C equals scipy)' if rec['verified'] else 'NO'}; host "
        f"{f(rec['wall_seconds'])} s",
    ]
    if rec["sample_fraction"] < 1:
        lines.insert(1, sample_line(rec))
        if rec.get("sample_warning"):
            lines.insert(2, f"  warning     {rec['sample_warning']}")
    if rec.get("partial_bytes_written"):
        lines.insert(5, f"  partials    {gb(rec['partial_bytes_written'])} written, "
                        f"{gb(rec['partial_bytes_read'])} read back")
    return "\n".join(lines)


def sample_line(rec: dict[str, Any]) -> str:
    """The summary line of a sampled run: what was simulated and the interval."""
    f = format_value
    thin = rec.get("sample_thin", 1.0)
    return (f"  sampled     estimate from {rec['sample_groups_simulated']} of "
            f"{rec['sample_groups']} miniatures of the run on {rec['sample_machine']} each"
            + (f", {100 * thin:.0f}% of their tasks" if thin < 1 else "")
            + f" ({100 * rec['sample_fraction']:.1f}% of the work); "
            f"{100 * rec.get('sample_confidence', 0.95):.0f}% interval "
            f"{f(rec['cycles_ci_low'])} - {f(rec['cycles_ci_high'])} cycles "
            f"(±{100 * rec['sample_error']:.1f}%)")


@click.command("run")
@click.option("--kernel", "-k", required=True, help="Kernel program (see `smash kernels`).")
@click.option("--matrix", "-m", required=True, help="Matrix spec; C = A·A (A·A^T if not square).")
@click.option("--preset", default="piuma-die", show_default=True, metavar="NAME|FILE",
              help="Machine preset name or TOML config file.")
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE",
              help="Override a machine parameter (repeatable), e.g. dram.channels_per_die=4.")
@click.option("--knob", "knobs", multiple=True, metavar="KEY=VALUE",
              help="Override a kernel knob (repeatable), e.g. granularity=4.")
@click.option("--max-ops", type=CountParam(), default=DEFAULT_MAX_OPS, show_default=True,
              help="Refuse runs estimated above this many simulated operations.")
@click.option("--sample", type=SampleParam(), default=None, metavar="F|auto",
              help="Simulate this share of the work (miniatures of the run) and estimate the "
                   "whole with an interval; auto: sample only what would exceed the budget.")
@click.option("--budget", default=None, metavar="TIME",
              help="Time budget of --sample auto, e.g. 60s, 5m (implies --sample auto).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --sample.")
@click.option("--json", "as_json", is_flag=True, help="Print the full record as JSON.")
@click.option("--out", "out_path", default=os.path.join("smash-out", "runs.jsonl"), show_default=True,
              help="Append the full record to this JSONL file ('' to skip).")
def run(kernel: str, matrix: str, preset: str, sets: tuple[str, ...], knobs: tuple[str, ...],
        max_ops: int, sample: float | str | None, budget: str | None, seed: int, as_json: bool,
        out_path: str) -> None:
    """Simulate one kernel on one matrix, verify C against scipy, print a summary.

    The operation count is estimated first (from per-row multiply-adds, before any exact
    pass); above --max-ops the run is refused with the estimate (use a smaller matrix,
    --max-ops or --sample; with --budget, --max-ops defaults to the budget's operations when
    they are more). So is a run whose estimated host memory exceeds what is available.
    Complex and non-finite matrices are refused. On a terminal, runs longer than two seconds
    show their progress on stderr.

    A sampled run (--sample, or --sample auto with --budget) cuts the run's tasks into
    miniatures of the whole, simulates a few of them on a machine cut to match, and prints the
    estimated cycles with a 95% interval (see docs/sampling.md).

    \b
    Example:
      smash run --kernel smash-v3 --matrix rmat:scale=12,ef=16 --preset piuma-die
      smash run -k outer -m rmat:scale=8,ef=4 --preset piuma-core --json
      smash run -k inner -m rmat:scale=16,ef=16 --sample auto --budget 60s
    """
    if out_path:
        check_output(out_path, "--out", create_dirs=True)
    auto_ops = AUTO_SAMPLE_OPS
    if budget is not None:
        auto_ops = budget_ops(parse_budget(budget))
        if click.get_current_context().get_parameter_source("max_ops").name == "DEFAULT":
            max_ops = default_max_ops(auto_ops)      # the budget decides how much to simulate
        if sample is None:
            sample = "auto"
        elif sample != "auto":
            raise click.UsageError("--budget goes with --sample auto (a fraction fixes the "
                                   "work already)")
    with Progress() as progress:
        rec = run_kernel(kernel, matrix, preset=preset, overrides=list(sets),
                         knobs=_parse_knobs(knobs), max_ops=max_ops, sample=sample, seed=seed,
                         auto_ops=auto_ops, progress=progress)
    if out_path:
        from simulator.sweep import append_record
        append_record(out_path, to_jsonable(rec))
    if as_json:
        click.echo(json.dumps(to_jsonable(rec), indent=2))
    else:
        click.echo(summary(rec))


__all__ = ["kernels", "run", "sample_line", "summary", "format_table"]
