"""`smash config`, `smash validate` and `smash micro` through click's test runner, including bad input."""
import json

import pytest

from click.testing import CliRunner

from simulator.cli import main
from simulator.machine import validate as V


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_config_list():
    res = run("config", "list")
    assert res.exit_code == 0
    for name in ("piuma-core", "piuma-die", "piuma-node", "conventional"):
        assert name in res.output


def test_config_show_with_overrides_and_file(tmp_path):
    res = run("config", "show", "piuma-die", "--set", "dram.channels_per_die=4")
    assert res.exit_code == 0 and "channels_per_die = 4" in res.output
    f = tmp_path / "m.toml"
    f.write_text(res.output)
    again = run("config", "show", str(f))
    assert again.exit_code == 0 and again.output == res.output
    raw = run("config", "show", "piuma-die", "--raw")
    assert "assumed" in raw.output and "public" in raw.output


def test_config_errors_are_one_line():
    res = run("config", "show", "piuma-die", "--set", "dram.chanels_per_die=4")
    assert res.exit_code == 1
    assert res.output.strip() == ("Error: unknown config key 'dram.chanels_per_die' "
                                  "(did you mean 'dram.channels_per_die'?)")
    res = run("config", "show", "piuma-die", "--set", "dram.channels_per_die=x")
    assert res.exit_code == 1 and "expected an integer, got 'x'" in res.output
    res = run("config", "show", "no-such-machine")
    assert res.exit_code == 1 and "unknown preset" in res.output
    assert "Traceback" not in res.output


def test_validate_table_and_json():
    res = run("validate")
    assert res.exit_code == 0, res.output
    assert "pointer_chase" in res.output and "checks within tolerance" in res.output and "on piuma-core" in res.output
    res = run("validate", "--json", "--preset", "conventional")
    assert res.exit_code == 0
    records = json.loads(res.output)
    assert records and all({"name", "model", "expected", "rel_error", "ok"} <= set(r) for r in records)


def test_validate_exits_non_zero_when_a_check_fails(monkeypatch):
    bad = V._record("broken", 2.0, 1.0, "x", V.load_config("piuma-core"))
    monkeypatch.setattr(V, "run_checks", lambda cfg: [bad])
    res = run("validate")
    assert res.exit_code == 1 and "broken" in res.output
    res = run("validate", "--json")
    assert res.exit_code == 1 and json.loads(res.output)[0]["ok"] is False


def test_validate_speed_json(monkeypatch):
    seen = {}

    def fake(cfg):
        seen["preset"] = cfg.name
        return {"name": "engine_speed", "preset": cfg.name, "threads": cfg.threads, "ops": 10,
                "host_seconds": 1.0, "ops_per_second": 10.0}
    monkeypatch.setattr(V, "speed_benchmark", fake)
    res = run("validate", "--speed", "--json")
    assert res.exit_code == 0 and json.loads(res.output)[0]["ops_per_second"] == 10.0
    assert seen["preset"] == "piuma-die"
    res = run("validate", "--speed")
    assert res.exit_code == 0 and "ops_per_second" in res.output


def test_validate_bad_options():
    res = run("validate", "--preset", "piuma-core", "--config", "x.toml")
    assert res.exit_code != 0 and "not both" in res.output
    res = run("validate", "--set", "spad.banks=-1")
    assert res.exit_code == 1 and "spad.banks: must be >= 1" in res.output


def test_machine_options_decorator_resolves_one_config():
    import click

    from simulator.cli._common import SmashGroup
    from simulator.cli.machine_cmds import machine_options

    @click.group(cls=SmashGroup)
    def grp():
        pass

    @grp.command()
    @machine_options
    def probe(cfg):
        click.echo(f"{cfg.name} {cfg.dram.channels_per_die}")

    runner = CliRunner()
    assert runner.invoke(grp, ["probe"]).output.strip() == "piuma-core 2"
    out = runner.invoke(grp, ["probe", "--preset", "piuma-die", "--set", "dram.channels_per_die=2"])
    assert out.output.strip() == "piuma-die 2"
    bad = runner.invoke(grp, ["probe", "--preset", "nope"])
    assert bad.exit_code == 1 and "unknown preset" in bad.output


def test_micro_prints_the_stream_and_json_keys():
    res = run("micro", "--pattern", "chain-random", "--requests", "500", "--preset", "ddr4-3200-x8",
              "--json")
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)[0]
    assert {"bandwidth_gb_per_s", "latency_ns_mean", "row_hit_rate", "activations"} <= set(rec)
    # the reference's unloaded random chain on this device: 46.7 ns, no row hits
    assert abs(rec["latency_ns_mean"] / 46.7 - 1) <= 0.15 and rec["row_hit_rate"] < 0.01
    res = run("micro", "--pattern", "seq", "--requests", "2000", "--preset", "ddr4-3200-x8")
    assert res.exit_code == 0 and "row hit rate" in res.output


def test_micro_random_is_bound_by_activations_not_the_bus():
    """The reference's saturated random stream (20.56 GB/s on the DDR4 device) within 15 %, and
    8-byte random accesses far below the bus's peak: every one needs an activation."""
    res = run("micro", "--pattern", "random", "--requests", "4000", "--preset", "ddr4-3200-x8",
              "--json")
    rec = json.loads(res.output)[0]
    assert abs(rec["bandwidth_gb_per_s"] / 20.56 - 1) <= 0.15
    assert rec["activations"] >= 0.99 * 4000
    res = run("micro", "--pattern", "random", "--requests", "4000", "--access-bytes", "8",
              "--preset", "piuma-die", "--json")
    rec = json.loads(res.output)[0]
    assert rec["bandwidth_gb_per_s"] < 0.25 * rec["peak_gb_per_s"]


@pytest.mark.parametrize("args, message", [
    (["--pattern", "seq", "--access-bytes", "12"], "access_bytes: expected a multiple"),
    (["--pattern", "seq", "--outstanding", "0"], "outstanding: expected at least 1"),
    (["--pattern", "seq", "--requests", "0"], "requests: expected at least 1"),
    (["--pattern", "seq", "--set", "dram.mapping=ro,ch,ra,ba,bg"], "mapping: expected each of"),
])
def test_micro_bad_input_is_one_line(args, message):
    res = run("micro", *args)
    assert res.exit_code == 1 and message in res.output
    assert len(res.output.strip().splitlines()) == 1
