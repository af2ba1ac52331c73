"""`smash config ...`, `smash validate` and `smash micro`: the machine model's configuration,
self-checks and DRAM microbenchmarks."""
from __future__ import annotations

import functools
from typing import Any, Callable

import click

from simulator.cli._common import format_table, records_to_json, write_text
from simulator.machine.config import (MachineConfig, dump_toml, load_config, preset_descriptions,
                                      preset_text)


def machine_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--preset / --config / --set, resolved into one `cfg: MachineConfig` argument."""
    @click.option("--preset", "preset", default=None, metavar="NAME|FILE",
                  help="Machine preset (see `smash config list`) or TOML config file; "
                       "default piuma-core.")
    @click.option("--config", "config_file", default=None, metavar="FILE", hidden=True,
                  type=click.Path(dir_okay=False), help="Old spelling of --preset FILE.")
    @click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
                  help="Override one config value, e.g. --set dram.channels_per_die=4 (repeatable).")
    @functools.wraps(func)
    def wrapper(*args: Any, preset: str | None, config_file: str | None,
                overrides: tuple[str, ...], **kwargs: Any) -> Any:
        if preset and config_file:
            raise click.UsageError("give --preset or --config, not both")
        kwargs["cfg"] = resolve_config(config_file or preset, overrides)
        return func(*args, **kwargs)
    return wrapper


def resolve_config(name_or_file: str | None, overrides: tuple[str, ...] | list[str] = ()) -> MachineConfig:
    return load_config(name_or_file or "piuma-core", list(overrides))


@click.group("config")
def config() -> None:
    """Machine configurations: list the presets, show one as TOML.

    \b
    Example:
      smash config list
      smash config show piuma-die --set dram.channels_per_die=4
    """


@config.command("list")
def config_list() -> None:
    """List the machine presets with a one-line description.

    \b
    Example:
      smash config list
    """
    rows = [{"name": n, "description": d} for n, d in preset_descriptions().items()]
    click.echo(format_table(rows, ["name", "description"]))


@config.command("show")
@click.argument("name_or_file")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override one config value (repeatable).")
@click.option("--raw", is_flag=True,
              help="Print a preset's file as shipped, with its public/assumed comments.")
def config_show(name_or_file: str, overrides: tuple[str, ...], raw: bool) -> None:
    """Print a preset or a config file as TOML, with overrides applied (validated).

    \b
    Example:
      smash config show piuma-core
      smash config show piuma-node --set network.link_latency_cycles=300 > my.toml
      smash config show my.toml
    """
    cfg = load_config(name_or_file, list(overrides))
    if raw:
        if overrides:
            raise click.UsageError("--raw shows the file as shipped: it takes no --set")
        write_text("-", preset_text(name_or_file))
        return
    write_text("-", dump_toml(cfg))


@click.command("validate")
@click.option("--preset", "preset", default=None, metavar="NAME|FILE",
              help="Machine preset or TOML config file; default piuma-core (piuma-die with "
                   "--speed).")
@click.option("--config", "config_file", default=None, metavar="FILE", hidden=True,
              type=click.Path(dir_okay=False), help="Old spelling of --preset FILE.")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override one config value (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON record per check.")
@click.option("--speed", is_flag=True,
              help="Measure engine throughput instead: simulated operations per host second on "
                   "one host core, mixed DRAM / scratchpad / atomic trace on every thread.")
def validate(preset: str | None, config_file: str | None, overrides: tuple[str, ...],
             as_json: bool, speed: bool) -> None:
    """Check the timing engine against closed-form answers (5 % tolerance; see the README).

    Streaming bandwidth (Little's law) from one thread past saturation, pointer chase (row
    misses), a chase within one DRAM row (row hits), the random-access activation rate against
    the bound tFAW / tRRD / tRC set, same-address atomics, issue-bound scratchpad loops, cache
    reuse within and beyond capacity, 8- vs 64-byte DRAM granularity; the network (where the
    preset has one): mesh latency over the die's longest route, one hot mesh link, the mesh's
    bisection under uniform traffic, die-to-die bandwidth of one link and of all dies at once,
    latency over 1 and 2 HyperX hops (docs/network.md). Exits 1 if any check fails.

    \b
    Example:
      smash validate
      smash validate --preset piuma-die --json
      smash validate --speed
    """
    from simulator.machine import validate as V
    if preset and config_file:
        raise click.UsageError("give --preset or --config, not both")
    cfg = resolve_config(config_file or preset or ("piuma-die" if speed else "piuma-core"), overrides)
    if speed:
        rec = V.speed_benchmark(cfg)
        if as_json:
            click.echo(records_to_json([rec]))
        else:
            click.echo(format_table([rec], ["name", "preset", "threads", "ops", "host_seconds",
                                            "ops_per_second"]))
        return
    records = V.run_checks(cfg)
    if as_json:
        click.echo(records_to_json(records))
    else:
        click.echo(format_table(records, ["name", "model", "expected", "rel_error", "ok", "unit"],
                                ["check", "model", "expected", "rel_error", "ok", "unit"]))
        n_bad = sum(not r["ok"] for r in records)
        click.echo(f"\n{len(records) - n_bad} of {len(records)} checks within tolerance "
                   f"({V.TOLERANCE:.0%}; streaming {V.STREAM_TOLERANCE:.0%}; bounds "
                   f"-{V.BOUND_SLACK:.0%} / +{V.TOLERANCE:.0%}) on {cfg.name}")
    if any(not r["ok"] for r in records):
        click.get_current_context().exit(1)


@click.command("micro")
@click.option("--pattern", required=True,
              type=click.Choice(["seq", "random", "mixed", "rmw", "chain-random", "chain-seq"]),
              help="The access stream (as ../shared/reference/dram/README.md defines them): seq "
                   "(consecutive blocks), random (uniform over 4 GB), mixed (half the requests "
                   "to the previous one's row), rmw (random read, then a write of it), "
                   "chain-random / chain-seq (one request in flight: unloaded latency).")
@click.option("--outstanding", type=int, default=None, metavar="N",
              help="Requests kept in flight (closed loop); default: saturated, offered as fast "
                   "as the controllers accept them. Chains always have 1.")
@click.option("--requests", type=int, default=20000, show_default=True, metavar="N",
              help="Requests (reads; rmw adds a write for each).")
@click.option("--access-bytes", type=int, default=None, metavar="B",
              help="Bytes per request, aligned; default one DRAM burst.")
@machine_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON record.")
def micro(cfg: MachineConfig, pattern: str, outstanding: int | None, requests: int,
          access_bytes: int | None, as_json: bool) -> None:
    """Offer a synthetic access stream to the DRAM model of one die (its controllers alone: no
    cores, no network) and report achieved bandwidth (GB/s, read and written bytes over the
    run), mean read latency (ns, from offering a request to its data), the row-buffer hit rate
    and the activations. The way to check the DRAM model against a cycle-level DRAM simulator
    (preset ddr4-3200-x8 is the reference device; benchmarks/dram_reference.py compares all
    streams).

    \b
    Example:
      smash micro --pattern random --preset ddr4-3200-x8
      smash micro --pattern random --outstanding 32 --preset ddr4-3200-x8 --json
      smash micro --pattern seq --preset ddr4-3200-x8 --set dram.mapping=ch,ro,ra,ba,co,bg
      smash micro --pattern random --access-bytes 8 --preset piuma-die
    """
    from simulator.machine.dram import micro as run_micro
    rec = run_micro(cfg, pattern, outstanding=outstanding, requests=requests,
                    access_bytes=access_bytes)
    if as_json:
        click.echo(records_to_json([rec]))
        return
    click.echo(format_table([rec], ["pattern", "preset", "outstanding", "bandwidth_gb_per_s",
                                    "latency_ns_mean", "row_hit_rate", "activations"],
                            ["pattern", "preset", "outstanding", "GB/s", "latency ns",
                             "row hit rate", "activations"]))
