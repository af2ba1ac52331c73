"""Closed-form checks of the timing engine: every check within 5 % on every preset."""
import pytest

from simulator.machine import load_config
from simulator.machine import validate as V
from simulator.machine.dram import (FAULT_NO_BUS, FAULT_NO_FAW, FAULT_NO_MA_OCC, FAULT_NO_REFRESH,
                                    FAULT_NO_TRCD)


@pytest.mark.parametrize("preset", ["piuma-core", "piuma-die", "piuma-node", "conventional"])
def test_every_closed_form_check_passes(preset):
    records = V.run_checks(load_config(preset))
    bad = [(r["name"], r["model"], r["expected"]) for r in records if not r["ok"]]
    assert not bad, bad
    names = {r["name"] for r in records}
    assert {"pointer_chase", "row_hit_chase", "random_activation_rate",
            "atomic_serialization_dram", "atomic_pipelining_8_addresses", "refresh_bandwidth_ratio",
            "granularity_64_vs_8",
            "cache_reuse_within_capacity", "cache_reuse_beyond_capacity"} <= names
    for r in records:
        assert set(r) >= {"name", "model", "expected", "rel_error", "ok"}
        assert r["bound"] or r["rel_error"] <= r["tolerance"]


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


# One DRAM path of the engine broken at a time (a latency not applied, a limit not enforced, a
# server not occupied): the closed forms, computed from the config alone, must catch each.
@pytest.mark.parametrize("preset, fault, caught", [
    ("piuma-die", FAULT_NO_TRCD, "pointer_chase"),          # activate-to-read latency skipped
    ("piuma-die", FAULT_NO_BUS, "stream_bandwidth_T528"),   # the data bus not occupied
    ("ddr4-3200-x8", FAULT_NO_FAW, "random_activation_rate"),  # four-activation window ignored
    ("piuma-die", FAULT_NO_MA_OCC, "atomic_serialization_dram"),  # atomic unit not occupied
    ("piuma-core", FAULT_NO_REFRESH, "refresh_bandwidth_ratio"),  # refresh blocks nothing
])
def test_a_broken_engine_path_is_caught(preset, fault, caught):
    # 8-byte accesses on the DDR4 device: the activation limits bind, not the data bus
    cfg = load_config(preset, ["dram.access_granularity_bytes=8"] if "ddr4" in preset else [])
    good = {r["name"]: r for r in V.run_checks(cfg)}
    bad = {r["name"]: r for r in V.run_checks(cfg, _fault=fault)}
    assert good[caught]["ok"]
    assert not bad[caught]["ok"], bad[caught]


def test_speed_benchmark_record():
    rec = V.speed_benchmark(load_config("piuma-core"), tasks_per_thread=2, ops_per_task=100,
                            repeats=1)
    assert rec["ops"] == 66 * 2 * 100
    assert rec["ops_per_second"] > 0 and rec["name"] == "engine_speed"
