"""`smash config ...` and `smash validate`: the machine model's configuration and self-checks."""
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
    """Check the timing engine against closed-form answers (5 % tolerance).

    Streaming bandwidth (Little's law) from one thread past saturation, pointer chase,
    same-address atomics, issue-bound scratchpad loops, cache reuse within and beyond capacity,
    8- vs 64-byte DRAM granularity. Exits 1 if any check fails.

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
        click.echo(f"\n{len(records) - n_bad} of {len(records)} checks within "
                   f"{V.TOLERANCE:.0%} on {cfg.name}")
    if any(not r["ok"] for r in records):
        click.get_current_context().exit(1)
