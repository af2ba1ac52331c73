"""Machine configuration: presets, TOML round trip, overrides, validation messages."""
import pytest

from simulator.machine.config import (MachineConfig, config_hash, config_to_dict, dump_toml,
                                      load_config, preset_names, preset_text)

PRESETS = ["piuma-core", "piuma-die", "piuma-node", "conventional"]


def test_presets_are_shipped():
    assert set(PRESETS) <= set(preset_names())


@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads_and_round_trips(name, tmp_path):
    cfg = load_config(name)
    assert cfg.name == name
    path = tmp_path / "c.toml"
    path.write_text(dump_toml(cfg))
    again = load_config(str(path))
    assert again == cfg
    assert config_hash(again) == config_hash(cfg)


def test_public_piuma_figures():
    die = load_config("piuma-die")
    assert die.cores_per_die == 8
    assert (die.core.mtps, die.core.threads_per_mtp, die.core.stps) == (4, 16, 2)
    assert die.core.threads == 66
    assert die.spad.size_bytes == 4 * 2**20
    assert die.dram.access_granularity_bytes == 8
    assert die.network.link_bandwidth_gb_per_s == 32.0
    assert load_config("piuma-node").dies == 16
    conv = load_config("conventional")
    assert conv.dram.access_granularity_bytes == 64 and conv.cache.line_bytes == 64
    assert conv.core.threads < die.core.threads


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_value_says_public_or_assumed(name):
    """Each key line carries a comment (public / assumed / derived / unused...)."""
    for line in preset_text(name).splitlines():
        line = line.strip()
        if "=" in line and not line.startswith("#") and not line.startswith(("name", "description")):
            assert "#" in line, f"{name}: no public/assumed note on: {line}"


def test_overrides_parse_by_type():
    cfg = load_config("piuma-die", ["dram.channels_per_die=4", "clock_ghz=2", "cache.bypass=random,stream",
                                    "network.die_shape=1", "spad.latency_cycles=3.5"])
    assert cfg.dram.channels_per_die == 4
    assert cfg.clock_ghz == 2.0 and isinstance(cfg.clock_ghz, float)
    assert cfg.cache.bypass == ("random", "stream")
    assert cfg.spad.latency_cycles == 3.5
    assert load_config("piuma-die", ["cache.bypass="]).cache.bypass == ()
    assert config_hash(cfg) != config_hash(load_config("piuma-die"))


@pytest.mark.parametrize("override, message", [
    ("dram.chanels_per_die=8", "unknown config key 'dram.chanels_per_die' (did you mean 'dram.channels_per_die'?)"),
    ("dram.channels_per_die=x", "dram.channels_per_die: expected an integer, got 'x'"),
    ("clock_ghz=fast", "clock_ghz: expected a number, got 'fast'"),
    ("spad.banks=0", "spad.banks: must be >= 1"),
    ("cache.bypass=everything", "cache.bypass: unknown access class 'everything'"),
    ("dram.row_bytes=48", "dram.row_bytes: must be a power of two"),
    ("dram", "--set expects path=value"),
    ("dram=3", "dram: is a section"),
    ("network.die_shape=2,2", "network.die_shape: [2, 2] holds 4 dies, but dies = 1"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ValueError) as err:
        load_config("piuma-core", [override])
    assert message in str(err.value)


def test_toml_file_unknown_key_and_type(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[dram]\nchannels = 8\n')
    with pytest.raises(ValueError, match=r"unknown config key 'dram.channels'"):
        load_config(str(bad))
    bad.write_text('[spad]\nbanks = "many"\n')
    with pytest.raises(TypeError, match=r"spad.banks: expected an integer, got 'many'"):
        load_config(str(bad))
    with pytest.raises(OSError, match="cannot read config file"):
        load_config(str(tmp_path / "missing.toml"))
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        load_config("nope")


def test_partial_file_takes_defaults_and_is_frozen(tmp_path):
    f = tmp_path / "small.toml"
    f.write_text('name = "mine"\ncores_per_die = 4\n[network]\nmesh_rows = 2\nmesh_cols = 2\n')
    cfg = load_config(str(f))
    assert cfg.name == "mine" and cfg.cores == 4
    with pytest.raises(Exception):
        cfg.dies = 2  # frozen
    assert config_to_dict(cfg)["network"]["mesh_cols"] == 2


def test_direct_construction_validates():
    with pytest.raises(ValueError, match="mesh cannot hold"):
        MachineConfig(cores_per_die=16)


@pytest.mark.parametrize("value", ["[8]", "[0, 0]", "[]", "[-1]"])
def test_interface_routers_must_be_distinct_routers_of_the_mesh(value):
    with pytest.raises(ValueError, match="interface_routers"):
        load_config("piuma-node", [f"network.interface_routers={value}"])
    assert load_config("piuma-node", ["network.interface_routers=[7, 1]"]).network.port_router(3) == 1
