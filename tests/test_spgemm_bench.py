"""The native benchmark library (spgemm.bench): records, skipping, summaries."""
from __future__ import annotations

import math

import pytest

from spgemm import bench

REQUIRED = {"matrix", "method", "threads", "seconds", "gflops", "speedup_vs_scipy", "verified",
            "accumulator", "compile_seconds", "flops", "nnz_c"}


def test_run_records_and_summary():
    pairs = [("rowwise", "dense"), ("rowwise", "hash"), ("inner", "merge"), ("outer", "sort")]
    records = list(bench.run(["er:n=200,nnz_per_row=4", "banded:n=150,bandwidth=2"],
                             methods=pairs, threads=[1, 2], repeats=2, min_time=0.0,
                             external=False))
    assert len(records) == 2 * (1 + len(pairs) * 2)
    for r in records:
        assert REQUIRED <= set(r)
        assert r["status"] == "ok" and r["verified"] is True
        assert r["seconds"] > 0 and r["gflops"] > 0 and r["flops"] > 0 and r["nnz_c"] > 0
        assert r["compile_seconds"] >= 0
    scipy_rows = [r for r in records if r["method"] == "scipy"]
    assert [r["speedup_vs_scipy"] for r in scipy_rows] == [1.0, 1.0]
    assert {r["matrix"] for r in records} == {"er:n=200,nnz_per_row=4",
                                              "banded:n=150,bandwidth=2"}
    summary = bench.summarize(records)
    keyed = {(s["method"], s["accumulator"], s["threads"]): s for s in summary}
    assert keyed[("rowwise", "dense", 2)]["matrices"] == 2
    assert keyed[("rowwise", "dense", 1)]["all_verified"] is True
    best = keyed[("rowwise (best)", "per matrix", 1)]
    assert best["geomean_speedup_vs_scipy"] >= keyed[("rowwise", "hash", 1)][
        "geomean_speedup_vs_scipy"] - 1e-12


def test_inner_product_skipped_above_cap():
    records = list(bench.run(["er:n=100,nnz_per_row=4"], methods=[("inner", "merge")],
                             threads=[1], repeats=1, min_time=0.0, inner_max_flops=0,
                             external=False))
    skipped = [r for r in records if r["method"] == "inner"]
    assert len(skipped) == 1 and skipped[0]["status"] == "skipped"
    assert "skipped" in skipped[0]["note"] and skipped[0]["seconds"] is None
    assert all(s["method"] != "inner" for s in bench.summarize(records))


def test_select_methods_and_errors():
    assert bench.select_methods(None) == bench.combinations()
    assert bench.select_methods(["rowwise/hash", "inner"]) == [("rowwise", "hash"),
                                                               ("inner", "merge")]
    assert ("outer", "sort") in bench.select_methods(["outer"])
    with pytest.raises(ValueError, match="unknown method"):
        bench.select_methods(["gustavson"])
    with pytest.raises(ValueError, match="no accumulator"):
        bench.select_methods(["inner/hash"])
    with pytest.raises(ValueError, match="repeats"):
        list(bench.run(["er:n=10,nnz_per_row=2"], repeats=0, external=False))
    with pytest.raises(ValueError, match="thread"):
        list(bench.run(["er:n=10,nnz_per_row=2"], threads=[0], external=False))


def test_geomean():
    assert bench.geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert math.isnan(bench.geomean([]))
    assert bench.geomean([4.0, None, float("nan")]) == pytest.approx(4.0)
