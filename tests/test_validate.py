"""Closed-form checks of the timing engine: every check within 5 % on every preset."""
import pytest

from simulator.machine import load_config
from simulator.machine import validate as V


@pytest.mark.parametrize("preset", ["piuma-core", "piuma-die", "piuma-node", "conventional"])
def test_every_closed_form_check_passes(preset):
    records = V.run_checks(load_config(preset))
    bad = [(r["name"], r["model"], r["expected"]) for r in records if not r["ok"]]
    assert not bad, bad
    names = {r["name"] for r in records}
    assert {"pointer_chase", "atomic_serialization_dram", "granularity_64_vs_8",
            "cache_reuse_within_capacity", "cache_reuse_beyond_capacity"} <= names
    for r in records:
        assert set(r) >= {"name", "model", "expected", "rel_error", "ok"}
        assert r["rel_error"] <= V.TOLERANCE


def test_streaming_spans_one_thread_to_past_saturation():
    cfg = load_config("piuma-die")
    counts = V.stream_thread_counts(cfg)
    records = {r["name"]: r for r in V.run_checks(cfg) if r["name"].startswith("stream")}
    assert counts[0] == 1 and len(records) == len(counts)
    peak = records[f"stream_bandwidth_T{counts[-1]}"]["details"]["peak_bytes_per_cycle"]
    below = [r for r in records.values() if r["expected"] < peak]
    above = [r for r in records.values() if r["expected"] == peak]
    assert len(below) >= 3 and len(above) >= 2


@pytest.mark.parametrize("preset", ["piuma-core", "piuma-die"])
def test_scratchpad_and_atomic_checks_apply_to_piuma(preset):
    names = {r["name"] for r in V.run_checks(load_config(preset))}
    assert {"atomic_serialization_spad", "spad_issue_bound_k1", "spad_issue_bound_k16"} <= names


def test_a_wrong_model_is_caught():
    """A check compares the engine with the config's closed form: if the engine's channel were
    half as fast as the config says, the saturated streaming check must fail."""
    cfg = load_config("piuma-core")
    slow = load_config("piuma-core", ["dram.channel_bandwidth_gb_per_s=17.6"])
    rec = V.check_streaming(slow, 64)
    rec_expected_from_fast = V._record("x", rec["model"], min(
        cfg.dram.channels_per_die * cfg.channel_bytes_per_cycle, 1e9), "", cfg)
    assert rec["ok"] and not rec_expected_from_fast["ok"]


def test_speed_benchmark_record():
    rec = V.speed_benchmark(load_config("piuma-core"), tasks_per_thread=2, ops_per_task=100,
                            repeats=1)
    assert rec["ops"] == 66 * 2 * 100
    assert rec["ops_per_second"] > 0 and rec["name"] == "engine_speed"
