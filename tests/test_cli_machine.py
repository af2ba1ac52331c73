"""`smash config` and `smash validate` through click's test runner, including bad input."""
import json

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
    assert "pointer_chase" in res.output and "checks within 5% on piuma-core" in res.output
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
